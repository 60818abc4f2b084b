package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golive/golive/internal/status"
	"github.com/golive/golive/internal/testpeer"
	"github.com/golive/golive/internal/testutil"
)

// The tests here run nginx-rtmp and golive inside a network namespace whose
// loopback the test shapes with tc, and take golive's view from its
// heartbeat (every 500 ms) and its JSON log, and the server's view from
// what nginx recorded.

// post is one heartbeat as the receiver got it.
type post struct {
	at  time.Time
	doc status.Document
	raw map[string]any
}

// heartbeats records golive's heartbeat posts; reply (may be nil) makes
// each answer.
type heartbeats struct {
	URL   string
	mu    sync.Mutex
	posts []post
	reply func(status.Document) string
}

func startHeartbeats(t *testing.T, ln net.Listener, reply func(status.Document) string) *heartbeats {
	t.Helper()
	h := &heartbeats{URL: "http://" + ln.Addr().String() + "/heartbeat", reply: reply}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		p := post{at: time.Now()}
		if err := json.Unmarshal(body, &p.doc); err != nil || json.Unmarshal(body, &p.raw) != nil {
			t.Errorf("heartbeat body %q: %v", body, err)
		}
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("heartbeat: %s with Content-Type %q", r.Method, r.Header.Get("Content-Type"))
		}
		h.mu.Lock()
		h.posts = append(h.posts, p)
		h.mu.Unlock()
		if h.reply != nil {
			io.WriteString(w, h.reply(p.doc))
		}
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return h
}

func (h *heartbeats) all() []post {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.posts)
}

// states is the sequence of distinct states posted, in the order of the
// documents' times: a post that timed out on a cut link may still arrive
// when the link is back, after newer ones.
func (h *heartbeats) states() []string {
	var s []string
	posts := h.all()
	slices.SortStableFunc(posts, func(a, b post) int { return a.doc.Time.Compare(b.doc.Time) })
	for _, p := range posts {
		if len(s) == 0 || s[len(s)-1] != p.doc.State {
			s = append(s, p.doc.State)
		}
	}
	return s
}

// logTimes returns when each line with msg was logged.
func logTimes(log, msg string) []time.Time {
	var ts []time.Time
	for _, m := range testutil.LogLines(log, msg) {
		ts = append(ts, testutil.LogTime(m))
	}
	return ts
}

// shapedServer makes a network namespace with nginx (cfg) and a
// heartbeat receiver in it.
func shapedServer(t *testing.T, cfg testpeer.NginxConfig) (*testpeer.Netns, *testpeer.Nginx, *heartbeats) {
	t.Helper()
	ns := testpeer.StartNetns(t)
	cfg.Netns = ns
	n := testpeer.StartNginx(t, cfg)
	ln, err := ns.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ns, n, startHeartbeats(t, ln, nil)
}

// shapedPush starts golive in ns, publishing the 720p preset to n with a
// heartbeat to hb every 500 ms, for dur.
func shapedPush(t *testing.T, ns *testpeer.Netns, n *testpeer.Nginx, hb *heartbeats, key string, dur time.Duration, extra ...string) (*exec.Cmd, *testutil.LogBuffer) {
	t.Helper()
	args := append([]string{"push", "--status", "off", "--log-format", "json", "--duration", dur.String(),
		"--heartbeat-url", hb.URL, "--heartbeat-interval", "500ms"}, extra...)
	cmd := ns.Command(goliveBinary(t), append(args, n.URL(key))...)
	return cmd, startLive(t, cmd)
}

// waitExit waits for cmd and returns its exit code.
func waitExit(t *testing.T, cmd *exec.Cmd, stderr *testutil.LogBuffer, timeout time.Duration) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(timeout):
		cmd.Process.Kill()
		<-done
		t.Fatalf("golive still running after %v:\n%s", timeout, stderr.String())
	}
	return cmd.ProcessState.ExitCode()
}

// recording is what nginx recorded, on media time.
type recording struct {
	video, audio []testutil.PacketInfo
}

