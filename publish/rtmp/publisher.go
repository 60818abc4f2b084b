package rtmp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/golive/golive/internal/stats"
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
}

// Stats are the sender's counters (publish.Stats, shared by every protocol).
type Stats = publish.Stats

// Publisher sends packets to one RTMP destination. WritePacket never blocks:
// packets wait in a queue bounded in media time, which one goroutine (Run)
// drains to the socket.
type Publisher struct {
	cfg   Config
	log   *slog.Logger
	conn  *conn
	queue *publish.Queue

	bytes, packets atomic.Int64
	latency        stats.Latency
}

// Dial connects to cfg.URL and starts publishing; it fails fast (within
// cfg.Timeout) with publish.ErrConnect, ErrUnauthorized or ErrBadURL.
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
	c, err := dial(ctx, cfg.DialConfig)
	if err != nil {
		return nil, err
	}
	p := &Publisher{cfg: cfg, log: cfg.Logger, conn: c, queue: publish.NewQueue(cfg.QueueBudget, cfg.Keyframes, cfg.Logger)}
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
// Finish (clean end, nil), ctx is done (ctx.Err()) or the connection fails.
func (p *Publisher) Run(ctx context.Context) (err error) {
	c := p.conn
	defer func() { c.close(err == nil) }()
	if err := p.sendHeaders(); err != nil {
		return p.netErr(err)
	}
	for {
		pkt, stop := p.queue.Next(p.cfg.DrainTimeout)
		if stop {
			return nil
		}
		if pkt != nil {
			if err := p.send(pkt); err != nil {
				return p.netErr(err)
			}
			continue
		}
		select {
		case <-p.queue.Wake():
		case <-ctx.Done():
			return ctx.Err()
		case err := <-c.readErr:
			return p.netErr(err)
		}
	}
}

func (p *Publisher) netErr(err error) error {
	if errors.Is(err, publish.ErrUnauthorized) {
		return err
	}
	// A write that fails right after the start is the same refusal the
	// reader sees (nginx closes the connection after Publish.Start).
	if time.Since(p.conn.started) < refusalWindow {
		select {
		case rerr := <-p.conn.readErr:
			if errors.Is(rerr, publish.ErrUnauthorized) {
				return rerr
			}
		case <-time.After(500 * time.Millisecond):
		}
	}
	return fmt.Errorf("%w: %s: connection lost: %w", publish.ErrConnect, p.conn.target, cause(err))
}

func (p *Publisher) sendHeaders() error {
	c := p.conn
	if err := c.writeMetadata(metadata(p.cfg.Video, p.cfg.Audio, p.cfg.Encoder)); err != nil {
		return err
	}
	var hdr [5]byte
	if err := c.write(csidVideo, typeVideo, c.streamID, 0, videoHeader(hdr[:0], true, avcSeqHeader, 0), p.cfg.Video.Record); err != nil {
		return err
	}
	if a := p.cfg.Audio; a != nil {
		if err := c.write(csidAudio, typeAudio, c.streamID, 0, audioHeader(hdr[:0], aacSeqHeader), a.ASC); err != nil {
			return err
		}
	}
	return nil
}

// flvTime maps a pipeline time to FLV milliseconds.
func (p *Publisher) flvTime(d time.Duration) uint32 {
	ms := (d + p.cfg.TimeOffset + time.Millisecond/2) / time.Millisecond
	if ms < 0 {
		return 0
	}
	return uint32(ms)
}

func (p *Publisher) send(pkt *media.Packet) error {
	c := p.conn
	var hdr [5]byte
	var n int
	var err error
	ts := p.flvTime(pkt.DTS)
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

// Stats returns a snapshot of the counters.
func (p *Publisher) Stats() Stats {
	s := Stats{
		Bytes: p.bytes.Load(), Packets: p.packets.Load(), Sessions: 1,
		LatencyP50: p.latency.Quantile(0.5), LatencyP99: p.latency.Quantile(0.99), LatencyMax: p.latency.Max(),
	}
	p.queue.FillStats(&s)
	return s
}

// Close drops the connection without ceremony (Run ends the publish
// politely on a clean stop). Idempotent.
func (p *Publisher) Close() { p.conn.close(false) }
