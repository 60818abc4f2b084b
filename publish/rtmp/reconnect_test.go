package rtmp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	amf0 "github.com/yutopp/go-amf0"
	"github.com/yutopp/go-rtmp/handshake"

	"github.com/golive/golive/media"
	"github.com/golive/golive/publish"
)

// fakeServer is a minimal RTMP ingest: it takes a publish and records, per
// connection, the FLV video tags' first byte (frame type) of the NALU
// messages (sequence headers left out). closeAfter: it drops each of the
// first connections after that many video NALU messages.
type fakeServer struct {
	ln         net.Listener
	closeAfter int
	drops      int // connections to drop that way

	mu       sync.Mutex
	sessions [][]byte // per connection: each video NALU message's frame type (flvFrameKey or flvFrameInter)
}

func startFakeServer(t *testing.T, closeAfter, drops int) *fakeServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &fakeServer{ln: ln, closeAfter: closeAfter, drops: drops}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for n := 0; ; n++ {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.sessions = append(s.sessions, nil)
			s.mu.Unlock()
			go s.serve(c, n)
		}
	}()
	return s
}

func (s *fakeServer) video() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([][]byte, len(s.sessions))
	for i, v := range s.sessions {
		out[i] = bytes.Clone(v)
	}
	return out
}

func (s *fakeServer) serve(c net.Conn, n int) {
	defer c.Close()
	if err := handshake.HandshakeWithClient(c, c, &handshake.Config{SkipHandshakeVerification: true}); err != nil {
		return
	}
	cr := newChunkReader(c)
	cw := chunkWriter{size: 128}
	reply := func(streamID uint32, vals ...any) error {
		var buf bytes.Buffer
		enc := amf0.NewEncoder(&buf)
		for _, v := range vals {
			if err := enc.Encode(v); err != nil {
				return err
			}
		}
		_, err := c.Write(cw.frame(csidCommand, typeCommandAMF0, streamID, 0, buf.Bytes()))
		return err
	}
	nalus := 0
	for {
		m, err := cr.next()
		if err != nil {
			return
		}
		switch m.typ {
		case typeCommandAMF0:
			args, err := decodeAMF(m.payload)
			if err != nil || len(args) < 2 {
				return
			}
			name, _ := args[0].(string)
			tx, _ := args[1].(float64)
			switch name {
			case "connect":
				err = reply(0, "_result", tx, nil, map[string]any{"level": "status", "code": "NetConnection.Connect.Success"})
			case "createStream":
				err = reply(0, "_result", tx, nil, 1.0)
			case "publish":
				err = reply(m.streamID, "onStatus", 0.0, nil, map[string]any{"level": "status", "code": "NetStream.Publish.Start", "description": "go"})
			}
			if err != nil {
				return
			}
		case typeVideo:
			if len(m.payload) < 2 || m.payload[1] != avcNALU {
				continue
			}
			s.mu.Lock()
			s.sessions[n] = append(s.sessions[n], m.payload[0]&0xf0)
			s.mu.Unlock()
			nalus++
			if n < s.drops && nalus >= s.closeAfter {
				return // the connection drops
			}
		}
	}
}

// fakeEncoder makes 30 fps video packets with a keyframe every 2 s, or at
// once when asked (RequestKeyframe), as the encoder does.
type fakeEncoder struct {
	force atomic.Bool
	asked atomic.Int64
}

func (e *fakeEncoder) RequestKeyframe() { e.asked.Add(1); e.force.Store(true) }

// TestReconnectStartsOnKeyframe: after the connection drops, the new
// session's first video (after its sequence header) is a keyframe, the one
// asked for at the reconnection — not the next on the 2 s clock, and never
// a delta frame a server would have to skip (or a player choke on).
func TestReconnectStartsOnKeyframe(t *testing.T) {
	// Two drops, 1.5 s into each session (a drop within refusalWindow of
	// the start would be a refusal): three sessions.
	srv := startFakeServer(t, 45, 2)
	enc := &fakeEncoder{}
	clock := media.NewClock()
	p, err := Dial(context.Background(), Config{
		DialConfig: DialConfig{URL: fmt.Sprintf("rtmp://%s/live/key", srv.ln.Addr()), Timeout: 5 * time.Second, Logger: slog.New(slog.DiscardHandler)},
		Video:      media.VideoConfig{Codec: media.CodecH264, Width: 320, Height: 180, FrameRate: 30, Record: []byte{1, 0x42, 0xc0, 0x1e, 0xff}},
		Clock:      clock, Keyframes: enc,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	runErr := make(chan error, 1)
	go func() { runErr <- p.Run(context.Background()) }()
	next := time.Duration(0) // the next keyframe on the clock
	for i := 0; i < 30*10; i++ {
		pts := time.Duration(i) * time.Second / 30
		time.Sleep(time.Until(clock.At(pts)))
		key := i == 0 || pts >= next || enc.force.Swap(false)
		if key {
			next = pts + 2*time.Second
		}
		p.WritePacket(&media.Packet{Kind: media.KindVideo, PTS: pts, DTS: pts, Keyframe: key, Data: []byte{0, 0, 0, 2, 0x65, 0x88}})
		if v := srv.video(); len(v) >= 3 && len(v[2]) >= 30 {
			break
		}
	}
	p.Finish()
	select {
	case err := <-runErr:
		if err != nil && !errors.Is(err, publish.ErrStopped) {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after Finish")
	}
	v := srv.video()
	if len(v) < 3 {
		t.Fatalf("%d sessions, want 3 (two reconnections)", len(v))
	}
	for i, s := range v[:3] {
		if len(s) < 10 {
			t.Fatalf("session %d: %d video messages", i+1, len(s))
		}
		if s[0] != flvFrameKey {
			t.Errorf("session %d starts on frame type %#x, want a keyframe", i+1, s[0])
		}
		// The keyframe was the one asked for: the one on the clock
		// would come after up to 60 delta frames, all dropped.
		keys := bytes.Count(s[:10], []byte{flvFrameKey})
		if keys != 1 {
			t.Errorf("session %d: %d keyframes in its first 10 frames, want 1", i+1, keys)
		}
	}
	if enc.asked.Load() < 2 {
		t.Errorf("%d keyframes asked, want one per reconnection", enc.asked.Load())
	}
}
