package audio

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golive/golive/internal/testpeer"
	"github.com/golive/golive/internal/testutil"
	"github.com/golive/golive/media"
)

func TestMapChannels(t *testing.T) {
	for _, c := range []struct {
		in        []int16
		inCh, out int
		want      []int16
	}{
		{[]int16{1, 2, 3, 4}, 2, 2, []int16{1, 2, 3, 4}},
		{[]int16{1, -2}, 1, 2, []int16{1, 1, -2, -2}},
		{[]int16{1, 2, -3, -4, 32767, 32767, -32768, -32768}, 2, 1, []int16{2, -4, 32767, -32768}},
		{[]int16{1, 2, 9, 3, 4, 9}, 3, 2, []int16{1, 2, 3, 4}},
		{[]int16{3, 3, 4}, 3, 1, []int16{3}},
		{[]int16{5}, 1, 1, []int16{5}},
	} {
		if got := mapChannels(nil, c.in, c.inCh, c.out); !slices.Equal(got, c.want) {
			t.Errorf("mapChannels(%v, %d -> %d) = %v, want %v", c.in, c.inCh, c.out, got, c.want)
		}
	}
}

func TestRing(t *testing.T) {
	var q ring
	q.init(10, 3)
	chunks, samples := make([]chunk, 3), make([]int16, 10)
	q.push([]int16{1, 2, 3, 4}, 2, 1)
	q.push([]int16{5, 6}, 1, 2)
	if nc, ns := q.pop(chunks, samples); nc != 2 || ns != 6 || !slices.Equal(samples[:6], []int16{1, 2, 3, 4, 5, 6}) ||
		chunks[0] != (chunk{2, 1}) || chunks[1] != (chunk{1, 2}) {
		t.Fatalf("pop = %d chunks %v, %d samples %v", nc, chunks[:nc], ns, samples[:ns])
	}
	// Wraps around the end of the buffer.
	q.push([]int16{7, 8, 9, 10, 11, 12}, 3, 3)
	if nc, ns := q.pop(chunks, samples); nc != 1 || ns != 6 || !slices.Equal(samples[:6], []int16{7, 8, 9, 10, 11, 12}) {
		t.Fatalf("pop after wrap = %d, %v", nc, samples[:ns])
	}
	// Full: dropped, counted, and the reader still gets what fitted.
	q.push(make([]int16, 8), 4, 4)
	q.push(make([]int16, 4), 2, 5)
	if q.dropped.Load() != 2 {
		t.Errorf("dropped %d sample frames, want 2", q.dropped.Load())
	}
	q.push([]int16{1, 1}, 1, 6)
	q.push([]int16{}, 0, 7)
	q.push([]int16{}, 0, 8) // four chunks: one too many
	if nc, ns := q.pop(chunks, samples); nc != 3 || ns != 10 {
		t.Errorf("pop of a full ring = %d chunks, %d samples; want 3, 10", nc, ns)
	}
	select {
	case <-q.signal:
	default:
		t.Error("no signal")
	}
}

// newTestMic is a Mic without a device, for the data path, on a fake clock
// that advances 10 ms a callback.
func newTestMic(t testing.TB, devCh, ch int, out media.AudioWriter) *Mic {
	m := &Mic{cfg: Config{SampleRate: 48000, Channels: ch, Clock: media.NewClock(), Audio: out}, devCh: devCh}
	var now time.Duration
	m.now = func() time.Duration { now += 10 * time.Millisecond; return now }
	m.initRing()
	dc, err := NewDriftCorrector(48000, ch, out)
	if err != nil {
		t.Fatal(err)
	}
	m.dc = dc
	return m
}

// BenchmarkCapturePath is the steady state of a capture: miniaudio's
// callback (10 ms of stereo, as bytes), then Run's processing of it into
// mono frames. It must not allocate.
func BenchmarkCapturePath(b *testing.B) {
	frames := 0
	m := newTestMic(b, 2, 1, media.AudioWriterFunc(func(*media.AudioFrame) error { frames++; return nil }))
	in := make([]byte, 480*2*2)
	for i := range in {
		in[i] = byte(i * 7)
	}
	for range 200 { // past the warm-up and the hold
		m.onData(nil, in, 480)
		m.process()
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		m.onData(nil, in, 480)
		if _, err := m.process(); err != nil {
			b.Fatal(err)
		}
	}
	if b.N > 100 && frames == 0 {
		b.Fatal("no frames")
	}
}

