package testpeer

import (
	"context"
	"errors"
	"net"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golive/golive/internal/testutil"
)

func TestLossBytecode(t *testing.T) {
	for _, tc := range []struct {
		percent float64
		want    string
	}{
		{100, "1,6 0 0 2"},
		{50, "4,32 0 0 4294963256,53 1 0 2147483648,6 0 0 2,6 0 0 4294967295"},
		{25, "4,32 0 0 4294963256,53 1 0 1073741824,6 0 0 2,6 0 0 4294967295"},
		{0.001, "4,32 0 0 4294963256,53 1 0 42950,6 0 0 2,6 0 0 4294967295"},
	} {
		if got := lossBytecode(tc.percent); got != tc.want {
			t.Errorf("lossBytecode(%v) = %q, want %q", tc.percent, got, tc.want)
		}
	}
}

func TestShapeInvalid(t *testing.T) {
	n := &Netns{Name: "golive-none"} // never reaches tc
	for _, l := range []Link{{RateKbit: -1}, {LossPercent: -1}, {LossPercent: 101}, {Delay: -time.Millisecond}, {Port: 1935}, {Port: 1935, RateKbit: 1000, Delay: time.Millisecond}, {Port: -1, RateKbit: 1}} {
		if err := n.Shape(l); err == nil || !strings.Contains(err.Error(), "invalid link") {
			t.Errorf("Shape(%v) = %v, want an invalid link error", l, err)
		}
	}
}

// netnsPipe returns both ends of a TCP connection made inside n: the
// dialled end and the accepted one.
func netnsPipe(t *testing.T, n *Netns) (dialed, accepted net.Conn) {
	t.Helper()
	l, err := n.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	dialed, err = n.DialContext(ctx, "tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dialed.Close() })
	if accepted, err = l.Accept(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { accepted.Close() })
	return dialed, accepted
}

// writeFlat writes to w as fast as it takes it until the returned stop is
// called.
func writeFlat(w net.Conn) (stop func()) {
	var stopped atomic.Bool
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		buf := make([]byte, 64<<10)
		for !stopped.Load() {
			if _, err := w.Write(buf); err != nil {
				return
			}
		}
	}()
	return func() {
		stopped.Store(true)
		w.SetWriteDeadline(time.Now()) // unblock a write waiting for the link
		<-wrote
	}
}

// receiveRate reads from r, discards what arrives during skip, then returns
// the rate at which bytes arrive during the following window, in kbit/s.
func receiveRate(t *testing.T, r net.Conn, skip, window time.Duration) float64 {
	t.Helper()
	buf := make([]byte, 256<<10)
	var start time.Time
	var got int64
	begin := time.Now()
	for {
		k, err := r.Read(buf)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		now := time.Now()
		switch {
		case now.Sub(begin) < skip:
		case start.IsZero():
			start = now // the bytes of this read arrived before the window
		default:
			got += int64(k)
			if d := now.Sub(start); d >= window {
				return float64(got) * 8 / 1000 / d.Seconds()
			}
		}
	}
}

// TestNetnsShapeRate shapes the namespace's loopback to 1000 kbit/s, checks
// that a TCP connection through it carries 900–1100 kbit/s once past the
// first second, and that removing the shaping gives it back its speed.
func TestNetnsShapeRate(t *testing.T) {
	t.Parallel()
	n := StartNetns(t)
	n.ShapeT(t, Link{RateKbit: 1000})
	w, r := netnsPipe(t, n)
	defer writeFlat(w)()

	shaped := receiveRate(t, r, time.Second, 2*time.Second)
	t.Logf("shaped to 1000 kbit/s: TCP payload received at %.0f kbit/s", shaped)
	if shaped < 900 || shaped > 1100 {
		t.Errorf("shaped to 1000 kbit/s, received %.0f kbit/s, want 900–1100", shaped)
	}

	if err := n.Shape(Link{}); err != nil {
		t.Fatal(err)
	}
	free := receiveRate(t, r, 200*time.Millisecond, 500*time.Millisecond)
	t.Logf("unshaped: received at %.0f kbit/s", free)
	if free < 50000 {
		t.Errorf("unshaped, received %.0f kbit/s, want > 50000", free)
	}
}

// TestNetnsShapePort shapes only the packets to one server's port to
// 1000 kbit/s: a connection to it carries 900–1100 kbit/s while another,
// to another port, keeps loopback speed.
func TestNetnsShapePort(t *testing.T) {
	t.Parallel()
	n := StartNetns(t)
	slowW, slowR := netnsPipe(t, n)
	fastW, fastR := netnsPipe(t, n)
	n.ShapeT(t, Link{RateKbit: 1000, Port: slowR.LocalAddr().(*net.TCPAddr).Port})
	defer writeFlat(slowW)()
	defer writeFlat(fastW)()
	fast := make(chan float64, 1)
	go func() {
		buf := make([]byte, 256<<10)
		start := time.Now()
		var got int64
		for time.Since(start) < 2500*time.Millisecond {
			k, err := fastR.Read(buf)
			if err != nil {
				break
			}
			got += int64(k)
		}
		fast <- float64(got) * 8 / 1000 / time.Since(start).Seconds()
	}()
	shaped := receiveRate(t, slowR, time.Second, 1500*time.Millisecond)
	free := <-fast
	t.Logf("port shaped to 1000 kbit/s: %.0f kbit/s; the other port: %.0f kbit/s", shaped, free)
	if shaped < 900 || shaped > 1100 {
		t.Errorf("shaped port: received %.0f kbit/s, want 900–1100", shaped)
	}
	if free < 50000 {
		t.Errorf("the other port: received %.0f kbit/s, want > 50000", free)
	}
}

