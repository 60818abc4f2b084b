package testpeer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/golive/golive/internal/testutil"
	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media/oggwriter"
	"github.com/pion/webrtc/v4/pkg/media/samplebuilder"
)

// The whip-whep example server of the pinned pion/webrtc: a WHIP ingest that
// forwards every packet it receives to all its WHEP viewers.
const (
	whipWHEPPkg  = "github.com/pion/webrtc/v4/examples/whip-whep"
	whipWHEPPort = 8080 // hard-coded in the example (":8080")
)

// WHEP viewer settings.
const (
	// whepStartTimeout bounds NewWHEP: the example server answers only
	// once its ICE gathering is complete, which can wait seconds for its
	// unreachable STUN server.
	whepStartTimeout = 15 * time.Second
	// whepPLIInterval is how often the viewer asks for a keyframe until one
	// arrives.
	whepPLIInterval = 2 * time.Second
	// whepMaxLate is how many packets the sample builder waits for a
	// missing (NACKed) one before it gives up on its frame.
	whepMaxLate = 256
)

// WHIPWHEP is pion's whip-whep example server, running. It listens on port
// 8080 of all interfaces (its only choice): POST /whip takes a publisher's
// offer, POST /whep a viewer's, each answered with 201 and a Location
// ("/whip", "/whep") once the server's ICE gathering is complete.
//
// What it does, as of pion/webrtc v4.2.18:
//   - It holds one video (H.264) and one audio (Opus) track for the whole
//     process: whatever the latest publisher sends goes to every viewer,
//     also to viewers that connected before the publisher. It forwards
//     RTP packets as they come (only header extensions stripped), so a
//     viewer sees the publisher's sequence numbers and timestamps.
//   - Its codecs have no fmtp line, so pion matches an offer's H.264 by MIME
//     type alone (a "partial" match): any profile and packetization mode
//     passes, and the answer repeats the offer's fmtp line. Its Opus is PT
//     97, but the answer keeps the offer's payload types.
//   - It sends the publisher a PLI every 3 s (intervalpli); it drops the
//     viewers' RTCP, so a viewer's PLI never reaches the publisher.
//   - Its peer connections use stun.l.google.com, so each answer waits
//     until that lookup gives up: at once where DNS fails fast (a few ms
//     in golive's sandbox), seconds where it times out. Its host
//     candidates exclude loopback, so the machine needs a non-loopback
//     interface (any: both ends are on it).
//   - It has no DELETE handler: a DELETE goes to the POST handler, which
//     panics on the empty offer (net/http recovers; the server stays up
//     and logs a stack trace). A session ends when its peer closes the
//     connection (DTLS close) or ICE fails.
type WHIPWHEP struct {
	dir string
	proc
	stopOnce sync.Once
	stopErr  error
}

// whipWHEPBuild is the example binary, built once per test binary: even
// with a warm build cache, linking it takes about a second.
var whipWHEPBuild struct {
	once sync.Once
	bin  string
	err  error
}

// StartWHIPWHEP builds (once per test binary) and starts the whip-whep
// example, waits until it accepts TCP connections on 127.0.0.1:8080 and
// stops it in t.Cleanup. It needs the go command; it fails the test if port
// 8080 is taken, since the example cannot use another port (so only one
// test at a time, in all packages, can have it).
func StartWHIPWHEP(t testing.TB) *WHIPWHEP {
	t.Helper()
	testutil.RequireTool(t, "go")
	bin, err := buildWHIPWHEP()
	if err != nil {
		t.Fatal(err)
	}
	// The example's port is fixed: tests of other packages running at the
	// same time (go test ./...) take turns.
	var perr error
	if !testutil.WaitFor(90*time.Second, 100*time.Millisecond, func() bool { perr = portAvailable(whipWHEPPort); return perr == nil }) {
		t.Fatalf("testpeer: start whip-whep: port %d is taken (another whip-whep, or a test using it, still running?) "+
			"and the example cannot listen elsewhere: %v", whipWHEPPort, perr)
	}
	w, err := startWHIPWHEP(bin)
	if err != nil {
		t.Fatal(err)
	}
	cleanup(t, "whip-whep", w.dir, w.logTail, w.Stop)
	return w
}

