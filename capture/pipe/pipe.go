// Package pipe is the `--source pipe:FORMAT:WxH@FPS` capture source: raw
// video frames read from a pipe, normally standard input, as a Raspberry Pi
// camera gives them:
//
//	rpicam-vid -t 0 --codec yuv420 --width 1280 --height 720 --framerate 30 -o - |
//		golive push --preset pi4-720p30 --source pipe:yuv420p:1280x720@30 …
//
// # Frames
//
// The pipe carries frames of one Spec back to back: yuv420p (I420), nv12
// or yuyv422, every line tightly packed (rpicam-vid pads lines to its
// stride when the width is not a multiple of 64: use 640, 1280, 1920 …).
// Run reads one frame's size at a time with io.ReadFull into pooled I420
// frames: yuv420p lands in place, nv12 has its chroma split, yuyv422 goes
// through one staging buffer; nothing is allocated per frame. The samples
// are taken as BT.709 limited range, as rpicam-vid and ffmpeg write them.
//
// The pipe's size must be the preset's: Open refuses another. Scaling in
// software would cost a Raspberry Pi 4 a large share of a core at 720p,
// where the camera's ISP scales for nothing (ask rpicam-vid for the
// preset's size, or pick a preset of the pipe's size with --size).
//
// # Time
//
// A pipe carries no timestamps. Each frame is stamped with its arrival
// time on the pipeline clock (when its last byte was read), smoothed
// against the producer's write jitter and strictly increasing, like a
// camera's: the source never waits for anyone downstream. Frames that come
// faster than the preset's frame rate are thinned (a 60 fps pipe into a
// 30 fps preset keeps every other frame, and a backlog that bursts in is
// not passed on in a burst); frames that come slower are passed on as they
// come (the failover fills the gaps, as for a camera). See stamper.
//
// # Stalls and the end
//
// Run reads the pipe; the pipeline sees it as a camera through Feed,
// which failover.Video supervises: a pipe that delivers nothing for
// StallTimeout (FirstFrameTimeout for the first frame) is a lost camera,
// and the slate shows until frames come again. The end of the pipe (the
// producer exited or closed it) is the end of the stream: Run returns nil,
// as a file source does at its end. A frame cut short by the end is
// dropped.
package pipe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/golive/golive/media"
)

// StallTimeout is how long a Feed waits for a frame before it reports the
// pipe stalled; FirstFrameTimeout is that wait for the push's first frame
// (rpicam-vid takes a second or two to start its camera).
const (
	StallTimeout      = 2 * time.Second
	FirstFrameTimeout = 4 * time.Second
)

// ErrStalled is what a Feed's Run returns when the pipe delivered nothing
// for StallTimeout; ErrNoFrames is what Feed returns while the pipe has
// delivered nothing since.
var (
	ErrStalled  = errors.New("pipe: no frames")
	ErrNoFrames = errors.New("pipe: still no frames")
)

// Config configures a pipe source.
type Config struct {
	// Pipe is what the pipe carries.
	Pipe Spec
	// Width, Height and FPS are the preset's. Frames are I420 (BT.709,
	// limited range) of exactly Width x Height, which must be the pipe's
	// size; FPS caps the rate frames are passed on at.
	Width, Height, FPS int
	// Reader is the pipe; the caller closes it. When it has a
	// SetReadDeadline method that works (an *os.File of a pipe, a socket:
	// see Stdin), Run returns as soon as ctx is done; otherwise only when
	// the next read returns.
	Reader io.Reader
	// Clock is the pipeline clock frames are stamped on. Required.
	Clock *media.Clock
	// Stall and FirstStall: how long a Feed waits for a frame, and for
	// the first frame of the push (0: StallTimeout, FirstFrameTimeout).
	Stall, FirstStall time.Duration
	// Logger; nil means slog.Default(). The source adds
	// component=capture.pipe.
	Logger *slog.Logger
}

