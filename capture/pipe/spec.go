package pipe

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Pixel formats a pipe may carry, by FFmpeg's names (what `ffmpeg -pix_fmt`
// and `rpicam-vid --codec yuv420` write).
const (
	FormatI420 = "yuv420p" // planar 4:2:0: Y, U, V (I420)
	FormatNV12 = "nv12"    // semi-planar 4:2:0: Y, then U and V interleaved
	FormatYUYV = "yuyv422" // packed 4:2:2: Y0 U Y1 V
)

// Formats lists the pixel formats a pipe may carry.
var Formats = []string{FormatI420, FormatNV12, FormatYUYV}

// Limits of a pipe's picture, as for a camera.
const (
	MinWidth, MaxWidth   = 16, 7680
	MinHeight, MaxHeight = 16, 4320
	MinFPS, MaxFPS       = 1, 120
)

// Spec is what a pipe carries, as `--source pipe:FORMAT:WxH@FPS` says it:
// raw frames of one pixel format and size, one after another, with nothing
// in between and every line tightly packed.
type Spec struct {
	Format        string // one of Formats
	Width, Height int    // even
	FPS           int    // the rate the producer delivers at
}

// String is the spec as ParseSpec reads it: "yuv420p:1280x720@30".
func (s Spec) String() string {
	return fmt.Sprintf("%s:%dx%d@%d", s.Format, s.Width, s.Height, s.FPS)
}

// FrameSize is the size in bytes of one frame in the pipe.
func (s Spec) FrameSize() int {
	if s.Format == FormatYUYV {
		return 2 * s.Width * s.Height
	}
	return s.Width*s.Height + 2*(s.Width/2)*(s.Height/2)
}

var errSyntax = errors.New("want FORMAT:WIDTHxHEIGHT@FPS, e.g. yuv420p:1280x720@30")

// ParseSpec reads "FORMAT:WIDTHxHEIGHT@FPS" (the part of --source after
// "pipe:"). Its errors are one line, naming what is wrong.
func ParseSpec(s string) (Spec, error) {
	format, rest, ok := strings.Cut(s, ":")
	if !ok {
		return Spec{}, errSyntax
	}
	size, rate, ok := strings.Cut(rest, "@")
	if !ok {
		return Spec{}, errSyntax
	}
	sp := Spec{Format: strings.ToLower(format)}
	switch sp.Format {
	case FormatI420, FormatNV12, FormatYUYV:
	default:
		return Spec{}, fmt.Errorf("format %q: want %s", format, strings.Join(Formats, ", "))
	}
	ws, hs, ok := strings.Cut(size, "x")
	w, werr := number(ws)
	h, herr := number(hs)
	if !ok || werr != nil || herr != nil {
		return Spec{}, fmt.Errorf("size %q: want WIDTHxHEIGHT, e.g. 1280x720", size)
	}
	if w < MinWidth || w > MaxWidth || h < MinHeight || h > MaxHeight {
		return Spec{}, fmt.Errorf("size %dx%d: out of range %dx%d..%dx%d", w, h, MinWidth, MinHeight, MaxWidth, MaxHeight)
	}
	if w%2 != 0 || h%2 != 0 {
		return Spec{}, fmt.Errorf("size %dx%d: width and height must be even (4:2:0 and 4:2:2 chroma)", w, h)
	}
	fps, err := number(rate)
	if err != nil {
		return Spec{}, fmt.Errorf("frame rate %q: want a whole number of frames per second", rate)
	}
	if fps < MinFPS || fps > MaxFPS {
		return Spec{}, fmt.Errorf("frame rate %d: out of range %d..%d", fps, MinFPS, MaxFPS)
	}
	sp.Width, sp.Height, sp.FPS = w, h, fps
	return sp, nil
}

// number parses a plain decimal number: digits only (no sign, no spaces),
// at most 6 of them.
func number(s string) (int, error) {
	if s == "" || len(s) > 6 || strings.TrimLeft(s, "0123456789") != "" {
		return 0, strconv.ErrSyntax
	}
	return strconv.Atoi(s)
}
