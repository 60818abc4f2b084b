package encode

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/asticode/go-astiav"

	"github.com/golive/golive/media"
)

// ErrUnavailable: the encoder asked for (--encoder NAME) cannot be used on
// this machine. Nothing went live; the CLI exits 2.
var ErrUnavailable = errors.New("encoder unavailable")

// The choices for --encoder. Auto probes the hardware encoders in this
// order, then takes libx264.
const (
	Auto    = "auto"
	X264    = "x264"
	V4L2M2M = "v4l2m2m"
	VAAPI   = "vaapi"
	NVENC   = "nvenc"
	QSV     = "qsv"
)

// Names are the encoders --encoder takes besides auto, in probe order.
var Names = []string{V4L2M2M, NVENC, VAAPI, QSV, X264}

// Codec is one opened H.264 encoder: the thinnest seam between Video and
// FFmpeg, and where tests put a fake. Load runs on the caller's goroutine
// (it only copies memory); Send, Flush, Receive, SetRate and Close run on
// the session's worker, where a driver that hangs cannot take the
// pipeline with it.
type Codec interface {
	// Load copies f into the codec's input frame, converting I420 and NV12
	// into the codec's format as it copies.
	Load(f *media.VideoFrame) error
	// Send encodes the loaded frame at pts (1/90000 s); key asks for an IDR.
	Send(pts int64, key bool) error
	// Flush tells the codec that no frame follows.
	Flush() error
	// Receive returns the next packet in Annex B (valid until the next
	// call), or astiav.ErrEagain / astiav.ErrEof.
	Receive() (data []byte, pts, dts int64, err error)
	// SetRate applies a new bitrate to the open codec; false when the
	// codec cannot follow one without a reopen.
	SetRate(bitrate int, vbv time.Duration) bool
	// ExtraData: the parameter sets (Annex B) the codec gave at open, if any.
	ExtraData() []byte
	Close()
}

// Backend is one H.264 encoder golive can use.
type Backend struct {
	Name   string // x264, v4l2m2m, vaapi, nvenc, qsv (or a test encoder)
	Codec  string // FFmpeg's encoder, e.g. h264_vaapi
	Device string // the device it would use ("" when FFmpeg finds it)
	// Format is the pixel format the encoder takes (0: the frames' own,
	// I420 or NV12: libx264 takes both).
	Format media.PixelFormat
	// LiveBitrate: the encoder follows a new bitrate on the open context;
	// otherwise a second one is opened at the new rate and switched to at
	// a keyframe.
	LiveBitrate bool
	// RateEvery: the least time between two live bitrate changes (NVENC
	// resets its rate control and makes an IDR at each).
	RateEvery time.Duration
	// RateIDR: a live bitrate change makes the encoder's next frame an
	// IDR (NVENC): the keyframe cadence restarts from it.
	RateIDR bool
	// MinBitrate: the encoder is known to misbehave below this (bit/s).
	MinBitrate int
	// Unavailable, when set, says why the backend cannot even be tried
	// (no device, not in this FFmpeg build).
	Unavailable string
	// Open opens the encoder with cfg (cfg.Format: the frames' format).
	Open func(cfg VideoConfig) (Codec, error)
}

// Software reports whether this is libx264, the fallback of last resort:
// it is never probed, never watched for stalls, and never replaced.
func (b Backend) Software() bool { return b.Name == X264 }

// format is what the codec takes when frames come in as in.
func (b Backend) format(in media.PixelFormat) media.PixelFormat {
	if b.Format != 0 {
		return b.Format
	}
	if in == 0 {
		return media.PixelFormatI420
	}
	return in
}

// CheckName validates an --encoder value.
func CheckName(name string) error {
	if name == Auto || slices.Contains(Names, name) {
		return nil
	}
	if _, ok := testBackend(name); ok {
		return nil
	}
	return fmt.Errorf("%w: --encoder %q: want auto, %s", ErrUnavailable, name, strings.Join(Names, ", "))
}

