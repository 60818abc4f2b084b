package spec

import (
	"fmt"
	"image"
	_ "image/jpeg" // --watermark logo.jpg
	_ "image/png"  // --watermark logo.png
	"os"
	"time"

	xdraw "golang.org/x/image/draw"
)

// Assets are the options loaded for one output size: what every backend
// draws, prepared once on the CPU.
type Assets struct {
	Options
	Width, Height int // the output frame

	// Watermark is the logo scaled by WatermarkScale, with
	// WatermarkOpacity folded into its alpha (non-premultiplied); nil: none.
	// WatermarkAt is its top-left pixel in the frame (even, so it sits on
	// whole chroma samples; it may hang over the edge: what is outside is
	// cut off).
	Watermark   *image.NRGBA
	WatermarkAt image.Point
	LUT         *LUT  // nil: none
	Text        *Text // nil: none
}

// Load checks the options and reads their files for a width×height
// output. Every error wraps ErrBadOption and reads as one line.
func Load(o Options, width, height int, now time.Time) (*Assets, error) {
	if err := o.Check(); err != nil {
		return nil, err
	}
	a := &Assets{Options: o, Width: width, Height: height}
	if o.Watermark != "" {
		img, err := loadImage(o.Watermark)
		if err != nil {
			return nil, err
		}
		b := img.Bounds()
		w := max(1, int(float64(b.Dx())*o.WatermarkScale+0.5))
		h := max(1, int(float64(b.Dy())*o.WatermarkScale+0.5))
		if w > 4*width || h > 4*height {
			return nil, fmt.Errorf("%w: --watermark %s: %dx%d is far larger than the %dx%d frame", ErrBadOption, o.Watermark, w, h, width, height)
		}
		wm := image.NewNRGBA(image.Rect(0, 0, w, h))
		if w == b.Dx() && h == b.Dy() {
			xdraw.Draw(wm, wm.Rect, img, b.Min, xdraw.Src)
		} else {
			xdraw.CatmullRom.Scale(wm, wm.Rect, img, b, xdraw.Src, nil)
		}
		if o.WatermarkOpacity < 1 {
			for i := 3; i < len(wm.Pix); i += 4 {
				wm.Pix[i] = uint8(float64(wm.Pix[i])*o.WatermarkOpacity + 0.5)
			}
		}
		at := o.WatermarkPos.Place(w, h, width, height, o.Margin)
		a.Watermark, a.WatermarkAt = wm, image.Pt(at.X&^1, at.Y&^1)
	}
	if o.LUT != "" {
		l, err := LoadCube(o.LUT)
		if err != nil {
			return nil, err
		}
		a.LUT = l
	}
	if o.Text != "" {
		t, err := NewText(o.Text, o.TextSize, o.TextPos, o.Margin, width, height, now)
		if err != nil {
			return nil, err
		}
		a.Text = t
	}
	return a, nil
}

func loadImage(path string) (image.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: --watermark: %v", ErrBadOption, err)
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("%w: --watermark %s: not a PNG or JPEG image (%v)", ErrBadOption, path, err)
	}
	return img, nil
}
