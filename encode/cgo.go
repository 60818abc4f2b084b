package encode

// What go-astiav v0.16.0 does not expose: writable frame planes, the
// rate-control fields libx264's and NVENC's wrappers read on every frame to
// reconfigure the encoder live (rc_max_rate, rc_buffer_size), and VAAPI's
// hardware frames (av_hwframe_ctx_alloc/init, hw_frames_ctx,
// av_hwframe_get_buffer): h264_vaapi refuses to open without them.

//#cgo pkg-config: libavcodec libavutil
//#include <libavcodec/avcodec.h>
//#include <libavutil/frame.h>
//#include <libavutil/hwcontext.h>
//#include <stdlib.h>
//
//// golive_vaapi_frames makes a VAAPI device on node and a pool of NV12
//// surfaces of w×h for c to encode from.
//static int golive_vaapi_frames(AVCodecContext *c, const char *node, int w, int h) {
//	AVBufferRef *dev = NULL;
//	int ret = av_hwdevice_ctx_create(&dev, AV_HWDEVICE_TYPE_VAAPI, node, NULL, 0);
//	if (ret < 0) return ret;
//	AVBufferRef *ref = av_hwframe_ctx_alloc(dev);
//	av_buffer_unref(&dev);
//	if (!ref) return AVERROR(ENOMEM);
//	AVHWFramesContext *fc = (AVHWFramesContext *)ref->data;
//	fc->format = AV_PIX_FMT_VAAPI;
//	fc->sw_format = AV_PIX_FMT_NV12;
//	fc->width = w;
//	fc->height = h;
//	fc->initial_pool_size = 8;
//	if ((ret = av_hwframe_ctx_init(ref)) < 0) {
//		av_buffer_unref(&ref);
//		return ret;
//	}
//	c->hw_frames_ctx = ref;
//	c->pix_fmt = AV_PIX_FMT_VAAPI;
//	return 0;
//}
//
//// golive_upload puts sw's pixels into a surface of c's pool (hw) with
//// sw's timestamps and picture type.
//static int golive_upload(AVCodecContext *c, AVFrame *hw, const AVFrame *sw) {
//	av_frame_unref(hw);
//	int ret = av_hwframe_get_buffer(c->hw_frames_ctx, hw, 0);
//	if (ret < 0) return ret;
//	if ((ret = av_hwframe_transfer_data(hw, sw, 0)) < 0) return ret;
//	return av_frame_copy_props(hw, sw);
//}
//
//static void golive_nofree(void *opaque, uint8_t *data) { (void)opaque; (void)data; }
//
//// golive_wrap makes f (unreferenced first) a w×h frame of format pf
//// whose planes are memory the caller owns and keeps until the encoder is
//// done with it: data[i] and linesize[i] as given, one buffer reference
//// over the whole of it (size bytes from y) that frees nothing, so that
//// avcodec_send_frame takes a reference instead of copying the picture.
//static int golive_wrap(AVFrame *f, int pf, int w, int h, uint8_t *y, int ys, uint8_t *u, int us, uint8_t *v, int vs, int size) {
//	av_frame_unref(f);
//	f->buf[0] = av_buffer_create(y, size, golive_nofree, NULL, 0);
//	if (!f->buf[0]) return AVERROR(ENOMEM);
//	f->format = pf;
//	f->width = w;
//	f->height = h;
//	f->data[0] = y; f->linesize[0] = ys;
//	f->data[1] = u; f->linesize[1] = us;
//	f->data[2] = v; f->linesize[2] = vs;
//	return 0;
//}
//
//// golive_wrap_held: references to f's memory besides f's own (0 when f
//// holds none): the encoder's, while it still has the picture.
//static int golive_wrap_held(const AVFrame *f) { return f->buf[0] ? av_buffer_get_ref_count(f->buf[0]) - 1 : 0; }
//
//static void golive_set_rc(AVCodecContext *c, int64_t rate, int64_t maxrate, int bufsize) {
//	c->bit_rate = rate;
//	c->rc_max_rate = maxrate;
//	c->rc_buffer_size = bufsize;
//}
//static int64_t golive_rc_max_rate(AVCodecContext *c) { return c->rc_max_rate; }
//static int golive_initial_padding(AVCodecContext *c) { return c->initial_padding; }
import "C"

