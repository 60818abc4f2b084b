package encode

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/asticode/go-astiav"

	"github.com/golive/golive/media"
	"github.com/golive/golive/media/avframe"
)

// avCodec is a Codec on one of FFmpeg's H.264 encoders.
type avCodec struct {
	b     Backend
	cc    *astiav.CodecContext
	frame *astiav.Frame // the input, in format
	hw    *astiav.Frame // VAAPI: the surface frame is uploaded into
	// wrap is the input when the source frame's planes are handed over as
	// they are (libx264, the frame outside the Go heap, the same format):
	// libx264 copies the picture into its own frames inside
	// avcodec_send_frame, so a copy of ours first would be a second one.
	// cur is what Send sends: frame or wrap.
	wrap, cur *astiav.Frame
	noWrap    bool // the encoder kept a wrapped picture: copy from then on
	wrapped   int  // frames sent wrapped (for the tests)
	pkt       *astiav.Packet
	format    media.PixelFormat
	vbv       time.Duration
}

// openAV opens b's FFmpeg encoder with cfg: the same stream from every
// encoder (CBR at cfg.Bitrate with cfg.VBV, no B-frames, cfg.Profile,
// keyframes only when Send asks, as IDR), each setting mapped to the
// encoder's own options. README.md ("Hardware encoders") says what each
// honours.
func openAV(b Backend, cfg VideoConfig) (_ Codec, err error) {
	codec := astiav.FindEncoderByName(b.Codec)
	if codec == nil {
		return nil, errors.New(b.Codec + " is not in this FFmpeg build")
	}
	c := &avCodec{b: b, format: b.format(cfg.Format), vbv: cfg.VBV}
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	if c.cc = astiav.AllocCodecContext(codec); c.cc == nil {
		return nil, errors.New("cannot allocate codec context")
	}
	keyFrames := max(int(cfg.KeyframeInterval*time.Duration(cfg.FPS)/time.Second), 1)
	c.cc.SetWidth(cfg.Width)
	c.cc.SetHeight(cfg.Height)
	c.cc.SetPixelFormat(avFormat(c.format))
	c.cc.SetTimeBase(videoTimeBase)
	c.cc.SetFramerate(astiav.NewRational(cfg.FPS, 1))
	// The encoders' own GOP limit is a safety net only: Video forces every
	// keyframe on the clock before a frame count would.
	c.cc.SetGopSize(2 * keyFrames)
	c.cc.SetSampleAspectRatio(astiav.NewRational(1, 1))
	if b.Name != V4L2M2M {
		// Parameter sets at open where the encoder can (x264, NVENC, QSV,
		// VAAPI with packed headers); Video also takes them from in band.
		c.cc.SetFlags(c.cc.Flags().Add(astiav.CodecContextFlagGlobalHeader))
	}
	c.cc.SetThreadCount(cfg.Threads) // 0 = auto
	maxrate, bufsize := vbv(cfg.Bitrate, cfg.VBV)
	setRateControl(c.cc, cfg.Bitrate, maxrate, bufsize)

	opts := [][2]string{{"bf", strconv.Itoa(cfg.BFrames)}}
	align := 0
	switch b.Codec {
	case "libx264":
		opts = append(opts, [][2]string{
			{"preset", cfg.Preset}, {"tune", "zerolatency"}, {"profile", cfg.Profile},
			// Keyframes come from the clock (see Video.Encode), never from scene cuts.
			{"sc_threshold", "0"}, {"forced-idr", "1"}, {"keyint_min", strconv.Itoa(keyFrames)},
		}...)
	case "h264_nvenc":
		opts = append(opts, [][2]string{
			{"preset", "p4"}, {"tune", "ll"}, {"rc", "cbr"}, {"zerolatency", "1"}, {"delay", "0"},
			{"forced-idr", "1"}, {"no-scenecut", "1"}, {"rc-lookahead", "0"}, {"profile", cfg.Profile},
		}...)
	case "h264_qsv":
		// CBR: QSV chooses it when maxrate equals the bitrate.
		opts = append(opts, [][2]string{
			{"preset", "veryfast"}, {"async_depth", "1"}, {"forced_idr", "1"}, {"idr_interval", "0"},
			{"look_ahead", "0"}, {"profile", cfg.Profile},
		}...)
	case "h264_vaapi":
		profile := cfg.Profile
		if profile == "baseline" {
			profile = "constrained_baseline"
		}
		opts = append(opts, [][2]string{
			{"rc_mode", "CBR"}, {"async_depth", "1"}, {"idr_interval", "0"}, {"profile", profile},
		}...)
		if cfg.lowPower {
			opts = append(opts, [2]string{"low_power", "1"})
		}
		if err := vaapiFrames(c.cc, b.Device, cfg.Width, cfg.Height); err != nil {
			return nil, fmt.Errorf("VAAPI device %s: %w", b.Device, err)
		}
		c.hw = astiav.AllocFrame()
	case "h264_v4l2m2m":
		// No private options in 5.1: profile, bitrate and GOP go through
		// the codec context to the driver's controls. Each plane is copied
		// as one linesize × height block, so the frame's line size must be
		// the driver's stride: 32-byte aligned rows for NV12.
		c.cc.SetProfile(map[string]astiav.Profile{"baseline": astiav.ProfileH264ConstrainedBaseline,
			"main": astiav.ProfileH264Main, "high": astiav.ProfileH264High}[cfg.Profile])
		opts = opts[:0]
		align = 32
	}
	opts = append(opts, [][2]string{
		// BT.709 limited range is what every source here delivers.
		{"colorspace", "bt709"}, {"color_primaries", "bt709"}, {"color_trc", "bt709"}, {"color_range", "tv"},
	}...)
	dict := astiav.NewDictionary()
	defer dict.Free()
	for _, kv := range opts {
		if err := dict.Set(kv[0], kv[1], 0); err != nil {
			return nil, fmt.Errorf("option %s: %w", kv[0], err)
		}
	}
	if err := c.cc.Open(codec, dict); err != nil {
		return nil, fmt.Errorf("open %s %dx%d@%d %dk: %w", b.Codec, cfg.Width, cfg.Height, cfg.FPS, cfg.Bitrate/1000, err)
	}
	c.frame = astiav.AllocFrame()
	c.frame.SetWidth(cfg.Width)
	c.frame.SetHeight(cfg.Height)
	c.frame.SetPixelFormat(avFormat(c.format))
	if err := c.frame.AllocBuffer(align); err != nil {
		return nil, fmt.Errorf("frame buffer: %w", err)
	}
	c.pkt = astiav.AllocPacket()
	if b.Codec == "libx264" {
		c.wrap = astiav.AllocFrame()
	}
	return c, nil
}

