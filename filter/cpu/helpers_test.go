package cpu

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golive/golive/filter/spec"
	"github.com/golive/golive/media"
)

// t0 is the wall-clock time the tests' text shows.
var t0 = time.Date(2026, 3, 7, 9, 5, 4, 0, time.UTC)

// clone copies f into a frame of its own (Filter releases what it is
// given).
func clone(f *media.VideoFrame) *media.VideoFrame {
	c := media.NewFramePool(f.Width, f.Height).Get()
	for p := range 3 {
		copy(c.Planes[p], f.Planes[p])
	}
	c.PTS, c.Seq = f.PTS, f.Seq
	return c
}

// frames collects what a Filter writes.
type frames struct{ got []*media.VideoFrame }

func (c *frames) WriteVideo(f *media.VideoFrame) error {
	c.got = append(c.got, f)
	return nil
}

// filterOnce filters a copy of in with a fresh Filter.
func filterOnce(t testing.TB, a *spec.Assets, in *media.VideoFrame, now time.Time) *media.VideoFrame {
	t.Helper()
	var c frames
	f, err := Open(a, media.PixelFormatI420, &c)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Filter(clone(in), now); err != nil {
		t.Fatal(err)
	}
	if err := f.Flush(); err != nil {
		t.Fatal(err)
	}
	if len(c.got) != 1 {
		t.Fatalf("%d frames out, want 1", len(c.got))
	}
	return c.got[0]
}

// load is spec.Load that must work.
func load(t testing.TB, o spec.Options, w, h int) *spec.Assets {
	t.Helper()
	a, err := spec.Load(o, w, h, t0)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// reference is spec.Reference on Assets of its own (Reference renders the
// text, which would use up a shared Text's change).
func reference(t testing.TB, o spec.Options, in *media.VideoFrame, now time.Time) *media.VideoFrame {
	t.Helper()
	return spec.Reference(in, load(t, o, in.Width, in.Height), now)
}

// testCube writes a size-9 .cube that is far from the identity: an S-curve
// on each channel, with some of green in red and of red in blue, its
// contrast scaled by gain (over 1: entries outside 0..1).
func testCube(t testing.TB, header string, gain float64) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("TITLE \"golive test\"\nLUT_3D_SIZE 9\n" + header)
	curve := func(v float64) float64 { return v * v * (3 - 2*v) }
	for bi := range 9 {
		for g := range 9 {
			for r := range 9 {
				R, G, B := float64(r)/8, float64(g)/8, float64(bi)/8
				g := func(v float64) float64 { return gain*(v-0.5) + 0.5 }
				fmt.Fprintf(&b, "%.6f %.6f %.6f\n", g(0.9*curve(R)+0.1*G), g(curve(G)), g(0.8*curve(B)+0.2*R))
			}
		}
	}
	path := filepath.Join(t.TempDir(), "test.cube")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// Logo colour and alpha by column third: opaque, half, transparent.
var (
	logoRGB    = color.NRGBA{R: 200, G: 40, B: 90}
	logoAlphas = [3]uint8{255, 128, 0}
)

// writeLogo writes a w×h PNG of logoRGB: opaque on the left third, 50%
// alpha in the middle one, transparent on the right.
func writeLogo(t testing.TB, w, h int) string {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := logoRGB
			c.A = logoAlphas[min(3*x/w, 2)]
			img.SetNRGBA(x, y, c)
		}
	}
	path := filepath.Join(t.TempDir(), "logo.png")
	fh, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	if err := png.Encode(fh, img); err != nil {
		t.Fatal(err)
	}
	return path
}

// flat is a w×h frame of one colour.
func flat(w, h int, y, u, v uint8) *media.VideoFrame {
	f := media.NewFramePool(w, h).Get()
	for i := range f.Planes[0] {
		f.Planes[0][i] = y
	}
	for i := range f.Planes[1] {
		f.Planes[1][i], f.Planes[2][i] = u, v
	}
	return f
}

// at is sample (x, y) of plane p.
func at(f *media.VideoFrame, p, x, y int) int { return int(f.Planes[p][y*f.Strides[p]+x]) }

// lumaPSNR is the PSNR of Y over r.
func lumaPSNR(a, b *media.VideoFrame, r spec.Region) float64 {
	var se float64
	n := 0
	for y := r.Y0; y < r.Y1; y++ {
		for x := r.X0; x < r.X1; x++ {
			d := float64(at(a, 0, x, y) - at(b, 0, x, y))
			se += d * d
			n++
		}
	}
	if se == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(255*255/(se/float64(n)))
}
