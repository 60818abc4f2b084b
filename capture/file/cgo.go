package file

// What go-astiav v0.16.0 does not expose, and this package needs: the
// decoded frame's best-effort timestamp and duration, the decoder's packet
// time base (for priming-sample trimming), avcodec_flush_buffers (to reuse a
// drained decoder after a seek), av_find_best_stream and stream
// dispositions (to pass over cover art), av_buffersrc_close with an end
// timestamp (so the fps filter emits the last frames up to the file's end),
// the default layout for a channel count (for files that only give a
// count), and the frame's planes without copying them.
//
// And, on the per-frame path, avcodec_receive_frame and
// av_buffersink_get_frame returning the plain code: astiav boxes EAGAIN
// into an error interface, an allocation per call, so per frame.
//
// The astiav wrappers keep the C pointer as their first field; the *Ptr
// helpers read it (checked by TestAstiavPointers).

//#cgo pkg-config: libavcodec libavformat libavfilter libavutil
//#include <libavcodec/avcodec.h>
//#include <libavformat/avformat.h>
//#include <libavfilter/avfilter.h>
//#include <libavfilter/buffersink.h>
//#include <libavfilter/buffersrc.h>
//#include <libavutil/channel_layout.h>
//#include <libavutil/frame.h>
//#include <libavutil/pixdesc.h>
//
//static int64_t golive_best_effort(AVFrame *f) { return f->best_effort_timestamp; }
//static int64_t golive_pkt_duration(AVFrame *f) { return f->pkt_duration; }
//static int golive_frame_channels(AVFrame *f) { return f->ch_layout.nb_channels; }
//static void golive_set_pkt_timebase(AVCodecContext *c, int num, int den) {
//	c->pkt_timebase = (AVRational){num, den};
//}
//static void golive_flush(AVCodecContext *c) { avcodec_flush_buffers(c); }
//static int golive_find_best(AVFormatContext *fc, int type) {
//	return av_find_best_stream(fc, type, -1, -1, NULL, 0);
//}
//static int golive_disposition(AVStream *st) { return st->disposition; }
//static int golive_buffersrc_close(AVFilterContext *c, int64_t pts) {
//	return av_buffersrc_close(c, pts, AV_BUFFERSRC_FLAG_PUSH);
//}
//static int golive_layout_name(AVCodecContext *c, char *buf, size_t n) {
//	AVChannelLayout d;
//	if (c->ch_layout.order != AV_CHANNEL_ORDER_UNSPEC && av_channel_layout_check(&c->ch_layout))
//		return av_channel_layout_describe(&c->ch_layout, buf, n);
//	av_channel_layout_default(&d, c->ch_layout.nb_channels);
//	return av_channel_layout_describe(&d, buf, n);
//}
//static int golive_ctx_channels(AVCodecContext *c) { return c->ch_layout.nb_channels; }
//static int golive_pix_rgb(int f) {
//	const AVPixFmtDescriptor *d = av_pix_fmt_desc_get((enum AVPixelFormat)f);
//	return d && (d->flags & (AV_PIX_FMT_FLAG_RGB | AV_PIX_FMT_FLAG_PAL));
//}
//static int golive_receive_frame(AVCodecContext *c, AVFrame *f) { return avcodec_receive_frame(c, f); }
//static int golive_sink_get(AVFilterContext *c, AVFrame *f) { return av_buffersink_get_frame(c, f); }
//static unsigned golive_nb_streams(AVFormatContext *fc) { return fc->nb_streams; }
//static int golive_stream_index(AVStream *st) { return st->index; }
//static unsigned golive_filter_nb_inputs(AVFilterContext *c) { return c->nb_inputs; }
import "C"

import (
	"unsafe"

	"github.com/asticode/go-astiav"
)

func ccPtr(cc *astiav.CodecContext) *C.AVCodecContext {
	return *(**C.AVCodecContext)(unsafe.Pointer(cc))
}

func fcPtr(fc *astiav.FormatContext) *C.AVFormatContext {
	return *(**C.AVFormatContext)(unsafe.Pointer(fc))
}

func stPtr(st *astiav.Stream) *C.AVStream {
	return *(**C.AVStream)(unsafe.Pointer(st))
}

func filterPtr(f *astiav.FilterContext) *C.AVFilterContext {
	return *(**C.AVFilterContext)(unsafe.Pointer(f))
}

