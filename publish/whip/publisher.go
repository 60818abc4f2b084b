package whip

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/dtls/v3/pkg/crypto/elliptic"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/cc"
	"github.com/pion/interceptor/pkg/gcc"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	"github.com/golive/golive/media"
	"github.com/golive/golive/media/h264"
	"github.com/golive/golive/publish"
	"github.com/golive/golive/publish/whip/sdpfrag"
)

// Config configures a Publisher.
type Config struct {
	URL    string
	AsWHIP bool   // --protocol whip: http(s):// URLs are WHIP endpoints
	Token  string // bearer token; never logged
	// ICEServers from --ice-server; the endpoint's Link headers add theirs.
	ICEServers []webrtc.ICEServer
	// Timeout bounds connecting: the HTTP exchange and ICE + DTLS (10 s
	// when zero). GatherTimeout bounds ICE gathering before the offer is
	// sent (2 s when zero; host candidates take milliseconds; negative:
	// send the offer at once, for endpoints known to take trickle).
	Timeout, GatherTimeout time.Duration
	// DeadAfter: ICE fails this long after it found itself disconnected
	// (after min(3 s, DeadAfter/2) without a packet from the endpoint):
	// 8 s when zero; pion's default is 25 s.
	DeadAfter time.Duration
	Video     media.VideoConfig
	Audio     *media.AudioConfig // Opus; nil: no audio
	// QueueBudget: media time that may wait (3 s when zero); DrainTimeout
	// bounds the sending of what is queued at a clean stop.
	QueueBudget, DrainTimeout time.Duration
	// MinBitrate and MaxBitrate bound the bandwidth estimate (the video
	// bitrate / 4 and × 1.5 when zero).
	MinBitrate, MaxBitrate int
	// InitialEstimate is GCC's first estimate (0: StartEstimate of the
	// video's bitrate).
	InitialEstimate int
	Clock           *media.Clock
	Keyframes       media.KeyframeRequester // asked on PLI/FIR and after drops
	Logger          *slog.Logger
	UserAgent       string
	HTTPClient      *http.Client // nil: one with Timeout for connecting
	// Reconnect: what to do when the session fails for good (after an ICE
	// restart was tried) once live.
	Reconnect publish.Reconnect
	// OnLive is told when the session is lost (false) and back (true).
	OnLive func(live bool)
}

const (
	ptH264, ptRTX, ptOpus = 96, 97, 111
	mtu                   = 1200
	// keyframeGap: PLIs/FIRs closer than this ask for one keyframe (but
	// see startKeyframe).
	keyframeGap = 500 * time.Millisecond
	// trackArrivalSlack: a PLI/FIR arriving within the round-trip time
	// plus this of a session's first video packet was sent when that
	// packet arrived, the keyframe it starts being on its way (see
	// onKeyRequest). It covers the endpoint's own reaction time.
	trackArrivalSlack = 150 * time.Millisecond
)

// Publisher sends packets to one WHIP endpoint. WritePacket never blocks:
// packets wait in a queue bounded in media time that Run drains. An ICE or
// DTLS failure opens a new session (the queue waits, video restarts on a
// keyframe).
type Publisher struct {
	cfg      Config
	log      *slog.Logger
	sig      *signaller
	queue    *publish.Queue
	fmtp     string
	started  time.Time
	sessions atomic.Int64
	restarts atomic.Int64 // ICE restarts that worked

	mu   sync.Mutex
	sess *session
	// Link ICE servers the endpoint gave, for the next session.
	linkServers []webrtc.ICEServer

	bytes, packets atomic.Int64
	latency        publish.Latency
	estimate       atomic.Int64
	pace           pacer // Run's goroutine
	lossPPM        atomic.Int64
	rtt            atomic.Int64
	lastKeyReq     atomic.Int64 // unix nanoseconds
	firstSent      atomic.Bool  // the first video packet went out (logged once)
}

// session is one PeerConnection and its WHIP resource.
type session struct {
	pc             *webrtc.PeerConnection
	video, audio   *webrtc.TrackLocalStaticRTP
	resource       *url.URL
	etag           string
	trickle        bool
	bwe            cc.BandwidthEstimator
	fmu            sync.Mutex
	failed         chan struct{} // closed when ICE or DTLS fails
	failState      webrtc.PeerConnectionState
	pay            codecs.H264Payloader
	vseq, aseq     uint16
	vts0, ats0     uint32
	sps, pps       [][]byte
	twcc           atomic.Bool // the endpoint takes transport-cc: GCC runs
	closed         atomic.Bool
	done           chan struct{} // closed with the session
	lateCandidates chan string

	// firstVideo: when the session's first video packet (the start of
	// its first keyframe) was sent, unix ns; 0 until then.
	firstVideo atomic.Int64
	// startKeyframe: the session's start-up keyframe request was
	// answered (see onKeyRequest).
	startKeyframe atomic.Bool
}

