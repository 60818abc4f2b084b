package main

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golive/golive/internal/pipeline"
	"github.com/golive/golive/internal/testpeer"
	"github.com/golive/golive/publish"
)

// TestWatchdogProgress: the watchdog is fed only while frames are encoded
// and either bytes go out or a reconnection runs.
func TestWatchdogProgress(t *testing.T) {
	var p progress
	for i, tc := range []struct {
		frames, bytes int64
		state         string
		want          bool
	}{
		{30, 1000, pipeline.StateLive, true},
		{60, 2000, pipeline.StateLive, true},
		{90, 2000, pipeline.StateLive, false},         // the destination stopped acknowledging
		{90, 3000, pipeline.StateLive, false},         // the source stopped delivering
		{120, 3000, pipeline.StateReconnecting, true}, // a reconnection runs
		{120, 3000, pipeline.StateReconnecting, false},
		{150, 4000, pipeline.StateLive, true},
	} {
		st := pipeline.Status{Frames: tc.frames, Sent: publish.Stats{Bytes: tc.bytes}, State: tc.state}
		if got := p.moved(st); got != tc.want {
			t.Errorf("step %d %+v: moved %v, want %v", i, tc, got, tc.want)
		}
	}
	// Several outputs: the first is down (nothing goes to it, and it is
	// not reconnecting yet), the second and the recording go on: progress.
	frames := int64(0)
	dests := func(a, b, rec int64, first string) pipeline.Status {
		frames += 30 // the encoder goes on at every step
		return pipeline.Status{Frames: frames, State: pipeline.StateLive, Sent: publish.Stats{Bytes: a},
			Destinations: []pipeline.DestinationStatus{
				{State: first, Sent: publish.Stats{Bytes: a}},
				{State: pipeline.StateLive, Sent: publish.Stats{Bytes: b}},
				{State: pipeline.StateLive, Sent: publish.Stats{Bytes: rec}},
			}}
	}
	var q progress
	for i, tc := range []struct {
		st   pipeline.Status
		want bool
	}{
		{dests(100, 100, 100, pipeline.StateLive), true},
		{dests(100, 200, 200, pipeline.StateStarting), true},     // the first stalls: the others move
		{dests(100, 200, 300, pipeline.StateStarting), true},     // only the recording moves
		{dests(100, 300, 300, pipeline.StateReconnecting), true}, // a reconnection
		{dests(100, 300, 300, pipeline.StateStopped), false},     // no byte moves anywhere
	} {
		if got := q.moved(tc.st); got != tc.want {
			t.Errorf("several outputs, step %d: moved %v, want %v", i, got, tc.want)
		}
	}
}

// notifications collects what golive tells systemd.
type notifications struct {
	mu   sync.Mutex
	msgs []notification
}

type notification struct {
	at  time.Time
	msg string
}

func listenNotify(t *testing.T) (string, *notifications) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "notify")
	ln, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	ns := &notifications{}
	go func() {
		buf := make([]byte, 4096)
		for {
			k, err := ln.Read(buf)
			if err != nil {
				return
			}
			ns.mu.Lock()
			for _, m := range strings.Split(string(buf[:k]), "\n") {
				ns.msgs = append(ns.msgs, notification{time.Now(), m})
			}
			ns.mu.Unlock()
		}
	}()
	return sock, ns
}

// times are when msg came (the ones starting with it).
func (ns *notifications) times(msg string) []time.Time {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	var ts []time.Time
	for _, m := range ns.msgs {
		if strings.HasPrefix(m.msg, msg) {
			ts = append(ts, m.at)
		}
	}
	return ts
}

func between(ts []time.Time, from, to time.Time) int {
	n := 0
	for _, t := range ts {
		if t.After(from) && t.Before(to) {
			n++
		}
	}
	return n
}

// TestSystemdWatchdog: under systemd (an in-test $NOTIFY_SOCKET, a 1 s
// WatchdogSec) golive says READY=1 once live, reports its state, pings
// the watchdog every 0.5 s while it streams, stops pinging while the
// destination acknowledges nothing (a link losing every packet), pings
// again once the link is back, and says STOPPING=1 at the end.
func TestSystemdWatchdog(t *testing.T) {
	ns, n, _ := shapedServer(t, testpeer.NginxConfig{})
	sock, got := listenNotify(t)
	cmd := ns.Command(goliveBinary(t), "push", "--preset", "360p", "--duration", "16s", "--status", "off",
		"--log-format", "json", n.URL("watchdog"))
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+sock, "WATCHDOG_USEC=1000000")
	stderr := startLive(t, cmd)
	live := time.Now()
	time.Sleep(4 * time.Second)
	ns.ShapeT(t, testpeer.Link{LossPercent: 100})
	cut := time.Now()
	time.Sleep(5 * time.Second)
	ns.ShapeT(t, testpeer.Link{})
	restored := time.Now()
	if code := waitExit(t, cmd, stderr, 30*time.Second); code != 0 {
		t.Fatalf("exit %d:\n%s", code, stderr.String())
	}
	end := time.Now()
	ready, pings := got.times("READY=1"), got.times("WATCHDOG=1")
	if len(ready) != 1 || ready[0].After(live.Add(time.Second)) {
		t.Fatalf("READY=1 at %v, want once, when live", ready)
	}
	if len(pings) == 0 || pings[0].Before(ready[0]) {
		t.Fatalf("watchdog pings %v before READY=1 %v", pings, ready[0])
	}
	streaming, outage, after := between(pings, live, cut), between(pings, cut.Add(2*time.Second), restored), between(pings, restored.Add(2*time.Second), end)
	t.Logf("pings: %d in the 4 s live, %d from 2 s into the 5 s outage, %d after it", streaming, outage, after)
	if streaming < 6 || outage != 0 || after < 2 {
		t.Errorf("pings: %d while streaming (want ≥ 6 in 4 s), %d while nothing was acknowledged (want 0), %d after (want ≥ 2)",
			streaming, outage, after)
	}
	if len(got.times("STATUS=live")) == 0 || len(got.times("STOPPING=1")) != 1 {
		t.Errorf("messages: %+v", got.msgs)
	}
}
