// Package teststream makes real encoded streams for the tests of the
// senders (publish/mux, the recording, SRT): the project's own encoders
// (libx264 through encode.OpenVideo, AAC or Opus through encode.OpenAudio)
// on the test source's pictures and tone, as fast as they encode, the
// packets in the order a pipeline hands them on. Tests only.
package teststream

import (
	"cmp"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/golive/golive/capture/testsrc"
	"github.com/golive/golive/encode"
	"github.com/golive/golive/media"
)

// Options describe the stream to make.
type Options struct {
	Width, Height, FPS int
	Duration           time.Duration
	// Audio: media.CodecAAC or media.CodecOpus, 48 kHz stereo; 0: none.
	Audio media.Codec
	// KeyframeInterval: 2 s when zero.
	KeyframeInterval time.Duration
	// Start shifts every timestamp (for a stream that follows another).
	Start time.Duration
}

// Stream is an encoded stream: its configuration and its packets,
// video and audio merged in DTS order.
type Stream struct {
	Video   media.VideoConfig
	Audio   *media.AudioConfig
	Packets []*media.Packet
}

// VideoFrames counts the video packets.
func (s *Stream) VideoFrames() int {
	n := 0
	for _, p := range s.Packets {
		if p.Kind == media.KindVideo {
			n++
		}
	}
	return n
}

var (
	mu    sync.Mutex
	cache = map[Options]*Stream{}
)

// Generate encodes the stream opt describes (once per process: later
// calls with the same options share the packets, which are immutable).
func Generate(opt Options) (*Stream, error) {
	mu.Lock()
	defer mu.Unlock()
	if s, ok := cache[opt]; ok {
		return s, nil
	}
	s, err := generate(opt)
	if err != nil {
		return nil, err
	}
	cache[opt] = s
	return s, nil
}

type collect []*media.Packet

func (c *collect) WritePacket(p *media.Packet) error { *c = append(*c, p); return nil }

func generate(opt Options) (*Stream, error) {
	if opt.KeyframeInterval == 0 {
		opt.KeyframeInterval = 2 * time.Second
	}
	quiet := slog.New(slog.DiscardHandler)
	var pkts collect
	v, err := encode.OpenVideo(encode.VideoConfig{
		Width: opt.Width, Height: opt.Height, FPS: opt.FPS, Bitrate: 1_000_000,
		KeyframeInterval: opt.KeyframeInterval, Preset: "ultrafast", Encoder: encode.X264, Logger: quiet,
	}, &pkts)
	if err != nil {
		return nil, fmt.Errorf("teststream: %w", err)
	}
	defer v.Close()
	src := &testsrc.Source{Width: opt.Width, Height: opt.Height, FPS: opt.FPS, SampleRate: 48000, Channels: 2}
	pool := media.NewFramePool(opt.Width, opt.Height)
	frames := int(opt.Duration * time.Duration(opt.FPS) / time.Second)
	for n := range frames {
		f := pool.Get()
		src.RenderFrame(f, uint64(n))
		f.PTS += opt.Start
		err := v.Encode(f)
		f.Release()
		if err != nil {
			return nil, fmt.Errorf("teststream: encode video: %w", err)
		}
	}
	if err := v.Flush(); err != nil {
		return nil, fmt.Errorf("teststream: %w", err)
	}
	s := &Stream{Video: v.Config()}
	if opt.Audio != 0 {
		a, err := encode.OpenAudio(encode.AudioConfig{
			Codec: opt.Audio, SampleRate: 48000, Channels: 2, Bitrate: 128000, Logger: quiet,
		}, &pkts)
		if err != nil {
			return nil, fmt.Errorf("teststream: %w", err)
		}
		defer a.Close()
		const chunk = 480 // 10 ms, as a sound card gives it
		buf := make([]int16, chunk*2)
		total := uint64(opt.Duration * 48000 / time.Second)
		for i := uint64(0); i < total; i += chunk {
			src.FillAudio(buf, i)
			pts := opt.Start + time.Duration(i)*time.Second/48000
			f := &media.AudioFrame{SampleRate: 48000, Channels: 2, Samples: buf, PTS: pts}
			if err := a.Encode(f); err != nil {
				return nil, fmt.Errorf("teststream: encode audio: %w", err)
			}
		}
		if err := a.Flush(); err != nil {
			return nil, fmt.Errorf("teststream: %w", err)
		}
		cfg := a.Config()
		s.Audio = &cfg
	}
	slices.SortStableFunc(pkts, func(a, b *media.Packet) int { return cmp.Compare(a.DTS, b.DTS) })
	s.Packets = pkts
	return s, nil
}
