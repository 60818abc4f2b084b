package failover

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/golive/golive/media"
)

// Video keeps a video stream at a fixed size and rate alive. A frame that
// does not come within two frame intervals is filled in: with the last
// picture while the camera is only late, with the slate once it is gone
// (an error, or nothing for Stall).
type Video struct {
	Width, Height, FPS int
	Clock              *media.Clock
	Out                media.VideoWriter
	// First is the device, already opened (so that a bad device fails
	// before going live). Nil: only the slate, until Open succeeds.
	First Device
	// Open reopens the device after it was lost, writing to w. Nil: the
	// device is never retried (a file without video: the slate for ever).
	Open func(w media.VideoWriter) (Device, error)
	// Slate is shown while the device is gone (see NewSlate).
	Slate *media.VideoFrame
	// Retry and Stall: DefaultRetry and DefaultStall when zero.
	Retry, Stall time.Duration
	Logger       *slog.Logger

	mu       sync.Mutex
	lastPTS  time.Duration // of the last frame sent on
	lastSeen time.Duration // clock time the device last delivered
	upAt     time.Duration // clock time the running device started
	started  bool
	held     *media.VideoFrame // copy of the last device frame
	pool     *media.FramePool
	filled   media.Counter
}

// Writer is what the device writes to (pass it to the device's Open).
func (v *Video) Writer() media.VideoWriter { return media.VideoWriterFunc(v.fromDevice) }

// Filled counts the frames filled in (repeated or slate).
func (v *Video) Filled() int64 { return v.filled.Load() }

// Filling says whether frames are being filled in now: the device is late
// or gone, and its last frame or the slate goes out instead.
func (v *Video) Filling() bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.lastSeen > 0 && v.Clock.Now()-v.lastSeen > time.Second/time.Duration(v.FPS)*3/2
}

func (v *Video) fromDevice(f *media.VideoFrame) error {
	v.mu.Lock()
	if v.started && f.PTS <= v.lastPTS {
		v.mu.Unlock()
		f.Release() // behind what was filled in meanwhile
		return nil
	}
	if f.Width != v.Width || f.Height != v.Height {
		v.mu.Unlock()
		f.Release()
		return nil
	}
	v.started, v.lastPTS, v.lastSeen = true, f.PTS, v.Clock.Now()
	copyFrame(v.held, f)
	v.mu.Unlock()
	return v.Out.WriteVideo(f)
}

// Run runs the device (reopening it as needed) and the filler until ctx
// ends. It returns nil.
func (v *Video) Run(ctx context.Context) error {
	v.pool = media.NewFramePool(v.Width, v.Height)
	v.held = v.pool.Get()
	if v.First != nil {
		black(v.held) // a camera is starting: black until its first frame
	} else {
		copyFrame(v.held, v.Slate)
	}
	var open func() (Device, error)
	if v.Open != nil {
		open = func() (Device, error) { return v.Open(v.Writer()) }
	}
	sup := newSupervisor("camera", v.First, open, &v.Retry, &v.Stall, v.Logger, v.Clock, func(now time.Duration) {
		v.mu.Lock()
		v.upAt = now
		v.mu.Unlock()
	})
	v.mu.Lock()
	v.lastSeen = v.Clock.Now() // the device gets two frames' time to start
	v.mu.Unlock()

	var wg sync.WaitGroup
	wg.Go(func() { sup.run(ctx) })
	// Filling keeps every gap short by construction: it starts once the
	// device has been silent for 1.5 frame intervals (checked four times an
	// interval), continues the last frame's cadence, and keeps the filled
	// frames within half an interval of the clock — so a device that comes
	// back, stamping its frames with the time they were captured, follows
	// the last filled frame within 1.5 intervals.
	interval := time.Second / time.Duration(v.FPS)
	ticker(ctx, v.Clock, interval/4, func(now time.Duration) {
		v.mu.Lock()
		if now-v.lastSeen <= interval*3/2 { // frames arrive: nothing to do
			v.mu.Unlock()
			return
		}
		up := sup.isUp()
		if up && now-max(v.lastSeen, v.upAt) > v.Stall {
			v.mu.Unlock()
			sup.stall()
			v.mu.Lock()
			up = false
		}
		if !up {
			copyFrame(v.held, v.Slate) // the slate from now on
		}
		if !v.started || v.lastPTS < now-10*interval {
			v.lastPTS, v.started = now-interval, true // after a long pause: from now
		}
		var out []*media.VideoFrame
		for v.lastPTS+interval <= now-interval/2 {
			f := v.pool.Get()
			copyFrame(f, v.held)
			v.lastPTS += interval
			f.PTS = v.lastPTS
			out = append(out, f)
		}
		v.mu.Unlock()
		for _, f := range out {
			v.filled.Add(1)
			v.Out.WriteVideo(f)
		}
	})
	wg.Wait()
	v.held.Release()
	return nil
}

// black paints f black (BT.709 limited).
func black(f *media.VideoFrame) {
	for i, p := range f.Planes {
		v := byte(128)
		if i == 0 {
			v = 16
		}
		for j := range p {
			p[j] = v
		}
	}
}

// copyFrame copies src's pixels into dst (same size, I420).
func copyFrame(dst, src *media.VideoFrame) {
	if dst == nil || src == nil {
		return
	}
	for i := range dst.Planes {
		copy(dst.Planes[i], src.Planes[i])
	}
}
