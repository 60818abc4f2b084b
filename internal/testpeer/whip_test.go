package testpeer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golive/golive/internal/testutil"
	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
	"github.com/pion/webrtc/v4/pkg/media/h264reader"
	"github.com/pion/webrtc/v4/pkg/media/oggreader"
)

// The clip the WHIP test publishes: 6 s of 640x360 at 30 fps, an IDR every
// second, and 20 ms Opus packets.
const (
	clipSeconds   = 6
	clipFPS       = 30
	opusFrameTime = 20 * time.Millisecond
)

func TestWHIPWHEPPeers(t *testing.T) {
	t.Parallel()
	testutil.RequireTool(t, "ffmpeg", "ffprobe")
	dir := t.TempDir()
	frames, packets := makeClip(t, dir)
	if len(frames) != clipSeconds*clipFPS || len(packets) < clipSeconds*49 {
		t.Fatalf("clip: %d video frames, %d Opus packets; want %d and about %d",
			len(frames), len(packets), clipSeconds*clipFPS, clipSeconds*50)
	}

	s := StartWHIPWHEP(t)
	start := time.Now()
	r := StartWHEP(t, s.WHEPURL(), filepath.Join(dir, "whep"))
	t.Logf("WHEP viewer connected after %v", time.Since(start).Round(time.Millisecond))
	logCodecs(t, "WHEP answer", r.pc.RemoteDescription().SDP)

	// A second viewer joins mid-GOP: its recording must start at the next
	// keyframe and decode cleanly.
	var late *WHEPReceiver
	var lateErr error
	lateStarted := make(chan struct{})
	t.Cleanup(func() {
		<-lateStarted
		if late != nil {
			late.Close()
		}
	})
	go func() {
		defer close(lateStarted)
		testutil.WaitFor(20*time.Second, 10*time.Millisecond, func() bool { return r.Stats().VideoFrames >= 2*clipFPS+clipFPS/2 })
		late, lateErr = NewWHEP(s.WHEPURL(), filepath.Join(dir, "late"))
	}()

	pub := publishWHIP(t, s.WHIPURL(), frames, packets)
	// Wait for the last frame, and for a lost one's retransmission.
	testutil.WaitFor(5*time.Second, 50*time.Millisecond, func() bool {
		st := r.Stats()
		return st.VideoFrames >= len(frames) && st.AudioPackets >= len(packets)
	})
	st := r.Stats()
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	<-lateStarted
	if lateErr != nil {
		t.Fatalf("late viewer: %v", lateErr)
	}
	lst := late.Stats()
	if err := late.Close(); err != nil {
		t.Fatal(err)
	}
	lateDecoded, err := testutil.DecodeFrames(late.H264Path(), "v")
	if err != nil {
		t.Errorf("late viewer: %v", err)
	}
	t.Logf("late viewer: %d frames, the first keyframe %v after the first frame, %d decoded",
		lst.VideoFrames, lst.FirstKeyframe.Sub(lst.FirstVideo).Round(time.Millisecond), lateDecoded)
	if lst.FirstKeyframe.IsZero() || lst.VideoFrames < clipFPS ||
		lateDecoded < lst.VideoFrames-clipFPS || lateDecoded > lst.VideoFrames {
		t.Errorf("late viewer: %+v, %d frames decoded: want all from the first keyframe (one a second)", lst, lateDecoded)
	}
	t.Logf("sent %d frames, %d Opus packets; publisher got %d PLIs", len(frames), len(packets), pub.plis)
	t.Logf("viewer: %d video packets, %d frames, %d audio packets, largest gap between frames %v; "+
		"first frame %v and first keyframe %v after the publisher connected",
		st.VideoPackets, st.VideoFrames, st.AudioPackets, st.MaxFrameGap.Round(time.Millisecond),
		st.FirstVideo.Sub(pub.connected).Round(time.Millisecond),
		st.FirstKeyframe.Sub(pub.connected).Round(time.Millisecond))

	if st.VideoFrames < len(frames)*9/10 || st.VideoPackets < st.VideoFrames || st.FirstKeyframe.IsZero() {
		t.Errorf("viewer stats %+v: want about %d frames, a keyframe", st, len(frames))
	}
	if st.MaxFrameGap <= 0 || st.MaxFrameGap > time.Second {
		t.Errorf("largest gap between frames %v, want 33 ms or so, under 1 s", st.MaxFrameGap)
	}
	if st.AudioPackets < len(packets)*9/10 {
		t.Errorf("viewer got %d audio packets, sent %d", st.AudioPackets, len(packets))
	}

	p, err := testutil.Probe(r.H264Path())
	if err != nil {
		t.Fatal(err)
	}
	if v := p.Video(); v == nil || v.CodecName != "h264" || v.Width != 640 || v.Height != 360 {
		t.Errorf("probe of %s: %+v", r.H264Path(), p)
	}
	n, err := testutil.DecodeFrames(r.H264Path(), "v")
	if err != nil {
		t.Error(err)
	}
	t.Logf("received.h264 decodes to %d frames", n)
	if n < len(frames)*9/10 {
		t.Errorf("received.h264 decodes to %d frames; sent %d", n, len(frames))
	}

	p, err = testutil.Probe(r.OggPath())
	if err != nil {
		t.Fatal(err)
	}
	if a := p.Audio(); a == nil || a.CodecName != "opus" || a.SampleRate != 48000 || a.Channels != 2 {
		t.Errorf("probe of %s: %+v", r.OggPath(), p)
	}
	n, err = testutil.DecodeFrames(r.OggPath(), "a")
	if err != nil {
		t.Error(err)
	}
	t.Logf("received.ogg decodes to %d frames", n)
	if n < len(packets)*9/10 {
		t.Errorf("received.ogg decodes to %d frames; sent %d packets", n, len(packets))
	}
}

