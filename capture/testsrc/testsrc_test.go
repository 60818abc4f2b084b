package testsrc

import (
	"bytes"
	"context"
	"errors"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golive/golive/media"
)

var discard = media.VideoWriterFunc(func(f *media.VideoFrame) error { f.Release(); return nil })

func newSource(w, h, fps int) *Source {
	return &Source{Width: w, Height: h, FPS: fps, SampleRate: 48000, Channels: 2,
		Clock: media.NewClock(), Video: discard}
}

func render(s *Source, n uint64) *media.VideoFrame {
	f := media.NewFramePool(s.Width, s.Height).Get()
	s.RenderFrame(f, n)
	return f
}

func samePicture(a, b *media.VideoFrame) bool {
	for i := range a.Planes {
		if !bytes.Equal(a.Planes[i], b.Planes[i]) {
			return false
		}
	}
	return true
}

func TestRenderFrame(t *testing.T) {
	for _, sz := range [][2]int{{16, 16}, {320, 180}, {640, 480}, {1280, 720}, {1920, 1080}} {
		s := newSource(sz[0], sz[1], 30)
		if err := s.Check(); err != nil {
			t.Fatal(err)
		}
		prev := render(s, 0)
		for n := uint64(1); n < 70; n++ {
			f := render(s, n)
			if f.Seq != n || f.PTS != time.Duration(n)*time.Second/30 {
				t.Fatalf("%v frame %d: Seq %d PTS %v", sz, n, f.Seq, f.PTS)
			}
			if samePicture(prev, f) {
				t.Fatalf("%v: frames %d and %d are identical", sz, n-1, n)
			}
			if !samePicture(f, render(s, n)) {
				t.Fatalf("%v: frame %d rendered twice differs", sz, n)
			}
			checkRange(t, f)
			prev = f
		}
	}
}

func checkRange(t *testing.T, f *media.VideoFrame) {
	t.Helper()
	for i, p := range f.Planes {
		lo, hi := byte(16), byte(240)
		if i == 0 {
			hi = 235
		}
		for j, v := range p {
			if v < lo || v > hi {
				t.Fatalf("%dx%d frame %d: plane %d byte %d = %d, outside %d..%d",
					f.Width, f.Height, f.Seq, i, j, v, lo, hi)
			}
		}
	}
}

// TestDigitsChange checks that the text box (which nothing else draws over)
// changes from frame 0 to frame 1, and that it holds white digits.
func TestDigitsChange(t *testing.T) {
	s := newSource(1280, 720, 30)
	f0, f1 := render(s, 0), render(s, 1)
	p := s.pic
	x0, x1 := p.w/2-layoutChars*advance*p.scale/2, p.w/2+layoutChars*advance*p.scale/2
	y0, y1 := p.textY, p.textY+p.textBoxH()
	changed, whites := 0, 0
	for y := y0; y < y1; y++ {
		for x := x0; x < x1; x++ {
			i := y*f0.Strides[0] + x
			if f0.Planes[0][i] != f1.Planes[0][i] {
				changed++
			}
			if f0.Planes[0][i] == 235 {
				whites++
			}
		}
	}
	if changed == 0 {
		t.Fatal("digit area identical between frames 0 and 1")
	}
	if whites == 0 {
		t.Fatal("no white digit pixels in the text box")
	}
	t.Logf("scale %d, %d luma pixels changed, %d white", p.scale, changed, whites)
}

func TestRenderFrameNoAlloc(t *testing.T) {
	s := newSource(1280, 720, 30)
	f := render(s, 0)
	n := uint64(1)
	if a := testing.AllocsPerRun(100, func() { s.RenderFrame(f, n); n++ }); a != 0 {
		t.Fatalf("RenderFrame allocates %v times per call", a)
	}
}

func TestText(t *testing.T) {
	var b [32]byte
	for _, c := range []struct {
		d    time.Duration
		want string
	}{
		{0, "00:00:00.000"},
		{33333333, "00:00:00.033"},
		{time.Hour + 2*time.Minute + 3*time.Second + 456*time.Millisecond, "01:02:03.456"},
		{123*time.Hour + 59*time.Minute + 59*time.Second + 999999999, "123:59:59.999"},
	} {
		if got := string(appendClock(b[:0], c.d)); got != c.want {
			t.Errorf("appendClock(%v) = %q, want %q", c.d, got, c.want)
		}
	}
	if got := string(appendPadded(b[:0], 42, 6)); got != "000042" {
		t.Errorf("appendPadded(42, 6) = %q", got)
	}
	if got := string(appendPadded(b[:0], 12345678, 6)); got != "12345678" {
		t.Errorf("appendPadded(12345678, 6) = %q", got)
	}
}

