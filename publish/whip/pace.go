package whip

import "time"

// pacer spreads video packets over time: a token bucket filled at a
// multiple of the bandwidth estimate. Without it a keyframe (tens of
// kilobytes) leaves in one burst, overflows a slow link's bottleneck
// queue, and the losses, the NACKs and the retransmissions keep GCC's
// estimate on the floor. Audio is never held, but counts. It runs in the
// sender's goroutine; a keyframe at 2.5× the estimate takes a fraction of
// a second, P-frames pass at once.
type pacer struct {
	tokens float64 // bytes
	last   time.Time
}

const (
	paceFactor = 2.5
	paceBurst  = 12 << 10 // bytes sent back to back at most
)

// take spends n bytes at rate bit/s (≤ 0: no pacing); when hold, it first
// waits until the bucket has them.
func (pc *pacer) take(n int, rate int, hold bool) {
	now := time.Now()
	if rate <= 0 {
		pc.last = now
		return
	}
	bps := float64(rate) * paceFactor / 8
	pc.tokens = min(pc.tokens+now.Sub(pc.last).Seconds()*bps, paceBurst)
	pc.last = now
	if hold && pc.tokens < float64(n) {
		wait := time.Duration((float64(n) - pc.tokens) / bps * float64(time.Second))
		time.Sleep(wait)
		pc.tokens += wait.Seconds() * bps
		pc.last = pc.last.Add(wait)
	}
	pc.tokens -= float64(n)
}
