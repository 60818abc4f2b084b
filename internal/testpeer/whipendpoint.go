package testpeer

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"github.com/golive/golive/publish/whip/sdpfrag"
)

// EndpointOptions choose how a WHIPEndpoint answers, to exercise what
// real servers do differently.
type EndpointOptions struct {
	Token     string   // required bearer token ("": none)
	Status    int      // answer every POST with this status (e.g. 503) instead of a session
	Lowercase bool     // header names in lower case (legal; some clients trip on it)
	Links     []string // Link header values (ICE servers)
	Trickle   bool     // take PATCHed candidates and ICE restarts (Accept-Patch)
	// DTLSServer: the endpoint answers a=setup:passive, so the publisher
	// is the DTLS client and its ClientHello (what it offers: curves,
	// cipher suites) passes the relay, which keeps it (with Relay).
	DTLSServer bool
	// Relay: media goes through a UDP relay in the test (the only
	// candidate the endpoint gives), which Blackhole can cut.
	Relay bool
	// Prefix of the session URLs, relative to the endpoint's path
	// ("sessions/": /whip → /sessions/N, the Location given relative).
	LocationPrefix string
	// Netns: the endpoint lives in this namespace (nil: the host's
	// network). Its HTTP server listens on 127.0.0.1 there, and every
	// session's media goes through one UDP socket on 127.0.0.1 there
	// (pion's UDP mux), the only candidate it gives: a publisher inside
	// the namespace reaches it over the namespace's loopback, which
	// Netns.Shape shapes. The relay (Relay) is made there too.
	Netns *Netns
	// DropFor: each session drops every media packet it reads until this
	// long after its first track arrived (pion's OnTrack, on the first
	// packet), as servers that forward only once they have set up a
	// session's tracks do (0: it keeps everything). Dropped video is
	// still in VideoArrivals, marked not Kept.
	DropFor time.Duration
	// PLIOnTrack: a PLI as soon as a session's video track arrives, as
	// many SFUs send. PLIOnForward: a PLI when a session stops dropping
	// (DropFor), as SFUs send when they start forwarding.
	PLIOnTrack, PLIOnForward bool
}

// WHIPEndpoint is an in-test WHIP server: a pion answerer behind
// httptest, with a 307 redirect at /old, counting what arrives.
type WHIPEndpoint struct {
	URL string // POST here (…/whip); …/old redirects to …/v2/whip with 307
	opt EndpointOptions
	srv *httptest.Server

	mu       sync.Mutex
	sessions map[string]*webrtc.PeerConnection
	requests []EndpointRequest

	relay *udpRelay
	// se: the settings every session starts from; with Netns they hold
	// mux, the namespace socket's UDP mux (Close closes it).
	se  webrtc.SettingEngine
	mux io.Closer

	VideoPackets, AudioPackets atomic.Int64
	nextID                     atomic.Int64

	vmu     sync.Mutex
	videoTS map[uint32]bool // RTP timestamps seen (frames)
	video   []VideoArrival
	starts  []SessionStart
}

// VideoArrival is one video RTP packet as the endpoint read it (after
// SRTP, in the order read; a retransmission, RTX or not, is read as the
// packet it repairs).
type VideoArrival struct {
	At        time.Time
	Timestamp uint32 // RTP timestamp: which frame
	Seq       uint16 // RTP sequence number
	Marker    bool   // the frame's last packet
	Size      int    // bytes: RTP header and payload
	Key       bool   // it carries (part of) an IDR picture
	Start     bool   // it starts a NAL unit (not the rest of a fragmented one)
	Kept      bool   // false: dropped (EndpointOptions.DropFor)
	Session   int    // the session it came in (1, 2, … in the order of the offers)
}

// SessionStart is when a session's first track arrived (its first
// packet, audio or video) and, with DropFor, when it started keeping
// media.
type SessionStart struct {
	Session          int
	Arrived, Keeping time.Time
}

// EndpointRequest is one request the endpoint received.
type EndpointRequest struct {
	Method, Path, Auth, ContentType string
	Body                            string
}

