package capture

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/golive/golive/capture/audio"
	"github.com/golive/golive/capture/failover"
	"github.com/golive/golive/capture/file"
	"github.com/golive/golive/capture/pipe"
	"github.com/golive/golive/capture/testsrc"
	"github.com/golive/golive/capture/v4l2"
	"github.com/golive/golive/media"
)

// Source kinds, as --source spells them.
const (
	SourceTest     = "test"
	SourceTestSync = "test:sync"
	SourceCamera   = "camera"
	filePrefix     = "file:"
	pipePrefix     = "pipe:"
)

// ErrSource marks a source that cannot be used (no such camera, a busy
// one, an unreadable file, an unknown microphone): a configuration error.
var ErrSource = errors.New("source")

// Mic values with a meaning of their own.
const (
	MicAuto    = ""        // the camera: the default microphone; test and file: their own audio; pipe: none
	MicDefault = "default" // the system's default microphone
	MicNone    = "none"    // no microphone: silence
)

// CheckSource validates a --source value.
func CheckSource(s string) error {
	switch {
	case s == SourceTest, s == SourceTestSync, s == SourceCamera:
		return nil
	case strings.HasPrefix(s, filePrefix) && len(s) > len(filePrefix):
		return nil
	case strings.HasPrefix(s, pipePrefix):
		if _, err := pipe.ParseSpec(strings.TrimPrefix(s, pipePrefix)); err != nil {
			return fmt.Errorf("--source %q: %w", s, err)
		}
		return nil
	}
	return fmt.Errorf("--source %q: want test, test:sync, camera, file:PATH or pipe:FORMAT:WxH@FPS", s)
}

// Options are what the user chooses to capture (the push's flags).
type Options struct {
	// Source: test, test:sync, camera, file:PATH or pipe:FORMAT:WxH@FPS
	// (see CheckSource).
	Source         string
	Camera         string   // camera device; "" = the first one
	CameraControls []string // "name=value" V4L2 controls
	Mic            string   // MicAuto, MicDefault, MicNone or a microphone's name
	Slate          string   // image shown while the camera is gone; "" = a generated card
	Loop           bool     // file: play it again and again
	// SimulateAudioDrift: test sources only — the audio comes from a
	// simulated sound card this far off (0.001: 0.1% fast) through the
	// microphone's drift correction. For A/V sync tests.
	SimulateAudioDrift float64
}

// Config says what to capture and where the frames go.
type Config struct {
	Options
	// The picture and sound every source delivers (a file is converted).
	Width, Height, FPS   int
	SampleRate, Channels int
	Clock                *media.Clock
	Video                media.VideoWriter
	Audio                media.AudioWriter
	Logger               *slog.Logger
	// OpenCamera opens a camera (nil: v4l2.Open) and OpenStdin standard
	// input for a pipe (nil: pipe.Stdin): the seams where tests put a
	// camera that can be unplugged on demand and a pipe of their own.
	OpenCamera func(v4l2.Config) (failover.Device, error)
	OpenStdin  func() (io.ReadCloser, error)
}

func openCamera(c v4l2.Config) (failover.Device, error) {
	cam, err := v4l2.Open(c)
	if err != nil {
		return nil, err // not a typed nil in the interface
	}
	return cam, nil
}

// Sources are the running capture devices of a push, opened together by
// Open: the source, and what stands in for what it lacks (the slate,
// silence, the microphone).
type Sources struct {
	runs   []func(context.Context) error
	closes []func()
	// ends: the run whose normal end (a file played to its end, a pipe
	// closed by its producer) ends the push; -1 when only ctx ends it.
	ends int
	// filler is the video failover, where there is one: while it fills in
	// frames the source's status is "slate".
	filler *failover.Video
	source string
	log    *slog.Logger
}

// Status is what the heartbeat reports: camera, test, file or pipe, or
// slate while the picture is filled in (the camera or the pipe is gone, a
// file has no video).
func (s *Sources) Status() string {
	if s.filler != nil && s.filler.Filling() {
		return "slate"
	}
	kind, _, _ := strings.Cut(s.source, ":")
	return kind
}

