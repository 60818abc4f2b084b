// Package abr is the adaptive-bitrate controller: from what a sender
// observes (its queue, what the link carried, the WebRTC estimate) it
// decides the encoder's video bitrate, within the preset's bounds.
//
// The controller is pure: Update takes one Sample (every Tick or so) and
// returns the bitrate to set; time comes from the samples, so tests drive
// it with synthetic traces and no clock.
//
// RTMP (TCP): congestion shows as media time waiting in the send queue.
// When the queue passes a threshold, or grows steadily, the controller
// measures what the link really carried over the last 1–2 s and sets the
// encoder a little below it (minus audio). It steps back up while the
// queue stays empty: a tenth of the target at first, more as steps keep
// succeeding. After a step up that the link could not carry, the next try
// at that level waits twice as long (up to 8 s: a link that came back
// must be found again within seconds).
//
// WebRTC: GCC already probes and backs off; the controller follows its
// estimate (less audio, less a margin) and cuts further on heavy loss.
package abr

import (
	"fmt"
	"time"
)

// Sample is one observation of a sender.
type Sample struct {
	At time.Time
	// QueueDelay: media time waiting in the send queue (RTMP), plus what
	// the kernel holds unsent, converted to time (0 if unknown).
	QueueDelay time.Duration
	// SentBytes: bytes handed to the network so far (a counter).
	SentBytes int64
	// Estimate: the congestion controller's estimate in bit/s (WebRTC's
	// GCC; 0: none, the queue drives). Loss: fraction lost, 0..1.
	Estimate int
	Loss     float64
}

// Config bounds the controller.
type Config struct {
	Target int // the preset's video bitrate: the start and the ceiling
	Min    int // the preset's minimum video bitrate
	Audio  int // audio bit/s, carried by the same link
	Start  int // the first bitrate (0: Target)
}

// Decision is what Update decided.
type Decision struct {
	Bitrate int    // video bit/s to set
	Changed bool   // Bitrate differs from the previous decision
	Reason  string // why, for the log ("" when unchanged)
	// Starved: even the minimum does not fit what the link carries: the
	// sender should drop video up to the next keyframe (audio last).
	Starved bool
}

const (
	congestedDelay = 400 * time.Millisecond // queue past this: congested
	growingDelay   = 150 * time.Millisecond // …or past this and growing
	clearDelay     = 50 * time.Millisecond  // at most this at least once a clearWindow: the link keeps up
	clearWindow    = time.Second
	rateWindow     = 2 * time.Second        // what the link carried, measured over this
	minWindow      = 500 * time.Millisecond // …at least
	cutHold        = time.Second            // between two cuts
	upHold         = 2 * time.Second        // the queue clear this long before a step up
	stepHold       = 1500 * time.Millisecond
	maxProbeHold   = 8 * time.Second // at most this between tries at a level that failed
	headroom       = 0.85            // set the encoder this far below what the link carried
	gccMargin      = 0.90            // …below GCC's estimate
	heavyLoss      = 0.10
	// starvedFraction: the link is starved when what it carries is below
	// this fraction of the minimum (a little below is only a soft picture).
	starvedFraction = 0.6
)

type point struct {
	at    time.Time
	bytes int64
	delay time.Duration
}

// Controller decides the bitrate. Not safe for concurrent use.
type Controller struct {
	cfg        Config
	bitrate    int
	hist       []point   // the last rateWindow of samples
	clearSince time.Time // since when the queue has been clear (zero: it is not)
	lastChange time.Time
	lastCut    time.Time
	lastUp     time.Time
	// ceiling is the bitrate of the last step up the link could not carry
	// (0: none); probeHold, how long after a cut the next try at it waits.
	ceiling   int
	probeHold time.Duration
	streak    int // step ups since the last cut
	good      int // the bitrate before the last step up
	top       int // the configured target, when SetMax lowered it
}

// New returns a controller starting at cfg.Target.
func New(cfg Config) *Controller {
	if cfg.Min <= 0 || cfg.Min > cfg.Target {
		cfg.Min = cfg.Target
	}
	c := &Controller{cfg: cfg, bitrate: cfg.Target, probeHold: upHold}
	if cfg.Start > 0 {
		c.bitrate = c.clamp(cfg.Start)
	}
	return c
}