// StartWHIPEndpoint starts the endpoint for a test (NewWHIPEndpoint): it
// fails the test if the endpoint cannot listen, and stops it with the test.
func StartWHIPEndpoint(t testing.TB, opt EndpointOptions) *WHIPEndpoint {
	t.Helper()
	e, err := NewWHIPEndpoint(opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e
}

// NewWHIPEndpoint starts the endpoint (for benchmarks; Close stops it).
func NewWHIPEndpoint(opt EndpointOptions) (*WHIPEndpoint, error) {
	if opt.LocationPrefix == "" {
		opt.LocationPrefix = "sessions/"
	}
	e := &WHIPEndpoint{opt: opt, sessions: map[string]*webrtc.PeerConnection{}, videoTS: map[uint32]bool{}}
	listenUDP := func() (*net.UDPConn, error) {
		return net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	}
	e.srv = httptest.NewUnstartedServer(http.HandlerFunc(e.serve))
	if ns := opt.Netns; ns != nil {
		listenUDP = func() (*net.UDPConn, error) {
			c, err := ns.ListenPacket("udp4", "127.0.0.1:0")
			if err != nil {
				return nil, err
			}
			return c.(*net.UDPConn), nil
		}
		ln, err := ns.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("testpeer: whip endpoint: %w", err)
		}
		e.srv.Listener.Close()
		e.srv.Listener = ln
		media, err := listenUDP()
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("testpeer: whip endpoint: %w", err)
		}
		mux := webrtc.NewICEUDPMux(nil, media)
		// The namespace's socket, on 127.0.0.1, is the only candidate.
		e.se.SetICEUDPMux(mux)
		e.mux = mux
	}
	if opt.Relay {
		var err error
		if e.relay, err = newUDPRelay(listenUDP); err != nil {
			e.srv.Listener.Close()
			if e.mux != nil {
				e.mux.Close()
			}
			return nil, fmt.Errorf("testpeer: whip endpoint: relay: %w", err)
		}
	}
	e.srv.Start()
	e.URL = e.srv.URL + "/whip"
	return e, nil
}

// ClientHello is the publisher's first DTLS ClientHello record, as it
// crossed the relay (nil until then; needs Relay and DTLSServer).
func (e *WHIPEndpoint) ClientHello() []byte {
	e.relay.mu.Lock()
	defer e.relay.mu.Unlock()
	return e.relay.hello
}

// Blackhole cuts (true) or restores the relay's path, as a network
// outage would.
func (e *WHIPEndpoint) Blackhole(on bool) { e.relay.drop.Store(on) }

// Close closes every session and the server.
func (e *WHIPEndpoint) Close() {
	if e.relay != nil {
		e.relay.conn.Close()
	}
	e.srv.CloseClientConnections()
	e.srv.Close()
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, pc := range e.sessions {
		pc.Close()
	}
	if e.mux != nil {
		e.mux.Close() // after the sessions: it closes the socket
	}
}

// Frames is the number of distinct video frames (RTP timestamps) received.
func (e *WHIPEndpoint) Frames() int {
	e.vmu.Lock()
	defer e.vmu.Unlock()
	return len(e.videoTS)
}

// VideoArrivals returns the video packets read so far, in order.
func (e *WHIPEndpoint) VideoArrivals() []VideoArrival {
	e.vmu.Lock()
	defer e.vmu.Unlock()
	return slices.Clone(e.video)
}

// CompleteFrames returns when each video frame became whole — when the
// last of its packets arrived — in time order. A frame is whole when every
// sequence number from the one after the previous frame's last packet
// (marker bit) to its own marked last packet arrived, all with its
// timestamp: what a decoder can use. A frame some packet of which never
// arrived does not count, nor one whose start cannot be told (the previous
// frame's last packet lost), nor one that arrived before the first frame
// start seen.
func (e *WHIPEndpoint) CompleteFrames() []time.Time {
	return CompleteFrames(e.VideoArrivals())
}