// TestNetnsLoss cuts the link with 100% loss (a connect times out), takes
// 30% of UDP datagrams away, and restores it.
func TestNetnsLoss(t *testing.T) {
	n := StartNetns(t)
	l, err := n.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	dial := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		c, err := n.DialContext(ctx, "tcp", l.Addr().String())
		if err == nil {
			c.Close()
		}
		return err
	}

	n.ShapeT(t, Link{LossPercent: 100})
	start := time.Now()
	err = dial()
	if err == nil {
		t.Fatal("dial with 100% loss: connected")
	}
	// The dialer reports the context's deadline either as such or as an
	// i/o timeout, depending on which fires first.
	var ne net.Error
	if !errors.Is(err, context.DeadlineExceeded) && !(errors.As(err, &ne) && ne.Timeout()) {
		t.Errorf("dial with 100%% loss: %v, want a timeout", err)
	}
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Errorf("dial with 100%% loss failed after %v, want a 1 s timeout", d)
	}

	n.ShapeT(t, Link{LossPercent: 30})
	if lost := udpLoss(t, n, 1000); lost < 0.25 || lost > 0.35 {
		t.Errorf("with 30%% loss, %.1f%% of datagrams were lost, want 25–35%%", lost*100)
	} else {
		t.Logf("with 30%% loss, %.1f%% of datagrams were lost", lost*100)
	}

	n.ShapeT(t, Link{})
	if err := dial(); err != nil {
		t.Errorf("dial after removing the loss: %v", err)
	}
	if lost := udpLoss(t, n, 200); lost != 0 {
		t.Errorf("after removing the loss, %.1f%% of datagrams were lost, want none", lost*100)
	}
}

// udpLoss sends count datagrams across n's loopback, in batches that the
// receiver's buffer holds, and returns the fraction that did not arrive.
func udpLoss(t *testing.T, n *Netns, count int) float64 {
	t.Helper()
	rx, err := n.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer rx.Close()
	tx, err := n.Dial("udp", rx.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	const batch = 50
	got := 0
	buf := make([]byte, 100)
	// drain reads until nothing has come for quiet. A datagram that comes
	// later (the test was not scheduled in time) is counted by the next
	// drain; the last one waits longer.
	drain := func(quiet time.Duration) {
		for {
			rx.SetReadDeadline(time.Now().Add(quiet))
			if _, _, err := rx.ReadFrom(buf); err != nil {
				if errors.Is(err, os.ErrDeadlineExceeded) {
					return
				}
				t.Fatal(err)
			}
			got++
		}
	}
	for sent := 0; sent < count; {
		for i := 0; i < batch && sent < count; i, sent = i+1, sent+1 {
			if _, err := tx.Write(buf); err != nil {
				t.Fatal(err)
			}
		}
		drain(20 * time.Millisecond)
	}
	drain(300 * time.Millisecond)
	return 1 - float64(got)/float64(count)
}

// TestNginxNetnsKillRestart runs nginx inside a namespace: it is reachable
// from inside (ffmpeg there publishes to URL) and not from the host,
// refuses connections once killed and is back on the same port after
// Restart, where a second publish continues the recording (record_append).
func TestNginxNetnsKillRestart(t *testing.T) {
	testutil.RequireTool(t, "ffmpeg", "ffprobe")
	n := StartNetns(t)
	ng := StartNginx(t, NginxConfig{Netns: n, Record: true, RecordAppend: true, DropIdlePublisher: 3 * time.Second})
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(ng.Port()))
	if want := "rtmp://" + addr + "/live/k"; ng.URL("k") != want {
		t.Errorf("URL(k) = %q, want %q", ng.URL("k"), want)
	}
	reachable := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		c, err := n.DialContext(ctx, "tcp", addr)
		if err == nil {
			c.Close()
		}
		return err
	}
	if err := reachable(); err != nil {
		t.Fatalf("nginx in the namespace: %v", err)
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Errorf("nginx in the namespace: reachable from the host at %s", addr)
	}
	publishIn(t, n, ng.URL("k"))

	if err := ng.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := reachable(); err == nil {
		t.Fatal("killed nginx: still accepts connections")
	}
	if err := ng.Restart(); err != nil {
		t.Fatal(err)
	}
	if err := reachable(); err != nil {
		t.Fatalf("restarted nginx: %v", err)
	}
	if err := ng.Restart(); err == nil || !strings.Contains(err.Error(), "still running") {
		t.Errorf("Restart of a running nginx: %v, want an error", err)
	}

	publishIn(t, n, ng.URL("k"))
	if err := testutil.WaitRecordingDone(ng.RecordPath("k"), 10*time.Second); err != nil {
		t.Fatal(err)
	}
	p, err := testutil.Probe(ng.RecordPath("k"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Video() == nil || p.Duration < 1.6 || p.Duration > 2.6 {
		t.Errorf("two 1 s publishes with record_append: duration %v s, video %+v; want about 2 s", p.Duration, p.Video())
	}
}

// publishIn publishes 1 s of a test pattern (H.264, no audio) to url with
// ffmpeg inside n.
func publishIn(t *testing.T, n *Netns, url string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := n.CommandContext(ctx, "ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-re",
		"-f", "lavfi", "-i", "testsrc2=size=160x120:rate=30", "-t", "1",
		"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "30",
		"-f", "flv", url).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg in the namespace: publish to %s: %v: %s", url, err, out)
	}
}

