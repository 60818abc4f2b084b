package filter

import (
	"errors"
	"fmt"
	"image"
	"image/png"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golive/golive/filter/gl"
	"github.com/golive/golive/filter/spec"
	"github.com/golive/golive/internal/testutil"
	"github.com/golive/golive/media"
)

// TestBackendChoice: auto takes the GPU only when it is real hardware (so
// llvmpipe here means the CPU backend); gl and cpu are taken as asked;
// anything else fails with ErrBadOption.
func TestBackendChoice(t *testing.T) {
	info := requireGL(t)
	o := spec.Defaults()
	o.Beauty = 0.5
	sink := media.VideoWriterFunc(func(f *media.VideoFrame) error { f.Release(); return nil })
	wantAuto := "cpu: "
	if info.Hardware {
		wantAuto = "gl: "
	}
	for backend, want := range map[string]string{"": wantAuto, BackendAuto: wantAuto, BackendCPU: "cpu: ", BackendGL: "gl: " + info.Renderer} {
		b, err := Open(Config{Options: o, Backend: backend, Width: 320, Height: 180}, sink)
		if err != nil {
			t.Fatalf("%q: %v", backend, err)
		}
		if !strings.HasPrefix(b.Name(), want) {
			t.Errorf("--filter-backend %q ran %q, want %q", backend, b.Name(), want)
		}
		b.Close()
	}
	if _, err := Open(Config{Options: o, Backend: "vulkan", Width: 320, Height: 180}, sink); !errors.Is(err, spec.ErrBadOption) {
		t.Errorf("--filter-backend vulkan: %v, want ErrBadOption", err)
	}
}

// TestBackendsAlike: every filter at once, the same input and time, through
// both backends, in either output format: the two pictures must look alike
// (PSNR ≥ 30 dB; the golden tests in filter/gl and filter/cpu hold each to
// the reference).
func TestBackendsAlike(t *testing.T) {
	requireGL(t)
	dir := t.TempDir()
	logo := image.NewNRGBA(image.Rect(0, 0, 48, 24))
	for i := range logo.Pix {
		logo.Pix[i] = uint8(i * 7)
	}
	logoPath := filepath.Join(dir, "logo.png")
	f, _ := os.Create(logoPath)
	png.Encode(f, logo)
	f.Close()
	var cube strings.Builder
	cube.WriteString("LUT_3D_SIZE 5\n")
	for b := range 5 {
		for g := range 5 {
			for r := range 5 {
				fmt.Fprintf(&cube, "%g %g %g\n", math.Pow(float64(r)/4, 0.8), float64(g)/4, math.Sqrt(float64(b)/4))
			}
		}
	}
	lut := filepath.Join(dir, "look.cube")
	os.WriteFile(lut, []byte(cube.String()), 0o644)

	o := spec.Defaults()
	o.Beauty, o.Watermark, o.Text, o.LUT = 0.6, logoPath, "%Y-%m-%d %H:%M:%S", lut
	o.Brightness, o.Contrast, o.Saturation = 0.05, 1.1, 1.2
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	for _, pf := range []media.PixelFormat{media.PixelFormatI420, media.PixelFormatNV12} {
		run := func(backend string) *media.VideoFrame {
			in, _, _ := spec.TestFrame(320, 180, 3)
			return filterOne(t, Config{Options: o, Backend: backend, Width: 320, Height: 180, Format: pf}, in, now)
		}
		g, c := run(BackendGL), run(BackendCPU)
		if g.Format != pf || c.Format != pf {
			t.Errorf("%v: gl wrote %v, cpu %v", pf, g.Format, c.Format)
		}
		d, psnr := spec.Compare(g, c)
		t.Logf("gl vs cpu, every filter, %v: PSNR %.1f dB, max difference %d", pf, psnr, d)
		if psnr < 30 {
			t.Errorf("gl vs cpu, %v: PSNR %.1f dB, want ≥ 30: the backends do not look alike", pf, psnr)
		}
	}
}

