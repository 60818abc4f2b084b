package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/golive/golive/internal/testpeer"
	"github.com/golive/golive/internal/testutil"
)

// TestPipeSource: ffmpeg writes 6 s of raw I420 640x360 at 30 fps, paced
// (-re), into golive's standard input, as rpicam-vid would; golive pushes
// 5 s of it. The recording decodes without an error, is 640x360, has at
// least 95% of the frames and a keyframe every 2 s.
func TestPipeSource(t *testing.T) {
	testutil.RequireTool(t, "ffmpeg", "ffprobe")
	bin := goliveBinary(t)
	n := testpeer.StartNginx(t, testpeer.NginxConfig{Record: true})
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	producer := exec.Command("ffmpeg", "-v", "error", "-re", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30",
		"-t", "6", "-f", "rawvideo", "-pix_fmt", "yuv420p", "-")
	producer.Stdout = w
	golive := exec.Command(bin, "push", "--preset", "360p", "--source", "pipe:yuv420p:640x360@30",
		"--duration", "5s", "--status", "off", "--log-format", "json", n.URL("pipe"))
	golive.Stdin = r
	var stderr bytes.Buffer
	golive.Stderr = &stderr
	if err := producer.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { producer.Process.Kill(); producer.Wait() })
	if err := golive.Start(); err != nil {
		t.Fatal(err)
	}
	r.Close()
	w.Close()
	done := make(chan error, 1)
	go func() { done <- golive.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		golive.Process.Kill()
		<-done
		t.Fatalf("golive still running after 30 s:\n%s", stderr.String())
	}
	if code := golive.ProcessState.ExitCode(); code != exitOK {
		t.Fatalf("exit %d, want 0:\n%s", code, stderr.String())
	}

	// What the source says it read and passed on.
	for _, line := range strings.Split(stderr.String(), "\n") {
		var l struct {
			Msg                               string
			Frames, Delivered, Thinned, Unfed int
		}
		if json.Unmarshal([]byte(line), &l) == nil && strings.HasPrefix(l.Msg, "pipe source") {
			t.Logf("%s: %d frames read, %d delivered, %d thinned, %d while the slate showed", l.Msg, l.Frames,
				l.Delivered, l.Thinned, l.Unfed)
			if l.Delivered < 5*30*90/100 {
				t.Errorf("%d frames delivered from the pipe in 5 s", l.Delivered)
			}
		}
	}

	rec := n.RecordPath("pipe")
	pr := testutil.ProbeRecordingT(t, rec)
	v := pr.Video()
	if v == nil || v.Width != 640 || v.Height != 360 {
		t.Fatalf("recording streams %+v: want 640x360 video", pr.Streams)
	}
	// -fps_mode vfr: the stamps (arrival times, smoothed) are regular to
	// a millisecond or two but follow the producer's phase, which is
	// anywhere against a 1/30 s grid from the file's start. Passed
	// through, ffmpeg rounds every frame onto that grid and, where the
	// phase sits near half a frame, two frames land on one tick ("non
	// monotonically increasing dts": 2 runs in 15): a complaint about its
	// rounding, not about the stream, whose spacing is checked below.
	if out, err := exec.Command("ffmpeg", "-v", "error", "-i", rec, "-fps_mode", "vfr", "-f", "null", "-").CombinedOutput(); err != nil || len(out) > 0 {
		t.Fatalf("decoding the recording: %v\n%s", err, out)
	}
	pkts, err := testutil.Packets(rec, "v")
	if err != nil {
		t.Fatal(err)
	}
	// The stamps are regular: no two frames closer than 3/4 of a frame
	// (after the first half second, where the failover may have filled in
	// black on its own grid until the first frame came).
	for i := 1; i < len(pkts); i++ {
		if pkts[i-1].DTS-pkts[0].DTS < 0.5 {
			continue
		}
		if gap := pkts[i].DTS - pkts[i-1].DTS; gap < 0.75/30 {
			var around []string
			for j := max(i-5, 0); j < min(i+5, len(pkts)); j++ {
				around = append(around, fmt.Sprintf("%.3f", pkts[j].DTS))
			}
			t.Errorf("frames at %.3f and %.3f s, %.1f ms apart: the stamps are not regular (%s)", pkts[i-1].DTS, pkts[i].DTS,
				gap*1000, strings.Join(around, " "))
		}
	}
	if len(pkts) < 5*30*95/100 {
		t.Errorf("%d video frames in 5 s at 30 fps: want 95%% (%d)", len(pkts), 5*30*95/100)
	}
	if gap, at := testutil.MaxGap(pkts); gap > 2.0/30+0.002 {
		t.Errorf("video gap of %.0f ms at %.3f s", gap*1000, at)
	}
	keys := testutil.KeyframeTimes(pkts)
	if len(keys) < 3 || !pkts[0].Keyframe {
		t.Fatalf("keyframes at %v: want one every 2 s from the start", keys)
	}
	// Frames are stamped at their arrival: a keyframe falls on the first
	// frame from half a frame before its time on, within a frame of it.
	for i := 1; i < len(keys); i++ {
		if d := keys[i] - keys[i-1]; math.Abs(d-2) > 1.0/30+0.005 {
			t.Errorf("keyframes at %v: spacing %.3f s, want 2 s", keys, d)
		}
	}
}

// TestPipeUsage: a malformed pipe: source, or one of another size than
// the preset's, is a usage error (exit 2) in one line.
func TestPipeUsage(t *testing.T) {
	bin := goliveBinary(t)
	for _, tc := range []struct {
		source, msg string
	}{
		{"pipe:rgb24:640x360@30", `--source "pipe:rgb24:640x360@30": format "rgb24": want yuv420p, nv12, yuyv422`},
		{"pipe:yuv420p:641x360@30", `--source "pipe:yuv420p:641x360@30": size 641x360: width and height must be even`},
		{"pipe:yuv420p:640x360@0", `frame rate 0: out of range 1..120`},
		{"pipe:yuv420p:640*360@30", `size "640*360": want WIDTHxHEIGHT`},
		{"pipe:nv12:1280x720@30", "the pipe's 1280x720 is not the preset's 640x360"},
	} {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "push", "--preset", "360p", "--source", tc.source, "--status", "off",
			"rtmp://127.0.0.1:1/live/k")
		cmd.Stdin = r
		out, _ := cmd.CombinedOutput()
		r.Close()
		w.Close()
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		last := lines[len(lines)-1]
		if code := cmd.ProcessState.ExitCode(); code != exitUsage || !strings.Contains(last, tc.msg) {
			t.Errorf("--source %s: exit %d, last line %q; want exit %d and %q", tc.source, code, last, exitUsage, tc.msg)
		}
	}
}