func framePtr(f *astiav.Frame) *C.AVFrame { return (*C.AVFrame)(f.UnsafePointer()) }

// bestEffortTS is the frame's timestamp as libavcodec best guesses it
// (astiav.NoPtsValue when it has none).
func bestEffortTS(f *astiav.Frame) int64 { return int64(C.golive_best_effort(framePtr(f))) }

// pktDuration is the frame's duration in the stream's time base (0 when
// unknown).
func pktDuration(f *astiav.Frame) int64 { return int64(C.golive_pkt_duration(framePtr(f))) }

func frameChannels(f *astiav.Frame) int { return int(C.golive_frame_channels(framePtr(f))) }

func setPktTimeBase(cc *astiav.CodecContext, tb astiav.Rational) {
	C.golive_set_pkt_timebase(ccPtr(cc), C.int(tb.Num()), C.int(tb.Den()))
}

// flushDecoder resets a decoder (after draining it, or after a seek).
func flushDecoder(cc *astiav.CodecContext) { C.golive_flush(ccPtr(cc)) }

// findBestStream is av_find_best_stream: the index of the stream of type
// t a player would pick, or a negative error.
func findBestStream(fc *astiav.FormatContext, t astiav.MediaType) int {
	return int(C.golive_find_best(fcPtr(fc), C.int(t)))
}

// isAttachedPicture reports a cover-art "video" stream (one still picture).
func isAttachedPicture(st *astiav.Stream) bool {
	return C.golive_disposition(stPtr(st))&C.AV_DISPOSITION_ATTACHED_PIC != 0
}

// closeBuffersrc signals the end of a filter graph's input at pts (in the
// buffer source's time base; astiav.NoPtsValue when unknown) and pushes it
// through the graph.
func closeBuffersrc(src *astiav.FilterContext, pts int64) error {
	if ret := C.golive_buffersrc_close(filterPtr(src), C.int64_t(pts)); ret < 0 {
		return astiav.Error(ret)
	}
	return nil
}

// layoutName describes the decoder's channel layout for the abuffer filter;
// a layout that only gives a count becomes the default layout for it.
func layoutName(cc *astiav.CodecContext) string {
	var buf [128]C.char
	if ret := C.golive_layout_name(ccPtr(cc), &buf[0], C.size_t(len(buf))); ret < 0 {
		return ""
	}
	return C.GoString(&buf[0])
}

// isRGB reports a pixel format whose conversion to YUV needs a colour
// matrix (RGB and palette formats).
func isRGB(pf astiav.PixelFormat) bool { return C.golive_pix_rgb(C.int(pf)) != 0 }

func decoderChannels(cc *astiav.CodecContext) int { return int(C.golive_ctx_channels(ccPtr(cc))) }

// Return codes of receiveFrame and sinkGetFrame: 0 (a frame), or
// again (none yet), eof (none any more) or another negative error.
const (
	again = int(astiav.ErrEagain)
	eof   = int(astiav.ErrEof)
)

// receiveFrame is avcodec_receive_frame.
func receiveFrame(cc *astiav.CodecContext, f *astiav.Frame) int {
	return int(C.golive_receive_frame(ccPtr(cc), framePtr(f)))
}

// sinkGetFrame is av_buffersink_get_frame.
func sinkGetFrame(sink *astiav.FilterContext, f *astiav.Frame) int {
	return int(C.golive_sink_get(filterPtr(sink), framePtr(f)))
}

// samplesS16 returns the interleaved s16 samples of an audio frame.
func samplesS16(f *astiav.Frame, channels int) []int16 {
	c := framePtr(f)
	n := int(c.nb_samples) * channels
	if c.data[0] == nil || n <= 0 {
		return nil
	}
	return unsafe.Slice((*int16)(unsafe.Pointer(c.data[0])), n)
}

// For TestAstiavPointers (cgo cannot be used in test files).
func nbStreams(fc *astiav.FormatContext) int   { return int(C.golive_nb_streams(fcPtr(fc))) }
func streamIndex(st *astiav.Stream) int        { return int(C.golive_stream_index(stPtr(st))) }
func filterInputs(f *astiav.FilterContext) int { return int(C.golive_filter_nb_inputs(filterPtr(f))) }
