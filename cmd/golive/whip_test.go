package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/golive/golive/internal/testpeer"
	"github.com/golive/golive/internal/testutil"
)

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if builtBin != "" && buildErr == nil {
		os.RemoveAll(filepath.Dir(builtBin))
	}
	os.Exit(code)
}

// goliveBinary builds golive once per test run, for tests that must send
// it signals or run it beside the test process.
func goliveBinary(t *testing.T) string {
	t.Helper()
	testutil.RequireTool(t, "go")
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "golive-bin")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "golive")
		if out, err := exec.Command("go", "build", "-o", builtBin, ".").CombinedOutput(); err != nil {
			buildErr = err
			builtBin = string(out)
		}
	})
	if buildErr != nil {
		t.Fatalf("go build: %v\n%s", buildErr, builtBin)
	}
	return builtBin
}

// TestWHIPExitCodes: a WHIP endpoint's refusals become the documented
// exit codes with a line naming the status; bad WHIP options are usage
// errors. The token never shows.
func TestWHIPExitCodes(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  testpeer.EndpointOptions
		args []string
		code int
		msg  string
	}{
		{"401", testpeer.EndpointOptions{Token: "right"}, nil, exitUnauthorized, "401 Unauthorized"},
		{"503", testpeer.EndpointOptions{Status: 503}, nil, exitConnect, "503 Service Unavailable"},
		{"bad protocol", testpeer.EndpointOptions{}, []string{"--protocol", "srt"}, exitUsage, "--protocol"},
		{"bad ice server", testpeer.EndpointOptions{}, []string{"--ice-server", "turn:turn.example.net"}, exitUsage, "TURN needs user:password@"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ep := testpeer.StartWHIPEndpoint(t, tc.opt)
			args := append([]string{"--preset", "360p", "--duration", "1s", "--token", "SECRETTOKEN5"}, tc.args...)
			code, log := push(t, append(args, strings.Replace(ep.URL, "http://", "whip://", 1))...)
			if code != tc.code || !strings.Contains(log, tc.msg) {
				t.Fatalf("exit %d, want %d with %q; output:\n%s", code, tc.code, tc.msg, log)
			}
			if strings.Contains(log, "SECRETTOKEN5") {
				t.Errorf("the token is in the output:\n%s", log)
			}
		})
	}
	t.Run("https without --protocol", func(t *testing.T) {
		code, log := push(t, "https://example.com/whip")
		if code != exitUsage || !strings.Contains(log, "unsupported scheme") {
			t.Fatalf("exit %d, want %d; output:\n%s", code, exitUsage, log)
		}
	})
}

// TestWHIPStopDeletes: SIGTERM (systemd's stop) ends a WHIP push with exit
// 0, and the session's DELETE reaches the endpoint, with the token taken
// from GOLIVE_TOKEN.
func TestWHIPStopDeletes(t *testing.T) {
	bin := goliveBinary(t)
	ep := testpeer.StartWHIPEndpoint(t, testpeer.EndpointOptions{Token: "SECRETTOKEN6"})
	cmd := exec.Command(bin, "push", "--preset", "360p", "--status", "off", "--log-format", "json", strings.Replace(ep.URL, "http://", "whip://", 1))
	cmd.Env = append(os.Environ(), "GOLIVE_TOKEN=SECRETTOKEN6")
	stderr := startLive(t, cmd)
	time.Sleep(2 * time.Second) // the length of the stream, not a synchronisation
	cmd.Process.Signal(syscall.SIGTERM)
	if code := waitExit(t, cmd, stderr, 8*time.Second); code != 0 {
		t.Fatalf("exit %d after SIGTERM, want 0; log:\n%s", code, stderr.String())
	}
	if n := ep.Count("DELETE"); n != 1 {
		t.Fatalf("%d DELETEs reached the endpoint, want 1; log:\n%s", n, stderr.String())
	}
	if f := ep.Frames(); f < 45 {
		t.Errorf("endpoint got %d frames in 2 s", f)
	}
	if ep.AudioPackets.Load() < 50 {
		t.Errorf("endpoint got %d audio packets in 2 s", ep.AudioPackets.Load())
	}
	if strings.Contains(stderr.String(), "SECRETTOKEN6") {
		t.Errorf("the token is in the log")
	}
}