// Bitrate is the current decision.
func (c *Controller) Bitrate() int { return c.bitrate }

// Reset forgets the samples so far: after a reconnection, what the queue
// did while there was no connection says nothing about the link.
func (c *Controller) Reset() {
	c.hist, c.clearSince = c.hist[:0], time.Time{}
}

// SetMax lowers (or restores, up to the configured target) the ceiling —
// the platform's order — and brings the bitrate under it.
func (c *Controller) SetMax(b int) Decision {
	if c.top == 0 {
		c.top = c.cfg.Target
	}
	c.cfg.Target = max(min(b, c.top), c.cfg.Min)
	if c.ceiling > c.cfg.Target {
		c.ceiling = 0
	}
	return c.set(min(c.bitrate, c.cfg.Target), fmt.Sprintf("platform's maximum %d kbit/s", b/1000))
}

// Update takes a sample and decides.
func (c *Controller) Update(s Sample) Decision {
	c.hist = append(c.hist, point{s.At, s.SentBytes, s.QueueDelay})
	for len(c.hist) > 2 && s.At.Sub(c.hist[1].at) >= rateWindow {
		c.hist = c.hist[1:]
	}
	if s.Estimate > 0 {
		return c.followEstimate(s)
	}
	return c.followQueue(s)
}

// carried is what the link carried while it was saturated — since the
// queue last was clear, over the window at most — in bit/s; ok is false
// while that is too short to say (unless force).
func (c *Controller) carried(force bool) (int, bool) {
	last := c.hist[len(c.hist)-1]
	first := c.hist[0]
	for i := len(c.hist) - 2; i >= 0; i-- {
		if c.hist[i].delay <= clearDelay {
			first = c.hist[i]
			break
		}
	}
	dt := last.at.Sub(first.at)
	if dt < minWindow && !force {
		return 0, false
	}
	if dt <= 0 {
		return 0, false
	}
	return int(float64(last.bytes-first.bytes) * 8 / dt.Seconds()), true
}

// growing says whether the queue has grown over the last half second.
func (c *Controller) growing(now time.Time) bool {
	for i := len(c.hist) - 1; i >= 0; i-- {
		if now.Sub(c.hist[i].at) >= minWindow {
			return c.hist[len(c.hist)-1].delay > c.hist[i].delay+20*time.Millisecond
		}
	}
	return false
}

// rising says whether the queue has grown steadily over the last second
// (at 0.5 s and at now, each time by 10 ms or more): a link that does not
// keep up, unlike a keyframe's burst, which rises and falls within it.
func (c *Controller) rising(now time.Time) bool {
	at := func(ago time.Duration) (time.Duration, bool) {
		for i := len(c.hist) - 1; i >= 0; i-- {
			if now.Sub(c.hist[i].at) >= ago {
				return c.hist[i].delay, true
			}
		}
		return 0, false
	}
	d1, ok1 := at(time.Second)
	d2, ok2 := at(minWindow)
	last := c.hist[len(c.hist)-1].delay
	return ok1 && ok2 && d2 >= d1+10*time.Millisecond && last >= d2+10*time.Millisecond
}

func (c *Controller) clamp(b int) int { return max(c.cfg.Min, min(c.cfg.Target, b)) }

func (c *Controller) set(b int, reason string) Decision {
	b = c.clamp(b)
	d := Decision{Bitrate: b, Changed: b != c.bitrate}
	if d.Changed {
		d.Reason = reason
	}
	c.bitrate = b
	return d
}

// lowest is the smallest queue over the last clearWindow: a queue that
// empties between keyframes (a keyframe is a burst of a fraction of a
// second on a slow link) still shows a link that keeps up.
func (c *Controller) lowest(now time.Time) time.Duration {
	low := c.hist[len(c.hist)-1].delay
	for i := len(c.hist) - 1; i >= 0 && now.Sub(c.hist[i].at) <= clearWindow; i-- {
		low = min(low, c.hist[i].delay)
	}
	return low
}