// buildWHIPWHEP builds the example from the module of the current
// directory, so with exactly the pion versions of go.mod. The binary's
// directory is left for the system's /tmp cleaning: nothing runs at the end
// of a test binary to remove it.
func buildWHIPWHEP() (string, error) {
	b := &whipWHEPBuild
	b.once.Do(func() {
		b.bin, b.err = goBuild(whipWHEPPkg, "whip-whep")
	})
	return b.bin, b.err
}

func goBuild(pkg, name string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	gomod, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("testpeer: build %s: go env GOMOD: %w", name, err)
	}
	mod := strings.TrimSpace(string(gomod))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("testpeer: build %s: not inside a Go module", name)
	}
	// One binary per set of module versions, kept between runs: nothing runs at the
	// end of a test binary to remove a temporary one.
	dir := filepath.Join(os.TempDir(), "golive-testbin")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("testpeer: build %s: %w", name, err)
	}
	bin := filepath.Join(dir, name+"-"+modVersion(mod))
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	tmp, err := os.CreateTemp(dir, name+"-*.tmp")
	if err != nil {
		return "", fmt.Errorf("testpeer: build %s: %w", name, err)
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	cmd := exec.CommandContext(ctx, "go", "build", "-o", tmp.Name(), pkg)
	cmd.Dir = filepath.Dir(mod)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("testpeer: build %s: go build %s: %w\n%s", name, pkg, err, bytes.TrimSpace(out))
	}
	if err := os.Rename(tmp.Name(), bin); err != nil { // atomic: parallel test binaries may race here
		return "", fmt.Errorf("testpeer: build %s: %w", name, err)
	}
	return bin, nil
}

// portAvailable reports, as an error, whether something is bound to TCP
// port on any address.
func portAvailable(port int) error {
	l, err := net.Listen("tcp", ":"+strconv.Itoa(port))
	if err != nil {
		return err
	}
	return l.Close()
}

func startWHIPWHEP(bin string) (w *WHIPWHEP, err error) {
	dir, err := os.MkdirTemp("", "golive-whip-whep-")
	if err != nil {
		return nil, fmt.Errorf("testpeer: start whip-whep: %w", err)
	}
	w = &WHIPWHEP{dir: dir}
	defer func() {
		if err != nil {
			w.Stop() // its error is about the process we are reporting on
		}
	}()
	logf, err := os.Create(filepath.Join(dir, "whip-whep.log"))
	if err != nil {
		return w, fmt.Errorf("testpeer: start whip-whep: %w", err)
	}
	defer logf.Close() // the child has its own copy
	cmd := exec.Command(bin)
	cmd.Dir = dir // it serves its working directory on /
	cmd.Stdout, cmd.Stderr = logf, logf
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(whipWHEPPort))
	err = w.start("whip-whep", cmd, 10*time.Second, func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return false
		}
		c.Close()
		return true
	}, w.logTail)
	return w, err
}

// WHIPURL returns the URL a WHIP publisher posts its offer to.
func (w *WHIPWHEP) WHIPURL() string {
	return fmt.Sprintf("http://127.0.0.1:%d/whip", whipWHEPPort)
}

// WHEPURL returns the URL a WHEP viewer posts its offer to.
func (w *WHIPWHEP) WHEPURL() string {
	return fmt.Sprintf("http://127.0.0.1:%d/whep", whipWHEPPort)
}

// Dir returns the server's temporary directory (its working directory and
// whip-whep.log).
func (w *WHIPWHEP) Dir() string { return w.dir }

// Log returns what the server printed: a line per request and per ICE
// state change, and the stack traces of recovered handler panics.
func (w *WHIPWHEP) Log() string {
	b, _ := os.ReadFile(filepath.Join(w.dir, "whip-whep.log"))
	return string(b)
}

func (w *WHIPWHEP) logTail() string {
	return tail(w.Log())
}

