package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golive/golive/encode"
	"github.com/golive/golive/internal/pipeline"
	"github.com/golive/golive/internal/testpeer"
	"github.com/golive/golive/internal/testutil"
)

// hardwareHere names a device through which this machine may have a
// hardware encoder ("" on the build machines: no /dev/dri, no V4L2, no GPU).
func hardwareHere() string {
	for _, pat := range []string{"/dev/dri/renderD*", "/dev/nvidia[0-9]*", "/dev/video*"} {
		if m, _ := filepath.Glob(pat); len(m) > 0 {
			return m[0]
		}
	}
	return ""
}

// recordedVideo waits for nginx's recording of key, checks that it
// decodes cleanly and returns its video packets.
func recordedVideo(t *testing.T, n *testpeer.Nginx, key string) []testutil.PacketInfo {
	t.Helper()
	rec := n.RecordPath(key)
	if err := testutil.WaitRecordingDone(rec, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	decodesCleanly(t, rec)
	pkts, err := testutil.Packets(rec, "v")
	if err != nil {
		t.Fatal(err)
	}
	return pkts
}

// decodesCleanly: ffmpeg decodes the whole file without a word.
func decodesCleanly(t *testing.T, path string) {
	t.Helper()
	if msgs, err := exec.Command("ffmpeg", "-v", "error", "-i", path, "-f", "null", "-").CombinedOutput(); err != nil || len(msgs) > 0 {
		t.Errorf("%s does not decode cleanly: %v\n%s", filepath.Base(path), err, msgs)
	}
}

// TestEncoderAuto: the real probe on this machine. Each hardware candidate
// is skipped with its reason on one log line, the whole probe is under
// 2 s, libx264 is taken, and the stream decodes at nginx.
func TestEncoderAuto(t *testing.T) {
	testutil.RequireTool(t, "ffprobe", "ffmpeg")
	if dev := hardwareHere(); dev != "" {
		t.Skipf("this machine has %s: the probe may choose hardware", dev)
	}
	n := testpeer.StartNginx(t, testpeer.NginxConfig{Record: true})
	code, log := push(t, "--preset", "360p", "--duration", "3s", "--log-format", "json", n.URL("auto"))
	if code != exitOK {
		t.Fatalf("exit %d:\n%s", code, log)
	}
	skipped := map[string]string{}
	for _, m := range testutil.LogLines(log, "encoder skipped") {
		name, _ := m["encoder"].(string)
		reason, _ := m["reason"].(string)
		skipped[name] = reason
		t.Logf("skipped %s: %s", name, reason)
	}
	for _, name := range []string{encode.V4L2M2M, encode.NVENC, encode.VAAPI, encode.QSV} {
		if skipped[name] == "" {
			t.Errorf("no reason logged for %s", name)
		}
	}
	var opened []map[string]any
	for _, m := range testutil.LogLines(log, "encoder open") {
		if m["component"] == "encode.video" {
			opened = append(opened, m)
		}
	}
	if len(opened) != 1 || opened[0]["encoder"] != encode.X264 {
		t.Fatalf("encoder open: %v", opened)
	}
	probe := testutil.LogInt(opened[0], "probe_ms")
	t.Logf("probe and open took %d ms", probe)
	if probe >= 2000 {
		t.Errorf("the probe took %d ms, bound 2 s", probe)
	}
	if got := stoppedString(t, log, "encoder"); got != encode.X264 {
		t.Errorf("stopped: encoder %q", got)
	}
	pr := testutil.ProbeRecordingT(t, n.RecordPath("auto"))
	if v := pr.Video(); v == nil || v.CodecName != "h264" || v.Width != 640 || v.Height != 360 {
		t.Fatalf("recorded %+v", pr.Streams)
	}
	decodesCleanly(t, n.RecordPath("auto"))
}

// TestEncoderNamedMissing: --encoder NAME that this machine does not have
// is exit 2 with one line naming it and why, and nothing is published.
func TestEncoderNamedMissing(t *testing.T) {
	if dev := hardwareHere(); dev != "" {
		t.Skipf("this machine has %s", dev)
	}
	n := testpeer.StartNginx(t, testpeer.NginxConfig{Record: true})
	for _, tc := range []struct{ encoder, want string }{
		{"nvenc", "nvenc: open h264_nvenc"},
		{"vaapi", "vaapi: no /dev/dri/renderD* render node"},
		{"v4l2m2m", "v4l2m2m: no /dev/video* device"},
		{"h264_omx", `--encoder "h264_omx": want auto, v4l2m2m, nvenc, vaapi, qsv, x264`},
	} {
		code, log := push(t, "--preset", "360p", "--duration", "2s", "--encoder", tc.encoder, n.URL("missing"))
		lines := strings.Split(strings.TrimSpace(log), "\n")
		last := lines[len(lines)-1]
		if code != exitUsage || !strings.Contains(last, tc.want) {
			t.Errorf("--encoder %s: exit %d, last line %q; want exit 2 with %q", tc.encoder, code, last, tc.want)
		}
		if strings.Contains(log, "publishing") {
			t.Errorf("--encoder %s: went live:\n%s", tc.encoder, log)
		}
	}
}

// TestEncoderFailsMidStream: a "hardware" encoder (libx264 behind the
// test encoder, taking NV12 from the filter stage as hardware does) fails
// 5 s in; libx264 takes over at once. At nginx: no gap over 2 frames, no
// decoder error, a keyframe at the switch, timestamps continuous; one log
// line; counted in the stopped line.
func TestEncoderFailsMidStream(t *testing.T) {
	testutil.RequireTool(t, "ffprobe", "ffmpeg")
	n := testpeer.StartNginx(t, testpeer.NginxConfig{Record: true})
	code, log := push(t, "--preset", "360p", "--duration", "10s", "--log-format", "json", "--encoder", "test:fail=5s",
		"--filter-backend", "cpu", "--brightness", "0.05", n.URL("failover"))
	if code != exitOK {
		t.Fatalf("exit %d:\n%s", code, log)
	}
	failed := testutil.LogLines(log, "encoder failed: libx264 took over")
	if len(failed) != 1 {
		t.Fatalf("%d encoder failure lines, want 1:\n%s", len(failed), log)
	}
	t.Logf("switch took %d ms", testutil.LogInt(failed[0], "switch_ms"))
	if fl := testutil.LogLines(log, "filters"); len(fl) != 1 || fl[0]["format"] != "nv12" {
		t.Errorf("the filter stage: %v; want it writing nv12 for the encoder", fl)
	}
	if stoppedField(t, log, "encoder_fallbacks") != 1 || stoppedString(t, log, "encoder") != encode.X264 ||
		stoppedField(t, log, "reconnects") != 0 {
		t.Errorf("stopped line: %v", testutil.LogLines(log, "stopped"))
	}
	pkts := recordedVideo(t, n, "failover")
	if len(pkts) < 290 {
		t.Errorf("%d video packets for 10 s at 30 fps", len(pkts))
	}
	for i := 1; i < len(pkts); i++ {
		if pkts[i].DTS <= pkts[i-1].DTS {
			t.Fatalf("DTS not increasing at packet %d: %.3f after %.3f", i, pkts[i].DTS, pkts[i-1].DTS)
		}
	}
	if gap, at := testutil.MaxGap(pkts); gap > 2.5/30 {
		t.Errorf("%.3f s without video at %.2f s, want no gap over 2 frames", gap, at)
	}
	keys := testutil.KeyframeTimes(pkts)
	t.Logf("keyframes at %v", keys)
	switchKey := false
	for _, k := range keys {
		// The test encoder fails 5 s of media time after its first frame.
		if math.Abs(k-pkts[0].PTS-5) < 0.05 {
			switchKey = true
		}
	}
	if !switchKey {
		t.Errorf("no keyframe at the switch (5 s): %v", keys)
	}
}

// TestEncoderHangsMidStream: a "hardware" encoder that never returns
// 3 s in (a driver hang) is given up after 1 s without a packet and
// libx264 takes over: the stream goes on, the frames of that second are
// lost (and only those), the recording decodes, and the push ends cleanly
// although the hung call never returns.
func TestEncoderHangsMidStream(t *testing.T) {
	testutil.RequireTool(t, "ffprobe", "ffmpeg")
	n := testpeer.StartNginx(t, testpeer.NginxConfig{Record: true})
	code, log := push(t, "--preset", "360p", "--duration", "8s", "--log-format", "json", "--encoder", "test:hang=3s", n.URL("hang"))
	if code != exitOK {
		t.Fatalf("exit %d:\n%s", code, log)
	}
	failed := testutil.LogLines(log, "encoder failed: libx264 took over")
	if len(failed) != 1 || !strings.Contains(fmt.Sprint(failed[0]["error"]), "no packet for 1s") {
		t.Fatalf("encoder failure lines: %v", failed)
	}
	pkts := recordedVideo(t, n, "hang")
	gap, at := testutil.MaxGap(pkts)
	t.Logf("%d video packets; the longest gap %.3f s at %.2f s", len(pkts), gap, at-pkts[0].DTS)
	if gap > 1.1 || math.Abs(at-pkts[0].DTS-3) > 0.1 {
		t.Errorf("%.3f s without video at %.2f s; want the hang's second at most, at 3 s", gap, at-pkts[0].DTS)
	}
	if last := pkts[len(pkts)-1].DTS - pkts[0].DTS; last < 7.5 {
		t.Errorf("video ends at %.2f s of 8", last)
	}
}

// TestEncoderReopenShaped: libx264 in "reopen" mode (as VAAPI, QSV and
// v4l2m2m, which cannot change bitrate on an open encoder) on a link cut
// to 600 kbit/s: the adaptive bitrate's changes are reached by switching
// to a reopened encoder at keyframes, and the recording decodes cleanly
// with no gap over 2 frames.
func TestEncoderReopenShaped(t *testing.T) {
	testutil.RequireTool(t, "ffprobe", "ffmpeg")
	ns, n, hb := shapedServer(t, testpeer.NginxConfig{Record: true})
	cmd, stderr := shapedPush(t, ns, n, hb, "reopen", 26*time.Second, "--preset", "480p", "--encoder", "test:reopen")
	time.Sleep(4 * time.Second)
	ns.ShapeT(t, testpeer.Link{RateKbit: 600})
	time.Sleep(12 * time.Second)
	ns.ShapeT(t, testpeer.Link{})
	code := waitExit(t, cmd, stderr, 40*time.Second)
	log := stderr.String()
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, log)
	}
	var switches int
	for _, m := range testutil.LogLines(log, "bitrate changed") {
		if how, _ := m["how"].(string); strings.HasPrefix(how, "reopened") {
			switches++
			t.Logf("%v → %v in %v ms", m["from"], m["to"], m["switch_ms"])
		}
	}
	if switches < 2 {
		t.Fatalf("%d switches to a reopened encoder, want the cut and the climb at least:\n%s", switches, log)
	}
	if stoppedField(t, log, "reconnects") != 0 || stoppedField(t, log, "encoder_switches") != switches {
		t.Errorf("stopped line: %v", testutil.LogLines(log, "stopped"))
	}
	r := readRecording(t, n, "reopen")
	decodesCleanly(t, n.RecordPath("reopen"))
	if gap, at := testutil.MaxGap(r.video); gap > 2.5/30 {
		t.Errorf("%.3f s without video at %.2f s, want no gap over 2 frames", gap, at)
	}
	for i := 1; i < len(r.video); i++ {
		if r.video[i].DTS <= r.video[i-1].DTS {
			t.Fatalf("DTS not increasing at packet %d", i)
		}
	}
	t.Logf("%d frames recorded, %d switches", len(r.video), switches)
}

