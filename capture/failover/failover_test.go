package failover

import (
	"context"
	"errors"
	"image"
	"image/color"
	"image/png"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golive/golive/media"
)

var quiet = slog.New(slog.DiscardHandler)

// fakeCamera delivers grey frames (luma = its id) at fps until told to fail
// or to stall.
type fakeCamera struct {
	id    byte
	clock *media.Clock
	out   media.VideoWriter
	fps   int
	fail  chan struct{}
	stall atomic.Bool
}

func (c *fakeCamera) Run(ctx context.Context) error {
	pool := media.NewFramePool(64, 36)
	t := time.NewTicker(time.Second / time.Duration(c.fps))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-c.fail:
			return errors.New("unplugged")
		case <-t.C:
		}
		if c.stall.Load() {
			continue
		}
		f := pool.Get()
		for i := range f.Planes[0] {
			f.Planes[0][i] = c.id
		}
		f.PTS = c.clock.Now()
		c.out.WriteVideo(f)
	}
}

func (c *fakeCamera) Close() {}

type videoLog struct {
	mu     sync.Mutex
	pts    []time.Duration
	lumas  []byte
	writes int
}

func (l *videoLog) WriteVideo(f *media.VideoFrame) error {
	l.mu.Lock()
	l.pts = append(l.pts, f.PTS)
	l.lumas = append(l.lumas, f.Planes[0][0])
	l.mu.Unlock()
	f.Release()
	return nil
}

func (l *videoLog) snapshot() ([]time.Duration, []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]time.Duration(nil), l.pts...), append([]byte(nil), l.lumas...)
}

