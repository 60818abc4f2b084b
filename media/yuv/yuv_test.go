package yuv

import (
	"image"
	"image/color"
	"math"
	"testing"
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
