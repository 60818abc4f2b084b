// Package yuv is the colour maths every stage agrees on: BT.709 with
// limited ("TV") range, what golive tells the encoder its frames are.
//
//	Y = 16 + 219·L            L = 0.2126·R + 0.7152·G + 0.0722·B
//	U = 128 + 224·(B−L)/1.8556
//	V = 128 + 224·(R−L)/1.5748
//
// with R, G, B in 0..1. Chroma: one sample per 2×2 block (see Chroma).
package yuv

import (
	"image"

	"github.com/golive/golive/media"
)

// BT.709 luma weights.
const (
	Kr = 0.2126
	Kg = 0.7152
	Kb = 0.0722
)

// FromRGB converts R, G, B in 0..1 to Y, U, V code values (unrounded,
// unclamped).
func FromRGB(r, g, b float64) (y, u, v float64) {
	l := Kr*r + Kg*g + Kb*b
	return 16 + 219*l, 128 + 224*(b-l)/(2*(1-Kb)), 128 + 224*(r-l)/(2*(1-Kr))
}

// ToRGB converts Y, U, V code values to R, G, B in 0..1 (unclamped).
func ToRGB(y, u, v float64) (r, g, b float64) {
	l := (y - 16) / 219
	pb := (u - 128) / 224 * (2 * (1 - Kb))
	pr := (v - 128) / 224 * (2 * (1 - Kr))
	r = l + pr
	b = l + pb
	g = (l - Kr*r - Kb*b) / Kg
	return r, g, b
}

// Byte rounds and clamps a code value.
func Byte(x float64) uint8 {
	switch {
	case x <= 0:
		return 0
	case x >= 255:
		return 255
	}
	return uint8(x + 0.5)
}

// Clamp01 clamps to 0..1.
func Clamp01(x float64) float64 { return min(max(x, 0), 1) }

// FromImage converts an opaque picture to a new I420 frame of the same
// size (chroma averaged over each 2×2 block).
func FromImage(img image.Image) *media.VideoFrame {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	f := media.NewFramePool(w, h).Get()
	rgb := func(x, y int) (float64, float64, float64) {
		r, g, bl, _ := img.At(b.Min.X+min(x, w-1), b.Min.Y+min(y, h-1)).RGBA()
		return float64(r) / 0xffff, float64(g) / 0xffff, float64(bl) / 0xffff
	}
	if m, ok := img.(*image.RGBA); ok { // the common case, without an interface call per pixel
		rgb = func(x, y int) (float64, float64, float64) {
			c := m.RGBAAt(b.Min.X+min(x, w-1), b.Min.Y+min(y, h-1))
			return float64(c.R) / 255, float64(c.G) / 255, float64(c.B) / 255
		}
	}
	// Block by block, as SetChroma averages (the same sums in the same
	// order), without a full-size chroma buffer: a 720p slate made 14 MB
	// of garbage before, at the start of every push.
	for by := 0; by < (h+1)/2; by++ {
		for bx := 0; bx < (w+1)/2; bx++ {
			var su, sv float64
			for _, d := range [4][2]int{{0, 0}, {1, 0}, {0, 1}, {1, 1}} {
				x, y := 2*bx+d[0], 2*by+d[1]
				l, cu, cv := FromRGB(rgb(min(x, w-1), min(y, h-1)))
				if x < w && y < h {
					f.Planes[0][y*f.Strides[0]+x] = Byte(l)
				}
				su, sv = su+cu, sv+cv
			}
			f.Planes[1][by*f.Strides[1]+bx], f.Planes[2][by*f.Strides[2]+bx] = Byte(su/4), Byte(sv/4)
		}
	}
	return f
}

// Chroma is the chroma sample of the 2×2 block that holds luma pixel
// (x, y) (edges clamped). Every filter pass reads chroma this way — each
// pixel of a block shares its block's sample — and writes chroma back as
// the mean of the block: so a frame that no pass changes comes back
// exactly, which interpolated (bilinear) upsampling would not give.
func Chroma(plane []byte, stride, cw, ch, x, y int) float64 {
	return float64(plane[min(y/2, ch-1)*stride+min(x/2, cw-1)])
}

// SetChroma writes f's U and V planes from full-resolution chroma (u and
// v: one value per pixel, row after row): the mean of each 2×2 block
// (edges clamped), rounded.
func SetChroma(f *media.VideoFrame, u, v []float64) {
	w, h := f.Width, f.Height
	for y := 0; y < (h+1)/2; y++ {
		for x := 0; x < (w+1)/2; x++ {
			var su, sv float64
			for _, d := range [4][2]int{{0, 0}, {1, 0}, {0, 1}, {1, 1}} {
				i := min(2*y+d[1], h-1)*w + min(2*x+d[0], w-1)
				su, sv = su+u[i], sv+v[i]
			}
			f.Planes[1][y*f.Strides[1]+x], f.Planes[2][y*f.Strides[2]+x] = Byte(su/4), Byte(sv/4)
		}
	}
}
