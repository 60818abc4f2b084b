package srt

import (
	"testing"
	"time"
)

// sendAll sends a frame of n bytes in chunks through pc at rate from at,
// each chunk when the pacer allows it; it returns when the last chunk
// left and the most bytes that left within any 1 ms.
func sendAll(pc *pacer, at time.Time, n, rate int) (time.Time, int) {
	most, burst, burstAt := 0, 0, at
	for n > 0 {
		c := min(n, chunkSize)
		n -= c
		at = at.Add(pc.take(at, c, rate))
		if at.Sub(burstAt) > time.Millisecond {
			burst, burstAt = 0, at
		}
		burst += c
		most = max(most, burst)
	}
	return at, most
}

func TestPacer(t *testing.T) {
	start := time.Unix(1000, 0)
	for _, tc := range []struct {
		name      string
		idle      time.Duration // since the last send
		frame     int           // bytes
		rate      int           // bit/s
		tookMin   time.Duration
		tookMax   time.Duration
		burstMost int
	}{
		// A P-frame after a frame interval: at once.
		{name: "P-frame", idle: 33 * time.Millisecond, frame: 3 * chunkSize, rate: 2_500_000, tookMax: 0, burstMost: 3 * chunkSize},
		// A 40 KB keyframe at 2.5 Mbit/s: all but the burst at the rate,
		// about 110 ms; never more than the burst at once.
		{name: "keyframe", idle: time.Second, frame: 40 << 10, rate: 2_500_000, tookMin: 100 * time.Millisecond, tookMax: 120 * time.Millisecond, burstMost: paceBurst},
		// The same at 1 Mbit/s: 2.5 times as long.
		{name: "slow", idle: time.Second, frame: 40 << 10, rate: 1_000_000, tookMin: 260 * time.Millisecond, tookMax: 290 * time.Millisecond, burstMost: paceBurst},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var pc pacer
			pc.take(start, 0, tc.rate) // the first send: a full bucket
			from := start.Add(tc.idle)
			end, most := sendAll(&pc, from, tc.frame, tc.rate)
			if took := end.Sub(from); took < tc.tookMin || took > tc.tookMax {
				t.Errorf("%d bytes took %v at %d kbit/s, want %v..%v", tc.frame, took, tc.rate/1000, tc.tookMin, tc.tookMax)
			}
			if most > tc.burstMost {
				t.Errorf("%d bytes left within 1 ms, want at most %d", most, tc.burstMost)
			}
		})
	}
}

// TestPacerDebt: a wait pays back what was taken beyond the bucket: two
// frames back to back take as long as one of twice the size.
func TestPacerDebt(t *testing.T) {
	var a, b pacer
	at := time.Unix(1000, 0)
	a.take(at, 0, 1_000_000)
	b.take(at, 0, 1_000_000)
	end1, _ := sendAll(&a, at, 20<<10, 1_000_000)
	end1, _ = sendAll(&a, end1, 20<<10, 1_000_000)
	end2, _ := sendAll(&b, at, 40<<10, 1_000_000)
	if d := end1.Sub(end2); d < -time.Millisecond || d > time.Millisecond {
		t.Errorf("two halves ended %v after the whole", d)
	}
}

func TestPaceRate(t *testing.T) {
	for _, tc := range []struct{ in, want int }{
		{0, 1_000_000},         // nothing measured: the floor
		{128_000, 1_000_000},   // audio alone
		{1_000_000, 2_500_000}, // 2.5×
		{2_628_000, 6_570_000},
	} {
		if got := paceRate(tc.in); got != tc.want {
			t.Errorf("paceRate(%d) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

// TestInputMeter: 30 fps video with a keyframe (ten P-frames' worth)
// every 2 s, and 128 kbit/s of audio, measure the stream's rate at every
// frame once a fifth of a second has passed (0 before), and follow a cut
// within the window.
func TestInputMeter(t *testing.T) {
	var m inputMeter
	var audio time.Duration
	for i := range 14 * 30 {
		pts := time.Duration(i) * time.Second / 30
		video := 1_000_000
		if pts >= 10*time.Second {
			video = 500_000
		}
		n := video / 8 * 2 / 69 // a P-frame: a GOP is 59 of them and a keyframe of 10
		if i%60 == 0 {
			n *= 10
		}
		m.add(pts, n)
		for ; audio <= pts; audio += 1024 * time.Second / 48000 {
			m.add(audio, 128_000/8*1024/48000)
		}
		got, want := m.rate(), video+128_000
		switch {
		case pts < inputWindow/10 && got != 0:
			t.Fatalf("at %v: %d bit/s from so little", pts, got)
		case pts >= 2*time.Second && (pts < 10*time.Second || pts >= 10*time.Second+inputWindow) &&
			(got < want*9/10 || got > want*11/10):
			t.Fatalf("at %v: %d bit/s, want about %d", pts, got, want)
		}
	}
	// Timestamps that go back (a new encoder's clock) start again.
	m.add(0, 1000)
	if got := m.rate(); got != 0 {
		t.Errorf("after timestamps went back: %d bit/s, want 0 (not measured)", got)
	}
}