func TestCapturePathAllocs(t *testing.T) {
	frames := 0
	m := newTestMic(t, 2, 2, media.AudioWriterFunc(func(*media.AudioFrame) error { frames++; return nil }))
	in := make([]byte, 480*2*2)
	step := func() {
		m.onData(nil, in, 480)
		if _, err := m.process(); err != nil {
			t.Fatal(err)
		}
	}
	for range 200 { // past the warm-up and the hold
		step()
	}
	before := frames
	if n := testing.AllocsPerRun(500, step); n != 0 {
		t.Errorf("%v allocations per callback, want 0", n)
	}
	if frames-before < 200 {
		t.Errorf("%d frames from 500 callbacks: not in the steady state", frames-before)
	}
}

func TestOpenConfigErrors(t *testing.T) {
	clock, out := media.NewClock(), media.AudioWriterFunc(func(*media.AudioFrame) error { return nil })
	ok := Config{SampleRate: 48000, Channels: 2, Clock: clock, Audio: out}
	for name, c := range map[string]func(*Config){
		"rate":    func(c *Config) { c.SampleRate = 100 },
		"chans":   func(c *Config) { c.Channels = 3 },
		"clock":   func(c *Config) { c.Clock = nil },
		"writer":  func(c *Config) { c.Audio = nil },
		"backend": func(c *Config) { c.Backends = []string{"coreaudio"} },
	} {
		cfg := ok
		c(&cfg)
		if m, err := Open(cfg); err == nil {
			m.Close()
			t.Errorf("%s: Open(%+v) succeeded", name, cfg)
		}
	}
	cfg := ok
	cfg.Device = DeviceNone
	if _, err := Open(cfg); !errors.Is(err, ErrDisabled) {
		t.Errorf("Open(none) = %v, want ErrDisabled", err)
	}
}

// recorder collects frames, copying them.
type recorder struct {
	mu     sync.Mutex
	frames []media.AudioFrame
}

func (r *recorder) WriteAudio(f *media.AudioFrame) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := *f
	c.Samples = slices.Clone(f.Samples)
	r.frames = append(r.frames, c)
	return nil
}

func (r *recorder) get() []media.AudioFrame {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.frames)
}

// startMic opens device and runs it in a goroutine. stop cancels Run and
// returns its error; done is closed when Run has returned, with its error
// in *runErr; started is the clock's time just before Run.
func startMic(t *testing.T, cfg Config) (m *Mic, rec *recorder, stop func() error, done <-chan struct{}, runErr *error, started time.Duration) {
	t.Helper()
	rec = &recorder{}
	cfg.Audio, cfg.Clock = rec, media.NewClock()
	m, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	ctx, cancel := context.WithCancel(context.Background())
	d := make(chan struct{})
	runErr = new(error)
	started = cfg.Clock.Now()
	go func() {
		defer close(d)
		*runErr = m.Run(ctx)
	}()
	stop = func() error {
		cancel()
		select {
		case <-d:
			return *runErr
		case <-time.After(5 * time.Second):
			return errors.New("Run did not return within 5s of cancel")
		}
	}
	t.Cleanup(func() { stop() })
	return m, rec, stop, d, runErr, started
}