// makeClip encodes the test clip with ffmpeg into dir and returns its H.264
// access units (Annex B) and its Opus packets.
func makeClip(t *testing.T, dir string) (frames, packets [][]byte) {
	t.Helper()
	h264, ogg := filepath.Join(dir, "clip.h264"), filepath.Join(dir, "clip.ogg")
	secs := fmt.Sprint(clipSeconds)
	runFFmpeg(t, "-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=640x360:rate=%d", clipFPS), "-t", secs,
		"-c:v", "libx264", "-bf", "0", "-g", fmt.Sprint(clipFPS), "-pix_fmt", "yuv420p",
		"-bsf:v", "h264_mp4toannexb", "-f", "h264", h264)
	// A page per packet: pion's oggreader returns pages, not packets.
	runFFmpeg(t, "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", secs, "-ac", "2",
		"-c:a", "libopus", "-page_duration", "20000", "-f", "ogg", ogg)
	return readAccessUnits(t, h264), readOpus(t, ogg)
}

func runFFmpeg(t *testing.T, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ffmpeg", append([]string{"-nostdin", "-v", "error", "-y"}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// readAccessUnits groups the NAL units of an Annex B file into access
// units: a new one starts at a parameter set or SEI after a slice, or at a
// slice whose first_mb_in_slice is 0 (its ue(v) is a single 1 bit).
func readAccessUnits(t *testing.T, path string) [][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rd, err := h264reader.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var aus [][]byte
	var au []byte
	hasSlice := false
	for {
		nal, err := rd.NextNAL()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		slice := nal.UnitType == h264reader.NalUnitTypeCodedSliceNonIdr || nal.UnitType == h264reader.NalUnitTypeCodedSliceIdr
		if hasSlice && (!slice || len(nal.Data) > 1 && nal.Data[1]&0x80 != 0) {
			aus, au, hasSlice = append(aus, au), nil, false
		}
		au = append(append(au, 0, 0, 0, 1), nal.Data...)
		hasSlice = hasSlice || slice
	}
	if hasSlice {
		aus = append(aus, au)
	}
	return aus
}

// readOpus returns the Opus packets of an Ogg file with a packet per page.
func readOpus(t *testing.T, path string) [][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rd, _, err := oggreader.NewWith(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var pkts [][]byte
	for {
		page, hdr, err := rd.ParseNextPage()
		if errors.Is(err, io.EOF) {
			return pkts
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if typ, ok := hdr.HeaderType(page); ok && typ == oggreader.HeaderOpusTags {
			continue
		}
		pkts = append(pkts, page)
	}
}

// whipPublished is what publishWHIP saw.
type whipPublished struct {
	connected time.Time // when the publisher's connection came up
	plis      int64     // PLIs the server sent the publisher
}

// publishWHIP is a minimal WHIP publisher: it offers send-only H.264 and
// Opus to url after a complete ICE gathering, then sends frames at clipFPS
// and packets every 20 ms, paced in real time, and hangs up (no DELETE: the
// example server has none).
func publishWHIP(t *testing.T, url string, frames, packets [][]byte) whipPublished {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), whepStartTimeout)
	defer cancel()
	api, err := newWHIPAPI()
	if err != nil {
		t.Fatal(err)
	}
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	var rtcpReaders sync.WaitGroup
	defer func() {
		pc.Close() // ends the RTCP readers
		rtcpReaders.Wait()
	}()
	video, err := webrtc.NewTrackLocalStaticSample(h264Capability, "video", "golive-test")
	if err != nil {
		t.Fatal(err)
	}
	audio, err := webrtc.NewTrackLocalStaticSample(opusCapability, "audio", "golive-test")
	if err != nil {
		t.Fatal(err)
	}
	var pub whipPublished
	var plis atomic.Int64
	for _, track := range []webrtc.TrackLocal{video, audio} {
		tr, err := pc.AddTransceiverFromTrack(track, webrtc.RTPTransceiverInit{
			Direction: webrtc.RTPTransceiverDirectionSendonly,
		})
		if err != nil {
			t.Fatal(err)
		}
		// Reading RTCP lets the interceptors act on it (NACKs: retransmit).
		rtcpReaders.Add(1)
		go func() {
			defer rtcpReaders.Done()
			for {
				pkts, _, err := tr.Sender().ReadRTCP()
				if err != nil {
					return
				}
				for _, p := range pkts {
					if _, ok := p.(*rtcp.PictureLossIndication); ok {
						plis.Add(1)
					}
				}
			}
		}()
	}
	connected := make(chan struct{})
	var once sync.Once
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected {
			once.Do(func() { close(connected) })
		}
	})

	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		t.Fatal("WHIP publisher: ICE gathering not complete")
	}
	posted := time.Now()
	answer, _, err := postOffer(ctx, url, pc.LocalDescription().SDP)
	if err != nil {
		t.Fatalf("WHIP publisher: post offer: %v", err)
	}
	t.Logf("WHIP answer after %v", time.Since(posted).Round(time.Millisecond))
	logCodecs(t, "WHIP answer", answer)
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-connected:
		pub.connected = time.Now()
	case <-ctx.Done():
		t.Fatal("WHIP publisher: not connected")
	}

	errs := make(chan error, 2)
	go func() { errs <- paced(video, frames, time.Second/clipFPS) }()
	go func() { errs <- paced(audio, packets, opusFrameTime) }()
	for range 2 {
		if err := <-errs; err != nil {
			t.Errorf("WHIP publisher: %v", err)
		}
	}
	pub.plis = plis.Load()
	return pub
}