// Stop stops the server (SIGTERM, then SIGKILL after 5 s) and removes its
// directory unless GOLIVE_KEEP_PEER=1. It is safe to call more than once;
// a server that had exited on its own (a panic outside a handler, such as
// a failed forward) is reported as an error with its log.
func (w *WHIPWHEP) Stop() error {
	w.stopOnce.Do(func() { w.stopErr = w.stop() })
	return w.stopErr
}

func (w *WHIPWHEP) stop() error {
	return w.shutdown("whip-whep", syscall.SIGTERM, w.dir, w.logTail)
}

// newWHIPAPI returns a pion API with the codecs a browser offers first
// (H.264 constrained baseline packetization-mode 1 as PT 96, Opus as 111)
// and pion's default interceptors (NACK, RTCP reports, TWCC). Both the WHEP
// viewer and the tests' WHIP publisher use it, so they match golive's
// publisher rather than pion's long default codec list.
func newWHIPAPI() (*webrtc.API, error) {
	m := &webrtc.MediaEngine{}
	if err := m.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: h264Capability,
		PayloadType:        96,
	}, webrtc.RTPCodecTypeVideo); err != nil {
		return nil, err
	}
	if err := m.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: opusCapability,
		PayloadType:        111,
	}, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, err
	}
	ir := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(m, ir); err != nil {
		return nil, err
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(ir)), nil
}

var (
	h264Capability = webrtc.RTPCodecCapability{
		MimeType:    webrtc.MimeTypeH264,
		ClockRate:   90000,
		SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
		RTCPFeedback: []webrtc.RTCPFeedback{
			{Type: "nack"}, {Type: "nack", Parameter: "pli"}, {Type: "ccm", Parameter: "fir"},
		},
	}
	opusCapability = webrtc.RTPCodecCapability{
		MimeType:    webrtc.MimeTypeOpus,
		ClockRate:   48000,
		Channels:    2,
		SDPFmtpLine: "minptime=10;useinbandfec=1",
	}
)

// postOffer does the WHIP/WHEP exchange: it posts offer to url and returns
// the answer and the session's URL (the Location, resolved against url;
// empty when the server sent none).
func postOffer(ctx context.Context, url, offer string) (answer, location string, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(offer))
	if err != nil {
		return "", "", err
	}
	req.Header.Set("Content-Type", "application/sdp")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", "", fmt.Errorf("read answer: %w", err)
	}
	if resp.StatusCode != http.StatusCreated {
		return "", "", fmt.Errorf("server answered %s, want 201 Created: %.200q", resp.Status, body)
	}
	if loc := resp.Header.Get("Location"); loc != "" {
		u, err := resp.Request.URL.Parse(loc)
		if err != nil {
			return "", "", fmt.Errorf("bad Location %q: %w", loc, err)
		}
		location = u.String()
	}
	return string(body), location, nil
}

// WHEPStats is what a WHEPReceiver has seen so far.
type WHEPStats struct {
	VideoPackets int // RTP packets, retransmissions included
	AudioPackets int
	// VideoFrames counts distinct RTP timestamps, in arrival order: a
	// packet of an earlier frame (a late retransmission) is not a new one.
	VideoFrames int
	// FirstVideo and FirstKeyframe are when the first video packet, and the
	// first packet of the first IDR picture, arrived; zero until then.
	FirstVideo    time.Time
	FirstKeyframe time.Time
	// MaxFrameGap is the longest wall-clock time between the first packets
	// of two consecutive frames: a freeze as a viewer would see it.
	MaxFrameGap time.Duration
	// Connected is whether the peer connection is connected now.
	Connected bool
}

// WHEPReceiver is a WebRTC viewer (WHEP client) in the test process. It
// records the H.264 it receives as Annex B to H264Path(), from the first
// keyframe on so that the file decodes from its start, and the Opus as Ogg
// to OggPath(); Stats says what arrived when. Until the first keyframe it
// sends a PLI every 2 s. Stop it with Close.
type WHEPReceiver struct {
	dir      string
	pc       *webrtc.PeerConnection
	location string // the session's URL, for the DELETE; empty if none
	h264     *os.File
	ogg      *oggwriter.OggWriter
	done     chan struct{} // closed by Close: ends the PLI loops
	tracks   sync.WaitGroup
	connect  chan struct{} // closed on the first connected state
	failed   chan struct{} // closed on the first failed state
	// stateOnce closes connect and failed; closeOnce runs close.
	stateOnce [2]sync.Once
	closeOnce sync.Once
	closeErr  error

	mu     sync.Mutex
	closed bool // no more tracks are taken
	stats  WHEPStats
	frames frameCounter
	err    error // the first error writing a file, for Close
}