// TestMicPulse captures a tone played into a real PulseAudio daemon's null
// sink, from its monitor.
func TestMicPulse(t *testing.T) {
	p := testpeer.StartPulse(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const level = 0.25 // peak: -12 dBFS
	if err := p.PlayTone(ctx, 1000, level); err != nil {
		t.Fatal(err)
	}

	t.Run("List", func(t *testing.T) {
		devs, err := List()
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("devices: %+v", devs)
		i := slices.IndexFunc(devs, func(d DeviceInfo) bool { return d.ID == p.Monitor() })
		if i < 0 {
			t.Fatalf("List() has no %s: %v", p.Monitor(), devs)
		}
		d := devs[i]
		if d.Backend != BackendPulseAudio || d.Name != "Monitor of golive-null-sink" ||
			!slices.Equal(d.Channels, []int{2}) || !slices.Equal(d.Rates, []int{48000}) {
			t.Errorf("monitor: %+v", d)
		}
	})

	t.Run("not found", func(t *testing.T) {
		_, err := Open(Config{Device: "nosuch", SampleRate: 48000, Channels: 2,
			Clock: media.NewClock(), Audio: &recorder{}})
		if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), p.Monitor()) {
			t.Errorf("Open(nosuch) = %v; want ErrNotFound listing %s", err, p.Monitor())
		}
		t.Log(err)
	})

	t.Run("default is no monitor", func(t *testing.T) {
		_, err := Open(Config{SampleRate: 48000, Channels: 2, Clock: media.NewClock(), Audio: &recorder{},
			Backends: []string{BackendPulseAudio}})
		if !errors.Is(err, ErrNoMicrophone) {
			t.Errorf("Open(default) with only a monitor = %v; want ErrNoMicrophone", err)
		}
		t.Log(err)
	})

	for _, c := range []struct {
		device   string
		channels int
	}{
		{p.Monitor(), 2},
		{"GOLIVE-null", 1}, // a substring of the name, any case
	} {
		t.Run(c.device, func(t *testing.T) {
			m, rec, stop, _, _, started := startMic(t, Config{Device: c.device, SampleRate: 48000, Channels: c.channels})
			if m.Device().ID != p.Monitor() {
				t.Errorf("opened %+v", m.Device())
			}
			if !testutil.WaitFor(5*time.Second, 20*time.Millisecond, func() bool {
				return len(rec.get()) >= 2*48000/FrameSamples
			}) {
				t.Fatalf("%d frames in 5s", len(rec.get()))
			}
			if err := stop(); err != nil {
				t.Fatalf("Run: %v", err)
			}
			frames := rec.get()
			t.Logf("%d frames; first PTS %v (Run started at %v); corrector %+v",
				len(frames), frames[0].PTS, started, m.dc.Stats())
			// The first sample was captured after Run started the device,
			// and the corrector drops the first 0.5 s (warmup).
			from := started + time.Duration(warmup*float64(time.Second))
			if p0 := frames[0].PTS; p0 < from-20*time.Millisecond || p0 > from+300*time.Millisecond {
				t.Errorf("first PTS %v; Run started at %v, so want about %v", p0, started, from)
			}
			var all []int16
			for k, f := range frames {
				if f.NumSamples() != FrameSamples || f.Channels != c.channels || f.SampleRate != 48000 {
					t.Fatalf("frame %d: %d samples, %d channels, %d Hz", k, f.NumSamples(), f.Channels, f.SampleRate)
				}
				want := frames[0].PTS + time.Duration(int64(k)*FrameSamples*int64(time.Second)/48000)
				if d := f.PTS - want; d < -time.Nanosecond || d > time.Nanosecond {
					t.Fatalf("frame %d: PTS %v, want %v (frame 0 + k·1024/48000 s)", k, f.PTS, want)
				}
				all = append(all, f.Samples...)
			}
			// The first frames may still hold the sink's start.
			all = all[c.channels*9600:] // 200 ms
			hz := testutil.ToneFrequency(all, c.channels, 48000)
			rms, want := testutil.RMS(all, c.channels), level/math.Sqrt2
			db := 20 * math.Log10(rms/want)
			t.Logf("tone %.3f Hz, RMS %.5f (%+.3f dB from what was played)", hz, rms, db)
			if math.Abs(hz-1000) > 5 {
				t.Errorf("tone at %.2f Hz, want 1000 ± 5", hz)
			}
			if math.Abs(db) > 1 {
				t.Errorf("RMS %.4f (%+.2f dB from the %.4f played), want within 1 dB", rms, db, want)
			}
			if c.channels == 2 {
				if hz := testutil.ToneFrequency(all[1:], 2, 48000); math.Abs(hz-1000) > 5 {
					t.Errorf("right channel: tone at %.2f Hz", hz)
				}
			}
			m.Close()
			m.Close() // idempotent
		})
	}

	t.Run("Close during Run", func(t *testing.T) {
		m, rec, _, done, runErr, _ := startMic(t, Config{Device: p.Monitor(), SampleRate: 48000, Channels: 2})
		testutil.WaitFor(5*time.Second, 10*time.Millisecond, func() bool { return len(rec.get()) > 5 })
		m.Close()
		select {
		case <-done:
			if *runErr != nil {
				t.Errorf("Run after Close: %v, want nil", *runErr)
			}
		case <-time.After(3 * time.Second):
			t.Fatal("Run did not return after Close")
		}
		if err := m.Run(context.Background()); err == nil {
			t.Error("second Run succeeded")
		}
	})
}

