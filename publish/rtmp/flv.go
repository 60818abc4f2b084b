package rtmp

import (
	"time"

	amf0 "github.com/yutopp/go-amf0"

	"github.com/golive/golive/media"
)

// FLV tag bodies (video_file_format_spec_v10_1, E.4.2 / E.4.3). Each
// function returns the few header bytes that go before the payload, which
// the chunk writer appends without copying it first.

const (
	flvCodecAVC    = 7
	flvCodecAAC    = 10
	flvFrameKey    = 1 << 4
	flvFrameInter  = 2 << 4
	avcSeqHeader   = 0
	avcNALU        = 1
	aacSeqHeader   = 0
	aacRaw         = 1
	aacSoundFormat = flvCodecAAC<<4 | 3<<2 | 1<<1 | 1 // AAC, 44 kHz flag, 16-bit, stereo (always so for AAC)
)

// videoHeader is the 5-byte AVCVIDEOPACKET header: frame type and codec,
// packet type, 24-bit signed composition time (PTS-DTS) in ms.
func videoHeader(dst []byte, key bool, pktType byte, cts int32) []byte {
	ft := byte(flvFrameInter)
	if key {
		ft = flvFrameKey
	}
	return append(dst, ft|flvCodecAVC, pktType, byte(cts>>16), byte(cts>>8), byte(cts))
}

// audioHeader is the 2-byte AACAUDIODATA header.
func audioHeader(dst []byte, pktType byte) []byte {
	return append(dst, aacSoundFormat, pktType)
}

// compositionTime is PTS-DTS in whole milliseconds, as FLV wants it.
func compositionTime(p *media.Packet) int32 {
	return int32((p.PTS - p.DTS + time.Millisecond/2) / time.Millisecond)
}

// metadata is the onMetaData object OBS and ffmpeg send: players and
// servers read size, rate and codecs from it.
func metadata(v media.VideoConfig, a *media.AudioConfig, encoder string) amf0.ECMAArray {
	m := amf0.ECMAArray{
		"duration":      0.0,
		"width":         float64(v.Width),
		"height":        float64(v.Height),
		"videodatarate": float64(v.Bitrate) / 1000,
		"framerate":     v.FrameRate,
		"videocodecid":  float64(flvCodecAVC),
		"encoder":       encoder,
		"filesize":      0.0,
	}
	if a != nil {
		m["audiodatarate"] = float64(a.Bitrate) / 1000
		m["audiosamplerate"] = float64(a.SampleRate)
		m["audiosamplesize"] = 16.0
		m["stereo"] = a.Channels == 2
		m["audiocodecid"] = float64(flvCodecAAC)
	}
	return m
}
