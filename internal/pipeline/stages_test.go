package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/golive/golive/capture"
	"github.com/golive/golive/internal/preset"
	"github.com/golive/golive/internal/testpeer"
	"github.com/golive/golive/internal/testutil"
	"github.com/golive/golive/media"
	"github.com/golive/golive/publish"
)

// TestFrameQueueDropsOldest: a full video queue drops its oldest frame
// for the new one, counts it, and hands out the newest in order; after
// done, what is left still comes out.
func TestFrameQueueDropsOldest(t *testing.T) {
	pool := media.NewFramePool(16, 16)
	q := newFrameQueue(4)
	for i := range 10 {
		f := pool.Get()
		f.PTS = time.Duration(i)
		q.push(f)
	}
	if d := q.dropped.Load(); d != 6 {
		t.Errorf("dropped %d, want 6", d)
	}
	done := make(chan struct{})
	close(done)
	var got []time.Duration
	for f := range q.frames(done) {
		got = append(got, f.PTS)
		f.Release()
	}
	if len(got) != 4 || got[0] != 6 || got[3] != 9 {
		t.Errorf("got PTS %v, want the newest four, 6..9", got)
	}
}

// TestAudioQueueDropsOldest: the same for audio, which copies what the
// source gives it (sources reuse their buffers).
func TestAudioQueueDropsOldest(t *testing.T) {
	q := newAudioQueue(3)
	buf := &media.AudioFrame{SampleRate: 48000, Channels: 1, Samples: make([]int16, 4)}
	for i := range 5 {
		buf.PTS, buf.Samples[0] = time.Duration(i), int16(i)
		q.WriteAudio(buf)
	}
	if d := q.dropped.Load(); d != 2 {
		t.Errorf("dropped %d, want 2", d)
	}
	done := make(chan struct{})
	close(done)
	var got []int16
	for f := range q.frames(done) {
		got = append(got, f.Samples[0])
		q.release(f)
	}
	if len(got) != 3 || got[0] != 2 || got[2] != 4 {
		t.Errorf("got %v, want copies of the newest three, 2..4", got)
	}
}

// goroutinesBack waits until no more goroutines run than before (Run's
// must all have ended; a runtime's own may come and go).
func goroutinesBack(t *testing.T, before int) {
	t.Helper()
	if !testutil.WaitFor(5*time.Second, 20*time.Millisecond, func() bool { return runtime.NumGoroutine() <= before }) {
		buf := make([]byte, 1<<20)
		t.Errorf("%d goroutines before Run, %d after:\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
	}
}

// TestRecordOnlyLeavesNothing: a push that only records runs to its
// duration, writes every frame, and leaves no goroutine behind.
func TestRecordOnlyLeavesNothing(t *testing.T) {
	testutil.RequireTool(t, "ffprobe")
	p, err := preset.Load("360p")
	if err != nil {
		t.Fatal(err)
	}
	before := runtime.NumGoroutine()
	rec := filepath.Join(t.TempDir(), "only.mkv")
	if err := Run(context.Background(), Config{Preset: p, Capture: capture.Options{Source: "test"}, Record: rec, Duration: 3 * time.Second,
		Logger: slog.New(slog.DiscardHandler)}); err != nil {
		t.Fatal(err)
	}
	goroutinesBack(t, before)
	pkts, err := testutil.Packets(rec, "v")
	if err != nil {
		t.Fatal(err)
	}
	if len(pkts) < 85 {
		t.Errorf("%d frames recorded in 3 s at 30 fps", len(pkts))
	}
}

// TestRecordOnlyDiskFull: a push that only records, to a disk that fills:
// the push stops with the write error (a cron job must not think it
// recorded), and leaves no goroutine behind.
func TestRecordOnlyDiskFull(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=200k"); err != nil {
		testutil.Missing(t, "cannot mount a small tmpfs for a full disk: "+err.Error())
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	p, err := preset.Load("360p")
	if err != nil {
		t.Fatal(err)
	}
	before := runtime.NumGoroutine()
	err = Run(context.Background(), Config{Preset: p, Capture: capture.Options{Source: "test"}, Record: filepath.Join(dir, "r.mkv"),
		Duration: 20 * time.Second, Logger: slog.New(slog.DiscardHandler)})
	if !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("Run = %v, want the full disk's ENOSPC", err)
	}
	goroutinesBack(t, before)
}

