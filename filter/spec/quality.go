package spec

import (
	"github.com/golive/golive/media"
	"github.com/golive/golive/media/yuv"
)

// BeautyFigures are the quality figures of the beauty pass at one size and
// strength, on TestFrame (seed 1): what the golden tests hold it to and
// make bench reports, for Beauty (New) and the 17-tap bilateral it
// replaced (Old, BeautyBilateral).
type BeautyFigures struct {
	Width, Height int
	Strength      float64
	// Noise: the variance of Y over TestFrame's skin patch, in code
	// values², before (In) and after.
	NoiseIn, NoiseOld, NoiseNew float64
	// Edge: the 10–90% width of TestFrame's edge, in pixels (EdgeWidth).
	EdgeIn, EdgeOld, EdgeNew float64
	// PSNR is Beauty's picture against BeautyBilateral's, in dB over the
	// three planes (chroma is the input's in both).
	PSNR float64
}

// MeasureBeauty computes the BeautyFigures at w×h and strength s. (The
// bilateral is slow: a second or two at 1080p.)
func MeasureBeauty(w, h int, s float64) BeautyFigures {
	in, noise, edge := TestFrame(w, h, 1)
	l := luma(in)
	old := withLuma(in, BeautyBilateral(l, w, h, s))
	cur := withLuma(in, Beauty(l, w, h, s))
	f := BeautyFigures{Width: w, Height: h, Strength: s}
	_, f.NoiseIn = LumaStats(in, noise)
	_, f.NoiseOld = LumaStats(old, noise)
	_, f.NoiseNew = LumaStats(cur, noise)
	f.EdgeIn, f.EdgeOld, f.EdgeNew = EdgeWidth(in, edge), EdgeWidth(old, edge), EdgeWidth(cur, edge)
	_, f.PSNR = Compare(cur, old)
	return f
}

// BilateralFrame is a copy of in with its luma through BeautyBilateral at
// strength s (the chroma as it is): the beauty before the guided filter,
// for the tests that compare with it.
func BilateralFrame(in *media.VideoFrame, s float64) *media.VideoFrame {
	return withLuma(in, BeautyBilateral(luma(in), in.Width, in.Height, s))
}

// luma is f's normalised luma, L = (Y−16)/219, row after row.
func luma(f *media.VideoFrame) []float64 {
	l := make([]float64, f.Width*f.Height)
	for y := range f.Height {
		for x := range f.Width {
			l[y*f.Width+x] = (float64(f.Planes[0][y*f.Strides[0]+x]) - 16) / 219
		}
	}
	return l
}

// withLuma is a copy of f with normalised luma l.
func withLuma(f *media.VideoFrame, l []float64) *media.VideoFrame {
	o := media.NewFramePool(f.Width, f.Height).Get()
	for p := range 3 {
		copy(o.Planes[p], f.Planes[p])
	}
	for y := range f.Height {
		for x := range f.Width {
			o.Planes[0][y*o.Strides[0]+x] = yuv.Byte(16 + 219*l[y*f.Width+x])
		}
	}
	return o
}
