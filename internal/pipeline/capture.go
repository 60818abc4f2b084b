package pipeline

import (
	"io"
	"log/slog"

	"github.com/golive/golive/capture"
	"github.com/golive/golive/capture/failover"
	"github.com/golive/golive/capture/pipe"
	"github.com/golive/golive/capture/v4l2"
	"github.com/golive/golive/media"
)

// openCamera and openStdin are the seams where tests put a camera that can
// be unplugged on demand and a pipe of their own.
var (
	openCamera = func(c v4l2.Config) (failover.Device, error) {
		cam, err := v4l2.Open(c)
		if err != nil {
			return nil, err // not a typed nil in the interface
		}
		return cam, nil
	}
	openStdin = func() (io.ReadCloser, error) { return pipe.Stdin() }
)

// openSources opens the push's sources (capture.Open decides them), at
// the preset's picture and sound.
func openSources(cfg Config, clock *media.Clock, vw media.VideoWriter, aw media.AudioWriter, log *slog.Logger) (*capture.Sources, error) {
	p := cfg.Preset
	return capture.Open(capture.Config{
		Options: cfg.Capture, Width: p.Video.Width, Height: p.Video.Height, FPS: p.Video.FPS,
		SampleRate: p.Audio.SampleRate, Channels: p.Audio.Channels,
		Clock: clock, Video: vw, Audio: aw, Logger: log, OpenCamera: openCamera, OpenStdin: openStdin,
	})
}
