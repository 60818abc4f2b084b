// Package pipeline wires the stages: the sources, the filter, the
// encoders and the outputs, with a bounded queue at every thread boundary.
// The stages own their policy; the pipeline opens them, connects them,
// starts them and waits for them (docs/ARCHITECTURE.md draws it).
package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/golive/golive/capture"
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
	// live while any destination is, or the recording when it is alone).
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

// Run pushes until ctx is done or cfg.Duration has passed, a stage fails,
// or every output has stopped. The ends are clean stops (nil): the source
// stops, the encoders flush, and what is queued is sent (within each
// sender's drain timeout) before each publish is ended politely. An
// output that fails does not stop the others; Run returns the outputs'
// errors only when all of them failed.
//
// Every stage is opened first — the encoders, the filter, the sources, the
// outputs — so that anything wrong with them fails before going live; then
// they run, each in goroutines of its own, until the stop has gone through
// them all.
func Run(ctx context.Context, cfg Config) error {
	p, err := open(ctx, cfg)
	if p == nil {
		return err // nil: stopped (Ctrl-C) while connecting, nothing went live
	}
	defer p.close()
	return p.run(ctx)
}

// runOutput connects o if it is not yet (in the background, as after an
// outage) and sends until its stream is finished or it gives up.
func runOutput(ctx, runCtx context.Context, env *outputEnv, o *output, n int) error {
	if o.sender() == nil {
		// Dialing ends with the run (a stop, the duration).
		err := env.connect(runCtx, o, n == 1)
		if err != nil {
			if runCtx.Err() != nil {
				// The run ended before it could connect: it sent nothing.
				return fmt.Errorf("%s: %w: never connected before the stream ended", o.name, publish.ErrConnect)
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
	err := o.sender().Run(context.WithoutCancel(ctx))
	if f, ok := o.sender().(interface{ Err() error }); ok && err == nil && f.Err() != nil {
		// The recording stops on a write error without stopping the
		// stream; it has failed all the same (alone: the push's error).
		return fmt.Errorf("recording: %w", f.Err())
	}
	return err
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
// they connect, stopped when all have stopped. The network's outputs say
// it, when there are any: a recording that goes on does not make a stream
// whose destination is down live to its viewers.
func aggregateState(outs []*output) string {
	seen := map[string]bool{}
	network := slices.ContainsFunc(outs, func(o *output) bool { return o.network })
	for _, o := range outs {
		if o.network || !network {
			seen[o.State()] = true
		}
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
	// One thread for the filter's C code, as for the file source's (see
	// capture/file's Run): its buffers stay in one malloc arena.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
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
