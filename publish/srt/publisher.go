package srt

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	gosrt "github.com/datarhei/gosrt"

	"github.com/golive/golive/media"
	"github.com/golive/golive/publish"
)

// Config configures a Publisher.
type Config struct {
	DialConfig
	Video media.VideoConfig
	Audio *media.AudioConfig // nil: no audio
	// TimeOffset is added to every timestamp so that none is negative (the
	// AAC encoder's first packet is before zero by its priming delay).
	TimeOffset time.Duration
	// QueueBudget is how much media time may wait for the network before
	// video is dropped up to the next keyframe (3 s when zero).
	QueueBudget time.Duration
	// DrainTimeout bounds the sending of what is queued, and its
	// acknowledgement, at a clean stop (3 s when zero).
	DrainTimeout time.Duration
	Clock        *media.Clock
	// Keyframes is asked for a keyframe after video was dropped, and at
	// every new session.
	Keyframes media.KeyframeRequester
	// Reconnect: what to do when the connection drops after going live.
	Reconnect publish.Reconnect
	// OnLive is told when the connection is lost (false) and back (true).
	OnLive func(live bool)
}

// Stats are the sender's counters (publish.Stats, shared by every protocol).
type Stats = publish.Stats

// Publisher sends packets to one SRT listener. WritePacket never blocks:
// packets wait in a queue bounded in media time, which one goroutine (Run)
// muxes into MPEG-TS and sends, one 1316-byte chunk per SRT message.
type Publisher struct {
	cfg   Config
	log   *slog.Logger
	sess  publish.Sessions[conn]
	queue *publish.Queue

	bytes, packets atomic.Int64
	latency        publish.Latency

	// Run's goroutine: the stream's rate, and the pacing of a session.
	input inputMeter
	pace  pacer
}

