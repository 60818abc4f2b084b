package main

import (
	"fmt"
	"math"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/golive/golive/internal/testpeer"
	"github.com/golive/golive/internal/testutil"
)

// everyFrame checks that pkts (one stream's, in DTS order) hold every frame
// at fps, with no gap over maxGap, and returns how many there are.
func everyFrame(t *testing.T, what string, pkts []testutil.PacketInfo, fps, maxGap float64) int {
	t.Helper()
	if len(pkts) < 2 {
		t.Fatalf("%s: %d video packets", what, len(pkts))
	}
	span := pkts[len(pkts)-1].DTS - pkts[0].DTS
	want := int(math.Round(span*fps)) + 1
	if len(pkts) < want-1 {
		t.Errorf("%s: %d frames over %.2f s, want %d (every frame at %g fps)", what, len(pkts), span, want, fps)
	}
	if gap, at := testutil.MaxGap(pkts); gap > maxGap {
		t.Errorf("%s: a gap of %.0f ms at %.2f s (want ≤ %.0f ms)", what, gap*1000, at, maxGap*1000)
	}
	return len(pkts)
}

// TestTwoDestinationsOneSlowThenDead: golive pushes 360p30 to two nginx
// servers, one behind a 300 kbit/s link (below the preset's minimum with
// audio) that is killed 8 s in, and records locally in 6 s segments. The
// other server gets every frame, with no gap over 100 ms, at the full
// bitrate: the slow one sheds video in its own queue and says so, and
// neither its lag nor its death touches the others. golive runs to
// --duration and exits 0. The recording's segments start on keyframes,
// their timestamps run on from file to file, and together they hold every
// frame.
func TestTwoDestinationsOneSlowThenDead(t *testing.T) {
	testutil.RequireTool(t, "ffprobe")
	ns := testpeer.StartNetns(t)
	slow := testpeer.StartNginx(t, testpeer.NginxConfig{Netns: ns, Record: true})
	fast := testpeer.StartNginx(t, testpeer.NginxConfig{Netns: ns, Record: true})
	ns.ShapeT(t, testpeer.Link{RateKbit: 300, Port: slow.Port()})
	rec := filepath.Join(t.TempDir(), "show-%Y%m%d-%H%M%S.mp4")
	const dur = 15 * time.Second
	cmd := ns.Command(goliveBinary(t), "push", "--status", "off", "--log-format", "json", "--preset", "360p30",
		"--duration", dur.String(), "--record", rec, "--record-segment", "6s", slow.URL("SLOWKEY"), fast.URL("FASTKEY"))
	stderr := startLive(t, cmd)
	time.Sleep(8 * time.Second)
	if err := slow.Kill(); err != nil {
		t.Fatal(err)
	}
	if code := waitExit(t, cmd, stderr, dur+30*time.Second); code != 0 {
		t.Fatalf("exit %d, want 0:\n%s", code, stderr.String())
	}
	log := stderr.String()
	for _, key := range []string{"SLOWKEY", "FASTKEY"} {
		if strings.Contains(log, key) {
			t.Errorf("the stream key %s appears in the log", key)
		}
	}
	frames := stoppedField(t, log, "frames")

	r := readRecording(t, fast, "FASTKEY")
	got := everyFrame(t, "fast server", r.video, 30, 0.1)
	if got < frames-3 {
		t.Errorf("fast server: %d frames of %d encoded", got, frames)
	}
	kbps := rate(r.video, 3, 13) / 1000
	if kbps < 600 {
		t.Errorf("fast server: video at %.0f kbit/s between 3 and 13 s, want ≥ 600 (the preset's 800k, not the slow link's)", kbps)
	}
	for _, m := range testutil.LogLines(log, "output stopped") {
		// A figure, not a bar: wall-clock latency on a shared machine.
		if m["dest"] == "record" {
			t.Logf("record: %v files, dropped %v", m["files"], m["dropped"])
			continue
		}
		t.Logf("%v: reconnects %v, dropped %v, latency p50 %v ms p99 %v ms", m["dest"], m["reconnects"], m["dropped_sending"], m["latency_p50_ms"], m["latency_p99_ms"])
	}
	t.Logf("fast server: %d frames of %d, video %.0f kbit/s", got, frames, kbps)
	if len(testutil.LogLines(log, "destination cannot keep up: shedding video to keyframes in its own queue")) == 0 {
		t.Errorf("the slow destination's lag was not logged:\n%s", log)
	}
	if s, err := testutil.Packets(slow.RecordPath("SLOWKEY"), "v"); err == nil && len(s) >= got {
		t.Errorf("slow server: %d frames, as many as the fast one's %d: was it shaped?", len(s), got)
	}

	files, _ := filepath.Glob(filepath.Join(filepath.Dir(rec), "show-*.mp4"))
	slices.Sort(files)
	if len(files) < 2 {
		t.Fatalf("recording: files %v, want ≥ 2 segments of 6 s", files)
	}
	var all []testutil.PacketInfo
	for i, f := range files {
		pkts, err := testutil.Packets(f, "v")
		if err != nil || len(pkts) == 0 {
			t.Fatalf("segment %s: %d packets, %v", f, len(pkts), err)
		}
		if !pkts[0].Keyframe {
			t.Errorf("segment %d (%s) does not start on a keyframe", i, f)
		}
		if i > 0 {
			prev := all[len(all)-1]
			if d := pkts[0].DTS - prev.DTS; d < 0.02 || d > 0.05 {
				t.Errorf("segment %d starts %.3f s after the last frame of the one before, want one frame (1/30 s)", i, d)
			}
		}
		all = append(all, pkts...)
	}
	if n := everyFrame(t, "recording", all, 30, 0.05); n < frames-3 {
		t.Errorf("recording: %d frames of %d encoded", n, frames)
	}
}