// TestWHIPInterop: a WHIP server we did not write — pion's whip-whep
// example, built from the pinned module — takes 10 s of the 720p preset,
// and a WHEP viewer reads it back: the H.264 decodes from its first
// keyframe at 1280×720 with ≥ 95 % of the frames sent, and Opus arrives.
func TestWHIPInterop(t *testing.T) {
	testutil.RequireTool(t, "ffmpeg", "ffprobe")
	ww := testpeer.StartWHIPWHEP(t)
	rx := testpeer.StartWHEP(t, ww.WHEPURL(), t.TempDir())
	code, log := push(t, "--preset", "720p", "--duration", "10s", "--log-format", "json", strings.Replace(ww.WHIPURL(), "http://", "whip://", 1))
	if code != 0 {
		t.Fatalf("exit %d; log:\n%s", code, log)
	}
	sent := stoppedField(t, log, "frames")
	st := checkWHEP(t, rx, sent, 400) // 10 s of 20 ms packets: 500
	pr := testutil.ProbeRecordingT(t, rx.H264Path())
	if v := pr.Video(); v == nil || v.Width != 1280 || v.Height != 720 {
		t.Errorf("received video %+v, want 1280x720", pr.Streams)
	}
	if st.MaxFrameGap > time.Second {
		t.Errorf("the picture froze for %v", st.MaxFrameGap)
	}
}

// checkWHEP closes the WHEP viewer rx once the last packets have crossed
// the server, and checks what it got: H.264 that decodes cleanly, ≥ 95 %
// of the sent frames, and ≥ minAudio Opus packets that decode.
func checkWHEP(t *testing.T, rx *testpeer.WHEPReceiver, sent, minAudio int) testpeer.WHEPStats {
	t.Helper()
	time.Sleep(300 * time.Millisecond) // the last packets' way through the server
	st := rx.Stats()
	if err := rx.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := testutil.DecodeFrames(rx.H264Path(), "v")
	if err != nil {
		t.Fatalf("the received H.264 does not decode cleanly: %v", err)
	}
	if got*100 < sent*95 {
		t.Errorf("decoded %d frames of %d sent (< 95%%); viewer stats %+v", got, sent, st)
	}
	if st.AudioPackets < minAudio {
		t.Errorf("%d Opus packets arrived, want ≥ %d", st.AudioPackets, minAudio)
	}
	if n, err := testutil.DecodeFrames(rx.OggPath(), "a"); err != nil || n < minAudio {
		t.Errorf("received Opus: %d frames decoded, %v", n, err)
	}
	t.Logf("sent %d frames, %d arrived, decoded %d; %d video / %d audio RTP packets; largest gap %v", sent, st.VideoFrames, got, st.VideoPackets, st.AudioPackets, st.MaxFrameGap)
	return st
}

// stoppedField reads an integer field of the JSON "stopped" line.
func stoppedField(t *testing.T, log, field string) int {
	t.Helper()
	for _, m := range testutil.LogLines(log, "stopped") {
		if _, ok := m[field].(float64); ok {
			return testutil.LogInt(m, field)
		}
	}
	t.Fatalf("no %q in a stopped line:\n%s", field, log)
	return 0
}

// stoppedString reads a string field of the JSON "stopped" line.
func stoppedString(t *testing.T, log, field string) string {
	t.Helper()
	for _, m := range testutil.LogLines(log, "stopped") {
		if s, ok := m[field].(string); ok {
			return s
		}
	}
	t.Fatalf("no %q in a stopped line:\n%s", field, log)
	return ""
}
