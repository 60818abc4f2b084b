package v4l2

// What go-astiav v0.16.0 lacks, and this package needs:
//
//   - a libswscale context whose source range is set before it is
//     initialised. astiav.SoftwareScaleContext is made by sws_getContext and
//     has no range or colorspace setter; sws_setColorspaceDetails after
//     sws_getContext is not enough either, because sws_getContext has by
//     then picked its unscaled fast path (a plain copy when only the range
//     differs), which ignores the range. So the context here is made with
//     sws_alloc_context, its "src_range"/"dst_range" options set, then
//     sws_init_context: full range (JPEG) in, limited range out.
//   - scaling from and to memory that is not an AVFrame: the camera's mmap'd
//     buffers in, the pooled media.VideoFrame planes out, without copying
//     (ScaleFrame scales AVFrame to AVFrame; astiav copies frame planes
//     through C.GoBytes and cannot write into them).
//   - packet data from a pool: astiav.Packet.FromData allocates (without the
//     padding libavcodec requires) for every packet; here packets take
//     their buffers from an AVBufferPool, so steady-state decoding
//     allocates nothing.
//
// The astiav wrappers keep the C pointer as their first field (as
// capture/file relies on too); pktPtr reads it, checked by
// TestAstiavPointers.

//#cgo pkg-config: libavcodec libswscale libavutil
//#include <string.h>
//#include <errno.h>
//#include <libavcodec/avcodec.h>
//#include <libavutil/buffer.h>
//#include <libavutil/frame.h>
//#include <libavutil/opt.h>
//#include <libavutil/pixdesc.h>
//#include <libswscale/swscale.h>
//#include <linux/videodev2.h>
//
//static struct SwsContext *golive_sws_new(int sw, int sh, int sfmt, int sfull,
//		int dw, int dh, int dfmt, int flags) {
//	struct SwsContext *c = sws_alloc_context();
//	if (!c) return NULL;
//	if (av_opt_set_int(c, "srcw", sw, 0) < 0 || av_opt_set_int(c, "srch", sh, 0) < 0 ||
//	    av_opt_set_int(c, "src_format", sfmt, 0) < 0 || av_opt_set_int(c, "src_range", sfull, 0) < 0 ||
//	    av_opt_set_int(c, "dstw", dw, 0) < 0 || av_opt_set_int(c, "dsth", dh, 0) < 0 ||
//	    av_opt_set_int(c, "dst_format", dfmt, 0) < 0 || av_opt_set_int(c, "dst_range", 0, 0) < 0 ||
//	    av_opt_set_int(c, "sws_flags", flags, 0) < 0 ||
//	    sws_init_context(c, NULL, NULL) < 0) {
//		sws_freeContext(c);
//		return NULL;
//	}
//	return c;
//}
//
//static int golive_sws_scale(struct SwsContext *c, int srcH,
//		const uint8_t *s0, const uint8_t *s1, const uint8_t *s2, int l0, int l1, int l2,
//		uint8_t *d0, uint8_t *d1, uint8_t *d2, int m0, int m1, int m2) {
//	const uint8_t *const src[4] = {s0, s1, s2, NULL};
//	const int sl[4] = {l0, l1, l2, 0};
//	uint8_t *const dst[4] = {d0, d1, d2, NULL};
//	const int dl[4] = {m0, m1, m2, 0};
//	return sws_scale(c, src, sl, 0, srcH, dst, dl);
//}
//
//static int golive_pkt_fill(AVPacket *p, AVBufferPool *pool, int capacity, const uint8_t *src, int n) {
//	av_packet_unref(p);
//	if (n <= 0 || n > capacity - AV_INPUT_BUFFER_PADDING_SIZE) return AVERROR(EINVAL);
//	AVBufferRef *b = av_buffer_pool_get(pool);
//	if (!b) return AVERROR(ENOMEM);
//	memcpy(b->data, src, n);
//	memset(b->data + n, 0, AV_INPUT_BUFFER_PADDING_SIZE);
//	p->buf = b;
//	p->data = b->data;
//	p->size = n;
//	return 0;
//}
//
//static int golive_chroma_w(int fmt) {
//	const AVPixFmtDescriptor *d = av_pix_fmt_desc_get((enum AVPixelFormat)fmt);
//	return d ? d->log2_chroma_w : -1;
//}
//static int golive_chroma_h(int fmt) {
//	const AVPixFmtDescriptor *d = av_pix_fmt_desc_get((enum AVPixelFormat)fmt);
//	return d ? d->log2_chroma_h : -1;
//}
//static int golive_planar_yuv(int fmt) {
//	const AVPixFmtDescriptor *d = av_pix_fmt_desc_get((enum AVPixelFormat)fmt);
//	return d && !(d->flags & (AV_PIX_FMT_FLAG_RGB | AV_PIX_FMT_FLAG_PAL)) &&
//		(d->flags & AV_PIX_FMT_FLAG_PLANAR) && d->nb_components == 3 && d->comp[0].depth == 8;
//}
import "C"