func (c *Config) check() error {
	sp := c.Pipe
	if _, err := ParseSpec(sp.String()); err != nil {
		return fmt.Errorf("pipe: %s: %w", sp, err)
	}
	if sp.Width != c.Width || sp.Height != c.Height {
		return fmt.Errorf("pipe: the pipe's %dx%d is not the preset's %dx%d: have the producer write %dx%d "+
			"(rpicam-vid --width %d --height %d), or use --size %dx%d",
			sp.Width, sp.Height, c.Width, c.Height, c.Width, c.Height, c.Width, c.Height, sp.Width, sp.Height)
	}
	if c.FPS < MinFPS || c.FPS > MaxFPS {
		return fmt.Errorf("pipe: frame rate %d: must be %d..%d", c.FPS, MinFPS, MaxFPS)
	}
	if c.Reader == nil {
		return errors.New("pipe: no Reader")
	}
	if c.Clock == nil {
		return errors.New("pipe: no Clock")
	}
	if c.Stall <= 0 {
		c.Stall = StallTimeout
	}
	if c.FirstStall <= 0 {
		c.FirstStall = FirstFrameTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// Stats count what happened to the pipe's frames. Safe to read from any
// goroutine.
type Stats struct {
	Read      media.Counter // whole frames read from the pipe
	Delivered media.Counter // passed on to a Feed
	Thinned   media.Counter // dropped: faster than the preset's rate
	Unfed     media.Counter // dropped: no Feed running (the slate shows)
}

// Source reads frames from a pipe. Open it, hand Feed to a failover.Video,
// Run it once, Close it.
type Source struct {
	cfg   Config
	log   *slog.Logger
	pool  *media.FramePool
	conv  *converter
	stamp stamper
	stats Stats
	// noPace passes every frame on, however fast (benchmarks read from
	// memory).
	noPace bool

	mu       sync.Mutex
	out      media.VideoWriter // the running Feed's writer; nil: none
	lastSeen time.Duration     // clock time the last frame arrived
	fresh    bool              // a frame arrived since the last Feed stalled
	feeds    int               // Feeds made

	cancel  context.CancelFunc // of the running Run
	running bool
	closed  bool
	done    chan struct{} // closed when Run returns
}

// Open checks cfg and prepares the frame pool and the conversion. It reads
// nothing yet.
func Open(cfg Config) (*Source, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	s := &Source{cfg: cfg, log: cfg.Logger.With("component", "capture.pipe"),
		pool: media.NewFramePool(cfg.Width, cfg.Height), conv: newConverter(cfg.Pipe),
		fresh: true, done: make(chan struct{})}
	s.stamp = newStamper(cfg.Pipe.FPS, cfg.FPS)
	s.log.Info("pipe opened", "format", cfg.Pipe.Format, "size", fmt.Sprintf("%dx%d", cfg.Pipe.Width, cfg.Pipe.Height),
		"fps", cfg.Pipe.FPS, "frame_bytes", cfg.Pipe.FrameSize(), "conversion", s.conv.describe())
	if cfg.Pipe.FPS > cfg.FPS {
		s.log.Info("the pipe's frames are thinned to the preset's rate", "pipe_fps", cfg.Pipe.FPS, "fps", cfg.FPS)
	}
	return s, nil
}

// Stats are the source's live counters.
func (s *Source) Stats() *Stats { return &s.stats }

// deadliner is a reader whose blocked reads can be cut short.
type deadliner interface {
	SetReadDeadline(t time.Time) error
}

// Run reads frames until the pipe ends (nil: the end of the stream), ctx
// is done or Close is called (nil), or a read fails (its error). It may be
// called once.
func (s *Source) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.running || s.closed {
		s.mu.Unlock()
		return errors.New("pipe: Run called twice, or after Close")
	}
	s.running = true
	ctx, s.cancel = context.WithCancel(ctx)
	s.mu.Unlock()
	defer close(s.done)
	defer s.cancel()
	if d, ok := s.cfg.Reader.(deadliner); ok {
		// A read blocked on a silent producer returns at once.
		stop := context.AfterFunc(ctx, func() { _ = d.SetReadDeadline(time.Now()) })
		defer stop()
	}

	var (
		clock   = s.cfg.Clock
		r       = s.cfg.Reader
		seq     uint64
		lastPTS time.Duration
		warned  media.OncePerSecond
	)
	for {
		f := s.pool.Get()
		buf := s.conv.target(f)
		n, err := io.ReadFull(r, buf)
		if err != nil {
			f.Release()
			return s.ended(ctx, n, err)
		}
		now := clock.Now()
		s.stats.Read.Add(1)
		seq++
		pts, ok := s.stamp.stamp(now)
		if s.noPace {
			pts, ok = now, true
		}
		if !ok {
			f.Release()
			s.stats.Thinned.Add(1)
			if s.cfg.Pipe.FPS <= s.cfg.FPS && warned.Allow(now) {
				s.log.Warn("frames come faster than the preset's rate (a backlog bursting in, or a pipe faster than it says): some are dropped",
					"pipe_fps", s.cfg.Pipe.FPS, "fps", s.cfg.FPS, "thinned", s.stats.Thinned.Load())
			}
			continue
		}
		s.conv.convert(buf, f)
		f.PTS, f.Seq = max(pts, lastPTS+time.Microsecond), seq-1
		lastPTS = f.PTS

		// The writer only queues: it is called with the lock held, so
		// that no frame reaches a Feed after its Run has returned.
		s.mu.Lock()
		s.lastSeen = now
		if s.out == nil {
			s.fresh = true
			s.mu.Unlock()
			f.Release()
			s.stats.Unfed.Add(1)
			continue
		}
		s.stats.Delivered.Add(1)
		err = s.out.WriteVideo(f)
		s.mu.Unlock()
		if err != nil {
			return fmt.Errorf("pipe: video frame %d: %w", seq-1, err)
		}
	}
}

// ended is Run's return after a read of n bytes failed with err.
func (s *Source) ended(ctx context.Context, n int, err error) error {
	st := &s.stats
	args := []any{"frames", st.Read.Load(), "delivered", st.Delivered.Load(), "thinned", st.Thinned.Load(),
		"unfed", st.Unfed.Load()}
	switch {
	case ctx.Err() != nil:
		s.log.Info("pipe source stopped", args...)
		return nil
	case errors.Is(err, io.EOF):
		s.log.Info("end of the pipe: the stream ends", args...)
		return nil
	case errors.Is(err, io.ErrUnexpectedEOF):
		s.log.Warn("the pipe ended in the middle of a frame: the partial frame is dropped; the stream ends",
			append(args, "bytes", n, "frame_bytes", s.conv.size)...)
		return nil
	}
	return fmt.Errorf("pipe: read: %w", err)
}

// Close stops Run if it runs and waits for it to return. It does not
// close the Reader. It may be called more than once.
func (s *Source) Close() {
	s.mu.Lock()
	s.closed = true
	running, cancel := s.running, s.cancel
	s.mu.Unlock()
	if running {
		cancel()
		<-s.done
	}
}

// Feed is the pipe as failover.Video sees a camera: while its Run runs,
// the source's frames go to its writer. It fails when the pipe delivers
// nothing for Config.Stall, as an unplugged camera does.
type Feed struct {
	s       *Source
	w       media.VideoWriter
	timeout time.Duration // for the first frame
}

// Feed makes a Feed writing to w: failover.Video's Open. Once a Feed has
// stalled, the next one is refused with ErrNoFrames until a frame arrives
// again, so the failover retries quietly while the slate shows.
func (s *Source) Feed(w media.VideoWriter) (*Feed, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.fresh {
		return nil, ErrNoFrames
	}
	timeout := s.cfg.Stall
	if s.feeds == 0 {
		timeout = s.cfg.FirstStall
	}
	s.feeds++
	return &Feed{s: s, w: w, timeout: timeout}, nil
}

// Run passes the pipe's frames on until ctx is done (nil) or the pipe
// stalls (ErrStalled: no frame for Config.Stall). Once the pipe has ended it waits for ctx: the end
// of the pipe ends the stream, not the camera.
func (d *Feed) Run(ctx context.Context) error {
	s, clock := d.s, d.s.cfg.Clock
	s.mu.Lock()
	s.out = d.w
	start, seenBefore := clock.Now(), s.lastSeen
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.out = nil
		s.mu.Unlock()
	}()

	t := time.NewTimer(d.timeout)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.done:
			<-ctx.Done()
			return nil
		case <-t.C:
		}
		s.mu.Lock()
		now, last, timeout := clock.Now(), s.lastSeen, s.cfg.Stall
		if last == seenBefore { // nothing yet since this Feed started
			last, timeout = start, d.timeout
		}
		idle := now - last
		if idle >= timeout {
			s.fresh = false
			s.mu.Unlock()
			return fmt.Errorf("%w for %v", ErrStalled, idle.Round(time.Millisecond))
		}
		s.mu.Unlock()
		t.Reset(timeout - idle)
	}
}

