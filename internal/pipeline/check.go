package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golive/golive/capture"
	"github.com/golive/golive/filter"
	"github.com/golive/golive/media"
	"github.com/golive/golive/publish/record"
	"github.com/golive/golive/publish/rtmp"
	"github.com/golive/golive/publish/srt"
	"github.com/golive/golive/publish/whip"
)

// Step is one line of `golive check`: what was checked, what was found,
// and why it failed (nil: it did not).
type Step struct {
	Name   string // source, filters, encoder, destination
	Detail string
	Err    error
}

// firstFrameTimeout bounds the wait for the source's first frame.
const firstFrameTimeout = 10 * time.Second

// Check does everything Run does short of going live, in order, and tells
// report each step: the source opens and delivers a frame, the filters
// load and filter it, the encoders open (the video encoder after its
// probe), and the destination accepts a connection and the publish, which
// is released at once (RTMP: publish accepted, then deleteStream; WHIP:
// the offer answered, then DELETE). No media is sent. A step that fails
// does not stop the ones that do not need it; the first error is returned.
func Check(ctx context.Context, cfg Config, report func(Step)) error {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	var first error
	step := func(s Step) {
		if s.Err != nil && first == nil {
			first = s.Err
		}
		report(s)
	}
	outs, err := planOutputs(cfg)
	if err != nil {
		step(Step{Name: "destination", Err: err})
		return first
	}
	if hasCodec(outs, media.CodecOpus) {
		cfg.Preset.Audio.SampleRate = 48000 // as Run does
	}
	p := cfg.Preset

	frame, detail, err := firstFrame(ctx, cfg, log)
	step(Step{Name: "source", Detail: detail, Err: err})
	defer func() {
		if frame != nil {
			frame.Release()
		}
	}()

	// The encoders the push would open; their outputs, not connected,
	// ignore what they make.
	format := media.PixelFormatI420
	var (
		vconf media.VideoConfig
		aconf map[media.Codec]media.AudioConfig
	)
	enc, err := openEncoders(cfg, outs, log)
	if err == nil {
		format, vconf, aconf = enc.video.Format(), enc.video.Config(), enc.audioConfigs()
		detail = fmt.Sprintf("%s (%s in), %dx%d@%d %dk", enc.video.Encoder(), format, p.Video.Width, p.Video.Height,
			p.Video.FPS, p.Video.Bitrate/1000)
		for c := range aconf {
			detail += fmt.Sprintf("; audio %s %dk", c, p.Audio.Bitrate/1000)
		}
		enc.close()
	}
	step(Step{Name: "encoder", Detail: detail, Err: err})

	if cfg.Filter != nil && cfg.Filter.Active() {
		step(checkFilters(cfg, format, frame, log))
		frame = nil // the filter stage took it
	}

	for _, o := range outs {
		detail, err = checkDestination(ctx, cfg, o, vconf, aconf[o.acodec], log)
		step(Step{Name: "destination", Detail: detail, Err: err})
	}
	return first
}

// firstFrame opens the sources and waits for their first video frame.
func firstFrame(ctx context.Context, cfg Config, log *slog.Logger) (*media.VideoFrame, string, error) {
	var (
		once  sync.Once
		frame *media.VideoFrame
		got   = make(chan struct{})
		srcs  *capture.Sources
		slate atomic.Bool
	)
	vw := media.VideoWriterFunc(func(f *media.VideoFrame) error {
		if srcs.Status() == "slate" {
			// The failover's filler, while a slow device starts (a camera,
			// rpicam-vid): not the source's frame.
			slate.Store(true)
			f.Release()
			return nil
		}
		kept := false
		once.Do(func() { frame, kept = f, true; close(got) })
		if !kept {
			f.Release()
		}
		return nil
	})
	aw := media.AudioWriterFunc(func(*media.AudioFrame) error { return nil })
	start := time.Now()
	var err error
	srcs, err = openSources(cfg, media.NewClock(), vw, aw, log)
	if err != nil {
		return nil, "", err
	}
	defer srcs.Close()
	ctx, stop := context.WithTimeout(ctx, firstFrameTimeout)
	defer stop()
	var wg sync.WaitGroup
	wg.Go(func() { _ = srcs.Run(ctx) })
	select {
	case <-got:
	case <-ctx.Done():
	}
	stop()
	wg.Wait()
	switch {
	case frame == nil && slate.Load():
		return nil, "", fmt.Errorf("%w: %s: only the slate came within %v (the device gives no frames)", capture.ErrSource, cfg.Capture.Source, firstFrameTimeout)
	case frame == nil:
		return nil, "", fmt.Errorf("%w: %s: no frame within %v", capture.ErrSource, cfg.Capture.Source, firstFrameTimeout)
	}
	return frame, fmt.Sprintf("%s, %dx%d, first frame after %v", cfg.Capture.Source, frame.Width, frame.Height,
		time.Since(start).Round(time.Millisecond)), nil
}

