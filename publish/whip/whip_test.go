package whip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asticode/go-astiav"
	"github.com/pion/rtcp"
	"github.com/pion/stun/v3"

	"github.com/golive/golive/encode"
	"github.com/golive/golive/internal/testpeer"
	"github.com/golive/golive/internal/testutil"
	"github.com/golive/golive/media"
	"github.com/golive/golive/publish"
)

func init() { astiav.SetLogLevel(astiav.LogLevelError) }

// keys counts keyframe requests and passes them to the encoder.
type keys struct {
	n   atomic.Int64
	enc atomic.Pointer[encode.Video]
}

func (k *keys) RequestKeyframe() {
	k.n.Add(1)
	if v := k.enc.Load(); v != nil {
		v.RequestKeyframe()
	}
}

// rig is a small live source: 320×180 H.264 at 30 fps from libx264 and
// Opus from libopus, on one clock, into a publisher.
type rig struct {
	clock *media.Clock
	venc  *encode.Video
	aenc  *encode.Audio
	keys  *keys
	out   atomic.Pointer[Publisher]
	sent  atomic.Int64 // video packets handed to the publisher
	log   *slog.Logger
	logs  *testutil.LogBuffer
}

func newRig(t *testing.T) *rig {
	t.Helper()
	r := &rig{clock: media.NewClock(), keys: &keys{}, logs: &testutil.LogBuffer{}}
	r.log = slog.New(slog.NewTextHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	w := media.PacketWriterFunc(func(p *media.Packet) error {
		if pub := r.out.Load(); pub != nil {
			if p.Kind == media.KindVideo {
				r.sent.Add(1)
			}
			return pub.WritePacket(p)
		}
		return nil
	})
	var err error
	r.venc, err = encode.OpenVideo(encode.VideoConfig{Width: 320, Height: 180, FPS: 30, Bitrate: 500_000, KeyframeInterval: 2 * time.Second, Preset: "ultrafast", Profile: "baseline", Logger: r.log}, w)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.venc.Close)
	r.keys.enc.Store(r.venc)
	r.aenc, err = encode.OpenAudio(encode.AudioConfig{Codec: media.CodecOpus, SampleRate: 48000, Channels: 2, Bitrate: 64000, Logger: r.log}, w)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.aenc.Close)
	return r
}

func (r *rig) config(url string) Config {
	ac := r.aenc.Config()
	return Config{URL: url, Video: r.venc.Config(), Audio: &ac, Clock: r.clock, Keyframes: r.keys, Logger: r.log, Timeout: 15 * time.Second} // DTLS under -race on a busy machine takes seconds
}

// run encodes and sends for d (in real time), then finishes the publisher
// and waits for Run.
func (r *rig) run(t *testing.T, p *Publisher, d time.Duration, during func(elapsed time.Duration)) error {
	t.Helper()
	r.out.Store(p)
	runErr := make(chan error, 1)
	go func() { runErr <- p.Run(context.Background()) }()
	pool := media.NewFramePool(320, 180)
	samples := make([]int16, 2*960)
	start := r.clock.Now()
	anext := start
	for i := 0; ; i++ {
		due := start + time.Duration(i)*time.Second/30
		if due-start >= d {
			break
		}
		time.Sleep(time.Until(r.clock.At(due)))
		f := pool.Get()
		for j := range f.Planes[0] {
			f.Planes[0][j] = byte(16 + (j+i*5)%200)
		}
		for _, pl := range f.Planes[1:] {
			for j := range pl {
				pl[j] = 128
			}
		}
		f.PTS = due
		if err := r.venc.Encode(f); err != nil {
			t.Fatal(err)
		}
		f.Release()
		for ; anext <= due; anext += 20 * time.Millisecond { // audio up to the frame
			af := &media.AudioFrame{SampleRate: 48000, Channels: 2, Samples: samples, PTS: anext}
			if err := r.aenc.Encode(af); err != nil {
				t.Fatal(err)
			}
		}
		if during != nil {
			during(due - start)
		}
	}
	p.Finish()
	select {
	case err := <-runErr:
		return err
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return after Finish")
		return nil
	}
}

