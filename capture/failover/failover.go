// Package failover keeps a live stream going whatever its devices do: "no
// dead air". It supervises a camera or a microphone, passes its frames
// through, fills every gap — the last picture while the camera is merely
// late, then a slate (or silence) once the device is gone — retries the
// device every second and switches back when it returns. Viewers never see
// the stream end because of a source.
package failover

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/golive/golive/media"
)

// Device is an opened capture device: Run delivers frames until ctx ends
// (nil) or the device fails (an error); Close frees it.
type Device interface {
	Run(ctx context.Context) error
	Close()
}

// Defaults.
const (
	DefaultRetry = time.Second     // between attempts to reopen a device
	DefaultStall = 2 * time.Second // no frame for this long: the device is gone
)

// newSupervisor fills in the defaults of retry and stall and makes the
// supervisor of a device; stamp is called when a device starts, with the
// clock's time, and once now.
func newSupervisor(kind string, first Device, open func() (Device, error), retry, stall *time.Duration,
	log *slog.Logger, clock *media.Clock, stamp func(now time.Duration)) *supervisor {
	if *retry <= 0 {
		*retry = DefaultRetry
	}
	if *stall <= 0 {
		*stall = DefaultStall
	}
	if log == nil {
		log = slog.Default()
	}
	s := &supervisor{kind: kind, first: first, open: open, retry: *retry, log: log.With("component", "capture.failover")}
	s.onUp = func() { stamp(clock.Now()) }
	s.onUp()
	return s
}

// supervisor runs a device, reopening it after it fails. It is the part
// video and audio share.
type supervisor struct {
	kind  string // "camera" or "microphone", for the logs
	first Device // already open (nil: open one first)
	open  func() (Device, error)
	retry time.Duration
	log   *slog.Logger
	// onUp is called when a device starts running: its stall watch
	// starts afresh (the last frame seen was the previous device's).
	onUp func()

	mu      sync.Mutex
	cancel  context.CancelFunc // of the running device; nil while down
	up      bool
	changes int64 // switches to and from the fallback
}

// run keeps a device running until ctx ends. up/down are called when the
// device starts and stops delivering.
func (s *supervisor) run(ctx context.Context) {
	dev := s.first
	failures := 0
	for ctx.Err() == nil {
		if dev == nil {
			if s.open == nil {
				return // nothing to open: the fallback runs alone
			}
			var err error
			if dev, err = s.open(); err != nil {
				dev = nil // never a typed nil in an interface
				if failures == 0 {
					s.log.Warn(s.kind+" unavailable; retrying every "+s.retry.String(), "error", err)
				}
				failures++
				if !sleep(ctx, s.retry) {
					return
				}
				continue
			}
			s.log.Info(s.kind+" is back", "after_attempts", failures)
		}
		failures = 0
		devCtx, cancel := context.WithCancel(ctx)
		s.setUp(cancel)
		err := dev.Run(devCtx)
		cancel()
		dev.Close()
		dev = nil
		s.setDown()
		if ctx.Err() != nil {
			return
		}
		s.log.Warn(s.kind+" lost; filling in and retrying", "error", err)
		if !sleep(ctx, s.retry) {
			return
		}
	}
}

func (s *supervisor) setUp(cancel context.CancelFunc) {
	if s.onUp != nil {
		s.onUp()
	}
	s.mu.Lock()
	s.cancel, s.up = cancel, true
	s.changes++
	s.mu.Unlock()
}

func (s *supervisor) setDown() {
	s.mu.Lock()
	s.cancel, s.up = nil, false
	s.changes++
	s.mu.Unlock()
}

// isUp reports whether a device is running.
func (s *supervisor) isUp() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.up
}

// stall gives up on a running device that stopped delivering.
func (s *supervisor) stall() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cancel != nil {
		s.log.Warn(s.kind + " delivers nothing; treating it as gone")
		s.cancel()
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// ticker calls fn at every tick of a period-spaced grid on the pipeline
// clock until ctx ends.
func ticker(ctx context.Context, clock *media.Clock, period time.Duration, fn func(now time.Duration)) {
	t := time.NewTimer(0)
	defer t.Stop()
	next := clock.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := clock.Now()
		fn(now)
		for next <= now {
			next += period
		}
		t.Reset(next - clock.Now())
	}
}
