package testpeer

import (
	"bytes"
	"context"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golive/golive/internal/testutil"
)

// publish pushes seconds of a test pattern (320x240 30 fps H.264 with a
// keyframe every second, AAC sine) to url with ffmpeg in real time and
// returns ffmpeg's error, if any, with its stderr.
func publish(t *testing.T, url string, seconds int, extra ...string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	args := []string{"-nostdin", "-hide_banner", "-loglevel", "error", "-re",
		"-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30",
		"-f", "lavfi", "-i", "sine=f=1000",
		"-t", strconv.Itoa(seconds),
		"-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-g", "30",
		"-c:a", "aac"}
	args = append(append(args, extra...), "-f", "flv", url)
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "ffmpeg", args...)
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return &ffmpegError{err, strings.TrimSpace(stderr.String())}
	}
	return nil
}

type ffmpegError struct {
	err    error
	stderr string
}

func (e *ffmpegError) Error() string { return "ffmpeg: " + e.err.Error() + ": " + e.stderr }

func TestNginxRecordAndHLS(t *testing.T) {
	t.Parallel()
	testutil.RequireTool(t, "ffmpeg", "ffprobe")
	n := StartNginx(t, NginxConfig{Record: true, HLS: true})

	done := make(chan error, 1)
	go func() { done <- publish(t, n.URL("rec"), 3) }()

	// The first 2 s fragment, and so the playlist, appears while publishing.
	var playlist string
	if !testutil.WaitFor(10*time.Second, 100*time.Millisecond, func() bool {
		resp, err := http.Get(n.HLSURL("rec"))
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		playlist = string(b)
		return resp.StatusCode == http.StatusOK && strings.Contains(playlist, ".ts")
	}) {
		t.Errorf("no HLS playlist with a fragment at %s; last body %q", n.HLSURL("rec"), playlist)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := testutil.WaitRecordingDone(n.RecordPath("rec"), 10*time.Second); err != nil {
		t.Fatal(err)
	}

	p, err := testutil.Probe(n.RecordPath("rec"))
	if err != nil {
		t.Fatal(err)
	}
	v, a := p.Video(), p.Audio()
	if p.FormatName != "flv" || v == nil || a == nil {
		t.Fatalf("probe: format %q, video %+v, audio %+v", p.FormatName, v, a)
	}
	if v.CodecName != "h264" || v.Width != 320 || v.Height != 240 || v.PixFmt != "yuv420p" ||
		math.Abs(testutil.ParseRate(v.RFrameRate)-30) > 0.01 {
		t.Errorf("video stream: %+v", *v)
	}
	if a.CodecName != "aac" || a.SampleRate != 44100 || a.Channels != 1 {
		t.Errorf("audio stream: %+v", *a)
	}
	if p.Duration < 2.5 || p.Duration > 3.5 || p.BitRate <= 0 {
		t.Errorf("format: duration %v s, bit rate %v", p.Duration, p.BitRate)
	}

	pkts, err := testutil.Packets(n.RecordPath("rec"), "v")
	if err != nil {
		t.Fatal(err)
	}
	if len(pkts) < 80 || pkts[0].Size <= 0 {
		t.Errorf("got %d video packets, want about 90", len(pkts))
	}
	if kf := testutil.KeyframeTimes(pkts); len(kf) != 3 || !pkts[0].Keyframe {
		t.Errorf("keyframes at %v, want 3, one a second, the first packet among them", kf)
	}

	hls, err := testutil.Probe(n.HLSURL("rec"))
	if err != nil {
		t.Fatal(err)
	}
	if hls.FormatName != "hls" || hls.Video() == nil || hls.Video().CodecName != "h264" {
		t.Errorf("probe of HLS playlist: %+v", hls)
	}
}

func TestNginxDenyPublish(t *testing.T) {
	t.Parallel()
	testutil.RequireTool(t, "ffmpeg")
	n := StartNginx(t, NginxConfig{DenyPublish: true, Record: true})

	err := publish(t, n.URL("denied"), 1)
	if err == nil {
		t.Fatal("publish to a server that denies publishing succeeded")
	}
	// nginx says NetStream.Publish.Start, then closes: ffmpeg's writes fail.
	if !strings.Contains(err.Error(), "Broken pipe") && !strings.Contains(err.Error(), "reset by peer") {
		t.Errorf("unexpected ffmpeg failure: %v", err)
	}
	if log := n.ErrorLog(); !strings.Contains(log, "access forbidden by rule") {
		t.Errorf("error log has no access denial:\n%s", log)
	}
	// The record module runs before the access check: it leaves an empty file.
	if fi, err := os.Stat(n.RecordPath("denied")); err == nil && fi.Size() > 0 {
		t.Errorf("denied publish recorded %d bytes", fi.Size())
	}
}

func TestNginxStartError(t *testing.T) {
	t.Parallel()
	RequireNginxRTMP(t)
	n, err := NewNginx(NginxConfig{App: "bad app"})
	if err == nil {
		n.Stop()
		t.Fatal("NewNginx with an invalid application name succeeded")
	}
	if !strings.Contains(err.Error(), "[emerg]") {
		t.Errorf("error lacks nginx's log: %v", err)
	}
}

func TestNginxRTMPS(t *testing.T) {
	t.Parallel()
	testutil.RequireTool(t, "ffmpeg", "ffprobe")
	n := StartNginx(t, NginxConfig{RTMPS: true, Record: true})

	// Verify the certificate against CAFile: proves it is valid for 127.0.0.1.
	if err := publish(t, n.RTMPSURL("tls"), 1, "-tls_verify", "1", "-ca_file", n.CAFile()); err != nil {
		t.Fatal(err)
	}
	if err := testutil.WaitRecordingDone(n.RecordPath("tls"), 10*time.Second); err != nil {
		t.Fatal(err)
	}
	p, err := testutil.Probe(n.RecordPath("tls"))
	if err != nil {
		t.Fatal(err)
	}
	if v := p.Video(); v == nil || v.CodecName != "h264" {
		t.Errorf("probe of recording through RTMPS: %+v", p)
	}
}

func TestNginxStop(t *testing.T) {
	t.Parallel()
	RequireNginxRTMP(t)
	n, err := NewNginx(NginxConfig{App: "other"})
	if err != nil {
		t.Fatal(err)
	}
	if want := "/other/k"; !strings.HasSuffix(n.URL("k"), want) || n.RTMPSURL("k") != "" || n.HLSURL("k") != "" {
		t.Errorf("URL %q, RTMPSURL %q, HLSURL %q", n.URL("k"), n.RTMPSURL("k"), n.HLSURL("k"))
	}
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := n.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	if _, err := os.Stat(n.Dir()); !os.IsNotExist(err) && os.Getenv("GOLIVE_KEEP_PEER") != "1" {
		t.Errorf("directory %s not removed: %v", n.Dir(), err)
	}
}
