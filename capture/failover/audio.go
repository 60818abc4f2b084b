package failover

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/golive/golive/media"
)

// Audio keeps an audio stream alive: when the microphone delivers nothing
// for fillAfter, silence fills the gap, on the same sample grid, until it
// delivers again; a microphone that fails or stalls for Stall is reopened
// every Retry.
type Audio struct {
	SampleRate, Channels int
	Clock                *media.Clock
	Out                  media.AudioWriter
	First                Device // already open; nil: silence until Open succeeds
	Open                 func(w media.AudioWriter) (Device, error)
	Retry, Stall         time.Duration
	Logger               *slog.Logger

	mu       sync.Mutex
	lastEnd  time.Duration // end of the last frame sent on
	lastSeen time.Duration // clock time the device last delivered
	upAt     time.Duration // clock time the running device started
	started  bool
	silence  media.AudioFrame
	dropped  media.Counter
	filled   media.Counter
}

// frameSamples: silence goes out in AAC-sized frames.
const frameSamples = 1024

// fillAfter: how long the microphone may be silent before silence is sent
// (a device delivers in buffers of 10–50 ms, some later than others).
const fillAfter = 150 * time.Millisecond

// Writer is what the device writes to.
func (a *Audio) Writer() media.AudioWriter { return media.AudioWriterFunc(a.fromDevice) }

// Filled counts silence frames sent; Dropped device frames that came too
// late (they overlapped silence already sent).
func (a *Audio) Filled() int64  { return a.filled.Load() }
func (a *Audio) Dropped() int64 { return a.dropped.Load() }

func (a *Audio) fromDevice(f *media.AudioFrame) error {
	a.mu.Lock()
	a.lastSeen = a.Clock.Now()
	if a.started && f.PTS < a.lastEnd-time.Millisecond {
		a.mu.Unlock()
		a.dropped.Add(1)
		return nil
	}
	a.started, a.lastEnd = true, f.PTS+f.Duration()
	a.mu.Unlock()
	return a.Out.WriteAudio(f)
}

// Run runs the device (reopening it) and the filler until ctx ends.
func (a *Audio) Run(ctx context.Context) error {
	a.silence = media.AudioFrame{SampleRate: a.SampleRate, Channels: a.Channels, Samples: make([]int16, frameSamples*a.Channels)}
	dur := a.silence.Duration()
	var open func() (Device, error)
	if a.Open != nil {
		open = func() (Device, error) { return a.Open(a.Writer()) }
	}
	sup := newSupervisor("microphone", a.First, open, &a.Retry, &a.Stall, a.Logger, a.Clock, func(now time.Duration) {
		a.mu.Lock()
		a.upAt = now
		a.mu.Unlock()
	})
	a.mu.Lock()
	a.lastSeen = a.Clock.Now()
	a.mu.Unlock()

	var wg sync.WaitGroup
	wg.Go(func() { sup.run(ctx) })
	ticker(ctx, a.Clock, dur, func(now time.Duration) {
		a.mu.Lock()
		defer a.mu.Unlock()
		if now-a.lastSeen <= fillAfter {
			return
		}
		if sup.isUp() && now-max(a.lastSeen, a.upAt) > a.Stall {
			a.mu.Unlock()
			sup.stall()
			a.mu.Lock()
		}
		if !a.started || a.lastEnd < now-time.Second {
			a.lastEnd, a.started = now-dur, true // after a long pause: from now
		}
		// Silence up to now, continuing the sample grid.
		for a.lastEnd+dur <= now {
			a.silence.PTS = a.lastEnd
			a.lastEnd += dur
			a.filled.Add(1)
			a.Out.WriteAudio(&a.silence)
		}
	})
	wg.Wait()
	return nil
}