// TestRecordKilled: golive records (and only records) 360p30 to an MP4 and
// is killed with SIGKILL 6 s in: the file decodes without an error and
// holds every frame to within a second of the kill, with its audio.
// (TestOutageAndRestart checks that the recording keeps every frame
// through a 15 s network outage.)
func TestRecordKilled(t *testing.T) {
	testutil.RequireTool(t, "ffprobe", "ffmpeg")
	rec := filepath.Join(t.TempDir(), "kiosk.mp4")
	cmd := exec.Command(goliveBinary(t), "push", "--status", "off", "--log-format", "json", "--preset", "360p30",
		"--record", rec)
	var stderr testutil.LogBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	if !testutil.WaitFor(15*time.Second, 20*time.Millisecond, func() bool { return strings.Contains(stderr.String(), `"msg":"recording"`) }) {
		t.Fatalf("never started recording:\n%s", stderr.String())
	}
	time.Sleep(6 * time.Second)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()

	if _, err := testutil.DecodeFrames(rec, "v"); err != nil {
		t.Errorf("the recording does not decode cleanly after kill -9: %v", err)
	}
	pkts, err := testutil.Packets(rec, "v")
	if err != nil {
		t.Fatal(err)
	}
	everyFrame(t, "recording", pkts, 30, 0.05)
	if span := pkts[len(pkts)-1].DTS - pkts[0].DTS; span < 5 {
		t.Errorf("the recording holds %.1f s of the 6 s before the kill, want ≥ 5 s", span)
	}
	if a, err := testutil.Packets(rec, "a"); err != nil || len(a) == 0 {
		t.Errorf("recording: no audio (%v)", err)
	}
}

// TestRecordDiskFull: the recording goes to a 300 KiB file system, which
// fills in about 2 s. The recording stops with one warning; the stream
// to the server goes on to the end, and golive exits 0.
func TestRecordDiskFull(t *testing.T) {
	testutil.RequireTool(t, "ffprobe")
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=300k"); err != nil {
		testutil.Missing(t, "cannot mount a small tmpfs for a full disk: "+err.Error())
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	n := testpeer.StartNginx(t, testpeer.NginxConfig{Record: true})
	code, log := push(t, "--preset", "360p30", "--duration", "5s", "--log-format", "json",
		"--record", filepath.Join(dir, "full.mp4"), n.URL("diskfull"))
	if code != 0 {
		t.Fatalf("exit %d, want 0:\n%s", code, log)
	}
	if w := testutil.LogLines(log, "recording stopped: the stream goes on without it"); len(w) != 1 {
		t.Errorf("%d recording-stopped lines, want 1:\n%s", len(w), log)
	}
	pkts, err := testutil.Packets(n.RecordPath("diskfull"), "v")
	if err != nil {
		t.Fatal(err)
	}
	if span := pkts[len(pkts)-1].DTS - pkts[0].DTS; span < 4.5 {
		t.Errorf("the server got %.1f s of 5 s", span)
	}
	everyFrame(t, "server", pkts, 30, 0.1)
}

// TestRTMPAndWHIP: one push to nginx over RTMP and to a WHIP server at
// once: one video encoder feeds both, with AAC for RTMP and Opus for
// WebRTC; both arrive whole.
func TestRTMPAndWHIP(t *testing.T) {
	testutil.RequireTool(t, "ffmpeg", "ffprobe")
	n := testpeer.StartNginx(t, testpeer.NginxConfig{Record: true})
	ww := testpeer.StartWHIPWHEP(t)
	rx := testpeer.StartWHEP(t, ww.WHEPURL(), t.TempDir())
	code, log := push(t, "--preset", "360p30", "--duration", "6s", "--log-format", "json",
		n.URL("mixed"), strings.Replace(ww.WHIPURL(), "http://", "whip://", 1))
	if code != 0 {
		t.Fatalf("exit %d; log:\n%s", code, log)
	}
	var video, audio []string
	for _, m := range testutil.LogLines(log, "encoder open") {
		if e, ok := m["encoder"].(string); ok {
			video = append(video, e)
		} else if c, ok := m["codec"].(string); ok {
			audio = append(audio, c)
		}
	}
	slices.Sort(audio)
	if len(video) != 1 || len(audio) != 2 || !strings.Contains(audio[0], "aac") || !strings.Contains(audio[1], "opus") {
		t.Errorf("encoders opened: video %v, audio %v; want one video, AAC and Opus", video, audio)
	}
	frames := stoppedField(t, log, "frames")
	r := readRecording(t, n, "mixed")
	if got := everyFrame(t, "RTMP", r.video, 30, 0.1); got < frames-3 {
		t.Errorf("RTMP: %d frames of %d", got, frames)
	}
	pr := testutil.ProbeRecordingT(t, n.RecordPath("mixed"))
	if a := pr.Audio(); a == nil || a.CodecName != "aac" {
		t.Errorf("RTMP audio %+v, want AAC", pr.Streams)
	}
	checkWHEP(t, rx, frames, 220) // 6 s of 20 ms packets: 300
}

