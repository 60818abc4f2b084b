package media

import "sync"

// FramePool recycles frames of one size and format, so that steady-state
// capture allocates nothing.
type FramePool struct {
	w, h int
	p    sync.Pool
}

// NewFramePool makes a pool of width×height I420 frames.
func NewFramePool(width, height int) *FramePool {
	return NewFramePoolOf(PixelFormatI420, width, height)
}

// NewFramePoolOf makes a pool of width×height frames of format pf.
func NewFramePoolOf(pf PixelFormat, width, height int) *FramePool {
	fp := &FramePool{w: width, h: height}
	fp.p.New = func() any {
		f := &VideoFrame{Format: pf, Width: width, Height: height}
		n := 0
		for i := range pf.Planes() {
			_, rows := PlaneSize(width, height, i)
			f.Strides[i] = PlaneStride(pf, width, i)
			n += f.Strides[i] * rows
		}
		buf := make([]byte, n)
		for i := range pf.Planes() {
			_, rows := PlaneSize(width, height, i)
			f.Planes[i], buf = buf[:f.Strides[i]*rows], buf[f.Strides[i]*rows:]
		}
		f.release = fp.put
		return f
	}
	return fp
}

// PlaneStride is the tightly packed line size in bytes of plane p of a
// w-wide picture of format pf (NV12's UV plane: the picture's width,
// rounded up to whole U/V pairs).
func PlaneStride(pf PixelFormat, w, p int) int {
	cw, _ := PlaneSize(w, 1, p)
	if pf == PixelFormatNV12 && p == 1 {
		return 2 * cw
	}
	return cw
}

// Get returns a frame whose pixels are whatever the last user left.
func (fp *FramePool) Get() *VideoFrame {
	f := fp.p.Get().(*VideoFrame)
	f.PTS, f.Seq = 0, 0
	return f
}

func (fp *FramePool) put(f *VideoFrame) { fp.p.Put(f) }

// PlaneSize is the width and height in samples of plane p (0: Y, 1: U,
// 2: V) of a w×h I420 picture: chroma is half size, rounded up. For NV12
// it is the size of plane p in U/V pairs (the UV plane is 2× as wide in
// bytes: PlaneStride).
func PlaneSize(w, h, p int) (int, int) {
	if p > 0 {
		return (w + 1) / 2, (h + 1) / 2
	}
	return w, h
}

// CopyPlane copies rows lines of width bytes between two planes of
// different line sizes (in one copy when they are laid out alike).
func CopyPlane(dst []byte, dstStride int, src []byte, srcStride, width, rows int) {
	if dstStride == srcStride && len(src) >= rows*srcStride && len(dst) >= rows*dstStride {
		copy(dst[:rows*dstStride], src[:rows*srcStride])
		return
	}
	for y := range rows {
		copy(dst[y*dstStride:y*dstStride+width], src[y*srcStride:y*srcStride+width])
	}
}

// InterleaveUV writes the U and V planes of an I420 picture (cw×rows
// samples each) as NV12's one UV plane: the conversion folded into a copy
// a stage makes anyway.
func InterleaveUV(dst []byte, dstStride int, u []byte, uStride int, v []byte, vStride int, cw, rows int) {
	for y := range rows {
		d := dst[y*dstStride : y*dstStride+2*cw]
		us, vs := u[y*uStride:y*uStride+cw], v[y*vStride:y*vStride+cw]
		for x := range cw {
			d[2*x] = us[x]
			d[2*x+1] = vs[x]
		}
	}
}
