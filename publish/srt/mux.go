package srt

import (
	"io"

	"github.com/golive/golive/media"
	"github.com/golive/golive/publish/mux"
)

// muxer is a session's MPEG-TS muxer.
type muxer interface {
	WritePacket(pkt *media.Packet) error
	Flush() error
	Close() error
}

// newMuxer starts the TS of one session (PAT, PMT, then the streams, the
// SPS and PPS in band before every keyframe) on w, which receives it in
// 1316-byte chunks: one SRT message each.
func newMuxer(w io.Writer, cfg Config) (muxer, error) {
	return mux.New(w, mux.Config{Format: "mpegts", Video: cfg.Video, Audio: cfg.Audio, TimeOffset: cfg.TimeOffset})
}