// Candidates are the backends --encoder name stands for on this machine,
// in probe order: every hardware encoder the machine could have, then
// libx264, for auto; the named one (each render node for vaapi) otherwise.
func Candidates(name string) ([]Backend, error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	if b, ok := testBackend(name); ok {
		return []Backend{b}, nil
	}
	var all []Backend
	for _, n := range Names {
		if name != Auto && name != n {
			continue
		}
		for _, b := range machineBackends(n) {
			if b.Unavailable == "" {
				b.Unavailable = notInBuild(b.Codec)
			}
			all = append(all, b)
		}
	}
	return all, nil
}

// machineBackends are the backends of one name on this machine.
func machineBackends(name string) []Backend {
	switch name {
	case X264:
		return []Backend{x264Backend()}
	case V4L2M2M:
		b := Backend{Name: V4L2M2M, Codec: "h264_v4l2m2m", Format: media.PixelFormatNV12,
			// The Raspberry Pi's encoder has been reported to hang below
			// ~100 kbit/s: keep twice that.
			MinBitrate: 200_000}
		dev, why := m2mEncoder()
		b.Device, b.Unavailable = dev, why
		b.Open = func(cfg VideoConfig) (Codec, error) { return openAV(b, cfg) }
		return []Backend{b}
	case NVENC:
		b := Backend{Name: NVENC, Codec: "h264_nvenc", Format: media.PixelFormatNV12, LiveBitrate: true, RateEvery: time.Second, RateIDR: true}
		b.Open = func(cfg VideoConfig) (Codec, error) { return openAV(b, cfg) }
		return []Backend{b}
	case QSV:
		b := Backend{Name: QSV, Codec: "h264_qsv", Format: media.PixelFormatNV12}
		if runtime.GOARCH != "amd64" {
			b.Unavailable = "Intel Quick Sync exists on amd64 only"
		}
		b.Open = func(cfg VideoConfig) (Codec, error) { return openAV(b, cfg) }
		return []Backend{b}
	case VAAPI:
		nodes, _ := filepath.Glob("/dev/dri/renderD*")
		if len(nodes) == 0 {
			return []Backend{{Name: VAAPI, Codec: "h264_vaapi", Format: media.PixelFormatNV12, Unavailable: "no /dev/dri/renderD* render node"}}
		}
		var bs []Backend
		for _, n := range nodes {
			b := Backend{Name: VAAPI, Codec: "h264_vaapi", Device: n, Format: media.PixelFormatNV12}
			b.Open = func(cfg VideoConfig) (Codec, error) {
				c, err := openAV(b, cfg)
				if err != nil && !cfg.lowPower {
					// Some Intel GPUs have only the low-power entrypoint.
					cfg.lowPower = true
					if c2, err2 := openAV(b, cfg); err2 == nil {
						return c2, nil
					}
				}
				return c, err
			}
			bs = append(bs, b)
		}
		return bs
	}
	return nil
}

func x264Backend() Backend {
	b := Backend{Name: X264, Codec: "libx264", LiveBitrate: true}
	b.Open = func(cfg VideoConfig) (Codec, error) { return openAV(b, cfg) }
	return b
}

// notInBuild is the reason for an encoder FFmpeg was built without.
func notInBuild(codec string) string {
	if astiav.FindEncoderByName(codec) == nil {
		return codec + " is not in this FFmpeg build"
	}
	return ""
}

// m2mEncoder finds a V4L2 memory-to-memory device that encodes H.264
// (the Raspberry Pi's is /dev/video11); FFmpeg's h264_v4l2m2m finds it by
// itself, so this only tells whether to try and what to report.
func m2mEncoder() (dev, why string) {
	nodes, _ := filepath.Glob("/dev/video*")
	if len(nodes) == 0 {
		return "", "no /dev/video* device"
	}
	var seen []string
	for _, n := range nodes {
		ok, err := isM2MH264Encoder(n)
		if ok {
			return n, ""
		}
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			seen = append(seen, fmt.Sprintf("%s: %v", n, err))
		}
	}
	if len(seen) > 0 {
		return "", "no memory-to-memory H.264 encoder among /dev/video* (" + strings.Join(seen, "; ") + ")"
	}
	return "", "no memory-to-memory H.264 encoder among /dev/video*"
}
