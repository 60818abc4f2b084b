package spec

import (
	"image"
	"math"
	"time"

	"github.com/golive/golive/media"
	"github.com/golive/golive/media/yuv"
)

// BeautyTaps are the sample offsets of BeautyBilateral's smoothing for
// strength s, with their spatial weights: the centre, an inner ring of 8
// at radius R/2 and an outer ring of 8 at radius R (turned by 22.5°),
// R = 1 + 4s pixels. Offsets are fractional: samples are bilinear.
func BeautyTaps(s float64) (dx, dy, w [17]float64) {
	r := 1 + 4*s
	w[0] = 1
	for k := range 8 {
		a := float64(k) * math.Pi / 4
		dx[1+k], dy[1+k], w[1+k] = r/2*math.Cos(a), r/2*math.Sin(a), math.Exp(-0.5)
		a += math.Pi / 8
		dx[9+k], dy[9+k], w[9+k] = r*math.Cos(a), r*math.Sin(a), math.Exp(-2)
	}
	return dx, dy, w
}

// BeautySigmaR is the range sigma of BeautyBilateral's smoothing, in luma
// units (0..1 = Y 16..235): differences well under it (skin texture,
// sensor noise) are smoothed, edges well over it are kept. BeautyEps
// scales with its square.
func BeautySigmaR(s float64) float64 { return 0.02 + 0.08*s }

// BeautyRadius is the box radius r of Beauty's guided filter for
// strength s, in half-resolution pixels: the windows are (2r+1)² samples
// of the half-size luma, about (4r+2)² pixels of the frame. 6 at s ≤ 0.13,
// 5 to s ≈ 0.46, 4 to s ≈ 0.8, 3 above: a stronger beauty smooths more
// through a larger eps, and the window shrinks as eps grows, so that what
// it smooths stays within the skin (TestFrame's skin patch at 320×180
// keeps less noise than BeautyBilateral left at every strength) while
// at weak strengths a wider window keeps edges crisper (an edge softens
// by about 1/(2r+1) of a quarter of its height on either side: the
// upsampled B blends the far side's mean into the pixels next to it).
func BeautyRadius(s float64) int { return max(1, int(math.Round(5.9-3*s))) }

// BeautyEps is the regulariser eps of Beauty's guided filter for strength
// s, in normalised luma² units (L = (Y−16)/219): where the local variance
// of the half-size luma is well under eps (skin texture, sensor noise) the
// output is the local mean, where it is well over (edges) the input.
// (1.2 − 0.6·s)·BeautySigmaR(s)²: 0.0014 at s = 0.2 (a standard deviation
// of 8 code values), 0.0039 at 0.6 (14), 0.006 at 1 (17).
func BeautyEps(s float64) float64 { sr := BeautySigmaR(s); return (1.2 - 0.6*s) * sr * sr }

// Beauty is the reference beauty pass on normalised luma
// (L = (Y−16)/219), w×h, strength s in 0..1. Chroma is not touched. The
// smoothing S is a fast (subsampled) self-guided filter (He & Sun 2015),
// r = BeautyRadius(s), eps = BeautyEps(s):
//
//	Ld = L downscaled by 2 (2×2 box mean; at odd sizes the last column/row
//	     clamps), ⌈w/2⌉×⌈h/2⌉
//	on Ld, box = mean over the (2r+1)² window, edges clamped:
//	     m = box(Ld), q = box(Ld²), var = q − m², a = var/(var+eps), b = m − a·m,
//	     A = box(a), B = box(b)
//	A, B upsampled bilinearly to w×h (pixel centre x+0.5 at half-size
//	     coordinate (x+0.5)/2, samples at half-size centres i+0.5, edges
//	     clamped: what a GPU's linear sampling of a half-size texture does)
//	S = A·L + B                              (L at full size)
//	N = mean of S at the 4 neighbours        (edges clamped)
//	T = clamp01(S + 0.6·s·(S − N))           light sharpening of edges
//	out = T + 0.12·s·T·(1 − T)               brightening, most in the mid-tones
func Beauty(l []float64, w, h int, s float64) []float64 {
	return beautyFinish(GuidedSmooth(l, w, h, BeautyRadius(s), BeautyEps(s)), w, h, s)
}

