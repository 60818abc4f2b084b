package rtmp

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	amf0 "github.com/yutopp/go-amf0"
	"github.com/yutopp/go-rtmp/handshake"
	"golang.org/x/sys/unix"

	"github.com/golive/golive/publish"
)

// DialConfig says where and how to connect.
type DialConfig struct {
	URL string
	// CAFile: PEM certificates to trust for rtmps (besides the system's).
	CAFile string
	// InsecureTLS skips certificate verification for rtmps.
	InsecureTLS bool
	// Timeout bounds the TCP connect, TLS, handshake, connect and publish
	// exchange together (10 s when zero).
	Timeout time.Duration
	// ChunkSize is our outgoing chunk size (4096 when zero).
	ChunkSize int
	// WriteTimeout: when sent data stays unacknowledged, or a write makes
	// no progress, for this long, the link is dead and the connection
	// fails (TCP_USER_TIMEOUT, and a write deadline). 8 s when zero.
	WriteTimeout time.Duration
	// Bitrate of the stream (bit/s), to size how much the kernel may hold
	// unsent (0: 2.5 Mbit/s).
	Bitrate int
	Logger  *slog.Logger
}

// conn is one RTMP session in the publishing state.
type conn struct {
	cfg      DialConfig
	target   Target
	nc       net.Conn
	raw      syscall.RawConn // the TCP socket under nc (also under TLS)
	log      *slog.Logger
	streamID uint32

	wmu sync.Mutex // one message at a time on the socket
	cw  chunkWriter
	ack struct {
		window int64 // server's window ack size
		sent   int64 // bytes read when we last acknowledged
	}
	cr *chunkReader

	readErr  chan error // the reader goroutine's end
	closeOne sync.Once
	started  time.Time // when the server said NetStream.Publish.Start
}

// refusalWindow: nginx-rtmp (deny publish, on_publish returning non-2xx)
// answers NetStream.Publish.Start and closes the connection right after.
// A connection that ends this soon after the start is taken as a refusal.
const refusalWindow = time.Second

// dial connects and publishes; on success the connection is ready for media.
func dial(ctx context.Context, cfg DialConfig) (*conn, error) {
	t, err := ParseURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.ChunkSize <= 0 {
		cfg.ChunkSize = 4096
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = 8 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	var tlsConf *tls.Config
	if t.Scheme == "rtmps" {
		if tlsConf, err = tlsConfig(t, cfg); err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	d := net.Dialer{}
	nc, err := d.DialContext(ctx, "tcp", t.Addr())
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", publish.ErrConnect, t, netCause(ctx, err))
	}
	var raw syscall.RawConn
	if tcp, ok := nc.(*net.TCPConn); ok {
		raw, _ = tcp.SyscallConn()
		setSocketOptions(raw, cfg.WriteTimeout, cfg.Bitrate)
	}
	if tlsConf != nil {
		tc := tls.Client(nc, tlsConf)
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			var verr *tls.CertificateVerificationError
			if errors.As(err, &verr) {
				return nil, fmt.Errorf("%w: %s: TLS certificate not trusted (give --ca-file, or --insecure-tls to skip verification): %w", publish.ErrConnect, t, verr.Err)
			}
			return nil, fmt.Errorf("%w: %s: TLS: %w", publish.ErrConnect, t, netCause(ctx, err))
		}
		nc = tc
	}
	c := &conn{cfg: cfg, target: t, nc: nc, raw: raw, log: cfg.Logger, readErr: make(chan error, 1)}
	c.cw = chunkWriter{size: 128}
	c.ack.window = 2500000
	c.cr = newChunkReader(nc)
	// The whole exchange runs under one deadline; a context cancel also
	// interrupts it by closing the socket.
	deadline, _ := ctx.Deadline()
	nc.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Unix(1, 0)) })
	err = c.setup()
	stop()
	if err != nil {
		nc.Close()
		if ne := (net.Error)(nil); errors.As(err, &ne) && ne.Timeout() {
			if ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("%w: %s: no answer within %v", publish.ErrConnect, t, cfg.Timeout)
		}
		return nil, err
	}
	nc.SetDeadline(time.Time{})
	go c.readLoop()
	return c, nil
}