// paced writes samples of duration d to track in real time.
func paced(track *webrtc.TrackLocalStaticSample, samples [][]byte, d time.Duration) error {
	tick := time.NewTicker(d)
	defer tick.Stop()
	for i, s := range samples {
		if err := track.WriteSample(media.Sample{Data: s, Duration: d}); err != nil {
			return fmt.Errorf("%s sample %d: %w", track.Kind(), i, err)
		}
		<-tick.C
	}
	return nil
}

// logCodecs logs the codec lines of an SDP.
func logCodecs(t *testing.T, what, sdp string) {
	t.Helper()
	var lines []string
	for _, l := range strings.Split(sdp, "\n") {
		if l = strings.TrimSpace(l); strings.HasPrefix(l, "a=rtpmap:") || strings.HasPrefix(l, "a=fmtp:") {
			lines = append(lines, l)
		}
	}
	t.Logf("%s codecs: %s", what, strings.Join(lines, " | "))
}

func TestWHIPNewWHEPErrors(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ct := r.Header.Get("Content-Type"); ct != "application/sdp" {
			t.Errorf("Content-Type %q", ct)
		}
		http.Error(w, "no such stream", http.StatusNotFound)
	}))
	defer srv.Close()
	for name, tc := range map[string]struct{ url, want string }{
		"status":  {srv.URL + "/whep", "404 Not Found, want 201 Created"},
		"refused": {"http://127.0.0.1:1/whep", "connection refused"},
	} {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			r, err := NewWHEP(tc.url, t.TempDir())
			if err == nil {
				r.Close()
				t.Fatal("NewWHEP succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.url) {
				t.Errorf("error %q, want it to name %s and say %q", err, tc.url, tc.want)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("failing took %v", d)
			}
		})
	}
}