func TestFillAudio(t *testing.T) {
	s := newSource(320, 180, 30)
	const rate = 48000
	buf := make([]int16, rate*2)
	s.FillAudio(buf, 0)

	crossings, peak := 0, 0
	var last int16
	for i := 0; i < len(buf); i += 2 {
		l, r := buf[i], buf[i+1]
		if l != r {
			t.Fatalf("sample %d: channels differ: %d %d", i/2, l, r)
		}
		peak = max(peak, int(l), -int(l))
		if l != 0 {
			if last != 0 && (l > 0) != (last > 0) {
				crossings++
			}
			last = l
		}
	}
	if crossings < 1998 || crossings > 2002 {
		t.Errorf("%d zero crossings in 1 s, want 2000±2", crossings)
	}
	want := DefaultToneLevel * 32767
	if math.Abs(float64(peak)-want) > want/100 {
		t.Errorf("peak %d, want %.0f±1%%", peak, want)
	}

	// Continuity: two frames join exactly as one long frame, also across
	// a second boundary.
	for _, start := range []uint64{0, rate - 1000, 1_000_000_000} {
		whole := make([]int16, 2048*2)
		s.FillAudio(whole, start)
		a, b := make([]int16, 1024*2), make([]int16, 1024*2)
		s.FillAudio(a, start)
		s.FillAudio(b, start+1024)
		if !slices.Equal(whole, append(a, b...)) {
			t.Errorf("start %d: [0,1024)+[1024,2048) differs from [0,2048)", start)
		}
	}

	// Non-default tone and level, mono.
	m := &Source{SampleRate: 44100, Channels: 1, ToneHz: 440, ToneLevel: 0.5}
	mono := make([]int16, 44100)
	m.FillAudio(mono, 0)
	peak = 0
	for _, v := range mono {
		peak = max(peak, int(v), -int(v))
	}
	if want := 0.5 * 32767; math.Abs(float64(peak)-want) > want/100 {
		t.Errorf("mono 440 Hz: peak %d, want %.0f±1%%", peak, want)
	}
}

func TestCheck(t *testing.T) {
	for _, c := range []struct {
		name string
		mod  func(*Source)
		want string // substring of the error; "" = valid
	}{
		{"ok", func(*Source) {}, ""},
		{"no audio", func(s *Source) { s.Channels, s.SampleRate = 0, 0 }, ""},
		{"odd width", func(s *Source) { s.Width = 641 }, "size"},
		{"too small", func(s *Source) { s.Height = 14 }, "size"},
		{"too big", func(s *Source) { s.Width = 7682 }, "size"},
		{"fps 0", func(s *Source) { s.FPS = 0 }, "frame rate"},
		{"fps 121", func(s *Source) { s.FPS = 121 }, "frame rate"},
		{"no rate", func(s *Source) { s.SampleRate = 0 }, "sample rate"},
		{"channels", func(s *Source) { s.Channels = -1 }, "channels"},
		{"nyquist", func(s *Source) { s.ToneHz = 24000 }, "tone"},
		{"level", func(s *Source) { s.ToneLevel = 1.5 }, "level"},
		{"frame samples", func(s *Source) { s.AudioFrameSamples = -1 }, "samples per audio frame"},
		{"no clock", func(s *Source) { s.Clock = nil }, "Clock"},
		{"no video", func(s *Source) { s.Video = nil }, "Video"},
	} {
		s := newSource(640, 360, 30)
		c.mod(s)
		err := s.Check()
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want) ||
			!strings.HasPrefix(err.Error(), "testsrc: ")):
			t.Errorf("%s: got %v, want an error about %q", c.name, err, c.want)
		}
		if c.want != "" {
			if err := s.Run(context.Background()); err == nil {
				t.Errorf("%s: Run accepted an invalid config", c.name)
			}
		}
	}
}

