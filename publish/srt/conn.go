package srt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	gosrt "github.com/datarhei/gosrt"

	"github.com/golive/golive/publish"
)

// DialConfig says where and how to connect.
type DialConfig struct {
	URL string
	// Timeout bounds the handshake, its retries included (5 s when zero;
	// the URL's conntimeo overrides it).
	Timeout time.Duration
	// PeerIdleTimeout: a connection from which nothing (no ACK, no
	// keepalive) arrives for this long is lost (3 s when zero; libsrt's
	// default is 5 s; the URL's peeridletimeo overrides it).
	PeerIdleTimeout time.Duration
	// Bitrate of the stream (bit/s), to size how much may be in flight
	// unacknowledged (0: 2.5 Mbit/s).
	Bitrate int
	Logger  *slog.Logger
}

const (
	defaultTimeout     = 5 * time.Second
	defaultPeerIdle    = 3 * time.Second
	defaultBitrate     = 2_500_000
	firstAttemptWindow = time.Second
	// The payload of one SRT message: seven 188-byte TS packets, the size
	// every SRT receiver expects (libsrt's live mode default).
	chunkSize = 7 * 188
)

// conn is one SRT connection, handshake done.
type conn struct {
	cfg    DialConfig
	target Target
	c      gosrt.Conn
	log    *slog.Logger
	// window: the most bytes that may ever wait in the send buffer,
	// unacknowledged, before write waits; flight (the sender's goroutine)
	// the window now (see write).
	window int
	flight flight
	sent   int64 // bytes written (the sender's goroutine)

	failed   error         // the first failed Write (the sender's goroutine)
	done     chan struct{} // closed when the connection has ended
	doneErr  error         // why, once done is closed
	closeOne sync.Once
	started  time.Time
}

