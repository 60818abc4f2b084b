package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
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

// openCamera opens a camera: the seam where tests put a camera that can be
// unplugged on demand (there is none on a CI machine).
var openCamera = func(c v4l2.Config) (failover.Device, error) {
	cam, err := v4l2.Open(c)
	if err != nil {
		return nil, err
	}
	return cam, nil
}

// openStdin opens standard input for a pipe source: the seam where tests
// put a pipe of their own.
var openStdin = func() (io.ReadCloser, error) { return pipe.Stdin() }

// sources are the running capture devices of a push.
type sources struct {
	runs   []func(context.Context) error
	closes []func()
	// ends: the run whose normal end (a file played to its end, a pipe
	// closed by its producer) ends the push; -1 when only ctx ends it.
	ends int
	// filler is the video failover, where there is one: while it fills in
	// frames the source's status is "slate".
	filler *failover.Video
}

// status is what the heartbeat reports: camera, test, file or pipe, or
// slate while the picture is filled in (the camera or the pipe is gone, a
// file has no video).
func (s *sources) status(source string) string {
	if s.filler != nil && s.filler.Filling() {
		return "slate"
	}
	kind, _, _ := strings.Cut(source, ":")
	return kind
}

func (s *sources) add(run func(context.Context) error, close func()) {
	s.runs = append(s.runs, run)
	if close != nil {
		s.closes = append(s.closes, close)
	}
}

func (s *sources) close() {
	for _, c := range s.closes {
		c()
	}
}

// openSources opens what cfg asks for, writing video to vw and audio to
// aw. Everything that can be wrong with a device or file fails here,
// before going live.
func openSources(cfg Config, clock *media.Clock, vw media.VideoWriter, aw media.AudioWriter, log *slog.Logger) (_ *sources, err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("%w: %w", ErrSource, err)
		}
	}()
	p := cfg.Preset
	w, h, fps := p.Video.Width, p.Video.Height, p.Video.FPS
	rate, ch := p.Audio.SampleRate, p.Audio.Channels
	s := &sources{ends: -1}
	defer func() {
		if err != nil {
			s.close()
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
			cam, err := openCamera(c)
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
		if err := openPipe(cfg, clock, vw, slate, s, log); err != nil {
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
func openPipe(cfg Config, clock *media.Clock, vw media.VideoWriter, slate *media.VideoFrame, s *sources,
	log *slog.Logger) error {
	spec, err := pipe.ParseSpec(strings.TrimPrefix(cfg.Source, pipePrefix))
	if err != nil {
		return CheckSource(cfg.Source)
	}
	p := cfg.Preset.Video
	in, err := openStdin()
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