func TestWHIPKeyframePacket(t *testing.T) {
	for name, tc := range map[string]struct {
		payload []byte
		want    bool
	}{
		"empty":            {nil, false},
		"IDR":              {[]byte{0x65, 0x88}, true},
		"non-IDR":          {[]byte{0x41, 0x9a}, false},
		"SPS":              {[]byte{0x67, 0x42}, false},
		"STAP-A SPS PPS":   {[]byte{0x78, 0, 2, 0x67, 0x42, 0, 2, 0x68, 0xce}, false},
		"STAP-A with IDR":  {[]byte{0x78, 0, 2, 0x67, 0x42, 0, 2, 0x65, 0x88}, true},
		"STAP-A truncated": {[]byte{0x78, 0, 9, 0x65, 0x88}, false},
		"FU-A IDR start":   {[]byte{0x7c, 0x85, 0x88}, true},
		"FU-A IDR middle":  {[]byte{0x7c, 0x05, 0x88}, false},
		"FU-A P start":     {[]byte{0x5c, 0x81, 0x9a}, false},
		"FU-A short":       {[]byte{0x7c}, false},
	} {
		if got := h264Keyframe(tc.payload); got != tc.want {
			t.Errorf("%s: h264Keyframe(% x) = %v, want %v", name, tc.payload, got, tc.want)
		}
	}
}

