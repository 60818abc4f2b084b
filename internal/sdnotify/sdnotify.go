// Package sdnotify speaks systemd's notify protocol (sd_notify(3)) without
// libsystemd: one datagram per message on the socket $NOTIFY_SOCKET names,
// "READY=1", "STATUS=…", "WATCHDOG=1", "STOPPING=1". Outside systemd (no
// $NOTIFY_SOCKET) every call does nothing.
package sdnotify

import (
	"net"
	"os"
	"strconv"
	"sync"
	"time"
)

// Notifier sends messages to systemd. The zero value and a nil *Notifier
// do nothing. Safe for concurrent use.
type Notifier struct {
	mu   sync.Mutex
	conn *net.UnixConn
	// Watchdog: half of $WATCHDOG_USEC when systemd watches this process
	// (WatchdogSec=), else 0.
	Watchdog time.Duration
}

// FromEnv returns the Notifier $NOTIFY_SOCKET names (nil without one), and
// unsets the variables so that child processes do not inherit them.
func FromEnv() (*Notifier, error) {
	path := os.Getenv("NOTIFY_SOCKET")
	if path == "" {
		return nil, nil
	}
	addr := &net.UnixAddr{Name: path, Net: "unixgram"}
	if path[0] == '@' { // an abstract socket
		addr.Name = "\x00" + path[1:]
	}
	conn, err := net.DialUnix("unixgram", nil, addr)
	if err != nil {
		return nil, err
	}
	n := &Notifier{conn: conn}
	if usec, err := strconv.ParseInt(os.Getenv("WATCHDOG_USEC"), 10, 64); err == nil && usec > 0 {
		pid := os.Getenv("WATCHDOG_PID")
		if pid == "" || pid == strconv.Itoa(os.Getpid()) {
			n.Watchdog = time.Duration(usec) * time.Microsecond / 2
		}
	}
	os.Unsetenv("NOTIFY_SOCKET")
	os.Unsetenv("WATCHDOG_USEC")
	os.Unsetenv("WATCHDOG_PID")
	return n, nil
}

// Send sends one message, e.g. "READY=1" or "STATUS=live 2500 kbit/s".
func (n *Notifier) Send(msg string) error {
	if n == nil || n.conn == nil {
		return nil
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	_, err := n.conn.Write([]byte(msg))
	return err
}

// Close closes the socket.
func (n *Notifier) Close() {
	if n != nil && n.conn != nil {
		n.conn.Close()
	}
}