// Dial opens a WHIP session and waits until media can flow (ICE and DTLS
// connected), within cfg.Timeout. Errors: publish.ErrBadURL,
// ErrUnauthorized (401/403) or ErrConnect (unreachable, timeout, another
// refusal, naming its status).
func Dial(ctx context.Context, cfg Config) (*Publisher, error) {
	p, err := newPublisher(cfg)
	if err != nil {
		return nil, err
	}
	s, err := p.open(ctx)
	if err != nil && p.cfg.Reconnect.Wait && p.cfg.Reconnect.Retryable(err) && ctx.Err() == nil {
		p.log.Warn("cannot publish yet: waiting for the endpoint (--wait-for-server)", "error", err)
		_, err = p.cfg.Reconnect.Retry(ctx, p.log, nil, func(ctx context.Context, _ time.Duration) (err error) {
			s, err = p.open(ctx)
			return err
		})
	}
	if err != nil {
		return nil, err
	}
	p.sess = s
	p.log.Info("publishing", "url", publish.Redact(p.sig.endpoint.String()), "session", redactResource(s.resource),
		"trickle", s.trickle, "profile_level_id", hex.EncodeToString(p.cfg.Video.Record[1:4]))
	return p, nil
}

// Check asks the endpoint for a session — the offer answered — and ends it
// at once with DELETE: no media is sent and nothing goes on air. Errors are
// those of Dial (publish.ErrConnect, ErrUnauthorized, ErrBadURL).
func Check(ctx context.Context, cfg Config) error {
	p, err := newPublisher(cfg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	s, err := p.newPeer()
	if err != nil {
		return err
	}
	defer p.closeSession(s, false)
	res, _, err := p.offer(ctx, s)
	if err != nil {
		return err
	}
	if res.resource == nil {
		p.log.Warn("the endpoint gave no Location: the checked session cannot be ended with DELETE")
		return nil
	}
	if err := p.sig.remove(ctx, res.resource); err != nil {
		p.log.Warn("ending the checked session", "error", err)
	}
	return nil
}

// newPublisher checks cfg, fills its defaults and makes a Publisher that
// has no session yet.
func newPublisher(cfg Config) (*Publisher, error) {
	if cfg.Clock == nil {
		return nil, errors.New("whip: Config.Clock is required")
	}
	if cfg.Video.Codec != media.CodecH264 || len(cfg.Video.Record) < 4 {
		return nil, errors.New("whip: H.264 with its configuration record is required")
	}
	if cfg.Audio != nil && cfg.Audio.Codec != media.CodecOpus {
		return nil, fmt.Errorf("whip: audio must be Opus, not %s", cfg.Audio.Codec)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.GatherTimeout == 0 {
		cfg.GatherTimeout = 2 * time.Second
	}
	if cfg.DeadAfter <= 0 {
		cfg.DeadAfter = 8 * time.Second
	}
	if cfg.DrainTimeout <= 0 {
		cfg.DrainTimeout = 3 * time.Second
	}
	if cfg.MinBitrate <= 0 {
		cfg.MinBitrate = max(cfg.Video.Bitrate/4, 100_000)
	}
	if cfg.MaxBitrate <= 0 {
		cfg.MaxBitrate = cfg.Video.Bitrate * 3 / 2
	}
	if cfg.InitialEstimate <= 0 {
		cfg.InitialEstimate = StartEstimate(cfg.Video.Bitrate, cfg.MinBitrate)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.Logger = cfg.Logger.With("component", "publish.whip")
	endpoint, err := Endpoint(cfg.URL, cfg.AsWHIP)
	if err != nil {
		return nil, err
	}
	rec := cfg.Video.Record
	p := &Publisher{
		cfg: cfg, log: cfg.Logger, started: time.Now(),
		sig:   newSignaller(endpoint, cfg.Token, cfg.UserAgent, cfg.Timeout, cfg.HTTPClient),
		queue: publish.NewQueue(cfg.QueueBudget, cfg.Keyframes, cfg.Logger),
		// profile_idc, constraint flags and level_idc, as the SPS has them.
		fmtp: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=" + hex.EncodeToString(rec[1:4]),
	}
	p.estimate.Store(int64(cfg.InitialEstimate))
	if len(cfg.ICEServers) > 0 && cfg.GatherTimeout > 0 {
		p.cfg.Reconnect.MinAttempt = max(p.cfg.Reconnect.MinAttempt, cfg.GatherTimeout+3*time.Second)
	}
	return p, nil
}

func redactResource(u *url.URL) string {
	if u == nil {
		return "(none)"
	}
	return publish.Redact(u.String())
}

// open makes a PeerConnection, does the offer/answer exchange and waits
// for ICE and DTLS, within the connect timeout.
func (p *Publisher) open(ctx context.Context) (s *session, err error) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	s, err = p.newPeer()
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			p.closeSession(s, false)
		}
	}()
	res, local, err := p.offer(ctx, s)
	if err != nil {
		return nil, err
	}
	s.resource, s.etag, s.trickle = res.resource, res.etag, res.trickle
	if s.resource == nil {
		p.log.Warn("the endpoint gave no Location: the session cannot be ended with DELETE")
	}
	if len(res.servers) > 0 {
		p.mu.Lock()
		p.linkServers = res.servers
		p.mu.Unlock()
		p.log.Info("ICE servers from the endpoint (used for ICE restarts and new sessions)", "count", len(res.servers))
	}
	if err := s.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: res.answer}); err != nil {
		return nil, fmt.Errorf("%w: %s: the endpoint's answer: %w", publish.ErrConnect, publish.Redact(p.sig.endpoint.String()), err)
	}
	if s.trickle {
		go p.trickle(s, local)
	}
	// Wait for ICE and DTLS.
	for {
		switch st := s.pc.ConnectionState(); st {
		case webrtc.PeerConnectionStateConnected:
			p.sessions.Add(1)
			go p.readRTCP(s)
			return s, nil
		case webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateClosed:
			return nil, fmt.Errorf("%w: %s: ICE/DTLS %s", publish.ErrConnect, publish.Redact(p.sig.endpoint.String()), st)
		}
		select {
		case <-ctx.Done():
			return nil, p.connectErr(ctx, "connecting media (ICE "+s.pc.ICEConnectionState().String()+")")
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// offer makes s's offer, gathers ICE candidates (GatherTimeout at most)
// and posts it; it returns the endpoint's answer and the offer sent.
func (p *Publisher) offer(ctx context.Context, s *session) (*offerResult, string, error) {
	gathered := webrtc.GatheringCompletePromise(s.pc)
	offer, err := s.pc.CreateOffer(nil)
	if err != nil {
		return nil, "", fmt.Errorf("whip: offer: %w", err)
	}
	if err := s.pc.SetLocalDescription(offer); err != nil {
		return nil, "", fmt.Errorf("whip: offer: %w", err)
	}
	if p.cfg.GatherTimeout > 0 {
		select {
		case <-gathered:
		case <-time.After(p.cfg.GatherTimeout):
			p.log.Info("ICE gathering still going: sending what is gathered", "after", p.cfg.GatherTimeout)
		case <-ctx.Done():
			return nil, "", p.connectErr(ctx, "gathering ICE candidates")
		}
	}
	local := s.pc.LocalDescription()
	res, err := p.sig.offer(ctx, local.SDP)
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, publish.ErrConnect) && !isHTTPError(err) {
			return nil, "", p.connectErr(ctx, "waiting for the endpoint's answer")
		}
		return nil, "", err
	}
	return res, local.SDP, nil
}

