package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golive/golive/internal/abr"
	"github.com/golive/golive/internal/status"
	"github.com/golive/golive/media"
	"github.com/golive/golive/publish"
	"github.com/golive/golive/publish/record"
	"github.com/golive/golive/publish/rtmp"
	"github.com/golive/golive/publish/srt"
	"github.com/golive/golive/publish/whip"
)

// Output kinds, as Status.Destinations names them.
const (
	KindRTMP   = "rtmp"
	KindWHIP   = "whip"
	KindSRT    = "srt"
	KindRecord = "record"
)

// sender is an output as the pipeline drives it: RTMP, WHIP, SRT or the
// recording. WritePacket never blocks; Run sends until Finish (nil) or
// gives up; Close drops everything without ceremony.
type sender interface {
	media.PacketWriter
	Run(ctx context.Context) error
	Finish()
	Stats() publish.Stats
	Shed()
	Close()
}

// output is one destination and what it needs from the encoders: the
// audio codec, the video rate-control buffer, the bitrate to start at.
type output struct {
	kind, url string
	name      string // for logs, /status and /metrics: never the key
	acodec    media.Codec
	vbv       time.Duration // 0: no preference
	// network: the adaptive bitrate follows it (a recording never waits
	// for the network and does not vote).
	network bool

	mu    sync.Mutex
	s     sender // nil until connected
	link  *abr.LinkState
	state atomic.Value // StateStarting, StateLive, StateReconnecting, StateStopped
	err   error        // why it stopped for good (nil: it did not, or cleanly)
	// keyframes is where its sender asks for keyframes.
	keyframes media.KeyframeRequester
	// finishing is closed when the encoders have flushed: no more packets.
	finishing  chan struct{}
	finishOnce sync.Once
}

// URLKind is the protocol a destination URL speaks: KindWHIP, KindSRT or
// KindRTMP (protocol, --protocol, forces rtmp or whip; "" or auto: the
// URL's scheme says).
func URLKind(u, protocol string) string {
	switch {
	case protocol == KindRTMP:
		return KindRTMP
	case whip.IsWHIP(u, protocol):
		return KindWHIP
	case strings.EqualFold(scheme(u), "srt"):
		return KindSRT
	}
	return KindRTMP
}

// scheme is what comes before "://" in u.
func scheme(u string) string {
	s, _, _ := strings.Cut(u, "://")
	return s
}

// planOutputs turns the configuration's destinations into outputs, each
// with its needs. A URL that cannot be used fails here, before anything
// is opened.
func planOutputs(cfg Config) ([]*output, error) {
	urls := cfg.URLs
	if cfg.URL != "" {
		urls = append([]string{cfg.URL}, urls...)
	}
	var outs []*output
	seen := map[string]bool{}
	for _, u := range urls {
		o := newOutput(URLKind(u, cfg.Protocol), u)
		o.network = true
		switch o.kind {
		case KindWHIP:
			if _, err := whip.Endpoint(u, true); err != nil {
				return nil, err
			}
			// WebRTC takes Opus at 48 kHz, and half a second of VBV: UDP
			// has no send buffer, and the bottleneck's queue is short.
			o.acodec, o.vbv = media.CodecOpus, 500*time.Millisecond
		case KindSRT:
			if _, err := srt.ParseURL(u); err != nil {
				return nil, err
			}
			o.acodec, o.vbv = media.CodecAAC, time.Second
		default:
			if _, err := rtmp.ParseURL(u); err != nil {
				return nil, err
			}
			// The platforms' one second of VBV.
			o.acodec, o.vbv = media.CodecAAC, time.Second
		}
		o.name = o.kind + "://" + status.StreamID(u)
		if seen[u] {
			return nil, fmt.Errorf("%w: %s given twice", publish.ErrBadURL, o.name)
		}
		seen[u] = true
		outs = append(outs, o)
	}
	if cfg.Record != "" {
		if err := record.CheckPath(cfg.Record); err != nil {
			return nil, err
		}
		o := newOutput(KindRecord, cfg.Record)
		o.name, o.acodec = "record", media.CodecAAC
		outs = append(outs, o)
	}
	if len(outs) == 0 {
		return nil, fmt.Errorf("%w: no destination (a URL or --record)", publish.ErrBadURL)
	}
	return outs, nil
}

// newOutput is an output of kind to url, starting.
func newOutput(kind, url string) *output {
	o := &output{kind: kind, url: url, finishing: make(chan struct{})}
	o.state.Store(StateStarting)
	return o
}

// sender returns the output's sender (nil while it connects).
func (o *output) sender() sender {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.s
}

// WritePacket hands p to the sender once connected; before that (and after
// it stopped for good) the packet is not for this output.
func (o *output) WritePacket(p *media.Packet) error {
	if s := o.sender(); s != nil {
		return s.WritePacket(p)
	}
	return nil
}

func (o *output) State() string { s, _ := o.state.Load().(string); return s }

// stats is the sender's, or zero while it connects.
func (o *output) stats() publish.Stats {
	if s := o.sender(); s != nil {
		return s.Stats()
	}
	return publish.Stats{}
}

// Stats and Shed make o an abr.Link.
func (o *output) Stats() publish.Stats { return o.stats() }

func (o *output) Shed() {
	if s := o.sender(); s != nil {
		s.Shed()
	}
}

// outputEnv is what every output is opened with: the encoders' streams,
// the clock, the keyframe requester and the configuration.
type outputEnv struct {
	cfg    Config
	video  media.VideoConfig
	audio  map[media.Codec]media.AudioConfig
	est    int // WebRTC's first bandwidth estimate
	clock  *media.Clock
	log    *slog.Logger
	onLive func(o *output, live bool)
}

