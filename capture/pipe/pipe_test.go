package pipe

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golive/golive/capture/failover"
	"github.com/golive/golive/media"
)

var quiet = slog.New(slog.DiscardHandler)

const testW, testH = 64, 36

// frameLog records what reaches a Feed's writer (or the failover's
// output): PTS, Seq and the first luma sample of each frame.
type frameLog struct {
	mu     sync.Mutex
	pts    []time.Duration
	seq    []uint64
	lumas  []byte
	frames []*picture // the whole picture, when keep
	keep   bool
	bad    string
}

func (l *frameLog) WriteVideo(f *media.VideoFrame) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if f.Width != testW || f.Height != testH || f.Format != media.PixelFormatI420 {
		l.bad = "a frame of " + f.Format.String()
	}
	l.pts = append(l.pts, f.PTS)
	l.seq = append(l.seq, f.Seq)
	l.lumas = append(l.lumas, f.Planes[0][0])
	if l.keep {
		p := &picture{w: testW, h: testH}
		p.y, p.u, p.v = append([]byte(nil), f.Planes[0]...), append([]byte(nil), f.Planes[1]...), append([]byte(nil), f.Planes[2]...)
		l.frames = append(l.frames, p)
	}
	f.Release()
	return nil
}

func (l *frameLog) snapshot() ([]time.Duration, []uint64, []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]time.Duration(nil), l.pts...), append([]uint64(nil), l.seq...), append([]byte(nil), l.lumas...)
}

// flat is a frame of one luma, grey chroma, as the pipe carries format.
func flat(format string, luma byte) []byte {
	p := &picture{w: testW, h: testH, y: make([]byte, testW*testH), u: make([]byte, testW*testH/4), v: make([]byte, testW*testH/4)}
	for i := range p.y {
		p.y[i] = luma
	}
	for i := range p.u {
		p.u[i], p.v[i] = 128, 128
	}
	return p.encode(format)
}

// writeAt writes frames to w at fps on the clock from start, recording the
// clock just before each write. It stops at the first error.
func writeAt(w io.Writer, clock *media.Clock, start time.Duration, fps int, frames [][]byte) ([]time.Duration, error) {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	var at []time.Duration
	for i, b := range frames {
		clock.SleepUntil(context.Background(), t, start+time.Duration(i)*time.Second/time.Duration(fps))
		at = append(at, clock.Now())
		if _, err := w.Write(b); err != nil {
			return at, err
		}
	}
	return at, nil
}

func open(t *testing.T, cfg Config) *Source {
	t.Helper()
	if cfg.Pipe == (Spec{}) {
		cfg.Pipe = Spec{FormatI420, testW, testH, 30}
	}
	if cfg.Width == 0 {
		cfg.Width, cfg.Height, cfg.FPS = testW, testH, 30
	}
	if cfg.Logger == nil {
		cfg.Logger = quiet
	}
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func osPipe(t *testing.T) (*os.File, *os.File) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	return r, w
}