func isHTTPError(err error) bool {
	var h *HTTPError
	return errors.As(err, &h)
}

func (p *Publisher) connectErr(ctx context.Context, doing string) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%w: %s: timed out after %v %s", publish.ErrConnect, publish.Redact(p.sig.endpoint.String()), p.cfg.Timeout, doing)
	}
	return ctx.Err()
}

// newPeer builds the PeerConnection: codecs, interceptors, tracks.
func (p *Publisher) newPeer() (*session, error) {
	m := &webrtc.MediaEngine{}
	fb := []webrtc.RTCPFeedback{{Type: "nack"}, {Type: "nack", Parameter: "pli"}, {Type: "ccm", Parameter: "fir"}, {Type: webrtc.TypeRTCPFBTransportCC}}
	vcap := webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000, SDPFmtpLine: p.fmtp, RTCPFeedback: fb}
	acap := webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2,
		SDPFmtpLine: "minptime=10;useinbandfec=1;stereo=1;sprop-stereo=1", RTCPFeedback: []webrtc.RTCPFeedback{{Type: webrtc.TypeRTCPFBTransportCC}}}
	for _, c := range []struct {
		p webrtc.RTPCodecParameters
		t webrtc.RTPCodecType
	}{
		{webrtc.RTPCodecParameters{RTPCodecCapability: vcap, PayloadType: ptH264}, webrtc.RTPCodecTypeVideo},
		{webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeRTX, ClockRate: 90000, SDPFmtpLine: fmt.Sprintf("apt=%d", ptH264)}, PayloadType: ptRTX}, webrtc.RTPCodecTypeVideo},
		{webrtc.RTPCodecParameters{RTPCodecCapability: acap, PayloadType: ptOpus}, webrtc.RTPCodecTypeAudio},
	} {
		if err := m.RegisterCodec(c.p, c.t); err != nil {
			return nil, fmt.Errorf("whip: codec: %w", err)
		}
	}
	s := &session{}
	ir := &interceptor.Registry{}
	responder, err := nack.NewResponderInterceptor(nack.ResponderSize(4096)) // ~3 s of 720p video
	if err != nil {
		return nil, err
	}
	// Before the responder, whose NACKs it thins.
	ir.Add(nackLimitFactory{rtt: func() time.Duration { return time.Duration(p.rtt.Load()) }, rate: func() int { return p.paceRate(s) }})
	ir.Add(responder)
	if err := webrtc.ConfigureRTCPReports(ir); err != nil {
		return nil, err
	}
	bweCh := make(chan cc.BandwidthEstimator, 1)
	ccf, err := cc.NewInterceptor(func() (cc.BandwidthEstimator, error) {
		return gcc.NewSendSideBWE(
			gcc.SendSideBWEInitialBitrate(p.cfg.InitialEstimate),
			gcc.SendSideBWEMinBitrate(p.cfg.MinBitrate), gcc.SendSideBWEMaxBitrate(p.cfg.MaxBitrate),
			// Not pion's pacer: golive paces video itself (pace.go).
			gcc.SendSideBWEPacer(gcc.NewNoOpPacer()))
	})
	if err != nil {
		return nil, err
	}
	ccf.OnNewPeerConnection(func(_ string, e cc.BandwidthEstimator) {
		select {
		case bweCh <- e:
		default:
		}
	})
	ir.Add(twccGate{ccf, &s.twcc})
	// After GCC, so that its writer runs first and the sequence number is
	// in the header when GCC records the packet.
	if err := webrtc.ConfigureTWCCHeaderExtensionSender(m, ir); err != nil {
		return nil, err
	}

	se := webrtc.SettingEngine{LoggerFactory: pionLogs{p.log}}
	se.SetIncludeLoopbackCandidate(true) // a server on this machine, a test namespace
	se.SetSTUNGatherTimeout(max(p.cfg.GatherTimeout, 2*time.Second))
	// Notice a dead path in seconds, not pion's default 25 s.
	se.SetICETimeouts(min(3*time.Second, p.cfg.DeadAfter/2), p.cfg.DeadAfter, min(time.Second, p.cfg.DeadAfter/4))
	se.SetDTLSEllipticCurves(elliptic.X25519, elliptic.P256, elliptic.P384)
	api := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se))

	p.mu.Lock()
	servers := append(append([]webrtc.ICEServer(nil), p.cfg.ICEServers...), p.linkServers...)
	p.mu.Unlock()
	pc, err := api.NewPeerConnection(webrtc.Configuration{ICEServers: servers, BundlePolicy: webrtc.BundlePolicyMaxBundle})
	if err != nil {
		return nil, fmt.Errorf("whip: %w", err)
	}
	s.pc, s.failed, s.done, s.lateCandidates = pc, make(chan struct{}), make(chan struct{}), make(chan string, 16)
	s.vseq, s.aseq, s.vts0, s.ats0 = uint16(rand.Uint32()), uint16(rand.Uint32()), rand.Uint32(), rand.Uint32()
	s.sps, s.pps, err = h264.ParseConfigRecord(p.cfg.Video.Record)
	if err != nil {
		pc.Close()
		return nil, fmt.Errorf("whip: %w", err)
	}
	add := func(c webrtc.RTPCodecCapability, id string) (*webrtc.TrackLocalStaticRTP, error) {
		t, err := webrtc.NewTrackLocalStaticRTP(c, id, "golive")
		if err != nil {
			return nil, err
		}
		_, err = pc.AddTransceiverFromTrack(t, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
		return t, err
	}
	if p.cfg.Audio != nil {
		if s.audio, err = add(acap, "audio"); err != nil {
			pc.Close()
			return nil, fmt.Errorf("whip: audio track: %w", err)
		}
	}
	if s.video, err = add(vcap, "video"); err != nil {
		pc.Close()
		return nil, fmt.Errorf("whip: video track: %w", err)
	}
	select {
	case s.bwe = <-bweCh:
	default:
	}
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		p.log.Debug("connection state", "state", st.String())
		// Failed: ICE found no path, or DTLS broke. Closed without our
		// asking: the endpoint ended DTLS (close_notify), e.g. it restarted.
		if st == webrtc.PeerConnectionStateFailed || (st == webrtc.PeerConnectionStateClosed && !s.closed.Load()) {
			s.fail(st)
		}
	})
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		line := "a=end-of-candidates"
		if c != nil {
			line = "a=" + c.ToJSON().Candidate
		}
		select {
		case s.lateCandidates <- line:
		default:
		}
	})
	return s, nil
}