// TestSession: the exchange as real servers vary it — a 307 redirect, a
// relative Location, lower-case header names, ICE servers in Link
// headers, a bearer token — then media, a PLI, and the DELETE on stop.
func TestSession(t *testing.T) {
	ep := testpeer.StartWHIPEndpoint(t, testpeer.EndpointOptions{
		Token: "s3cret-token", Lowercase: true,
		Links: []string{
			`<stun:stun.example.net:3478>; rel="ice-server"`,
			`<turn:turn.example.net:3478?transport=udp>; rel="ice-server"; username="user"; credential="pa,ss", <https://example.net/help>; rel="help"`,
		},
	})
	r := newRig(t)
	cfg := r.config("whip://" + strings.TrimPrefix(ep.URL, "http://"))
	cfg.URL = strings.TrimSuffix(cfg.URL, "/whip") + "/old" // 307 → /v2/whip
	cfg.Token = "s3cret-token"
	p, err := Dial(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Dial: %v\n%s", err, r.logs)
	}
	defer p.Close()
	if got, want := p.sess.resource.String(), strings.TrimSuffix(ep.URL, "/whip")+"/v2/sessions/1"; got != want {
		t.Errorf("session URL %s, want %s (the relative Location resolved against the redirected URL)", got, want)
	}
	if n := len(p.linkServers); n != 2 || p.linkServers[1].Username != "user" || p.linkServers[1].Credential != "pa,ss" ||
		p.linkServers[1].URLs[0] != "turn:turn.example.net:3478?transport=udp" {
		t.Errorf("ICE servers from Link: %+v", p.linkServers)
	}
	plis := 0
	err = r.run(t, p, 3*time.Second, func(el time.Duration) {
		if el > 1500*time.Millisecond && plis == 0 {
			plis++
			ep.SendPLI()
		}
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	sent := r.sent.Load()
	if f := ep.Frames(); f < int(sent)*95/100 {
		t.Errorf("endpoint got %d frames of %d sent", f, sent)
	}
	if ep.AudioPackets.Load() < 100 {
		t.Errorf("endpoint got %d audio packets, want about 150", ep.AudioPackets.Load())
	}
	if r.keys.n.Load() == 0 {
		t.Error("the PLI asked for no keyframe")
	}
	if n := ep.Count("DELETE"); n != 1 {
		t.Errorf("%d DELETEs on stop, want 1", n)
	}
	for _, q := range ep.Requests() {
		if q.Auth != "Bearer s3cret-token" {
			t.Errorf("%s %s without the token (%q)", q.Method, q.Path, q.Auth)
		}
		if q.Method == "DELETE" && q.Path != "/v2/sessions/1" {
			t.Errorf("DELETE %s, want /v2/sessions/1", q.Path)
		}
		if q.Method == "POST" && q.Path == "/v2/whip" && !strings.Contains(q.Body, "packetization-mode=1") {
			t.Errorf("offer without packetization-mode=1:\n%s", q.Body)
		}
	}
	if ep.Count("POST") != 2 {
		t.Errorf("%d POSTs, want 2 (the redirected one and its repeat)", ep.Count("POST"))
	}
	st := p.Stats()
	if st.Packets == 0 || st.LatencyP50 == 0 || st.Sessions != 1 {
		t.Errorf("stats %+v", st)
	}
	// The endpoint sends TWCC feedback: GCC has an estimate within the
	// bounds (the video bitrate / 4 … × 1.5).
	if st.EstimateBitrate < 125_000 || st.EstimateBitrate > 750_000 {
		t.Errorf("GCC estimate %d bit/s, want within 125k–750k", st.EstimateBitrate)
	}
	if strings.Contains(r.logs.String(), "s3cret") {
		t.Error("the token is in the log")
	}
}

// TestProfileLevelID: the offer's H.264 profile-level-id is the encoder's
// own (from its SPS), so the endpoint negotiates what it will get.
func TestProfileLevelID(t *testing.T) {
	ep := testpeer.StartWHIPEndpoint(t, testpeer.EndpointOptions{})
	r := newRig(t)
	p, err := Dial(context.Background(), r.config(strings.Replace(ep.URL, "http://", "whip://", 1)))
	if err != nil {
		t.Fatal(err)
	}
	p.Close()
	rec := r.venc.Config().Record
	want := "profile-level-id=42c0" // constrained baseline (libx264 sets constraint_set1 for baseline)
	if rec[1] != 0x42 {
		t.Fatalf("encoder profile_idc %#x, want baseline", rec[1])
	}
	offer := ep.Requests()[0].Body
	if !strings.Contains(offer, want) {
		t.Errorf("offer lacks %q:\n%s", want, offer)
	}
	if !strings.Contains(offer, "opus/48000/2") || !strings.Contains(offer, "apt=96") || !strings.Contains(offer, "transport-cc") {
		t.Errorf("offer lacks Opus stereo, RTX or transport-cc:\n%s", offer)
	}
}

// TestDTLSCurves: as the DTLS client (the endpoint answers passive), the
// publisher's ClientHello offers P-256 — what servers expect at least —
// besides X25519, and the session comes up.
func TestDTLSCurves(t *testing.T) {
	ep := testpeer.StartWHIPEndpoint(t, testpeer.EndpointOptions{DTLSServer: true, Relay: true})
	r := newRig(t)
	p, err := Dial(context.Background(), r.config(strings.Replace(ep.URL, "http://", "whip://", 1)))
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	if err := r.run(t, p, time.Second, nil); err != nil {
		t.Fatal(err)
	}
	if ep.Frames() < 20 {
		t.Errorf("%d frames", ep.Frames())
	}
	groups, err := helloGroups(ep.ClientHello())
	if err != nil {
		t.Fatal(err)
	}
	const x25519, p256, p384 = 0x001d, 0x0017, 0x0018
	for _, want := range []uint16{p256, x25519, p384} {
		if !slices.Contains(groups, want) {
			t.Errorf("ClientHello groups %04x lack %04x", groups, want)
		}
	}
}

// helloGroups reads the supported_groups extension of a DTLS 1.2
// ClientHello record (RFC 6347 4.3.2, RFC 8422 5.1.1).
func helloGroups(rec []byte) ([]uint16, error) {
	if len(rec) < 13+12+2+32+1 {
		return nil, fmt.Errorf("no ClientHello crossed the relay (%d bytes)", len(rec))
	}
	b := rec[13+12+2+32:] // record header, handshake header, version, random
	skip := func(lenBytes int) bool {
		if len(b) < lenBytes {
			return false
		}
		n := 0
		for _, c := range b[:lenBytes] {
			n = n<<8 | int(c)
		}
		if len(b) < lenBytes+n {
			return false
		}
		b = b[lenBytes+n:]
		return true
	}
	if !skip(1) || !skip(1) || !skip(2) || !skip(1) || len(b) < 2 { // session id, cookie, suites, compression
		return nil, errors.New("truncated ClientHello")
	}
	b = b[2:] // extensions' length
	for len(b) >= 4 {
		typ, n := int(b[0])<<8|int(b[1]), int(b[2])<<8|int(b[3])
		if len(b) < 4+n {
			break
		}
		if typ == 0x000a && n >= 2 {
			var groups []uint16
			for g := b[6 : 4+n]; len(g) >= 2; g = g[2:] {
				groups = append(groups, uint16(g[0])<<8|uint16(g[1]))
			}
			return groups, nil
		}
		b = b[4+n:]
	}
	return nil, errors.New("ClientHello without supported_groups")
}

// TestTrickle: an endpoint that takes PATCHes gets the candidates found
// after the offer went — here the server-reflexive one from a slow STUN
// server (the offer goes at once) — then end-of-candidates.
func TestTrickle(t *testing.T) {
	stunAddr := slowSTUN(t, 300*time.Millisecond, &net.UDPAddr{IP: net.IPv4(203, 0, 113, 7), Port: 4000})
	ep := testpeer.StartWHIPEndpoint(t, testpeer.EndpointOptions{Trickle: true})
	r := newRig(t)
	cfg := r.config(strings.Replace(ep.URL, "http://", "whip://", 1))
	cfg.GatherTimeout = -1 // the offer at once
	srv, err := ParseICEServer("stun:" + stunAddr)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ICEServers = append(cfg.ICEServers, srv)
	p, err := Dial(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Dial: %v\n%s", err, r.logs)
	}
	defer p.Close()
	if !p.sess.trickle {
		t.Error("Accept-Patch not seen")
	}
	if offer := ep.Requests()[0].Body; strings.Contains(offer, "typ srflx") {
		t.Fatalf("the offer waited for the STUN server:\n%s", offer)
	}
	var patches []testpeer.EndpointRequest
	if !testutil.WaitFor(5*time.Second, 10*time.Millisecond, func() bool {
		patches = nil
		for _, q := range ep.Requests() {
			if q.Method == "PATCH" {
				patches = append(patches, q)
			}
		}
		return len(patches) > 0 && strings.Contains(patches[len(patches)-1].Body, "a=end-of-candidates")
	}) {
		t.Fatalf("no PATCH ending with end-of-candidates: %+v\n%s", patches, grep(r.logs.String(), "trickle"))
	}
	srflx := false
	for _, q := range patches {
		if q.ContentType != "application/trickle-ice-sdpfrag" || !strings.Contains(q.Body, "a=ice-ufrag:") || !strings.Contains(q.Body, "a=mid:") {
			t.Errorf("PATCH %q:\n%s", q.ContentType, q.Body)
		}
		srflx = srflx || strings.Contains(q.Body, "203.0.113.7 4000 typ srflx")
	}
	if !srflx {
		t.Errorf("the server-reflexive candidate was not PATCHed: %+v", patches)
	}
	if err := r.run(t, p, time.Second, nil); err != nil {
		t.Fatal(err)
	}
	if ep.Frames() < 20 {
		t.Errorf("%d frames", ep.Frames())
	}
}

// slowSTUN answers STUN binding requests after delay, with mapped as the
// address it saw: a server-reflexive candidate that comes late.
func slowSTUN(t *testing.T, delay time.Duration, mapped *net.UDPAddr) string {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := c.ReadFromUDP(buf)
			if err != nil {
				return
			}
			req := &stun.Message{Raw: append([]byte(nil), buf[:n]...)}
			if req.Decode() != nil || req.Type != stun.BindingRequest {
				continue
			}
			resp, err := stun.Build(stun.BindingSuccess, stun.NewTransactionIDSetter(req.TransactionID),
				&stun.XORMappedAddress{IP: mapped.IP, Port: mapped.Port}, stun.Fingerprint)
			if err != nil {
				continue
			}
			time.AfterFunc(delay, func() { c.WriteToUDP(resp.Raw, from) })
		}
	}()
	return c.LocalAddr().String()
}

