package pipeline

import (
	"log/slog"
	"time"

	"github.com/golive/golive/encode"
	"github.com/golive/golive/internal/abr"
	"github.com/golive/golive/media"
	"github.com/golive/golive/publish"
	"github.com/golive/golive/publish/whip"
)

// encoders are a push's: one video encoder shared by every output, and one
// audio encoder per codec the outputs take (AAC for RTMP, SRT and the
// recording; Opus for WebRTC), all fed by one capture.
type encoders struct {
	video *encode.Video
	audio []*encode.Audio
	start int // the video bitrate it starts at
	est   int // WebRTC's first bandwidth estimate
}

// openEncoders opens what outs need, each encoder writing to the outputs
// that take its stream. The video's rate-control buffer is the shortest
// any output asks for.
func openEncoders(cfg Config, outs []*output, log *slog.Logger) (_ *encoders, err error) {
	p := cfg.Preset
	e := &encoders{start: p.Video.Bitrate, est: whip.StartEstimate(p.Video.Bitrate, p.Video.MinBitrate)}
	defer func() {
		if err != nil {
			e.close()
		}
	}()
	vbv, allWHIP, video := time.Duration(0), true, fanOut{}
	for _, o := range outs {
		if o.vbv > 0 && (vbv == 0 || o.vbv < vbv) {
			vbv = o.vbv
		}
		if o.network && o.kind != KindWHIP {
			allWHIP = false
		}
		video = append(video, o)
	}
	if vbv == 0 {
		vbv = time.Second
	}
	// Over WebRTC alone the video starts where GCC's first estimate says
	// (the first keyframe must cross the link too); the adaptive bitrate
	// climbs from there. Beside other destinations it starts at the
	// target: they must not pay for WebRTC's caution.
	if allWHIP && hasCodec(outs, media.CodecOpus) && cfg.ABR {
		e.start = abr.Config{Target: p.Video.Bitrate, Min: p.Video.MinBitrate, Audio: p.Audio.Bitrate}.ForEstimate(e.est)
	}
	name := cfg.Encoder
	if name == "" {
		name = p.Video.Encoder
	}
	e.video, err = encode.OpenVideo(encode.VideoConfig{
		Width: p.Video.Width, Height: p.Video.Height, FPS: p.Video.FPS,
		Bitrate: e.start, KeyframeInterval: p.Video.KeyframeInterval,
		Preset: p.Video.X264Preset, Profile: p.Video.Profile, Logger: log,
		VBV: vbv, Encoder: name,
	}, video)
	if err != nil {
		return nil, err
	}
	for _, c := range []media.Codec{media.CodecAAC, media.CodecOpus} {
		var to fanOut
		for _, o := range outs {
			if o.acodec == c {
				to = append(to, o)
			}
		}
		if len(to) == 0 {
			continue
		}
		a, err := encode.OpenAudio(encode.AudioConfig{
			Codec: c, SampleRate: p.Audio.SampleRate, Channels: p.Audio.Channels, Bitrate: p.Audio.Bitrate, Logger: log,
		}, to)
		if err != nil {
			return nil, err
		}
		e.audio = append(e.audio, a)
	}
	return e, nil
}

// audioConfigs are the audio streams by codec.
func (e *encoders) audioConfigs() map[media.Codec]media.AudioConfig {
	m := map[media.Codec]media.AudioConfig{}
	for _, a := range e.audio {
		c := a.Config()
		m[c.Codec] = c
	}
	return m
}

// runVideo encodes until in is closed and q is empty, then flushes. It
// tells fail of every error (fail stops the push and keeps the first).
func (e *encoders) runVideo(q *frameQueue, in <-chan struct{}, fail func(error)) {
	for f := range q.frames(in) {
		err := e.video.Encode(f)
		f.Release()
		fail(err)
	}
	fail(e.video.Flush())
}

// runAudio encodes each frame with every audio encoder until in is closed
// and q is empty, then flushes them.
func (e *encoders) runAudio(q *audioQueue, in <-chan struct{}, fail func(error)) {
	for f := range q.frames(in) {
		for _, a := range e.audio {
			fail(a.Encode(f))
		}
		q.release(f)
	}
	for _, a := range e.audio {
		fail(a.Flush())
	}
}

// logStopped logs the push's totals (the outputs': reconnects, drops and
// bytes summed, the latency of the first network output), then a line per
// output when there are several.
func (e *encoders) logStopped(log *slog.Logger, clock *media.Clock, ad *abr.Adapter, droppedBefore int64, outs []*output) {
	frames, keys, _ := e.video.Stats()
	var reconnects, dropped, bytes int64
	var lat publish.Stats
	for i, o := range outs {
		st := o.stats()
		if o.network {
			reconnects += int64(max(st.Sessions-1, 0))
		}
		dropped += st.VideoDropped
		bytes += st.Bytes
		if i == 0 || o.network && !outs[0].network {
			lat = st
		}
	}
	log.Info("stopped", "elapsed", clock.Now().Round(time.Millisecond), "frames", frames, "keyframes", keys,
		"encoder", e.video.Encoder(), "encoder_fallbacks", e.video.Fallbacks(), "encoder_switches", e.video.Switches(),
		"reconnects", reconnects, "bitrate_changes", ad.Changes(), "dropped_before_encoder", droppedBefore,
		"dropped_sending", dropped, "bytes", bytes,
		"latency_p50_ms", lat.LatencyP50.Milliseconds(), "latency_p99_ms", lat.LatencyP99.Milliseconds())
	if len(outs) < 2 {
		return
	}
	for _, o := range outs {
		st := o.stats()
		if !o.network {
			log.Info("output stopped", "component", "pipeline", "dest", o.name, "files", st.Sessions,
				"dropped", st.VideoDropped, "bytes", st.Bytes)
			continue
		}
		log.Info("output stopped", "component", "pipeline", "dest", o.name, "reconnects", max(st.Sessions-1, 0),
			"dropped_sending", st.VideoDropped, "bytes", st.Bytes,
			"latency_p50_ms", st.LatencyP50.Milliseconds(), "latency_p99_ms", st.LatencyP99.Milliseconds())
	}
}

func (e *encoders) close() {
	if e.video != nil {
		e.video.Close()
	}
	for _, a := range e.audio {
		a.Close()
	}
}
