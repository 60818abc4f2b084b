package spec

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/golive/golive/media"
	"github.com/golive/golive/media/yuv"
)

// Backend runs the passes: filter/gl on a GPU, filter/cpu as a libavfilter
// graph. Both are opened with the Assets (whose Width and Height are the
// output size), the output's pixel format (I420, or NV12 for a hardware
// encoder) and a media.VideoWriter their output frames go to (frames of
// that format from the backend's own pool, tightly packed, at the output
// size, PTS and Seq of the input; the writer Releases them).
type Backend interface {
	// Name says what runs it ("gl: <renderer>", "cpu: libavfilter").
	Name() string
	// Filter takes a frame of any size (scaling it to the output size),
	// and Releases it once read. now is the wall-clock time --text shows.
	// The result may be written during a later Filter call (a GL backend
	// overlaps the readback of one frame with the rendering of the next);
	// Flush writes whatever is held back.
	Filter(in *media.VideoFrame, now time.Time) error
	Flush() error
	// Close frees everything; idempotent.
	Close()
}

// OutputFormat is the format a backend writes when asked for pf: I420
// for the zero value, pf itself for I420 and NV12; any other is an error
// wrapping ErrBadOption.
func OutputFormat(pf media.PixelFormat) (media.PixelFormat, error) {
	switch pf {
	case 0:
		return media.PixelFormatI420, nil
	case media.PixelFormatI420, media.PixelFormatNV12:
		return pf, nil
	}
	return 0, fmt.Errorf("%w: output format %d: want I420 or NV12", ErrBadOption, pf)
}

// Compare returns the largest absolute difference of two frames of the
// same size (I420 or NV12, in any mix), over all planes, and their PSNR in
// dB (+Inf when equal).
func Compare(a, b *media.VideoFrame) (maxDiff int, psnr float64) {
	a, b = Planar(a), Planar(b)
	var se float64
	var n int
	for p := range 3 {
		w, h := media.PlaneSize(a.Width, a.Height, p)
		for y := range h {
			ra := a.Planes[p][y*a.Strides[p]:]
			rb := b.Planes[p][y*b.Strides[p]:]
			for x := range w {
				d := int(ra[x]) - int(rb[x])
				if d < 0 {
					d = -d
				}
				maxDiff = max(maxDiff, d)
				se += float64(d * d)
				n++
			}
		}
	}
	if se == 0 {
		return maxDiff, math.Inf(1)
	}
	return maxDiff, 10 * math.Log10(255*255/(se/float64(n)))
}

// Planar returns f with U and V in planes of their own: f itself unless
// it is NV12, else a new I420 frame with f's Y and its UV plane
// de-interleaved. For comparisons and tests, not per frame.
func Planar(f *media.VideoFrame) *media.VideoFrame {
	if f.Format != media.PixelFormatNV12 {
		return f
	}
	p := media.NewFramePool(f.Width, f.Height).Get()
	p.PTS, p.Seq = f.PTS, f.Seq
	media.CopyPlane(p.Planes[0], p.Strides[0], f.Planes[0], f.Strides[0], f.Width, f.Height)
	cw, ch := media.PlaneSize(f.Width, f.Height, 1)
	for y := range ch {
		uv := f.Planes[1][y*f.Strides[1]:]
		for x := range cw {
			p.Planes[1][y*p.Strides[1]+x] = uv[2*x]
			p.Planes[2][y*p.Strides[2]+x] = uv[2*x+1]
		}
	}
	return p
}

// SameAsNV12 says how got, an NV12 frame, is not the I420 frame want in
// NV12's layout, or returns nil: the format, the size, tightly packed
// strides, and the samples within tol code values (0: byte for byte) of
// want's Y and of its U and V interleaved. What the backends' tests hold
// their NV12 output to.
func SameAsNV12(got, want *media.VideoFrame, tol int) error {
	w, h := want.Width, want.Height
	cw, ch := media.PlaneSize(w, h, 1)
	if got.Format != media.PixelFormatNV12 || want.Format != media.PixelFormatI420 {
		return fmt.Errorf("formats %v and %v, want nv12 and yuv420p", got.Format, want.Format)
	}
	if got.Width != w || got.Height != h || got.Strides != [3]int{w, 2 * cw, 0} ||
		len(got.Planes[0]) != w*h || len(got.Planes[1]) != 2*cw*ch || got.Planes[2] != nil {
		return fmt.Errorf("NV12 %dx%d, strides %v, planes of %d, %d, %d bytes; want %dx%d, [%d %d 0], %d, %d, 0",
			got.Width, got.Height, got.Strides, len(got.Planes[0]), len(got.Planes[1]), len(got.Planes[2]),
			w, h, w, 2*cw, w*h, 2*cw*ch)
	}
	bad, first := 0, ""
	check := func(what string, x, y int, g, w byte) {
		if d := int(g) - int(w); d > tol || d < -tol {
			if bad++; bad == 1 {
				first = fmt.Sprintf("%s at %d,%d is %d, want %d", what, x, y, g, w)
			}
		}
	}
	for y := range h {
		for x := range w {
			check("Y", x, y, got.Planes[0][y*w+x], want.Planes[0][y*want.Strides[0]+x])
		}
	}
	for y := range ch {
		for x := range cw {
			uv := got.Planes[1][y*got.Strides[1]+2*x:]
			check("U", x, y, uv[0], want.Planes[1][y*want.Strides[1]+x])
			check("V", x, y, uv[1], want.Planes[2][y*want.Strides[2]+x])
		}
	}
	if bad > 0 {
		return fmt.Errorf("%d of %d samples more than %d off I420's (the first: %s)", bad, w*h+2*cw*ch, tol, first)
	}
	return nil
}