// fail marks the session failed (once until rearm).
func (s *session) fail(st webrtc.PeerConnectionState) {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	if s.failState == 0 {
		s.failState = st
		close(s.failed)
	}
}

// failure is closed when the session fails; how it failed.
func (s *session) failure() (<-chan struct{}, webrtc.PeerConnectionState) {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	return s.failed, s.failState
}

// rearm makes a restarted session watchable again.
func (s *session) rearm() {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	if s.failState != 0 {
		s.failState = 0
		s.failed = make(chan struct{})
	}
}

// twccGate runs GCC only on streams whose endpoint negotiated the
// transport-cc header extension: without it pion's estimator refuses to
// send at all ("missing transport layer cc header extension").
type twccGate struct {
	*cc.InterceptorFactory
	on *atomic.Bool
}

func (f twccGate) NewInterceptor(id string) (interceptor.Interceptor, error) {
	i, err := f.InterceptorFactory.NewInterceptor(id)
	if err != nil {
		return nil, err
	}
	return &gated{Interceptor: i, on: f.on}, nil
}

type gated struct {
	interceptor.Interceptor
	on *atomic.Bool
}

func (g *gated) BindLocalStream(info *interceptor.StreamInfo, w interceptor.RTPWriter) interceptor.RTPWriter {
	for _, e := range info.RTPHeaderExtensions {
		if e.URI == sdp.TransportCCURI {
			g.on.Store(true)
			return g.Interceptor.BindLocalStream(info, w)
		}
	}
	return w
}

