package media

import "sync"

// FramePool recycles I420 frames of one size, so that steady-state capture
// allocates nothing.
type FramePool struct {
	w, h int
	p    sync.Pool
}

// NewFramePool makes a pool of width×height I420 frames.
func NewFramePool(width, height int) *FramePool {
	fp := &FramePool{w: width, h: height}
	fp.p.New = func() any {
		cw, ch := (width+1)/2, (height+1)/2
		buf := make([]byte, width*height+2*cw*ch)
		f := &VideoFrame{Format: PixelFormatI420, Width: width, Height: height}
		f.Planes[0] = buf[:width*height]
		f.Planes[1] = buf[width*height : width*height+cw*ch]
		f.Planes[2] = buf[width*height+cw*ch:]
		f.Strides = [3]int{width, cw, cw}
		f.release = fp.put
		return f
	}
	return fp
}

// Get returns a frame whose pixels are whatever the last user left.
func (fp *FramePool) Get() *VideoFrame {
	f := fp.p.Get().(*VideoFrame)
	f.PTS, f.Seq = 0, 0
	return f
}

func (fp *FramePool) put(f *VideoFrame) { fp.p.Put(f) }

// PlaneSize is the width and height in samples of plane p (0: Y, 1: U,
// 2: V) of a w×h I420 picture: chroma is half size, rounded up.
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
