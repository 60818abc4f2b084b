package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golive/golive/internal/testpeer"
	"github.com/golive/golive/internal/testutil"
)

// push runs `golive push …` in-process and returns its exit code and stderr.
func push(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(append([]string{"golive", "push", "--status", "off"}, args...), &stdout, &stderr)
	return code, stderr.String()
}

// TestPushRecordedStream pushes 8 s of the 720p preset to a real nginx-rtmp
// and checks what the server recorded, as a viewer's player would see it.
func TestPushRecordedStream(t *testing.T) {
	testutil.RequireTool(t, "ffprobe")
	n := testpeer.StartNginx(t, testpeer.NginxConfig{Record: true})
	const key = "SECRETKEY1"
	code, log := push(t, "--preset", "720p", "--duration", "8s", n.URL(key))
	if code != exitOK {
		t.Fatalf("exit %d, want 0; log:\n%s", code, log)
	}
	if strings.Contains(log, key) {
		t.Errorf("the stream key appears in the log:\n%s", log)
	}
	rec := n.RecordPath(key)
	pr := testutil.ProbeRecordingT(t, rec)
	v, a := pr.Video(), pr.Audio()
	if v == nil || a == nil {
		t.Fatalf("recording has streams %+v, want video and audio", pr.Streams)
	}
	if v.CodecName != "h264" || v.Width != 1280 || v.Height != 720 {
		t.Errorf("video %s %dx%d, want h264 1280x720", v.CodecName, v.Width, v.Height)
	}
	if fps := testutil.ParseRate(v.RFrameRate); math.Abs(fps-30) > 0.5 {
		t.Errorf("video frame rate %v (%s), want 30", fps, v.RFrameRate)
	}
	if a.CodecName != "aac" || a.SampleRate != 48000 || a.Channels != 2 {
		t.Errorf("audio %s %d Hz %d ch, want aac 48000 Hz 2 ch", a.CodecName, a.SampleRate, a.Channels)
	}
	if math.Abs(pr.Duration-8) > 0.8 {
		t.Errorf("duration %.2f s, want 8 s ±10%%", pr.Duration)
	}

	pkts, err := testutil.Packets(rec, "v")
	if err != nil {
		t.Fatal(err)
	}
	if len(pkts) < 8*30*95/100 {
		t.Errorf("%d video packets for 8 s at 30 fps", len(pkts))
	}
	if !pkts[0].Keyframe {
		t.Error("the stream does not start with a keyframe")
	}
	for i := 1; i < len(pkts); i++ {
		if pkts[i].DTS <= pkts[i-1].DTS {
			t.Fatalf("video DTS not increasing at packet %d: %.3f after %.3f", i, pkts[i].DTS, pkts[i-1].DTS)
		}
	}
	keys := testutil.KeyframeTimes(pkts)
	if len(keys) < 4 {
		t.Fatalf("keyframes at %v: want one every 2 s", keys)
	}
	for i := 1; i < len(keys); i++ {
		if d := keys[i] - keys[i-1]; math.Abs(d-2) > 0.001 {
			t.Errorf("keyframes at %v: spacing %.3f s, want 2.000", keys, d)
		}
	}
	apk, err := testutil.Packets(rec, "a")
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(apk); i++ {
		if apk[i].PTS <= apk[i-1].PTS {
			t.Fatalf("audio PTS not increasing at packet %d", i)
		}
	}
	// Audio and video cover the same span (no drift, no missing start).
	if d := math.Abs(apk[0].PTS - pkts[0].PTS); d > 0.1 {
		t.Errorf("audio starts %.3f s away from video", d)
	}
}

func TestPushRefused(t *testing.T) {
	n := testpeer.StartNginx(t, testpeer.NginxConfig{DenyPublish: true})
	const key = "SECRETKEY2"
	start := time.Now()
	code, log := push(t, "--duration", "20s", n.URL(key))
	if code != exitUnauthorized {
		t.Fatalf("exit %d, want %d (refused); log:\n%s", code, exitUnauthorized, log)
	}
	if time.Since(start) > 10*time.Second {
		t.Errorf("took %v to notice the refusal", time.Since(start))
	}
	if strings.Contains(log, key) {
		t.Errorf("the stream key appears in the output:\n%s", log)
	}
	if !strings.Contains(log, "refused") {
		t.Errorf("no clear refusal message:\n%s", log)
	}
}

