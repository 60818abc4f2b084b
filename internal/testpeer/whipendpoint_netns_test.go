package testpeer

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golive/golive/internal/testutil"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// TestWHIPEndpointNetns: an endpoint made with Netns lives in the
// namespace — its HTTP port and its one media candidate are on the
// namespace's 127.0.0.1, free on the host's — and a publisher inside the
// namespace gets media to it: every frame counted, whole.
func TestWHIPEndpointNetns(t *testing.T) {
	ns := StartNetns(t)
	ep := StartWHIPEndpoint(t, EndpointOptions{Netns: ns})
	u, err := url.Parse(ep.URL)
	if err != nil {
		t.Fatal(err)
	}
	if ln, err := net.Listen("tcp", u.Host); err != nil {
		t.Errorf("the endpoint's address %s is taken on the host: %v", u.Host, err)
	} else {
		ln.Close()
	}

	// A publisher in the namespace: pion on a socket there, the offer
	// posted over a connection made there.
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	conn, err := ns.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := webrtc.NewICEUDPMux(nil, conn)
	defer mux.Close()
	var se webrtc.SettingEngine
	se.SetICEUDPMux(mux)
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	pc, err := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(se)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000}, "video", "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pc.AddTransceiverFromTrack(track, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-gathered
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: ns.DialContext}}
	resp, err := client.Post(ep.URL, "application/sdp", strings.NewReader(pc.LocalDescription().SDP))
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST: %s: %s", resp.Status, answer)
	}
	for _, l := range strings.Split(string(answer), "\n") {
		if c, ok := strings.CutPrefix(strings.TrimSpace(l), "a=candidate:"); ok {
			if f := strings.Fields(c); len(f) < 8 || f[4] != "127.0.0.1" || f[7] != "host" {
				t.Errorf("answer candidate %q, want only the namespace's 127.0.0.1", c)
			} else if c, err := net.ListenPacket("udp4", "127.0.0.1:"+f[5]); err != nil {
				t.Errorf("the endpoint's media port %s is taken on the host: %v", f[5], err)
			} else {
				c.Close()
			}
		}
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: string(answer)}); err != nil {
		t.Fatal(err)
	}
	if !testutil.WaitFor(10*time.Second, 10*time.Millisecond, func() bool { return pc.ConnectionState() == webrtc.PeerConnectionStateConnected }) {
		t.Fatalf("not connected: %s", pc.ConnectionState())
	}

	// 30 frames of 3 packets each (not real H.264: the endpoint counts,
	// it does not decode).
	const frames = 30
	seq := uint16(65530) // wraps: the sequence numbers are extended
	for f := range frames {
		for i := range 3 {
			p := &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: uint32(f) * 3000, Marker: i == 2},
				Payload: bytes.Repeat([]byte{0x41}, 500)}
			seq++
			if err := track.WriteRTP(p); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(5 * time.Millisecond) // the pace of a fast stream, not a synchronisation
	}
	if !testutil.WaitFor(5*time.Second, 10*time.Millisecond, func() bool { return ep.Frames() == frames }) {
		t.Fatalf("%d frames arrived, want %d", ep.Frames(), frames)
	}
	// The first frame's start cannot be told: no frame before it.
	if whole := ep.CompleteFrames(); len(whole) != frames-1 {
		t.Errorf("%d whole frames, want %d", len(whole), frames-1)
	}
	if a := ep.VideoArrivals(); len(a) != 3*frames || a[0].Size != 12+500 {
		t.Errorf("%d video packets recorded (first %+v), want %d of 512 bytes", len(a), a[0], 3*frames)
	}
}

// TestCompleteFrames: when frames become whole, from packets as they
// arrived — late repairs, holes, lost markers, sequence wrap.
func TestCompleteFrames(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	// pkt: arrival ms, timestamp, sequence number, marker.
	pkt := func(ms int, ts uint32, seq uint16, marker bool) VideoArrival {
		return VideoArrival{At: at(ms), Timestamp: ts, Seq: seq, Marker: marker, Size: 100}
	}
	for _, tc := range []struct {
		name string
		in   []VideoArrival
		want []time.Time
	}{
		{"in order", []VideoArrival{
			pkt(0, 1, 10, true), pkt(30, 2, 11, false), pkt(31, 2, 12, true), pkt(60, 3, 13, true),
		}, []time.Time{at(31), at(60)}},
		{"repaired late", []VideoArrival{
			pkt(0, 1, 10, true), pkt(30, 2, 11, false), pkt(31, 2, 13, true), pkt(60, 3, 14, true), pkt(200, 2, 12, false),
		}, []time.Time{at(60), at(200)}},
		{"a hole never repaired", []VideoArrival{
			pkt(0, 1, 10, true), pkt(30, 2, 11, false), pkt(31, 2, 13, true), pkt(60, 3, 14, true),
		}, []time.Time{at(60)}},
		{"the previous marker lost: the start cannot be told", []VideoArrival{
			pkt(0, 1, 10, false), pkt(30, 2, 12, true), pkt(60, 3, 13, true),
		}, []time.Time{at(60)}},
		{"a frame without its marker", []VideoArrival{
			pkt(0, 1, 10, true), pkt(30, 2, 11, false), pkt(60, 3, 12, true), pkt(90, 4, 13, true),
		}, []time.Time{at(90)}},
		{"duplicates count once", []VideoArrival{
			pkt(0, 1, 10, true), pkt(30, 2, 11, true), pkt(40, 2, 11, true),
		}, []time.Time{at(30)}},
		{"sequence wrap", []VideoArrival{
			pkt(0, 1, 65535, true), pkt(30, 2, 0, false), pkt(31, 2, 1, true),
		}, []time.Time{at(31)}},
		{"nothing", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := CompleteFrames(tc.in)
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for i := range got {
				if !got[i].Equal(tc.want[i]) {
					t.Fatalf("got %v, want %v", got, tc.want)
				}
			}
		})
	}
}
