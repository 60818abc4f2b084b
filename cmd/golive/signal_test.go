package main

import (
	"math"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/golive/golive/internal/testpeer"
	"github.com/golive/golive/internal/testutil"
)

// TestSignalStopsCleanly: SIGTERM (systemd's stop) and SIGINT (Ctrl-C) end
// the push with exit 0 and a complete recording: what was encoded arrives,
// ending on the frames before the signal.
func TestSignalStopsCleanly(t *testing.T) {
	testutil.RequireTool(t, "ffprobe")
	bin := goliveBinary(t)
	n := testpeer.StartNginx(t, testpeer.NginxConfig{Record: true})
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			key := "sig" + strings.ReplaceAll(sig.String(), " ", "")
			cmd := exec.Command(bin, "push", "--preset", "360p", "--status", "off", "--log-format", "json", n.URL(key))
			stderr := startLive(t, cmd)
			// Signal once it is live, 3 s later.
			time.Sleep(3 * time.Second) // the length of the stream, not a synchronisation
			sent := time.Now()
			cmd.Process.Signal(sig)
			err := cmd.Wait()
			if err != nil {
				t.Fatalf("exit: %v, want 0; log:\n%s", err, stderr.String())
			}
			if took := time.Since(sent); took > 5*time.Second {
				t.Errorf("took %v to stop", took)
			}
			if !strings.Contains(stderr.String(), `"msg":"stopped"`) {
				t.Errorf("no final stats line:\n%s", stderr.String())
			}
			rec := n.RecordPath(key)
			pr := testutil.ProbeRecordingT(t, rec)
			if pr.Video() == nil || pr.Audio() == nil || math.Abs(pr.Duration-3) > 0.5 {
				t.Fatalf("recording: %.2f s, streams %+v; want 3 s of audio and video", pr.Duration, pr.Streams)
			}
		})
	}
}

// startLive starts a `golive push … --log-format json` and waits for its
// "publishing" line; its stderr is returned.
func startLive(t *testing.T, cmd *exec.Cmd) *testutil.LogBuffer {
	t.Helper()
	var stderr testutil.LogBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if !testutil.WaitFor(15*time.Second, 20*time.Millisecond, func() bool { return strings.Contains(stderr.String(), `"msg":"publishing"`) }) {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("never went live:\n%s", stderr.String())
	}
	return &stderr
}