import (
	"errors"
	"fmt"
	"unsafe"

	"github.com/asticode/go-astiav"
)

// Scaler flags (libswscale/swscale.h): bilinear is cheap (it matters on a
// Raspberry Pi) and, being area-averaging when downscaling, good enough for
// a camera picture.
const swsFlags = C.SWS_BILINEAR

// scaler is a libswscale context from one source layout to I420 (limited
// range) of one size.
type scaler struct {
	c          *C.struct_SwsContext
	srcH       int
	dstW, dstH int
}

// newScaler converts srcW×srcH pictures of pixel format srcFmt (full range
// when srcFull) to dstW×dstH I420, limited range.
func newScaler(srcW, srcH int, srcFmt astiav.PixelFormat, srcFull bool, dstW, dstH int) (*scaler, error) {
	full := 0
	if srcFull {
		full = 1
	}
	c := C.golive_sws_new(C.int(srcW), C.int(srcH), C.int(srcFmt), C.int(full),
		C.int(dstW), C.int(dstH), C.int(astiav.PixelFormatYuv420P), swsFlags)
	if c == nil {
		return nil, fmt.Errorf("libswscale: cannot convert %s %dx%d to yuv420p %dx%d", srcFmt, srcW, srcH, dstW, dstH)
	}
	return &scaler{c: c, srcH: srcH, dstW: dstW, dstH: dstH}, nil
}

// scale converts one picture. src and dst hold plane pointers (unused ones
// nil) and their line sizes in bytes. The pointers may be Go memory: they
// are passed as separate arguments and not kept.
func (s *scaler) scale(src [3]unsafe.Pointer, srcStride [3]int, dst [3]unsafe.Pointer, dstStride [3]int) error {
	ret := C.golive_sws_scale(s.c, C.int(s.srcH),
		(*C.uint8_t)(src[0]), (*C.uint8_t)(src[1]), (*C.uint8_t)(src[2]),
		C.int(srcStride[0]), C.int(srcStride[1]), C.int(srcStride[2]),
		(*C.uint8_t)(dst[0]), (*C.uint8_t)(dst[1]), (*C.uint8_t)(dst[2]),
		C.int(dstStride[0]), C.int(dstStride[1]), C.int(dstStride[2]))
	if ret < 0 {
		return fmt.Errorf("libswscale: %w", astiav.Error(ret))
	}
	if int(ret) != s.dstH {
		return fmt.Errorf("libswscale: %d lines out of %d", int(ret), s.dstH)
	}
	return nil
}

func (s *scaler) free() {
	if s != nil && s.c != nil {
		C.sws_freeContext(s.c)
		s.c = nil
	}
}

// packetPool hands out padded packet buffers of one capacity.
type packetPool struct {
	pool     *C.AVBufferPool
	capacity int
}

func newPacketPool(maxData int) (*packetPool, error) {
	capacity := maxData + C.AV_INPUT_BUFFER_PADDING_SIZE
	p := C.av_buffer_pool_init(C.size_t(capacity), nil)
	if p == nil {
		return nil, errors.New("av_buffer_pool_init failed")
	}
	return &packetPool{pool: p, capacity: capacity}, nil
}

// fill makes pkt hold a copy of data, in a buffer from the pool.
func (pp *packetPool) fill(pkt *astiav.Packet, data []byte) error {
	if len(data) == 0 {
		return errors.New("empty packet")
	}
	if ret := C.golive_pkt_fill(pktPtr(pkt), pp.pool, C.int(pp.capacity),
		(*C.uint8_t)(unsafe.Pointer(&data[0])), C.int(len(data))); ret < 0 {
		return fmt.Errorf("%d bytes into a %d-byte packet buffer: %w", len(data), pp.capacity, astiav.Error(ret))
	}
	return nil
}