// TestVideoFailover: the camera is unplugged, stays away while reopening
// fails, comes back; later it stalls. The output never has a gap longer
// than two frames, never goes back in time, shows the slate while the
// camera is gone and the camera again once it is back.
func TestVideoFailover(t *testing.T) {
	clock := media.NewClock()
	out := &videoLog{}
	slate, err := NewSlate("", 64, 36)
	if err != nil {
		t.Fatal(err)
	}
	v := &Video{Width: 64, Height: 36, FPS: 30, Clock: clock, Out: out, Slate: slate,
		Retry: 100 * time.Millisecond, Stall: 300 * time.Millisecond, Logger: quiet}
	first := &fakeCamera{id: 100, clock: clock, out: v.Writer(), fps: 30, fail: make(chan struct{})}
	v.First = first
	var opens atomic.Int32
	back := make(chan *fakeCamera, 1)
	v.Open = func(w media.VideoWriter) (Device, error) {
		// Three failed attempts, the camera back once, then gone for good.
		if n := opens.Add(1); n <= 3 || n > 4 {
			return nil, errors.New("no such device")
		}
		c := &fakeCamera{id: 200, clock: clock, out: w, fps: 30, fail: make(chan struct{})}
		back <- c
		return c, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { v.Run(ctx); close(done) }()

	time.Sleep(300 * time.Millisecond)
	close(first.fail) // unplugged: 3 failed reopens (~300 ms of slate), then back
	var second *fakeCamera
	select {
	case second = <-back:
	case <-time.After(3 * time.Second):
		t.Fatal("camera never reopened")
	}
	time.Sleep(300 * time.Millisecond)
	second.stall.Store(true) // frozen: last picture, then slate after Stall
	time.Sleep(600 * time.Millisecond)
	cancel()
	<-done

	pts, lumas := out.snapshot()
	interval := time.Second / 30
	for i := 1; i < len(pts); i++ {
		if pts[i] <= pts[i-1] {
			t.Fatalf("frame %d: PTS %v after %v", i, pts[i], pts[i-1])
		}
		if gap := pts[i] - pts[i-1]; gap > 2*interval+interval/2 {
			t.Fatalf("gap of %v at frame %d (%v): more than 2 frames", gap, i, pts[i])
		}
	}
	seen := map[string]bool{}
	for _, l := range lumas {
		switch l {
		case 100:
			seen["first"] = true
		case 200:
			seen["second"] = true
		default:
			seen["slate"] = true
		}
	}
	if !seen["first"] || !seen["slate"] || !seen["second"] {
		t.Fatalf("saw %v: want the camera, the slate, then the camera again", seen)
	}
	if lumas[len(lumas)-1] == 200 {
		t.Fatal("a stalled camera's last picture is still shown after Stall: want the slate")
	}
	if v.Filled() == 0 {
		t.Fatal("nothing counted as filled")
	}
}

type fakeMic struct {
	clock *media.Clock
	out   media.AudioWriter
	fail  chan struct{}
}

func (m *fakeMic) Run(ctx context.Context) error {
	f := &media.AudioFrame{SampleRate: 48000, Channels: 2, Samples: make([]int16, 2048)}
	for i := range f.Samples {
		f.Samples[i] = 1000
	}
	start := m.clock.Now()
	for k := 0; ; k++ {
		pts := start + time.Duration(k)*f.Duration()
		select {
		case <-ctx.Done():
			return nil
		case <-m.fail:
			return errors.New("mic unplugged")
		case <-time.After(pts + f.Duration() - m.clock.Now()):
		}
		f.PTS = pts
		m.out.WriteAudio(f)
	}
}

func (m *fakeMic) Close() {}

type audioLog struct {
	mu   sync.Mutex
	pts  []time.Duration
	dur  []time.Duration
	loud []bool
}

func (l *audioLog) WriteAudio(f *media.AudioFrame) error {
	l.mu.Lock()
	l.pts = append(l.pts, f.PTS)
	l.dur = append(l.dur, f.Duration())
	l.loud = append(l.loud, f.Samples[0] != 0)
	l.mu.Unlock()
	return nil
}

// TestAudioFailover: silence fills while the microphone is gone, on the
// same grid, and the microphone is used again when it comes back.
func TestAudioFailover(t *testing.T) {
	clock := media.NewClock()
	out := &audioLog{}
	a := &Audio{SampleRate: 48000, Channels: 2, Clock: clock, Out: out, Retry: 200 * time.Millisecond, Logger: quiet}
	first := &fakeMic{clock: clock, out: a.Writer(), fail: make(chan struct{})}
	a.First = first
	var opens atomic.Int32
	a.Open = func(w media.AudioWriter) (Device, error) {
		if opens.Add(1) == 1 {
			return nil, errors.New("no microphone")
		}
		return &fakeMic{clock: clock, out: w, fail: make(chan struct{})}, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { a.Run(ctx); close(done) }()
	time.Sleep(300 * time.Millisecond)
	close(first.fail)
	time.Sleep(1200 * time.Millisecond)
	cancel()
	<-done

	out.mu.Lock()
	defer out.mu.Unlock()
	var silent, loudAfter bool
	for i := 1; i < len(out.pts); i++ {
		end := out.pts[i-1] + out.dur[i-1]
		if out.pts[i] < end-time.Millisecond {
			t.Fatalf("audio frame %d at %v overlaps the previous one ending %v", i, out.pts[i], end)
		}
		if gap := out.pts[i] - end; gap > 2*out.dur[i] {
			t.Fatalf("audio gap of %v at %v", gap, out.pts[i])
		}
		if !out.loud[i] {
			silent = true
		} else if silent {
			loudAfter = true
		}
	}
	if !silent || !loudAfter {
		t.Fatalf("silence %v, microphone back %v: want both", silent, loudAfter)
	}
}

func TestSlate(t *testing.T) {
	card, err := NewSlate("", 1280, 720)
	if err != nil {
		t.Fatal(err)
	}
	var bright int
	for _, y := range card.Planes[0] {
		if y > 200 {
			bright++
		}
	}
	if bright < 1280*720/100 {
		t.Errorf("generated card: %d bright pixels: no text?", bright)
	}
	if y := card.Planes[0][0]; y < 16 || y > 60 {
		t.Errorf("card background luma %d, want dark grey", y)
	}
	// A pure red 4:3 PNG into 16:9: pillarboxed, BT.709 limited red.
	img := image.NewRGBA(image.Rect(0, 0, 400, 300))
	for i := range img.Pix {
		if i%4 == 0 || i%4 == 3 {
			img.Pix[i] = 255
		}
	}
	path := filepath.Join(t.TempDir(), "red.png")
	fh, _ := os.Create(path)
	png.Encode(fh, img)
	fh.Close()
	s, err := NewSlate(path, 320, 180)
	if err != nil {
		t.Fatal(err)
	}
	if y := s.Planes[0][0]; y != 16 {
		t.Errorf("pillarbox luma %d, want 16 (black)", y)
	}
	c := 90*320 + 160
	if y, v := s.Planes[0][c], s.Planes[2][45*160+80]; y < 60 || y > 66 || v < 236 {
		t.Errorf("red: Y %d V %d, want BT.709 limited red (Y 63, V 240)", y, v)
	}
	_ = color.White
	if _, err := NewSlate(filepath.Join(t.TempDir(), "none.png"), 320, 180); err == nil {
		t.Error("missing slate file: no error")
	}
	if _, err := NewSlate("failover_test.go", 320, 180); err == nil {
		t.Error("a Go file as slate: no error")
	}
}

// TestOpenTypedNil: an Open that returns a nil *T with its error (a nil
// pointer in a non-nil interface) is not run.
func TestOpenTypedNil(t *testing.T) {
	clock := media.NewClock()
	out := &videoLog{}
	slate, _ := NewSlate("", 64, 36)
	v := &Video{Width: 64, Height: 36, FPS: 30, Clock: clock, Out: out, Slate: slate, Retry: 20 * time.Millisecond, Logger: quiet}
	v.Open = func(media.VideoWriter) (Device, error) {
		var c *fakeCamera
		return c, errors.New("no such device")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	v.Run(ctx) // a panic fails the test
	if pts, _ := out.snapshot(); len(pts) < 5 {
		t.Fatalf("%d slate frames in 300 ms", len(pts))
	}
}