// TestRefusals: what each refusal becomes — the exit code's error and a
// line naming the status.
func TestRefusals(t *testing.T) {
	for _, tc := range []struct {
		name   string
		opt    testpeer.EndpointOptions
		want   error
		status string
	}{
		{"401", testpeer.EndpointOptions{Token: "right"}, publish.ErrUnauthorized, "401"},
		{"403", testpeer.EndpointOptions{Status: 403}, publish.ErrUnauthorized, "403"},
		{"404", testpeer.EndpointOptions{Status: 404}, publish.ErrConnect, "404"},
		{"503", testpeer.EndpointOptions{Status: 503}, publish.ErrConnect, "503 Service Unavailable: come back later"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ep := testpeer.StartWHIPEndpoint(t, tc.opt)
			r := newRig(t)
			cfg := r.config(strings.Replace(ep.URL, "http://", "whip://", 1))
			cfg.Token = "wrong"
			_, err := Dial(context.Background(), cfg)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.status) {
				t.Fatalf("err %v, want %v naming %q", err, tc.want, tc.status)
			}
			if strings.Contains(err.Error(), "wrong") {
				t.Error("the token is in the error")
			}
		})
	}
	t.Run("unreachable", func(t *testing.T) {
		port, err := testutil.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		r := newRig(t)
		_, err = Dial(context.Background(), r.config("whip://127.0.0.1:"+strconv.Itoa(port)+"/whip"))
		if !errors.Is(err, publish.ErrConnect) {
			t.Fatalf("err %v, want ErrConnect", err)
		}
	})
	t.Run("silent", func(t *testing.T) {
		// Accepts the connection and never answers.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				defer c.Close()
			}
		}()
		r := newRig(t)
		cfg := r.config("whip://" + ln.Addr().String() + "/whip")
		cfg.Timeout = time.Second
		start := time.Now()
		_, err = Dial(context.Background(), cfg)
		if !errors.Is(err, publish.ErrConnect) || !strings.Contains(err.Error(), "timed out") {
			t.Fatalf("err %v, want a connect timeout", err)
		}
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("took %v with a 1 s timeout", took)
		}
	})
}