func avFormat(f media.PixelFormat) astiav.PixelFormat {
	if f == media.PixelFormatNV12 {
		return astiav.PixelFormatNv12
	}
	return astiav.PixelFormatYuv420P
}

func (c *avCodec) Load(f *media.VideoFrame) error {
	if c.wrap != nil {
		if wrapHeld(c.wrap) > 0 {
			// Not libx264 as we know it: never wrap again.
			c.noWrap = true
		}
		c.wrap.Unref()
		if !c.noWrap && f.Outside() && f.Format == c.format {
			c.cur = c.wrap
			c.wrapped++
			return wrapFrame(c.wrap, avFormat(c.format), f)
		}
	}
	c.cur = c.frame
	if err := makeWritable(c.frame); err != nil {
		return fmt.Errorf("make frame writable: %w", err)
	}
	return loadFrame(c.frame, c.format, f)
}

// loadFrame copies f into dst (of format pf and f's size), interleaving or
// splitting the chroma when the formats differ: the one conversion,
// folded into the copy the encoder needs anyway.
func loadFrame(dst *astiav.Frame, pf media.PixelFormat, f *media.VideoFrame) error {
	cw, ch := media.PlaneSize(f.Width, f.Height, 1)
	y, ys := avframe.Plane(dst, 0, f.Height)
	media.CopyPlane(y, ys, f.Planes[0], f.Strides[0], f.Width, f.Height)
	switch {
	case f.Format == pf && pf == media.PixelFormatNV12:
		uv, uvs := avframe.Plane(dst, 1, ch)
		media.CopyPlane(uv, uvs, f.Planes[1], f.Strides[1], 2*cw, ch)
	case f.Format == pf:
		for i := 1; i < 3; i++ {
			p, ps := avframe.Plane(dst, i, ch)
			media.CopyPlane(p, ps, f.Planes[i], f.Strides[i], cw, ch)
		}
	case f.Format == media.PixelFormatI420 && pf == media.PixelFormatNV12:
		uv, uvs := avframe.Plane(dst, 1, ch)
		media.InterleaveUV(uv, uvs, f.Planes[1], f.Strides[1], f.Planes[2], f.Strides[2], cw, ch)
	case f.Format == media.PixelFormatNV12 && pf == media.PixelFormatI420:
		u, us := avframe.Plane(dst, 1, ch)
		v, vs := avframe.Plane(dst, 2, ch)
		for r := range ch {
			src := f.Planes[1][r*f.Strides[1]:]
			for x := range cw {
				u[r*us+x], v[r*vs+x] = src[2*x], src[2*x+1]
			}
		}
	default:
		return fmt.Errorf("frame format %s, encoder %s", f.Format, pf)
	}
	return nil
}

func (c *avCodec) Send(pts int64, key bool) error {
	in := c.cur
	if in == nil {
		in = c.frame
	}
	in.SetPts(pts)
	if key {
		in.SetPictureType(astiav.PictureTypeI)
	} else {
		in.SetPictureType(astiav.PictureTypeNone)
	}
	if c.hw != nil {
		if err := upload(c.cc, c.hw, in); err != nil {
			return fmt.Errorf("upload to VAAPI surface: %w", err)
		}
		in = c.hw
	}
	return c.cc.SendFrame(in)
}

func (c *avCodec) Flush() error {
	if err := c.cc.SendFrame(nil); err != nil && !errors.Is(err, astiav.ErrEof) {
		return err
	}
	return nil
}

func (c *avCodec) Receive() ([]byte, int64, int64, error) {
	c.pkt.Unref()
	if err := c.cc.ReceivePacket(c.pkt); err != nil {
		return nil, 0, 0, err
	}
	return c.pkt.Data(), c.pkt.Pts(), c.pkt.Dts(), nil
}

func (c *avCodec) SetRate(bitrate int, d time.Duration) bool {
	if !c.b.LiveBitrate {
		return false
	}
	maxrate, bufsize := vbv(bitrate, d)
	setRateControl(c.cc, bitrate, maxrate, bufsize)
	return true
}

func (c *avCodec) ExtraData() []byte { return c.cc.ExtraData() }

func (c *avCodec) Close() {
	if c.pkt != nil {
		c.pkt.Free()
		c.pkt = nil
	}
	for _, f := range []**astiav.Frame{&c.frame, &c.hw, &c.wrap} {
		if *f != nil {
			(*f).Free()
			*f = nil
		}
	}
	if c.cc != nil {
		c.cc.Free()
		c.cc = nil
	}
}