// TestSRTShapedLink: golive pushes 720p30 (2500 kbit/s) over SRT into
// ffmpeg's libsrt listener, in a namespace whose packets to the listener
// are held to 1200 kbit/s from 6 s on. What arrives is 1280x720 at 30 fps
// with AAC; the adaptive bitrate cuts below the link (as it does for
// RTMP's queue), and once it has, every frame arrives and decodes.
func TestSRTShapedLink(t *testing.T) {
	testutil.RequireTool(t, "ffmpeg", "ffprobe")
	ns := testpeer.StartNetns(t)
	l := testpeer.StartSRTListener(t, testpeer.SRTListenerConfig{Netns: ns})
	const dur = 24 * time.Second
	cmd := ns.Command(goliveBinary(t), "push", "--status", "off", "--log-format", "json", "--preset", "720p30",
		"--duration", dur.String(), l.URL("?streamid=live/SRTKEY&latency=200"))
	stderr := startLive(t, cmd)
	time.Sleep(6 * time.Second)
	ns.ShapeT(t, testpeer.Link{RateKbit: 1200, Port: l.Port})
	cut := time.Now()
	if code := waitExit(t, cmd, stderr, dur+30*time.Second); code != 0 {
		t.Fatalf("exit %d, want 0:\n%s", code, stderr.String())
	}
	log := stderr.String()
	if strings.Contains(log, "SRTKEY") {
		t.Errorf("the stream id appears in the log")
	}
	l.WaitEnd(t) // the receiver drops what comes too late while the bitrate is over the link

	pr := testutil.ProbeRecordingT(t, l.Out)
	if v := pr.Video(); v == nil || v.Width != 1280 || v.Height != 720 || testutil.ParseRate(v.RFrameRate) != 30 {
		t.Errorf("video %+v, want 1280x720 at 30 fps", pr.Streams)
	}
	if a := pr.Audio(); a == nil || a.CodecName != "aac" {
		t.Errorf("audio %+v, want AAC", pr.Streams)
	}
	// The cut: a bitrate change below the link after the shaping began.
	var first time.Time
	for _, m := range testutil.LogLines(log, "bitrate") {
		if at := testutil.LogTime(m); at.After(cut) && testutil.LogInt(m, "to_kbps") <= 1100 && first.IsZero() {
			first = at
		}
	}
	if first.IsZero() {
		t.Fatalf("no bitrate cut below 1100 kbit/s after the link narrowed:\n%s", log)
	}
	for _, m := range testutil.LogLines(log, "bitrate") {
		t.Logf("%v %v → %v kbit/s: %v", testutil.LogTime(m).Sub(cut).Round(100*time.Millisecond), m["from_kbps"], m["to_kbps"], m["why"])
	}
	t.Logf("cut below the link %v after it narrowed", first.Sub(cut).Round(time.Millisecond))
	if d := first.Sub(cut); d > 10*time.Second {
		t.Errorf("the cut came %v after the link narrowed, want within 10 s", d)
	}
	pkts, err := testutil.Packets(l.Out, "v")
	if err != nil {
		t.Fatal(err)
	}
	end := pkts[len(pkts)-1].DTS
	var tail []testutil.PacketInfo
	for _, p := range pkts {
		if p.DTS >= end-8 {
			tail = append(tail, p)
		}
	}
	everyFrame(t, "the last 8 s", tail, 30, 0.1)
	// ffmpeg -ss with -c copy starts at the keyframe before.
	tailTS := filepath.Join(t.TempDir(), "tail.ts")
	if out, err := exec.Command("ffmpeg", "-v", "error", "-ss", fmt.Sprint(end-8-pkts[0].DTS), "-i", l.Out, "-c", "copy", tailTS).CombinedOutput(); err != nil {
		t.Fatalf("cutting the last 8 s: %v\n%s", err, out)
	}
	if _, err := testutil.DecodeFrames(tailTS, "v"); err != nil {
		t.Errorf("the last 8 s do not decode cleanly: %v", err)
	}
	if kbps := rate(pkts, end-8, end) / 1000; kbps > 1150 {
		t.Errorf("video at %.0f kbit/s in the last 8 s, over the 1200 kbit/s link", kbps)
	}
}
