package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golive/golive/capture"
	"github.com/golive/golive/filter"
	"github.com/golive/golive/filter/spec"
	"github.com/golive/golive/internal/abr"
	"github.com/golive/golive/media"
)

// videoQueueLen: raw frames waiting for the encoder (~0.25 s at 30 fps).
const videoQueueLen = 8

// push is one Run: the stages, opened, and the queues between them.
type push struct {
	cfg    Config
	log    *slog.Logger
	clock  *media.Clock
	outs   []*output
	enc    *encoders
	vq     *frameQueue  // source → filter or encoder
	encQ   *frameQueue  // → encoder (vq without a filter stage)
	aq     *audioQueue  // sources → audio encoders
	fstage spec.Backend // nil: no filter
	srcs   *capture.Sources
	ad     *abr.Adapter
	env    *outputEnv
	closes []func() // in the order opened

	stateMu sync.Mutex
	state   atomic.Value // the outputs' aggregate state
}

// open opens every stage. A nil push with a nil error: ctx ended while an
// output connected.
func open(ctx context.Context, cfg Config) (_ *push, err error) {
	p := &push{cfg: cfg, log: cfg.Logger, clock: media.NewClock()}
	if p.log == nil {
		p.log = slog.Default()
	}
	defer func() {
		if err != nil || p == nil {
			p.close()
		}
	}()
	if p.outs, err = planOutputs(cfg); err != nil {
		return nil, err
	}
	if hasCodec(p.outs, media.CodecOpus) {
		// WebRTC takes Opus at 48 kHz; one capture feeds every audio
		// encoder, so AAC gets 48 kHz too.
		p.cfg.Preset.Audio.SampleRate = 48000
	}
	// Encoders first: cheap, and the outputs need their configuration.
	if p.enc, err = openEncoders(p.cfg, p.outs, p.log); err != nil {
		return nil, err
	}
	p.closes = append(p.closes, p.enc.close)
	if err := p.openFilter(); err != nil {
		return nil, err
	}
	// Sources next: a missing camera or an unreadable file fails here.
	p.aq = newAudioQueue(64)
	p.srcs, err = openSources(p.cfg, p.clock, media.VideoWriterFunc(func(f *media.VideoFrame) error { p.vq.push(f); return nil }), p.aq, p.log)
	if err != nil {
		return nil, err
	}
	p.closes = append(p.closes, p.srcs.Close)
	p.openAdapter()
	if err := p.openOutputs(ctx); err != nil {
		if ctx.Err() != nil {
			p.close()
			return nil, nil
		}
		return nil, err
	}
	return p, nil
}

// close closes what open opened, the last first.
func (p *push) close() {
	if p == nil {
		return
	}
	for i := len(p.closes) - 1; i >= 0; i-- {
		p.closes[i]()
	}
	p.closes = nil
}

// openFilter opens the filter stage, when a filter is asked for (a missing
// logo or LUT fails here), writing the encoder's own pixel format (NV12
// for hardware): its last pass writes it, so nothing converts in between.
func (p *push) openFilter() error {
	p.vq = newFrameQueue(videoQueueLen)
	p.encQ = p.vq
	if p.cfg.Filter == nil || !p.cfg.Filter.Active() {
		return nil
	}
	p.encQ = newFrameQueue(videoQueueLen)
	v := p.cfg.Preset.Video
	b, err := filter.Open(filter.Config{
		Options: *p.cfg.Filter, Backend: p.cfg.FilterBackend, Width: v.Width, Height: v.Height, Logger: p.log,
		Format: p.enc.video.Format(),
	}, media.VideoWriterFunc(func(f *media.VideoFrame) error { p.encQ.push(f); return nil }))
	if err != nil {
		return err
	}
	p.fstage = b
	p.closes = append(p.closes, b.Close)
	return nil
}

// openAdapter makes the adaptive bitrate, which follows the network
// outputs, and the platform's control of it.
func (p *push) openAdapter() {
	pr := p.cfg.Preset
	var rungs []abr.Rung
	if p.cfg.ABRScale {
		rungs = abr.Ladder(pr)
		p.log.Info("resolution ladder", "component", "abr", "rungs", fmt.Sprint(rungs))
	}
	p.ad = abr.NewAdapter(abr.AdapterConfig{
		Target: pr.Video.Bitrate, Min: pr.Video.MinBitrate, Audio: pr.Audio.Bitrate, Start: p.enc.start,
		Encoder: p.enc.video, Follow: p.cfg.ABRFollow, Rungs: rungs, Logger: p.log,
	})
	p.cfg.Control.attach(p.ad)
}

// openOutputs gives each output its keyframe requester and its link in the
// adaptive bitrate, and opens, before anything goes live, the one
// destination alone and the recording: a refused key or an unwritable
// path fails here. Several destinations connect once running.
func (p *push) openOutputs(ctx context.Context) error {
	p.env = &outputEnv{
		cfg: p.cfg, video: p.enc.video.Config(), audio: p.enc.audioConfigs(), est: p.enc.est, clock: p.clock,
		log: p.log, onLive: p.onLive,
	}
	p.setState()
	for _, o := range p.outs {
		o.keyframes = p.enc.video
		if len(p.outs) > 1 {
			o.keyframes = &keyframeGate{to: p.enc.video, gap: time.Second}
		}
		if o.network {
			o.link = p.ad.AddLink(o.name, o)
			o.link.SetLive(false)
		}
	}
	for _, o := range p.outs {
		if len(p.outs) > 1 && o.network {
			continue
		}
		if err := p.env.connect(ctx, o, true); err != nil {
			return err
		}
		p.closes = append(p.closes, o.close)
		if o.link != nil {
			o.link.SetLive(true)
		}
	}
	p.setState()
	p.log.Info("outputs", "component", "pipeline", "destinations", destinationNames(p.outs))
	return nil
}