// CompleteFrames is WHIPEndpoint.CompleteFrames for arrivals a, in the
// order read.
func CompleteFrames(a []VideoArrival) []time.Time {
	var done []time.Time
	for _, f := range completeFrames(a, false) {
		done = append(done, f.At)
	}
	return done
}

// Frame is a whole video frame as the endpoint read it (see
// CompleteFrames).
type Frame struct {
	At        time.Time // when its last packet arrived
	Timestamp uint32    // RTP timestamp
	Key       bool      // an IDR picture
	Kept      bool      // every packet of it kept (EndpointOptions.DropFor)
	Session   int
}

// WholeFrames returns the whole frames of session (0: every session), in
// time order, as CompleteFrames tells them; of one session, its first
// frame too (its first packet starts a NAL unit: a session starts on a
// frame).
func (e *WHIPEndpoint) WholeFrames(session int) []Frame {
	a := e.VideoArrivals()
	if session != 0 {
		a = slices.DeleteFunc(a, func(v VideoArrival) bool { return v.Session != session })
	}
	return completeFrames(a, session != 0)
}

// SessionStarts are the sessions' starts so far (one per session whose
// tracks arrived), in order.
func (e *WHIPEndpoint) SessionStarts() []SessionStart {
	e.vmu.Lock()
	defer e.vmu.Unlock()
	return slices.Clone(e.starts)
}

// FirstVideo is the RTP timestamp of session's first video packet read
// (kept or not); false if none.
func (e *WHIPEndpoint) FirstVideo(session int) (uint32, bool) {
	e.vmu.Lock()
	defer e.vmu.Unlock()
	for _, v := range e.video {
		if v.Session == session {
			return v.Timestamp, true
		}
	}
	return 0, false
}

// completeFrames is CompleteFrames, with each frame's details; with
// firstStarts, the first packet read may start a frame (see WholeFrames).
func completeFrames(a []VideoArrival, firstStarts bool) []Frame {
	// The first arrival of each sequence number, extended past 16 bits.
	got := make(map[int64]VideoArrival, len(a))
	var seqs []int64
	var highest int64
	for i, p := range a {
		ext := int64(p.Seq)
		if i > 0 {
			ext = highest + int64(int16(p.Seq-uint16(highest)))
		}
		highest = max(highest, ext)
		if _, dup := got[ext]; !dup {
			got[ext] = p
			seqs = append(seqs, ext)
		}
	}
	slices.Sort(seqs)
	var done []Frame
	for i := 0; i < len(seqs); {
		first := got[seqs[i]]
		prev, ok := got[seqs[i]-1]
		// With firstStarts, the first packet read starts a frame if it
		// starts a NAL unit (a session's first packet is its first
		// frame's).
		if (!ok || !prev.Marker || prev.Timestamp == first.Timestamp) && !(firstStarts && i == 0 && first.Start) {
			i++ // not a frame's first packet, as far as can be told
			continue
		}
		f := Frame{At: first.At, Timestamp: first.Timestamp, Kept: true, Session: first.Session}
		j := i
		for ; j < len(seqs); j++ {
			p := got[seqs[j]]
			if p.Timestamp != first.Timestamp || j > i && seqs[j] != seqs[j-1]+1 {
				break // a hole, or the next frame began without a marker
			}
			if p.At.After(f.At) {
				f.At = p.At
			}
			f.Key = f.Key || p.Key
			f.Kept = f.Kept && p.Kept
			if p.Marker {
				done = append(done, f)
				j++
				break
			}
		}
		i = max(j, i+1)
	}
	slices.SortStableFunc(done, func(a, b Frame) int { return a.At.Compare(b.At) })
	return done
}

// Requests are the requests received so far.
func (e *WHIPEndpoint) Requests() []EndpointRequest {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]EndpointRequest(nil), e.requests...)
}

// Count is how many requests of method arrived.
func (e *WHIPEndpoint) Count(method string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, r := range e.requests {
		if r.Method == method {
			n++
		}
	}
	return n
}

// Drop closes every session's PeerConnection without a word, as a server
// that restarted would lose them.
func (e *WHIPEndpoint) Drop() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for id, pc := range e.sessions {
		pc.Close()
		delete(e.sessions, id)
	}
}

