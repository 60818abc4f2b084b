package encode

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/asticode/go-astiav"

	"github.com/golive/golive/media"
	"github.com/golive/golive/media/avframe"
	"github.com/golive/golive/media/h264"
)

// fakeHW is a "hardware" backend: libx264 behind the Codec seam, with
// wrap (if any) around it to misbehave as drivers do.
func fakeHW(name string, wrap func(Codec) Codec) Backend {
	b := x264Backend()
	b.Name, b.Device, b.LiveBitrate = name, "/dev/fake-"+name, false
	b.Open = func(cfg VideoConfig) (Codec, error) {
		c, err := openAV(b, cfg) // as b is by now: v4l2m2m's name means its settings
		if err != nil || wrap == nil {
			return c, err
		}
		return wrap(c), nil
	}
	return b
}

// failOpen is a backend whose open fails, as every hardware encoder's does here.
func failOpen(name string) Backend {
	return Backend{Name: name, Codec: "h264_" + name, Open: func(VideoConfig) (Codec, error) {
		return nil, errors.New("Cannot load libcuda.so.1")
	}}
}

// hangOpen hangs in open until release is closed.
func hangOpen(name string, release chan struct{}) Backend {
	return Backend{Name: name, Codec: "h264_" + name, Open: func(VideoConfig) (Codec, error) {
		<-release
		return nil, errors.New("released")
	}}
}

// sendFails fails on every frame.
type sendFails struct{ Codec }

func (sendFails) Send(int64, bool) error { return errors.New("Generic error in an external library") }

// silent takes frames from the nth on and never gives a packet for them
// (a driver whose output queue stalled).
type silent struct {
	Codec
	n, sent int
}

func (s *silent) Send(pts int64, key bool) error {
	s.sent++
	if s.sent >= s.n {
		return nil
	}
	return s.Codec.Send(pts, key)
}

// headersApart gives the parameter sets in a packet of their own before
// each IDR, as Debian's h264_v4l2m2m does.
type headersApart struct {
	Codec
	queue [][]byte
	pts   int64
}

func (h *headersApart) Receive() ([]byte, int64, int64, error) {
	if len(h.queue) > 0 {
		d := h.queue[0]
		h.queue = h.queue[1:]
		return d, h.pts, h.pts, nil
	}
	data, pts, dts, err := h.Codec.Receive()
	if err != nil {
		return data, pts, dts, err
	}
	var hdr, pic []byte
	for _, nal := range h264.SplitAnnexB(data) {
		dst := &pic
		if t := h264.NALType(nal); t == h264.NALSPS || t == h264.NALPPS {
			dst = &hdr
		}
		*dst = append(append(*dst, 0, 0, 0, 1), nal...)
	}
	if hdr == nil {
		return data, pts, dts, nil
	}
	h.queue, h.pts = [][]byte{pic}, pts
	return hdr, pts, dts, nil
}

func (h *headersApart) ExtraData() []byte { return nil }

func testConfig(backends ...Backend) VideoConfig {
	return VideoConfig{Width: 320, Height: 180, FPS: 30, Bitrate: 800_000, KeyframeInterval: 2 * time.Second,
		Preset: "ultrafast", Backends: backends, Logger: quiet}
}

