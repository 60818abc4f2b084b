package sdnotify

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

func TestFromEnv(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	if n, err := FromEnv(); n != nil || err != nil {
		t.Fatalf("without a socket: %v %v", n, err)
	}
	if err := (*Notifier)(nil).Send("READY=1"); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "notify")
	ln, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	t.Setenv("NOTIFY_SOCKET", sock)
	t.Setenv("WATCHDOG_USEC", "3000000")
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))
	n, err := FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if n.Watchdog != 1500*time.Millisecond {
		t.Errorf("watchdog %v, want half of 3 s", n.Watchdog)
	}
	if os.Getenv("NOTIFY_SOCKET") != "" {
		t.Error("NOTIFY_SOCKET left for children")
	}
	for _, m := range []string{"READY=1", "STATUS=live", "WATCHDOG=1"} {
		if err := n.Send(m); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 256)
		ln.SetReadDeadline(time.Now().Add(time.Second))
		k, err := ln.Read(buf)
		if err != nil || string(buf[:k]) != m {
			t.Fatalf("got %q %v, want %q", buf[:k], err, m)
		}
	}
	// Another process's watchdog is not ours.
	t.Setenv("NOTIFY_SOCKET", sock)
	t.Setenv("WATCHDOG_USEC", "3000000")
	t.Setenv("WATCHDOG_PID", "1")
	if n, _ := FromEnv(); n == nil || n.Watchdog != 0 {
		t.Errorf("WATCHDOG_PID of another process: %+v", n)
	}
}