// TestBackendsBeautyAlike: beauty alone, the backends run the same filter
// (spec.Beauty's guided filter, each within a code value or two of it):
// at each strength, at an odd size, and on an input each scales first.
func TestBackendsBeautyAlike(t *testing.T) {
	requireGL(t)
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		s          float64
		inW, inH   int
		outW, outH int
	}{
		{0.2, 320, 180, 320, 180}, {0.6, 320, 180, 320, 180}, {1, 320, 180, 320, 180},
		{0.6, 321, 181, 321, 181}, {0.6, 640, 360, 320, 180},
	} {
		o := spec.Defaults()
		o.Beauty = tc.s
		in, _, _ := spec.TestFrame(tc.inW, tc.inH, 1)
		run := func(backend string) *media.VideoFrame {
			return filterOne(t, Config{Options: o, Backend: backend, Width: tc.outW, Height: tc.outH}, in, now)
		}
		d, psnr := spec.Compare(run(BackendGL), run(BackendCPU))
		t.Logf("beauty %.1f, %dx%d → %dx%d: gl vs cpu PSNR %.1f dB, max difference %d", tc.s, tc.inW, tc.inH, tc.outW, tc.outH, psnr, d)
		want := 50.0
		if tc.inW != tc.outW {
			// The backends scale differently (GL bilinearly, lavfi
			// bicubic): beauty must add next to nothing to that.
			o.Beauty = 0
			_, scaled := spec.Compare(run(BackendGL), run(BackendCPU))
			t.Logf("  the same without beauty: %.1f dB", scaled)
			want = min(want, scaled-1)
		}
		if psnr < want {
			t.Errorf("beauty %.1f, %dx%d → %dx%d: gl vs cpu PSNR %.1f dB (max difference %d), want ≥ %.1f: not the same beauty",
				tc.s, tc.inW, tc.inH, tc.outW, tc.outH, psnr, d, want)
		}
	}
}

// TestFormat: Config.Format reaches either backend. The zero value writes
// I420, as before there was a choice; NV12 writes the same picture as
// NV12, byte for byte, at an odd size too; any other format fails with
// ErrBadOption.
func TestFormat(t *testing.T) {
	requireGL(t)
	o := spec.Defaults()
	o.Beauty, o.Brightness, o.Text = 0.5, 0.05, "%T"
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	for _, backend := range []string{BackendGL, BackendCPU} {
		for _, sz := range [][2]int{{320, 180}, {321, 181}} {
			w, h := sz[0], sz[1]
			in, _, _ := spec.TestFrame(w, h, 5)
			got := map[media.PixelFormat]*media.VideoFrame{}
			for _, pf := range []media.PixelFormat{0, media.PixelFormatI420, media.PixelFormatNV12} {
				cfg := Config{Options: o, Backend: backend, Width: w, Height: h, Format: pf}
				got[pf] = filterOne(t, cfg, in, now)
			}
			name := fmt.Sprintf("%s %dx%d", backend, w, h)
			if f := got[0].Format; f != media.PixelFormatI420 {
				t.Errorf("%s: the zero Format wrote %v, want yuv420p", name, f)
			}
			if d, _ := spec.Compare(got[0], got[media.PixelFormatI420]); d != 0 {
				t.Errorf("%s: the zero Format and I420 differ by up to %d", name, d)
			}
			if err := spec.SameAsNV12(got[media.PixelFormatNV12], got[0], 0); err != nil {
				t.Errorf("%s: NV12 against I420: %v", name, err)
			}
		}
	}
	sink := media.VideoWriterFunc(func(f *media.VideoFrame) error { f.Release(); return nil })
	_, err := Open(Config{Options: o, Backend: BackendCPU, Width: 320, Height: 180, Format: 99}, sink)
	if !errors.Is(err, spec.ErrBadOption) {
		t.Errorf("Format 99: %v, want ErrBadOption", err)
	}
}

// filterOne filters a copy of in with a stage opened for cfg and returns
// the frame it wrote.
func filterOne(t *testing.T, cfg Config, in *media.VideoFrame, now time.Time) *media.VideoFrame {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	var got []*media.VideoFrame
	b, err := Open(cfg, media.VideoWriterFunc(func(f *media.VideoFrame) error { got = append(got, f); return nil }))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	c := media.NewFramePool(in.Width, in.Height).Get()
	for p := range 3 {
		copy(c.Planes[p], in.Planes[p])
	}
	if err := b.Filter(c, now); err != nil {
		t.Fatal(err)
	}
	if err := b.Flush(); err != nil || len(got) != 1 {
		t.Fatalf("%s %v: %d frames (%v), want 1", cfg.Backend, cfg.Format, len(got), err)
	}
	return got[0]
}

// requireGL probes OpenGL ES: a failure under CI (where make deps installs
// Mesa), a skip saying why elsewhere.
func requireGL(t *testing.T) gl.Info {
	t.Helper()
	info, err := gl.Probe()
	if err != nil {
		testutil.Missing(t, fmt.Sprintf("no OpenGL ES (Mesa): %v", err))
	}
	return info
}
