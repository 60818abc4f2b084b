// Package media holds the types every stage of the pipeline shares: raw
// video and audio frames, encoded packets, codec configuration and the
// pipeline clock. It depends on nothing else in the project.
//
// # Time
//
// Every timestamp is a time.Duration on one monotonic pipeline clock whose
// zero is the start of the pipeline (see Clock). Capture stamps frames;
// encode/ converts to codec time bases; publish/ converts to FLV
// milliseconds or RTP clocks. Nothing else converts.
//
// # H.264 byte layout
//
// H.264 in a Packet is always AVCC: a sequence of NAL units, each preceded
// by its length as a 4-byte big-endian integer, with no start codes and no
// parameter sets in band. The SPS/PPS travel once, in VideoConfig.Record, as
// an AVCDecoderConfigurationRecord (ISO/IEC 14496-15). This is what FLV and
// MP4 carry as is; packetisers that need Annex B (RTP) convert.
package media

import (
	"context"
	"sync/atomic"
	"time"
)

// Kind tells audio from video.
type Kind uint8

const (
	KindVideo Kind = iota + 1
	KindAudio
)

func (k Kind) String() string {
	switch k {
	case KindVideo:
		return "video"
	case KindAudio:
		return "audio"
	}
	return "unknown"
}

// Codec names an encoded format.
type Codec uint8

const (
	CodecH264 Codec = iota + 1
	CodecAAC
	CodecOpus
)

func (c Codec) String() string {
	switch c {
	case CodecH264:
		return "h264"
	case CodecAAC:
		return "aac"
	case CodecOpus:
		return "opus"
	}
	return "unknown"
}

// PixelFormat is the layout of a VideoFrame's planes.
type PixelFormat uint8

const (
	// PixelFormatI420 is planar 4:2:0: Y, then U and V at half width and
	// half height. BT.709, limited range.
	PixelFormatI420 PixelFormat = iota + 1
	// PixelFormatNV12 is semi-planar 4:2:0: Y, then one plane of U and V
	// interleaved (U first) at half height, each row as wide in bytes as
	// the picture. What hardware encoders take. BT.709, limited range.
	PixelFormatNV12
)

// String names the format as FFmpeg does.
func (f PixelFormat) String() string {
	switch f {
	case PixelFormatI420:
		return "yuv420p"
	case PixelFormatNV12:
		return "nv12"
	}
	return "unknown"
}

// Planes is how many planes a frame of this format has.
func (f PixelFormat) Planes() int {
	if f == PixelFormatNV12 {
		return 2
	}
	return 3
}

// VideoFrame is one raw picture. Planes alias pooled memory: a consumer that
// is done with a frame calls Release, after which it must not touch it.
// Hold the frame itself, not only its planes, while they are in use: a
// pool's frame of 64 KiB or more is memory of its own outside the Go heap
// (see FramePool), unmapped once the frame is unreachable — a plane passed
// to C as the frame's last use needs a runtime.KeepAlive(frame) (or the
// Release) after the call.
type VideoFrame struct {
	Format PixelFormat
	Width  int
	Height int
	// Planes and Strides: for I420, [Y, U, V] with their line sizes in
	// bytes; for NV12, [Y, UV] (the third unused).
	Planes  [3][]byte
	Strides [3]int
	// PTS is the capture time on the pipeline clock.
	PTS time.Duration
	// Seq counts frames from the source, starting at 0; gaps mean drops.
	Seq uint64

	release func(*VideoFrame)
	// outside: the planes are memory of their own outside the Go heap
	// (FramePool's, for frames of 64 KiB or more).
	outside bool
}

// Outside says whether the planes lie outside the Go heap: C code may then
// keep pointers to them (an encoder's input frame pointing straight at
// them) for as long as the frame is held, which cgo forbids for Go memory.
func (f *VideoFrame) Outside() bool { return f.outside }

// Release hands the frame back to the pool it came from (if any).
func (f *VideoFrame) Release() {
	if f.release != nil {
		f.release(f)
	}
}