func (c *Controller) followQueue(s Sample) Decision {
	now, delay := s.At, s.QueueDelay
	if c.lowest(now) > clearDelay || (delay > clearDelay && c.rising(now)) {
		c.clearSince = time.Time{}
	} else if c.clearSince.IsZero() {
		c.clearSince = now
	}
	if delay >= congestedDelay || (delay >= growingDelay && c.growing(now)) {
		return c.cut(now, delay)
	}
	hold := upHold
	if c.streak > 0 {
		hold = stepHold // the last step went through: keep climbing
	}
	if c.bitrate >= c.cfg.Target || c.clearSince.IsZero() || now.Sub(c.clearSince) < hold || now.Sub(c.lastChange) < hold {
		return Decision{Bitrate: c.bitrate}
	}
	if c.ceiling > 0 && c.bitrate >= c.ceiling {
		if now.Sub(c.lastUp) < 2*upHold {
			return Decision{Bitrate: c.bitrate} // proving the level that failed
		}
		c.ceiling, c.probeHold = 0, upHold // it holds now: the link grew
	}
	next := c.bitrate + c.cfg.Target/10*(1+c.streak/2)
	if c.ceiling > 0 && next >= c.ceiling {
		if now.Sub(c.lastCut) < c.probeHold {
			return Decision{Bitrate: c.bitrate} // where it failed: try again later
		}
		// Halfway to where it failed (a binary search of the link), or
		// that level itself when close.
		next = c.ceiling
		if mid := (c.bitrate + c.ceiling) / 2; c.ceiling-c.bitrate > c.cfg.Target/20 {
			next = mid
		}
	}
	c.lastChange, c.lastUp, c.good = now, now, c.bitrate
	c.streak++
	return c.set(next, fmt.Sprintf("queue clear for %v: stepping up", now.Sub(c.clearSince).Round(100*time.Millisecond)))
}

// cut sets the encoder a little below what the link carried.
func (c *Controller) cut(now time.Time, delay time.Duration) Decision {
	carried, ok := c.carried(delay >= congestedDelay)
	if !ok || now.Sub(c.lastCut) < cutHold {
		return Decision{Bitrate: c.bitrate}
	}
	video := int(float64(carried)*headroom) - c.cfg.Audio
	if delay > time.Second {
		video = int(float64(video) * 0.8) // a long queue must drain too
	}
	starved := float64(video) < float64(c.cfg.Min)*starvedFraction
	if video >= c.bitrate {
		return Decision{Bitrate: c.bitrate, Starved: starved}
	}
	if !c.lastUp.IsZero() && now.Sub(c.lastUp) < 2*upHold {
		// Soon after a step up: that step was too much for the link. Back
		// to where it was, if that fits what the link carries.
		c.ceiling = c.bitrate
		c.probeHold = min(2*c.probeHold, maxProbeHold)
		if delay < congestedDelay && float64(c.good+c.cfg.Audio) < float64(carried)*0.97 {
			video = max(video, c.good)
		}
	}
	c.lastCut, c.lastChange, c.streak = now, now, 0
	d := c.set(video, fmt.Sprintf("congestion: queue %v, link carried %d kbit/s", delay.Round(time.Millisecond), carried/1000))
	d.Starved = starved
	return d
}

// ForEstimate is the video bitrate for a bandwidth estimate: a margin
// below it, less audio, within the bounds.
func (cfg Config) ForEstimate(estimate int) int {
	return max(cfg.Min, min(cfg.Target, cfg.unbounded(estimate)))
}

func (cfg Config) unbounded(estimate int) int { return int(float64(estimate)*gccMargin) - cfg.Audio }

func (c *Controller) followEstimate(s Sample) Decision {
	video := c.cfg.unbounded(s.Estimate)
	reason := fmt.Sprintf("bandwidth estimate %d kbit/s", s.Estimate/1000)
	if s.Loss >= heavyLoss {
		video = min(video, int(float64(c.bitrate)*(1-s.Loss/2)))
		reason = fmt.Sprintf("%s, loss %.0f%%", reason, s.Loss*100)
	}
	// Small moves are noise: follow only changes of 5% or more.
	if d := video - c.bitrate; d < 0 && -d < c.bitrate/20 || d > 0 && d < c.bitrate/20 {
		return Decision{Bitrate: c.bitrate}
	}
	d := c.set(video, reason)
	d.Starved = float64(video) < float64(c.cfg.Min)*starvedFraction
	return d
}
