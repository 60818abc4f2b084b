package cpu

// What go-astiav v0.16.0 does not expose, and the per-frame path needs:
//
//   - frames whose buffers come from an AVBufferPool we own, so that feeding
//     the graph allocates nothing once the pool is warm (av_frame_get_buffer
//     mallocs a fresh buffer each time, and buffersrc takes the frame's
//     reference with it);
//   - the colour properties of a frame (range, matrix), so that whatever
//     lavfi converts knows the frames are BT.709 limited range;
//   - av_buffersrc_add_frame_flags and av_buffersink_get_frame returning
//     the plain code: astiav boxes the error into an interface, an
//     allocation per EAGAIN, so per frame;
//   - av_frame_is_writable (the text box is rewritten while the overlay
//     may still hold the previous one) and the planes without copying.
//
// The astiav wrappers keep the C pointer as their first field; filterPtr
// reads it (checked by TestAstiavPointers).

//#cgo pkg-config: libavfilter libavutil
//#include <libavfilter/avfilter.h>
//#include <libavfilter/buffersink.h>
//#include <libavfilter/buffersrc.h>
//#include <libavutil/buffer.h>
//#include <libavutil/frame.h>
//#include <libavutil/pixfmt.h>
//
//// Line sizes and plane offsets are multiples of 64 (what AVX-512 code
//// in lavfi may assume), with 64 bytes of slack after the last plane for
//// SIMD reads past the end.
//#define GOLIVE_ALIGN 64
//static int golive_align(int v) { return (v + GOLIVE_ALIGN - 1) & ~(GOLIVE_ALIGN - 1); }
//
//static size_t golive_i420_size(int w, int h, int alpha) {
//	int ew = (w + 1) & ~1, eh = (h + 1) & ~1;
//	size_t n = (size_t)golive_align(ew) * eh + 2 * (size_t)golive_align(ew / 2) * (eh / 2);
//	if (alpha)
//		n += (size_t)golive_align(ew) * eh;
//	return n + GOLIVE_ALIGN;
//}
//
//static AVBufferPool *golive_pool(int w, int h, int alpha) {
//	return av_buffer_pool_init(golive_i420_size(w, h, alpha), av_buffer_alloc);
//}
//
//static void golive_pool_free(AVBufferPool *p) { av_buffer_pool_uninit(&p); }
//
//// golive_layout points f's planes into buf, a w×h yuv420p or yuva420p
//// picture, BT.709 limited range. The planes are laid out for the even
//// size above w×h: overlay reads a 2×2 block of alpha for each chroma
//// sample, also past an odd edge.
//static void golive_layout(AVFrame *f, AVBufferRef *buf, int w, int h, int alpha) {
//	int ew = (w + 1) & ~1, eh = (h + 1) & ~1;
//	uint8_t *p = buf->data;
//	f->buf[0] = buf;
//	f->format = alpha ? AV_PIX_FMT_YUVA420P : AV_PIX_FMT_YUV420P;
//	f->width = w;
//	f->height = h;
//	f->linesize[0] = golive_align(ew);
//	f->linesize[1] = f->linesize[2] = golive_align(ew / 2);
//	f->data[0] = p;
//	f->data[1] = p + (size_t)f->linesize[0] * eh;
//	f->data[2] = f->data[1] + (size_t)f->linesize[1] * (eh / 2);
//	if (alpha) {
//		f->linesize[3] = f->linesize[0];
//		f->data[3] = f->data[2] + (size_t)f->linesize[2] * (eh / 2);
//	}
//	f->extended_data = f->data;
//	f->color_range = AVCOL_RANGE_MPEG;
//	f->colorspace = AVCOL_SPC_BT709;
//	f->color_primaries = AVCOL_PRI_BT709;
//	f->color_trc = AVCOL_TRC_BT709;
//	f->chroma_location = AVCHROMA_LOC_CENTER;
//	f->sample_aspect_ratio = (AVRational){1, 1};
//}
//
//// golive_pool_frame gives f (unreferenced) a buffer from pool.
//static int golive_pool_frame(AVFrame *f, AVBufferPool *pool, int w, int h, int alpha) {
//	AVBufferRef *b = av_buffer_pool_get(pool);
//	if (!b)
//		return AVERROR(ENOMEM);
//	golive_layout(f, b, w, h, alpha);
//	return 0;
//}
//
//// golive_alloc_frame gives f (unreferenced) a new zeroed buffer.
//static int golive_alloc_frame(AVFrame *f, int w, int h, int alpha) {
//	AVBufferRef *b = av_buffer_allocz(golive_i420_size(w, h, alpha));
//	if (!b)
//		return AVERROR(ENOMEM);
//	golive_layout(f, b, w, h, alpha);
//	return 0;
//}
//
//static int golive_src_add(AVFilterContext *c, AVFrame *f, int flags) {
//	return av_buffersrc_add_frame_flags(c, f, flags);
//}
//static int golive_sink_get(AVFilterContext *c, AVFrame *f) { return av_buffersink_get_frame(c, f); }
//static int golive_src_eof(AVFilterContext *c) { return av_buffersrc_add_frame(c, NULL); }
//static int golive_writable(AVFrame *f) { return av_frame_is_writable(f); }
//static unsigned golive_filter_nb_outputs(AVFilterContext *c) { return c->nb_outputs; }
import "C"

