// Package file is the `--source file:PATH [--loop]` capture source: it plays
// a media file (anything FFmpeg demuxes: mp4, mkv, flv, mov, y4m, wav, mp3 …)
// with its audio, paced in real time on the pipeline clock, and delivers
// raw frames in the pipeline's formats, so that the pipeline re-encodes a
// pre-recorded show as if it came from a camera.
//
// Open probes the file before going live; Run demuxes, decodes and converts
// (libavfilter: scale with black bars, constant frame rate, I420 BT.709
// limited range; resample and remix to interleaved S16) from one goroutine
// and emits every frame when the pipeline clock reaches its PTS.
//
// # Timestamps
//
// The file's timeline maps onto the pipeline clock:
//
//	PTS = start + (time in the file − the file's first timestamp) + loop offset
//
// where start is the clock when Run started. Video frames lie on an exact
// 1/FPS grid; audio frames of AudioFrameSamples samples lie on an exact
// sample grid. With Loop, each pass adds the played length (the end of the
// last frame) to the loop offset, so timestamps stay strictly increasing
// and continuous across the loop point (video through the fps filter, which
// repeats the last frame over a shorter stream's gap; audio by sample count,
// a gap filled with silence). Streams that start at different times keep
// that offset. Audio timestamps that stray from the sample count by more
// than audioResyncGap (exactly, at a loop point) are followed by filling the
// gap with silence or cutting the overlap, so that audio and video never
// drift apart.
//
// Both streams are paced by the same mapping and emitted in PTS order:
// nothing is emitted before its time. A file that cannot be decoded in real
// time falls behind; past maxLate, the mapping slips forward (a gap in the
// PTS, as after a freeze) instead of letting the latency grow.
//
// # Pictures
//
// The picture is turned upright (a display matrix, as phones write),
// scaled to fit with its display aspect ratio (sample aspect ratio
// included), padded with black (luma 16), and converted to I420 limited
// range; RGB sources go through the BT.709 matrix. It is not deinterlaced
// and HDR is not tone-mapped.
package file

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"time"

	"github.com/asticode/go-astiav"

	"github.com/golive/golive/media"
)

// AudioFrameSamples is the number of samples (per channel) in every
// AudioFrame: one AAC frame.
const AudioFrameSamples = 1024

// Config configures a file source.
type Config struct {
	// Path is the file to play.
	Path string
	// Loop plays the file forever: at its end, it starts again.
	Loop bool
	// Width, Height, FPS: every video frame is I420 (BT.709, limited range)
	// of exactly Width x Height (even, 16..7680 x 16..4320), the picture
	// scaled with its aspect ratio kept and black bars around it, at exactly
	// FPS (1..120) frames per second: frames are dropped or repeated as
	// needed.
	Width, Height, FPS int
	// SampleRate and Channels (1 or 2) of the audio: interleaved S16,
	// resampled and remixed from the file's, in frames of
	// AudioFrameSamples samples.
	SampleRate, Channels int
	// Clock is the pipeline clock frames are stamped and paced on. Required.
	Clock *media.Clock
	// Video receives every frame; ownership passes with the call (the
	// receiver calls Release). It must return at once (queue or drop).
	// Required.
	Video media.VideoWriter
	// Audio receives PCM and must not keep the frame or its samples after
	// it returns. It must return at once. nil drops the file's audio (which
	// still paces the video).
	Audio media.AudioWriter
	// Logger; nil means slog.Default().
	Logger *slog.Logger
}

// check validates the configuration (all but the file).
func (c *Config) check() error {
	if c.Path == "" {
		return errors.New("file: no path")
	}
	if c.Width < 16 || c.Width > 7680 || c.Height < 16 || c.Height > 4320 ||
		c.Width%2 != 0 || c.Height%2 != 0 {
		return fmt.Errorf("file: %s: size %dx%d: width and height must be even, within 16x16..7680x4320",
			c.Path, c.Width, c.Height)
	}
	if c.FPS < 1 || c.FPS > 120 {
		return fmt.Errorf("file: %s: frame rate %d: must be 1..120", c.Path, c.FPS)
	}
	if c.SampleRate < 8000 || c.SampleRate > 192000 {
		return fmt.Errorf("file: %s: sample rate %d: must be 8000..192000", c.Path, c.SampleRate)
	}
	if c.Channels < 1 || c.Channels > 2 {
		return fmt.Errorf("file: %s: %d audio channels: must be 1 or 2", c.Path, c.Channels)
	}
	if c.Clock == nil {
		return fmt.Errorf("file: %s: no Clock", c.Path)
	}
	if c.Video == nil {
		return fmt.Errorf("file: %s: no Video writer", c.Path)
	}
	return nil
}