// TestChoose: the probe takes the first candidate that opens and encodes
// a first frame, says why each before it was skipped, stays within its
// deadline whatever a driver does, and never uses a hung one again.
func TestChoose(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	for _, tc := range []struct {
		name   string
		cands  []Backend
		chosen string
		skip   map[string]string // name → part of the reason
	}{
		{"the first works", []Backend{fakeHW("hw1", nil), x264Backend()}, "hw1", nil},
		{"fails to open", []Backend{failOpen("nvenc"), fakeHW("hw2", nil), x264Backend()}, "hw2",
			map[string]string{"nvenc": "libcuda"}},
		{"fails on the first frame", []Backend{fakeHW("vaapi", func(c Codec) Codec { return sendFails{c} }), x264Backend()}, X264,
			map[string]string{"vaapi": "first frame: Generic error"}},
		{"no packet for the first frame", []Backend{fakeHW("qsv", func(c Codec) Codec { return &silent{Codec: c, n: 1} }), x264Backend()}, X264,
			map[string]string{"qsv": "no IDR"}},
		{"hangs on open", []Backend{hangOpen("v4l2m2m", release), fakeHW("hw3", nil), x264Backend()}, X264,
			map[string]string{"v4l2m2m": "no answer within", "hw3": "probe's 300ms were spent"}},
		{"parameter sets apart", []Backend{fakeHW(V4L2M2M, func(c Codec) Codec { return &headersApart{Codec: c} }), x264Backend()}, V4L2M2M, nil},
		{"no parameter sets at all", []Backend{fakeHW("broken", func(c Codec) Codec { return &headersApart{Codec: c} }), x264Backend()}, X264,
			map[string]string{"broken": "no SPS/PPS"}},
		{"unavailable", []Backend{{Name: VAAPI, Unavailable: "no /dev/dri/renderD* render node"}, x264Backend()}, X264,
			map[string]string{VAAPI: "render node"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			i, results := Probe(testConfig(), tc.cands, 300*time.Millisecond, false)
			took := time.Since(start)
			if i < 0 || tc.cands[i].Name != tc.chosen {
				t.Fatalf("chose %d, want %s: %+v", i, tc.chosen, results)
			}
			if took > 400*time.Millisecond {
				t.Errorf("the probe took %v, bound 300ms", took)
			}
			for _, r := range results {
				want, skipped := tc.skip[r.Name]
				if r.Available == skipped || (skipped && !strings.Contains(r.Reason, want)) {
					t.Errorf("%s: available %v, reason %q; want skipped %v with %q", r.Name, r.Available, r.Reason, skipped, want)
				}
			}
		})
	}
	// A hung encoder is never used again, not even when asked for by name.
	_, err := OpenVideo(testConfig(hangOpen("v4l2m2m", release)), &collect{})
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "not used again") {
		t.Fatalf("the hung encoder again: %v", err)
	}
}

// TestNamedEncoderMissing: --encoder NAME that this machine lacks is
// ErrUnavailable (exit 2), naming it and why, before anything goes live.
func TestNamedEncoderMissing(t *testing.T) {
	for _, name := range []string{NVENC, VAAPI, QSV, V4L2M2M} {
		cfg := testConfig()
		cfg.Backends, cfg.Encoder = nil, name
		_, err := OpenVideo(cfg, &collect{})
		if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), name+":") || strings.Contains(err.Error(), "\n") {
			t.Errorf("--encoder %s here: %v", name, err)
		}
	}
	if err := CheckName("h265_nvenc"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("unknown name: %v", err)
	}
}

// TestProbeHere: on this machine (no /dev/dri, no V4L2 device, no CUDA)
// auto takes libx264, every hardware candidate says why not, and the
// whole probe is well within its 2 s.
func TestProbeHere(t *testing.T) {
	cands, err := Candidates(Auto)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	i, results := Probe(testConfig(), cands, 0, true)
	took := time.Since(start)
	for _, r := range results {
		t.Logf("%-8s %-13s %-20s available=%v %6.1f ms %s", r.Name, r.Codec, r.Device, r.Available, r.TookMS, r.Reason)
	}
	if took >= ProbeTimeout {
		t.Errorf("probe took %v", took)
	}
	names := map[string]bool{}
	for _, r := range results {
		names[r.Name] = true
	}
	for _, n := range Names {
		if !names[n] {
			t.Errorf("no result for %s", n)
		}
	}
	if dev := hardwareDevice(); dev != "" {
		t.Skipf("this machine has %s: what the probe made of it is logged above", dev)
	}
	if i < 0 || cands[i].Name != X264 {
		t.Fatalf("chose %d, want x264", i)
	}
	for _, r := range results[:len(results)-1] {
		if r.Available || r.Reason == "" {
			t.Errorf("%s: available %v, reason %q", r.Name, r.Available, r.Reason)
		}
	}
}