// SendPLI asks every session's sender for a keyframe.
func (e *WHIPEndpoint) SendPLI() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, pc := range e.sessions {
		for _, r := range pc.GetReceivers() {
			if tr := r.Track(); tr != nil && tr.Kind() == webrtc.RTPCodecTypeVideo {
				pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: uint32(tr.SSRC())}})
			}
		}
	}
}

func (e *WHIPEndpoint) header(w http.ResponseWriter, k, v string) {
	if e.opt.Lowercase {
		w.Header()[strings.ToLower(k)] = append(w.Header()[strings.ToLower(k)], v)
		return
	}
	w.Header().Add(k, v)
}

func (e *WHIPEndpoint) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	e.mu.Lock()
	e.requests = append(e.requests, EndpointRequest{Method: r.Method, Path: r.URL.Path, Auth: r.Header.Get("Authorization"), ContentType: r.Header.Get("Content-Type"), Body: string(body)})
	e.mu.Unlock()
	if e.opt.Token != "" && r.Header.Get("Authorization") != "Bearer "+e.opt.Token {
		http.Error(w, "bad token", http.StatusUnauthorized)
		return
	}
	switch {
	case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/old"):
		// Into another directory, so that a Location relative to the
		// wrong URL shows.
		e.header(w, "Location", strings.TrimSuffix(r.URL.Path, "old")+"v2/whip")
		w.WriteHeader(http.StatusTemporaryRedirect)
	case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/whip"):
		if e.opt.Status != 0 {
			http.Error(w, "come back later", e.opt.Status)
			return
		}
		if r.Header.Get("Content-Type") != "application/sdp" {
			http.Error(w, "want application/sdp", http.StatusUnsupportedMediaType)
			return
		}
		e.answer(w, r.URL.Path, string(body))
	case r.Method == http.MethodPatch:
		e.patch(w, r.URL.Path, string(body))
	case r.Method == http.MethodDelete:
		e.mu.Lock()
		pc := e.sessions[r.URL.Path]
		delete(e.sessions, r.URL.Path)
		e.mu.Unlock()
		if pc == nil {
			http.NotFound(w, r)
			return
		}
		pc.Close()
		w.WriteHeader(http.StatusOK)
	default:
		http.Error(w, "no", http.StatusMethodNotAllowed)
	}
}

func (e *WHIPEndpoint) answer(w http.ResponseWriter, reqPath, offer string) {
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	ir := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(m, ir); err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	se := e.se
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	if e.opt.DTLSServer {
		se.SetAnsweringDTLSRole(webrtc.DTLSRoleServer)
	}
	pc, err := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	sessionID := int(e.nextID.Add(1))
	var (
		startOnce sync.Once
		keepFrom  atomic.Int64 // unix ns; 0 until the first track arrived
	)
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		startOnce.Do(func() {
			now := time.Now()
			keepFrom.Store(now.Add(e.opt.DropFor).UnixNano())
			e.vmu.Lock()
			e.starts = append(e.starts, SessionStart{Session: sessionID, Arrived: now, Keeping: now.Add(e.opt.DropFor)})
			e.vmu.Unlock()
		})
		if tr.Kind() == webrtc.RTPCodecTypeVideo {
			pli := func() {
				pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: uint32(tr.SSRC())}})
			}
			if e.opt.PLIOnTrack {
				pli()
			}
			if e.opt.PLIOnForward {
				time.AfterFunc(time.Until(time.Unix(0, keepFrom.Load())), pli)
			}
		}
		for {
			pkt, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			kept := time.Now().UnixNano() >= keepFrom.Load()
			if tr.Kind() == webrtc.RTPCodecTypeVideo {
				if kept {
					e.VideoPackets.Add(1)
				}
				e.vmu.Lock()
				if kept {
					e.videoTS[pkt.Timestamp] = true
				}
				e.video = append(e.video, VideoArrival{At: time.Now(), Timestamp: pkt.Timestamp, Seq: pkt.SequenceNumber, Marker: pkt.Marker,
					Size: pkt.MarshalSize(), Key: h264Keyframe(pkt.Payload) || h264IDRFragment(pkt.Payload), Start: h264NALStart(pkt.Payload), Kept: kept, Session: sessionID})
				e.vmu.Unlock()
			} else if kept {
				e.AudioPackets.Add(1)
			}
		}
	})
	if e.relay != nil {
		// The publisher's own candidates go: the endpoint must reach it
		// only through the relay (learning it from the relay's checks),
		// never around it.
		f := sdpfrag.Parse(offer)
		f.Candidates = nil
		offer = sdpfrag.Apply(offer, f)
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		pc.Close()
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if err := answerGathered(pc); err != nil {
		pc.Close()
		http.Error(w, err.Error(), 500)
		return
	}
	id := fmt.Sprint(sessionID)
	loc := e.opt.LocationPrefix + id // relative to …/whip
	path := strings.TrimSuffix(reqPath, "whip") + loc
	e.mu.Lock()
	e.sessions[path] = pc
	e.mu.Unlock()
	e.header(w, "Content-Type", "application/sdp")
	e.header(w, "Location", loc)
	answerSDP := pc.LocalDescription().SDP
	if e.relay != nil {
		answerSDP = e.relay.through(answerSDP)
	}
	e.header(w, "ETag", `"`+id+`"`)
	for _, l := range e.opt.Links {
		e.header(w, "Link", l)
	}
	if e.opt.Trickle {
		e.header(w, "Accept-Patch", "application/trickle-ice-sdpfrag")
	}
	w.WriteHeader(http.StatusCreated)
	io.WriteString(w, answerSDP)
}