// File is an opened media file, ready to play. Run it once, then Close it.
type File struct {
	cfg  Config
	log  *slog.Logger
	fc   *astiav.FormatContext
	open bool // fc has an open input
	pkt  *astiav.Packet

	// video and audio are the streams played (nil when the file has none);
	// all lists those that are not.
	video, audio *stream
	all          []*stream

	// firstTS is the file's first timestamp; known says whether the
	// container told it (else the first decoded frame does).
	firstTS    time.Duration
	firstKnown bool

	pool   *media.FramePool
	player player

	// discont: the format's timestamps may jump (see fixDiscontinuity).
	discont bool
	// noPace emits frames as fast as they come (benchmarks).
	noPace bool
	ran    bool
	closed bool
}

// Open opens and probes cfg.Path, and prepares its decoders and converters.
// A file that is missing, unreadable or not a media file, that has neither
// an audio nor a video stream, or whose audio or video cannot be decoded
// fails here, before going live, with one clear error ("file: PATH: …").
// It logs what it found: container, duration, codecs, size, frame rate,
// sample rate and channels.
func Open(cfg Config) (*File, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if err := statFile(cfg.Path); err != nil {
		return nil, err
	}
	f := &File{cfg: cfg, log: cfg.Logger.With("component", "capture.file")}
	if err := f.openInput(); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// statFile turns the usual mistakes into plain messages before FFmpeg sees
// the path.
func statFile(path string) error {
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("file: %s: no such file", path)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("file: %s: permission denied", path)
	case err != nil:
		return fmt.Errorf("file: %s: %w", path, err)
	case st.IsDir():
		return fmt.Errorf("file: %s: is a directory, not a media file", path)
	case st.Mode().IsRegular() && st.Size() == 0:
		return fmt.Errorf("file: %s: empty file, not a media file", path)
	}
	if !st.Mode().IsRegular() {
		return nil // a device or a pipe: FFmpeg will tell
	}
	r, err := os.Open(path)
	switch {
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("file: %s: permission denied", path)
	case err != nil:
		return fmt.Errorf("file: %s: %w", path, err)
	}
	return r.Close()
}

func (f *File) openInput() error {
	path := f.cfg.Path
	if f.fc = astiav.AllocFormatContext(); f.fc == nil {
		return fmt.Errorf("file: %s: cannot allocate a format context", path)
	}
	if err := f.fc.OpenInput(path, nil, nil); err != nil {
		return fmt.Errorf("file: %s: not a media file FFmpeg can read (%v)", path, err)
	}
	f.open = true
	f.discont = f.fc.InputFormat().Flags().Has(astiav.IOFormatFlagTsDiscont)
	if err := f.fc.FindStreamInfo(nil); err != nil {
		return fmt.Errorf("file: %s: not a media file FFmpeg can read (stream info: %v)", path, err)
	}

	var err error
	if f.video, err = f.openStream(astiav.MediaTypeVideo); err != nil {
		return err
	}
	if f.audio, err = f.openStream(astiav.MediaTypeAudio); err != nil {
		return err
	}
	for _, s := range []*stream{f.video, f.audio} {
		if s != nil {
			f.all = append(f.all, s)
		}
	}
	if f.video == nil && f.audio == nil {
		return fmt.Errorf("file: %s: no audio or video stream (a %s file FFmpeg reads, with nothing to play)",
			path, f.fc.InputFormat().Name())
	}
	if f.video != nil {
		f.pool = media.NewFramePool(f.cfg.Width, f.cfg.Height)
		if err := f.video.buildVideoGraph(&f.cfg, videoKeyOf(f.fc, f.video)); err != nil {
			return fmt.Errorf("file: %s: video converter: %w", path, err)
		}
	}
	if f.audio != nil {
		if err := f.audio.buildAudioGraph(&f.cfg, audioKeyOf(f.audio.dec)); err != nil {
			return fmt.Errorf("file: %s: audio converter: %w", path, err)
		}
	}
	f.findFirstTS()
	if f.pkt = astiav.AllocPacket(); f.pkt == nil {
		return fmt.Errorf("file: %s: cannot allocate a packet", path)
	}
	f.logFound()
	return nil
}

