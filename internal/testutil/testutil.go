// Package testutil holds the small helpers of tests that start no peer:
// free ports, waiting for a condition with a deadline, skipping (or, under
// CI, failing) when a tool is missing, golive's JSON log lines, and
// ffprobe/ffmpeg analysis of what a test recorded (streams, packets, tones,
// flashes, A/V sync, decoding). It imports nothing heavy, so a test binary
// that uses only these does not link pion; the peer starters (nginx,
// PulseAudio, netns, WHIP/WHEP) are in internal/testpeer.
//
// Tools are looked up in PATH. Outside CI a missing tool makes the test skip;
// with CI=true it makes the test fail, because CI must install everything
// (make deps).
package testutil

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
// for. Another process may grab it before the caller binds it; testpeer's
// nginx retries with fresh ports when that happens.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("testutil: free port: %w", err)
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

// Missing says the test cannot run without what: a failure under CI
// (make deps installs everything), a skip saying why elsewhere.
func Missing(t testing.TB, what string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("testutil: %s; CI must not skip integration tests: run make deps", what)
	}
	t.Skipf("testutil: skipping: %s, and this integration test needs it to run a real peer (run make deps to install)", what)
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

// FreeUDPPort returns a UDP port on 127.0.0.1 that was free when asked for.
func FreeUDPPort() (int, error) {
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("testutil: free UDP port: %w", err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port, nil
}