// trickle PATCHes the candidates found after the offer was sent.
func (p *Publisher) trickle(s *session, offer string) {
	base := sdpfrag.Parse(offer)
	sent := make(map[string]bool)
	for _, c := range base.Candidates {
		sent[c] = true
	}
	for {
		var line string
		select {
		case line = <-s.lateCandidates:
		case <-s.done:
			return
		}
		f := sdpfrag.Fragment{Ufrag: base.Ufrag, Pwd: base.Pwd, Mid: base.Mid}
		if c, ok := strings.CutPrefix(line, "a="); ok && c != "end-of-candidates" {
			if sent[c] {
				continue
			}
			f.Candidates = []string{c}
		} else {
			if base.End {
				return // the offer had them all
			}
			f.End = true
		}
		ctx, cancel := context.WithTimeout(context.Background(), p.cfg.Timeout)
		_, etag, err := p.sig.patch(ctx, s.resource, s.etag, f.String())
		cancel()
		if err != nil {
			p.log.Warn("trickle ICE: PATCH failed", "error", err)
			return
		}
		s.etag = etag
		if f.End {
			return
		}
	}
}

// iceRestart restarts ICE on s over PATCH (RFC 9725 section 4.4.2): new
// credentials and candidates go in a fragment with If-Match: "*", the
// endpoint's come back in the answer. It returns once ICE is connected
// again.
func (p *Publisher) iceRestart(ctx context.Context, s *session) error {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	gathered := webrtc.GatheringCompletePromise(s.pc)
	offer, err := s.pc.CreateOffer(&webrtc.OfferOptions{ICERestart: true})
	if err != nil {
		return err
	}
	if err := s.pc.SetLocalDescription(offer); err != nil {
		return err
	}
	select {
	case <-gathered:
	case <-time.After(p.cfg.GatherTimeout):
	case <-ctx.Done():
		return ctx.Err()
	}
	f := sdpfrag.Parse(s.pc.LocalDescription().SDP)
	f.End = true
	ans, etag, err := p.sig.patch(ctx, s.resource, `*`, f.String())
	if err != nil {
		return err
	}
	rf := sdpfrag.Parse(ans)
	if rf.Ufrag == "" || rf.Pwd == "" {
		return errors.New("the endpoint's restart answer has no ICE credentials")
	}
	remote := sdpfrag.Apply(s.pc.RemoteDescription().SDP, rf)
	if err := s.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: remote}); err != nil {
		return err
	}
	s.etag = etag
	for s.pc.ICEConnectionState() != webrtc.ICEConnectionStateConnected {
		select {
		case <-ctx.Done():
			return fmt.Errorf("ICE %s after the restart", s.pc.ICEConnectionState())
		case <-time.After(5 * time.Millisecond):
		}
	}
	s.rearm()
	return nil
}

// readRTCP reads what the receiver says about each track: PLI/FIR ask
// for a keyframe; receiver reports give loss and round-trip time.
func (p *Publisher) readRTCP(s *session) {
	for _, tr := range s.pc.GetTransceivers() {
		sender := tr.Sender()
		if sender == nil {
			continue
		}
		go func() {
			for {
				pkts, _, err := sender.ReadRTCP()
				if err != nil {
					return
				}
				for _, pkt := range pkts {
					p.onRTCP(s, pkt)
				}
			}
		}()
	}
}

func (p *Publisher) onRTCP(s *session, pkt rtcp.Packet) {
	switch r := pkt.(type) {
	case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
		p.onKeyRequest(s, time.Now())
	case *rtcp.ReceiverReport:
		p.onReports(r.Reports)
	case *rtcp.SenderReport:
		p.onReports(r.Reports)
	}
}

// onKeyRequest answers a PLI or FIR of session s that arrived at now.
//
// Every session starts on a keyframe (the queue sees to it), sent as soon
// as DTLS is up. Some endpoints drop what arrives before they have set
// up the session's tracks and ask for a keyframe (PLI) once they forward;
// others keep everything, and many of those ask for one as soon as the
// track arrives, which is the moment the first keyframe's first packet
// arrives. So, in a session:
//
//   - a request before its first video packet was sent, or within the
//     round-trip time (+ trackArrivalSlack) after it, was sent before the
//     endpoint could have had that keyframe: the keyframe on its way
//     answers it, and no other is made (against an endpoint that keeps
//     everything: one keyframe per session start);
//   - the first request after that is answered at once: it bypasses
//     keyframeGap and the pipeline's per-destination gate (the endpoint
//     is receiving, and has not got a keyframe it can use);
//   - later ones, at most one keyframe per keyframeGap.
//
// An endpoint that drops the first keyframe and asks for none gets its
// first at the next keyframe on the clock (golive's GOP, 2 s): nothing it
// sends tells it apart from one that kept it.
func (p *Publisher) onKeyRequest(s *session, now time.Time) {
	if p.cfg.Keyframes == nil {
		return
	}
	if !s.startKeyframe.Load() {
		first := s.firstVideo.Load()
		if first == 0 {
			p.log.Debug("keyframe asked for before the session's first: that one answers it")
			return
		}
		if since := now.Sub(time.Unix(0, first)); since < p.rttNow(s)+trackArrivalSlack {
			p.log.Debug("keyframe asked for as the session's first arrived: that one answers it", "after_ms", since.Milliseconds())
			return
		}
		if s.startKeyframe.CompareAndSwap(false, true) {
			p.lastKeyReq.Store(now.UnixNano())
			p.log.Debug("keyframe asked for, the first since the session's first keyframe could have arrived: at once")
			if k, ok := p.cfg.Keyframes.(interface{ RequestKeyframeNow() }); ok {
				k.RequestKeyframeNow()
			} else {
				p.cfg.Keyframes.RequestKeyframe()
			}
			return
		}
	}
	last := p.lastKeyReq.Load()
	if now.UnixNano()-last >= int64(keyframeGap) && p.lastKeyReq.CompareAndSwap(last, now.UnixNano()) {
		p.log.Debug("keyframe asked for by the receiver")
		p.cfg.Keyframes.RequestKeyframe()
	}
}

// rttNow is the round-trip time to the endpoint as now known: ICE's, on
// the selected candidate pair (measured from the session's start), else
// the last RTCP receiver report's.
func (p *Publisher) rttNow(s *session) time.Duration {
	if s.pc == nil {
		return time.Duration(p.rtt.Load())
	}
	if sctp := s.pc.SCTP(); sctp != nil {
		if dt := sctp.Transport(); dt != nil {
			if it := dt.ICETransport(); it != nil {
				if st, ok := it.GetSelectedCandidatePairStats(); ok && st.CurrentRoundTripTime > 0 {
					return time.Duration(st.CurrentRoundTripTime * float64(time.Second))
				}
			}
		}
	}
	return time.Duration(p.rtt.Load())
}

func (p *Publisher) onReports(reports []rtcp.ReceptionReport) {
	now := ntpCompact(time.Now())
	for _, rr := range reports {
		p.lossPPM.Store(int64(rr.FractionLost) * 1_000_000 / 256)
		if rr.LastSenderReport != 0 {
			// RFC 3550 section 6.4.1: now − LSR − DLSR, in 1/65536 s.
			if d := now - rr.LastSenderReport - rr.Delay; d < 1<<30 {
				p.rtt.Store(int64(time.Duration(d) * time.Second / 65536))
			}
		}
	}
}

// ntpCompact is the middle 32 bits of t's NTP timestamp.
func ntpCompact(t time.Time) uint32 {
	const ntpEpochOffset = 2208988800
	secs := uint64(t.Unix()) + ntpEpochOffset
	frac := uint64(t.Nanosecond()) << 32 / 1e9
	return uint32((secs<<32|frac)>>16) & math.MaxUint32
}

// WritePacket queues pkt. It never blocks.
func (p *Publisher) WritePacket(pkt *media.Packet) error {
	p.queue.Push(pkt)
	return nil
}

// Finish says no more packets will come: Run sends what is queued (for at
// most DrainTimeout), DELETEs the session and returns nil.
func (p *Publisher) Finish() { p.queue.Finish() }