func netCause(ctx context.Context, err error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return errors.New("timed out")
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return oe.Err
	}
	return err
}

func tlsConfig(t Target, cfg DialConfig) (*tls.Config, error) {
	conf := &tls.Config{ServerName: t.Host, InsecureSkipVerify: cfg.InsecureTLS, MinVersion: tls.VersionTLS12}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("rtmps: CA file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("rtmps: CA file %s: no PEM certificates in it", cfg.CAFile)
		}
		conf.RootCAs = pool
	}
	return conf, nil
}

// setup runs handshake, connect, releaseStream, FCPublish, createStream and
// publish, and waits for NetStream.Publish.Start.
func (c *conn) setup() error {
	t := c.target
	if err := handshake.HandshakeWithServer(c.nc, c.nc, &handshake.Config{SkipHandshakeVerification: true}); err != nil {
		return fmt.Errorf("%w: %s: RTMP handshake: %w", publish.ErrConnect, t, cause(err))
	}
	var sz [4]byte
	binary.BigEndian.PutUint32(sz[:], uint32(c.cfg.ChunkSize))
	if err := c.write(csidControl, typeSetChunkSize, 0, 0, sz[:]); err != nil {
		return c.setupErr("set chunk size", err)
	}
	c.cw.size = c.cfg.ChunkSize
	if err := c.command(0, "connect", 1, amf0.ECMAArray{
		"app":            t.App,
		"type":           "nonprivate",
		"flashVer":       "FMLE/3.0 (compatible; golive)",
		"tcUrl":          t.TCURL(),
		"fpad":           false,
		"capabilities":   15.0,
		"audioCodecs":    3191.0,
		"videoCodecs":    252.0,
		"videoFunction":  1.0,
		"objectEncoding": 0.0,
	}); err != nil {
		return c.setupErr("connect", err)
	}
	if _, err := c.await(1, "connect"); err != nil {
		return err
	}
	// releaseStream and FCPublish: what FMLE, OBS and ffmpeg send; some
	// servers (and CDNs) need them. Replies are not awaited.
	if err := c.command(0, "releaseStream", 2, nil, t.Key); err != nil {
		return c.setupErr("releaseStream", err)
	}
	if err := c.command(0, "FCPublish", 3, nil, t.Key); err != nil {
		return c.setupErr("FCPublish", err)
	}
	if err := c.command(0, "createStream", 4, nil); err != nil {
		return c.setupErr("createStream", err)
	}
	res, err := c.await(4, "createStream")
	if err != nil {
		return err
	}
	if len(res) < 2 {
		return fmt.Errorf("%w: %s: createStream answered without a stream id", publish.ErrConnect, t)
	}
	id, ok := res[1].(float64)
	if !ok {
		return fmt.Errorf("%w: %s: createStream answered %T", publish.ErrConnect, t, res[1])
	}
	c.streamID = uint32(id)
	if err := c.command(c.streamID, "publish", 5, nil, t.Key, "live"); err != nil {
		return c.setupErr("publish", err)
	}
	return c.awaitPublish()
}

// cause says in plain words why a connection ended, where it can.
func cause(err error) error {
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.EPIPE):
		return errors.New("server closed the connection")
	case errors.Is(err, syscall.ECONNRESET):
		return errors.New("server reset the connection")
	}
	return err
}

func (c *conn) setupErr(step string, err error) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return err // dial turns it into "no answer"
	}
	return fmt.Errorf("%w: %s: %s: %w", publish.ErrConnect, c.target, step, cause(err))
}

// await reads until the reply to transaction txid. An _error is a refusal.
func (c *conn) await(txid float64, what string) ([]any, error) {
	for {
		name, tx, args, err := c.readCommand()
		if err != nil {
			return nil, c.setupErr(what, err)
		}
		if tx != txid {
			continue
		}
		switch name {
		case "_result":
			return args, nil
		case "_error":
			return nil, fmt.Errorf("%w: %s: %s: %s", publish.ErrUnauthorized, c.target, what, describe(args))
		}
	}
}