func TestPushRTMPS(t *testing.T) {
	testutil.RequireTool(t, "ffprobe")
	n := testpeer.StartNginx(t, testpeer.NginxConfig{RTMPS: true, Record: true})
	t.Run("ca-file", func(t *testing.T) {
		if code, log := push(t, "--preset", "360p", "--duration", "2s", "--ca-file", n.CAFile(), n.RTMPSURL("withca")); code != exitOK {
			t.Fatalf("exit %d; log:\n%s", code, log)
		}
		if pr := testutil.ProbeRecordingT(t, n.RecordPath("withca")); pr.Video() == nil || pr.Video().Width != 640 {
			t.Fatalf("recording: %+v", pr)
		}
	})
	t.Run("insecure", func(t *testing.T) {
		if code, log := push(t, "--preset", "360p", "--duration", "1s", "--insecure-tls", n.RTMPSURL("insecure")); code != exitOK {
			t.Fatalf("exit %d; log:\n%s", code, log)
		}
	})
	t.Run("untrusted", func(t *testing.T) {
		code, log := push(t, "--preset", "360p", "--duration", "1s", n.RTMPSURL("untrusted"))
		if code != exitConnect || !strings.Contains(log, "certificate") {
			t.Fatalf("exit %d, want %d with a certificate error; log:\n%s", code, exitConnect, log)
		}
	})
}

// TestBadInput: one clear line and the documented exit code, fast.
func TestBadInput(t *testing.T) {
	port, err := testutil.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	nothing := "rtmp://127.0.0.1:" + strconv.Itoa(port) + "/live/SECRETKEY3"
	for _, tc := range []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"unknown preset", []string{"--preset", "900p", nothing}, exitUsage, "valid: 1080p30"},
		{"malformed URL", []string{"rtmp//nohost/SECRETKEY3"}, exitUsage, "missing scheme"},
		{"unsupported scheme", []string{"http://example.com/live/SECRETKEY3"}, exitUsage, "unsupported scheme"},
		{"no key", []string{"rtmp://127.0.0.1/SECRETKEY3"}, exitUsage, "want rtmp://host/app/streamkey"},
		{"bad bitrate", []string{"--bitrate", "fast", nothing}, exitUsage, "bitrate"},
		{"bad size", []string{"--size", "1281x720", nothing}, exitUsage, "even"},
		{"bad fps", []string{"--fps", "500", nothing}, exitUsage, "fps"},
		{"unknown flag", []string{"--nope", nothing}, exitUsage, "nope"},
		{"no URL", []string{}, exitUsage, "want a URL"},
		{"same URL twice", []string{nothing, nothing}, exitUsage, "given twice"},
		{"bad record extension", []string{"--record", "/tmp/x.avi", nothing}, exitUsage, ".mp4, .mkv, .flv or .ts"},
		{"record in no directory", []string{"--record", "/nonexistent/dir/x.mp4", nothing}, exitUsage, "/nonexistent/dir"},
		{"record-segment without record", []string{"--record-segment", "1m", nothing}, exitUsage, "only with --record"},
		{"bad abr-follow", []string{"--abr-follow", "middle", nothing}, exitUsage, "want fastest or slowest"},
		{"bad srt url", []string{"srt://127.0.0.1:9000?latency=200000"}, exitUsage, "microseconds"},
		{"bad source", []string{"--source", "webcam", nothing}, exitUsage, "want test, test:sync, camera, file:PATH or pipe:FORMAT:WxH@FPS"},
		{"no such camera", []string{"--source", "camera", "--camera", "/dev/video9", nothing}, exitUsage, "/dev/video9"},
		{"missing file", []string{"--source", "file:/nonexistent.mp4", nothing}, exitUsage, "/nonexistent.mp4"},
		{"loop without file", []string{"--loop", nothing}, exitUsage, "--loop"},
		{"bad camera control", []string{"--source", "camera", "--camera-control", "brightness", nothing}, exitUsage, "name=value"},
		{"missing slate", []string{"--slate", "/nonexistent.png", nothing}, exitUsage, "slate"},
		{"nothing listening", []string{"--duration", "1s", nothing}, exitConnect, "connection refused"},
		{"missing CA file", []string{"--ca-file", "/nonexistent.pem", nothing}, exitUsage, "ca-file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			code, log := push(t, tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; output:\n%s", code, tc.code, log)
			}
			if !strings.Contains(log, tc.msg) {
				t.Errorf("output lacks %q:\n%s", tc.msg, log)
			}
			if strings.Contains(log, "SECRETKEY3") {
				t.Errorf("output leaks the key:\n%s", log)
			}
			if strings.Contains(log, "panic") || strings.Contains(log, "goroutine ") {
				t.Errorf("panic:\n%s", log)
			}
			if time.Since(start) > 5*time.Second {
				t.Errorf("took %v", time.Since(start))
			}
		})
	}
}