// openStream picks the stream of type t a player would play (cover art is
// not video) and opens its decoder; nil when the file has none.
func (f *File) openStream(t astiav.MediaType) (*stream, error) {
	streams := f.fc.Streams()
	idx := findBestStream(f.fc, t)
	if idx < 0 || idx >= len(streams) || isAttachedPicture(streams[idx]) {
		idx = -1
		for _, st := range streams {
			if st.CodecParameters().MediaType() == t && !isAttachedPicture(st) {
				idx = st.Index()
				break
			}
		}
	}
	if idx < 0 {
		return nil, nil
	}
	st := streams[idx]
	s := &stream{kind: kindOf(t), index: idx, st: st, tb: st.TimeBase()}
	if err := s.openDecoder(); err != nil {
		s.free()
		return nil, fmt.Errorf("file: %s: %w", f.cfg.Path, err)
	}
	return s, nil
}

// findFirstTS takes the file's first timestamp from the container, or from
// the played streams' start times.
func (f *File) findFirstTS() {
	if st := f.fc.StartTime(); st != astiav.NoPtsValue {
		f.firstTS, f.firstKnown = time.Duration(st)*time.Microsecond, true
		return
	}
	for _, s := range []*stream{f.video, f.audio} {
		if s == nil || s.st.StartTime() == astiav.NoPtsValue {
			continue
		}
		if t := tsToDur(s.st.StartTime(), s.tb); !f.firstKnown || t < f.firstTS {
			f.firstTS, f.firstKnown = t, true
		}
	}
}

func (f *File) logFound() {
	args := []any{"path", f.cfg.Path, "container", f.fc.InputFormat().Name()}
	if d := f.fc.Duration(); d != astiav.NoPtsValue && d > 0 {
		args = append(args, "duration", (time.Duration(d) * time.Microsecond).Round(time.Millisecond))
	} else {
		args = append(args, "duration", "unknown")
	}
	if s := f.video; s != nil {
		fr := s.st.AvgFrameRate()
		if fr.Num() <= 0 || fr.Den() <= 0 {
			fr = s.st.RFrameRate()
		}
		fps := "unknown"
		if fr.Num() > 0 && fr.Den() > 0 {
			fps = fmt.Sprintf("%.3g", fr.Float64())
		}
		args = append(args, "video", s.dec.CodecID().Name(),
			"size", fmt.Sprintf("%dx%d", s.dec.Width(), s.dec.Height()),
			"fps", fps, "pix_fmt", s.dec.PixelFormat().String())
	} else {
		args = append(args, "video", "none")
	}
	if s := f.audio; s != nil {
		args = append(args, "audio", s.dec.CodecID().Name(), "rate", s.dec.SampleRate(),
			"channels", decoderChannels(s.dec))
	} else {
		args = append(args, "audio", "none")
	}
	args = append(args, "loop", f.cfg.Loop,
		"out", fmt.Sprintf("%dx%d@%d %dHz/%dch", f.cfg.Width, f.cfg.Height, f.cfg.FPS, f.cfg.SampleRate, f.cfg.Channels))
	f.log.Info("file opened", args...)
}

// HasVideo reports whether the file has a video stream (cover art does not
// count). Without one, Run delivers audio only: a picture is the pipeline's
// job (a slate).
func (f *File) HasVideo() bool { return f.video != nil }

// HasAudio reports whether the file has an audio stream. Without one, Run
// delivers video only.
func (f *File) HasAudio() bool { return f.audio != nil }

// Close frees every FFmpeg object. Call it after Run has returned (or
// instead of Run). Idempotent.
func (f *File) Close() {
	if f.closed {
		return
	}
	f.closed = true
	f.player.releaseAll()
	if f.video != nil {
		f.video.free()
	}
	if f.audio != nil {
		f.audio.free()
	}
	if f.pkt != nil {
		f.pkt.Free()
	}
	if f.fc != nil {
		if f.open {
			f.fc.CloseInput() // frees the context too
		} else {
			f.fc.Free()
		}
	}
}