// TestNginxKillStop crashes and restarts nginx on the host, and checks that
// Stop after Kill cleans up and that a stopped nginx does not restart.
func TestNginxKillStop(t *testing.T) {
	RequireNginxRTMP(t)
	ng, err := NewNginx(NginxConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer ng.Stop()
	port := ng.Port()
	if err := ng.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := ng.Restart(); err != nil {
		t.Fatal(err)
	}
	c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second)
	if err != nil || ng.Port() != port {
		t.Fatalf("restarted nginx: port %d (was %d): %v", ng.Port(), port, err)
	}
	c.Close()
	if err := ng.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := ng.Kill(); err != nil {
		t.Errorf("second Kill: %v", err)
	}
	if err := ng.Stop(); err != nil {
		t.Errorf("Stop after Kill: %v", err)
	}
	if _, err := os.Stat(ng.Dir()); !os.IsNotExist(err) && os.Getenv("GOLIVE_KEEP_PEER") != "1" {
		t.Errorf("directory %s not removed: %v", ng.Dir(), err)
	}
	if err := ng.Restart(); err == nil {
		t.Error("Restart after Stop succeeded")
	}
}

func TestNginxConfigDirectives(t *testing.T) {
	n := &Nginx{cfg: NginxConfig{App: "live", Record: true, RecordAppend: true, DropIdlePublisher: 2500 * time.Millisecond}, dir: "/d", port: 1935}
	conf := n.config()
	for _, want := range []string{"record_append on;", "drop_idle_publisher 2500ms;", "listen 127.0.0.1:1935;"} {
		if !strings.Contains(conf, want) {
			t.Errorf("config lacks %q:\n%s", want, conf)
		}
	}
	n.cfg.RecordAppend, n.cfg.DropIdlePublisher = false, 0
	if conf := n.config(); strings.Contains(conf, "record_append") || strings.Contains(conf, "drop_idle") {
		t.Errorf("config has directives that were not asked for:\n%s", conf)
	}
}

// TestNetnsOutageDropsIdlePublisher cuts the link (100% loss) under a
// publishing ffmpeg: nginx drops the publisher that has gone silent
// (DropIdlePublisher), and once the link is back the publisher finds its
// connection gone.
func TestNetnsOutageDropsIdlePublisher(t *testing.T) {
	t.Parallel()
	testutil.RequireTool(t, "ffmpeg")
	n := StartNetns(t)
	ng := StartNginx(t, NginxConfig{Netns: n, Record: true, DropIdlePublisher: 2 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ff := n.CommandContext(ctx, "ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-re",
		"-f", "lavfi", "-i", "testsrc2=size=160x120:rate=30", "-t", "15",
		"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "30",
		"-f", "flv", ng.URL("k"))
	var out testutil.LogBuffer
	ff.Stdout, ff.Stderr = &out, &out
	if err := ff.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- ff.Wait() }()
	defer func() {
		cancel()
		<-exited
	}()
	inLog := func(s string, timeout time.Duration) bool {
		return testutil.WaitFor(timeout, 50*time.Millisecond, func() bool { return strings.Contains(ng.ErrorLog(), s) })
	}
	// nginx-rtmp arms the idle timer with the first audio or video
	// message: wait until video is being recorded.
	if !testutil.WaitFor(10*time.Second, 50*time.Millisecond, func() bool {
		fi, err := os.Stat(ng.RecordPath("k"))
		return err == nil && fi.Size() > 10<<10
	}) {
		t.Fatalf("no video recorded within 10 s; ffmpeg: %s", out.String())
	}
	n.ShapeT(t, Link{LossPercent: 100})
	start := time.Now()
	if !inLog("drop idle publisher", 5*time.Second) {
		t.Fatalf("nginx did not drop the publisher within 5 s of the outage")
	}
	t.Logf("publisher dropped %v into the outage", time.Since(start).Round(10*time.Millisecond))
	n.ShapeT(t, Link{})
	select {
	case err := <-exited:
		exited <- err // for the deferred wait
		if err == nil || !strings.Contains(out.String(), "Broken pipe") {
			t.Errorf("ffmpeg after the outage: %v, %s; want a broken pipe", err, out.String())
		}
	case <-time.After(5 * time.Second):
		t.Errorf("ffmpeg still publishing 5 s after the outage: %s", out.String())
	}
}