// TestDevicesEncoders: golive devices --json lists every encoder with what
// happened when it was tried; here only libx264 is available.
func TestDevicesEncoders(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"golive", "devices", "--json"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var got struct {
		Encoders []encode.Result `json:"encoders"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	seen := map[string]encode.Result{}
	for _, e := range got.Encoders {
		seen[e.Name] = e
		if e.Codec == "" || (!e.Available && e.Reason == "") {
			t.Errorf("%+v: no codec, or unavailable without a reason", e)
		}
	}
	if x := seen[encode.X264]; !x.Available || x.Codec != "libx264" {
		t.Errorf("x264: %+v", x)
	}
	for _, name := range encode.Names {
		if _, ok := seen[name]; !ok {
			t.Errorf("%s not listed", name)
		}
	}
	if hardwareHere() == "" {
		for _, name := range []string{encode.V4L2M2M, encode.NVENC, encode.VAAPI, encode.QSV} {
			if seen[name].Available {
				t.Errorf("%s available on a machine without hardware", name)
			}
		}
	}
	var text bytes.Buffer
	printEncoders(&text, got.Encoders)
	if !strings.Contains(text.String(), "x264     libx264") || !strings.Contains(text.String(), "available") {
		t.Errorf("text listing:\n%s", text.String())
	}
}

// TestStatusLineEncoder: the status line names the encoder, says when
// libx264 stands in for a failed hardware encoder, and counts the outputs
// by state when there are several.
func TestStatusLineEncoder(t *testing.T) {
	for _, tc := range []struct {
		st   pipeline.Status
		want string
	}{
		{pipeline.Status{Encoder: "vaapi"}, "  vaapi"},
		{pipeline.Status{Encoder: "x264", EncoderFallbacks: 1}, "  x264 (fallback ×1)"},
		{pipeline.Status{Destinations: []pipeline.DestinationStatus{
			{State: pipeline.StateLive}, {State: pipeline.StateReconnecting, Lagging: true}, {State: pipeline.StateLive},
		}}, "  outputs: 2 live, 1 reconnecting, 1 lagging"},
	} {
		if line := formatStatus(tc.st); !strings.Contains(line, tc.want) {
			t.Errorf("%q lacks %q", line, tc.want)
		}
	}
}
