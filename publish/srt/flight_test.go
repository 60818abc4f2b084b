package srt

import (
	"testing"
	"time"
)

// TestFlightWindow: the window is what the path delivered over the last
// second, for its shortest round trip plus half the receiver's latency;
// the stream's bitrate until a second is measured; within its bounds.
func TestFlightWindow(t *testing.T) {
	const (
		bitrate = 2_500_000
		ceiling = 512 << 10
		latency = 200 * time.Millisecond
	)
	start := time.Unix(1000, 0)
	// ack runs the window every 10 ms for d at rate bit/s acknowledged,
	// with the round trip rtt, from acked bytes; it returns the last
	// window and the bytes acknowledged by then.
	ack := func(f *flight, at time.Time, acked int64, d time.Duration, rate int, rtt, latency time.Duration) (int, int64, time.Time) {
		w := 0
		for end := at.Add(d); at.Before(end); at = at.Add(10 * time.Millisecond) {
			w = f.window(at, acked, rtt, latency, bitrate, ceiling)
			acked += int64(rate / 8 / 100)
		}
		return w, acked, at
	}
	near := func(got, want int) bool { return got >= want*95/100 && got <= want*105/100 }

	var f flight
	// Before a rate is measured: the stream's, for 20 ms + 100 ms.
	w, acked, at := ack(&f, start, 0, 300*time.Millisecond, 2_000_000, 20*time.Millisecond, latency)
	if want := bitrate / 8 * 120 / 1000; !near(w, want) {
		t.Errorf("unmeasured: window %d, want %d (the stream's bitrate)", w, want)
	}
	// A path that delivers 1.2 Mbit/s with a queue (the round trip grew to
	// 150 ms): 1.2 Mbit/s for the shortest round trip seen, 20 ms, plus
	// 100 ms.
	w, acked, at = ack(&f, at, acked, 2*time.Second, 1_200_000, 150*time.Millisecond, latency)
	if want := 1_200_000 / 8 * 120 / 1000; !near(w, want) {
		t.Errorf("at 1.2 Mbit/s: window %d, want %d", w, want)
	}
	// The path stalls: the window shrinks to its floor, no further.
	w, acked, at = ack(&f, at, acked, 2*time.Second, 0, 150*time.Millisecond, latency)
	if w != minFlight {
		t.Errorf("stalled: window %d, want the floor %d", w, minFlight)
	}
	// Latency unknown: libsrt's default, 120 ms.
	w, _, _ = ack(&f, at, acked, 2*time.Second, 1_200_000, 20*time.Millisecond, 0)
	if want := 1_200_000 / 8 * 80 / 1000; !near(w, want) {
		t.Errorf("latency unknown: window %d, want %d", w, want)
	}
	// A fast, long path: no more than the ceiling.
	var g flight
	w, _, _ = ack(&g, start, 0, 2*time.Second, 100_000_000, 500*time.Millisecond, time.Second)
	if w != ceiling {
		t.Errorf("fast path: window %d, want the ceiling %d", w, ceiling)
	}
	// A new connection's counters start again: unmeasured, the stream's.
	w, _, _ = ack(&g, at, 0, 100*time.Millisecond, 1_200_000, 500*time.Millisecond, time.Second)
	if want := bitrate / 8 * 1000 / 1000; !near(w, want) {
		t.Errorf("after the counters restarted: window %d, want %d (the stream's bitrate)", w, want)
	}
}
