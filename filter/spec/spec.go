// Package spec is what the filter stage does, whichever backend runs it:
// the options, the watermark, LUT and text they load, and the maths both
// backends (filter/gl, filter/cpu) follow. The Go reference
// implementations here (Reference, Beauty) are the definition the golden
// tests hold each backend to.
//
// # Order of the passes
//
//  1. beauty (luma only): edge-preserving smoothing (a fast guided filter
//     on the half-size luma), light sharpening of edges, brightening —
//     see Beauty
//  2. colour: brightness, contrast, saturation, on Y, U, V — see ColourYUV
//  3. the 3D LUT, in RGB (trilinear)
//  4. the watermark, alpha-blended
//  5. the text, alpha-blended
//
// Frames in are I420, frames out I420 or NV12 (for a hardware encoder),
// BT.709 limited range (media/yuv).
package spec

import (
	"errors"
	"fmt"
	"image"
	"strconv"
	"strings"
)

// ErrBadOption: an option that cannot work (a missing image, a broken
// LUT, a value out of range). The pipeline reports it before going live.
var ErrBadOption = errors.New("filter: bad option")

// Corner anchors a box (the watermark, the text) in the frame.
type Corner uint8

const (
	TopLeft Corner = iota
	TopRight
	BottomLeft
	BottomRight
	// At: the box's top-left pixel is at Position.X, Position.Y.
	At
)

// Position is where a box goes: a corner (with the margin) or x,y.
type Position struct {
	Corner Corner
	X, Y   int
}

// ParsePosition reads top-left|top-right|bottom-left|bottom-right|X,Y.
func ParsePosition(s string) (Position, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "top-left", "tl":
		return Position{Corner: TopLeft}, nil
	case "top-right", "tr":
		return Position{Corner: TopRight}, nil
	case "bottom-left", "bl":
		return Position{Corner: BottomLeft}, nil
	case "bottom-right", "br":
		return Position{Corner: BottomRight}, nil
	}
	xs, ys, ok := strings.Cut(s, ",")
	if ok {
		x, err1 := strconv.Atoi(strings.TrimSpace(xs))
		y, err2 := strconv.Atoi(strings.TrimSpace(ys))
		if err1 == nil && err2 == nil && x >= 0 && y >= 0 {
			return Position{Corner: At, X: x, Y: y}, nil
		}
	}
	return Position{}, fmt.Errorf("%w: position %q: want top-left, top-right, bottom-left, bottom-right or X,Y", ErrBadOption, s)
}

func (p Position) String() string {
	switch p.Corner {
	case TopLeft:
		return "top-left"
	case TopRight:
		return "top-right"
	case BottomLeft:
		return "bottom-left"
	case BottomRight:
		return "bottom-right"
	}
	return fmt.Sprintf("%d,%d", p.X, p.Y)
}

// Right reports whether the box hangs from the right edge (text is then
// right-aligned in its box).
func (p Position) Right() bool { return p.Corner == TopRight || p.Corner == BottomRight }

// Place is the top-left pixel of a w×h box in a fw×fh frame.
func (p Position) Place(w, h, fw, fh, margin int) image.Point {
	switch p.Corner {
	case TopLeft:
		return image.Pt(margin, margin)
	case TopRight:
		return image.Pt(fw-w-margin, margin)
	case BottomLeft:
		return image.Pt(margin, fh-h-margin)
	case BottomRight:
		return image.Pt(fw-w-margin, fh-h-margin)
	}
	return image.Pt(p.X, p.Y)
}

// Options are the filter flags. Start from Defaults (neutral: nothing
// filtered); the zero value's contrast and saturation of 0 mean flat grey.
type Options struct {
	// Beauty is the skin-smoothing strength, 0..1 (0: no beauty pass).
	Beauty float64

	// Watermark is a PNG or JPEG (with or without alpha); "" for none.
	Watermark        string
	WatermarkPos     Position
	WatermarkScale   float64 // of the image's own size (1: as is)
	WatermarkOpacity float64 // 0..1, multiplies the image's alpha
	// Margin from the frame's edge, in pixels, for corner positions.
	Margin int

	// Text is drawn with strftime expansion (%Y-%m-%d %H:%M:%S …); "" for none.
	Text     string
	TextSize int // pixel height of the font; 0: frame height / 18
	TextPos  Position

	// LUT is a .cube 3D LUT file; "" for none.
	LUT string
	// Brightness is added to luma, as to R, G and B (−1..1; 0 neutral).
	Brightness float64
	// Contrast scales around mid-grey (0..4; 1 neutral).
	Contrast float64
	// Saturation scales chroma, keeping luma (0..4; 0 black and white, 1 neutral).
	// See ColourYUV for the exact maths.
	Saturation float64
}

// Defaults are the neutral options: nothing filtered.
func Defaults() Options {
	return Options{
		WatermarkPos: Position{Corner: TopRight}, WatermarkScale: 1, WatermarkOpacity: 1, Margin: 16,
		TextPos: Position{Corner: BottomLeft}, Contrast: 1, Saturation: 1,
	}
}

// Active reports whether any filter is asked for. With none, no filter
// stage runs and frames go straight to the encoder.
func (o Options) Active() bool {
	return o.Beauty > 0 || o.Colour() || o.LUT != "" || o.Watermark != "" || o.Text != ""
}

// Colour reports whether the brightness/contrast/saturation pass runs.
func (o Options) Colour() bool { return o.Brightness != 0 || o.Contrast != 1 || o.Saturation != 1 }

// Check validates ranges (not files: Load reads those).
func (o Options) Check() error {
	bad := func(what string, v float64, lo, hi float64) error {
		if v < lo || v > hi {
			return fmt.Errorf("%w: %s %g is outside %g..%g", ErrBadOption, what, v, lo, hi)
		}
		return nil
	}
	return errors.Join(
		bad("--beauty", o.Beauty, 0, 1),
		bad("--watermark-scale", o.WatermarkScale, 0.01, 16),
		bad("--watermark-opacity", o.WatermarkOpacity, 0, 1),
		bad("--brightness", o.Brightness, -1, 1),
		bad("--contrast", o.Contrast, 0, 4),
		bad("--saturation", o.Saturation, 0, 4),
		bad("--filter-margin", float64(o.Margin), 0, 4096),
		bad("--text-size", float64(o.TextSize), 0, 1024),
	)
}
