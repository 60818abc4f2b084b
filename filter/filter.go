// Package filter is the pre-processing stage between capture and encode:
// beauty, watermark, text and colour (what each does: filter/spec), run by
// one of two backends with the same options and a visually equivalent
// result:
//
//   - filter/gl: OpenGL ES 3 shaders on a GPU, headless through EGL, on a
//     goroutine locked to its OS thread;
//   - filter/cpu: beauty in golive's own C, then a libavfilter graph, for
//     machines without a GPU (software OpenGL takes some 23 ms a 720p frame
//     where the CPU backend takes 1–2 ms).
//
// With no filter option at all no stage runs: frames go straight to the
// encoder.
package filter

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/golive/golive/filter/cpu"
	"github.com/golive/golive/filter/gl"
	"github.com/golive/golive/filter/spec"
	"github.com/golive/golive/media"
)

// Backend choices for --filter-backend.
const (
	BackendAuto = "auto" // gl on a hardware GPU, else cpu
	BackendGL   = "gl"
	BackendCPU  = "cpu"
)

// CheckBackend validates a --filter-backend value.
func CheckBackend(b string) error {
	switch b {
	case BackendAuto, BackendGL, BackendCPU:
		return nil
	}
	return fmt.Errorf("%w: --filter-backend %q: want auto, gl or cpu", spec.ErrBadOption, b)
}

// Config opens a filter stage.
type Config struct {
	Options spec.Options
	Backend string // auto (""), gl or cpu
	// Width and Height are the output size (the encoder's).
	Width, Height int
	// Format is the output frames' pixel format: I420 (the zero value) or
	// NV12, what hardware H.264 encoders take. The backend writes it
	// directly, so no conversion runs before the encoder.
	Format media.PixelFormat
	Logger *slog.Logger
}

// Open loads the options' files and opens the backend; its output frames,
// of cfg.Format, go to out. Every error reads as one line and wraps spec.ErrBadOption: a
// filter that cannot be set up fails before going live.
func Open(cfg Config, out media.VideoWriter) (spec.Backend, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("component", "filter")
	if cfg.Backend == "" {
		cfg.Backend = BackendAuto
	}
	if err := CheckBackend(cfg.Backend); err != nil {
		return nil, err
	}
	pf, err := spec.OutputFormat(cfg.Format)
	if err != nil {
		return nil, err
	}
	a, err := spec.Load(cfg.Options, cfg.Width, cfg.Height, time.Now())
	if err != nil {
		return nil, err
	}
	var b spec.Backend
	switch cfg.Backend {
	case BackendCPU:
		b, err = cpu.Open(a, pf, out)
	case BackendGL:
		b, err = gl.Open(a, pf, out)
		if err != nil {
			err = fmt.Errorf("%w: --filter-backend gl: %v", spec.ErrBadOption, err)
		}
	case BackendAuto:
		info, perr := gl.Probe()
		switch {
		case perr != nil:
			log.Debug("no OpenGL ES: the CPU backend runs the filters", "why", perr)
		case !info.Hardware:
			log.Debug("software OpenGL only: the CPU backend runs the filters", "renderer", info.Renderer)
		default:
			if b, err = gl.Open(a, pf, out); err == nil {
				break
			}
			log.Warn("GPU filters unavailable: the CPU backend runs them", "renderer", info.Renderer, "error", err)
			b, err = nil, nil
		}
		if b == nil && err == nil {
			b, err = cpu.Open(a, pf, out)
		}
	}
	if err != nil {
		if !errors.Is(err, spec.ErrBadOption) {
			err = fmt.Errorf("%w: %v", spec.ErrBadOption, err)
		}
		return nil, err
	}
	log.Info("filters", "backend", b.Name(), "format", pf.String(), "beauty", cfg.Options.Beauty,
		"watermark", cfg.Options.Watermark != "", "text", cfg.Options.Text != "", "lut", cfg.Options.LUT != "",
		"colour", cfg.Options.Colour())
	return b, nil
}