func readRecording(t *testing.T, n *testpeer.Nginx, key string) recording {
	t.Helper()
	path := n.RecordPath(key)
	if err := testutil.WaitRecordingDone(path, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	var r recording
	var err error
	if r.video, err = testutil.Packets(path, "v"); err != nil {
		t.Fatal(err)
	}
	if r.audio, err = testutil.Packets(path, "a"); err != nil {
		t.Fatal(err)
	}
	if len(r.video) == 0 || len(r.audio) == 0 {
		t.Fatalf("recording: %d video and %d audio packets", len(r.video), len(r.audio))
	}
	return r
}

// rate is the bit/s of the packets whose DTS is in [from, to) seconds.
func rate(pkts []testutil.PacketInfo, from, to float64) float64 {
	bytes := 0
	for _, p := range pkts {
		if p.DTS >= from && p.DTS < to {
			bytes += p.Size
		}
	}
	return float64(bytes) * 8 / (to - from)
}

// TestBandwidthCut: the 720p preset (2500 kbit/s) on a link that drops to
// 1000 kbit/s for 27 s. The stream never disconnects; the queue is back
// under 1 s within 5 s of the cut; what arrives settles at ≤ 950 kbit/s
// with every frame; once the link is back the video is back to ≥ 90 % of
// the target within 20 s; and the recording's timestamps never stop for
// more than 1 s.
func TestBandwidthCut(t *testing.T) {
	testutil.RequireTool(t, "ffprobe")
	ns, n, hb := shapedServer(t, testpeer.NginxConfig{Record: true})
	const (
		before = 8 * time.Second
		cutFor = 27 * time.Second
		after  = 25 * time.Second
	)
	cmd, stderr := shapedPush(t, ns, n, hb, "cut", before+cutFor+after)
	live := time.Now()
	time.Sleep(before)
	ns.ShapeT(t, testpeer.Link{RateKbit: 1000})
	cut := time.Now()
	time.Sleep(cutFor)
	ns.ShapeT(t, testpeer.Link{})
	restored := time.Now()
	code := waitExit(t, cmd, stderr, after+20*time.Second)
	log := stderr.String()
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, log)
	}
	if strings.Contains(log, "connection lost") || stoppedField(t, log, "reconnects") != 0 {
		t.Errorf("the stream disconnected:\n%s", log)
	}

	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, `"component":"abr"`) || strings.Contains(l, "dropping") {
			t.Log(l)
		}
	}
	t.Logf("cut at %v, restored at %v after going live", cut.Sub(live).Round(time.Millisecond), restored.Sub(live).Round(time.Millisecond))
	// golive's view.
	var maxDelay, lateDelay float64
	backAt := time.Duration(-1)
	var series strings.Builder
	for _, p := range hb.all() {
		fmt.Fprintf(&series, " %.1f:%.0f/%d/%d", p.at.Sub(cut).Seconds(), p.doc.QueueDelayMS, p.doc.TargetBitrate/1000, p.doc.ActualBitrate/1000)
	}
	t.Logf("s since the cut: queue ms/target/actual kbit/s:%s", series.String())
	for _, p := range hb.all() {
		if p.at.After(cut) && p.at.Before(restored) {
			maxDelay = max(maxDelay, p.doc.QueueDelayMS)
			if p.at.Sub(cut) >= 5*time.Second {
				lateDelay = max(lateDelay, p.doc.QueueDelayMS)
			}
		}
		if backAt < 0 && p.at.After(restored) && p.doc.TargetBitrate >= 2_250_000 {
			backAt = p.at.Sub(restored)
		}
	}
	t.Logf("queue delay after the cut: max %.0f ms, max from 5 s on %.0f ms; target back to ≥ 90%% %v after the link came back", maxDelay, lateDelay, backAt.Round(100*time.Millisecond))
	if lateDelay >= 1000 {
		t.Errorf("queue delay %.0f ms more than 5 s after the cut, want < 1 s", lateDelay)
	}
	if backAt < 0 || backAt > 20*time.Second {
		t.Errorf("video bitrate back to ≥ 90%% of the target %v after the link came back, want ≤ 20 s", backAt)
	}

	// The server's view, on media time (≈ time since going live).
	r := readRecording(t, n, "cut")
	c, back := cut.Sub(live).Seconds(), restored.Sub(live).Seconds()
	settled := rate(r.video, c+12, back-1) + rate(r.audio, c+12, back-1)
	frames := 0
	for _, p := range r.video {
		if p.DTS >= c+12 && p.DTS < back-1 {
			frames++
		}
	}
	want := int((back - 1 - c - 12) * 30 * 0.97)
	t.Logf("settled at %.0f kbit/s (video + audio) with %d frames in %.0f s; video %.0f kbit/s 18–21 s after the link came back",
		settled/1000, frames, back-1-c-12, rate(r.video, back+18, back+21)/1000)
	if settled > 950_000 {
		t.Errorf("%.0f kbit/s arrived on the 1000 kbit/s link, want ≤ 950", settled/1000)
	}
	if frames < want {
		t.Errorf("%d frames arrived while settled, want ≥ %d (video was dropped)", frames, want)
	}
	if v := rate(r.video, back+18, back+21); v < 0.9*2_500_000*0.9 {
		t.Errorf("video %.0f kbit/s 18–21 s after the link came back, want about the 2500k target", v/1000)
	}
	if gap, at := testutil.MaxGap(r.video); gap > 1 {
		t.Errorf("recording: %.2f s without video at %.1f s, want no gap over 1 s", gap, at)
	}
	if gap, at := testutil.MaxGap(r.audio); gap > 1 {
		t.Errorf("recording: %.2f s without audio at %.1f s, want no gap over 1 s", gap, at)
	}
}