// StartWHEP starts a viewer for a test (NewWHEP): it fails the test if the
// viewer does not connect, and closes it in t.Cleanup (Close may also be
// called earlier, to read the recordings).
func StartWHEP(t testing.TB, url, dir string) *WHEPReceiver {
	t.Helper()
	r, err := NewWHEP(url, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// NewWHEP starts a viewer of the WHEP endpoint url that records into dir
// (created if needed). It offers receive-only H.264 and Opus after its ICE
// gathering is complete (no trickle), and returns once the connection is
// up: 15 s at most, most of it the server's answer (see WHIPWHEP).
func NewWHEP(url string, dir string) (r *WHEPReceiver, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), whepStartTimeout)
	defer cancel()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("testpeer: whep %s: %w", url, err)
	}
	api, err := newWHIPAPI()
	if err != nil {
		return nil, fmt.Errorf("testpeer: whep %s: media engine: %w", url, err)
	}
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, fmt.Errorf("testpeer: whep %s: %w", url, err)
	}
	r = &WHEPReceiver{
		dir:     dir,
		pc:      pc,
		done:    make(chan struct{}),
		connect: make(chan struct{}),
		failed:  make(chan struct{}),
	}
	defer func() {
		if err != nil {
			r.Close()
			r = nil
		}
	}()
	if r.h264, err = os.Create(r.H264Path()); err != nil {
		return r, fmt.Errorf("testpeer: whep %s: %w", url, err)
	}
	if r.ogg, err = oggwriter.New(r.OggPath(), 48000, 2); err != nil {
		return r, fmt.Errorf("testpeer: whep %s: %w", url, err)
	}
	for _, kind := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecTypeAudio} {
		if _, err := pc.AddTransceiverFromKind(kind, webrtc.RTPTransceiverInit{
			Direction: webrtc.RTPTransceiverDirectionRecvonly,
		}); err != nil {
			return r, fmt.Errorf("testpeer: whep %s: add %s transceiver: %w", url, kind, err)
		}
	}
	pc.OnConnectionStateChange(r.onState)
	pc.OnTrack(r.onTrack)

	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return r, fmt.Errorf("testpeer: whep %s: create offer: %w", url, err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		return r, fmt.Errorf("testpeer: whep %s: set offer: %w", url, err)
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return r, fmt.Errorf("testpeer: whep %s: ICE gathering not complete after %v", url, whepStartTimeout)
	}
	answer, location, err := postOffer(ctx, url, pc.LocalDescription().SDP)
	if err != nil {
		return r, fmt.Errorf("testpeer: whep %s: post offer: %w", url, err)
	}
	r.location = location
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		return r, fmt.Errorf("testpeer: whep %s: set answer: %w", url, err)
	}
	select {
	case <-r.connect:
		return r, nil
	case <-r.failed:
		return r, fmt.Errorf("testpeer: whep %s: connection failed (ICE or DTLS)", url)
	case <-ctx.Done():
		return r, fmt.Errorf("testpeer: whep %s: not connected %v after start", url, whepStartTimeout)
	}
}

func (r *WHEPReceiver) onState(s webrtc.PeerConnectionState) {
	r.mu.Lock()
	r.stats.Connected = s == webrtc.PeerConnectionStateConnected
	r.mu.Unlock()
	switch s {
	case webrtc.PeerConnectionStateConnected:
		r.stateOnce[0].Do(func() { close(r.connect) })
	case webrtc.PeerConnectionStateFailed:
		r.stateOnce[1].Do(func() { close(r.failed) })
	}
}