// Dial connects to cfg.URL; it fails fast (within cfg.Timeout) with
// publish.ErrConnect, ErrUnauthorized (the listener rejected the stream id
// or the passphrase) or ErrBadURL — unless cfg.Reconnect.Wait, when it
// retries as after an outage.
func Dial(ctx context.Context, cfg Config) (*Publisher, error) {
	if cfg.DrainTimeout <= 0 {
		cfg.DrainTimeout = 3 * time.Second
	}
	if cfg.Bitrate <= 0 {
		cfg.Bitrate = defaultBitrate
	}
	if cfg.Clock == nil {
		return nil, errors.New("srt: Config.Clock is required")
	}
	if cfg.Video.Codec != media.CodecH264 {
		return nil, fmt.Errorf("srt: video codec %v: MPEG-TS here carries H.264", cfg.Video.Codec)
	}
	if cfg.Audio != nil && cfg.Audio.Codec != media.CodecAAC {
		return nil, fmt.Errorf("srt: audio codec %v: MPEG-TS here carries AAC", cfg.Audio.Codec)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.Logger = cfg.Logger.With("component", "publish.srt")
	p := &Publisher{cfg: cfg, log: cfg.Logger, queue: publish.NewQueue(cfg.QueueBudget, cfg.Keyframes, cfg.Logger)}
	p.sess = publish.Sessions[conn]{
		Reconnect: cfg.Reconnect, Queue: p.queue, Log: p.log, OnLive: cfg.OnLive,
		Dial: func(ctx context.Context, timeout time.Duration) (*conn, error) {
			d := cfg.DialConfig
			d.Timeout = publish.AttemptTimeout(d.Timeout, timeout)
			return dial(ctx, d)
		},
		Session: p.session,
		Close:   func(c *conn, _ bool) { c.close() },
	}
	if err := p.sess.Open(ctx); err != nil {
		return nil, err
	}
	c := p.sess.Conn()
	p.log.Info("publishing", "url", c.target.String(), "handshake", time.Since(c.started).Round(time.Millisecond))
	return p, nil
}

// WritePacket queues p for sending. It never blocks. When the queue holds
// more than QueueBudget of media time, queued video is dropped, video waits
// for the next keyframe (one is requested) and, if that is not enough, the
// oldest audio goes.
func (p *Publisher) WritePacket(pkt *media.Packet) error {
	p.queue.Push(pkt)
	return nil
}

// Finish says no more packets will come: Run sends what is queued (for at
// most DrainTimeout), waits for it to be acknowledged, closes the
// connection and returns nil.
func (p *Publisher) Finish() { p.queue.Finish() }

// Run muxes and sends queued packets until Finish (clean end, nil) or ctx
// is done (ctx.Err()). A connection that drops is reconnected under
// cfg.Reconnect (capture and encoding go on meanwhile; the queue keeps the
// newest seconds), and the new session starts a new TS (tables, parameter
// sets) on a keyframe. Run fails only when that gives up, or the listener
// rejects the new connection.
func (p *Publisher) Run(ctx context.Context) error { return p.sess.Run(ctx) }

// session sends on c until Finish (nil) or an error. The muxer writes
// straight to c: each 1316-byte chunk is one SRT message.
func (p *Publisher) session(ctx context.Context, c *conn) (err error) {
	p.pace = pacer{}
	mx, err := newMuxer(sink{c, p}, p.cfg)
	if err != nil {
		return err
	}
	defer mx.Close() // after an error: frees it
	for {
		pkt, stop := p.queue.Next(p.cfg.DrainTimeout)
		if stop {
			// The trailer pushes out what the muxer holds; then the
			// receiver must acknowledge it all before the connection
			// closes, as gosrt's Close drops what is unacknowledged.
			if err := mx.Close(); err != nil {
				return c.lost(err)
			}
			c.drain(time.Now().Add(p.cfg.DrainTimeout))
			return nil
		}
		if pkt != nil {
			if err := p.send(mx, pkt); err != nil {
				return c.lost(err)
			}
			continue
		}
		select {
		case <-p.queue.Wake():
		case <-ctx.Done():
			return ctx.Err()
		case <-c.done:
			return c.lost(errors.New("connection ended"))
		}
	}
}

// send muxes pkt. A keyframe from an encoder reopened at another size
// carries its parameter sets in band, as every keyframe does in TS.
func (p *Publisher) send(mx muxer, pkt *media.Packet) error {
	p.input.add(pkt.PTS, len(pkt.Data))
	if err := mx.WritePacket(pkt); err != nil {
		return err
	}
	p.packets.Add(1)
	if pkt.Kind == media.KindVideo {
		p.latency.Record(time.Since(p.cfg.Clock.At(pkt.PTS)))
	}
	return nil
}

// sink is what a session's muxer writes to: the connection, paced and
// counted.
type sink struct {
	c *conn
	p *Publisher
}

func (s sink) Write(b []byte) (int, error) {
	if wait := s.p.pace.take(time.Now(), len(b), s.p.paceRate()); wait > 0 {
		if err := s.c.sleep(wait); err != nil {
			return 0, err
		}
	}
	n, err := s.c.Write(b)
	s.p.bytes.Add(int64(n))
	return n, err
}

// paceRate is the rate the pacer spreads a session's messages at: a
// multiple of the stream's measured rate, or of its configured bitrate
// until the rate is measured.
func (p *Publisher) paceRate() int {
	in := p.input.rate()
	if in == 0 {
		in = p.cfg.Bitrate
	}
	return paceRate(in)
}

// Shed drops the queued video up to a new keyframe (which it requests):
// for when the link cannot carry even the minimum bitrate.
func (p *Publisher) Shed() { p.queue.Restart() }

// Stats returns a snapshot of the counters. Bytes are the TS bytes handed
// to SRT (without SRT/UDP/IP headers); Unsent the part of them in SRT's
// send buffer that the receiver has not acknowledged; RTT SRT's smoothed
// round trip; Loss the fraction of what was sent in the last second that
// was sent again (SRT's send loss rate). EstimateBitrate stays 0: SRT's
// link capacity estimate (packet pairs) is a capacity, not what the path
// carries now, and abr would follow it instead of the queue.
func (p *Publisher) Stats() Stats {
	s := Stats{
		Bytes: p.bytes.Load(), Packets: p.packets.Load(), Sessions: p.sess.Count(),
		LatencyP50: p.latency.Quantile(0.5), LatencyP99: p.latency.Quantile(0.99), LatencyMax: p.latency.Max(),
	}
	if c := p.sess.Conn(); c != nil {
		var st gosrt.Statistics
		c.stats(&st)
		s.Unsent = int(st.Instantaneous.ByteSendBuf)
		s.RTT = time.Duration(st.Instantaneous.MsRTT * float64(time.Millisecond))
		s.Loss = min(max(st.Instantaneous.PktSendLossRate/100, 0), 1)
	}
	p.queue.FillStats(&s)
	return s
}

// LinkCapacity is SRT's estimate of the path's capacity in bit/s (from
// packet pairs; 0 before the receiver reported one), for logs.
func (p *Publisher) LinkCapacity() int {
	var st gosrt.Statistics
	p.sess.Conn().stats(&st)
	return int(st.Instantaneous.MbpsLinkCapacity * 1024 * 1024)
}

// Close drops the connection without waiting for what is unacknowledged
// (Run drains it on a clean stop). Idempotent.
func (p *Publisher) Close() { p.sess.Conn().close() }