// TestNewSession: when the endpoint loses the session (a restart), ICE
// fails and a new session is opened; video restarts on a keyframe.
func TestNewSession(t *testing.T) {
	ep := testpeer.StartWHIPEndpoint(t, testpeer.EndpointOptions{})
	r := newRig(t)
	p, err := Dial(context.Background(), r.config(strings.Replace(ep.URL, "http://", "whip://", 1)))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var framesAtDrop int
	dropped := false
	err = r.run(t, p, 6*time.Second, func(el time.Duration) {
		if el > 2*time.Second && !dropped {
			dropped = true
			framesAtDrop = ep.Frames()
			ep.Drop()
		}
	})
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, r.logs)
	}
	if n := ep.Count("POST"); n != 2 {
		t.Fatalf("%d POSTs, want 2 (a new session after the loss)\n%s", n, grep(r.logs.String(), "publish.whip"))
	}
	if after := ep.Frames() - framesAtDrop; after < 60 {
		t.Errorf("%d frames after the new session", after)
	}
	if s := p.Stats().Sessions; s != 2 {
		t.Errorf("Stats().Sessions = %d, want 2", s)
	}
}

func TestEndpointURL(t *testing.T) {
	for in, want := range map[string]string{
		"whip://h:8080/whip":         "http://h:8080/whip",
		"whips://h/live/whip?x=1":    "https://h/live/whip?x=1",
		"WHIPS://h/p":                "https://h/p",
		"https://h/p|as":             "https://h/p",
		"https://h/p":                "error",
		"rtmp://h/app/key":           "error",
		"whip:///nohost":             "error",
		"whip://user:pw@h/whip":      "error",
		"whip://h:8080/whip|as-whip": "http://h:8080/whip",
	} {
		raw, as, _ := strings.Cut(in, "|")
		u, err := Endpoint(raw, as != "")
		got := "error"
		if err == nil {
			got = u.String()
		} else if !errors.Is(err, publish.ErrBadURL) {
			t.Errorf("%s: error %v not ErrBadURL", in, err)
		}
		if got != want {
			t.Errorf("Endpoint(%s) = %s, want %s", in, got, want)
		}
	}
	if !IsWHIP("whips://h/p", "auto") || !IsWHIP("https://h/p", "whip") || IsWHIP("rtmp://h/a/k", "auto") {
		t.Error("IsWHIP")
	}
}