// awaitPublish waits for the publish's onStatus. A server that refuses a
// publish may answer with an error status or just close the connection
// (nginx-rtmp's `deny publish` does the latter): both are refusals.
func (c *conn) awaitPublish() error {
	for {
		name, _, args, err := c.readCommand()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return err
			}
			return fmt.Errorf("%w: %s: the server closed the connection when asked to publish (wrong stream key or app?)", publish.ErrUnauthorized, c.target)
		}
		if name != "onStatus" {
			continue
		}
		level, code, desc := status(args)
		switch {
		case code == "NetStream.Publish.Start":
			c.started = time.Now()
			return nil
		case code == "NetStream.Publish.BadName":
			// nginx-rtmp's "already publishing": after an outage, often our
			// own dead session that the server has not dropped yet.
			return fmt.Errorf("%w: %w: %s: %s %s", publish.ErrUnauthorized, publish.ErrBusy, c.target, code, desc)
		case level == "error" || code == "NetStream.Publish.Denied":
			return fmt.Errorf("%w: %s: %s %s", publish.ErrUnauthorized, c.target, code, desc)
		}
	}
}

// readCommand reads messages, handling control ones, until an AMF0 command.
func (c *conn) readCommand() (name string, txid float64, args []any, err error) {
	for {
		m, err := c.cr.next()
		if err != nil {
			return "", 0, nil, err
		}
		if err := c.handleControl(m); err != nil {
			return "", 0, nil, err
		}
		if m.typ != typeCommandAMF0 {
			continue
		}
		vals, err := decodeAMF(m.payload)
		if err != nil || len(vals) < 2 {
			continue // a command we cannot read is one we do not need
		}
		name, _ = vals[0].(string)
		txid, _ = vals[1].(float64)
		return name, txid, vals[2:], nil
	}
}

// handleControl answers pings and acknowledges what we read.
func (c *conn) handleControl(m message) error {
	switch m.typ {
	case typeWindowAckSize:
		if len(m.payload) >= 4 {
			c.ack.window = int64(binary.BigEndian.Uint32(m.payload))
		}
	case typeUserControl:
		// Ping request (6) → ping response (7) with the same timestamp.
		if len(m.payload) >= 6 && binary.BigEndian.Uint16(m.payload) == 6 {
			pong := append([]byte{0, 7}, m.payload[2:6]...)
			return c.write(csidControl, typeUserControl, 0, 0, pong)
		}
	}
	if c.ack.window > 0 && c.cr.read-c.ack.sent >= c.ack.window {
		c.ack.sent = c.cr.read
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], uint32(c.cr.read))
		return c.write(csidControl, typeAck, 0, 0, b[:])
	}
	return nil
}

// readLoop runs while publishing: it answers pings and notices when the
// server ends the session.
func (c *conn) readLoop() {
	for {
		name, _, args, err := c.readCommand()
		if err != nil {
			if time.Since(c.started) < refusalWindow && !isLocalClose(err) {
				err = fmt.Errorf("%w: %s: the server closed the connection right after the publish started (publishing denied? wrong stream key or app?)", publish.ErrUnauthorized, c.target)
			}
			c.readErr <- err
			return
		}
		if name == "onStatus" {
			level, code, desc := status(args)
			if level == "error" || code == "NetStream.Unpublish.Success" {
				c.readErr <- fmt.Errorf("rtmp: server ended the publish: %s %s", code, desc)
				return
			}
		}
		if name == "close" {
			c.readErr <- errors.New("rtmp: server closed the stream")
			return
		}
	}
}

// write sends one message; safe for concurrent use. It returns when the
// last byte is in the kernel's socket buffer.
func (c *conn) write(csid int, typ byte, streamID, ts uint32, parts ...[]byte) error {
	_, err := c.writeN(csid, typ, streamID, ts, parts...)
	return err
}

// writeN is write that also says how many bytes went to the socket.
func (c *conn) writeN(csid int, typ byte, streamID, ts uint32, parts ...[]byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	b := c.cw.frame(csid, typ, streamID, ts, parts...)
	c.nc.SetWriteDeadline(time.Now().Add(c.cfg.WriteTimeout))
	return c.nc.Write(b)
}