// GuidedSmooth is Beauty's smoothing S alone, for radius r and eps.
func GuidedSmooth(l []float64, w, h, r int, eps float64) []float64 {
	hw, hh := (w+1)/2, (h+1)/2
	at := func(x, y int) float64 { return l[min(y, h-1)*w+min(x, w-1)] }
	ld := make([]float64, hw*hh)
	ld2 := make([]float64, hw*hh)
	for y := range hh {
		for x := range hw {
			v := (at(2*x, 2*y) + at(2*x+1, 2*y) + at(2*x, 2*y+1) + at(2*x+1, 2*y+1)) / 4
			ld[y*hw+x], ld2[y*hw+x] = v, v*v
		}
	}
	m := boxMean(ld, hw, hh, r)
	q := boxMean(ld2, hw, hh, r)
	a, b := make([]float64, hw*hh), make([]float64, hw*hh)
	for i := range a {
		v := max(q[i]-m[i]*m[i], 0)
		a[i] = v / (v + eps)
		b[i] = m[i] - a[i]*m[i]
	}
	a, b = boxMean(a, hw, hh, r), boxMean(b, hw, hh, r)
	// Half-size sample i has its centre at full-size x = 2i + 1.
	up := func(p []float64, x, y int) float64 {
		return bilinear(p, hw, hh, (float64(x)+0.5)/2-0.5, (float64(y)+0.5)/2-0.5)
	}
	sm := make([]float64, w*h)
	for y := range h {
		for x := range w {
			sm[y*w+x] = up(a, x, y)*l[y*w+x] + up(b, x, y)
		}
	}
	return sm
}

// bilinear samples p (w×h) at (u, v), sample (i, j) being at u = i,
// v = j, edges clamped.
func bilinear(p []float64, w, h int, u, v float64) float64 {
	u0, v0 := math.Floor(u), math.Floor(v)
	fx, fy := u-u0, v-v0
	at := func(x, y int) float64 { return p[min(max(y, 0), h-1)*w+min(max(x, 0), w-1)] }
	xi, yi := int(u0), int(v0)
	return (at(xi, yi)*(1-fx)+at(xi+1, yi)*fx)*(1-fy) + (at(xi, yi+1)*(1-fx)+at(xi+1, yi+1)*fx)*fy
}

// boxMean is the mean of p (w×h) over the (2r+1)² window around each
// sample, edges clamped (the samples beyond repeat the edge's).
func boxMean(p []float64, w, h, r int) []float64 {
	n := float64(2*r + 1)
	tmp := make([]float64, w*h)
	for y := range h {
		for x := range w {
			var s float64
			for k := -r; k <= r; k++ {
				s += p[y*w+min(max(x+k, 0), w-1)]
			}
			tmp[y*w+x] = s / n
		}
	}
	out := make([]float64, w*h)
	for y := range h {
		for x := range w {
			var s float64
			for k := -r; k <= r; k++ {
				s += tmp[min(max(y+k, 0), h-1)*w+x]
			}
			out[y*w+x] = s / n
		}
	}
	return out
}

// BeautyBilateral is the beauty pass as it was defined before the guided
// filter: the same sharpening and brightening as Beauty's after a 17-tap
// Gaussian bilateral at full size. The quality reference the guided
// filter is measured against (tests and benchmarks only):
//
//	S = Σ wᵢ·g(Lᵢ−L)·Lᵢ / Σ wᵢ·g(Lᵢ−L)     the 17 BeautyTaps, g = exp(−d²/2σr²)
func BeautyBilateral(l []float64, w, h int, s float64) []float64 {
	dx, dy, wt := BeautyTaps(s)
	sr := BeautySigmaR(s)
	k := -1 / (2 * sr * sr)
	sample := func(x, y float64) float64 { return bilinear(l, w, h, x-0.5, y-0.5) } // pixel centres at +0.5
	sm := make([]float64, w*h)
	for y := range h {
		for x := range w {
			c := l[y*w+x]
			var num, den float64
			for i := range 17 {
				v := sample(float64(x)+0.5+dx[i], float64(y)+0.5+dy[i])
				d := v - c
				g := wt[i] * math.Exp(k*d*d)
				num += g * v
				den += g
			}
			sm[y*w+x] = num / den
		}
	}
	return beautyFinish(sm, w, h, s)
}

// beautyFinish is the beauty pass after the smoothing: sharpening and
// brightening of the smoothed luma sm.
func beautyFinish(sm []float64, w, h int, s float64) []float64 {
	out := make([]float64, w*h)
	at := func(x, y int) float64 { return sm[min(max(y, 0), h-1)*w+min(max(x, 0), w-1)] }
	for y := range h {
		for x := range w {
			s0 := sm[y*w+x]
			n := (at(x-1, y) + at(x+1, y) + at(x, y-1) + at(x, y+1)) / 4
			t := yuv.Clamp01(s0 + 0.6*s*(s0-n))
			out[y*w+x] = t + 0.12*s*t*(1-t)
		}
	}
	return out
}

