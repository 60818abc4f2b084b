package yuv

import (
	"bytes"
	"image"
	"image/color"
	"math"
	"testing"

	"github.com/golive/golive/media"
)

func TestRoundTrip(t *testing.T) {
	for _, c := range [][3]float64{{0, 0, 0}, {1, 1, 1}, {1, 0, 0}, {0, 1, 0}, {0, 0, 1}, {0.3, 0.6, 0.2}} {
		y, u, v := FromRGB(c[0], c[1], c[2])
		r, g, b := ToRGB(y, u, v)
		if math.Abs(r-c[0]) > 1e-9 || math.Abs(g-c[1]) > 1e-9 || math.Abs(b-c[2]) > 1e-9 {
			t.Errorf("%v → %v,%v,%v → %v,%v,%v", c, y, u, v, r, g, b)
		}
	}
	// The limited-range corners and red's well-known code values.
	if y, u, v := FromRGB(1, 0, 0); Byte(y) != 63 || Byte(u) != 102 || Byte(v) != 240 {
		t.Errorf("red: %v %v %v, want 63 102 240", Byte(y), Byte(u), Byte(v))
	}
	if y, _, _ := FromRGB(0, 0, 0); Byte(y) != 16 {
		t.Errorf("black Y %v", y)
	}
	if y, _, _ := FromRGB(1, 1, 1); Byte(y) != 235 {
		t.Errorf("white Y %v", y)
	}
}

func TestFromImage(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 4, 2))
	for x := range 4 {
		for y := range 2 {
			c := color.RGBA{255, 0, 0, 255}
			if x >= 2 {
				c = color.RGBA{0, 0, 255, 255}
			}
			img.SetRGBA(x, y, c)
		}
	}
	f := FromImage(img)
	if f.Planes[0][0] != 63 || f.Planes[2][0] != 240 || f.Planes[1][1] != 240 {
		t.Errorf("Y %v U %v V %v", f.Planes[0], f.Planes[1], f.Planes[2])
	}
	if Chroma(f.Planes[2], f.Strides[2], 2, 1, 1, 1) != 240 || Chroma(f.Planes[2], f.Strides[2], 2, 1, 3, 1) != float64(f.Planes[2][1]) {
		t.Error("Chroma: not the block's sample")
	}
}

// FromImage converts block by block what SetChroma would make from
// per-pixel chroma: the same bytes, odd sizes included.
func TestFromImageBlocks(t *testing.T) {
	for _, sz := range [][2]int{{6, 4}, {7, 5}, {33, 17}} {
		w, h := sz[0], sz[1]
		img := image.NewRGBA(image.Rect(0, 0, w, h))
		for i := range img.Pix {
			img.Pix[i] = byte(i*37 + i*i%251)
		}
		got := FromImage(img)
		want := media.NewFramePool(w, h).Get()
		u, v := make([]float64, w*h), make([]float64, w*h)
		for y := range h {
			for x := range w {
				c := img.RGBAAt(x, y)
				l, cu, cv := FromRGB(float64(c.R)/255, float64(c.G)/255, float64(c.B)/255)
				want.Planes[0][y*want.Strides[0]+x] = Byte(l)
				u[y*w+x], v[y*w+x] = cu, cv
			}
		}
		SetChroma(want, u, v)
		for p := range 3 {
			if !bytes.Equal(got.Planes[p], want.Planes[p]) {
				t.Fatalf("%dx%d: plane %d differs", w, h, p)
			}
		}
	}
}
