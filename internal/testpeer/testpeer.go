// Package testpeer starts real peers for integration tests and for the
// demo program: an nginx-rtmp server (with an RTMPS front and HLS), a
// PulseAudio daemon with a null sink as the microphone, and ffmpeg/ffprobe
// to check what arrived (streams, packets, tones, flashes, A/V sync).
//
// It has two layers: a core API that needs no *testing.T (FreePort, WaitFor,
// StartNginx, StartPulse, Probe, ...), usable from any program, and thin
// testing wrappers (RequireTool, StartNginxT, StartPulseT) that skip or fail a
// test cleanly and register cleanups.
//
// Tools are looked up in PATH. Outside CI a missing tool makes the test skip;
// with CI=true it makes the test fail, because CI must install everything
// (make deps). Set GOLIVE_KEEP_PEER=1 to keep a peer's temporary directory
// (config, logs, recordings) after it stops.
package testpeer

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"
)

// FreePort returns a TCP port on 127.0.0.1 that was free when it was asked
// for. Another process may grab it before the caller binds it; StartNginx
// retries with fresh ports when that happens.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("testpeer: free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// WaitFor polls cond every interval until it returns true or timeout has
// passed. It checks cond once more at the deadline and reports whether cond
// became true. Use it instead of sleeping.
func WaitFor(timeout, interval time.Duration, cond func() bool) bool {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return WaitForContext(ctx, interval, cond)
}

// WaitForContext is WaitFor with the deadline (or cancellation) given by ctx.
func WaitForContext(ctx context.Context, interval time.Duration, cond func() bool) bool {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if cond() {
			return true
		}
		select {
		case <-ctx.Done():
			return cond()
		case <-t.C:
		}
	}
}

// RequireTool makes the test depend on external programs: for each name not
// found in PATH it skips the test, or, when the environment has CI=true,
// fails it (CI must never skip for a missing tool).
func RequireTool(t testing.TB, names ...string) {
	t.Helper()
	for _, name := range names {
		if _, err := exec.LookPath(name); err != nil {
			Missing(t, fmt.Sprintf("tool %q not found in PATH", name))
		}
	}
}

// RequireNginxRTMP makes the test depend on nginx and its RTMP module
// (Debian: nginx + libnginx-mod-rtmp), like RequireTool.
func RequireNginxRTMP(t testing.TB) {
	t.Helper()
	if _, err := nginxBinary(); err != nil {
		Missing(t, "tool \"nginx\" not found in PATH or /usr/sbin")
	}
	requireFile(t, rtmpModule)
}

// requireFile is RequireTool for a file, such as an nginx module.
func requireFile(t testing.TB, path string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		Missing(t, fmt.Sprintf("file %s not found", path))
	}
}

// Missing says the test cannot run without what: a failure under CI
// (make deps installs everything), a skip saying why elsewhere.
func Missing(t testing.TB, what string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("testpeer: %s; CI must not skip integration tests: run make deps", what)
	}
	t.Skipf("testpeer: skipping: %s, and this integration test needs it to run a real peer (run make deps to install)", what)
}

// LogBuffer collects what a process or a logger writes while the test
// reads it.
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *LogBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }
