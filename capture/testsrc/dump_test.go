package testsrc

import (
	"fmt"
	"image"
	"image/png"
	"os"
	"testing"
)

func TestDumpPNG(t *testing.T) {
	for _, sz := range [][2]int{{1280, 720}, {320, 180}, {1920, 1080}, {640, 480}, {96, 32}} {
		s := newSource(sz[0], sz[1], 30)
		f := render(s, 1234567)
		img := &image.YCbCr{Y: f.Planes[0], Cb: f.Planes[1], Cr: f.Planes[2], YStride: f.Strides[0], CStride: f.Strides[1],
			SubsampleRatio: image.YCbCrSubsampleRatio420, Rect: image.Rect(0, 0, sz[0], sz[1])}
		fh, _ := os.Create(fmt.Sprintf("/tmp/testsrc_%dx%d.png", sz[0], sz[1]))
		png.Encode(fh, img)
		fh.Close()
	}
}