// AudioFrame is a run of interleaved signed 16-bit PCM samples.
type AudioFrame struct {
	SampleRate int
	Channels   int
	// Samples holds Channels interleaved samples per sample frame.
	Samples []int16
	// PTS is the capture time of the first sample on the pipeline clock.
	PTS time.Duration
}

// NumSamples is the number of sample frames (per channel).
func (a *AudioFrame) NumSamples() int {
	if a.Channels == 0 {
		return 0
	}
	return len(a.Samples) / a.Channels
}

// Duration is how long the frame plays.
func (a *AudioFrame) Duration() time.Duration {
	if a.SampleRate == 0 {
		return 0
	}
	return time.Duration(a.NumSamples()) * time.Second / time.Duration(a.SampleRate)
}

// Packet is one encoded access unit. Packets are immutable once made and
// shared by every destination without copying.
type Packet struct {
	Kind  Kind
	Codec Codec
	// Data: for H.264, AVCC (see the package comment); for AAC, one raw
	// access unit without ADTS header; for Opus, one Opus packet.
	Data []byte
	// PTS and DTS on the pipeline clock. DTS <= PTS; they differ only when
	// the encoder reorders frames (B-frames).
	PTS time.Duration
	DTS time.Duration
	// Keyframe: an IDR picture a decoder can start from (always true for audio).
	// Latency is measured from Clock.At(PTS): PTS is the capture time.
	Keyframe bool
	// Config: on video keyframes, the stream's configuration (parameter
	// sets) from this keyframe on. It changes when the encoder is reopened
	// at another size; a sender compares it with what it sent last.
	// Shared and read-only.
	Config *VideoConfig
}

// VideoConfig describes an encoded video stream.
type VideoConfig struct {
	Codec     Codec
	Width     int
	Height    int
	FrameRate float64
	Bitrate   int // bits per second (target)
	// Record is the AVCDecoderConfigurationRecord for H.264.
	Record []byte
}

// AudioConfig describes an encoded audio stream.
type AudioConfig struct {
	Codec      Codec
	SampleRate int
	Channels   int
	Bitrate    int
	// Delay is the encoder's priming delay: its first packet's PTS is this
	// much before the first sample it was given.
	Delay time.Duration
	// ASC is the AudioSpecificConfig for AAC (ISO/IEC 14496-3).
	ASC []byte
}

// Clock is the pipeline clock: monotonic time since the pipeline started.
type Clock struct {
	start time.Time
}

// NewClock starts a clock now.
func NewClock() *Clock { return &Clock{start: time.Now()} }

// Now is the time on the pipeline clock.
func (c *Clock) Now() time.Duration { return time.Since(c.start) }

// At converts a pipeline time to the monotonic instant it stands for.
func (c *Clock) At(d time.Duration) time.Time { return c.start.Add(d) }

// SleepUntil waits on t (a stopped timer the caller owns and reuses, so
// that waiting allocates nothing) until the clock reaches due. It reports
// false when ctx is done first.
func (c *Clock) SleepUntil(ctx context.Context, t *time.Timer, due time.Duration) bool {
	for {
		if ctx.Err() != nil {
			return false
		}
		d := due - c.Now()
		if d <= 0 {
			return true
		}
		t.Reset(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-t.C:
		}
	}
}

// OncePerSecond allows one event a second on the pipeline clock: for
// warnings that would otherwise repeat at the frame rate (a counter in the
// message says how many happened in between). The zero value is ready; not
// safe for concurrent use.
type OncePerSecond struct {
	last    time.Duration
	started bool
}

// Allow says whether an event at now (pipeline time) may go.
func (r *OncePerSecond) Allow(now time.Duration) bool {
	if r.started && now-r.last < time.Second {
		return false
	}
	r.last, r.started = now, true
	return true
}

// Counter is a lock-free counter, for statistics read by other goroutines.
type Counter struct{ v atomic.Int64 }

func (c *Counter) Add(n int64) { c.v.Add(n) }
func (c *Counter) Load() int64 { return c.v.Load() }