// Region is a rectangle of TestFrame.
type Region struct{ X0, Y0, X1, Y1 int }

// TestFrame is the input the golden tests and benchmarks share: smooth
// colour gradients (what every pass must get right to the code value), a
// skin-toned patch with fine noise (Noise: what beauty must smooth) and a
// hard black/white edge (Edge: what beauty must keep sharp; the edge is at
// x = (Edge.X0+Edge.X1)/2). Deterministic for a seed.
func TestFrame(w, h int, seed uint64) (f *media.VideoFrame, noise, edge Region) {
	rng := rand.New(rand.NewPCG(seed, 0x601a7e))
	f = media.NewFramePool(w, h).Get()
	noise = Region{w / 8, h / 2, w / 8 * 3, h / 8 * 7}
	edge = Region{w / 8 * 5, h / 2, w / 8 * 7, h / 8 * 7}
	rgb := func(x, y int) (float64, float64, float64) {
		fx, fy := float64(x)/float64(w), float64(y)/float64(h)
		switch {
		case x >= noise.X0 && x < noise.X1 && y >= noise.Y0 && y < noise.Y1:
			n := (rng.Float64() - 0.5) * 0.12
			return 0.85 + n, 0.62 + n, 0.50 + n
		case x >= edge.X0 && x < edge.X1 && y >= edge.Y0 && y < edge.Y1:
			if x < (edge.X0+edge.X1)/2 {
				return 0.08, 0.08, 0.08
			}
			return 0.92, 0.92, 0.92
		}
		return 0.15 + 0.7*fx, 0.2 + 0.6*fy, 0.8 - 0.6*fx*fy
	}
	uf := make([]float64, w*h)
	vf := make([]float64, w*h)
	for y := range h {
		for x := range w {
			yy, u, v := yuv.FromRGB(rgb(x, y))
			f.Planes[0][y*f.Strides[0]+x] = yuv.Byte(yy)
			uf[y*w+x], vf[y*w+x] = u, v
		}
	}
	yuv.SetChroma(f, uf, vf)
	return f, noise, edge
}

// LumaStats is the mean and variance of Y over r.
func LumaStats(f *media.VideoFrame, r Region) (mean, variance float64) {
	var s, s2 float64
	n := 0
	for y := r.Y0; y < r.Y1; y++ {
		for x := r.X0; x < r.X1; x++ {
			v := float64(f.Planes[0][y*f.Strides[0]+x])
			s += v
			s2 += v * v
			n++
		}
	}
	mean = s / float64(n)
	return mean, s2/float64(n) - mean*mean
}

// EdgeWidth is the mean 10–90% rise width in pixels of the dark-to-light
// edge in r (TestFrame's Edge), over r's rows: how sharp the edge is.
func EdgeWidth(f *media.VideoFrame, r Region) float64 {
	var sum float64
	rows := 0
	for y := r.Y0 + 2; y < r.Y1-2; y++ {
		row := f.Planes[0][y*f.Strides[0]:]
		lo, hi := float64(row[r.X0+2]), float64(row[r.X1-3])
		if hi-lo < 50 {
			continue
		}
		cross := func(level float64) float64 {
			for x := r.X0 + 2; x < r.X1-3; x++ {
				a, b := float64(row[x]), float64(row[x+1])
				if a < level && b >= level {
					return float64(x) + (level-a)/(b-a)
				}
			}
			return float64(r.X1)
		}
		sum += cross(lo+0.9*(hi-lo)) - cross(lo+0.1*(hi-lo))
		rows++
	}
	if rows == 0 {
		return float64(r.X1 - r.X0)
	}
	return sum / float64(rows)
}
