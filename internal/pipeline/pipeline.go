// Package pipeline wires the stages: a source, the encoders and the
// destinations, with a bounded queue at every thread boundary.
//
//	source goroutine(s) ─▶ video queue ─▶ [filter goroutine ─▶ queue ─▶] video encoder goroutine ─┐
//	                    └▶ audio queue ─▶ audio encoder goroutine ────────────────────────────────┴▶ publisher queue ─▶ sender goroutine
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/golive/golive/encode"
	"github.com/golive/golive/filter"
	"github.com/golive/golive/filter/spec"
	"github.com/golive/golive/internal/abr"
	"github.com/golive/golive/internal/preset"
	"github.com/golive/golive/media"
	"github.com/golive/golive/publish"
	"github.com/golive/golive/publish/rtmp"
	"github.com/golive/golive/publish/whip"
)

// Config is everything a push needs.
type Config struct {
	Preset preset.Preset
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
	// Filters (nil or spec.Defaults(): none) and the backend that runs
	// them (auto, gl or cpu; "": auto).
	Filter        *spec.Options
	FilterBackend string
	// Encoder overrides the preset's video.encoder: auto, x264, v4l2m2m,
	// vaapi, nvenc or qsv ("": the preset's; see encode.Candidates).
	Encoder string
	// Destination. Protocol: "" (from the URL's scheme), rtmp or whip.
	URL      string
	Protocol string
	// WHIP: the bearer token and the ICE servers (--ice-server).
	Token          string
	ICEServers     []webrtc.ICEServer
	CAFile         string
	InsecureTLS    bool
	ConnectTimeout time.Duration
	// ABR adapts the video bitrate to the link, within the preset's bounds.
	ABR bool
	// ABRScale: with ABR, a link that keeps the bitrate at the preset's
	// minimum makes the picture smaller (the built-in presets below it),
	// and bigger again when the link recovers.
	ABRScale bool
	// Reconnect: what the sender does when the destination drops.
	Reconnect publish.Reconnect
	// Duration stops the push cleanly after this long (0: until ctx ends).
	Duration time.Duration
	// StatusEvery is how often OnStatus is called (0: never).
	StatusEvery time.Duration
	OnStatus    func(Status)
	// OnState is told every change of state (StateStarting, …).
	OnState func(state string)
	// Control, when set, takes the platform's orders while live.
	Control *Control
	Version string
	Logger  *slog.Logger
}

// Status is a snapshot for the status line and the logs.
type Status struct {
	Elapsed       time.Duration
	FPS           float64 // frames encoded per second, over the last interval
	Bitrate       int     // bit/s sent, over the last interval
	TargetBitrate int
	Frames        int64
	Dropped       int64         // video frames dropped anywhere (before the encoder, in the send queue)
	QueueDelay    time.Duration // what waits to be sent, in time: the send queue and the kernel's socket buffer
	Sent          publish.Stats
	State         string // starting, live, reconnecting, stopped
	Reconnects    int
	// BitrateChanges: changes the adaptive bitrate (or the platform) made.
	BitrateChanges int64
	Source         string // camera, slate (filling in for a lost camera or pipe), test, file or pipe
	// Encoder: the video encoder running now (x264, vaapi, …);
	// EncoderFallbacks: hardware encoders replaced by libx264 mid-stream.
	Encoder          string
	EncoderFallbacks int64
}

// Control steers a running push: the platform's orders, from the
// heartbeat's replies. The zero value is ready; safe for concurrent use.
type Control struct {
	mu  sync.Mutex
	ad  *adapter
	max int
}

// SetMaxBitrate caps the video bitrate (bit/s; the preset's target and
// minimum still bound it), now or as soon as the push is live.
func (c *Control) SetMaxBitrate(bps int) {
	c.mu.Lock()
	c.max = bps
	ad := c.ad
	c.mu.Unlock()
	if ad != nil {
		ad.setMax(bps)
	}
}

func (c *Control) attach(ad *adapter) {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.ad = ad
	m := c.max
	c.mu.Unlock()
	if m > 0 {
		ad.setMax(m)
	}
}

// The stream's states, as the heartbeat and /status report them.
const (
	StateStarting     = "starting"
	StateLive         = "live"
	StateReconnecting = "reconnecting"
	StateStopped      = "stopped"
)

// sender is a destination: RTMP or WHIP.
type sender interface {
	media.PacketWriter
	Run(ctx context.Context) error
	Finish()
	Stats() publish.Stats
	Shed()
	Close()
}

// videoQueueLen: raw frames waiting for the encoder (~0.25 s at 30 fps).
const videoQueueLen = 8

