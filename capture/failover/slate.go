package failover

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	_ "image/jpeg" // --slate card.jpg
	_ "image/png"  // --slate card.png
	"os"

	xdraw "golang.org/x/image/draw"
	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"

	"github.com/golive/golive/media"
	"github.com/golive/golive/media/yuv"
)

// NewSlate makes the picture shown while the camera is gone: the image at
// path (PNG or JPEG, letterboxed to width×height, transparency over black),
// or, when path is "", a generated "camera unavailable" card.
func NewSlate(path string, width, height int) (*media.VideoFrame, error) {
	var img image.Image
	if path == "" {
		img = card(width, height)
	} else {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("slate: %w", err)
		}
		defer f.Close()
		if img, _, err = image.Decode(f); err != nil {
			return nil, fmt.Errorf("slate: %s: not a PNG or JPEG image: %w", path, err)
		}
	}
	return yuv.FromImage(fit(img, width, height)), nil
}

// card draws the generated slate: dark grey, two lines of text.
func card(w, h int) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(img, img.Bounds(), &image.Uniform{color.RGBA{40, 44, 52, 255}}, image.Point{}, draw.Src)
	lines := []string{"CAMERA UNAVAILABLE", "the stream goes on; reconnecting..."}
	face := basicfont.Face7x13
	// Render small, then scale up by an integer factor: the big line takes
	// about 60% of the width.
	small := image.NewRGBA(image.Rect(0, 0, 7*len(lines[0]), 13))
	scale := max(w*6/10/small.Bounds().Dx(), 1)
	y := h/2 - 13*scale
	for i, l := range lines {
		s := scale
		if i == 1 {
			s = max(scale/2, 1)
		}
		tw := 7 * len(l)
		tmp := image.NewRGBA(image.Rect(0, 0, tw, 13))
		d := font.Drawer{Dst: tmp, Src: image.White, Face: face, Dot: fixed.P(0, 10)}
		d.DrawString(l)
		x0 := (w - tw*s) / 2
		for yy := 0; yy < 13*s; yy++ {
			for xx := 0; xx < tw*s; xx++ {
				if _, _, _, a := tmp.At(xx/s, yy/s).RGBA(); a > 0x8000 {
					img.Set(x0+xx, y+yy, color.White)
				}
			}
		}
		y += 13*s + 13*s/2
	}
	return img
}

// fit scales img to fit w×h (aspect kept, bilinear), centred on black.
func fit(img image.Image, w, h int) *image.RGBA {
	if r, ok := img.(*image.RGBA); ok && r.Bounds() == image.Rect(0, 0, w, h) {
		return r // the generated card is drawn at size
	}
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(dst, dst.Bounds(), image.Black, image.Point{}, draw.Src)
	b := img.Bounds()
	sw, sh := b.Dx(), b.Dy()
	if sw == 0 || sh == 0 {
		return dst
	}
	tw, th := w, sh*w/sw
	if th > h {
		tw, th = sw*h/sh, h
	}
	ox, oy := (w-tw)/2, (h-th)/2
	xdraw.BiLinear.Scale(dst, image.Rect(ox, oy, ox+tw, oy+th), img, b, draw.Over, nil)
	return dst
}