func (c *conn) command(streamID uint32, name string, txid float64, args ...any) error {
	var buf bytes.Buffer
	enc := amf0.NewEncoder(&buf)
	for _, v := range append([]any{name, txid}, args...) {
		if err := enc.Encode(v); err != nil {
			return fmt.Errorf("rtmp: encode %s: %w", name, err)
		}
	}
	return c.write(csidCommand, typeCommandAMF0, streamID, 0, buf.Bytes())
}

// writeMetadata sends @setDataFrame onMetaData.
func (c *conn) writeMetadata(m amf0.ECMAArray) error {
	var buf bytes.Buffer
	enc := amf0.NewEncoder(&buf)
	for _, v := range []any{"@setDataFrame", "onMetaData", m} {
		if err := enc.Encode(v); err != nil {
			return fmt.Errorf("rtmp: encode metadata: %w", err)
		}
	}
	return c.write(csidData, typeDataAMF0, c.streamID, 0, buf.Bytes())
}

// close ends the publish politely (FCUnpublish, deleteStream) when it can,
// within a short deadline, then closes the socket. Idempotent.
func (c *conn) close(polite bool) {
	c.closeOne.Do(func() {
		if polite {
			c.nc.SetWriteDeadline(time.Now().Add(time.Second))
			_ = c.command(0, "FCUnpublish", 6, nil, c.target.Key)
			_ = c.command(0, "deleteStream", 7, nil, float64(c.streamID))
		}
		if tc, ok := c.nc.(*net.TCPConn); ok && polite {
			tc.CloseWrite() // let the server read what we sent before the FIN
		}
		c.nc.Close()
	})
}

// setSocketOptions:
//   - TCP_USER_TIMEOUT: the kernel aborts the connection when sent data
//     stays unacknowledged for d, so a dead link is noticed even while the
//     socket still takes writes;
//   - TCP_NOTSENT_LOWAT: the kernel takes only about 100 ms of the stream
//     beyond what is in flight. Without it, Linux's send buffer grows to
//     megabytes — many seconds of video on a slow link — that can be
//     neither dropped nor re-encoded, and writes into it look like
//     throughput. With it, a backlog builds in the send queue, where the
//     adaptive bitrate sees it and whole groups of pictures can be dropped.
func setSocketOptions(raw syscall.RawConn, d time.Duration, bitrate int) {
	if bitrate <= 0 {
		bitrate = 2_500_000
	}
	lowat := max(16<<10, bitrate/8/10)
	raw.Control(func(fd uintptr) {
		_ = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT, int(d/time.Millisecond))
		_ = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT, lowat)
	})
}

// unsent is how many bytes the kernel holds that the server has not
// acknowledged yet (SIOCOUTQ); 0 when unknown.
func (c *conn) unsent() int {
	if c.raw == nil {
		return 0
	}
	n := 0
	c.raw.Control(func(fd uintptr) {
		n, _ = unix.IoctlGetInt(int(fd), unix.SIOCOUTQ)
	})
	return n
}

func isLocalClose(err error) bool { return errors.Is(err, net.ErrClosed) }

func decodeAMF(b []byte) ([]any, error) {
	dec := amf0.NewDecoder(bytes.NewReader(b))
	var vals []any
	for {
		var v any
		if err := dec.Decode(&v); err != nil {
			if errors.Is(err, io.EOF) {
				return vals, nil
			}
			return vals, err
		}
		vals = append(vals, v)
	}
}

// status reads level, code and description from an onStatus's info object.
func status(args []any) (level, code, desc string) {
	for _, a := range args {
		if m, ok := a.(map[string]any); ok {
			level, _ = m["level"].(string)
			code, _ = m["code"].(string)
			desc, _ = m["description"].(string)
			return
		}
		if m, ok := a.(amf0.ECMAArray); ok {
			level, _ = m["level"].(string)
			code, _ = m["code"].(string)
			desc, _ = m["description"].(string)
			return
		}
	}
	return
}

// describe summarises an _error reply for a message.
func describe(args []any) string {
	_, code, desc := status(args)
	if code == "" && desc == "" {
		return "refused"
	}
	return code + " " + desc
}