// Run sends queued packets until Finish (nil), ctx is done (ctx.Err()) or
// a new session cannot be opened after a failure.
func (p *Publisher) Run(ctx context.Context) (err error) {
	defer func() {
		p.mu.Lock()
		s := p.sess
		p.mu.Unlock()
		p.closeSession(s, true)
	}()
	for {
		p.mu.Lock()
		s := p.sess
		p.mu.Unlock()
		failed, how := s.failure()
		select {
		case <-failed:
			if err := p.recover(ctx, s, how); err != nil {
				if errors.Is(err, publish.ErrStopped) {
					return nil
				}
				return err
			}
			continue
		default:
		}
		pkt, stop := p.queue.Next(p.cfg.DrainTimeout)
		if stop {
			return nil
		}
		if pkt != nil {
			if err := p.send(s, pkt); err != nil {
				p.log.Warn("send failed", "error", err)
			}
			continue
		}
		select {
		case <-p.queue.Wake():
		case <-failed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// recover brings media back after s failed: an ICE restart over PATCH
// when ICE failed and the endpoint takes PATCHes, else a new session.
func (p *Publisher) recover(ctx context.Context, s *session, how webrtc.PeerConnectionState) error {
	if how == webrtc.PeerConnectionStateFailed && s.trickle && s.resource != nil {
		p.log.Warn("ICE failed: restarting ICE")
		err := p.iceRestart(ctx, s)
		if err == nil {
			p.restarts.Add(1)
			p.queue.Restart() // the receiver lost what was sent meanwhile
			p.log.Info("ICE restarted: publishing again")
			return nil
		}
		p.log.Warn("ICE restart failed", "error", err)
	}
	return p.reconnect(ctx, s)
}

// reconnect replaces a failed session with a new one, under
// cfg.Reconnect, until it works, the stream is finished or ctx ends.
func (p *Publisher) reconnect(ctx context.Context, old *session) error {
	p.log.Warn("connection lost (ICE/DTLS failed or closed by the endpoint): opening a new session", "state", old.pc.ConnectionState().String())
	p.closeSession(old, true)
	p.queue.Restart()
	if p.cfg.Reconnect.Max < 0 {
		return fmt.Errorf("%w: session lost (reconnect disabled)", publish.ErrConnect)
	}
	if p.cfg.OnLive != nil {
		p.cfg.OnLive(false)
	}
	attempts, err := p.cfg.Reconnect.Retry(ctx, p.log, p.queue.Finished, func(ctx context.Context, _ time.Duration) error {
		s, err := p.open(ctx)
		if err == nil {
			p.mu.Lock()
			p.sess = s
			p.mu.Unlock()
		}
		return err
	})
	if err != nil {
		return err // ErrStopped: Run ends cleanly
	}
	p.queue.Restart() // start the new session on a fresh keyframe
	p.mu.Lock()
	s := p.sess
	p.mu.Unlock()
	p.log.Info("publishing again", "session", redactResource(s.resource), "attempts", attempts)
	if p.cfg.OnLive != nil {
		p.cfg.OnLive(true)
	}
	return nil
}

// closeSession ends s: DELETE on its resource when polite, then the
// PeerConnection. Idempotent.
func (p *Publisher) closeSession(s *session, polite bool) {
	if s == nil || !s.closed.CompareAndSwap(false, true) {
		return
	}
	if polite && s.resource != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		if err := p.sig.remove(ctx, s.resource); err != nil {
			p.log.Warn("DELETE of the session failed", "error", netCause(err))
		} else {
			p.log.Info("session ended", "session", redactResource(s.resource))
		}
		cancel()
	}
	if err := s.pc.Close(); err != nil {
		p.log.Debug("close", "error", err)
	}
	close(s.done)
}

// rtpTime maps a pipeline time onto an RTP clock.
func rtpTime(d time.Duration, rate int64, base uint32) uint32 {
	return base + uint32(int64(d)*rate/int64(time.Second))
}

func (p *Publisher) send(s *session, pkt *media.Packet) error {
	switch pkt.Kind {
	case media.KindVideo:
		nals, err := h264.SplitAVCC(pkt.Data)
		if err != nil {
			return err
		}
		var payloads [][]byte
		if pkt.Keyframe && pkt.Config != nil && !bytes.Equal(pkt.Config.Record, p.cfg.Video.Record) {
			// The encoder was reopened at another size: new parameter sets
			// (later sessions start with them too).
			sps, pps, err := h264.ParseConfigRecord(pkt.Config.Record)
			if err != nil {
				return err
			}
			s.sps, s.pps, p.cfg.Video = sps, pps, *pkt.Config
		}
		if pkt.Keyframe {
			// Receivers that join late need the parameter sets in band;
			// the payloader packs them with the IDR slice (STAP-A).
			for _, ps := range append(append([][]byte(nil), s.sps...), s.pps...) {
				payloads = append(payloads, s.pay.Payload(mtu, ps)...)
			}
		}
		for _, nal := range nals {
			switch h264.NALType(nal) {
			case 7, 8, 9: // SPS/PPS already sent; AUD not wanted
				continue
			}
			payloads = append(payloads, s.pay.Payload(mtu, nal)...)
		}
		ts := rtpTime(pkt.PTS, 90000, s.vts0)
		rate := p.paceRate(s)
		if s.firstVideo.Load() == 0 {
			s.firstVideo.Store(time.Now().UnixNano()) // (send is the session's one sender)
		}
		for i, pl := range payloads {
			r := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: ptH264, SequenceNumber: s.vseq, Timestamp: ts, Marker: i == len(payloads)-1}, Payload: pl}
			s.vseq++
			p.pace.take(len(pl)+rtpOverhead, rate, true)
			if err := s.video.WriteRTP(&r); err != nil {
				return err
			}
			p.bytes.Add(int64(len(pl) + 12))
			p.packets.Add(1)
		}
		if now := time.Now(); p.firstSent.CompareAndSwap(false, true) {
			p.log.Info("first video packet sent", "since_dial_ms", now.Sub(p.started).Milliseconds())
		}
		p.latency.Record(time.Since(p.cfg.Clock.At(pkt.PTS)))
	case media.KindAudio:
		if s.audio == nil {
			return nil
		}
		r := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: ptOpus, SequenceNumber: s.aseq, Timestamp: rtpTime(pkt.PTS, 48000, s.ats0), Marker: false}, Payload: pkt.Data}
		s.aseq++
		p.pace.take(len(pkt.Data)+rtpOverhead, p.paceRate(s), false)
		if err := s.audio.WriteRTP(&r); err != nil {
			return err
		}
		p.bytes.Add(int64(len(pkt.Data) + 12))
		p.packets.Add(1)
	}
	return nil
}

