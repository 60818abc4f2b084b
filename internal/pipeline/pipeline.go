// Package pipeline wires the stages: the sources, the filter, the
// encoders and the outputs, with a bounded queue at every thread boundary.
// The stages own their policy; the pipeline opens them, connects them,
// starts them and waits for them (docs/ARCHITECTURE.md draws it).
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

	"github.com/golive/golive/capture"
	"github.com/golive/golive/filter"
	"github.com/golive/golive/filter/spec"
	"github.com/golive/golive/internal/abr"
	"github.com/golive/golive/internal/preset"
	"github.com/golive/golive/media"
	"github.com/golive/golive/publish"
)

// Config is everything a push needs.
type Config struct {
	Preset preset.Preset
	// Capture: the source, the microphone, the slate (see capture.Open).
	Capture capture.Options
	// Filters (nil or spec.Defaults(): none) and the backend that runs
	// them (auto, gl or cpu; "": auto).
	Filter        *spec.Options
	FilterBackend string
	// Encoder overrides the preset's video.encoder: auto, x264, v4l2m2m,
	// vaapi, nvenc or qsv ("": the preset's; see encode.Candidates).
	Encoder string
	// Destinations: URL, then URLs, any mix of rtmp(s)://, whip(s):// and
	// srt://. Protocol: "" (from each URL's scheme), rtmp or whip.
	URL      string
	URLs     []string
	Protocol string
	// Record: a local recording (.mp4, .mkv, .flv or .ts; strftime verbs
	// in the name), alone or beside the destinations; RecordSegment starts
	// a new file at the first keyframe after that long (0: one file).
	Record        string
	RecordSegment time.Duration
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
	// ABRFollow: with several destinations, whose link the shared video
	// encoder follows (abr.FollowFastest: those that keep up; a slower one
	// sheds video to keyframes in its own queue).
	ABRFollow abr.Follow
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
	// Destinations: each output on its own (the fields above add them up:
	// Bitrate is the sum, QueueDelay the longest of the network's, State
	// live while any is).
	Destinations []DestinationStatus
}

// DestinationStatus is one output's part of Status.
type DestinationStatus struct {
	Name       string // safe to show: never the stream key
	Kind       string // KindRTMP, KindWHIP, KindSRT or KindRecord
	State      string
	Bitrate    int           // bit/s sent (written, for a recording) over the last interval
	QueueDelay time.Duration // what waits to be sent, in time
	Reconnects int
	// Lagging: the link does not keep up with the shared encoder (which
	// follows faster ones): its queue sheds video to keyframes.
	Lagging bool
	Sent    publish.Stats
	Error   string // why it stopped, once it has
}

// Control steers a running push: the platform's orders, from the
// heartbeat's replies. The zero value is ready; safe for concurrent use.
type Control struct {
	mu  sync.Mutex
	ad  *abr.Adapter
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
		ad.SetMax(bps)
	}
}

func (c *Control) attach(ad *abr.Adapter) {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.ad = ad
	m := c.max
	c.mu.Unlock()
	if m > 0 {
		ad.SetMax(m)
	}
}

// The stream's states, as the heartbeat and /status report them.
const (
	StateStarting     = "starting"
	StateLive         = "live"
	StateReconnecting = "reconnecting"
	StateStopped      = "stopped"
)

// videoQueueLen: raw frames waiting for the encoder (~0.25 s at 30 fps).
const videoQueueLen = 8