// recorder collects what the source writes.
type recorder struct {
	mu      sync.Mutex
	closed  bool // set once Run has returned: no writes may follow
	late    int
	video   []media.VideoFrame // copies of the headers (Seq, PTS)
	audio   []time.Duration
	samples []int
}

func (r *recorder) WriteVideo(f *media.VideoFrame) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		r.late++
	}
	r.video = append(r.video, media.VideoFrame{Seq: f.Seq, PTS: f.PTS, Width: f.Width, Height: f.Height})
	f.Release()
	return nil
}

func (r *recorder) WriteAudio(f *media.AudioFrame) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		r.late++
	}
	r.audio = append(r.audio, f.PTS)
	r.samples = append(r.samples, f.NumSamples())
	return nil
}

func TestRun(t *testing.T) {
	before := runtime.NumGoroutine()
	rec := &recorder{}
	s := &Source{Width: 320, Height: 180, FPS: 30, SampleRate: 48000, Channels: 2,
		Clock: media.NewClock(), Video: rec, Audio: rec}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	err := s.Run(ctx)
	stopped := s.Clock.Now()
	rec.mu.Lock()
	rec.closed = true
	rec.mu.Unlock()
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if late := stopped - 500*time.Millisecond; late > 100*time.Millisecond {
		t.Errorf("Run returned %v after cancel", late)
	}

	rec.mu.Lock()
	defer rec.mu.Unlock()
	if n := len(rec.video); n < 13 || n > 17 {
		t.Errorf("%d video frames in 0.5 s at 30 fps, want 15±2", n)
	}
	for i, f := range rec.video {
		if f.Seq != uint64(i) {
			t.Errorf("video frame %d has Seq %d (dropped or duplicated)", i, f.Seq)
		}
		if want := time.Duration(f.Seq) * time.Second / 30; f.PTS != want {
			t.Errorf("video Seq %d: PTS %v, want %v", f.Seq, f.PTS, want)
		}
		if f.Width != 320 || f.Height != 180 {
			t.Errorf("video frame %d is %dx%d", i, f.Width, f.Height)
		}
	}
	if n := len(rec.audio); n < 20 || n > 25 {
		t.Errorf("%d audio frames in 0.5 s, want ~23", n)
	}
	for k, pts := range rec.audio {
		if want := time.Duration(k) * 1024 * time.Second / 48000; pts != want {
			t.Errorf("audio frame %d: PTS %v, want %v", k, pts, want)
		}
		if rec.samples[k] != 1024 {
			t.Errorf("audio frame %d: %d samples, want 1024", k, rec.samples[k])
		}
	}

	// Nothing may run after Run has returned.
	rec.mu.Unlock()
	time.Sleep(100 * time.Millisecond)
	rec.mu.Lock()
	if rec.late != 0 {
		t.Errorf("%d writes after Run returned", rec.late)
	}
	if after := runtime.NumGoroutine(); after > before {
		t.Errorf("%d goroutines before Run, %d after", before, after)
	}
}