// TestOutageAndRestart: a link that loses every packet for 15 s, then the
// server killed and started again 5 s later. Each time golive is
// reconnected within 3 s of the server being reachable again, the
// recording goes on (nginx appends), the capture never restarts, and the
// heartbeat reports the states across it. golive's own recording
// (--record) keeps every frame of the 50 s, outage and restarts included.
func TestOutageAndRestart(t *testing.T) {
	testutil.RequireTool(t, "ffprobe", "ffmpeg")
	// drop_idle_publisher: our dead session's TCP connection never ends
	// by itself on a cut link; the server drops it after 5 s of silence
	// (without it nginx says "already publishing" until its 60 s ping).
	ns, n, hb := shapedServer(t, testpeer.NginxConfig{Record: true, RecordAppend: true, DropIdlePublisher: 5 * time.Second})
	const total = 50 * time.Second
	local := filepath.Join(t.TempDir(), "local.mp4")
	cmd, stderr := shapedPush(t, ns, n, hb, "outage", total, "--preset", "480p", "--record", local)
	live := time.Now()

	time.Sleep(6 * time.Second)
	ns.ShapeT(t, testpeer.Link{LossPercent: 100})
	time.Sleep(15 * time.Second)
	ns.ShapeT(t, testpeer.Link{})
	linkBack := time.Now()

	time.Sleep(9 * time.Second)
	n.Kill()
	time.Sleep(5 * time.Second)
	if err := n.Restart(); err != nil {
		t.Fatal(err)
	}
	serverBack := time.Now()

	// A restart too quick for the send queue to overflow: only
	// Queue.Restart makes the new session start on a keyframe.
	time.Sleep(6 * time.Second)
	n.Kill()
	if err := n.Restart(); err != nil {
		t.Fatal(err)
	}
	quickBack := time.Now()

	code := waitExit(t, cmd, stderr, total-time.Since(live)+20*time.Second)
	log := stderr.String()
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, log)
	}
	var lost []time.Time
	for _, l := range logTimes(log, "connection lost: reconnecting") {
		lost = append(lost, l)
	}
	back := logTimes(log, "reconnected: publishing again")
	if len(lost) != 3 || len(back) != 3 {
		t.Fatalf("%d connections lost and %d reconnections, want 3 and 3:\n%s", len(lost), len(back), log)
	}
	for i, since := range []time.Time{linkBack, serverBack, quickBack} {
		what := []string{"the link came back", "the server restarted", "the server restarted at once"}[i]
		d := back[i].Sub(since)
		t.Logf("reconnected %v after %s (connection lost %v after going live)", d.Round(10*time.Millisecond), what, lost[i].Sub(live).Round(100*time.Millisecond))
		if d > 3*time.Second {
			t.Errorf("reconnected %v after %s, want ≤ 3 s", d, what)
		}
	}
	if got := stoppedField(t, log, "reconnects"); got != 3 {
		t.Errorf("stopped line says %d reconnects, want 3", got)
	}
	// The capture ran throughout: every frame of the 50 s was encoded.
	if f := stoppedField(t, log, "frames"); f < int(total.Seconds()*30*0.97) {
		t.Errorf("%d frames encoded in %v: the capture or the encoder stalled", f, total)
	}
	if n := len(logTimes(log, "encoder open")); n != 2 { // video and audio, once each
		t.Errorf("%d encoder opens, want 2 (one each, never reopened)", n)
	}

	// The heartbeat saw it: live, reconnecting, live again, stopped.
	st := hb.states()
	t.Logf("heartbeat states: %v (%d posts)", st, len(hb.all()))
	if len(st) < 5 || st[0] != status.Starting && st[0] != status.Live || st[len(st)-1] != status.Stopped ||
		!slices.Contains(st, status.Reconnecting) {
		t.Errorf("heartbeat states %v, want live, reconnecting, live … stopped", st)
	}
	if p := hb.all(); len(p) > 0 && p[len(p)-1].doc.Reconnects != 3 {
		t.Errorf("last heartbeat says %d reconnects, want 3", p[len(p)-1].doc.Reconnects)
	}

	// The server's recording goes on across both: nginx appended each new
	// session to the file, so it holds the whole stream but the outages.
	r := readRecording(t, n, "outage")
	dur := r.video[len(r.video)-1].DTS - r.video[0].DTS
	want := total.Seconds() - 15 - 5 - 2*3 - 3 // the outage, the restart, reconnecting, slack
	t.Logf("recording: %.1f s of video", dur)
	if dur < want {
		t.Errorf("recording holds %.1f s of video, want ≥ %.0f s", dur, want)
	}
	// The appended file decodes without an error across the three
	// reconnections (each new connection's chunk streams start afresh;
	// nginx itself skips a session's video up to its first keyframe, so
	// where a session starts is golive's queue test's to check).
	if msgs, err := exec.Command("ffmpeg", "-v", "error", "-i", n.RecordPath("outage"), "-f", "null", "-").CombinedOutput(); err != nil || len(msgs) > 0 {
		t.Errorf("the recording does not decode cleanly across the reconnections: %v\n%s", err, msgs)
	}

	// The local recording never waited for the network: every frame.
	pkts, err := testutil.Packets(local, "v")
	if err != nil {
		t.Fatal(err)
	}
	everyFrame(t, "local recording", pkts, 30, 0.05)
	if d := pkts[len(pkts)-1].DTS - pkts[0].DTS; d < total.Seconds()-1 {
		t.Errorf("local recording holds %.1f s of the %v", d, total)
	}
	if _, err := testutil.DecodeFrames(local, "v"); err != nil {
		t.Errorf("the local recording does not decode cleanly: %v", err)
	}
}