// TestRunFrames: frames written at 30 fps come out whole, in order, with
// their pixels, stamped with their arrival on the pipeline clock; the end
// of the pipe ends Run cleanly.
func TestRunFrames(t *testing.T) {
	for _, format := range Formats {
		t.Run(format, func(t *testing.T) {
			clock := media.NewClock()
			r, w := osPipe(t)
			src := open(t, Config{Pipe: Spec{format, testW, testH, 30}, Reader: r, Clock: clock})
			out := &frameLog{keep: true}
			feed, err := src.Feed(out)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			feedDone := make(chan error, 1)
			go func() { feedDone <- feed.Run(ctx) }()
			runDone := make(chan error, 1)
			go func() { runDone <- src.Run(ctx) }()
			waitFeeding(t, src)

			const n = 20
			pics := make([]*picture, n)
			frames := make([][]byte, n)
			for i := range pics {
				pics[i] = newPicture(testW, testH, uint64(i))
				frames[i] = pics[i].encode(format)
			}
			written, err := writeAt(w, clock, clock.Now(), 30, frames)
			if err != nil {
				t.Fatal(err)
			}
			w.Close()
			select {
			case err := <-runDone:
				if err != nil {
					t.Fatalf("Run at the end of the pipe: %v, want nil", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Run did not return at the end of the pipe")
			}
			cancel()
			if err := <-feedDone; err != nil {
				t.Fatalf("Feed.Run: %v", err)
			}

			pts, seq, _ := out.snapshot()
			st := src.Stats()
			if st.Read.Load() != n || st.Delivered.Load()+st.Thinned.Load() != n || len(pts) != int(st.Delivered.Load()) {
				t.Fatalf("read %d, delivered %d, thinned %d, received %d: want %d read, each delivered or thinned",
					st.Read.Load(), st.Delivered.Load(), st.Thinned.Load(), len(pts), n)
			}
			// A loaded machine may wake the writer late, then on time:
			// two frames closer than half an interval, one thinned.
			if len(pts) < n-2 {
				t.Fatalf("%d of %d frames delivered", len(pts), n)
			}
			if out.bad != "" {
				t.Fatal(out.bad)
			}
			for i := range pts {
				k := seq[i]
				if i > 0 && (pts[i] <= pts[i-1] || k <= seq[i-1]) {
					t.Fatalf("frame %d: PTS %v Seq %d after %v %d", i, pts[i], k, pts[i-1], seq[i-1])
				}
				if k >= n {
					t.Fatalf("frame %d: Seq %d", i, k)
				}
				// The arrival, smoothed: within half an interval of it.
				if d := pts[i] - written[k]; d < -17*time.Millisecond || d > 200*time.Millisecond {
					t.Errorf("frame %d: PTS %v, written at %v: not its arrival", k, pts[i], written[k])
				}
				if err := pics[k].same(framePicture(out.frames[i])); err != nil {
					t.Fatalf("frame %d: %v", k, err)
				}
			}
		})
	}
}

func framePicture(p *picture) *media.VideoFrame {
	return &media.VideoFrame{Width: p.w, Height: p.h, Planes: [3][]byte{p.y, p.u, p.v},
		Strides: [3]int{p.w, p.w / 2, p.w / 2}}
}

// TestStallShowsSlate: through the failover, as openSources wires it: the
// pipe's picture, the slate while it stalls, its picture again when frames
// come back; the end of the pipe ends Run cleanly.
func TestStallShowsSlate(t *testing.T) {
	clock := media.NewClock()
	r, w := osPipe(t)
	src := open(t, Config{Reader: r, Clock: clock, Stall: 300 * time.Millisecond, FirstStall: time.Second})
	slate, err := failover.NewSlate("", testW, testH)
	if err != nil {
		t.Fatal(err)
	}
	out := &frameLog{}
	fv := &failover.Video{Width: testW, Height: testH, FPS: 30, Clock: clock, Out: out, Slate: slate,
		Retry: 50 * time.Millisecond, Stall: 2 * time.Second, Logger: quiet}
	first, err := src.Feed(fv.Writer())
	if err != nil {
		t.Fatal(err)
	}
	fv.First = first
	fv.Open = func(w media.VideoWriter) (failover.Device, error) {
		f, err := src.Feed(w)
		if err != nil {
			return nil, err
		}
		return f, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fvDone := make(chan struct{})
	go func() { fv.Run(ctx); close(fvDone) }()
	runDone := make(chan error, 1)
	go func() { runDone <- src.Run(ctx) }()
	waitFeeding(t, src)

	frames := func(luma byte, n int) [][]byte {
		var fs [][]byte
		for range n {
			fs = append(fs, flat(FormatI420, luma))
		}
		return fs
	}
	if _, err := writeAt(w, clock, clock.Now(), 30, frames(200, 15)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !stalled(src) {
		if time.Now().After(deadline) {
			t.Fatal("the stalled pipe never counted as lost")
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // some slate
	if _, err := writeAt(w, clock, clock.Now(), 30, frames(100, 15)); err != nil {
		t.Fatal(err)
	}
	w.Close()
	select {
	case err := <-runDone:
		if err != nil {
			t.Fatalf("Run at the end of the pipe: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return at the end of the pipe")
	}
	cancel()
	<-fvDone

	pts, _, lumas := out.snapshot()
	for i := 1; i < len(pts); i++ {
		if pts[i] <= pts[i-1] {
			t.Fatalf("frame %d: PTS %v after %v", i, pts[i], pts[i-1])
		}
	}
	// 200 (the pipe), then the slate, then 100 (the pipe again).
	phase := 0
	var seen [3]int
	for i, l := range lumas {
		p := 1
		switch l {
		case 200:
			p = 0
		case 100:
			p = 2
		case 16: // black, before the first frame
			if phase == 0 {
				continue
			}
		}
		if p < phase {
			t.Fatalf("frame %d (luma %d) after phase %d: lumas %v", i, l, phase, lumas)
		}
		phase = p
		seen[p]++
	}
	t.Logf("pipe %d, slate %d, pipe again %d frames; %d unfed while the feed reopened", seen[0], seen[1], seen[2],
		src.Stats().Unfed.Load())
	if seen[0] < 10 || seen[1] < 3 || seen[2] < 8 {
		t.Fatalf("pipe %d, slate %d, pipe again %d frames: want all three (lumas %v)", seen[0], seen[1], seen[2], lumas)
	}
	if u := src.Stats().Unfed.Load(); u > 5 {
		t.Errorf("%d frames lost while the failover reopened the feed: want a few at most", u)
	}
}

// stalled says whether the source's last Feed has stalled.
func stalled(s *Source) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.fresh
}

// TestFeedAfterStall: a stalled Feed fails with ErrStalled; a new one is
// refused with ErrNoFrames until a frame arrives.
func TestFeedAfterStall(t *testing.T) {
	clock := media.NewClock()
	r, w := osPipe(t)
	src := open(t, Config{Reader: r, Clock: clock, Stall: 100 * time.Millisecond, FirstStall: 200 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runDone := make(chan error, 1)
	go func() { runDone <- src.Run(ctx) }()

	out := &frameLog{}
	feed, err := src.Feed(out)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := feed.Run(ctx); !errors.Is(err, ErrStalled) {
		t.Fatalf("Feed.Run on a silent pipe: %v, want ErrStalled", err)
	}
	if took := time.Since(start); took < 200*time.Millisecond || took > 2*time.Second {
		t.Errorf("stalled after %v, want the first frame's 200ms", took)
	}
	if _, err := src.Feed(out); !errors.Is(err, ErrNoFrames) {
		t.Fatalf("Feed after a stall, no frame since: %v, want ErrNoFrames", err)
	}
	if _, err := w.Write(flat(FormatI420, 50)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for src.Stats().Unfed.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the frame never arrived")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := src.Feed(out); err != nil {
		t.Fatalf("Feed after a frame came: %v", err)
	}
	cancel()
	if err := <-runDone; err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// TestPartialFrame: a pipe that ends in the middle of a frame ends the
// stream cleanly; the whole frames before are delivered.
func TestPartialFrame(t *testing.T) {
	b := append(append(flat(FormatNV12, 60), flat(FormatNV12, 70)...), flat(FormatNV12, 80)[:1000]...)
	src := open(t, Config{Pipe: Spec{FormatNV12, testW, testH, 30}, Reader: strings.NewReader(string(b)), Clock: media.NewClock()})
	src.noPace = true
	out := &frameLog{}
	feed, _ := src.Feed(out)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go feed.Run(ctx)
	waitFeeding(t, src)
	if err := src.Run(ctx); err != nil {
		t.Fatalf("Run: %v, want nil", err)
	}
	if _, _, lumas := out.snapshot(); len(lumas) != 2 || lumas[0] != 60 || lumas[1] != 70 {
		t.Fatalf("lumas %v, want [60 70]", lumas)
	}
}

// waitFeeding waits until a Feed is running.
func waitFeeding(t *testing.T, s *Source) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.mu.Lock()
		ok := s.out != nil
		s.mu.Unlock()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the Feed never started")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestRunStops: a read waiting on a silent producer ends with ctx, and
// with Close.
func TestRunStops(t *testing.T) {
	for _, how := range []string{"ctx", "Close"} {
		t.Run(how, func(t *testing.T) {
			r, _ := osPipe(t)
			src := open(t, Config{Reader: r, Clock: media.NewClock()})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- src.Run(ctx) }()
			time.Sleep(50 * time.Millisecond) // let it block in read
			if how == "ctx" {
				cancel()
			} else {
				src.Close()
			}
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("Run: %v, want nil", err)
				}
			case <-time.After(2 * time.Second):
				t.Fatal("Run still blocked in read")
			}
			if err := src.Run(ctx); err == nil {
				t.Error("a second Run: no error")
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	base := Config{Pipe: Spec{FormatI420, 1920, 1080, 30}, Width: 1280, Height: 720, FPS: 30,
		Reader: strings.NewReader(""), Clock: media.NewClock(), Logger: quiet}
	_, err := Open(base)
	const want = "pipe: the pipe's 1920x1080 is not the preset's 1280x720: have the producer write 1280x720 " +
		"(rpicam-vid --width 1280 --height 720), or use --size 1920x1080"
	if err == nil || err.Error() != want {
		t.Errorf("size mismatch: %v\nwant %s", err, want)
	}
	for _, tt := range []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"bad format", func(c *Config) { c.Pipe.Format = "rgb24" }, `format "rgb24"`},
		{"odd", func(c *Config) { c.Pipe.Width, c.Width = 1279, 1279 }, "must be even"},
		{"fps", func(c *Config) { c.FPS = 0 }, "frame rate 0"},
		{"reader", func(c *Config) { c.Reader = nil }, "no Reader"},
		{"clock", func(c *Config) { c.Clock = nil }, "no Clock"},
	} {
		c := base
		c.Pipe.Width, c.Pipe.Height = 1280, 720
		tt.mod(&c)
		if _, err := Open(c); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		}
	}
}

// TestStamper: arrivals at a pipe's rate, with jitter, against the output
// rate: how many frames a second go on, and how far their stamps stray
// from the arrivals and from a regular interval.
func TestStamper(t *testing.T) {
	ms := func(f float64) time.Duration { return time.Duration(f * float64(time.Millisecond)) }
	for _, tt := range []struct {
		name       string
		pipe, out  int
		jitter     []float64 // ms, cycled over the frames
		wantPerSec int
		tolerance  int
		drops      bool
		maxJitter  float64 // ms: the stamps' intervals from the regular one, at most
	}{
		{"30 to 30", 30, 30, []float64{0}, 30, 0, false, 0.01},
		{"30 to 30, late then early", 30, 30, []float64{0, 12, -12, 5, -5}, 30, 0, false, 3},
		// ffmpeg -re: written on a 10 ms tick (measured: 30.6, 30.6, 30.6, 40.7 ms apart).
		{"30 to 30, on a 10 ms tick", 30, 30, []float64{0, -2.7, -5.4, 1.9}, 30, 0, false, 1},
		{"60 to 30", 60, 30, []float64{0, 6, -6}, 30, 0, true, 2},
		{"50 to 30", 50, 30, []float64{0, 3, -3}, 30, 0, true, 3},
		{"15 to 30", 15, 30, []float64{0, 20, -20}, 15, 0, false, 5},
		{"25 to 30", 25, 30, []float64{0, 10, -10}, 25, 0, false, 3},
		{"120 to 60", 120, 60, []float64{0, 2, -2}, 60, 0, true, 1},
	} {
		p := newStamper(tt.pipe, tt.out)
		n, drops, worst, stray := 0, false, 0.0, time.Duration(0)
		var last time.Duration
		regular := time.Second / time.Duration(min(tt.pipe, tt.out))
		for i := range 10 * tt.pipe {
			at := time.Second + time.Duration(i)*time.Second/time.Duration(tt.pipe) + ms(tt.jitter[i%len(tt.jitter)])
			pts, ok := p.stamp(at)
			if !ok {
				drops = true
				continue
			}
			if n > 0 && i > 2*tt.pipe { // after the stamps settled
				d := float64(pts-last-regular) / 1e6
				worst = max(worst, d, -d)
				stray = max(stray, pts-at, at-pts)
			}
			last = pts
			n++
		}
		t.Logf("%s: %d/s, intervals ±%.2f ms, stray %v", tt.name, n/10, worst, stray)
		if per := n / 10; per < tt.wantPerSec-tt.tolerance || per > tt.wantPerSec+tt.tolerance || drops != tt.drops {
			t.Errorf("%s: %d frames a second (dropped some: %v), want %d (%v)", tt.name, per, drops, tt.wantPerSec, tt.drops)
		}
		if worst > tt.maxJitter || stray > max(p.early, p.late) {
			t.Errorf("%s: intervals off by up to %.1f ms (want %.1f at most), stamps up to %v from the arrivals",
				tt.name, worst, tt.maxJitter, stray)
		}
	}
}

// TestStamperGap: after a gap the stamps go on on the same grid, whole
// intervals after the last (as the failover's filled frames are); a
// producer that comes back at another phase is followed within a few
// frames, none dropped.
func TestStamperGap(t *testing.T) {
	const iv = time.Second / 30
	p := newStamper(30, 30)
	var pts []time.Duration
	for i := range 10 {
		s, _ := p.stamp(time.Second + time.Duration(i)*iv)
		pts = append(pts, s)
	}
	// 7 frames missing; the producer comes back 13 ms off its old phase.
	back := time.Second + 17*iv + 13*time.Millisecond
	for i := range 30 {
		s, ok := p.stamp(back + time.Duration(i)*iv)
		if !ok {
			t.Fatalf("frame %d after the gap dropped", i)
		}
		pts = append(pts, s)
	}
	if d := pts[10] - pts[9]; d%iv > time.Millisecond*2 && iv-d%iv > time.Millisecond*2 {
		t.Errorf("first stamp after the gap %v after the last: not whole intervals (±2 ms)", d)
	}
	for i := 11; i < len(pts); i++ {
		if d := pts[i] - pts[i-1]; d < iv-2*time.Millisecond || d > iv+2*time.Millisecond {
			t.Errorf("stamp %d %v after the one before: want %v ±2 ms", i, d, iv)
		}
	}
	if off := pts[len(pts)-1] - (back + 29*iv); off < -time.Millisecond || off > time.Millisecond {
		t.Errorf("30 frames after the gap, the stamps are %v off the arrivals: not followed", off)
	}
}

// endless reads n frames of b, then EOF, without allocating.
type endless struct {
	b   []byte
	off int
	n   int
}

func (e *endless) Read(p []byte) (int, error) {
	if e.n == 0 {
		return 0, io.EOF
	}
	k := copy(p, e.b[e.off:])
	if e.off += k; e.off == len(e.b) {
		e.off, e.n = 0, e.n-1
	}
	return k, nil
}

// discard releases frames.
type discard struct{}

func (discard) WriteVideo(f *media.VideoFrame) error { f.Release(); return nil }

// runFrames reads n frames of format through a Feed that discards them.
func runFrames(tb testing.TB, format string, w, h, n int) {
	sp := Spec{format, w, h, 30}
	src, err := Open(Config{Pipe: sp, Width: w, Height: h, FPS: 30, Reader: &endless{b: make([]byte, sp.FrameSize()), n: n},
		Clock: media.NewClock(), Logger: quiet})
	if err != nil {
		tb.Fatal(err)
	}
	defer src.Close()
	src.noPace = true
	src.mu.Lock()
	src.out = discard{} // a Feed, minus its stall watch
	src.mu.Unlock()
	if err := src.Run(context.Background()); err != nil {
		tb.Fatal(err)
	}
	if d := src.Stats().Delivered.Load(); d != int64(n) {
		tb.Fatalf("%d of %d frames delivered", d, n)
	}
}

// TestNoAllocPerFrame: in the steady state a frame costs no allocation,
// whatever the format.
func TestNoAllocPerFrame(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop frames at random")
	}
	for _, format := range Formats {
		runFrames(t, format, testW, testH, 10) // warm up
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		runFrames(t, format, testW, testH, 10)
		runtime.ReadMemStats(&after)
		base := after.Mallocs - before.Mallocs
		runtime.ReadMemStats(&before)
		runFrames(t, format, testW, testH, 2010)
		runtime.ReadMemStats(&after)
		if extra := int64(after.Mallocs-before.Mallocs) - int64(base); extra > 20 {
			t.Errorf("%s: %d more allocations for 2000 more frames", format, extra)
		}
	}
}

// BenchmarkPipe720p is the CPU the source spends on a 720p frame (an op
// is a frame): the read (a copy from memory, as from the kernel's pipe
// buffer) and the conversion to I420.
func BenchmarkPipe720p(b *testing.B) {
	for _, format := range Formats {
		b.Run(format, func(b *testing.B) {
			b.ReportAllocs()
			runFrames(b, format, 1280, 720, b.N)
		})
	}
}