// Run pushes until ctx is done or cfg.Duration has passed, a stage fails,
// or every output has stopped. The ends are clean stops (nil): the source
// stops, the encoders flush, and what is queued is sent (within each
// sender's drain timeout) before each publish is ended politely. An
// output that fails does not stop the others; Run returns the outputs'
// errors only when all of them failed.
func Run(ctx context.Context, cfg Config) error {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	outs, err := planOutputs(cfg)
	if err != nil {
		return err
	}
	if hasCodec(outs, media.CodecOpus) {
		// WebRTC takes Opus at 48 kHz; one capture feeds every audio
		// encoder, so AAC gets 48 kHz too.
		cfg.Preset.Audio.SampleRate = 48000
	}
	clock := media.NewClock()

	// Encoders first: cheap, and the outputs need their configuration.
	enc, err := openEncoders(cfg, outs, log)
	if err != nil {
		return err
	}
	defer enc.close()

	// The filter stage, when a filter is asked for: a missing logo or LUT
	// fails here, before anything goes live.
	vq := newFrameQueue(videoQueueLen) // source → filter or encoder
	encQ := vq                         // → encoder
	var fstage spec.Backend
	if cfg.Filter != nil && cfg.Filter.Active() {
		encQ = newFrameQueue(videoQueueLen)
		p := cfg.Preset.Video
		fstage, err = filter.Open(filter.Config{
			Options: *cfg.Filter, Backend: cfg.FilterBackend, Width: p.Width, Height: p.Height, Logger: log,
			// The encoder's own format (NV12 for hardware): its last pass
			// writes it, so nothing converts in between.
			Format: enc.video.Format(),
		}, media.VideoWriterFunc(func(f *media.VideoFrame) error { encQ.push(f); return nil }))
		if err != nil {
			return err
		}
		defer fstage.Close()
	}

	// Sources next: a missing camera or an unreadable file fails here,
	// before anything goes live.
	aq := newAudioQueue(64)
	srcs, err := openSources(cfg, clock, media.VideoWriterFunc(func(f *media.VideoFrame) error { vq.push(f); return nil }), aq, log)
	if err != nil {
		return err
	}
	defer srcs.Close()

	// The outputs, then the adaptive bitrate that follows them.
	var (
		state   atomic.Value
		stateMu sync.Mutex
	)
	setState := func() {
		stateMu.Lock()
		defer stateMu.Unlock()
		st := aggregateState(outs)
		if old, _ := state.Swap(st).(string); old != st && cfg.OnState != nil {
			cfg.OnState(st)
		}
	}
	setState()
	p := cfg.Preset
	var rungs []abr.Rung
	if cfg.ABRScale {
		rungs = abr.Ladder(p)
		log.Info("resolution ladder", "component", "abr", "rungs", fmt.Sprint(rungs))
	}
	ad := abr.NewAdapter(abr.AdapterConfig{
		Target: p.Video.Bitrate, Min: p.Video.MinBitrate, Audio: p.Audio.Bitrate, Start: enc.start,
		Encoder: enc.video, Follow: cfg.ABRFollow, Rungs: rungs, Logger: log,
	})
	env := &outputEnv{
		cfg: cfg, video: enc.video.Config(), audio: enc.audioConfigs(), est: enc.est, clock: clock,
		log: log,
		onLive: func(o *output, live bool) {
			if live {
				o.state.Store(StateLive)
			} else {
				o.state.Store(StateReconnecting)
			}
			if o.link != nil {
				o.link.SetLive(live)
			}
			setState()
		},
	}
	for _, o := range outs {
		o.keyframes = enc.video
		if len(outs) > 1 {
			o.keyframes = &keyframeGate{to: enc.video, gap: time.Second}
		}
		if o.network {
			o.link = ad.AddLink(o.name, o)
			o.link.SetLive(false)
		}
	}
	// One output alone, and a recording always, opens now: a refused key
	// or an unwritable path fails before anything goes live.
	for _, o := range outs {
		if len(outs) > 1 && o.network {
			continue
		}
		if err := env.connect(ctx, o, true); err != nil {
			if ctx.Err() != nil {
				return nil // stopped (Ctrl-C) while connecting: nothing went live
			}
			return err
		}
		if o.link != nil {
			o.link.SetLive(true)
		}
		defer o.close()
	}
	setState()
	log.Info("outputs", "component", "pipeline", "destinations", destinationNames(outs))
	cfg.Control.attach(ad)
	defer func() {
		for _, o := range outs {
			o.state.Store(StateStopped)
		}
		setState()
	}()

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	if cfg.Duration > 0 {
		var cancelT context.CancelFunc
		runCtx, cancelT = context.WithTimeout(runCtx, cfg.Duration)
		defer cancelT()
	}
	var (
		errOnce sync.Once
		first   error
	)
	fail := func(err error) {
		if err != nil {
			errOnce.Do(func() { first = err })
			stop()
		}
	}

	// The stages, each until its input is done and its queue empty: the
	// sources until runCtx ends (or a file ends), the filter, the
	// encoders, then each output until it has sent what they flushed.
	var stages sync.WaitGroup
	srcDone := make(chan struct{})
	stages.Go(func() {
		defer close(srcDone)
		if err := srcs.Run(runCtx); err != nil {
			fail(err)
		}
		stop()
	})
	encIn := srcDone
	if fstage != nil {
		filterDone := make(chan struct{})
		encIn = filterDone
		stages.Go(func() {
			defer close(filterDone)
			runFilter(fstage, vq, encQ, srcDone, clock, log)
		})
	}
	encDone := make(chan struct{})
	stages.Go(func() {
		defer close(encDone)
		var encWG sync.WaitGroup
		encWG.Go(func() { enc.runVideo(encQ, encIn, fail) })
		encWG.Go(func() { enc.runAudio(aq, srcDone, fail) })
		encWG.Wait()
	})
	// Outputs. A sender outlives ctx: on a stop it drains what the encoders
	// flushed (bounded by its drain and write timeouts) and returns nil.
	var outWG sync.WaitGroup
	for _, o := range outs {
		outWG.Go(func() {
			defer close(o.done)
			err := runOutput(ctx, runCtx, env, o, len(outs))
			o.mu.Lock()
			o.err = err
			o.mu.Unlock()
			o.state.Store(StateStopped)
			if o.link != nil {
				o.link.Remove()
			}
			setState()
			if err != nil && len(outs) > 1 {
				log.Error("output failed: the others go on", "component", "pipeline", "dest", o.name, "error", err)
			}
		})
	}
	outsDone := make(chan struct{})
	go func() { outWG.Wait(); close(outsDone) }()
	stages.Go(func() {
		// The encoders have flushed: the outputs send what is left.
		<-encDone
		for _, o := range outs {
			o.finish()
		}
	})

	// Status and the adaptive bitrate.
	statusStop := make(chan struct{})
	var statusWG sync.WaitGroup
	if cfg.ABR {
		statusWG.Go(func() { ad.Run(statusStop) })
	}
	if cfg.OnStatus != nil && cfg.StatusEvery > 0 {
		r := &reporter{clock: clock, enc: enc, qs: []*frameQueue{vq, encQ}, outs: outs, ad: ad}
		statusWG.Go(func() {
			r.run(cfg.StatusEvery, statusStop, func(st Status) {
				st.State, _ = state.Load().(string)
				st.Source = srcs.Status()
				cfg.OnStatus(st)
			})
		})
	}

	select {
	case <-outsDone:
		stop() // every output has stopped: nothing to push to
	case <-runCtx.Done():
	}
	stages.Wait()
	<-outsDone
	close(statusStop)
	statusWG.Wait()

	enc.logStopped(log, clock, ad, dropped(vq, encQ), outs)
	if first != nil {
		return first
	}
	var errs []error
	for _, o := range outs {
		if o.err == nil {
			return nil // one output at least got through
		}
		errs = append(errs, o.err)
	}
	if len(errs) == 1 {
		return errs[0]
	}
	return errors.Join(errs...)
}

