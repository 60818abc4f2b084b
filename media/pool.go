package media

import (
	"runtime"
	"sync"
	"syscall"
)

// FramePool recycles frames of one size and format, so that steady-state
// capture allocates nothing.
//
// A frame of 64 KiB or more (any real picture) is one anonymous mapping of
// its own, outside the Go heap: the heap, and the headroom the collector
// keeps above it (GOGC), do not grow by every frame in flight, a frame the
// pool lets go is unmapped at the next collection (its pages do not stay
// resident until the scavenger's turn), and the planes can be handed to C as they are (see
// VideoFrame.Outside). Idle frames are kept on a free list, not in a
// sync.Pool, which every collection empties: a recycled frame is never
// faulted in and zeroed again. The list keeps at most maxIdle frames — a
// burst beyond what the queues hold is given back.
type FramePool struct {
	pf   PixelFormat
	w, h int
	size int // bytes of one frame's planes

	mu   sync.Mutex
	idle []*VideoFrame
}

// maxIdle is how many released frames a pool keeps for reuse: more than
// any pipeline holds at once at the queues' sizes (a capture queue of 4,
// the filter's and the encoder's in flight), fewer than a backlog burst.
const maxIdle = 12

// outsideMin is the frame size from which frames get a mapping of their
// own; smaller ones (thumbnails in tests) come from the heap.
const outsideMin = 64 << 10

// NewFramePool makes a pool of width×height I420 frames.
func NewFramePool(width, height int) *FramePool {
	return NewFramePoolOf(PixelFormatI420, width, height)
}

// NewFramePoolOf makes a pool of width×height frames of format pf.
func NewFramePoolOf(pf PixelFormat, width, height int) *FramePool {
	fp := &FramePool{pf: pf, w: width, h: height}
	for i := range pf.Planes() {
		_, rows := PlaneSize(width, height, i)
		fp.size += PlaneStride(pf, width, i) * rows
	}
	return fp
}

// newFrame makes a frame of the pool's size and format.
func (fp *FramePool) newFrame() *VideoFrame {
	f := &VideoFrame{Format: fp.pf, Width: fp.w, Height: fp.h, release: fp.put}
	var buf []byte
	if fp.size >= outsideMin {
		b, err := syscall.Mmap(-1, 0, fp.size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
		if err == nil {
			buf, f.outside = b, true
			runtime.AddCleanup(f, func(b []byte) { _ = syscall.Munmap(b) }, b)
		}
	}
	if buf == nil {
		buf = make([]byte, fp.size)
	}
	for i := range fp.pf.Planes() {
		_, rows := PlaneSize(fp.w, fp.h, i)
		f.Strides[i] = PlaneStride(fp.pf, fp.w, i)
		n := f.Strides[i] * rows
		f.Planes[i], buf = buf[:n], buf[n:] // cap to the end: one span (capture/pipe reads a frame into it)
	}
	return f
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
	fp.mu.Lock()
	n := len(fp.idle)
	if n == 0 {
		fp.mu.Unlock()
		return fp.newFrame()
	}
	f := fp.idle[n-1]
	fp.idle[n-1] = nil
	fp.idle = fp.idle[:n-1]
	fp.mu.Unlock()
	f.PTS, f.Seq = 0, 0
	return f
}

// put takes a released frame back, or lets it go (unmapped when the
// collector finds it unreachable) when maxIdle frames are idle already.
func (fp *FramePool) put(f *VideoFrame) {
	fp.mu.Lock()
	if len(fp.idle) < maxIdle {
		fp.idle = append(fp.idle, f)
	}
	fp.mu.Unlock()
}

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