// Close does nothing: the source owns what the Feed uses.
func (d *Feed) Close() {}

// stamper times the frames: it thins those that come faster than the
// output rate, and stamps the others with their arrival time, smoothed.
//
// A producer's writes jitter: ffmpeg -re writes on a 10 ms tick, so that
// 30 fps frames arrive 30.6, 30.6, 30.6 and 40.7 ms apart (measured), and
// stamped as they come two frames can fall into one 1/30 s slot of a
// player's or a muxer's time base. Each stamp is therefore the predicted
// time (the last stamp plus the interval) moved an eighth of the way to
// the arrival: the jitter shrinks about four times, a producer whose rate
// or phase is off is followed within a few frames, and a stamp never
// strays more than half an interval from the arrival.
//
// A frame arriving more than early before its predicted time is dropped:
// frames never pass closer than the output interval less half the pipe's
// (a 60 fps pipe into a 30 fps preset keeps every other frame), nor than
// half the output interval from a slower pipe. A frame arriving more than
// half an interval late (after a gap) goes to the nearest later slot of
// the same grid, so that the stamps stay whole intervals apart, as the
// failover's filled frames in the gap are.
type stamper struct {
	interval    time.Duration // between frames passed on: the pipe's, or the output's when shorter
	early, late time.Duration
	next        time.Duration // predicted time of the next frame passed on
	started     bool
}

func newStamper(pipeFPS, outFPS int) stamper {
	in, out := time.Second/time.Duration(pipeFPS), time.Second/time.Duration(outFPS)
	iv := max(in, out)
	return stamper{interval: iv, early: iv - max(out-in/2, out/2), late: iv / 2}
}

// stamp returns the PTS of a frame arriving at t, and false when the frame
// is dropped. The PTS is within half an interval of t.
func (p *stamper) stamp(t time.Duration) (time.Duration, bool) {
	if !p.started {
		p.started, p.next = true, t+p.interval
		return t, true
	}
	d := t - p.next
	if d < -p.early {
		return 0, false
	}
	slot := p.next
	if d > p.late {
		slot += (d + p.interval/2) / p.interval * p.interval
	}
	pts := slot + (t-slot)/8
	p.next = pts + p.interval
	return pts, true
}
