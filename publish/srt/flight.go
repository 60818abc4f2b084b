package srt

import "time"

// flight decides how many bytes may be in flight, sent and not yet
// acknowledged, before the sender waits: what the path delivered over the
// last second, for the path's shortest round trip plus half the
// receiver's latency.
//
// SRT's live mode sends whatever it is given. On a link narrower than the
// stream the bottleneck's queue fills; what waits there longer than the
// receiver's latency is dropped by the receiver, which acknowledges past
// it, so the sender counts it as delivered: the rate it measures is the
// stream's, not the link's, and the adaptive bitrate cuts to the wrong
// level (measured: "link carried 1721 kbit/s" on a 1200 kbit/s link) while
// the picture breaks. With the window the sender waits as TCP does: what
// does not fit waits in publish.Queue, where it counts as queue delay; the
// bottleneck holds about half the latency, so nothing arrives late; and
// what is acknowledged is what was delivered, at the link's rate.
type flight struct {
	acks   []ackSample // the last ackSpan
	rttMin time.Duration
}

type ackSample struct {
	at    time.Time
	bytes int64 // acknowledged so far
}

const (
	// ackSpan: the delivery rate is measured over about this long.
	ackSpan = time.Second
	// minFlight: the window never shrinks below a few messages, so that
	// a path that stalled a moment can show again what it carries.
	minFlight = 4 * chunkSize
	// defaultLatency: libsrt's receiver latency, when the handshake did
	// not say.
	defaultLatency = 120 * time.Millisecond
)

// window is the most bytes that may be in flight at now: acked bytes were
// acknowledged so far (sent less what waits in the send buffer), rtt is
// SRT's smoothed round trip, latency the receiver's; bitrate (bit/s) the
// stream's, for until the rate is measured. It is never more than
// ceiling.
func (f *flight) window(now time.Time, acked int64, rtt, latency time.Duration, bitrate, ceiling int) int {
	if rtt > 0 && (f.rttMin == 0 || rtt < f.rttMin) {
		f.rttMin = rtt
	}
	if n := len(f.acks); n == 0 || now.Sub(f.acks[n-1].at) >= 10*time.Millisecond {
		if n > 0 && acked < f.acks[n-1].bytes {
			f.acks = f.acks[:0] // a new connection's counters
		}
		f.acks = append(f.acks, ackSample{now, acked})
		i := 0
		for i < len(f.acks)-2 && now.Sub(f.acks[i+1].at) >= ackSpan {
			i++
		}
		f.acks = f.acks[:copy(f.acks, f.acks[i:])]
	}
	rate := float64(bitrate) / 8 // bytes/s
	if first, last := f.acks[0], f.acks[len(f.acks)-1]; last.at.Sub(first.at) >= ackSpan/2 {
		rate = float64(last.bytes-first.bytes) / last.at.Sub(first.at).Seconds()
	}
	if latency <= 0 {
		latency = defaultLatency
	}
	w := int(rate * (f.rttMin + latency/2).Seconds())
	return min(max(w, minFlight), ceiling)
}
