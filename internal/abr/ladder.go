package abr

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	// Named apart: abr's tests have a Config named preset.
	presets "github.com/golive/golive/internal/preset"
)

// Rung is one step of the resolution ladder (--abr-scale): a picture size
// and its bitrate bounds.
type Rung struct {
	W, H        int
	Target, Min int // video bit/s
}

func (r Rung) String() string { return fmt.Sprintf("%dx%d", r.W, r.H) }

// How long the stream's bitrate must rest at a rung's minimum before the
// picture gets smaller, and at a lower rung's target before it gets
// bigger again.
const (
	scaleDownAfter = 10 * time.Second
	scaleUpAfter   = 10 * time.Second
	// scaleUpQueue: the queues must stay under this to count as clear.
	scaleUpQueue = 100 * time.Millisecond
)

// Ladder is the preset, then the built-in presets of a smaller picture
// (largest first) at its frame rate, or at 30 fps when it has none. Of
// presets of one size (720p30 and the Raspberry Pis' pi4-720p30 and
// pi5-720p30) the first by name makes the rung: those named by their size
// sort first.
func Ladder(p presets.Preset) []Rung {
	rungs := []Rung{{p.Video.Width, p.Video.Height, p.Video.Bitrate, p.Video.MinBitrate}}
	all, err := presets.All()
	if err != nil {
		return rungs
	}
	below := func(fps int) []Rung {
		var rs []Rung
		seen := map[[2]int]bool{}
		for _, q := range all {
			v := q.Video
			if v.FPS != fps || v.Height >= p.Video.Height || v.Width >= p.Video.Width || seen[[2]int{v.Width, v.Height}] {
				continue
			}
			seen[[2]int{v.Width, v.Height}] = true
			rs = append(rs, Rung{v.Width, v.Height, v.Bitrate, v.MinBitrate})
		}
		return rs
	}
	rs := below(p.Video.FPS)
	if len(rs) == 0 {
		rs = below(30)
	}
	slices.SortFunc(rs, func(a, b Rung) int { return cmp.Compare(b.H, a.H) })
	return append(rungs, rs...)
}

// scale moves along the ladder: down one rung when the stream's bitrate
// has rested at the rung's minimum for scaleDownAfter while the links did
// not carry it (a link that does is draining a backlog), up one when it has
// rested at a lower rung's target, with the queues clear, for
// scaleUpAfter. The queues are those of the voting links that keep up
// with the stream (all of them under FollowSlowest): one left behind
// under FollowFastest sheds, and must not hold the others' picture down.
// Called with a.mu held.
func (a *Adapter) scale(now time.Time) {
	r, b := a.rungs[a.level], a.bitrate
	var queue time.Duration
	// carried: those links each carried the stream at this bitrate over
	// the last second (a backlog draining). Resting at the minimum then
	// says the rung fits, not that it does not: a link that carries 480p's
	// minimum with room to spare could take more than 10 s to drain what
	// 720p left queued, and went down to 360p for nothing. The clock of
	// the rest at the minimum stops for such ticks (rather than starting
	// again: a link too slow for the rung may still carry more than it
	// for a second, after a shed).
	carried, keeping := true, false
	for _, s := range a.links {
		if s.voting && s.ctl.Bitrate() >= b {
			queue = max(queue, s.delay)
			keeping = true
			if rate := s.rate.Load(); rate < int64(b+a.audio) {
				carried = false
			}
		}
	}
	switch {
	case b > r.Min:
		a.pinned = time.Time{}
	case a.pinned.IsZero():
		a.pinned = now
	case keeping && carried:
		a.pinned = a.pinned.Add(now.Sub(a.scaled))
	}
	a.scaled = now
	if a.level == 0 || b < r.Target || queue > scaleUpQueue {
		a.high = time.Time{}
	} else if a.high.IsZero() {
		a.high = now
	}
	switch {
	case !a.pinned.IsZero() && now.Sub(a.pinned) >= scaleDownAfter && a.level+1 < len(a.rungs):
		a.moveTo(a.level+1, fmt.Sprintf("at the minimum %d kbit/s for %v", r.Min/1000, scaleDownAfter))
	case !a.high.IsZero() && now.Sub(a.high) >= scaleUpAfter:
		a.moveTo(a.level-1, fmt.Sprintf("at %d kbit/s with the queue clear for %v", b/1000, scaleUpAfter))
	}
}

// moveTo changes the picture to the ladder's rung level. Every link gets a
// controller for the new rung, starting at its own decision (the stream's
// bitrate, but for a link left behind) and under the platform's maximum.
// Called with a.mu held, from Step (where some link votes).
func (a *Adapter) moveTo(level int, why string) {
	from, to := a.rungs[a.level], a.rungs[level]
	a.level, a.pinned, a.high = level, time.Time{}, time.Time{}
	a.target, a.minRate = to.Target, to.Min
	if a.minRate <= 0 || a.minRate > a.target {
		a.minRate = a.target
	}
	for _, s := range a.links {
		s.ctl = a.controller(s.ctl.Bitrate())
	}
	a.enc.SetSize(to.W, to.H)
	if b, leader := a.vote(); leader != nil {
		a.bitrate = b
	}
	if a.bitrate != a.enc.Bitrate() {
		a.enc.SetBitrate(a.bitrate)
	}
	a.changes.Add(1)
	a.log.Info("picture size", "from", from.String(), "to", to.String(), "bitrate_kbps", a.bitrate/1000, "why", why)
}