// TestFailedOutputStopsTheStages: the one destination dies and may not
// reconnect: Run stops the source, the encoders and the rest, returns the
// destination's error (publish.ErrConnect: exit 3), and no goroutine
// outlives it.
func TestFailedOutputStopsTheStages(t *testing.T) {
	n := testpeer.StartNginx(t, testpeer.NginxConfig{})
	p, err := preset.Load("360p")
	if err != nil {
		t.Fatal(err)
	}
	before := runtime.NumGoroutine()
	done := make(chan error, 1)
	states := make(chan string, 16)
	go func() {
		done <- Run(context.Background(), Config{Preset: p, Capture: capture.Options{Source: "test"}, URL: n.URL("dies"), Duration: time.Minute,
			Reconnect: publish.Reconnect{Max: -1}, Logger: slog.New(slog.DiscardHandler),
			OnState: func(s string) { states <- s }})
	}()
	for s := range states {
		if s == StateLive {
			break
		}
	}
	// Past the first second, when a closed connection is a refusal.
	time.Sleep(1500 * time.Millisecond)
	if err := n.Kill(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, publish.ErrConnect) {
			t.Errorf("Run: %v, want ErrConnect", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run still running 20 s after its only destination died")
	}
	goroutinesBack(t, before)
}

// TestOneOfTwoFails: of two destinations, one refuses the publish at once:
// the other goes on to the duration and Run returns nil (the exit code
// speaks of a destination only when all have failed); the refusal is in
// the log.
func TestOneOfTwoFails(t *testing.T) {
	good := testpeer.StartNginx(t, testpeer.NginxConfig{Record: true})
	bad := testpeer.StartNginx(t, testpeer.NginxConfig{DenyPublish: true})
	p, err := preset.Load("360p")
	if err != nil {
		t.Fatal(err)
	}
	var log testutil.LogBuffer
	err = Run(context.Background(), Config{Preset: p, Capture: capture.Options{Source: "test"}, URLs: []string{bad.URL("no"), good.URL("yes")},
		Duration: 3 * time.Second, Logger: slog.New(slog.NewJSONHandler(&log, nil))})
	if err != nil {
		t.Fatalf("Run: %v, want nil (one destination got through)", err)
	}
	if lines := testutil.LogLines(log.String(), "output failed: the others go on"); len(lines) != 1 ||
		!strings.Contains(lines[0]["error"].(string), publish.ErrUnauthorized.Error()) {
		t.Errorf("want one 'output failed' line about the refusal, got %v", lines)
	}
	pkts, err := testutil.Packets(good.RecordPath("yes"), "v")
	if err != nil || len(pkts) < 80 {
		t.Errorf("the good destination got %d frames (%v)", len(pkts), err)
	}

	// Neither can be reached in the whole run: the exit code says so (3),
	// not 0.
	closed1, _ := testutil.FreePort()
	closed2, _ := testutil.FreePort()
	err = Run(context.Background(), Config{Preset: p, Capture: capture.Options{Source: "test"},
		URLs:     []string{fmt.Sprintf("rtmp://127.0.0.1:%d/live/a", closed1), fmt.Sprintf("rtmp://127.0.0.1:%d/live/b", closed2)},
		Duration: 2 * time.Second, Logger: slog.New(slog.DiscardHandler)})
	if !errors.Is(err, publish.ErrConnect) {
		t.Errorf("neither reachable: Run = %v, want ErrConnect", err)
	}

	// Both refuse: the refusal is the error.
	err = Run(context.Background(), Config{Preset: p, Capture: capture.Options{Source: "test"}, URLs: []string{bad.URL("a"), bad.URL("b")},
		Duration: 3 * time.Second, Logger: slog.New(slog.DiscardHandler)})
	if !errors.Is(err, publish.ErrUnauthorized) {
		t.Errorf("both refused: Run = %v, want ErrUnauthorized", err)
	}
}

type countKeys struct{ n atomic.Int32 }

func (c *countKeys) RequestKeyframe() { c.n.Add(1) }

// TestKeyframeGate: a destination's first request goes through at once;
// more within the gap become one, at its end; none is lost.
func TestKeyframeGate(t *testing.T) {
	var c countKeys
	g := &keyframeGate{to: &c, gap: 200 * time.Millisecond}
	g.RequestKeyframe()
	if c.n.Load() != 1 {
		t.Fatalf("first request: %d keyframes asked, want 1 at once", c.n.Load())
	}
	start := time.Now()
	for range 5 {
		g.RequestKeyframe()
	}
	if c.n.Load() != 1 {
		t.Errorf("requests within the gap passed at once: %d", c.n.Load())
	}
	if !testutil.WaitFor(2*time.Second, 5*time.Millisecond, func() bool { return c.n.Load() == 2 }) {
		t.Fatalf("the deferred request never came: %d", c.n.Load())
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("the deferred request came after %v, before the gap's end", d)
	}
	time.Sleep(300 * time.Millisecond)
	if c.n.Load() != 2 {
		t.Errorf("%d keyframes asked for 6 requests in one gap, want 2", c.n.Load())
	}
}