// onTrack runs in a goroutine of its own (pion starts one per track); it
// reads the track until the connection closes.
func (r *WHEPReceiver) onTrack(track *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.tracks.Add(1)
	r.mu.Unlock()
	defer r.tracks.Done()
	switch track.Kind() {
	case webrtc.RTPCodecTypeVideo:
		r.tracks.Add(1)
		go func() {
			defer r.tracks.Done()
			r.requestKeyframes(track.SSRC())
		}()
		r.readVideo(track)
	case webrtc.RTPCodecTypeAudio:
		r.readAudio(track)
	}
}

// requestKeyframes sends a PLI now and every whepPLIInterval until a
// keyframe has arrived: a viewer joining a running stream has nothing to
// decode until the next IDR.
func (r *WHEPReceiver) requestKeyframes(ssrc webrtc.SSRC) {
	t := time.NewTicker(whepPLIInterval)
	defer t.Stop()
	for r.Stats().FirstKeyframe.IsZero() {
		_ = r.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: uint32(ssrc)}})
		select {
		case <-r.done:
			return
		case <-t.C:
		}
	}
}

func (r *WHEPReceiver) readVideo(track *webrtc.TrackRemote) {
	sb := samplebuilder.New(whepMaxLate, &codecs.H264Packet{}, 90000)
	rec := h264Recorder{w: r.h264}
	write := func() {
		for s := sb.Pop(); s != nil; s = sb.Pop() {
			if err := rec.write(s.Data); err != nil {
				r.fail(err)
			}
		}
	}
	for {
		pkt, _, err := track.ReadRTP()
		if err != nil {
			break // the connection closed
		}
		r.mu.Lock()
		r.frames.packet(&r.stats, pkt.Timestamp, h264Keyframe(pkt.Payload), time.Now())
		r.mu.Unlock()
		sb.Push(pkt)
		write()
	}
	sb.Flush() // the last frame waits for a packet of the next one
	write()
}

func (r *WHEPReceiver) readAudio(track *webrtc.TrackRemote) {
	for {
		pkt, _, err := track.ReadRTP()
		if err != nil {
			return // the connection closed
		}
		r.mu.Lock()
		r.stats.AudioPackets++
		r.mu.Unlock()
		if err := r.ogg.WriteRTP(pkt); err != nil {
			r.fail(err)
		}
	}
}

func (r *WHEPReceiver) fail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err == nil {
		r.err = err
	}
}

// Stats returns what has arrived so far.
func (r *WHEPReceiver) Stats() WHEPStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stats
}

// H264Path returns the file the video is recorded to (Annex B, from the
// first keyframe on); it is complete after Close.
func (r *WHEPReceiver) H264Path() string { return filepath.Join(r.dir, "received.h264") }

// OggPath returns the file the audio is recorded to (Ogg Opus, 48 kHz
// stereo); it is complete after Close. Its header has pion's pre-skip of
// 3840 samples, so it decodes to 4 frames (80 ms) fewer than it holds.
func (r *WHEPReceiver) OggPath() string { return filepath.Join(r.dir, "received.ogg") }

// Close ends the session and completes the files. The DELETE of the
// session is best effort and its failure is no error (the example server
// has no DELETE). It is safe to call more than once and returns the first
// call's result: an error closing the connection or writing the files.
func (r *WHEPReceiver) Close() error {
	r.closeOnce.Do(func() { r.closeErr = r.close() })
	return r.closeErr
}

func (r *WHEPReceiver) close() error {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	close(r.done)
	if r.location != "" {
		r.deleteSession()
	}
	var errs []error
	if err := r.pc.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close peer connection: %w", err))
	}
	r.tracks.Wait() // no more writes to the files
	if r.h264 != nil {
		if err := r.h264.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	if r.ogg != nil {
		if err := r.ogg.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close %s: %w", r.OggPath(), err))
		}
	}
	r.mu.Lock()
	if r.err != nil {
		errs = append(errs, fmt.Errorf("record: %w", r.err))
	}
	r.mu.Unlock()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("testpeer: close whep viewer: %w", err)
	}
	return nil
}