// ColourYUV is the reference colour pass on one pixel's code values.
// Brightness and contrast act on luma, contrast and saturation on chroma
// — the same as the RGB formulas (saturation around the pixel's luma,
// contrast around mid-grey, brightness added to R, G and B), which are
// affine in Y, U and V, but clamped to the legal YUV range (Y 16..235, U
// and V 16..240) instead of the RGB cube, as a broadcast "proc amp" (and
// ffmpeg's eq) does: colours a strong saturation pushes out of the RGB
// cube keep their hue.
//
//	Y' = 16 + 219·((L − ½)·C + ½ + B)       L = (Y − 16)/219
//	U' = 128 + (U − 128)·C·S                 (V likewise)
func (o Options) ColourYUV(y, u, v float64) (float64, float64, float64) {
	l := ((y-16)/219-0.5)*o.Contrast + 0.5 + o.Brightness
	k := o.Contrast * o.Saturation
	return min(max(16+219*l, 16), 235), min(max(128+(u-128)*k, 16), 240), min(max(128+(v-128)*k, 16), 240)
}

// Reference filters in as the spec says, at the same size (the backends
// also scale; the reference does not), and returns a new frame. now is
// the wall-clock time the text shows.
//
// Per pixel: luma through Beauty; the chroma of its 2×2 block (yuv.Chroma);
// ColourYUV; to RGB (not clamped: the conversions are affine, so a frame no
// pass changes comes back exactly, out-of-gamut colours included); the LUT
// (its input clamped to its domain, its output to 0..1); the watermark,
// then the text, blended with their alpha (rgb·(1−α) + logo·α); back to Y,
// and U, V averaged over each 2×2 block, rounded and clamped to 0..255.
func Reference(in *media.VideoFrame, a *Assets, now time.Time) *media.VideoFrame {
	w, h := in.Width, in.Height
	cw, ch := (w+1)/2, (h+1)/2
	l := make([]float64, w*h)
	for y := range h {
		for x := range w {
			l[y*w+x] = (float64(in.Planes[0][y*in.Strides[0]+x]) - 16) / 219
		}
	}
	if a.Beauty > 0 {
		l = Beauty(l, w, h, a.Beauty)
	}
	var txt *image.NRGBA
	if a.Text != nil {
		txt, _ = a.Text.Render(now)
	}
	blend := func(img *image.NRGBA, at image.Point, x, y int, r, g, b float64) (float64, float64, float64) {
		if img == nil {
			return r, g, b
		}
		p := image.Pt(x, y).Sub(at)
		if !p.In(img.Rect) {
			return r, g, b
		}
		c := img.NRGBAAt(p.X, p.Y)
		al := float64(c.A) / 255
		return r*(1-al) + float64(c.R)/255*al, g*(1-al) + float64(c.G)/255*al, b*(1-al) + float64(c.B)/255*al
	}
	uf := make([]float64, w*h)
	vf := make([]float64, w*h)
	out := media.NewFramePool(w, h).Get()
	out.PTS, out.Seq = in.PTS, in.Seq
	for y := range h {
		for x := range w {
			u := yuv.Chroma(in.Planes[1], in.Strides[1], cw, ch, x, y)
			v := yuv.Chroma(in.Planes[2], in.Strides[2], cw, ch, x, y)
			yy := 16 + 219*l[y*w+x]
			if a.Colour() {
				yy, u, v = a.ColourYUV(yy, u, v)
			}
			r, g, b := yuv.ToRGB(yy, u, v)
			if a.LUT != nil {
				r, g, b = a.LUT.Apply(r, g, b)
				r, g, b = yuv.Clamp01(r), yuv.Clamp01(g), yuv.Clamp01(b)
			}
			r, g, b = blend(a.Watermark, a.WatermarkAt, x, y, r, g, b)
			if a.Text != nil {
				r, g, b = blend(txt, a.Text.At(), x, y, r, g, b)
			}
			yy, uu, vv := yuv.FromRGB(r, g, b)
			out.Planes[0][y*out.Strides[0]+x] = yuv.Byte(yy)
			uf[y*w+x], vf[y*w+x] = uu, vv
		}
	}
	yuv.SetChroma(out, uf, vf)
	return out
}
