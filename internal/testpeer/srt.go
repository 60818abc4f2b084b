package testpeer

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/golive/golive/internal/testutil"
)

// SRTListenerConfig configures an SRT listener.
type SRTListenerConfig struct {
	Netns      *Netns // run inside it (nil: on the host)
	Port       int    // UDP port (0: a free one)
	Passphrase string // "" : no encryption
	Name       string // the recording's file name in a temporary directory ("out.ts" when empty)
}

// SRTListener is ffmpeg receiving SRT as the listener (libsrt, 200 ms of
// latency) and recording the MPEG-TS as it comes (-c copy): a real SRT
// server for senders to call.
type SRTListener struct {
	Port int
	Out  string // the recording
	cmd  *exec.Cmd
	log  testutil.LogBuffer
	done chan struct{}
}

// StartSRTListener starts ffmpeg listening on cfg.Port and waits until
// its socket is bound; t.Cleanup kills it.
func StartSRTListener(t testing.TB, cfg SRTListenerConfig) *SRTListener {
	t.Helper()
	testutil.RequireTool(t, "ffmpeg", "ffprobe")
	if cfg.Port == 0 {
		p, err := testutil.FreeUDPPort()
		if err != nil {
			t.Fatal(err)
		}
		cfg.Port = p
	}
	if cfg.Name == "" {
		cfg.Name = "out.ts"
	}
	l := &SRTListener{Port: cfg.Port, Out: filepath.Join(t.TempDir(), cfg.Name), done: make(chan struct{})}
	// ffmpeg's latency is in microseconds.
	url := fmt.Sprintf("srt://127.0.0.1:%d?mode=listener&latency=200000", cfg.Port)
	if cfg.Passphrase != "" {
		url += "&passphrase=" + cfg.Passphrase
	}
	args := []string{"-nostdin", "-nostats", "-v", "warning", "-y", "-i", url, "-c", "copy", "-f", "mpegts", l.Out}
	l.cmd = exec.Command("ffmpeg", args...)
	if cfg.Netns != nil {
		l.cmd = cfg.Netns.Command("ffmpeg", args...) // ip netns exec execs ffmpeg: same pid
	}
	l.cmd.Stdout, l.cmd.Stderr = &l.log, &l.log
	if err := l.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { l.cmd.Wait(); close(l.done) }()
	t.Cleanup(func() { l.Kill() })
	if !testutil.WaitFor(5*time.Second, 10*time.Millisecond, func() bool { return udpBound(l.cmd.Process.Pid, cfg.Port) || l.Exited() }) || l.Exited() {
		t.Fatalf("ffmpeg did not listen on %d: %s", cfg.Port, l.log.String())
	}
	return l
}

// udpBound says whether a socket is bound to UDP port in the network
// namespace of process pid.
func udpBound(pid, port int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/udp", pid))
	if err != nil {
		return false
	}
	return strings.Contains(string(b), fmt.Sprintf(":%04X ", port))
}

// URL is the listener's address as a caller dials it, with query (e.g.
// "?streamid=live/KEY"; "" for none).
func (l *SRTListener) URL(query string) string {
	return fmt.Sprintf("srt://127.0.0.1:%d%s", l.Port, query)
}

// Exited says whether ffmpeg has ended.
func (l *SRTListener) Exited() bool {
	select {
	case <-l.done:
		return true
	default:
		return false
	}
}

// Log is what ffmpeg printed.
func (l *SRTListener) Log() string { return l.log.String() }

// Pause stops ffmpeg (SIGSTOP): it keeps its socket but answers nothing,
// as when the network goes.
func (l *SRTListener) Pause() error { return l.cmd.Process.Signal(syscall.SIGSTOP) }

// Kill kills ffmpeg and waits for it. Idempotent.
func (l *SRTListener) Kill() {
	l.cmd.Process.Kill()
	<-l.done
}

// WaitEnd waits for ffmpeg to end (the sender closed the connection),
// whatever it said on the way (on a lossy link: packets too late).
func (l *SRTListener) WaitEnd(t testing.TB) {
	t.Helper()
	select {
	case <-l.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("ffmpeg still running 10 s after the end: %s", l.log.String())
	}
}

// Wait is WaitEnd, and fails the test unless ffmpeg received cleanly.
func (l *SRTListener) Wait(t testing.TB) {
	t.Helper()
	l.WaitEnd(t)
	// ffmpeg 5.1 reports the sender's close (libsrt's "connection lost"
	// on the next read) as an I/O error on its input: the end of input.
	for _, line := range strings.Split(strings.TrimSpace(l.log.String()), "\n") {
		if line != "" && !(strings.HasPrefix(line, "srt://") && strings.HasSuffix(line, ": Input/output error")) {
			t.Errorf("ffmpeg (listener) says: %s", line)
		}
	}
}