func (r *WHEPReceiver) deleteSession() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, r.location, nil)
	if err != nil {
		return
	}
	if resp, err := http.DefaultClient.Do(req); err == nil {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

// frameCounter turns video packet arrivals into WHEPStats' frame fields.
type frameCounter struct {
	lastTS    uint32
	lastFrame time.Time
}

// packet counts a video packet with RTP timestamp ts that arrived at now;
// keyframe says it is part of an IDR picture.
func (f *frameCounter) packet(s *WHEPStats, ts uint32, keyframe bool, now time.Time) {
	s.VideoPackets++
	if s.FirstKeyframe.IsZero() && keyframe {
		s.FirstKeyframe = now
	}
	switch {
	case s.VideoFrames == 0:
		s.FirstVideo = now
	case int32(ts-f.lastTS) <= 0: // this frame's, or an earlier one's (wraps around)
		return
	default:
		s.MaxFrameGap = max(s.MaxFrameGap, now.Sub(f.lastFrame))
	}
	s.VideoFrames++
	f.lastTS, f.lastFrame = ts, now
}

// h264Keyframe reports whether an RTP payload (RFC 6184) carries the start
// of an IDR slice: a single NAL unit, a STAP-A holding one, or the first
// fragment of a FU-A.
func h264Keyframe(payload []byte) bool {
	if len(payload) == 0 {
		return false
	}
	switch typ := payload[0] & 0x1f; typ {
	case 5:
		return true
	case 24: // STAP-A: 16-bit sizes, then NAL units
		for p := payload[1:]; len(p) > 2; {
			n := int(p[0])<<8 | int(p[1])
			if n == 0 || len(p) < 2+n {
				return false
			}
			if p[2]&0x1f == 5 {
				return true
			}
			p = p[2+n:]
		}
	case 28: // FU-A: start bit and the fragmented unit's type
		return len(payload) > 1 && payload[1]&0x80 != 0 && payload[1]&0x1f == 5
	}
	return false
}

// h264Recorder writes Annex B access units from the first one with an IDR
// on, so that the file starts where a decoder can; if that access unit has
// no parameter sets, it writes the latest ones seen before it.
type h264Recorder struct {
	w        io.Writer
	started  bool
	sps, pps []byte
}

func (h *h264Recorder) write(au []byte) error {
	if !h.started {
		idr, sps, pps := false, false, false
		for _, nal := range splitAnnexB(au) {
			switch nal[0] & 0x1f {
			case 5:
				idr = true
			case 7:
				h.sps, sps = nal, true
			case 8:
				h.pps, pps = nal, true
			}
		}
		if !idr {
			return nil
		}
		h.started = true
		var prefix []byte
		if !sps && h.sps != nil {
			prefix = append(append(prefix, 0, 0, 0, 1), h.sps...)
		}
		if !pps && h.pps != nil {
			prefix = append(append(prefix, 0, 0, 0, 1), h.pps...)
		}
		au = append(prefix, au...)
	}
	_, err := h.w.Write(au)
	return err
}

// splitAnnexB returns the NAL units of an Annex B byte stream (3- or 4-byte
// start codes), without their start codes; empty units are left out.
func splitAnnexB(b []byte) [][]byte {
	var nals [][]byte
	start := -1 // of the current unit
	for i := 0; i+2 < len(b); {
		if b[i] != 0 || b[i+1] != 0 || b[i+2] != 1 {
			i++
			continue
		}
		if start >= 0 {
			end := i
			if end > start && b[end-1] == 0 { // a 4-byte start code
				end--
			}
			if end > start {
				nals = append(nals, b[start:end])
			}
		}
		i += 3
		start = i
	}
	if start >= 0 && start < len(b) {
		nals = append(nals, b[start:])
	}
	return nals
}

// modVersion names the dependencies' versions: a hash of go.sum.
func modVersion(gomod string) string {
	b, err := os.ReadFile(strings.TrimSuffix(gomod, ".mod") + ".sum")
	if err != nil {
		return "unknown"
	}
	return fmt.Sprintf("%x", sha256.Sum256(b))[:12]
}