// Run pushes until ctx is done or cfg.Duration has passed, or a stage
// fails. Both ends are clean stops (nil): the source stops, the encoders
// flush, and what is queued is sent (within the sender's drain timeout)
// before the publish is ended politely.
func Run(ctx context.Context, cfg Config) error {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	p := cfg.Preset
	clock := media.NewClock()
	isWHIP := whip.IsWHIP(cfg.URL, cfg.Protocol)
	acodec := media.CodecAAC
	if isWHIP {
		// WebRTC takes Opus, at 48 kHz; one capture feeds it as it would AAC.
		acodec = media.CodecOpus
		p.Audio.SampleRate = 48000
		cfg.Preset = p // the sources capture at that rate
	}

	// Encoders first: cheap, and the publisher needs their configuration.
	// Over WebRTC the video starts where GCC's first estimate says (the
	// first keyframe must cross the link too); the ABR climbs from there.
	vstart, est := p.Video.Bitrate, whip.StartEstimate(p.Video.Bitrate, p.Video.MinBitrate)
	if isWHIP && cfg.ABR {
		vstart = abr.Config{Target: p.Video.Bitrate, Min: p.Video.MinBitrate, Audio: p.Audio.Bitrate}.ForEstimate(est)
	}
	fan := &fanOut{}
	encoder := cfg.Encoder
	if encoder == "" {
		encoder = p.Video.Encoder
	}
	venc, err := encode.OpenVideo(encode.VideoConfig{
		Width: p.Video.Width, Height: p.Video.Height, FPS: p.Video.FPS,
		Bitrate: vstart, KeyframeInterval: p.Video.KeyframeInterval,
		Preset: p.Video.X264Preset, Profile: p.Video.Profile, Logger: log,
		VBV: vbvFor(isWHIP), Encoder: encoder,
	}, fan)
	if err != nil {
		return err
	}
	defer venc.Close()
	aenc, err := encode.OpenAudio(encode.AudioConfig{
		Codec: acodec, SampleRate: p.Audio.SampleRate, Channels: p.Audio.Channels, Bitrate: p.Audio.Bitrate, Logger: log,
	}, fan)
	if err != nil {
		return err
	}
	defer aenc.Close()
	acfg := aenc.Config()

	// The filter stage, when a filter is asked for: a missing logo or LUT
	// fails here, before anything goes live.
	vq := newFrameQueue(videoQueueLen) // source → filter or encoder
	encQ := vq                         // → encoder
	var fstage spec.Backend
	if cfg.Filter != nil && cfg.Filter.Active() {
		encQ = newFrameQueue(videoQueueLen)
		fstage, err = filter.Open(filter.Config{
			Options: *cfg.Filter, Backend: cfg.FilterBackend, Width: p.Video.Width, Height: p.Video.Height, Logger: log,
			// The encoder's own format (NV12 for hardware): its last pass
			// writes it, so nothing converts in between.
			Format: venc.Format(),
		}, media.VideoWriterFunc(func(f *media.VideoFrame) error { encQ.push(f); return nil }))
		if err != nil {
			return err
		}
		defer fstage.Close()
	}

	// Sources next: a missing camera or an unreadable file fails here,
	// before anything goes live.
	aq := make(chan *media.AudioFrame, 64)
	apool := sync.Pool{}
	toAudioQueue := media.AudioWriterFunc(func(f *media.AudioFrame) error {
		// Sources reuse their buffers: copy into a pooled frame.
		c, _ := apool.Get().(*media.AudioFrame)
		if c == nil {
			c = &media.AudioFrame{}
		}
		c.SampleRate, c.Channels, c.PTS = f.SampleRate, f.Channels, f.PTS
		c.Samples = append(c.Samples[:0], f.Samples...)
		select {
		case aq <- c:
		default: // the audio encoder is hopelessly behind
			apool.Put(c)
		}
		return nil
	})
	srcs, err := openSources(cfg, clock, media.VideoWriterFunc(func(f *media.VideoFrame) error { vq.push(f); return nil }), toAudioQueue, log)
	if err != nil {
		return err
	}
	defer srcs.close()

	var (
		pub   sender
		ad    *adapter
		state atomic.Value
	)
	setState := func(st string) {
		if old, _ := state.Swap(st).(string); old != st && cfg.OnState != nil {
			cfg.OnState(st)
		}
	}
	setState(StateStarting)
	onLive := func(live bool) {
		if live {
			setState(StateLive)
		} else {
			setState(StateReconnecting)
		}
		if ad != nil {
			ad.setLive(live)
		}
	}
	if isWHIP {
		pub, err = whip.Dial(ctx, whip.Config{
			URL: cfg.URL, AsWHIP: true, Token: cfg.Token, ICEServers: cfg.ICEServers,
			Timeout: cfg.ConnectTimeout, Video: venc.Config(), Audio: &acfg,
			MinBitrate: p.Video.MinBitrate, MaxBitrate: p.Video.MaxBitrate, InitialEstimate: est,
			Clock: clock, Keyframes: venc, Logger: log, UserAgent: "golive/" + cfg.Version,
			Reconnect: cfg.Reconnect, OnLive: onLive,
		})
	} else {
		pub, err = rtmp.Dial(ctx, rtmp.Config{
			DialConfig: rtmp.DialConfig{
				URL: cfg.URL, CAFile: cfg.CAFile, InsecureTLS: cfg.InsecureTLS,
				Timeout: cfg.ConnectTimeout, Bitrate: p.Video.Bitrate + acfg.Bitrate, Logger: log,
			},
			Video: venc.Config(), Audio: &acfg, TimeOffset: acfg.Delay,
			Clock: clock, Keyframes: venc, Encoder: "golive " + cfg.Version,
			Reconnect: cfg.Reconnect, OnLive: onLive,
		})
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopped (Ctrl-C) while connecting: nothing went live
		}
		return err
	}
	defer pub.Close()
	fan.add(pub)
	ad = newAdapter(p.Video.Bitrate, p.Video.MinBitrate, acfg.Bitrate, vstart, venc, pub, log)
	if cfg.ABRScale {
		ad.rungs = ladder(p)
		log.Info("resolution ladder", "component", "abr", "rungs", fmt.Sprint(ad.rungs))
	}
	cfg.Control.attach(ad)
	setState(StateLive)
	defer setState(StateStopped)

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	if cfg.Duration > 0 {
		var cancelT context.CancelFunc
		runCtx, cancelT = context.WithTimeout(runCtx, cfg.Duration)
		defer cancelT()
	}

	var (
		wg      sync.WaitGroup
		errOnce sync.Once
		first   error
	)
	fail := func(err error) {
		if err != nil {
			errOnce.Do(func() { first = err })
			stop()
		}
	}
	// Sources. When the one that ends the stream (a file) ends, all stop.
	srcDone := make(chan struct{})
	var srcWG sync.WaitGroup
	for i, run := range srcs.runs {
		srcWG.Go(func() {
			err := run(runCtx)
			fail(err)
			if i == srcs.ends && err == nil {
				log.Info("end of the source: stopping", "component", "pipeline")
				stop()
			}
		})
	}
	wg.Go(func() {
		srcWG.Wait()
		close(srcDone)
	})
	// The filter stage runs until the source has stopped and its queue is
	// empty; the video encoder then until its own queue is empty.
	encIn := srcDone
	var encWG sync.WaitGroup
	if fstage != nil {
		filterDone := make(chan struct{})
		encIn = filterDone
		encWG.Go(func() {
			defer close(filterDone)
			runFilter(fstage, vq, encQ, srcDone, clock, log)
		})
	}
	// Encoders: they run until their input has stopped and their queue is
	// empty, then flush.
	encWG.Add(2)
	go func() {
		defer encWG.Done()
		for f := range encQ.frames(encIn) {
			err := venc.Encode(f)
			f.Release()
			if err != nil {
				fail(err)
			}
		}
		fail(venc.Flush())
	}()
	go func() {
		defer encWG.Done()
		for {
			select {
			case f := <-aq:
				fail(aenc.Encode(f))
				apool.Put(f)
				continue
			case <-srcDone:
			}
			for len(aq) > 0 {
				f := <-aq
				fail(aenc.Encode(f))
				apool.Put(f)
			}
			fail(aenc.Flush())
			return
		}
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		encWG.Wait()
		pub.Finish()
	}()
	// Sender. It outlives ctx: on a stop it drains what the encoders flushed
	// (bounded by its drain and write timeouts) and returns nil.
	pubErr := make(chan error, 1)
	go func() { pubErr <- pub.Run(context.WithoutCancel(ctx)) }()

	// Status and the adaptive bitrate.
	statusStop := make(chan struct{})
	var statusWG sync.WaitGroup
	if cfg.ABR {
		statusWG.Go(func() { ad.run(statusStop) })
	}
	if cfg.OnStatus != nil && cfg.StatusEvery > 0 {
		statusWG.Go(func() {
			reportStatus(clock, cfg.StatusEvery, statusStop, venc, []*frameQueue{vq, encQ}, pub, func(st Status) {
				st.QueueDelay = sendDelay(st.Sent, ad.rate())
				st.State, _ = state.Load().(string)
				st.Reconnects = max(st.Sent.Sessions-1, 0)
				st.BitrateChanges = ad.Changes()
				st.Source = srcs.status(cfg.Source)
				cfg.OnStatus(st)
			})
		})
	}

	var sendErr error
	select {
	case sendErr = <-pubErr:
		stop() // the destination is gone: stop the stages
	case <-runCtx.Done():
		sendErr = <-pubErr
	}
	wg.Wait()
	encWG.Wait()
	close(statusStop)
	statusWG.Wait()

	st := pub.Stats()
	frames, keys, _ := venc.Stats()
	log.Info("stopped", "elapsed", clock.Now().Round(time.Millisecond), "frames", frames, "keyframes", keys,
		"encoder", venc.Encoder(), "encoder_fallbacks", venc.Fallbacks(), "encoder_switches", venc.Switches(),
		"reconnects", max(st.Sessions-1, 0), "bitrate_changes", ad.Changes(),
		"dropped_before_encoder", dropped(vq, encQ), "dropped_sending", st.VideoDropped,
		"bytes", st.Bytes, "latency_p50_ms", st.LatencyP50.Milliseconds(), "latency_p99_ms", st.LatencyP99.Milliseconds())

	if first != nil {
		return first
	}
	return sendErr
}