// dial connects to cfg.URL. gosrt sends its handshake's first packet once
// and then waits its whole connection timeout, so a lost packet (or a
// listener that is just starting) would cost all of it: the handshake is
// tried again with growing timeouts (1 s, 1.5 s, …) within cfg.Timeout.
func dial(ctx context.Context, cfg DialConfig) (*conn, error) {
	t, err := ParseURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	if t.ConnectTimeout > 0 {
		cfg.Timeout = t.ConnectTimeout
	}
	if t.PeerIdleTimeout > 0 {
		cfg.PeerIdleTimeout = t.PeerIdleTimeout
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = defaultTimeout
	}
	if cfg.PeerIdleTimeout <= 0 {
		cfg.PeerIdleTimeout = defaultPeerIdle
	}
	if cfg.Bitrate <= 0 {
		cfg.Bitrate = defaultBitrate
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	sc := gosrt.DefaultConfig()
	sc.StreamId = t.StreamID
	sc.Passphrase = t.Passphrase
	if t.PBKeyLen != 0 {
		sc.PBKeylen = t.PBKeyLen
	}
	if t.Latency > 0 {
		sc.Latency = t.Latency
	}
	sc.PeerIdleTimeout = cfg.PeerIdleTimeout
	// 1316-byte messages are what receivers expect; gosrt would otherwise
	// pack a write into 1456-byte payloads.
	sc.PayloadSize = chunkSize
	sc.Logger = newLogger(cfg.Logger)
	if err := sc.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", publish.ErrBadURL, t, err)
	}

	deadline := time.Now().Add(cfg.Timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	window := firstAttemptWindow
	var last error
	for attempt := 1; ; attempt++ {
		left := time.Until(deadline)
		if left <= 0 {
			break
		}
		sc.ConnectionTimeout = min(window, left)
		window = window * 3 / 2
		start := time.Now()
		c, err := gosrt.Dial("srt", t.Addr(), sc)
		if err == nil {
			cn := &conn{cfg: cfg, target: t, c: c, log: cfg.Logger, done: make(chan struct{}), started: time.Now(),
				window: inflightWindow(cfg.Bitrate)}
			go cn.watch()
			cfg.Logger.Debug("srt connected", "url", t.String(), "handshake", time.Since(start).Round(time.Millisecond), "attempts", attempt)
			return cn, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		last = err
		if !isTimeout(err) {
			return nil, dialError(t, err)
		}
	}
	if last == nil || isTimeout(last) {
		return nil, fmt.Errorf("%w: %s: no answer within %v (is a listener running there?)", publish.ErrConnect, t, cfg.Timeout)
	}
	return nil, dialError(t, last)
}

// inflightWindow is the most bytes that may ever wait unacknowledged in
// SRT's send buffer: half a second of the stream, at least 512 KiB (a
// keyframe and the round trip of a long path). The window in use is
// usually far smaller: what the path delivers in its round trip plus half
// the receiver's latency (see flight). Past it the sender waits, and
// packets wait in publish.Queue instead, where they count as queue delay
// and may be dropped up to a keyframe — as a full TCP socket does for
// RTMP. SRT's live mode alone never waits: on a link narrower than the
// stream it sends everything, and what does not fit is lost and dropped
// after the latency, with nothing upstream to slow down.
func inflightWindow(bitrate int) int {
	return max(512<<10, bitrate/8/2)
}

func isTimeout(err error) bool {
	return strings.Contains(err.Error(), "connection timeout")
}

// rejectReason extracts the listener's rejection reason from gosrt's
// error, "connection rejected: REJECT (xx)", where xx is the handshake
// type in base 32: 1000 + the reason (SRT_REJ_* below 1000, then the
// access-control codes 1000 + an HTTP-like status, SRT_REJX_*).
func rejectReason(err error) (int, bool) {
	s := err.Error()
	i := strings.Index(s, "REJECT (")
	if i < 0 {
		return 0, false
	}
	s = s[i+len("REJECT ("):]
	j := strings.IndexByte(s, ')')
	if j < 0 {
		return 0, false
	}
	n, perr := strconv.ParseUint(s[:j], 32, 32)
	if perr != nil || n < 1000 {
		return 0, false
	}
	return int(n - 1000), true
}

// dialError maps a failed handshake to the errors callers act on.
func dialError(t Target, err error) error {
	reason, ok := rejectReason(err)
	if !ok {
		return fmt.Errorf("%w: %s: %v", publish.ErrConnect, t, err)
	}
	why := rejectText(reason)
	switch reason {
	case rejBadSecret, rejUnsecure, rejPeer, 1000 + 401, 1000 + 403, 1000 + 404:
		return fmt.Errorf("%w: %s: listener rejected the connection: %s", publish.ErrUnauthorized, t, why)
	case 1000 + 409:
		return fmt.Errorf("%w: %w: %s: listener rejected the connection: %s", publish.ErrUnauthorized, publish.ErrBusy, t, why)
	}
	return fmt.Errorf("%w: %s: listener rejected the connection: %s", publish.ErrConnect, t, why)
}

// libsrt's rejection reasons (srt.h, SRT_REJ_*) that callers tell apart.
const (
	rejPeer      = 2  // the listener's application rejected us (its stream id check)
	rejBadSecret = 10 // wrong passphrase
	rejUnsecure  = 11 // one side has a passphrase, the other none
)

func rejectText(reason int) string {
	switch reason {
	case rejPeer:
		return "refused by the server (stream id not accepted?)"
	case rejBadSecret:
		return "wrong passphrase"
	case rejUnsecure:
		return "encryption mismatch: the listener wants a passphrase, or has none while the URL gives one"
	case 1: // SRT_REJ_SYSTEM
		return "the listener's system failed"
	case 3: // SRT_REJ_RESOURCE
		return "the listener is out of resources"
	case 5: // SRT_REJ_BACKLOG
		return "the listener's backlog is full"
	case 8: // SRT_REJ_VERSION
		return "SRT version too old for the listener"
	case 12: // SRT_REJ_MESSAGEAPI
		return "message API mismatch"
	case 13: // SRT_REJ_CONGESTION
		return "congestion control mismatch (the listener is not in live mode?)"
	case 1000 + 400:
		return "bad request (stream id malformed?)"
	case 1000 + 401:
		return "unauthorized (stream id or credentials)"
	case 1000 + 403:
		return "forbidden (stream id not allowed to publish)"
	case 1000 + 404:
		return "stream id not found"
	case 1000 + 409:
		return "stream already being published"
	case 1000 + 503:
		return "service unavailable"
	}
	if reason >= 1000 && reason < 2000 {
		return "status " + strconv.Itoa(reason-1000)
	}
	return "reason " + strconv.Itoa(reason)
}

// watch waits for the connection's end. The caller only sends; gosrt's
// Read returns once the connection is closed, for any reason: the peer's
// shutdown, the peer idle timeout, a socket error (a listener that went
// away answers with ICMP port unreachable), or our Close.
func (c *conn) watch() {
	buf := make([]byte, 1500)
	var err error
	for err == nil {
		_, err = c.c.Read(buf)
	}
	if errors.Is(err, io.EOF) {
		err = errors.New("connection closed by the peer, or nothing heard from it for " + c.cfg.PeerIdleTimeout.String())
	}
	c.doneErr = err
	close(c.done)
}

// lost is the error of a connection that ended, for the reconnect loop:
// the first failed Write's, else why the connection ended, else err.
func (c *conn) lost(err error) error {
	if c.failed != nil {
		return c.failed
	}
	select {
	case <-c.done:
		err = c.doneErr
	default:
	}
	return fmt.Errorf("%w: %s: %w", publish.ErrLost, c.target, err)
}

// Write sends p (one chunk) as one SRT message. It waits while the send
// buffer holds more than the window unacknowledged, and while gosrt's
// write queue (1024 packets, filled by a burst) is full; it fails once
// the connection has ended.
func (c *conn) Write(p []byte) (int, error) {
	n, err := c.write(p)
	if err != nil && c.failed == nil {
		c.failed = err
	}
	return n, err
}

func (c *conn) write(p []byte) (int, error) {
	var s gosrt.Statistics
	for {
		select {
		case <-c.done:
			return 0, c.lost(errors.New("connection ended"))
		default:
		}
		c.c.Stats(&s)
		unacked := int(s.Instantaneous.ByteSendBuf)
		w := c.flight.window(time.Now(), c.sent-int64(unacked), time.Duration(s.Instantaneous.MsRTT*float64(time.Millisecond)),
			time.Duration(s.Instantaneous.MsSendTsbPdDelay)*time.Millisecond, c.cfg.Bitrate, c.window)
		if unacked <= w {
			break
		}
		if err := c.pause(); err != nil {
			return 0, err
		}
	}
	for {
		n, err := c.c.Write(p)
		if err == nil {
			c.sent += int64(n)
			return n, nil
		}
		// io.EOF: closed, or the write queue is full; done tells which.
		if !errors.Is(err, io.EOF) {
			return 0, c.lost(err)
		}
		if err := c.pause(); err != nil {
			return 0, err
		}
	}
}

// pause waits for gosrt's 10 ms send tick; an error if the connection
// ends meanwhile.
func (c *conn) pause() error { return c.sleep(5 * time.Millisecond) }

// sleep waits for d; an error if the connection ends meanwhile.
func (c *conn) sleep(d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-c.done:
		return c.lost(errors.New("connection ended"))
	case <-t.C:
		return nil
	}
}

// drain waits, at most until deadline, until the receiver has
// acknowledged everything sent (gosrt's Close drops what is still
// buffered), and then for the receiver's latency: it delivers what it
// received only that long after it was sent, and a libsrt receiver
// discards what it holds when the connection closes.
func (c *conn) drain(deadline time.Time) {
	var s gosrt.Statistics
	for {
		c.c.Stats(&s)
		if s.Instantaneous.ByteSendBuf == 0 {
			break
		}
		if !time.Now().Before(deadline) {
			c.log.Warn("stopping with data not yet acknowledged", "bytes", s.Instantaneous.ByteSendBuf)
			return
		}
		if c.pause() != nil {
			return
		}
	}
	linger := time.Duration(s.Instantaneous.MsSendTsbPdDelay)*time.Millisecond + 2*time.Duration(s.Instantaneous.MsRTT*float64(time.Millisecond)) + 20*time.Millisecond
	t := time.NewTimer(min(linger, time.Until(deadline)))
	defer t.Stop()
	select {
	case <-t.C:
	case <-c.done:
	}
}

// stats fills s with the connection's statistics.
func (c *conn) stats(s *gosrt.Statistics) { c.c.Stats(s) }

// close ends the connection (gosrt sends the peer a shutdown) and waits
// for its watcher. Idempotent; nil-safe.
func (c *conn) close() {
	if c == nil {
		return
	}
	c.closeOne.Do(func() {
		c.c.Close()
		<-c.done
	})
}

// logger passes gosrt's messages on connection ends and errors to slog
// at debug level. Handshake dumps (which hold the stream id) are never
// asked for.
type logger struct {
	log *slog.Logger
	ch  chan gosrt.Log
}

func newLogger(l *slog.Logger) gosrt.Logger { return logger{log: l, ch: make(chan gosrt.Log)} }

func (l logger) HasTopic(topic string) bool {
	return topic == "connection:close" || topic == "connection:error" || topic == "handshake:recv:error"
}

func (l logger) Print(topic string, socketID uint32, skip int, message func() string) {
	if !l.HasTopic(topic) {
		return
	}
	l.log.Debug("gosrt: "+message(), "topic", topic)
}

func (l logger) Listen() <-chan gosrt.Log { return l.ch }
func (l logger) Close()                   {}
