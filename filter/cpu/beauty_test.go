package cpu

import (
	"runtime"
	"testing"
	"time"

	"github.com/golive/golive/filter/spec"
	"github.com/golive/golive/media"
)

// beautyFrame is in with its luma through b (chroma copied).
func beautyFrame(b *beauty, in *media.VideoFrame) *media.VideoFrame {
	out := media.NewFramePool(in.Width, in.Height).Get()
	for p := range 3 {
		copy(out.Planes[p], in.Planes[p])
	}
	b.run(out.Planes[0], out.Strides[0], in.Planes[0], in.Strides[0])
	// Frames of their own mapping are unmapped once unreachable: not
	// while C reads them.
	runtime.KeepAlive(in)
	return out
}

// The C beauty is spec.Beauty to a code value, at odd sizes and tiny ones
// too, out of place and in place.
func TestBeautyC(t *testing.T) {
	for _, sz := range [][2]int{{320, 180}, {321, 181}, {1280, 720}, {7, 5}, {1, 1}, {2, 9}, {9, 1}} {
		for _, s := range []float64{0.2, 0.6, 1} {
			w, h := sz[0], sz[1]
			in, _, _ := spec.TestFrame(w, h, 1)
			o := spec.Defaults()
			o.Beauty = s
			ref := spec.Reference(in, load(t, o, w, h), time.Time{})
			b := newBeauty(s, w, h)
			out := beautyFrame(b, in)
			d, psnr := spec.Compare(ref, out)
			if d > 1 {
				t.Errorf("%dx%d s %.1f: max difference %d from spec.Reference (PSNR %.1f dB), want ≤ 1", w, h, s, d, psnr)
			}
			inPlace := clone(in)
			b.run(inPlace.Planes[0], inPlace.Strides[0], inPlace.Planes[0], inPlace.Strides[0])
			if d, _ := spec.Compare(inPlace, out); d != 0 {
				t.Errorf("%dx%d s %.1f: in place differs by up to %d", w, h, s, d)
			}
			if useAVX2 {
				useAVX2 = false
				base := beautyFrame(b, in)
				useAVX2 = true
				if d, _ := spec.Compare(base, out); d != 0 {
					t.Errorf("%dx%d s %.1f: the SSE2 and AVX2 builds differ by up to %d", w, h, s, d)
				}
			}
		}
	}
}

func BenchmarkBeautyC720p(b *testing.B)  { benchBeautyC(b, 1280, 720) }
func BenchmarkBeautyC1080p(b *testing.B) { benchBeautyC(b, 1920, 1080) }

func benchBeautyC(b *testing.B, w, h int) {
	in, _, _ := spec.TestFrame(w, h, 1)
	out := clone(in)
	bt := newBeauty(0.6, w, h)
	b.ResetTimer()
	for range b.N {
		bt.run(out.Planes[0], out.Strides[0], in.Planes[0], in.Strides[0])
	}
	runtime.KeepAlive(in)
	runtime.KeepAlive(out)
}
