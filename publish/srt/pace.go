package srt

import "time"

// pacer spreads the stream's SRT messages over time: a token bucket
// filled at a multiple of the stream's own rate. gosrt's live sender sends
// every message at the next 10 ms tick after it was written, so without it
// a keyframe (tens of kilobytes) leaves in one burst: on a narrow link it
// overflows the bottleneck's queue, or waits there longer than the
// receiver's latency, and the receiver drops what comes late — even when
// the average bitrate fits the link. At 2.5× the stream's rate a keyframe
// takes a fraction of a second and P-frames pass at once (as publish/whip
// paces its video). What waits for the pacer waits in publish.Queue, where
// it counts as queue delay.
type pacer struct {
	tokens float64 // bytes
	last   time.Time
}

const (
	paceFactor = 2.5
	// paceFloor: the least rate the stream is counted at (bit/s), so that
	// audio alone, or a stream just starting, is never held long.
	paceFloor = 400_000
	// paceBurst: bytes sent back to back at most: a few messages, so that
	// gosrt's probe pairs (every 16th message and the next, which the
	// receiver times to estimate the link's capacity) leave together.
	paceBurst = 4 * chunkSize
)

// paceRate is the rate (bit/s) at which a stream of input bit/s is paced.
func paceRate(input int) int { return int(paceFactor * float64(max(input, paceFloor))) }

// take spends n bytes at rate bit/s at now, and says how long the caller
// must wait before sending them (0: at once). The bucket holds at most
// paceBurst; it may go negative, by what the wait pays back.
func (pc *pacer) take(now time.Time, n, rate int) time.Duration {
	bps := float64(rate) / 8
	if pc.last.IsZero() {
		pc.tokens = paceBurst
	} else if dt := now.Sub(pc.last); dt > 0 {
		pc.tokens = min(pc.tokens+dt.Seconds()*bps, paceBurst)
	}
	pc.last = now
	pc.tokens -= float64(n)
	if pc.tokens >= 0 {
		return 0
	}
	return time.Duration(-pc.tokens / bps * float64(time.Second))
}

// inputMeter measures the stream's rate in media time: the bytes of the
// packets sent over the last inputWindow of timestamps (a keyframe
// interval, so that the rate does not jump with each keyframe).
type inputMeter struct {
	pts   []time.Duration
	bytes []int
	sum   int
}

const inputWindow = 2 * time.Second

// add counts a packet of n bytes at pts.
func (m *inputMeter) add(pts time.Duration, n int) {
	if k := len(m.pts); k > 0 && pts < m.pts[k-1]-inputWindow {
		m.reset() // timestamps went back (a new encoder's clock): start again
	}
	m.pts, m.bytes = append(m.pts, pts), append(m.bytes, n)
	m.sum += n
	i := 0
	for i < len(m.pts)-1 && pts-m.pts[i] >= inputWindow {
		m.sum -= m.bytes[i]
		i++
	}
	if i > 0 {
		m.pts, m.bytes = m.pts[:copy(m.pts, m.pts[i:])], m.bytes[:copy(m.bytes, m.bytes[i:])]
	}
}

func (m *inputMeter) reset() { m.pts, m.bytes, m.sum = m.pts[:0], m.bytes[:0], 0 }

// rate is the stream's rate in bit/s; 0 until it spans a tenth of the
// window.
func (m *inputMeter) rate() int {
	if len(m.pts) < 2 {
		return 0
	}
	span := m.pts[len(m.pts)-1] - m.pts[0]
	if span < inputWindow/10 {
		return 0
	}
	// The packets at both ends each stand for a share of the span: count
	// the span as one packet interval longer.
	span += span / time.Duration(len(m.pts)-1)
	return int(float64(m.sum) * 8 / span.Seconds())
}