func TestICEServerFlag(t *testing.T) {
	for in, want := range map[string]string{
		"stun:stun.l.example.com:19302":              "stun:stun.l.example.com:19302||",
		"turn:u:p%40ss@turn.example.net:3478":        "turn:turn.example.net:3478|u|p@ss",
		"turns://u:p@turn.example.net?transport=tcp": "turns:turn.example.net?transport=tcp|u|p",
		"turn:turn.example.net":                      "error",
		"http://x":                                   "error",
		"stun:":                                      "error",
	} {
		s, err := ParseICEServer(in)
		got := "error"
		if err == nil {
			c, _ := s.Credential.(string)
			got = s.URLs[0] + "|" + s.Username + "|" + c
		} else if strings.Contains(err.Error(), "p%40ss") {
			t.Errorf("error shows the password: %v", err)
		}
		if got != want {
			t.Errorf("ParseICEServer(%q) = %q, want %q", in, got, want)
		}
	}
}

// grep keeps the lines of s that contain sub.
func grep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestReceiverReports: loss and round-trip time from RTCP receiver
// reports (RFC 3550 section 6.4.1), and PLIs closer than keyframeGap
// asking for one keyframe.
func TestReceiverReports(t *testing.T) {
	k := &keys{}
	p := &Publisher{cfg: Config{Keyframes: k}, log: slog.New(slog.DiscardHandler), queue: publish.NewQueue(0, nil, nil)}
	// An SR sent 250 ms ago, held 50 ms by the receiver: RTT 200 ms.
	lsr := ntpCompact(time.Now().Add(-250 * time.Millisecond))
	s := &session{}
	s.startKeyframe.Store(true) // past the session's start
	p.onRTCP(s, &rtcp.ReceiverReport{Reports: []rtcp.ReceptionReport{{FractionLost: 64, LastSenderReport: lsr, Delay: 65536 / 20}}})
	st := p.Stats()
	if st.Loss != 0.25 {
		t.Errorf("loss %v, want 0.25", st.Loss)
	}
	if st.RTT < 195*time.Millisecond || st.RTT > 215*time.Millisecond {
		t.Errorf("RTT %v, want 200ms", st.RTT)
	}
	for range 5 {
		p.onRTCP(s, &rtcp.PictureLossIndication{})
	}
	p.onRTCP(s, &rtcp.FullIntraRequest{})
	if n := k.n.Load(); n != 1 {
		t.Errorf("%d keyframes asked for a burst of PLIs and a FIR, want 1", n)
	}
}