import (
	"unsafe"

	"github.com/asticode/go-astiav"
)

func filterPtr(f *astiav.FilterContext) *C.AVFilterContext {
	return *(**C.AVFilterContext)(unsafe.Pointer(f))
}

func framePtr(f *astiav.Frame) *C.AVFrame { return (*C.AVFrame)(f.UnsafePointer()) }

// Return codes of the per-frame calls: 0, again (no frame yet) or another
// negative AVERROR.
const again = int(astiav.ErrEagain)

// bufferPool recycles the buffers of one frame size and format. Its
// buffers outlive it while a graph still holds them: libavutil frees the
// pool once the last one is back.
type bufferPool struct {
	p           *C.AVBufferPool
	w, h        int
	alpha       bool
	initialised bool
}

func newBufferPool(w, h int, alpha bool) *bufferPool {
	p := C.golive_pool(C.int(w), C.int(h), cbool(alpha))
	if p == nil {
		return nil
	}
	return &bufferPool{p: p, w: w, h: h, alpha: alpha}
}

func (p *bufferPool) free() {
	if p != nil && p.p != nil {
		C.golive_pool_free(p.p)
		p.p = nil
	}
}

// get gives f, which must hold no buffer, one of the pool's.
func (p *bufferPool) get(f *astiav.Frame) int {
	return int(C.golive_pool_frame(framePtr(f), p.p, C.int(p.w), C.int(p.h), cbool(p.alpha)))
}

func cbool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

// srcAdd is av_buffersrc_add_frame_flags.
func srcAdd(src *astiav.FilterContext, f *astiav.Frame, flags astiav.BuffersrcFlags) int {
	return int(C.golive_src_add(filterPtr(src), framePtr(f), C.int(flags)))
}

// srcEOF ends a buffer source's stream.
func srcEOF(src *astiav.FilterContext) int { return int(C.golive_src_eof(filterPtr(src))) }

// sinkGet is av_buffersink_get_frame.
func sinkGet(sink *astiav.FilterContext, f *astiav.Frame) int {
	return int(C.golive_sink_get(filterPtr(sink), framePtr(f)))
}

// writable reports whether f's buffer is f's alone (the graph holds no
// reference to it).
func writable(f *astiav.Frame) bool { return C.golive_writable(framePtr(f)) != 0 }

// allocFrame gives f, which must hold no buffer, a new zeroed w×h
// yuv420p (alpha: yuva420p) buffer.
func allocFrame(f *astiav.Frame, w, h int, alpha bool) int {
	return int(C.golive_alloc_frame(framePtr(f), C.int(w), C.int(h), cbool(alpha)))
}

// For TestAstiavPointers (cgo cannot be used in test files).
func filterOutputs(f *astiav.FilterContext) int { return int(C.golive_filter_nb_outputs(filterPtr(f))) }