// onLive is told by an output's sender when it loses its connection and
// when it is back.
func (p *push) onLive(o *output, live bool) {
	if live {
		o.state.Store(StateLive)
	} else {
		o.state.Store(StateReconnecting)
	}
	if o.link != nil {
		o.link.SetLive(live)
	}
	p.setState()
}

// setState recomputes the push's state from its outputs' and tells
// OnState of a change.
func (p *push) setState() {
	p.stateMu.Lock()
	defer p.stateMu.Unlock()
	st := aggregateState(p.outs)
	if old, _ := p.state.Swap(st).(string); old != st && p.cfg.OnState != nil {
		p.cfg.OnState(st)
	}
}

// run runs the stages until the stop has gone through them all.
func (p *push) run(ctx context.Context) error {
	defer func() {
		for _, o := range p.outs {
			o.state.Store(StateStopped)
		}
		p.setState()
	}()
	// Opening left garbage on the heap (the slate drawn as RGBA, the
	// filter's assets, the configuration): collect it and give its pages
	// back now rather than carry them, resident, through the stream.
	debug.FreeOSMemory()
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	if p.cfg.Duration > 0 {
		var cancelT context.CancelFunc
		runCtx, cancelT = context.WithTimeout(runCtx, p.cfg.Duration)
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
	var stages sync.WaitGroup
	outsDone := p.startStages(ctx, runCtx, stop, fail, &stages)
	monitorStop := make(chan struct{})
	monitors := p.startMonitors(monitorStop)

	select {
	case <-outsDone:
		stop() // every output has stopped: nothing to push to
	case <-runCtx.Done():
	}
	stages.Wait()
	<-outsDone
	close(monitorStop)
	monitors.Wait()

	p.enc.logStopped(p.log, p.clock, p.ad, dropped(p.vq, p.encQ), p.outs)
	if first != nil {
		return first
	}
	return p.outputsErr()
}

// startStages starts each stage, to run until its input is done and its
// queue empty: the sources until runCtx ends (or a file ends), the
// filter, the encoders, then each output until it has sent what they
// flushed. A sender outlives ctx: on a stop it drains what the encoders
// flushed (bounded by its drain and write timeouts). outsDone is closed
// when every output has stopped.
func (p *push) startStages(ctx, runCtx context.Context, stop func(), fail func(error), stages *sync.WaitGroup) (outsDone <-chan struct{}) {
	srcDone := make(chan struct{})
	stages.Go(func() {
		defer close(srcDone)
		fail(p.srcs.Run(runCtx))
		stop()
	})
	encIn := srcDone
	if p.fstage != nil {
		filterDone := make(chan struct{})
		encIn = filterDone
		stages.Go(func() {
			defer close(filterDone)
			runFilter(p.fstage, p.vq, p.encQ, srcDone, p.clock, p.log)
		})
	}
	encDone := make(chan struct{})
	stages.Go(func() {
		defer close(encDone)
		var encWG sync.WaitGroup
		encWG.Go(func() { p.enc.runVideo(p.encQ, encIn, fail) })
		encWG.Go(func() { p.enc.runAudio(p.aq, srcDone, fail) })
		encWG.Wait()
	})
	var outWG sync.WaitGroup
	for _, o := range p.outs {
		outWG.Go(func() { p.runOutput(ctx, runCtx, o) })
	}
	done := make(chan struct{})
	go func() { outWG.Wait(); close(done) }()
	stages.Go(func() {
		<-encDone // the encoders have flushed: the outputs send what is left
		for _, o := range p.outs {
			o.finish()
		}
	})
	return done
}

// runOutput runs o until it stops, and says so.
func (p *push) runOutput(ctx, runCtx context.Context, o *output) {
	err := runOutput(ctx, runCtx, p.env, o, len(p.outs))
	o.mu.Lock()
	o.err = err
	o.mu.Unlock()
	o.state.Store(StateStopped)
	if o.link != nil {
		o.link.Remove()
	}
	p.setState()
	if err != nil && len(p.outs) > 1 {
		p.log.Error("output failed: the others go on", "component", "pipeline", "dest", o.name, "error", err)
	}
}

// startMonitors starts the adaptive bitrate and the status reports, until
// stop is closed.
func (p *push) startMonitors(stop <-chan struct{}) *sync.WaitGroup {
	var wg sync.WaitGroup
	if p.cfg.ABR {
		wg.Go(func() { p.ad.Run(stop) })
	}
	if p.cfg.OnStatus != nil && p.cfg.StatusEvery > 0 {
		r := &reporter{clock: p.clock, enc: p.enc, qs: []*frameQueue{p.vq, p.encQ}, outs: p.outs, ad: p.ad}
		wg.Go(func() {
			r.run(p.cfg.StatusEvery, stop, func(st Status) {
				st.State, _ = p.state.Load().(string)
				st.Source = p.srcs.Status()
				p.cfg.OnStatus(st)
			})
		})
	}
	return &wg
}

// outputsErr is nil when one output at least got through, else their
// errors.
func (p *push) outputsErr() error {
	var errs []error
	for _, o := range p.outs {
		if o.err == nil {
			return nil
		}
		errs = append(errs, o.err)
	}
	if len(errs) == 1 {
		return errs[0]
	}
	return errors.Join(errs...)
}