// TestHeartbeatOrders: a platform's {"action":"stop"} ends the stream
// cleanly (exit 0, last heartbeat "stopped"); {"max_bitrate":N} caps the
// encoder; a heartbeat server that is down changes nothing.
func TestHeartbeatOrders(t *testing.T) {
	n := testpeer.StartNginx(t, testpeer.NginxConfig{})
	t.Run("stop", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		bin := goliveBinary(t)
		start := time.Now()
		hb := startHeartbeats(t, ln, func(d status.Document) string {
			if time.Since(start) > 3*time.Second && d.State == status.Live {
				return `{"action":"stop","reason":"stream ended by the platform"}`
			}
			return `{"max_bitrate":600000}`
		})
		cmd := exec.Command(bin, "push", "--preset", "360p", "--status", "off", "--log-format", "json",
			"--heartbeat-url", hb.URL, "--heartbeat-interval", "300ms", "--heartbeat-token", "HBSECRET7", n.URL("orders"))
		stderr := startLive(t, cmd)
		code := waitExit(t, cmd, stderr, 15*time.Second)
		log := stderr.String()
		if code != 0 || !strings.Contains(log, "stream ended by the platform") {
			t.Fatalf("exit %d, want 0 after the platform's stop; log:\n%s", code, log)
		}
		if took := time.Since(start); took > 8*time.Second {
			t.Errorf("stopped %v after start; the stop order came after 3 s", took)
		}
		posts := hb.all()
		for _, p := range posts {
			t.Logf("%v %s target %d fps %.1f", p.at.Sub(start).Round(time.Millisecond), p.doc.State, p.doc.TargetBitrate, p.doc.FPS)
		}
		last := posts[len(posts)-1].doc
		if last.State != status.Stopped {
			t.Errorf("last heartbeat state %q, want stopped", last.State)
		}
		// 360p's target is 800k; the platform's cap of 600k applies.
		capped := false
		for _, p := range posts {
			capped = capped || p.doc.TargetBitrate == 600_000
			if p.doc.TargetBitrate > 800_000 {
				t.Errorf("target %d above the preset's", p.doc.TargetBitrate)
			}
		}
		if !capped {
			t.Errorf("the platform's max_bitrate 600000 never applied")
		}
		for _, f := range []string{"stream_id", "state", "uptime_s", "target_bitrate", "actual_bitrate", "fps", "dropped_frames",
			"queue_delay_ms", "rtt_ms", "reconnects", "encoder", "source", "host", "version"} {
			if _, ok := posts[len(posts)/2].raw[f]; !ok {
				t.Errorf("heartbeat lacks %q: %v", f, posts[len(posts)/2].raw)
			}
		}
		if mid := posts[len(posts)/2].doc; mid.FPS < 25 || mid.ActualBitrate <= 0 || mid.Source != "test" || mid.Encoder != "x264" ||
			strings.Contains(mid.StreamID, "orders") {
			t.Errorf("heartbeat mid-stream: %+v", mid)
		}
		if strings.Contains(log, "HBSECRET7") {
			t.Errorf("the heartbeat token is in the log")
		}
	})
	t.Run("down", func(t *testing.T) {
		port, err := testutil.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		code, log := push(t, "--preset", "360p", "--duration", "4s", "--heartbeat-interval", "200ms",
			"--heartbeat-url", fmt.Sprintf("http://127.0.0.1:%d/hb", port), n.URL("hbdown"))
		if code != 0 {
			t.Fatalf("exit %d with the heartbeat server down:\n%s", code, log)
		}
		if w := strings.Count(log, "heartbeat failed"); w != 1 {
			t.Errorf("%d heartbeat warnings in 4 s, want 1 (rate-limited):\n%s", w, log)
		}
	})
}