// TestICERestart: the path dies (a relay drops everything) until ICE
// fails; an endpoint that takes PATCHes gets an ICE restart, not a new
// session, and media flows again through the same session.
func TestICERestart(t *testing.T) {
	ep := testpeer.StartWHIPEndpoint(t, testpeer.EndpointOptions{Trickle: true, Relay: true})
	r := newRig(t)
	cfg := r.config(strings.Replace(ep.URL, "http://", "whip://", 1))
	cfg.DeadAfter = 2 * time.Second
	p, err := Dial(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Dial: %v\n%s", err, r.logs)
	}
	defer p.Close()
	var framesAtCut, framesAtRestart int
	cut, restored := false, false
	err = r.run(t, p, 9*time.Second, func(el time.Duration) {
		switch {
		case !cut && el > time.Second:
			cut = true
			framesAtCut = ep.Frames()
			ep.Blackhole(true)
		case cut && !restored && strings.Contains(r.logs.String(), "restarting ICE"):
			restored = true
			ep.Blackhole(false)
			framesAtRestart = ep.Frames()
		}
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if !restored {
		t.Fatalf("ICE never failed through a dead relay\n%s", grep(r.logs.String(), "publish.whip"))
	}
	if framesAtRestart > framesAtCut+2 {
		t.Errorf("%d frames arrived through a dead relay", framesAtRestart-framesAtCut)
	}
	if n := ep.Count("POST"); n != 1 {
		t.Errorf("%d POSTs: want 1 (an ICE restart, not a new session)\n%s", n, grep(r.logs.String(), "publish.whip"))
	}
	if p.restarts.Load() != 1 {
		t.Errorf("%d ICE restarts, want 1\n%s", p.restarts.Load(), grep(r.logs.String(), "publish.whip"))
	}
	if after := ep.Frames() - framesAtRestart; after < 45 {
		t.Errorf("%d frames after the restart, want ≥ 45 (2 s)\n%s", after, grep(r.logs.String(), "publish.whip"))
	}
}

// urgentKeys is keys with the pipeline gate's RequestKeyframeNow.
type urgentKeys struct {
	keys
	now atomic.Int64
}

func (k *urgentKeys) RequestKeyframeNow() {
	k.now.Add(1)
	k.RequestKeyframe()
}

// TestStartKeyframe: the rule for a session's first keyframe requests.
// One sent before the session's first keyframe could have arrived (before
// it was sent, or as its first packet arrived) is answered by it; the
// first after that at once (through the gate's RequestKeyframeNow, never
// rate-limited); later ones once per keyframeGap. Each session starts
// afresh.
func TestStartKeyframe(t *testing.T) {
	k := &urgentKeys{}
	p := &Publisher{cfg: Config{Keyframes: k}, log: slog.New(slog.DiscardHandler)}
	t0 := time.Now()
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	check := func(step string, n, now int64) {
		t.Helper()
		if k.n.Load() != n || k.now.Load() != now {
			t.Errorf("%s: %d keyframes asked (%d at once), want %d (%d)", step, k.n.Load(), k.now.Load(), n, now)
		}
	}
	s := &session{}
	p.onKeyRequest(s, at(0))
	check("a PLI before the first video", 0, 0)
	s.firstVideo.Store(at(10 * time.Millisecond).UnixNano())
	p.onKeyRequest(s, at(20*time.Millisecond))
	check("a PLI as the first keyframe arrives", 0, 0)
	p.onKeyRequest(s, at(310*time.Millisecond))
	check("the endpoint forwarding, 300 ms on", 1, 1)
	p.onKeyRequest(s, at(320*time.Millisecond))
	check("a PLI within the gap", 1, 1)
	p.onKeyRequest(s, at(900*time.Millisecond))
	check("a PLI past the gap", 2, 1)

	// A new session (a reconnection) within the gap: its start is its own.
	s2 := &session{}
	s2.firstVideo.Store(at(time.Second).UnixNano())
	p.onKeyRequest(s2, at(1010*time.Millisecond))
	check("the new session's track arriving", 2, 1)
	p.onKeyRequest(s2, at(1300*time.Millisecond))
	check("the new session's endpoint forwarding", 3, 2)

	// With a round-trip time of 300 ms, a PLI 350 ms after the first
	// video is still one sent as it arrived.
	p.rtt.Store(int64(300 * time.Millisecond))
	s3 := &session{}
	s3.firstVideo.Store(at(2 * time.Second).UnixNano())
	p.onKeyRequest(s3, at(2350*time.Millisecond))
	check("a PLI within RTT + slack", 3, 2)
	p.onKeyRequest(s3, at(2500*time.Millisecond))
	check("a PLI past RTT + slack", 4, 3)
}

// keyframeStart is, for a session of ep, the media time from its first
// video packet (kept or not) to the first whole keyframe it kept (-1:
// none), and the keyframes it got (kept or not) in its first 1.9 s of
// media: the keyframes its start cost (the next on the 2 s clock left
// out).
func keyframeStart(t *testing.T, ep *testpeer.WHIPEndpoint, session int) (firstKept time.Duration, keys int) {
	t.Helper()
	ts0, ok := ep.FirstVideo(session)
	if !ok {
		t.Fatalf("session %d: no video arrived", session)
	}
	firstKept = -1
	mediaTime := func(ts uint32) time.Duration { return time.Duration(int32(ts-ts0)) * time.Second / 90000 }
	for _, f := range ep.WholeFrames(session) {
		if !f.Key {
			continue
		}
		d := mediaTime(f.Timestamp)
		if f.Kept && firstKept < 0 {
			firstKept = d
		}
		if d < 1900*time.Millisecond {
			keys++
		}
	}
	return firstKept, keys
}

// TestFirstKeyframeKept: an endpoint that drops all media until 300 ms
// after its tracks arrived, then asks for a keyframe as SFUs do when they
// start forwarding, gets one at once, in the session's first GOP (not at
// the next on the 2 s clock), in every session (a new one after the
// endpoint lost the first); also when it asked for one as the track
// arrived too (that request is taken as answered by the keyframe on its
// way, and the one at forwarding is not rate-limited).
func TestFirstKeyframeKept(t *testing.T) {
	for _, tc := range []struct {
		name    string
		opt     testpeer.EndpointOptions
		restart bool
	}{
		{"PLI when forwarding", testpeer.EndpointOptions{DropFor: 300 * time.Millisecond, PLIOnForward: true}, false},
		{"PLIs on the track and when forwarding, and a new session", testpeer.EndpointOptions{DropFor: 300 * time.Millisecond, PLIOnTrack: true, PLIOnForward: true}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ep, r, p := dialEndpoint(t, tc.opt)
			defer p.Close()
			d, dropped := 3*time.Second, false
			if tc.restart {
				d = 6 * time.Second
			}
			err := r.run(t, p, d, func(el time.Duration) {
				if tc.restart && el > 2500*time.Millisecond && !dropped {
					dropped = true
					ep.Drop()
				}
			})
			if err != nil {
				t.Fatalf("Run: %v\n%s", err, r.logs)
			}
			sessions := 1
			if tc.restart {
				sessions = 2
			}
			if n := len(ep.SessionStarts()); n != sessions {
				t.Fatalf("%d sessions started, want %d\n%s", n, sessions, grep(r.logs.String(), "publish.whip"))
			}
			for s := 1; s <= sessions; s++ {
				first, keys := keyframeStart(t, ep, s)
				t.Logf("session %d: first keyframe kept %v (media time) after its first video; %d keyframes in its first 1.9 s", s, first, keys)
				// The bar (0.5 s) is the benchmark's; here only the order
				// is asserted: the keyframe kept is one asked for, well
				// before the next on the clock.
				if first < 0 || first >= time.Second {
					t.Errorf("session %d: first keyframe kept %v after the session's first video, want one asked for at once (< 1 s; the next on the clock is at 2 s)\n%s",
						s, first, grep(r.logs.String(), "keyframe"))
				}
				if keys != 2 {
					t.Errorf("session %d: %d keyframes in its first 1.9 s, want 2 (the first, dropped, and the one asked for)\n%s", s, keys, grep(r.logs.String(), "keyframe"))
				}
			}
		})
	}
}

// TestOneKeyframePerStart: an endpoint that keeps everything gets one
// keyframe at the session's start — also when it asks for one as soon as
// the track arrives, as many SFUs do: that request is answered by the
// keyframe arriving.
func TestOneKeyframePerStart(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  testpeer.EndpointOptions
	}{
		{"no PLI", testpeer.EndpointOptions{}},
		{"PLI on the track", testpeer.EndpointOptions{PLIOnTrack: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ep, r, p := dialEndpoint(t, tc.opt)
			defer p.Close()
			if err := r.run(t, p, 2500*time.Millisecond, nil); err != nil {
				t.Fatalf("Run: %v\n%s", err, r.logs)
			}
			first, keys := keyframeStart(t, ep, 1)
			if first != 0 {
				t.Errorf("the first keyframe kept is %v after the first video, want the first video itself", first)
			}
			if keys != 1 {
				t.Errorf("%d keyframes in the session's first 1.9 s, want 1\n%s", keys, grep(r.logs.String(), "keyframe"))
			}
		})
	}
}

// dialEndpoint starts an in-test endpoint with opt and dials it from a new
// rig.
func dialEndpoint(t *testing.T, opt testpeer.EndpointOptions) (*testpeer.WHIPEndpoint, *rig, *Publisher) {
	t.Helper()
	ep := testpeer.StartWHIPEndpoint(t, opt)
	r := newRig(t)
	p, err := Dial(context.Background(), r.config(strings.Replace(ep.URL, "http://", "whip://", 1)))
	if err != nil {
		t.Fatal(err)
	}
	return ep, r, p
}
