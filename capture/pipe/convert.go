package pipe

import "github.com/golive/golive/media"

// converter turns the bytes of one frame from the pipe into an I420 frame
// of the same size. Where the layout allows, the frame is read straight
// into the pooled frame's memory (I420: no copy at all; NV12: the chroma
// is moved aside and split); otherwise into one staging buffer. Nothing is
// allocated after newConverter. Not safe for concurrent use.
type converter struct {
	spec   Spec
	size   int    // bytes of one frame in the pipe
	ySize  int    // bytes of the luma plane
	staged []byte // one frame, for formats that cannot be read in place
	chroma []byte // NV12 read in place: its interleaved chroma, moved aside
}

func newConverter(sp Spec) *converter {
	c := &converter{spec: sp, size: sp.FrameSize(), ySize: sp.Width * sp.Height}
	switch sp.Format {
	case FormatNV12:
		c.chroma = make([]byte, c.size-c.ySize)
	case FormatYUYV:
		c.staged = make([]byte, c.size)
	}
	return c
}

// describe says what the conversion does, for the logs.
func (c *converter) describe() string {
	switch c.spec.Format {
	case FormatNV12:
		return "NV12 to I420: the chroma de-interleaved"
	case FormatYUYV:
		return "YUYV 4:2:2 to I420: luma picked out, chroma averaged over line pairs"
	}
	return "none: frames read straight into the pipeline's frames"
}

// target is where the next frame is to be read: f's own memory when the
// format allows it and f's planes lie back to back (as media.FramePool
// makes them), else the staging buffer.
func (c *converter) target(f *media.VideoFrame) []byte {
	if c.spec.Format != FormatYUYV {
		if b := span(f, c.size); b != nil {
			return b
		}
	}
	if c.staged == nil {
		c.staged = make([]byte, c.size) // planes not back to back: once
	}
	return c.staged
}

// convert fills f's planes from src, one frame as the pipe carries it
// (src is what target returned for f).
func (c *converter) convert(src []byte, f *media.VideoFrame) {
	w, h := c.spec.Width, c.spec.Height
	cw, ch := w/2, h/2
	inPlace := &src[0] == &f.Planes[0][0]
	switch c.spec.Format {
	case FormatI420:
		if !inPlace {
			y, u := c.ySize, c.ySize+cw*ch
			media.CopyPlane(f.Planes[0], f.Strides[0], src[:y], w, w, h)
			media.CopyPlane(f.Planes[1], f.Strides[1], src[y:u], cw, cw, ch)
			media.CopyPlane(f.Planes[2], f.Strides[2], src[u:], cw, cw, ch)
		}
	case FormatNV12:
		uv := src[c.ySize:c.size]
		if inPlace {
			// The interleaved chroma landed where U and V go: move it aside.
			copy(c.chroma, uv)
			uv = c.chroma
		} else {
			media.CopyPlane(f.Planes[0], f.Strides[0], src[:c.ySize], w, w, h)
		}
		deinterleave(f.Planes[1], f.Strides[1], f.Planes[2], f.Strides[2], uv, w, cw, ch)
	case FormatYUYV:
		yuyvToI420(f, src, w, h)
	}
}

// span is f's three planes as one slice of n bytes when they lie back to
// back in memory, Y then U then V; nil otherwise.
func span(f *media.VideoFrame, n int) []byte {
	y := f.Planes[0]
	if f.Format != media.PixelFormatI420 || len(y) == 0 || cap(y) < n {
		return nil
	}
	all := y[:n]
	off := len(y)
	for _, p := range f.Planes[1:] {
		if len(p) == 0 || off+len(p) > n || &all[off] != &p[0] {
			return nil
		}
		off += len(p)
	}
	if off != n {
		return nil
	}
	return all
}

// deinterleave splits rows of interleaved U/V pairs (uvStride bytes a row)
// into the U and V planes: cw samples each, ch rows.
func deinterleave(u []byte, uStride int, v []byte, vStride int, uv []byte, uvStride, cw, ch int) {
	for y := range ch {
		src := uv[y*uvStride : y*uvStride+2*cw]
		ur, vr := u[y*uStride:y*uStride+cw], v[y*vStride:y*vStride+cw]
		for x := range cw {
			ur[x] = src[2*x]
			vr[x] = src[2*x+1]
		}
	}
}

// yuyvToI420 converts a packed 4:2:2 picture (Y0 U Y1 V, 2w bytes a line)
// to f: the luma as is, each chroma sample the mean of the two lines it
// stands for.
func yuyvToI420(f *media.VideoFrame, src []byte, w, h int) {
	line := 2 * w
	for y := range h {
		s := src[y*line : y*line+line]
		d := f.Planes[0][y*f.Strides[0] : y*f.Strides[0]+w]
		for x := range d {
			d[x] = s[2*x]
		}
	}
	cw := w / 2
	for y := range h / 2 {
		a := src[2*y*line : 2*y*line+line]
		b := src[(2*y+1)*line : (2*y+1)*line+line]
		u := f.Planes[1][y*f.Strides[1] : y*f.Strides[1]+cw]
		v := f.Planes[2][y*f.Strides[2] : y*f.Strides[2]+cw]
		for x := range u {
			i := 4 * x
			u[x] = byte((uint(a[i+1]) + uint(b[i+1]) + 1) / 2)
			v[x] = byte((uint(a[i+3]) + uint(b[i+3]) + 1) / 2)
		}
	}
}