func TestWHIPSplitAnnexB(t *testing.T) {
	for _, tc := range []struct {
		in   []byte
		want []string
	}{
		{nil, nil},
		{[]byte{0, 0, 0, 1, 0x67, 1, 2, 0, 0, 1, 0x68, 3, 0, 0, 0, 1, 0x65, 4}, []string{"67 01 02", "68 03", "65 04"}},
		{[]byte{0, 0, 1, 0x41, 0, 0, 3, 1}, []string{"41 00 00 03 01"}},
		{[]byte{0, 0, 0, 1, 0, 0, 0, 1, 0x09, 0xf0}, []string{"09 f0"}},
		{[]byte{0x65, 1}, nil}, // no start code
	} {
		var got []string
		for _, nal := range splitAnnexB(tc.in) {
			got = append(got, fmt.Sprintf("% x", nal))
		}
		if strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("splitAnnexB(% x) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestWHIPH264Recorder(t *testing.T) {
	annexB := func(nals ...string) []byte {
		var b []byte
		for _, n := range nals {
			b = append(append(b, 0, 0, 0, 1), n...)
		}
		return b
	}
	const sps, pps, idr, p = "\x67S", "\x68P", "\x65I", "\x41p"
	for name, tc := range map[string]struct {
		aus  [][]byte
		want []byte
	}{
		"starts at IDR": {
			[][]byte{annexB(p), annexB(sps, pps, idr), annexB(p)},
			annexB(sps, pps, idr, p),
		},
		"parameter sets before": {
			[][]byte{annexB(sps), annexB(pps), annexB(p), annexB(idr), annexB(p)},
			annexB(sps, pps, idr, p),
		},
		"no parameter sets": {
			[][]byte{annexB(idr), annexB(p)},
			annexB(idr, p),
		},
		"never a keyframe": {
			[][]byte{annexB(sps, pps), annexB(p)},
			nil,
		},
	} {
		var out bytes.Buffer
		rec := h264Recorder{w: &out}
		for _, au := range tc.aus {
			if err := rec.write(au); err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(out.Bytes(), tc.want) {
			t.Errorf("%s: wrote % x, want % x", name, out.Bytes(), tc.want)
		}
	}
}

func TestWHIPFrameCounter(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	type pkt struct {
		ts       uint32
		keyframe bool
		ms       int
	}
	for name, tc := range map[string]struct {
		pkts []pkt
		want WHEPStats
	}{
		"none": {nil, WHEPStats{}},
		"frames and a freeze": {
			[]pkt{{100, false, 0}, {100, false, 1}, {3100, false, 33}, {6100, true, 500}, {6100, true, 501}, {9100, false, 533}},
			WHEPStats{VideoPackets: 6, VideoFrames: 4, FirstVideo: at(0), FirstKeyframe: at(500), MaxFrameGap: 467 * time.Millisecond},
		},
		"late packet of an earlier frame": {
			[]pkt{{100, false, 0}, {3100, false, 33}, {100, false, 900}, {6100, false, 950}},
			WHEPStats{VideoPackets: 4, VideoFrames: 3, FirstVideo: at(0), MaxFrameGap: 917 * time.Millisecond},
		},
		"timestamp wraps": {
			[]pkt{{0xffffff00, false, 0}, {0x00000b00, false, 33}},
			WHEPStats{VideoPackets: 2, VideoFrames: 2, FirstVideo: at(0), MaxFrameGap: 33 * time.Millisecond},
		},
	} {
		var s WHEPStats
		var f frameCounter
		for _, p := range tc.pkts {
			f.packet(&s, p.ts, p.keyframe, at(p.ms))
		}
		if s != tc.want {
			t.Errorf("%s: %+v, want %+v", name, s, tc.want)
		}
	}
}

// TestWHIPWholeFrames: a session's frames as WholeFrames tells them — its
// first frame from its first packet (a NAL unit's start), a keyframe when
// any packet carries an IDR, kept only when every packet was.
func TestWHIPWholeFrames(t *testing.T) {
	t0 := time.Now()
	pkt := func(seq uint16, ts uint32, marker, start, key, kept bool) VideoArrival {
		return VideoArrival{At: t0.Add(time.Duration(seq) * time.Millisecond), Seq: seq, Timestamp: ts, Marker: marker, Start: start, Key: key, Kept: kept, Session: 1}
	}
	a := []VideoArrival{
		pkt(100, 0, false, true, false, false),  // STAP-A: SPS, PPS (dropped)
		pkt(101, 0, false, true, true, false),   // FU-A start of the IDR (dropped)
		pkt(102, 0, true, false, true, true),    // its end (kept)
		pkt(103, 3000, true, true, false, true), // a P-frame
		pkt(104, 6000, false, true, true, true), // an IDR, whole and kept
		pkt(105, 6000, true, false, true, true),
	}
	got := completeFrames(a, true)
	want := []Frame{
		{At: a[2].At, Timestamp: 0, Key: true, Kept: false, Session: 1},
		{At: a[3].At, Timestamp: 3000, Key: false, Kept: true, Session: 1},
		{At: a[5].At, Timestamp: 6000, Key: true, Kept: true, Session: 1},
	}
	if !slices.Equal(got, want) {
		t.Errorf("frames\n%+v, want\n%+v", got, want)
	}
	// Without firstStarts (CompleteFrames), the first frame cannot be told.
	if n := len(CompleteFrames(a)); n != 2 {
		t.Errorf("CompleteFrames: %d frames, want 2", n)
	}
	// A FU-A middle fragment starts no frame.
	if h264NALStart([]byte{28, 0x05}) || !h264NALStart([]byte{28, 0x85}) || !h264NALStart([]byte{24}) {
		t.Error("h264NALStart")
	}
	if !h264IDRFragment([]byte{28, 0x05}) || h264IDRFragment([]byte{28, 0x01}) {
		t.Error("h264IDRFragment")
	}
}