// encodeRun encodes frames [from, to) of noise at 30 fps.
func encodeRun(t *testing.T, v *Video, from, to int) {
	t.Helper()
	pool := media.NewFramePool(320, 180)
	rng := rand.New(rand.NewPCG(7, uint64(from)))
	for n := from; n < to; n++ {
		encodeNoisy(t, v, pool, rng, n)
	}
}

// checkStream: one packet per frame, DTS rising, keyframes carrying the
// configuration, no parameter set in band.
func checkStream(t *testing.T, out collect, frames int) {
	t.Helper()
	if len(out) != frames {
		t.Fatalf("%d packets for %d frames", len(out), frames)
	}
	for i, p := range out {
		if i > 0 && (p.DTS <= out[i-1].DTS || p.PTS-out[i-1].PTS > 2*time.Second/30) {
			t.Fatalf("packet %d: PTS %v DTS %v after PTS %v DTS %v", i, p.PTS, p.DTS, out[i-1].PTS, out[i-1].DTS)
		}
		if p.Keyframe != h264.IsKeyframe(p.Data) || (p.Keyframe && (p.Config == nil || len(p.Config.Record) == 0)) {
			t.Fatalf("packet %d: keyframe %v, IDR %v, config %v", i, p.Keyframe, h264.IsKeyframe(p.Data), p.Config)
		}
		nals, _ := h264.SplitAVCC(p.Data)
		for _, n := range nals {
			if ty := h264.NALType(n); ty == h264.NALSPS || ty == h264.NALPPS {
				t.Fatalf("packet %d: parameter set in band", i)
			}
		}
	}
}

// TestFallback: a hardware encoder that fails mid-stream, or stops giving
// packets, or hangs in a call, is replaced by libx264 at that very frame:
// a keyframe there, every frame out once, timestamps going on, counted.
func TestFallback(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	after := toTimeBase(time.Second, videoTimeBase)
	for _, tc := range []struct {
		name string
		wrap func(Codec) Codec
	}{
		{"error", func(c Codec) Codec { return &faultCodec{Codec: c, after: after} }},
		{"no packet", func(c Codec) Codec { return &silent{Codec: c, n: 32} }},
		{"hangs", func(c Codec) Codec { return &faultCodec{Codec: c, after: after, hang: true, release: release} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out collect
			cfg := testConfig(fakeHW("hw-"+tc.name, tc.wrap))
			cfg.StallTimeout = 100 * time.Millisecond
			v, err := OpenVideo(cfg, &out)
			if err != nil {
				t.Fatal(err)
			}
			defer v.Close()
			pool := media.NewFramePool(320, 180)
			rng := rand.New(rand.NewPCG(1, 1))
			for n := range 90 {
				encodeNoisy(t, v, pool, rng, n)
				if tc.name == "no packet" && n >= 31 && v.Fallbacks() == 0 {
					time.Sleep(40 * time.Millisecond) // frames keep coming; packets do not
				}
			}
			if err := v.Flush(); err != nil {
				t.Fatal(err)
			}
			if v.Fallbacks() != 1 || v.Encoder() != X264 {
				t.Fatalf("fallbacks %d, encoder now %s", v.Fallbacks(), v.Encoder())
			}
			var keys []int
			for i, p := range out {
				if p.Keyframe {
					keys = append(keys, i)
				}
			}
			t.Logf("%d packets, keyframes at %v", len(out), keys)
			if tc.name == "no packet" {
				// The frames the stalled driver swallowed are lost with it:
				// at most the stall's worth.
				if lost := 90 - len(out); lost < 1 || lost > 6 {
					t.Fatalf("%d frames lost in the stall", lost)
				}
				return
			}
			checkStream(t, out, 90)
			if len(keys) != 2 || keys[1] != 30 {
				t.Fatalf("keyframes at %v, want [0 30] (the switch at 1 s)", keys)
			}
		})
	}
}

