// Package testpeer starts real peers for integration tests and for the
// demo and benchmark programs: an nginx-rtmp server (with an RTMPS front and
// HLS), a PulseAudio daemon with a null sink as the microphone, network
// namespaces with shaped links, pion's whip-whep example, a WHEP viewer and
// an in-process WHIP endpoint. The small helpers that start no peer (free
// ports, WaitFor, RequireTool, ffprobe analysis) are in internal/testutil,
// so that tests which need only those do not link pion.
//
// Every peer X has two starters: NewX(…) (*X, error), usable from any
// program, whose caller stops it; and StartX(t, …) *X for a test, which
// skips or fails the test cleanly when the peer cannot start and stops it
// in t.Cleanup.
//
// Tools are looked up in PATH. Outside CI a missing tool makes the test skip;
// with CI=true it makes the test fail, because CI must install everything
// (make deps). Set GOLIVE_KEEP_PEER=1 to keep a peer's temporary directory
// (config, logs, recordings) after it stops.
package testpeer

import (
	"fmt"
	"os"
	"testing"

	"github.com/golive/golive/internal/testutil"
)

// RequireNginxRTMP makes the test depend on nginx and its RTMP module
// (Debian: nginx + libnginx-mod-rtmp), like testutil.RequireTool.
func RequireNginxRTMP(t testing.TB) {
	t.Helper()
	if _, err := nginxBinary(); err != nil {
		testutil.Missing(t, "tool \"nginx\" not found in PATH or /usr/sbin")
	}
	requireFile(t, rtmpModule)
}

// requireFile is testutil.RequireTool for a file, such as an nginx module.
func requireFile(t testing.TB, path string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		testutil.Missing(t, fmt.Sprintf("file %s not found", path))
	}
}
