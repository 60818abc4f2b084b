package encode

// What go-astiav v0.16.0 does not expose: writable frame planes and the
// rate-control fields libx264's wrapper reads on every frame to reconfigure
// the encoder live (rc_max_rate, rc_buffer_size).

//#cgo pkg-config: libavcodec libavutil
//#include <libavcodec/avcodec.h>
//#include <libavutil/frame.h>
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
