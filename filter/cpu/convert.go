package cpu

import (
	"image"

	"github.com/asticode/go-astiav"

	"github.com/golive/golive/media/avframe"
	"github.com/golive/golive/media/yuv"
)

// overlaySize is the yuva420p frame a w×h box is given to overlay in:
// the even size above it plus a transparent border of 2 on the right and
// at the bottom. overlay's C code reads a chroma sample's alpha from the
// 2×2 block only away from the frame's last chroma row and column (there
// it weighs the first row or column alone); with the border, those are
// transparent whatever it reads.
func overlaySize(w, h int) (int, int) { return (w+1)&^1 + 2, (h+1)&^1 + 2 }

// fillNRGBA gives f (empty) a new overlay frame holding img.
func fillNRGBA(f *astiav.Frame, img *image.NRGBA) error {
	w, h := overlaySize(img.Rect.Dx(), img.Rect.Dy())
	if ret := allocFrame(f, w, h, true); ret < 0 {
		return astiav.Error(ret)
	}
	nrgbaToYUVA(f, img)
	return nil
}

// writeYUVA makes f a w×h yuva420p frame the graph holds no reference to:
// the same buffer when it can, else a new one.
func writeYUVA(f *astiav.Frame, w, h int) error {
	if f.Width() == w && f.Height() == h && writable(f) {
		return nil
	}
	f.Unref()
	if ret := allocFrame(f, w, h, true); ret < 0 {
		return astiav.Error(ret)
	}
	return nil
}

// nrgbaToYUVA converts img into f (an overlay frame of overlaySize) as
// overlay=alpha=premultiplied needs it to blend what spec.Reference
// blends, with media/yuv's BT.709 limited-range maths.
//
// Reference blends each pixel in RGB, which for Y is Y·(1−α) + α·Yᵢ (Y is
// affine in RGB, and nothing clips between two colours), and then
// averages U, V over the 2×2 block: with the frame's U even over the
// block, (U−128)·(1−ā) + 128 + ¼·Σαᵢ·(Uᵢ−128), ā the block's mean alpha.
// Premultiplied overlay (FFmpeg 5.1) computes d·(1−α) + s − 16 for Y and
// (d−128)·(1−ā) + s for U and V, with ā from the block's four alphas: so
// s is 16 + α·Yᵢ for Y and 128 + ¼·Σαᵢ·(Uᵢ−128) for U and V. (Straight
// alpha would not do: its x86 code takes a chroma sample's alpha from the
// block's top row alone.)
func nrgbaToYUVA(f *astiav.Frame, img *image.NRGBA) {
	const premulY = 16 // what 5.1's premultiplied blend takes off Y
	w, h := img.Rect.Dx(), img.Rect.Dy()
	fw, fh := overlaySize(w, h)
	yp, ys := avframe.Plane(f, 0, fh)
	up, us := avframe.Plane(f, 1, fh/2)
	vp, vs := avframe.Plane(f, 2, fh/2)
	ap, as := avframe.Plane(f, 3, fh)
	for y := range fh {
		for x := range fw {
			if x >= w || y >= h {
				yp[y*ys+x], ap[y*as+x] = premulY, 0
				continue
			}
			c := img.Pix[y*img.Stride+4*x:]
			l, _, _ := yuv.FromRGB(float64(c[0])/255, float64(c[1])/255, float64(c[2])/255)
			yp[y*ys+x], ap[y*as+x] = yuv.Byte(premulY+l*float64(c[3])/255), c[3]
		}
	}
	for cy := range fh / 2 {
		for cx := range fw / 2 {
			var su, sv float64
			for _, d := range [4][2]int{{0, 0}, {1, 0}, {0, 1}, {1, 1}} {
				x, y := 2*cx+d[0], 2*cy+d[1]
				if x >= w || y >= h {
					continue
				}
				c := img.Pix[y*img.Stride+4*x:]
				a := float64(c[3]) / 255 / 4
				_, u, v := yuv.FromRGB(float64(c[0])/255, float64(c[1])/255, float64(c[2])/255)
				su, sv = su+a*(u-128), sv+a*(v-128)
			}
			up[cy*us+cx], vp[cy*vs+cx] = yuv.Byte(128+su), yuv.Byte(128+sv)
		}
	}
}