// StartEstimate is GCC's first estimate for a stream of target bit/s
// (the caller's encoder should start under it): the target, but no more
// than 1 Mbit/s. Starting at 2.5 Mbit/s on a 1 Mbit/s link, the first
// second overflows it (GCC needs about that long to see it), and the
// picture freezes before it starts; from 1 Mbit/s GCC climbs 8 % a second
// (about 12 s to 2.5 Mbit/s) where the link has room. Browsers start at
// 300 kbit/s.
func StartEstimate(target, minRate int) int {
	return max(min(target, 1_000_000), minRate)
}

// rtpOverhead: RTP, SRTP, UDP and IPv4 headers of a packet, in bytes.
const rtpOverhead = 12 + 10 + 8 + 20

// paceRate is what the pacer paces at: the GCC estimate, when there is
// one (0: no pacing), but never under what the encoders make at the
// minimum bitrate (GCC's loss-based estimate has a floor of its own at
// 100 kbit/s; pacing there would only build a queue).
func (p *Publisher) paceRate(s *session) int {
	if s.bwe == nil || !s.twcc.Load() {
		return 0
	}
	floor := p.cfg.MinBitrate
	if p.cfg.Audio != nil {
		floor += p.cfg.Audio.Bitrate
	}
	return max(s.bwe.GetTargetBitrate(), floor)
}

// Shed drops the queued video up to a new keyframe (which it requests):
// for when the link cannot carry even the minimum bitrate.
func (p *Publisher) Shed() { p.queue.Restart() }

// Stats returns a snapshot of the counters, with the GCC estimate and
// the last RTCP loss and RTT.
func (p *Publisher) Stats() publish.Stats {
	p.mu.Lock()
	s := p.sess
	p.mu.Unlock()
	if s != nil && s.bwe != nil && !s.closed.Load() {
		if s.twcc.Load() {
			p.estimate.Store(int64(s.bwe.GetTargetBitrate()))
		} else {
			p.estimate.Store(0) // no feedback: no estimate
		}
	}
	st := publish.Stats{
		Bytes: p.bytes.Load(), Packets: p.packets.Load(), Sessions: int(p.sessions.Load()),
		LatencyP50: p.latency.Quantile(0.5), LatencyP99: p.latency.Quantile(0.99), LatencyMax: p.latency.Max(),
		EstimateBitrate: int(p.estimate.Load()), Loss: float64(p.lossPPM.Load()) / 1e6, RTT: time.Duration(p.rtt.Load()),
	}
	p.queue.FillStats(&st)
	return st
}

// Close drops the session without a DELETE (Run ends it politely on a
// clean stop). Idempotent.
func (p *Publisher) Close() {
	p.mu.Lock()
	s := p.sess
	p.mu.Unlock()
	p.closeSession(s, false)
}