// TestABRScale: with --abr-scale on, a link on which even the preset's
// minimum does not fit makes golive encode the next smaller picture of the
// ladder (720p → 480p) after 10 s at the minimum, and the full picture
// again once the link is back. What nginx recorded decodes cleanly across
// both changes, with the sizes in that order.
func TestABRScale(t *testing.T) {
	testutil.RequireTool(t, "ffprobe", "ffmpeg")
	ns, n, hb := shapedServer(t, testpeer.NginxConfig{Record: true})
	cmd, stderr := shapedPush(t, ns, n, hb, "scale", 50*time.Second, "--abr-scale", "on")
	time.Sleep(3 * time.Second)
	ns.ShapeT(t, testpeer.Link{RateKbit: 550}) // 720p needs 628k at its minimum, with audio; 480p 368k
	cut := time.Now()
	time.Sleep(20 * time.Second)
	ns.ShapeT(t, testpeer.Link{})
	restored := time.Now()
	code := waitExit(t, cmd, stderr, 50*time.Second)
	log := stderr.String()
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, log)
	}
	sizes := logTimes(log, "picture size")
	if len(sizes) != 2 {
		t.Fatalf("%d picture size changes, want 2 (down, up):\n%s", len(sizes), log)
	}
	t.Logf("smaller picture %v after the cut, full picture again %v after the link came back",
		sizes[0].Sub(cut).Round(100*time.Millisecond), sizes[1].Sub(restored).Round(100*time.Millisecond))
	if d := sizes[0].Sub(cut); d < scaleDown || d > scaleDown+6*time.Second {
		t.Errorf("smaller picture %v after the cut, want after the 10 s at the minimum and within 16 s", d)
	}
	if sizes[1].Before(restored) {
		t.Errorf("full picture again before the link came back")
	}

	path := n.RecordPath("scale")
	if err := testutil.WaitRecordingDone(path, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "frame=width,height",
		"-of", "csv=p=0", path).Output()
	if err != nil {
		t.Fatalf("ffprobe: %v", err)
	}
	var seq []string
	for _, l := range strings.Fields(string(out)) {
		l = strings.TrimRight(l, ",") // a frame with side data gets an empty column
		if len(seq) == 0 || seq[len(seq)-1] != l {
			seq = append(seq, l)
		}
	}
	if want := []string{"1280,720", "854,480", "1280,720"}; !slices.Equal(seq, want) {
		t.Errorf("decoded frame sizes %v, want %v", seq, want)
	}
	if msgs, err := exec.Command("ffmpeg", "-v", "error", "-i", path, "-f", "null", "-").CombinedOutput(); err != nil || len(msgs) > 0 {
		t.Errorf("the recording does not decode cleanly: %v\n%s", err, msgs)
	}
}

// scaleDown is --abr-scale's wait at the minimum (internal/pipeline).
const scaleDown = 10 * time.Second
