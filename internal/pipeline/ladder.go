package pipeline

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/golive/golive/internal/abr"
	"github.com/golive/golive/internal/preset"
)

// rung is one step of the resolution ladder (--abr-scale).
type rung struct {
	w, h, target, min int
}

func (r rung) String() string { return fmt.Sprintf("%dx%d", r.w, r.h) }

// How long the bitrate must rest at a rung's minimum before the picture
// gets smaller, and at a lower rung's target before it gets bigger again.
const (
	scaleDownAfter = 10 * time.Second
	scaleUpAfter   = 10 * time.Second
)

// ladder is the preset, then the built-in presets of a smaller picture
// (largest first) at its frame rate, or at 30 fps when it has none. Of
// presets of one size (720p30 and the Raspberry Pis' pi4-720p30 and
// pi5-720p30) the first by name makes the rung: those named by their size
// sort first.
func ladder(p preset.Preset) []rung {
	rungs := []rung{{p.Video.Width, p.Video.Height, p.Video.Bitrate, p.Video.MinBitrate}}
	all, err := preset.All()
	if err != nil {
		return rungs
	}
	below := func(fps int) []rung {
		var rs []rung
		seen := map[[2]int]bool{}
		for _, q := range all {
			v := q.Video
			if v.FPS != fps || v.Height >= p.Video.Height || v.Width >= p.Video.Width || seen[[2]int{v.Width, v.Height}] {
				continue
			}
			seen[[2]int{v.Width, v.Height}] = true
			rs = append(rs, rung{v.Width, v.Height, v.Bitrate, v.MinBitrate})
		}
		return rs
	}
	rs := below(p.Video.FPS)
	if len(rs) == 0 {
		rs = below(30)
	}
	slices.SortFunc(rs, func(a, b rung) int { return cmp.Compare(b.h, a.h) })
	return append(rungs, rs...)
}

// scale moves along the ladder: down one rung when the bitrate has rested
// at the rung's minimum for scaleDownAfter, up one when it has rested at a
// lower rung's target, with the queue clear, for scaleUpAfter. The
// controller is replaced by one for the new rung, starting at the current
// bitrate. Called with a.mu held.
func (a *adapter) scale(now time.Time, delay time.Duration) {
	r, b := a.rungs[a.level], a.ctl.Bitrate()
	if b > r.min {
		a.pinned = time.Time{}
	} else if a.pinned.IsZero() {
		a.pinned = now
	}
	if a.level == 0 || b < r.target || delay > 100*time.Millisecond {
		a.high = time.Time{}
	} else if a.high.IsZero() {
		a.high = now
	}
	switch {
	case !a.pinned.IsZero() && now.Sub(a.pinned) >= scaleDownAfter && a.level+1 < len(a.rungs):
		a.moveTo(a.level+1, b, fmt.Sprintf("at the minimum %d kbit/s for %v", r.min/1000, scaleDownAfter))
	case !a.high.IsZero() && now.Sub(a.high) >= scaleUpAfter:
		a.moveTo(a.level-1, b, fmt.Sprintf("at %d kbit/s with the queue clear for %v", b/1000, scaleUpAfter))
	}
}

func (a *adapter) moveTo(level, bitrate int, why string) {
	from, to := a.rungs[a.level], a.rungs[level]
	a.level, a.pinned, a.high = level, time.Time{}, time.Time{}
	a.ctl = abr.New(abr.Config{Target: to.target, Min: to.min, Audio: a.audio, Start: bitrate})
	if m := int(a.maxRate.Load()); m > 0 {
		a.ctl.SetMax(m)
	}
	a.venc.SetSize(to.w, to.h)
	if b := a.ctl.Bitrate(); b != a.venc.Bitrate() {
		a.venc.SetBitrate(b)
	}
	a.changes.Add(1)
	a.log.Info("picture size", "from", from.String(), "to", to.String(), "bitrate_kbps", a.ctl.Bitrate()/1000, "why", why)
}