// free releases the pool; buffers still referenced are freed when released.
func (pp *packetPool) free() {
	if pp != nil && pp.pool != nil {
		C.av_buffer_pool_uninit(&pp.pool)
	}
}

func pktPtr(p *astiav.Packet) *C.AVPacket { return *(**C.AVPacket)(unsafe.Pointer(p)) }

func framePtr(f *astiav.Frame) *C.AVFrame { return (*C.AVFrame)(f.UnsafePointer()) }

// framePlanes are the planes of a decoded frame, offset to the region r.
// It fails for anything but 8-bit planar YUV, or an r the chroma
// subsampling cannot follow.
func framePlanes(f *astiav.Frame, r rect) (src [3]unsafe.Pointer, stride [3]int, err error) {
	c := framePtr(f)
	pf := int(c.format)
	if C.golive_planar_yuv(C.int(pf)) == 0 {
		return src, stride, fmt.Errorf("decoded pixel format %s is not 8-bit planar YUV", astiav.PixelFormat(pf))
	}
	sx, sy := int(C.golive_chroma_w(C.int(pf))), int(C.golive_chroma_h(C.int(pf)))
	if r.x%(1<<sx) != 0 || r.y%(1<<sy) != 0 {
		return src, stride, fmt.Errorf("crop offset %d,%d not aligned to %s chroma", r.x, r.y, astiav.PixelFormat(pf))
	}
	for i := range 3 {
		x, y := r.x, r.y
		if i > 0 {
			x, y = x>>sx, y>>sy
		}
		ls := int(c.linesize[i])
		stride[i] = ls
		src[i] = unsafe.Add(unsafe.Pointer(c.data[i]), y*ls+x)
	}
	return src, stride, nil
}

// frameFormat is a decoded frame's pixel format, size and range.
func frameFormat(f *astiav.Frame) (pf astiav.PixelFormat, w, h int, full bool) {
	c := framePtr(f)
	pf = astiav.PixelFormat(c.format)
	full = c.color_range == C.AVCOL_RANGE_JPEG
	switch pf { // the deprecated J formats: full range, else the same layout
	case astiav.PixelFormatYuvj420P:
		pf, full = astiav.PixelFormatYuv420P, true
	case astiav.PixelFormatYuvj422P:
		pf, full = astiav.PixelFormatYuv422P, true
	case astiav.PixelFormatYuvj444P:
		pf, full = astiav.PixelFormatYuv444P, true
	case astiav.PixelFormatYuvj440P:
		pf, full = astiav.PixelFormatYuv440P, true
	case astiav.PixelFormatYuvj411P:
		pf, full = astiav.PixelFormatYuv411P, true
	}
	return pf, int(c.width), int(c.height), full
}

// cAlloc allocates n bytes of C memory (aligned for SIMD), or nil.
func cAlloc(n int) unsafe.Pointer { return C.av_malloc(C.size_t(n)) }

// cFree frees memory from cAlloc.
func cFree(p unsafe.Pointer) { C.av_free(p) }

// headerLayout holds what include/uapi/linux/videodev2.h says about the
// structures ioctl.go declares in Go, for TestIoctlLayout.
var headerLayout = map[string]uintptr{
	"VIDIOC_G_CTRL":                     C.VIDIOC_G_CTRL,
	"VIDIOC_S_CTRL":                     C.VIDIOC_S_CTRL,
	"VIDIOC_QUERYCTRL":                  C.VIDIOC_QUERYCTRL,
	"VIDIOC_QUERYMENU":                  C.VIDIOC_QUERYMENU,
	"VIDIOC_ENUM_FRAMEINTERVALS":        C.VIDIOC_ENUM_FRAMEINTERVALS,
	"sizeof(v4l2_control)":              C.sizeof_struct_v4l2_control,
	"sizeof(v4l2_queryctrl)":            C.sizeof_struct_v4l2_queryctrl,
	"sizeof(v4l2_querymenu)":            C.sizeof_struct_v4l2_querymenu,
	"sizeof(v4l2_frmivalenum)":          C.sizeof_struct_v4l2_frmivalenum,
	"V4L2_BUF_FLAG_ERROR":               C.V4L2_BUF_FLAG_ERROR,
	"V4L2_BUF_FLAG_TIMESTAMP_MASK":      C.V4L2_BUF_FLAG_TIMESTAMP_MASK,
	"V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC": C.V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC,
	"V4L2_CTRL_FLAG_NEXT_CTRL":          C.V4L2_CTRL_FLAG_NEXT_CTRL,
}