// TestMicDeviceGone kills the PulseAudio daemon under a running Mic.
func TestMicDeviceGone(t *testing.T) {
	p := testpeer.StartPulse(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := p.PlayTone(ctx, 440, 0.5); err != nil {
		t.Fatal(err)
	}
	_, rec, _, done, runErr, _ := startMic(t, Config{Device: p.Monitor(), SampleRate: 48000, Channels: 2})
	if !testutil.WaitFor(5*time.Second, 10*time.Millisecond, func() bool { return len(rec.get()) >= 10 }) {
		t.Fatal("no frames")
	}
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	select {
	case <-done:
		err := *runErr
		t.Logf("Run returned %v after %v", err, time.Since(killed))
		if !errors.Is(err, ErrDeviceGone) {
			t.Errorf("Run = %v, want ErrDeviceGone", err)
		}
		if d := time.Since(killed); d > 3*time.Second {
			t.Errorf("Run returned %v after the kill, want within 3s", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run still running 5s after the sound server died")
	}
}

// TestMicSuspended: PulseAudio suspends the source under a running Mic
// (here: its sink is suspended). miniaudio reports the stream stopped; a
// short suspension is ridden out, a lasting one is ErrDeviceGone (from the
// backend's stop, or the no-data watchdog if that notice is late).
func TestMicSuspended(t *testing.T) {
	p := testpeer.StartPulse(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := p.PlayTone(ctx, 440, 0.5); err != nil {
		t.Fatal(err)
	}
	suspend := func(on string) {
		t.Helper()
		if out, err := p.Command(ctx, "pactl", "suspend-sink", p.Sink(), on).CombinedOutput(); err != nil {
			t.Fatalf("pactl suspend-sink %s: %v: %s", on, err, out)
		}
	}
	_, rec, _, done, runErr, _ := startMic(t, Config{Device: p.Monitor(), SampleRate: 48000, Channels: 2})
	if !testutil.WaitFor(5*time.Second, 10*time.Millisecond, func() bool { return len(rec.get()) >= 10 }) {
		t.Fatal("no frames")
	}

	suspend("1")
	suspend("0") // within stopGrace: the data comes back
	n := len(rec.get())
	if !testutil.WaitFor(3*time.Second, 10*time.Millisecond, func() bool { return len(rec.get()) >= n+50 }) {
		t.Fatalf("frames stopped after a short suspension (%d, then %d)", n, len(rec.get()))
	}
	select {
	case <-done:
		t.Fatalf("Run returned after a short suspension: %v", *runErr)
	default:
	}

	suspend("1")
	since := time.Now()
	select {
	case <-done:
		// Usually the backend's stop (within stopGrace); on a loaded
		// machine PulseAudio's notice can come after the no-data watchdog,
		// which says the same. How soon is a figure, not a bar (wall-clock
		// time on shared cores).
		t.Logf("Run returned %v after %v", *runErr, time.Since(since))
		if !errors.Is(*runErr, ErrDeviceGone) {
			t.Errorf("Run = %v, want ErrDeviceGone", *runErr)
		}
	case <-time.After(NoDataTimeout + 3*time.Second):
		t.Fatal("Run still running 5s after the source was suspended")
	}
}
