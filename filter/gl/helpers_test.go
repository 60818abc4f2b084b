package gl

import (
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golive/golive/filter/spec"
	"github.com/golive/golive/internal/testutil"
	"github.com/golive/golive/media"
)

// The tests keep to 320×180 and a few frames: CI renders on llvmpipe.
const testW, testH = 320, 180

var probed struct {
	sync.Once
	info Info
	err  error
}

// needGL skips a test where no context can be opened, except under CI,
// where Mesa is installed (make deps) and a missing context is a failure.
func needGL(t testing.TB) Info {
	t.Helper()
	probed.Do(func() { probed.info, probed.err = Probe() })
	if probed.err != nil {
		testutil.Missing(t, fmt.Sprintf("no OpenGL ES context (Mesa's EGL and llvmpipe): %v", probed.err))
	}
	return probed.info
}

// clone copies f into a frame of a new pool, with strides widened by pad
// bytes (Filter releases what it is given, and must honour strides).
func clone(f *media.VideoFrame, pad int) *media.VideoFrame {
	c := &media.VideoFrame{Format: f.Format, Width: f.Width, Height: f.Height, PTS: f.PTS, Seq: f.Seq}
	for p := range 3 {
		w, h := f.Width, f.Height
		if p > 0 {
			w, h = (w+1)/2, (h+1)/2
		}
		c.Strides[p] = w + pad
		c.Planes[p] = make([]byte, (h-1)*c.Strides[p]+w)
		for y := range h {
			copy(c.Planes[p][y*c.Strides[p]:y*c.Strides[p]+w], f.Planes[p][y*f.Strides[p]:])
		}
	}
	return c
}

// collect keeps what a Filter writes.
type collect struct {
	got []*media.VideoFrame
	err error // returned by every write when set
}

func (c *collect) WriteVideo(f *media.VideoFrame) error {
	c.got = append(c.got, f)
	return c.err
}

// assets loads o for a w×h output, at a fixed time (the text box's size
// depends on it).
func assets(t testing.TB, o spec.Options, w, h int) *spec.Assets {
	t.Helper()
	a, err := spec.Load(o, w, h, testNow)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

var testNow = time.Date(2026, 3, 7, 9, 5, 4, 200e6, time.UTC)

// run filters copies of ins with a fresh Filter for o writing pf, at now,
// and returns what came out after a Flush.
func run(t testing.TB, o spec.Options, pf media.PixelFormat, w, h int, now time.Time, ins ...*media.VideoFrame) []*media.VideoFrame {
	t.Helper()
	var c collect
	f, err := Open(assets(t, o, w, h), pf, &c)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, in := range ins {
		if err := f.Filter(clone(in, 0), now); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Flush(); err != nil {
		t.Fatal(err)
	}
	if len(c.got) != len(ins) {
		t.Fatalf("%d frames out, want %d", len(c.got), len(ins))
	}
	return c.got
}

// reference is spec.Reference with assets of its own: a Text is not safe
// to share with a Filter's thread.
func reference(t testing.TB, o spec.Options, in *media.VideoFrame, now time.Time) *media.VideoFrame {
	t.Helper()
	return spec.Reference(in, assets(t, o, in.Width, in.Height), now)
}

// golden checks got against want: max abs diff ≤ 2 or PSNR ≥ 40 dB, and
// besides, at most 0.1% of the samples more than 2 off. The PSNR alone
// would let a pass that is wrong only near edges through (beauty without
// its sharpening scores 48 dB, with 1% of the samples off by up to 19); a
// GPU whose filtering is less precise than llvmpipe's may still be a code
// value or two off at a few pixels.
func golden(t testing.TB, name string, got, want *media.VideoFrame) {
	t.Helper()
	if got.Width != want.Width || got.Height != want.Height {
		t.Fatalf("%s: %dx%d, want %dx%d", name, got.Width, got.Height, want.Width, want.Height)
	}
	md, psnr := spec.Compare(got, want)
	n := over(got, want, 2)
	samples := got.Width*got.Height + 2*((got.Width+1)/2)*((got.Height+1)/2)
	t.Logf("%s: max diff %d, PSNR %.1f dB, %d samples more than 2 off", name, md, psnr, n)
	if (md > 2 && psnr < 40) || n*1000 > samples {
		t.Errorf("%s: max diff %d, PSNR %.1f dB, %d of %d samples more than 2 off (want ≤ 2 or ≥ 40 dB, and ≤ 0.1%%)%s",
			name, md, psnr, n, samples, worst(got, want))
	}
}

// worst says where two frames differ most, plane by plane.
func worst(a, b *media.VideoFrame) string {
	var s strings.Builder
	for p := range 3 {
		w, h := a.Width, a.Height
		if p > 0 {
			w, h = (w+1)/2, (h+1)/2
		}
		d, wx, wy := -1, 0, 0
		for y := range h {
			for x := range w {
				v := abs(int(a.Planes[p][y*a.Strides[p]+x]) - int(b.Planes[p][y*b.Strides[p]+x]))
				if v > d {
					d, wx, wy = v, x, y
				}
			}
		}
		fmt.Fprintf(&s, "; plane %d: %d at %d,%d (%d, want %d)", p, d, wx, wy,
			a.Planes[p][wy*a.Strides[p]+wx], b.Planes[p][wy*b.Strides[p]+wx])
	}
	return s.String()
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func writePNG(t testing.TB, img image.Image) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "logo.png")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// downscale halves f by averaging each 2×2 block of each plane.
func downscale(f *media.VideoFrame) *media.VideoFrame {
	w, h := f.Width/2, f.Height/2
	d := media.NewFramePool(w, h).Get()
	for p := range 3 {
		pw, ph := w, h
		if p > 0 {
			pw, ph = (w+1)/2, (h+1)/2
		}
		src, ss := f.Planes[p], f.Strides[p]
		for y := range ph {
			for x := range pw {
				s := int(src[2*y*ss+2*x]) + int(src[2*y*ss+2*x+1]) + int(src[(2*y+1)*ss+2*x]) + int(src[(2*y+1)*ss+2*x+1])
				d.Planes[p][y*d.Strides[p]+x] = uint8((s + 2) / 4)
			}
		}
	}
	return d
}

// over counts the samples of a and b (all planes) more than lim apart.
func over(a, b *media.VideoFrame, lim int) int {
	n := 0
	for p := range 3 {
		w, h := a.Width, a.Height
		if p > 0 {
			w, h = (w+1)/2, (h+1)/2
		}
		for y := range h {
			for x := range w {
				if abs(int(a.Planes[p][y*a.Strides[p]+x])-int(b.Planes[p][y*b.Strides[p]+x])) > lim {
					n++
				}
			}
		}
	}
	return n
}
