package encode

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/asticode/go-astiav"

	"github.com/golive/golive/media"
)

// AudioConfig configures the audio encoder.
type AudioConfig struct {
	// Codec: media.CodecAAC (the default, for RTMP) or media.CodecOpus
	// (for WebRTC; libopus, 48 kHz only).
	Codec                         media.Codec
	SampleRate, Channels, Bitrate int
	Logger                        *slog.Logger
}

// Audio is an AAC-LC (FFmpeg's native encoder) or Opus (libopus) encoder. It takes interleaved
// s16 frames of any length and encodes them in the codec's frame size.
// Timestamps count samples from the first frame's PTS, so they never drift
// or jitter; a jump in the input (a gap of more than resyncGap) re-anchors.
type Audio struct {
	cfg    AudioConfig
	out    media.PacketWriter
	log    *slog.Logger
	cc     *astiav.CodecContext
	frame  *astiav.Frame
	pkt    *astiav.Packet
	tb     astiav.Rational
	config media.AudioConfig

	fifo     []int16 // interleaved samples not yet encoded
	anchored bool
	next     int64 // PTS (in samples) of fifo[0]
	size     int   // codec frame size in samples
	closed   bool
}

const resyncGap = 100 * time.Millisecond

// OpenAudio opens the AAC encoder; packets go to out.
func OpenAudio(cfg AudioConfig, out media.PacketWriter) (*Audio, error) {
	if cfg.SampleRate <= 0 || cfg.Channels < 1 || cfg.Channels > 2 || cfg.Bitrate <= 0 {
		return nil, fmt.Errorf("encode: audio %d Hz %d channels %d bit/s: unsupported", cfg.SampleRate, cfg.Channels, cfg.Bitrate)
	}
	switch cfg.Codec {
	case 0:
		cfg.Codec = media.CodecAAC
	case media.CodecAAC:
	case media.CodecOpus:
		if cfg.SampleRate != 48000 {
			return nil, fmt.Errorf("encode: opus at %d Hz: unsupported (48000 only)", cfg.SampleRate)
		}
	default:
		return nil, fmt.Errorf("encode: audio codec %s: unsupported", cfg.Codec)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	a := &Audio{cfg: cfg, out: out, log: cfg.Logger.With("component", "encode.audio"), tb: astiav.NewRational(1, cfg.SampleRate)}
	if err := a.open(); err != nil {
		a.Close()
		return nil, err
	}
	return a, nil
}

// planar: AAC takes planar float, libopus interleaved float.
func (a *Audio) planar() bool { return a.cfg.Codec == media.CodecAAC }

func (a *Audio) sampleFormat() astiav.SampleFormat {
	if a.planar() {
		return astiav.SampleFormatFltp
	}
	return astiav.SampleFormatFlt
}

func (a *Audio) open() error {
	var codec *astiav.Codec
	if a.cfg.Codec == media.CodecOpus {
		codec = astiav.FindEncoderByName("libopus")
	} else {
		codec = astiav.FindEncoder(astiav.CodecIDAac)
	}
	name := a.cfg.Codec.String()
	if codec == nil {
		return fmt.Errorf("encode: %s encoder not found in this FFmpeg build", name)
	}
	if a.cc = astiav.AllocCodecContext(codec); a.cc == nil {
		return errors.New("encode: cannot allocate codec context")
	}
	layout := astiav.ChannelLayoutStereo
	if a.cfg.Channels == 1 {
		layout = astiav.ChannelLayoutMono
	}
	a.cc.SetSampleFormat(a.sampleFormat())
	a.cc.SetSampleRate(a.cfg.SampleRate)
	a.cc.SetChannelLayout(layout)
	a.cc.SetTimeBase(a.tb)
	a.cc.SetBitRate(int64(a.cfg.Bitrate))
	a.cc.SetFlags(a.cc.Flags().Add(astiav.CodecContextFlagGlobalHeader))
	if err := a.cc.Open(codec, nil); err != nil {
		return fmt.Errorf("encode: open %s: %w", name, err)
	}
	a.size = a.cc.FrameSize()
	a.config = media.AudioConfig{
		Codec: a.cfg.Codec, SampleRate: a.cfg.SampleRate, Channels: a.cfg.Channels,
		Bitrate: a.cfg.Bitrate, Delay: fromTimeBase(int64(initialPadding(a.cc)), a.tb),
	}
	if a.cfg.Codec == media.CodecAAC {
		a.config.ASC = append([]byte(nil), a.cc.ExtraData()...)
		if len(a.config.ASC) < 2 {
			return errors.New("encode: aac: no AudioSpecificConfig")
		}
	}
	a.frame = astiav.AllocFrame()
	a.frame.SetSampleFormat(a.sampleFormat())
	a.frame.SetChannelLayout(layout)
	a.frame.SetSampleRate(a.cfg.SampleRate)
	a.frame.SetNbSamples(a.size)
	if err := a.frame.AllocBuffer(0); err != nil {
		return fmt.Errorf("encode: audio frame buffer: %w", err)
	}
	a.pkt = astiav.AllocPacket()
	a.fifo = make([]int16, 0, 4*a.size*a.cfg.Channels)
	a.log.Info("encoder open", "codec", name, "frame_samples", a.size, "rate", a.cfg.SampleRate, "channels", a.cfg.Channels, "bitrate_kbps", a.cfg.Bitrate/1000)
	return nil
}

// Config describes the stream (with the AudioSpecificConfig).
func (a *Audio) Config() media.AudioConfig { return a.config }

// Encode queues f's samples and encodes every whole codec frame.
func (a *Audio) Encode(f *media.AudioFrame) error {
	if f.SampleRate != a.cfg.SampleRate || f.Channels != a.cfg.Channels {
		return fmt.Errorf("encode: audio %d Hz/%d ch, encoder %d Hz/%d ch", f.SampleRate, f.Channels, a.cfg.SampleRate, a.cfg.Channels)
	}
	at := toTimeBase(f.PTS, a.tb)
	expected := a.next + int64(len(a.fifo)/a.cfg.Channels)
	if !a.anchored || absDur(fromTimeBase(at-expected, a.tb)) > resyncGap {
		if a.anchored {
			a.log.Warn("audio timestamps jumped; re-anchoring", "by", fromTimeBase(at-expected, a.tb))
		}
		a.fifo = a.fifo[:0]
		a.next = at
		a.anchored = true
	}
	a.fifo = append(a.fifo, f.Samples...)
	n := a.size * a.cfg.Channels
	for len(a.fifo) >= n {
		if err := a.encodeFrame(a.fifo[:n]); err != nil {
			return err
		}
		a.fifo = a.fifo[:copy(a.fifo, a.fifo[n:])]
		a.next += int64(a.size)
	}
	return nil
}

func (a *Audio) encodeFrame(s []int16) error {
	if err := makeWritable(a.frame); err != nil {
		return fmt.Errorf("encode: make audio frame writable: %w", err)
	}
	ch := a.cfg.Channels
	if !a.planar() {
		dst := floatPlane(a.frame, 0, a.size*ch)
		for i := range dst {
			dst[i] = float32(s[i]) / 32768
		}
	}
	for c := 0; c < ch && a.planar(); c++ {
		dst := floatPlane(a.frame, c, a.size)
		for i := range dst {
			dst[i] = float32(s[i*ch+c]) / 32768
		}
	}
	a.frame.SetPts(a.next)
	if err := a.cc.SendFrame(a.frame); err != nil {
		return fmt.Errorf("encode: send audio frame: %w", err)
	}
	return a.drain()
}

// Flush encodes what is queued (padded with silence) and drains the encoder.
func (a *Audio) Flush() error {
	if a.cc == nil {
		return nil
	}
	if len(a.fifo) > 0 {
		n := a.size * a.cfg.Channels
		pad := make([]int16, n)
		copy(pad, a.fifo)
		a.fifo = a.fifo[:0]
		if err := a.encodeFrame(pad); err != nil {
			return err
		}
	}
	if err := a.cc.SendFrame(nil); err != nil && !errors.Is(err, astiav.ErrEof) {
		return fmt.Errorf("encode: flush audio: %w", err)
	}
	return a.drain()
}

func (a *Audio) drain() error {
	for {
		if err := a.cc.ReceivePacket(a.pkt); err != nil {
			if errors.Is(err, astiav.ErrEagain) || errors.Is(err, astiav.ErrEof) {
				return nil
			}
			return fmt.Errorf("encode: receive audio packet: %w", err)
		}
		ts := fromTimeBase(a.pkt.Pts(), a.tb)
		p := &media.Packet{
			Kind: media.KindAudio, Codec: a.cfg.Codec, Data: a.pkt.Data(),
			PTS: ts, DTS: ts, Keyframe: true,
		}
		a.pkt.Unref()
		if err := a.out.WritePacket(p); err != nil {
			return err
		}
	}
}

// Close frees the encoder. Idempotent.
func (a *Audio) Close() {
	if a.closed {
		return
	}
	a.closed = true
	if a.pkt != nil {
		a.pkt.Free()
	}
	if a.frame != nil {
		a.frame.Free()
	}
	if a.cc != nil {
		a.cc.Free()
	}
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}