// TestUnresponsiveServers: a server that accepts the TCP connection and
// then says nothing must not hang golive (fail within --connect-timeout),
// and one that hangs up at once fails with a clear line.
func TestUnresponsiveServers(t *testing.T) {
	for _, tc := range []struct {
		name   string
		handle func(net.Conn)
		msg    string
	}{
		{"silent", func(c net.Conn) { io.Copy(io.Discard, c) }, "no answer within 1s"},
		{"hangs up", func(c net.Conn) { c.Close() }, "the connection"}, // closed or reset: it depends on timing
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ln.Close() })
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					go func() { defer c.Close(); tc.handle(c) }()
				}
			}()
			start := time.Now()
			code, log := push(t, "--connect-timeout", "1s", "--duration", "5s", "rtmp://"+ln.Addr().String()+"/live/SECRETKEY4")
			if code != exitConnect || !strings.Contains(log, tc.msg) {
				t.Fatalf("exit %d, want %d with %q; output:\n%s", code, exitConnect, tc.msg, log)
			}
			if took := time.Since(start); took > 3*time.Second {
				t.Errorf("took %v with --connect-timeout 1s", took)
			}
			if strings.Contains(log, "SECRETKEY4") {
				t.Errorf("output leaks the key:\n%s", log)
			}
		})
	}
}

// TestServerGoesAway: the server dies mid-stream and stays down. golive
// reconnects (first attempt within 1 s, then every 2 s at most); with
// --reconnect-max 2 it gives up after two attempts: exit 3 with a clear
// line, promptly.
func TestServerGoesAway(t *testing.T) {
	n := testpeer.StartNginx(t, testpeer.NginxConfig{})
	done := make(chan struct{})
	var code int
	var log string
	go func() {
		defer close(done)
		code, log = push(t, "--preset", "360p", "--duration", "30s", "--reconnect-max", "2", n.URL("SECRETKEY5"))
	}()
	time.Sleep(3 * time.Second) // stream for a while, then pull the plug
	n.Stop()
	stopped := time.Now()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("golive still running 15 s after the server went away")
	}
	if code != exitConnect || !strings.Contains(log, "connection lost") || !strings.Contains(log, "gave up reconnecting after 2 attempts") {
		t.Fatalf("exit %d, want %d with \"connection lost\" and \"gave up reconnecting after 2 attempts\"; output:\n%s", code, exitConnect, log)
	}
	// Two attempts: the first within 1 s, the second at most 2 s later.
	if took := time.Since(stopped); took > 4*time.Second {
		t.Errorf("gave up %v after the server went away, want ≤ 4 s for 2 attempts", took)
	}
	if strings.Contains(log, "SECRETKEY5") {
		t.Errorf("output leaks the key:\n%s", log)
	}
}