import (
	"unsafe"

	"github.com/asticode/go-astiav"

	"github.com/golive/golive/media"
)

// ctxPtr is the AVCodecContext behind an astiav.CodecContext: its first
// field (checked by TestCodecContextPointer).
func ctxPtr(cc *astiav.CodecContext) *C.AVCodecContext {
	return *(**C.AVCodecContext)(unsafe.Pointer(cc))
}

func setRateControl(cc *astiav.CodecContext, rate, maxrate, bufsize int) {
	C.golive_set_rc(ctxPtr(cc), C.int64_t(rate), C.int64_t(maxrate), C.int(bufsize))
}

// vaapiFrames gives cc a VAAPI device on node and a pool of w×h NV12
// surfaces (before Open).
func vaapiFrames(cc *astiav.CodecContext, node string, w, h int) error {
	cn := C.CString(node)
	defer C.free(unsafe.Pointer(cn))
	if ret := C.golive_vaapi_frames(ctxPtr(cc), cn, C.int(w), C.int(h)); ret < 0 {
		return astiav.Error(ret)
	}
	return nil
}

// upload copies sw into a surface of cc's pool, as hw.
func upload(cc *astiav.CodecContext, hw, sw *astiav.Frame) error {
	if ret := C.golive_upload(ctxPtr(cc), (*C.AVFrame)(hw.UnsafePointer()), (*C.AVFrame)(sw.UnsafePointer())); ret < 0 {
		return astiav.Error(ret)
	}
	return nil
}

func rcMaxRate(cc *astiav.CodecContext) int64 { return int64(C.golive_rc_max_rate(ctxPtr(cc))) }

func initialPadding(cc *astiav.CodecContext) int { return int(C.golive_initial_padding(ctxPtr(cc))) }

// wrapFrame points dst at f's planes without copying them (f's memory is
// outside the Go heap: media.VideoFrame.Outside), with one reference that
// frees nothing.
func wrapFrame(dst *astiav.Frame, pf astiav.PixelFormat, f *media.VideoFrame) error {
	size := 0
	for i := range f.Planes {
		size += len(f.Planes[i])
	}
	plane := func(i int) *C.uint8_t {
		if len(f.Planes[i]) == 0 {
			return nil
		}
		return (*C.uint8_t)(unsafe.Pointer(&f.Planes[i][0]))
	}
	if ret := C.golive_wrap((*C.AVFrame)(dst.UnsafePointer()), C.int(pf), C.int(f.Width), C.int(f.Height),
		plane(0), C.int(f.Strides[0]), plane(1), C.int(f.Strides[1]), plane(2), C.int(f.Strides[2]), C.int(size)); ret < 0 {
		return astiav.Error(ret)
	}
	return nil
}

// wrapHeld: how many references to a wrapped frame's memory the encoder
// still holds.
func wrapHeld(f *astiav.Frame) int { return int(C.golive_wrap_held((*C.AVFrame)(f.UnsafePointer()))) }

// makeWritable makes f's buffers exclusively ours (the encoder may still
// hold a reference to the previous frame's buffers).
func makeWritable(f *astiav.Frame) error {
	if ret := C.av_frame_make_writable((*C.AVFrame)(f.UnsafePointer())); ret < 0 {
		return astiav.Error(ret)
	}
	return nil
}

// floatPlane returns audio plane ch of a float frame, n samples (n =
// samples × channels for an interleaved frame, whose only plane is 0).
// (For audio only linesize[0] is set; every plane has that size.)
func floatPlane(f *astiav.Frame, ch, n int) []float32 {
	c := (*C.AVFrame)(f.UnsafePointer())
	return unsafe.Slice((*float32)(unsafe.Pointer(c.data[ch])), n)
}