// Run runs every source until ctx is done, one fails (its error), or the
// one that ends the stream ends (nil); the others are then stopped.
func (s *Sources) Run(ctx context.Context) error {
	log := s.log
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	errs := make(chan error, len(s.runs))
	var wg sync.WaitGroup
	for i, run := range s.runs {
		wg.Go(func() {
			err := run(ctx)
			if err == nil && i == s.ends && ctx.Err() == nil {
				log.Info("end of the source: stopping", "component", "capture")
			}
			if err != nil || i == s.ends {
				stop()
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *Sources) add(run func(context.Context) error, close func()) {
	s.runs = append(s.runs, run)
	if close != nil {
		s.closes = append(s.closes, close)
	}
}

// Close closes the devices and files. Call it after Run has returned.
func (s *Sources) Close() {
	for _, c := range s.closes {
		c()
	}
}

// Open opens what cfg asks for: the one entry point that decides the
// sources (--source, --mic auto/default/none, the slate, a file's own
// audio). Everything that can be wrong with a device or file fails here
// (ErrSource), before going live.
func Open(cfg Config) (_ *Sources, err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("%w: %w", ErrSource, err)
		}
	}()
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.OpenCamera == nil {
		cfg.OpenCamera = openCamera
	}
	if cfg.OpenStdin == nil {
		cfg.OpenStdin = func() (io.ReadCloser, error) { return pipe.Stdin() }
	}
	clock, vw, aw, log := cfg.Clock, cfg.Video, cfg.Audio, cfg.Logger
	w, h, fps := cfg.Width, cfg.Height, cfg.FPS
	rate, ch := cfg.SampleRate, cfg.Channels
	s := &Sources{ends: -1, source: cfg.Source, log: log}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	// The slate, made only for the sources that can show it.
	var slate *media.VideoFrame
	needSlate := func() error {
		if slate == nil {
			slate, err = failover.NewSlate(cfg.Slate, w, h)
		}
		return err
	}
	// slateOnly and silence stand in for a missing track.
	slateOnly := func() error {
		if err := needSlate(); err != nil {
			return err
		}
		v := &failover.Video{Width: w, Height: h, FPS: fps, Clock: clock, Out: vw, Slate: slate, Logger: log}
		s.add(v.Run, nil)
		s.filler = v
		return nil
	}
	silence := func() {
		a := &failover.Audio{SampleRate: rate, Channels: ch, Clock: clock, Out: aw, Logger: log}
		s.add(a.Run, nil)
	}

	mic := cfg.Mic
	ownAudio := false // the source brings its audio
	switch {
	case cfg.Source == SourceTest || cfg.Source == SourceTestSync:
		src := &testsrc.Source{Width: w, Height: h, FPS: fps, SampleRate: rate, Channels: ch,
			Clock: clock, Video: vw, Sync: cfg.Source == SourceTestSync}
		if mic == MicAuto {
			src.Audio, ownAudio = aw, true
		}
		if cfg.SimulateAudioDrift != 0 && ownAudio {
			dc, err := audio.NewDriftCorrector(rate, ch, aw)
			if err != nil {
				return nil, err
			}
			src.AudioDrift, src.RawAudio = cfg.SimulateAudioDrift, dc.Write
		}
		s.add(src.Run, nil)

	case cfg.Source == SourceCamera:
		if err := needSlate(); err != nil {
			return nil, err
		}
		// The camera reports a stall itself (2 s; 4 s for its first frame):
		// the failover's watch is only a backstop.
		fv := &failover.Video{Width: w, Height: h, FPS: fps, Clock: clock, Out: vw, Slate: slate,
			Stall: v4l2.FirstFrameTimeout + time.Second, Logger: log}
		camCfg := v4l2.Config{Device: cfg.Camera, Width: w, Height: h, FPS: fps, Controls: cfg.CameraControls,
			Clock: clock, Logger: log}
		open := func(out media.VideoWriter) (failover.Device, error) {
			c := camCfg
			c.Video = out
			cam, err := cfg.OpenCamera(c)
			if err != nil {
				return nil, err // not a typed nil in the interface
			}
			return cam, nil
		}
		first, err := open(fv.Writer())
		if err != nil {
			return nil, err
		}
		fv.First, fv.Open = first, open
		s.add(fv.Run, nil)
		s.filler = fv
		if mic == MicAuto {
			mic = MicDefault
		}

	case strings.HasPrefix(cfg.Source, filePrefix):
		f, err := file.Open(file.Config{Path: strings.TrimPrefix(cfg.Source, filePrefix), Loop: cfg.Loop,
			Width: w, Height: h, FPS: fps, SampleRate: rate, Channels: ch, Clock: clock,
			Video: vw, Audio: aw, Logger: log})
		if err != nil {
			return nil, err
		}
		s.closes = append(s.closes, f.Close)
		s.ends = len(s.runs)
		s.add(f.Run, nil)
		if !f.HasVideo() {
			if err := slateOnly(); err != nil {
				return nil, err
			}
		}
		if f.HasAudio() && mic == MicAuto {
			ownAudio = true
		}
		// A file's audio is its own; a named --mic replaces it.
		if mic != MicAuto && f.HasAudio() {
			return nil, errors.New("--mic with a file that has audio: the file's audio would be doubled; use one or the other")
		}

	case strings.HasPrefix(cfg.Source, pipePrefix):
		if err := needSlate(); err != nil {
			return nil, err
		}
		if err := openPipe(cfg, slate, s); err != nil {
			return nil, err
		}
		// A pipe carries no sound: silence unless --mic names one.

	default:
		return nil, CheckSource(cfg.Source)
	}

	switch {
	case ownAudio:
	case mic == MicAuto || mic == MicNone:
		silence()
	default:
		fa := &failover.Audio{SampleRate: rate, Channels: ch, Clock: clock, Out: aw, Logger: log}
		micCfg := audio.Config{Device: mic, SampleRate: rate, Channels: ch, Clock: clock, Logger: log}
		open := func(out media.AudioWriter) (failover.Device, error) {
			c := micCfg
			c.Audio = out
			m, err := audio.Open(c)
			if err != nil {
				return nil, err // not a typed nil in the interface
			}
			return m, nil
		}
		first, err := open(fa.Writer())
		switch {
		case errors.Is(err, audio.ErrNoMicrophone) && mic == MicDefault:
			log.Warn("no microphone found: streaming silence (and retrying every second)", "component", "capture")
		case err != nil:
			return nil, err
		default:
			fa.First = first
		}
		fa.Open = open
		s.add(fa.Run, nil)
	}
	return s, nil
}

// openPipe opens the pipe source on standard input behind a video
// failover, as a camera: a pipe that stalls is a lost camera (the slate,
// until frames come again); its end ends the push.
func openPipe(cfg Config, slate *media.VideoFrame, s *Sources) error {
	clock, vw, log := cfg.Clock, cfg.Video, cfg.Logger
	spec, err := pipe.ParseSpec(strings.TrimPrefix(cfg.Source, pipePrefix))
	if err != nil {
		return CheckSource(cfg.Source)
	}
	p := struct{ Width, Height, FPS int }{cfg.Width, cfg.Height, cfg.FPS}
	in, err := cfg.OpenStdin()
	if err != nil {
		return err
	}
	src, err := pipe.Open(pipe.Config{Pipe: spec, Width: p.Width, Height: p.Height, FPS: p.FPS,
		Reader: in, Clock: clock, Logger: log})
	if err != nil {
		in.Close()
		return err
	}
	s.closes = append(s.closes, src.Close, func() { in.Close() })
	// The pipe reports a stall itself (2 s; 4 s for its first frame): the
	// failover's watch is only a backstop. Reopening a Feed costs nothing,
	// so it is retried often: the pipe's frames are back within 0.2 s.
	fv := &failover.Video{Width: p.Width, Height: p.Height, FPS: p.FPS, Clock: clock, Out: vw, Slate: slate,
		Retry: 200 * time.Millisecond, Stall: pipe.FirstFrameTimeout + time.Second, Logger: log}
	open := func(out media.VideoWriter) (failover.Device, error) {
		f, err := src.Feed(out)
		if err != nil {
			return nil, err // not a typed nil in the interface
		}
		return f, nil
	}
	if fv.First, err = open(fv.Writer()); err != nil {
		return err
	}
	fv.Open = open
	s.ends = len(s.runs)
	s.add(src.Run, nil)
	s.add(fv.Run, nil)
	s.filler = fv
	return nil
}