// TestParameterSetsInBand: an encoder that gives no extradata and puts its
// SPS/PPS in a packet of their own (h264_v4l2m2m) still yields a stream
// whose configuration is known before going live and rides every keyframe.
func TestParameterSetsInBand(t *testing.T) {
	var out collect
	b := fakeHW(V4L2M2M, func(c Codec) Codec { return &headersApart{Codec: c} }) // v4l2m2m's settings: no global header
	v, err := OpenVideo(testConfig(b), &out)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if ex := v.cur.codec.ExtraData(); len(ex) != 0 {
		t.Fatalf("extradata %d bytes: the test needs none", len(ex))
	}
	rec := v.Config().Record
	if len(rec) == 0 {
		t.Fatal("no configuration before the first frame")
	}
	encodeRun(t, v, 0, 130)
	checkStream(t, out, 130)
	for _, p := range out {
		if p.Keyframe && !bytes.Equal(p.Config.Record, rec) {
			t.Fatal("the configuration changed")
		}
	}
}

// TestReopenSwitch: an encoder that cannot follow a bitrate live (all but
// x264 and NVENC) is reopened at the new rate in the background: a deep
// cut is switched to at once, a climb and a small cut at the next
// scheduled keyframe (so that they cost no extra keyframe); no frame is
// lost or repeated, timestamps keep rising, and the rate follows.
func TestReopenSwitch(t *testing.T) {
	var out collect
	b, _ := testBackend("test:reopen")
	v, err := OpenVideo(testConfig(b), &out)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	pool := media.NewFramePool(320, 180)
	rng := rand.New(rand.NewPCG(9, 9))
	var at []int // the frames a switch happened at
	for n := range 300 {
		switch n {
		case 40:
			v.SetBitrate(200_000) // a deep cut
		case 160:
			v.SetBitrate(800_000) // a climb
		case 200:
			v.SetBitrate(700_000) // a small cut
		}
		before := v.Switches()
		encodeNoisy(t, v, pool, rng, n)
		if v.Switches() > before {
			at = append(at, n)
		}
		if n == 160 || n == 200 || (n >= 40 && len(at) == 0) {
			waitReopen(t, v) // the reopen runs in the background
		}
	}
	if err := v.Flush(); err != nil {
		t.Fatal(err)
	}
	checkStream(t, out, 300)
	t.Logf("switched at frames %v", at)
	if len(at) != 3 || at[0] < 40 || at[0] > 45 {
		t.Fatalf("switches at %v, want three, the cut's within 5 frames of 40", at)
	}
	// Scheduled keyframes: every 2 s from the cut's.
	if cut := at[0]; at[1] != cut+120 || at[2] != cut+180 {
		t.Fatalf("switches at %v, want the climb and the small cut at the keyframes %d and %d", at, cut+120, cut+180)
	}
	var keys []int
	for i, p := range out {
		if p.Keyframe {
			keys = append(keys, i)
		}
	}
	if want := []int{0, at[0], at[0] + 60, at[0] + 120, at[0] + 180, at[0] + 240}; !slices.Equal(keys, want) {
		t.Errorf("keyframes at %v, want %v: a switch cost an extra one", keys, want)
	}
	bits := func(from, to int) int {
		n := 0
		for _, p := range out[from:to] {
			n += 8 * len(p.Data)
		}
		return n * 30 / (to - from)
	}
	low, high := bits(at[0]+30, at[1]), bits(at[1]+30, at[2])
	t.Logf("after the cut %d kbit/s, after the climb %d kbit/s", low/1000, high/1000)
	if low > 300_000 || high < 2*low {
		t.Fatalf("the rate did not follow: %d then %d bit/s", low, high)
	}
	if _, _, moves := v.Stats(); moves != 3 {
		t.Errorf("%d bitrate changes counted, want 3", moves)
	}
}