// TestWaitForServer: without --wait-for-server a server that is not there
// yet fails fast (exit 3); with it, golive waits and goes live once the
// server starts.
func TestWaitForServer(t *testing.T) {
	port, err := testutil.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("rtmp://127.0.0.1:%d/live/waiting", port)
	start := time.Now()
	if code, log := push(t, "--preset", "360p", "--duration", "2s", url); code != exitConnect {
		t.Fatalf("no server, no --wait-for-server: exit %d, want %d:\n%s", code, exitConnect, log)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("failing took %v, want fast", took)
	}
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port)) // hold the port: nothing answers yet
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	done := make(chan struct{})
	var code int
	var log string
	go func() {
		defer close(done)
		code, log = push(t, "--preset", "360p", "--duration", "3s", "--wait-for-server", url)
	}()
	time.Sleep(3 * time.Second)
	select {
	case <-done:
		t.Fatalf("--wait-for-server: gave up with no server (exit %d):\n%s", code, log)
	default:
	}
	n := testpeer.StartNginx(t, testpeer.NginxConfig{Record: true, Port: port})
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("golive still running 15 s after the server started")
	}
	if code != 0 || !strings.Contains(log, "waiting for the server") {
		t.Fatalf("exit %d, want 0 after waiting; output:\n%s", code, log)
	}
	if p := testutil.ProbeRecordingT(t, n.RecordPath("waiting")); p.Video() == nil {
		t.Errorf("nothing recorded after waiting for the server")
	}
}

// TestJSONLogs: with --log-format json every line of stderr is a JSON
// object, the final error too, with its exit code.
func TestJSONLogs(t *testing.T) {
	port, err := testutil.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	code, log := push(t, "--log-format", "json", "rtmp://127.0.0.1:"+strconv.Itoa(port)+"/live/SECRETKEY6")
	if code != exitConnect {
		t.Fatalf("exit %d, want %d:\n%s", code, exitConnect, log)
	}
	lines := strings.Split(strings.TrimSpace(log), "\n")
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not JSON: %q", l)
		}
	}
	var last map[string]any
	json.Unmarshal([]byte(lines[len(lines)-1]), &last)
	if last["level"] != "ERROR" || last["exit_code"] != float64(exitConnect) || !strings.Contains(last["error"].(string), "connection refused") {
		t.Fatalf("last line %v: want the error with exit_code 3", last)
	}
	if strings.Contains(log, "SECRETKEY6") {
		t.Errorf("log leaks the key:\n%s", log)
	}
}

// TestLivePlayback: a viewer playing the stream live (what `ffplay
// rtmp://…` does) gets H.264, AAC and the metadata the server derived from
// our onMetaData.
func TestLivePlayback(t *testing.T) {
	testutil.RequireTool(t, "ffprobe")
	n := testpeer.StartNginx(t, testpeer.NginxConfig{})
	url := n.URL("live1")
	done := make(chan int)
	go func() {
		code, _ := push(t, "--preset", "360p", "--duration", "6s", url)
		done <- code
	}()
	// nginx-rtmp holds a player of a stream not yet published until it is.
	out, err := exec.Command("ffprobe", "-v", "error", "-rw_timeout", "15000000", "-show_entries",
		"format_tags:stream=codec_name,width,height,sample_rate", "-of", "json", url).Output()
	if code := <-done; code != exitOK {
		t.Fatalf("push exit %d", code)
	}
	if err != nil {
		t.Fatalf("ffprobe of the live stream: %v", err)
	}
	var pr struct {
		Streams []struct {
			CodecName  string `json:"codec_name"`
			Width      int    `json:"width"`
			SampleRate string `json:"sample_rate"`
		} `json:"streams"`
		Format struct {
			Tags map[string]string `json:"tags"`
		} `json:"format"`
	}
	if err := json.Unmarshal(out, &pr); err != nil {
		t.Fatal(err)
	}
	codecs := map[string]bool{}
	for _, s := range pr.Streams {
		codecs[s.CodecName] = true
		if s.CodecName == "h264" && s.Width != 640 {
			t.Errorf("live video width %d, want 640", s.Width)
		}
	}
	if !codecs["h264"] || !codecs["aac"] {
		t.Errorf("live streams %s, want h264 and aac", out)
	}
	// nginx-rtmp (meta on) sends players metadata of its own making; its
	// fps is taken only from the publisher's onMetaData "framerate".
	if tags := pr.Format.Tags; tags["fps"] != "30" || tags["displayWidth"] != "640" {
		t.Errorf("live metadata %v: want fps 30 and displayWidth 640 from our onMetaData", tags)
	}
}