// runOutput connects o if it is not yet (in the background, as after an
// outage) and sends until its stream is finished or it gives up.
func runOutput(ctx, runCtx context.Context, env *outputEnv, o *output, n int) error {
	if o.sender() == nil {
		// Dialing ends with the run (a stop, the duration): an output that
		// never connected has nothing to send.
		err := env.connect(runCtx, o, n == 1)
		if err != nil {
			if runCtx.Err() != nil {
				return nil
			}
			return err
		}
		env.onLive(o, true)
		defer o.close()
		// Its queue waits for a keyframe: ask for one rather than wait for
		// the next on the clock.
		o.keyframes.RequestKeyframe()
		select {
		case <-o.finishing:
			o.sender().Finish() // finish came while it connected
		default:
		}
	}
	return o.sender().Run(context.WithoutCancel(ctx))
}

// hasCodec says whether an output takes audio in codec c.
func hasCodec(outs []*output, c media.Codec) bool {
	for _, o := range outs {
		if o.acodec == c {
			return true
		}
	}
	return false
}

// aggregateState is the push's state from its outputs': live while one
// is, reconnecting while one that was live tries again, starting while
// they connect, stopped when all have stopped.
func aggregateState(outs []*output) string {
	seen := map[string]bool{}
	for _, o := range outs {
		seen[o.State()] = true
	}
	switch {
	case seen[StateLive]:
		return StateLive
	case seen[StateReconnecting]:
		return StateReconnecting
	case seen[StateStarting]:
		return StateStarting
	}
	return StateStopped
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
