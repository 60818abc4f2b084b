package testpeer

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/golive/golive/internal/testutil"
	"golang.org/x/sys/unix"
)

// proc is a peer's child process: started, reaped by a goroutine of its
// own, and stopped with a signal and, if it lingers, a kill. Peers embed it.
type proc struct {
	cmd     *exec.Cmd
	done    chan struct{} // closed once cmd has been waited for
	waitErr error         // cmd.Wait's result, valid after done
}

// start starts cmd, then waits up to timeout until ready() holds. If the
// process exits first, or ready never holds, it says so with the tail of
// the peer's log.
func (p *proc) start(name string, cmd *exec.Cmd, timeout time.Duration, ready func() bool, logTail func() string) error {
	p.done = make(chan struct{})
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("testpeer: start %s: %w", name, err)
	}
	p.cmd = cmd
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	exited := false
	ok := testutil.WaitFor(timeout, 20*time.Millisecond, func() bool {
		select {
		case <-p.done:
			exited = true
			return true
		default:
		}
		return ready()
	})
	switch {
	case exited:
		return fmt.Errorf("testpeer: start %s: exited (%v):\n%s", name, p.waitErr, logTail())
	case !ok:
		return fmt.Errorf("testpeer: start %s: not ready after %v:\n%s", name, timeout, logTail())
	}
	return nil
}

// exited reports whether the process has ended (by itself or not).
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// terminate sends sig and waits up to grace for the process to end, then
// kills it; it reports whether it had to kill.
func (p *proc) terminate(sig os.Signal, grace time.Duration) (killed bool) {
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
		return false
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.done
		return true
	}
}

// tail is the last 30 lines of a peer's log, for a failure's message.
func tail(log string) string {
	lines := strings.Split(strings.TrimSpace(log), "\n")
	if len(lines) > 30 {
		lines = lines[len(lines)-30:]
	}
	return strings.Join(lines, "\n")
}

// shutdown stops a peer: sig, then a kill after 5 s; a peer that had
// already exited on its own is an error with its log. Its directory goes
// unless GOLIVE_KEEP_PEER=1.
func (p *proc) shutdown(name string, sig syscall.Signal, dir string, logTail func() string) error {
	var err error
	if p.cmd != nil {
		switch {
		case p.exited():
			err = fmt.Errorf("testpeer: %s exited before Stop (%v):\n%s", name, p.waitErr, logTail())
		case p.terminate(sig, 5*time.Second):
			err = fmt.Errorf("testpeer: stop %s: no exit 5s after %v, killed", name, unix.SignalName(sig))
		}
	}
	if os.Getenv("GOLIVE_KEEP_PEER") != "1" {
		if rerr := os.RemoveAll(dir); rerr != nil && err == nil {
			err = fmt.Errorf("testpeer: stop %s: %w", name, rerr)
		}
	}
	return err
}

// cleanup registers a peer's end with the test: its log's tail if the test
// failed, Stop (an error fails the test), and where its files were kept.
func cleanup(t testing.TB, name, dir string, logTail func() string, stop func() error) {
	t.Cleanup(func() {
		t.Helper()
		if t.Failed() {
			t.Logf("%s logs (%s):\n%s", name, dir, logTail())
		}
		if err := stop(); err != nil {
			t.Error(err)
		}
		if os.Getenv("GOLIVE_KEEP_PEER") == "1" {
			t.Logf("testpeer: kept %s directory %s", name, dir)
		}
	})
}