func (e *WHIPEndpoint) patch(w http.ResponseWriter, path, frag string) {
	e.mu.Lock()
	pc := e.sessions[path]
	e.mu.Unlock()
	if pc == nil {
		http.NotFound(w, nil)
		return
	}
	if !e.opt.Trickle {
		http.Error(w, "no trickle", http.StatusMethodNotAllowed)
		return
	}
	if f := sdpfrag.Parse(frag); f.Ufrag != "" && f.Ufrag != sdpfrag.Parse(pc.RemoteDescription().SDP).Ufrag {
		e.restart(w, pc, f)
		return
	}
	mid := ""
	for _, l := range strings.Split(frag, "\n") {
		l = strings.TrimSpace(l)
		if v, ok := strings.CutPrefix(l, "a=mid:"); ok {
			mid = v
		}
		if c, ok := strings.CutPrefix(l, "a="); ok && strings.HasPrefix(c, "candidate:") {
			if err := pc.AddICECandidate(webrtc.ICECandidateInit{Candidate: c, SDPMid: &mid}); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

// restart answers an ICE restart: the offer as it would be with the new
// credentials, a new answer, and its fragment back.
func (e *WHIPEndpoint) restart(w http.ResponseWriter, pc *webrtc.PeerConnection, f sdpfrag.Fragment) {
	if e.relay != nil {
		f.Candidates = nil // as in answer
	}
	offer := sdpfrag.Apply(pc.RemoteDescription().SDP, f)
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if err := answerGathered(pc); err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	local := pc.LocalDescription().SDP
	if e.relay != nil {
		local = e.relay.through(local)
	}
	lf := sdpfrag.Parse(local)
	lf.End = true
	w.Header().Set("Content-Type", "application/trickle-ice-sdpfrag")
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, lf.String())
}

// answerGathered sets a new local answer and waits (up to 5 s) for its
// candidates: one HTTP answer carries them all.
func answerGathered(pc *webrtc.PeerConnection) error {
	gathered := webrtc.GatheringCompletePromise(pc)
	ans, err := pc.CreateAnswer(nil)
	if err == nil {
		err = pc.SetLocalDescription(ans)
	}
	if err != nil {
		return err
	}
	select {
	case <-gathered:
	case <-time.After(5 * time.Second):
	}
	return nil
}

// udpRelay forwards UDP between the publisher and the endpoint's
// PeerConnection, like a NAT: each publisher address gets its own socket
// towards the endpoint. It drops everything while drop is set.
type udpRelay struct {
	conn   *net.UDPConn // the publisher's side: the one candidate it knows
	listen func() (*net.UDPConn, error)
	drop   atomic.Bool
	mu     sync.Mutex
	server *net.UDPAddr            // the endpoint's own candidate
	peers  map[string]*net.UDPConn // publisher address → socket towards the endpoint
	hello  []byte                  // the publisher's first DTLS ClientHello record
}

// newUDPRelay starts a relay whose sockets listen (a UDP socket on
// 127.0.0.1) makes.
func newUDPRelay(listen func() (*net.UDPConn, error)) (*udpRelay, error) {
	c, err := listen()
	if err != nil {
		return nil, err
	}
	r := &udpRelay{conn: c, listen: listen, peers: map[string]*net.UDPConn{}}
	go r.run()
	return r, nil
}

// run forwards the publisher's packets, each through its own socket.
func (r *udpRelay) run() {
	buf := make([]byte, 1600)
	for {
		n, from, err := r.conn.ReadFromUDP(buf)
		if err != nil {
			r.mu.Lock()
			for _, pc := range r.peers {
				pc.Close()
			}
			r.mu.Unlock()
			return
		}
		if r.drop.Load() {
			continue
		}
		r.mu.Lock()
		// A DTLS handshake record (22) holding a ClientHello (1).
		if n > 25 && buf[0] == 22 && buf[13] == 1 && r.hello == nil {
			r.hello = append([]byte(nil), buf[:n]...)
		}
		to, pc := r.server, r.peers[from.String()]
		if pc == nil {
			if pc, err = r.listen(); err != nil {
				r.mu.Unlock()
				continue
			}
			r.peers[from.String()] = pc
			go r.back(pc, from)
		}
		r.mu.Unlock()
		if to != nil {
			pc.WriteToUDP(buf[:n], to)
		}
	}
}

// back forwards the endpoint's packets to the publisher address the
// socket stands for.
func (r *udpRelay) back(pc *net.UDPConn, client *net.UDPAddr) {
	buf := make([]byte, 1600)
	for {
		n, _, err := pc.ReadFromUDP(buf)
		if err != nil {
			return
		}
		if !r.drop.Load() {
			r.conn.WriteToUDP(buf[:n], client)
		}
	}
}

// through points sdp's candidates at the relay: the endpoint's UDP host
// candidate on 127.0.0.1 becomes the relay's target and the relay's
// address the only candidate.
func (r *udpRelay) through(sdp string) string {
	var out []string
	added := false
	for _, l := range strings.Split(strings.TrimRight(sdp, "\r\n"), "\n") {
		l = strings.TrimRight(l, "\r")
		if c, ok := strings.CutPrefix(l, "a=candidate:"); ok {
			f := strings.Fields(c)
			if len(f) >= 8 && strings.EqualFold(f[2], "udp") && f[4] == "127.0.0.1" && f[7] == "host" && !added {
				port, _ := strconv.Atoi(f[5])
				r.mu.Lock()
				r.server = &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}
				r.mu.Unlock()
				f[5] = strconv.Itoa(r.conn.LocalAddr().(*net.UDPAddr).Port)
				out = append(out, "a=candidate:"+strings.Join(f, " "))
				added = true
			}
			continue
		}
		out = append(out, l)
	}
	return strings.Join(out, "\r\n") + "\r\n"
}

// h264IDRFragment reports whether an RTP payload is a FU-A fragment (any)
// of an IDR slice.
func h264IDRFragment(payload []byte) bool {
	return len(payload) > 1 && payload[0]&0x1f == 28 && payload[1]&0x1f == 5
}

// h264NALStart reports whether an RTP payload starts a NAL unit: a
// single NAL unit, a STAP-A, or a FU-A's first fragment.
func h264NALStart(payload []byte) bool {
	if len(payload) == 0 {
		return false
	}
	if payload[0]&0x1f == 28 {
		return len(payload) > 1 && payload[1]&0x80 != 0
	}
	return true
}
