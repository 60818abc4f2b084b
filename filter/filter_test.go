package filter

import (
	"errors"
	"fmt"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golive/golive/filter/gl"
	"github.com/golive/golive/filter/spec"
	"github.com/golive/golive/internal/testpeer"
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
// both backends: the two pictures must look alike (PSNR ≥ 30 dB; the
// golden tests in filter/gl and filter/cpu hold each to the reference).
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
	run := func(backend string) *media.VideoFrame {
		var got *media.VideoFrame
		b, err := Open(Config{Options: o, Backend: backend, Width: 320, Height: 180},
			media.VideoWriterFunc(func(f *media.VideoFrame) error { got = f; return nil }))
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		in, _, _ := spec.TestFrame(320, 180, 3)
		if err := b.Filter(in, now); err != nil {
			t.Fatal(err)
		}
		if err := b.Flush(); err != nil || got == nil {
			t.Fatalf("%s: no frame (%v)", backend, err)
		}
		return got
	}
	g, c := run(BackendGL), run(BackendCPU)
	d, psnr := spec.Compare(g, c)
	t.Logf("gl vs cpu, every filter: PSNR %.1f dB, max difference %d", psnr, d)
	if psnr < 30 {
		t.Errorf("gl vs cpu: PSNR %.1f dB, want ≥ 30: the backends do not look alike", psnr)
	}
}

// requireGL probes OpenGL ES: a failure under CI (where make deps installs
// Mesa), a skip saying why elsewhere.
func requireGL(t *testing.T) gl.Info {
	t.Helper()
	info, err := gl.Probe()
	if err != nil {
		testpeer.Missing(t, fmt.Sprintf("no OpenGL ES (Mesa): %v", err))
	}
	return info
}
