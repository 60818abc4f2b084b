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
