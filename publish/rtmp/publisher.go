package rtmp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

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
	// DrainTimeout bounds the sending of what is queued at a clean stop.
	DrainTimeout time.Duration
	Clock        *media.Clock
	// Keyframes is asked for a keyframe after video was dropped.
	Keyframes media.KeyframeRequester
	// Encoder names the software in the metadata.
	Encoder string
	// Reconnect: what to do when the connection drops after going live.
	Reconnect publish.Reconnect
	// OnLive is told when the connection is lost (false) and back (true).
	OnLive func(live bool)
}

// Stats are the sender's counters (publish.Stats, shared by every protocol).
type Stats = publish.Stats

// Publisher sends packets to one RTMP destination. WritePacket never blocks:
// packets wait in a queue bounded in media time, which one goroutine (Run)
// drains to the socket.
type Publisher struct {
	cfg   Config
	log   *slog.Logger
	sess  publish.Sessions[conn]
	queue *publish.Queue

	bytes, packets atomic.Int64
	sessions       atomic.Int64
	lastTS         uint32 // FLV time of the last packet sent (Run's goroutine)
	latency        publish.Latency
}

// Dial connects to cfg.URL and starts publishing; it fails fast (within
// cfg.Timeout) with publish.ErrConnect, ErrUnauthorized or ErrBadURL —
// unless cfg.Reconnect.Wait, when it retries as after an outage.
func Dial(ctx context.Context, cfg Config) (*Publisher, error) {
	if cfg.DrainTimeout <= 0 {
		cfg.DrainTimeout = 3 * time.Second
	}
	if cfg.Clock == nil {
		return nil, errors.New("rtmp: Config.Clock is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.Logger = cfg.Logger.With("component", "publish.rtmp")
	p := &Publisher{cfg: cfg, log: cfg.Logger, queue: publish.NewQueue(cfg.QueueBudget, cfg.Keyframes, cfg.Logger)}
	p.sess = publish.Sessions[conn]{
		Reconnect: cfg.Reconnect, Queue: p.queue, Log: p.log, OnLive: cfg.OnLive,
		Dial: func(ctx context.Context, timeout time.Duration) (*conn, error) {
			d := cfg.DialConfig
			d.Timeout = publish.AttemptTimeout(d.Timeout, timeout)
			return dial(ctx, d)
		},
		Session: p.session,
		Close:   func(c *conn, clean bool) { c.close(clean) },
	}
	if err := p.sess.Open(ctx); err != nil {
		return nil, err
	}
	c := p.sess.Conn()
	p.log.Info("publishing", "url", c.target.String(), "chunk_size", c.cfg.ChunkSize)
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
// most DrainTimeout), ends the publish and returns nil.
func (p *Publisher) Finish() { p.queue.Finish() }

// Run sends the metadata and sequence headers, then queued packets, until
// Finish (clean end, nil) or ctx is done (ctx.Err()). A connection that
// drops is reconnected under cfg.Reconnect (capture and encoding go on
// meanwhile; the queue keeps the newest seconds); Run fails only when that
// gives up, or the server refuses the new publish.
func (p *Publisher) Run(ctx context.Context) error { return p.sess.Run(ctx) }

// session publishes on c until Finish (nil) or an error.
func (p *Publisher) session(ctx context.Context, c *conn) error {
	if err := p.sendHeaders(c); err != nil {
		return p.netErr(c, err)
	}
	for {
		pkt, stop := p.queue.Next(p.cfg.DrainTimeout)
		if stop {
			return nil
		}
		if pkt != nil {
			if err := p.send(c, pkt); err != nil {
				return p.netErr(c, err)
			}
			continue
		}
		select {
		case <-p.queue.Wake():
		case <-ctx.Done():
			return ctx.Err()
		case err := <-c.readErr:
			return p.netErr(c, err)
		}
	}
}

func (p *Publisher) netErr(c *conn, err error) error {
	if errors.Is(err, publish.ErrUnauthorized) {
		return err
	}
	// A write that fails right after the start is the same refusal the
	// reader sees (nginx closes the connection after Publish.Start).
	if time.Since(c.started) < refusalWindow {
		select {
		case rerr := <-c.readErr:
			if errors.Is(rerr, publish.ErrUnauthorized) {
				return rerr
			}
		case <-time.After(500 * time.Millisecond):
		}
	}
	return fmt.Errorf("%w: %s: %w", publish.ErrLost, c.target, cause(err))
}

// sendHeaders sends the metadata and sequence headers, stamped with the
// last packet's time so that a new session's timestamps never go back.
func (p *Publisher) sendHeaders(c *conn) error {
	if err := c.writeMetadata(metadata(p.cfg.Video, p.cfg.Audio, p.cfg.Encoder)); err != nil {
		return err
	}
	var hdr [5]byte
	ts := p.lastTS
	if err := c.write(csidVideo, typeVideo, c.streamID, ts, videoHeader(hdr[:0], true, avcSeqHeader, 0), p.cfg.Video.Record); err != nil {
		return err
	}
	if a := p.cfg.Audio; a != nil {
		if err := c.write(csidAudio, typeAudio, c.streamID, ts, audioHeader(hdr[:0], aacSeqHeader), a.ASC); err != nil {
			return err
		}
	}
	return nil
}

// flvTime maps a pipeline time to FLV milliseconds. They wrap after 2³²
// ms (49.7 days), as RTMP timestamps do: a kiosk streams for months.
func (p *Publisher) flvTime(d time.Duration) uint32 {
	ms := (d + p.cfg.TimeOffset + time.Millisecond/2) / time.Millisecond
	if ms < 0 {
		return 0
	}
	return uint32(uint64(ms)) // modulo 2³²
}

func (p *Publisher) send(c *conn, pkt *media.Packet) error {
	var hdr [5]byte
	var n int
	var err error
	ts := p.flvTime(pkt.DTS)
	p.lastTS = ts
	if pkt.Kind == media.KindVideo && pkt.Keyframe && pkt.Config != nil && !bytes.Equal(pkt.Config.Record, p.cfg.Video.Record) {
		// The encoder was reopened at another size: new metadata and
		// sequence header before its first keyframe (later sessions
		// start with them too).
		p.cfg.Video = *pkt.Config
		if err := p.sendHeaders(c); err != nil {
			return err
		}
	}
	switch pkt.Kind {
	case media.KindVideo:
		n, err = c.writeN(csidVideo, typeVideo, c.streamID, ts, videoHeader(hdr[:0], pkt.Keyframe, avcNALU, compositionTime(pkt)), pkt.Data)
		if err == nil {
			p.latency.Record(time.Since(p.cfg.Clock.At(pkt.PTS)))
		}
	case media.KindAudio:
		n, err = c.writeN(csidAudio, typeAudio, c.streamID, ts, audioHeader(hdr[:0], aacRaw), pkt.Data)
	default:
		return nil
	}
	p.bytes.Add(int64(n))
	if err != nil {
		return err
	}
	p.packets.Add(1)
	return nil
}

// Shed drops the queued video up to a new keyframe (which it requests):
// for when the link cannot carry even the minimum bitrate.
func (p *Publisher) Shed() { p.queue.Restart() }

// Stats returns a snapshot of the counters.
func (p *Publisher) Stats() Stats {
	s := Stats{
		Bytes: p.bytes.Load(), Packets: p.packets.Load(), Sessions: p.sess.Count(),
		Unsent:     p.sess.Conn().unsent(),
		LatencyP50: p.latency.Quantile(0.5), LatencyP99: p.latency.Quantile(0.99), LatencyMax: p.latency.Max(),
	}
	p.queue.FillStats(&s)
	return s
}

// Close drops the connection without ceremony (Run ends the publish
// politely on a clean stop). Idempotent.
func (p *Publisher) Close() { p.sess.Conn().close(false) }