// vbvFor: over WebRTC (UDP, no send buffer, a bottleneck queue of a few
// hundred milliseconds) half a second of rate-control buffer: keyframes
// half as big, and a bitrate cut that takes effect twice as fast. RTMP
// keeps the platforms' one second.
func vbvFor(whip bool) time.Duration {
	if whip {
		return 500 * time.Millisecond
	}
	return time.Second
}

// runFilter feeds the filter stage until the source is done and its queue
// empty. Whenever the queue runs dry it flushes the backend, so a GPU's
// readback overlaps the next frame only while frames are backing up and
// adds no latency otherwise. A backend that fails mid-stream is bypassed:
// the stream goes on unfiltered rather than going silent.
func runFilter(b spec.Backend, q, out *frameQueue, srcDone <-chan struct{}, clock *media.Clock, log *slog.Logger) {
	failed := false
	for f := range q.frames(srcDone) {
		if failed {
			out.push(f)
			continue
		}
		err := b.Filter(f, clock.At(f.PTS))
		if err == nil && len(q.ch) == 0 {
			err = b.Flush()
		}
		if err != nil {
			log.Error("filter failed: streaming unfiltered from now on", "component", "filter", "error", err)
			failed = true
			_ = b.Flush() // whatever it still holds, if it can
		}
	}
	if !failed {
		if err := b.Flush(); err != nil {
			log.Error("filter flush failed", "component", "filter", "error", err)
		}
	}
}