// openTest opens a Video on b at testConfig's settings, collecting its
// packets, with a frame pool and a random picture source seeded with seed
// for encodeNoisy; the Video is closed when the test ends.
func openTest(t *testing.T, b Backend, seed uint64) (*Video, *collect, *media.FramePool, *rand.Rand) {
	t.Helper()
	out := &collect{}
	v, err := OpenVideo(testConfig(b), out)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	return v, out, media.NewFramePool(320, 180), rand.New(rand.NewPCG(seed, seed))
}

// waitReopen waits until the encoder v is opening in the background (if
// any) is open: the switch is then due at the next frame that may take it,
// however slow the machine (an emulated arm64).
func waitReopen(t *testing.T, v *Video) {
	t.Helper()
	if n := v.next; n != nil {
		select {
		case <-n.done:
		case <-time.After(30 * time.Second):
			t.Fatal("the background reopen never finished")
		}
	}
}

// TestNV12 encodes the same pictures given as I420 and as NV12 to an
// encoder that takes NV12: the bitstreams are the same, so the one
// conversion (as the frame is copied in) loses nothing.
func TestNV12(t *testing.T) {
	encodeAs := func(pf media.PixelFormat) collect {
		var out collect
		b := fakeHW("nv12", nil)
		b.Format = media.PixelFormatNV12
		cfg := testConfig(b)
		cfg.Threads, cfg.Format = 1, pf
		v, err := OpenVideo(cfg, &out)
		if err != nil {
			t.Fatal(err)
		}
		defer v.Close()
		if v.Format() != media.PixelFormatNV12 {
			t.Fatalf("encoder takes %s", v.Format())
		}
		i420 := media.NewFramePool(320, 180)
		nv12 := media.NewFramePoolOf(media.PixelFormatNV12, 320, 180)
		rng := rand.New(rand.NewPCG(3, 3))
		for n := range 20 {
			f := i420.Get()
			noisyFrame(f, n, rng)
			f.PTS = time.Duration(n) * time.Second / 30
			if pf == media.PixelFormatNV12 {
				g := nv12.Get()
				copy(g.Planes[0], f.Planes[0])
				media.InterleaveUV(g.Planes[1], g.Strides[1], f.Planes[1], f.Strides[1], f.Planes[2], f.Strides[2], 160, 90)
				g.PTS = f.PTS
				f.Release()
				f = g
			}
			if err := v.Encode(f); err != nil {
				t.Fatal(err)
			}
			f.Release()
		}
		if err := v.Flush(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	a, b := encodeAs(media.PixelFormatI420), encodeAs(media.PixelFormatNV12)
	if len(a) != 20 || len(b) != 20 {
		t.Fatalf("%d and %d packets", len(a), len(b))
	}
	for i := range a {
		if !bytes.Equal(a[i].Data, b[i].Data) {
			t.Fatalf("packet %d differs between I420 and NV12 input", i)
		}
	}
}

// TestLoadFrameNV12ToI420: libx264 after a fallback from an NV12 encoder
// may get NV12 frames into an I420 codec frame.
func TestLoadFrameNV12ToI420(t *testing.T) {
	f := media.NewFramePoolOf(media.PixelFormatNV12, 4, 2).Get()
	copy(f.Planes[0], []byte{1, 2, 3, 4, 5, 6, 7, 8})
	copy(f.Planes[1], []byte{10, 20, 11, 21})
	dst := astiav.AllocFrame()
	defer dst.Free()
	dst.SetWidth(4)
	dst.SetHeight(2)
	dst.SetPixelFormat(astiav.PixelFormatYuv420P)
	if err := dst.AllocBuffer(0); err != nil {
		t.Fatal(err)
	}
	if err := loadFrame(dst, media.PixelFormatI420, f); err != nil {
		t.Fatal(err)
	}
	y, _ := dstPlane(dst, 0, 2, 4)
	u, _ := dstPlane(dst, 1, 1, 2)
	v, _ := dstPlane(dst, 2, 1, 2)
	if string(y) != "\x01\x02\x03\x04\x05\x06\x07\x08" || string(u) != "\x0a\x0b" || string(v) != "\x14\x15" {
		t.Fatalf("y %v u %v v %v", y, u, v)
	}
}

// hardwareDevice names a device through which this machine may have a
// hardware encoder ("" on the build machines: no /dev/dri, no V4L2, no GPU).
func hardwareDevice() string {
	for _, pat := range []string{"/dev/dri/renderD*", "/dev/nvidia[0-9]*", "/dev/video*"} {
		if m, _ := filepath.Glob(pat); len(m) > 0 {
			return m[0]
		}
	}
	return ""
}

// dstPlane is rows×width bytes of plane i of f, without the padding.
func dstPlane(f *astiav.Frame, i, rows, width int) ([]byte, int) {
	p, stride := avframe.Plane(f, i, rows)
	var b []byte
	for r := range rows {
		b = append(b, p[r*stride:r*stride+width]...)
	}
	return b, stride
}

// TestReopenFails: a hardware encoder that will not open a second time
// at a new bitrate (a driver short of sessions) is kept, as it works, and
// the reopen is tried again after a back-off: no fallback to libx264.
func TestReopenFails(t *testing.T) {
	opens := 0
	b := fakeHW("one-session", nil)
	open := b.Open
	b.Open = func(cfg VideoConfig) (Codec, error) {
		if opens++; opens == 3 { // the probe's, the stream's, then the first reopen
			return nil, errors.New("no free encoder session")
		}
		return open(cfg)
	}
	v, out, pool, rng := openTest(t, b, 2)
	n := 0
	for ; n < 150 && v.Switches() == 0; n++ {
		if n == 10 {
			v.SetBitrate(300_000)
		}
		encodeNoisy(t, v, pool, rng, n)
		time.Sleep(15 * time.Millisecond)
	}
	if err := v.Flush(); err != nil {
		t.Fatal(err)
	}
	checkStream(t, *out, n)
	t.Logf("switched at frame %d after %d opens", n-1, opens)
	if v.Fallbacks() != 0 || v.Encoder() != "one-session" || v.Switches() != 1 || opens != 4 {
		t.Fatalf("fallbacks %d, encoder %s, switches %d, opens %d", v.Fallbacks(), v.Encoder(), v.Switches(), opens)
	}
	if rate := rcMaxRate(ccOf(v)); rate != 300_000 {
		t.Fatalf("the encoder at %d bit/s, want the new 300k", rate)
	}
}

// late holds every packet back until two more frames have gone in, as
// h264_v4l2m2m does.
type late struct {
	Codec
	q     []au
	flush bool
}

func (l *late) Send(pts int64, key bool) error {
	if err := l.Codec.Send(pts, key); err != nil {
		return err
	}
	aus, err := drain(l.Codec, nil)
	l.q = append(l.q, aus...)
	return err
}

func (l *late) Flush() error { l.flush = true; return l.Codec.Flush() }

func (l *late) Receive() ([]byte, int64, int64, error) {
	if len(l.q) == 0 || (!l.flush && len(l.q) <= 2) {
		if l.flush {
			return nil, 0, 0, astiav.ErrEof
		}
		return nil, 0, 0, astiav.ErrEagain
	}
	a := l.q[0]
	l.q = l.q[1:]
	var b []byte // back to Annex B for the session to sort
	for _, nal := range append(append(a.SPS, a.PPS...), mustSplit(a.AVCC)...) {
		b = append(append(b, 0, 0, 0, 1), nal...)
	}
	return b, a.pts, a.dts, nil
}

func mustSplit(avcc []byte) [][]byte { n, _ := h264.SplitAVCC(avcc); return n }

// TestSourcePause: an encoder that hands packets out a few frames late is
// not taken for hung when the source pauses longer than the stall timeout
// (a camera lost, the slate not yet in): the wait counts only while frames
// go in.
func TestSourcePause(t *testing.T) {
	var out collect
	cfg := testConfig(fakeHW("late", func(c Codec) Codec { return &late{Codec: c} }))
	cfg.StallTimeout = 200 * time.Millisecond
	v, err := OpenVideo(cfg, &out)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	encodeRun(t, v, 0, 30)
	time.Sleep(500 * time.Millisecond) // the source pauses, two frames inside the encoder
	encodeRun(t, v, 30, 60)
	if err := v.Flush(); err != nil {
		t.Fatal(err)
	}
	if v.Fallbacks() != 0 {
		t.Fatalf("a source pause was taken for a hung encoder")
	}
	checkStream(t, out, 60)
}

// TestProbedThenFails: an encoder that passed the probe but will not open
// for the stream is skipped for the next candidate, libx264 at the end.
func TestProbedThenFails(t *testing.T) {
	opens := 0
	b := fakeHW("probe-only", nil)
	open := b.Open
	b.Open = func(cfg VideoConfig) (Codec, error) {
		if opens++; opens > 1 {
			return nil, errors.New("device busy")
		}
		return open(cfg)
	}
	v, err := OpenVideo(testConfig(b, x264Backend()), &collect{})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if v.Encoder() != X264 {
		t.Fatalf("encoder %s, want x264", v.Encoder())
	}
	cfg := testConfig(b) // named alone: unavailable, saying why
	if _, err := OpenVideo(cfg, &collect{}); !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "device busy") {
		t.Fatalf("alone: %v", err)
	}
}

// idrOnRate makes an IDR of the frame after each bitrate change, as
// NVENC's reconfiguration does.
type idrOnRate struct {
	Codec
	pending bool
}

func (c *idrOnRate) SetRate(bitrate int, d time.Duration) bool {
	c.pending = true
	return c.Codec.SetRate(bitrate, d)
}

func (c *idrOnRate) Send(pts int64, key bool) error {
	key, c.pending = key || c.pending, false
	return c.Codec.Send(pts, key)
}

// TestRateIDR: an encoder whose live bitrate change makes an IDR (NVENC)
// keeps keyframes 2 s apart from that IDR on, changes at most once a
// RateEvery, and never makes a keyframe Video did not count on.
func TestRateIDR(t *testing.T) {
	b := x264Backend() // live bitrate, as NVENC
	b.Name, b.RateIDR, b.RateEvery = "nvenc-like", true, 100*time.Millisecond
	open := b.Open
	b.Open = func(cfg VideoConfig) (Codec, error) {
		c, err := open(cfg)
		if err != nil {
			return nil, err
		}
		return &idrOnRate{Codec: c}, nil
	}
	v, out, pool, rng := openTest(t, b, 4)
	for n := range 150 {
		switch n {
		case 20:
			time.Sleep(150 * time.Millisecond) // RateEvery after the open
			v.SetBitrate(400_000)
		case 21:
			v.SetBitrate(300_000) // too soon after the last: waits for RateEvery
		}
		encodeNoisy(t, v, pool, rng, n)
		if n == 21 {
			time.Sleep(150 * time.Millisecond)
		}
	}
	checkStream(t, *out, 150)
	var keys []int
	for i, p := range *out {
		if p.Keyframe {
			keys = append(keys, i)
		}
	}
	if want := []int{0, 20, 22, 82, 142}; !slices.Equal(keys, want) {
		t.Fatalf("keyframes at %v, want %v (the first, each change's IDR, then every 2 s from the last)", keys, want)
	}
	if _, _, moves := v.Stats(); moves != 2 {
		t.Fatalf("%d bitrate changes, want 2", moves)
	}
}
