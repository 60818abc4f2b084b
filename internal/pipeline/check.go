package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golive/golive/encode"
	"github.com/golive/golive/filter"
	"github.com/golive/golive/media"
	"github.com/golive/golive/publish"
	"github.com/golive/golive/publish/rtmp"
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
	p := cfg.Preset
	isWHIP := whip.IsWHIP(cfg.URL, cfg.Protocol)
	acodec := media.CodecAAC
	if isWHIP {
		acodec, p.Audio.SampleRate = media.CodecOpus, 48000
		cfg.Preset = p
	}

	frame, detail, err := firstFrame(ctx, cfg, log)
	step(Step{Name: "source", Detail: detail, Err: err})
	defer func() {
		if frame != nil {
			frame.Release()
		}
	}()

	encoder := cfg.Encoder
	if encoder == "" {
		encoder = p.Video.Encoder
	}
	venc, err := encode.OpenVideo(encode.VideoConfig{
		Width: p.Video.Width, Height: p.Video.Height, FPS: p.Video.FPS, Bitrate: p.Video.Bitrate,
		KeyframeInterval: p.Video.KeyframeInterval, Preset: p.Video.X264Preset, Profile: p.Video.Profile,
		Encoder: encoder, Logger: log,
	}, media.PacketWriterFunc(func(*media.Packet) error { return nil }))
	format := media.PixelFormatI420
	var vconf media.VideoConfig
	if err == nil {
		format, vconf = venc.Format(), venc.Config()
		detail = fmt.Sprintf("%s (%s in), %dx%d@%d %dk", venc.Encoder(), format, p.Video.Width, p.Video.Height,
			p.Video.FPS, p.Video.Bitrate/1000)
		venc.Close()
	}
	var acfg media.AudioConfig
	if err == nil {
		var aenc *encode.Audio
		aenc, err = encode.OpenAudio(encode.AudioConfig{Codec: acodec, SampleRate: p.Audio.SampleRate,
			Channels: p.Audio.Channels, Bitrate: p.Audio.Bitrate, Logger: log}, media.PacketWriterFunc(func(*media.Packet) error { return nil }))
		if err == nil {
			acfg = aenc.Config()
			detail += fmt.Sprintf("; audio %s %dk", acodec, p.Audio.Bitrate/1000)
			aenc.Close()
		}
	}
	step(Step{Name: "encoder", Detail: detail, Err: err})

	if cfg.Filter != nil && cfg.Filter.Active() {
		step(checkFilters(cfg, format, frame, log))
		frame = nil // the filter stage took it
	}

	detail, err = checkDestination(ctx, cfg, vconf, acfg, log)
	step(Step{Name: "destination", Detail: detail, Err: err})
	return first
}

// firstFrame opens the sources and waits for their first video frame.
func firstFrame(ctx context.Context, cfg Config, log *slog.Logger) (*media.VideoFrame, string, error) {
	var (
		once  sync.Once
		frame *media.VideoFrame
		got   = make(chan struct{})
		srcs  *sources
		slate atomic.Bool
	)
	vw := media.VideoWriterFunc(func(f *media.VideoFrame) error {
		if srcs.status(cfg.Source) == "slate" {
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
	defer srcs.close()
	ctx, stop := context.WithTimeout(ctx, firstFrameTimeout)
	defer stop()
	var wg sync.WaitGroup
	for _, run := range srcs.runs {
		wg.Go(func() { _ = run(ctx) })
	}
	select {
	case <-got:
	case <-ctx.Done():
	}
	stop()
	wg.Wait()
	switch {
	case frame == nil && slate.Load():
		return nil, "", fmt.Errorf("%w: %s: only the slate came within %v (the device gives no frames)", ErrSource, cfg.Source, firstFrameTimeout)
	case frame == nil:
		return nil, "", fmt.Errorf("%w: %s: no frame within %v", ErrSource, cfg.Source, firstFrameTimeout)
	}
	return frame, fmt.Sprintf("%s, %dx%d, first frame after %v", cfg.Source, frame.Width, frame.Height,
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

// checkDestination asks the destination for a publish and releases it.
func checkDestination(ctx context.Context, cfg Config, v media.VideoConfig, a media.AudioConfig, log *slog.Logger) (string, error) {
	target := publish.Redact(cfg.URL)
	if whip.IsWHIP(cfg.URL, cfg.Protocol) {
		if len(v.Record) < 4 {
			return target, errors.New("whip: no H.264 configuration to offer (the encoder did not open)")
		}
		err := whip.Check(ctx, whip.Config{URL: cfg.URL, AsWHIP: true, Token: cfg.Token, ICEServers: cfg.ICEServers,
			Timeout: cfg.ConnectTimeout, Video: v, Audio: &a, Clock: media.NewClock(), Logger: log,
			UserAgent: "golive/" + cfg.Version})
		return target + ": offer answered, session deleted (nothing sent)", err
	}
	err := rtmp.Check(ctx, rtmp.DialConfig{URL: cfg.URL, CAFile: cfg.CAFile, InsecureTLS: cfg.InsecureTLS,
		Timeout: cfg.ConnectTimeout, Logger: log})
	return target + ": publish accepted, then released (nothing sent)", err
}