// TestRunSkipsAhead stalls the video writer once: the source must skip the
// frames it missed (a Seq gap, PTS still on the grid), not burst them.
func TestRunSkipsAhead(t *testing.T) {
	var (
		mu     sync.Mutex
		frames []media.VideoFrame
		at     []time.Duration
	)
	s := &Source{Width: 64, Height: 36, FPS: 30, Clock: media.NewClock()}
	s.Video = media.VideoWriterFunc(func(f *media.VideoFrame) error {
		mu.Lock()
		frames = append(frames, media.VideoFrame{Seq: f.Seq, PTS: f.PTS})
		at = append(at, s.Clock.Now())
		mu.Unlock()
		f.Release()
		if f.Seq == 2 {
			time.Sleep(300 * time.Millisecond) // a stalled machine
		}
		return nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 600*time.Millisecond)
	defer cancel()
	if err := s.Run(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(frames) < 6 {
		t.Fatalf("only %d frames", len(frames))
	}
	if frames[2].Seq != 2 || frames[3].Seq < 2+8 {
		t.Errorf("after a 300 ms stall at frame 2 the next frame is %d, want >= 10", frames[3].Seq)
	}
	for i, f := range frames {
		if want := time.Duration(f.Seq) * time.Second / 30; f.PTS != want {
			t.Errorf("Seq %d: PTS %v, want %v", f.Seq, f.PTS, want)
		}
		if i > 0 && f.Seq <= frames[i-1].Seq {
			t.Errorf("Seq %d after %d", f.Seq, frames[i-1].Seq)
		}
	}
	// No burst: at most maxLagFrames+1 frames within one frame time after
	// the stall.
	burst := 0
	for _, a := range at[3:] {
		if a-at[3] < 33*time.Millisecond {
			burst++
		}
	}
	if burst > maxLagFrames+1 {
		t.Errorf("%d frames burst out after the stall", burst)
	}
}

func TestRunWriterError(t *testing.T) {
	boom := errors.New("boom")
	var calls int
	s := &Source{Width: 64, Height: 36, FPS: 30, SampleRate: 48000, Channels: 1,
		Clock: media.NewClock(), Video: discard,
		Audio: media.AudioWriterFunc(func(*media.AudioFrame) error {
			if calls++; calls == 3 {
				return boom
			}
			return nil
		})}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.Run(ctx)
	if !errors.Is(err, boom) || !strings.HasPrefix(err.Error(), "testsrc: audio") {
		t.Fatalf("Run = %v, want the wrapped writer error", err)
	}
	if ctx.Err() != nil {
		t.Fatal("Run did not stop on the writer error")
	}
}

func TestGrid(t *testing.T) {
	for _, rate := range []uint64{1, 3, 7, 24, 30, 60, 120, 44100, 48000} {
		for _, i := range []uint64{0, 1, 2, rate - 1, rate, rate + 1, 12345, 1e9} {
			t0 := gridTime(i, rate)
			if got := frameAt(t0, rate); got != i {
				t.Errorf("rate %d: frameAt(gridTime(%d)) = %d", rate, i, got)
			}
			if got := frameAt(gridTime(i+1, rate)-1, rate); got != i {
				t.Errorf("rate %d: frameAt(gridTime(%d)-1) = %d", rate, i+1, got)
			}
		}
	}
}

func BenchmarkRenderFrame720p(b *testing.B) {
	s := newSource(1280, 720, 30)
	f := render(s, 0)
	b.ReportAllocs()
	b.SetBytes(int64(len(f.Planes[0]) * 3 / 2))
	n := uint64(0)
	for b.Loop() {
		s.RenderFrame(f, n)
		n++
	}
}

func BenchmarkRenderFrame1080p(b *testing.B) {
	s := newSource(1920, 1080, 30)
	f := render(s, 0)
	b.ReportAllocs()
	n := uint64(0)
	for b.Loop() {
		s.RenderFrame(f, n)
		n++
	}
}

func BenchmarkFillAudio(b *testing.B) {
	s := newSource(320, 180, 30)
	buf := make([]int16, 1024*2)
	b.ReportAllocs()
	n := uint64(0)
	for b.Loop() {
		s.FillAudio(buf, n)
		n += 1024
	}
}

// TestSync: the flash is frame n%FPS == 0 only, white all over; the beep
// fills exactly the first SyncBeep of each second.
func TestSync(t *testing.T) {
	s := &Source{Width: 64, Height: 36, FPS: 30, SampleRate: 48000, Channels: 2, Sync: true}
	pool := media.NewFramePool(64, 36)
	for _, n := range []uint64{0, 1, 29, 30, 31, 60} {
		f := pool.Get()
		s.RenderFrame(f, n)
		white := true
		for _, y := range f.Planes[0] {
			if y != 235 {
				white = false
			}
		}
		if want := n%30 == 0; white != want {
			t.Errorf("frame %d: all white %v, want %v", n, white, want)
		}
		f.Release()
	}
	buf := make([]int16, 2*96000) // 2 s
	s.FillAudio(buf, 0)
	for i := 0; i < 96000; i++ {
		inBeep := i%48000 < 4800
		loud := false
		for j := i; j < i+48 && j < 96000; j++ { // a 1 kHz cycle
			if buf[2*j] > 1000 || buf[2*j] < -1000 {
				loud = true
			}
		}
		if inBeep && i%48000 < 4800-48 && !loud {
			t.Fatalf("sample %d: silent inside the beep", i)
		}
		if !inBeep && buf[2*i] != 0 {
			t.Fatalf("sample %d: %d outside the beep", i, buf[2*i])
		}
	}
}