// checkFilters loads the filters and runs the source's frame (if any)
// through them; the frame goes to the filter stage.
func checkFilters(cfg Config, format media.PixelFormat, frame *media.VideoFrame, log *slog.Logger) Step {
	p := cfg.Preset
	out := make(chan *media.VideoFrame, 4)
	b, err := filter.Open(filter.Config{Options: *cfg.Filter, Backend: cfg.FilterBackend, Width: p.Video.Width,
		Height: p.Video.Height, Format: format, Logger: log}, media.VideoWriterFunc(func(f *media.VideoFrame) error {
		select {
		case out <- f:
		default:
			f.Release()
		}
		return nil
	}))
	if err != nil {
		return Step{Name: "filters", Err: err}
	}
	defer b.Close()
	detail := b.Name()
	if frame != nil {
		if err := b.Filter(frame, time.Now()); err == nil {
			err = b.Flush()
		}
		if err != nil {
			return Step{Name: "filters", Detail: detail, Err: fmt.Errorf("%w: filtering a frame: %w", filterErr, err)}
		}
		select {
		case f := <-out:
			detail += fmt.Sprintf(", a frame filtered (%s)", f.Format)
			f.Release()
		default:
			return Step{Name: "filters", Detail: detail, Err: fmt.Errorf("%w: no frame came out", filterErr)}
		}
	}
	return Step{Name: "filters", Detail: detail}
}

var filterErr = errors.New("filters")

// checkDestination asks the destination for a publish and releases it
// (the recording: makes sure its directory takes a file).
func checkDestination(ctx context.Context, cfg Config, o *output, v media.VideoConfig, a media.AudioConfig, log *slog.Logger) (string, error) {
	switch o.kind {
	case KindRecord:
		r, err := record.Open(record.Config{Path: o.url, Video: v, Audio: &a, Logger: log})
		if err == nil {
			r.Close()
		}
		return "record " + o.url + ": the directory takes a file, the container the codecs", err
	case KindWHIP:
		if len(v.Record) < 4 {
			return o.name, errors.New("whip: no H.264 configuration to offer (the encoder did not open)")
		}
		err := whip.Check(ctx, whip.Config{URL: o.url, AsWHIP: true, Token: cfg.Token, ICEServers: cfg.ICEServers,
			Timeout: cfg.ConnectTimeout, Video: v, Audio: &a, Clock: media.NewClock(), Logger: log,
			UserAgent: "golive/" + cfg.Version})
		return o.name + ": offer answered, session deleted (nothing sent)", err
	case KindSRT:
		err := srt.Check(ctx, srt.DialConfig{URL: o.url, Timeout: cfg.ConnectTimeout, Logger: log})
		return o.name + ": connection accepted, then closed (nothing sent)", err
	}
	err := rtmp.Check(ctx, rtmp.DialConfig{URL: o.url, CAFile: cfg.CAFile, InsecureTLS: cfg.InsecureTLS,
		Timeout: cfg.ConnectTimeout, Logger: log})
	return o.name + ": publish accepted, then released (nothing sent)", err
}