// dropped counts the frames dropped by the queues (each once: without a
// filter stage the source's queue is the encoder's).
func dropped(qs ...*frameQueue) int64 {
	var n int64
	for i, q := range qs {
		if i > 0 && q == qs[0] {
			continue
		}
		n += q.dropped.Load()
	}
	return n
}

func reportStatus(clock *media.Clock, every time.Duration, done <-chan struct{}, venc *encode.Video, qs []*frameQueue, pub sender, fn func(Status)) {
	t := time.NewTicker(every)
	defer t.Stop()
	var lastFrames, lastBytes int64
	last := clock.Now()
	for {
		select {
		case <-done:
			return
		case <-t.C:
		}
		now := clock.Now()
		frames, _, _ := venc.Stats()
		st := pub.Stats()
		dt := (now - last).Seconds()
		fn(Status{
			Elapsed: now, FPS: float64(frames-lastFrames) / dt, Bitrate: int(float64(st.Bytes-lastBytes) * 8 / dt),
			TargetBitrate: venc.Bitrate(), Frames: frames, Dropped: dropped(qs...) + st.VideoDropped,
			QueueDelay: st.QueueDelay, Sent: st, Encoder: venc.Encoder(), EncoderFallbacks: venc.Fallbacks(),
		})
		lastFrames, lastBytes, last = frames, st.Bytes, now
	}
}

// fanOut hands every packet to each destination.
type fanOut struct {
	mu   sync.RWMutex
	dsts []media.PacketWriter
}

func (f *fanOut) add(w media.PacketWriter) { f.mu.Lock(); f.dsts = append(f.dsts, w); f.mu.Unlock() }

func (f *fanOut) WritePacket(p *media.Packet) error {
	f.mu.RLock()
	defer f.mu.RUnlock()
	var errs []error
	for _, d := range f.dsts {
		if err := d.WritePacket(p); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("pipeline: %w", errors.Join(errs...))
	}
	return nil
}