// dial connects o (within cfg.ConnectTimeout; with cfg.Reconnect.Wait,
// until it can) and makes its sender.
func (e *outputEnv) dial(ctx context.Context, o *output) (sender, error) {
	cfg, p := e.cfg, e.cfg.Preset
	a := e.audio[o.acodec]
	onLive := func(live bool) { e.onLive(o, live) }
	keyframes := o.keyframes
	log := e.log.With("dest", o.name)
	switch o.kind {
	case KindWHIP:
		return whip.Dial(ctx, whip.Config{
			URL: o.url, AsWHIP: true, Token: cfg.Token, ICEServers: cfg.ICEServers,
			Timeout: cfg.ConnectTimeout, Video: e.video, Audio: &a,
			MinBitrate: p.Video.MinBitrate, MaxBitrate: p.Video.MaxBitrate, InitialEstimate: e.est,
			Clock: e.clock, Keyframes: keyframes, Logger: log, UserAgent: "golive/" + cfg.Version,
			Reconnect: cfg.Reconnect, OnLive: onLive,
		})
	case KindSRT:
		return srt.Dial(ctx, srt.Config{
			DialConfig: srt.DialConfig{URL: o.url, Timeout: cfg.ConnectTimeout, Bitrate: p.Video.Bitrate + a.Bitrate, Logger: log},
			Video:      e.video, Audio: &a, TimeOffset: a.Delay,
			Clock: e.clock, Keyframes: keyframes, Reconnect: cfg.Reconnect, OnLive: onLive,
		})
	case KindRecord:
		return record.Open(record.Config{
			Path: o.url, Segment: cfg.RecordSegment, Video: e.video, Audio: &a, TimeOffset: a.Delay, Logger: log,
		})
	}
	return rtmp.Dial(ctx, rtmp.Config{
		DialConfig: rtmp.DialConfig{
			URL: o.url, CAFile: cfg.CAFile, InsecureTLS: cfg.InsecureTLS,
			Timeout: cfg.ConnectTimeout, Bitrate: p.Video.Bitrate + a.Bitrate, Logger: log,
		},
		Video: e.video, Audio: &a, TimeOffset: a.Delay,
		Clock: e.clock, Keyframes: keyframes, Encoder: "golive " + cfg.Version,
		Reconnect: cfg.Reconnect, OnLive: onLive,
	})
}

// connect dials o and installs its sender. One output alone fails the push
// when it cannot connect (a typo, a refused key: exit at once, nothing went
// live); among several, or beside a recording, an output that cannot be
// reached yet keeps trying in the background as after an outage, so that
// the others (and the recording) start now.
func (e *outputEnv) connect(ctx context.Context, o *output, alone bool) error {
	if !alone && !e.cfg.Reconnect.Wait && e.cfg.Reconnect.Max >= 0 {
		c := *e
		c.cfg.Reconnect.Wait = true
		e = &c
	}
	s, err := e.dial(ctx, o)
	if err != nil {
		return fmt.Errorf("%s: %w", o.name, err)
	}
	o.mu.Lock()
	o.s = s
	o.mu.Unlock()
	o.state.Store(StateLive)
	return nil
}

// finish ends o's stream once the encoders have flushed: a connected
// sender sends what is queued and ends politely (one still connecting
// gives up: its dial ends with the run).
func (o *output) finish() {
	o.finishOnce.Do(func() { close(o.finishing) })
	if s := o.sender(); s != nil {
		s.Finish()
	}
}

// close drops o's sender, if any.
func (o *output) close() {
	if s := o.sender(); s != nil {
		s.Close()
	}
}

// fanOut hands every packet to each output. Outputs are fixed at start;
// an output that is not connected (yet, or any more) ignores packets.
type fanOut []media.PacketWriter

func (f fanOut) WritePacket(p *media.Packet) error {
	var errs []error
	for _, d := range f {
		if err := d.WritePacket(p); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("pipeline: %w", errors.Join(errs...))
	}
	return nil
}

// keyframeGate passes one destination's keyframe requests to the shared
// encoder at most once per gap: with several destinations, one that
// reconnects or sheds again and again must not flood the others' streams
// with keyframes. A request within the gap is not lost but deferred to its
// end (several become one); RequestKeyframeNow, a WHIP session's start,
// passes at once. The encoder's RequestKeyframe only sets a flag: a
// deferred request after it closed is harmless.
type keyframeGate struct {
	to      media.KeyframeRequester
	gap     time.Duration
	mu      sync.Mutex
	last    time.Time
	pending bool
	timer   *time.Timer // the deferred request, while pending
}

func (g *keyframeGate) RequestKeyframe() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.pending {
		return
	}
	wait := g.gap - time.Since(g.last)
	if wait <= 0 {
		g.last = time.Now()
		g.to.RequestKeyframe()
		return
	}
	g.pending = true
	var t *time.Timer
	t = time.AfterFunc(wait, func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.timer != t {
			return // RequestKeyframeNow answered it
		}
		g.pending, g.timer = false, nil
		g.last = time.Now()
		g.to.RequestKeyframe()
	})
	g.timer = t
}

// RequestKeyframeNow passes a request at once, whatever the gap: for the
// one request a WHIP session makes at its start, when its endpoint has
// begun to forward and has no keyframe it can use (publish/whip). It
// answers a deferred request too, and starts a new gap.
func (g *keyframeGate) RequestKeyframeNow() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.pending {
		g.timer.Stop()
		g.pending, g.timer = false, nil
	}
	g.last = time.Now()
	g.to.RequestKeyframe()
}

// destinationNames lists the outputs' names, for the log.
func destinationNames(outs []*output) string {
	names := make([]string, len(outs))
	for i, o := range outs {
		names[i] = o.name
	}
	return strings.Join(names, " ")
}
