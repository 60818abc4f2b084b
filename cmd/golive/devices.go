package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/golive/golive/capture/audio"
	"github.com/golive/golive/capture/v4l2"
	"github.com/golive/golive/encode"
	"github.com/golive/golive/filter/gl"
	"github.com/golive/golive/internal/preset"
)

// glInfo is what `golive devices` says of OpenGL ES: the renderer the GL
// filter backend would use, and whether --filter-backend auto picks it.
type glInfo struct {
	Platform string `json:"platform,omitempty"`
	Renderer string `json:"renderer,omitempty"`
	Version  string `json:"version,omitempty"`
	Hardware bool   `json:"hardware"`
	Filters  string `json:"filters"` // the backend auto picks: gl or cpu
	Error    string `json:"error,omitempty"`
}

func probeGL() glInfo {
	info, err := gl.Probe()
	if err != nil {
		return glInfo{Filters: "cpu", Error: err.Error()}
	}
	g := glInfo{Platform: info.Platform, Renderer: info.Renderer, Version: info.Version, Hardware: info.Hardware, Filters: "cpu"}
	if info.Hardware {
		g.Filters = "gl"
	}
	return g
}

func printGL(w io.Writer, g glInfo) {
	fmt.Fprintln(w, "OpenGL ES (filters):")
	switch {
	case g.Error != "":
		fmt.Fprintf(w, "  none (%s): filters run on the CPU (libavfilter)\n", g.Error)
	case !g.Hardware:
		fmt.Fprintf(w, "  %s [%s, software]: filters run on the CPU (libavfilter) unless --filter-backend gl\n", g.Renderer, g.Platform)
	default:
		fmt.Fprintf(w, "  %s [%s] %s: filters run on the GPU\n", g.Renderer, g.Platform, g.Version)
	}
}

// probeEncoders tries every H.264 encoder the machine could have, with
// the default preset's settings, as push's auto would (within its 2 s).
func probeEncoders() ([]encode.Result, error) {
	cands, err := encode.Candidates(encode.Auto)
	if err != nil {
		return nil, err
	}
	p, err := preset.Load("720p30")
	if err != nil {
		return nil, err
	}
	v := p.Video
	_, results := encode.Probe(encode.VideoConfig{Width: v.Width, Height: v.Height, FPS: v.FPS, Bitrate: v.Bitrate,
		KeyframeInterval: v.KeyframeInterval, Preset: v.X264Preset, Profile: v.Profile}, cands, 0, true)
	return results, nil
}

func printEncoders(w io.Writer, rs []encode.Result) {
	fmt.Fprintln(w, "Encoders (H.264; --encoder auto takes the first available):")
	for _, r := range rs {
		dev := r.Device
		if dev == "" {
			dev = "-"
		}
		state := "available"
		if !r.Available {
			state = "no: " + r.Reason
		}
		fmt.Fprintf(w, "  %-8s %-13s %-20s %s\n", r.Name, r.Codec, dev, state)
	}
}

func devicesCommand() *cli.Command {
	return &cli.Command{
		Name:  "devices",
		Usage: "list cameras (with their formats, sizes and rates), microphones, the GPU the filters would use and the H.264 encoders (each tried)",
		Flags: []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "machine-readable output"}},
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return usagef("devices: %v", err)
		},
		Action: func(c *cli.Context) error {
			cams, err := v4l2.List()
			if err != nil {
				return fmt.Errorf("cameras: %w", err)
			}
			mics, err := audio.List()
			if err != nil {
				return fmt.Errorf("microphones: %w", err)
			}
			if cams == nil {
				cams = []v4l2.DeviceInfo{}
			}
			if mics == nil {
				mics = []audio.DeviceInfo{}
			}
			g := probeGL()
			encs, err := probeEncoders()
			if err != nil {
				return fmt.Errorf("encoders: %w", err)
			}
			if c.Bool("json") {
				enc := json.NewEncoder(c.App.Writer)
				enc.SetIndent("", "  ")
				return enc.Encode(struct {
					Cameras     []v4l2.DeviceInfo  `json:"cameras"`
					Microphones []audio.DeviceInfo `json:"microphones"`
					GL          glInfo             `json:"gl"`
					Encoders    []encode.Result    `json:"encoders"`
				}{cams, mics, g, encs})
			}
			printDevices(c.App.Writer, cams, mics)
			printGL(c.App.Writer, g)
			printEncoders(c.App.Writer, encs)
			return nil
		},
	}
}

func printDevices(w io.Writer, cams []v4l2.DeviceInfo, mics []audio.DeviceInfo) {
	fmt.Fprintln(w, "Cameras:")
	if len(cams) == 0 {
		fmt.Fprintln(w, "  none found (no /dev/video* capture device)")
	}
	for _, d := range cams {
		fmt.Fprintf(w, "  %s  %s (%s)\n", d.Path, d.Card, d.Driver)
		for _, f := range d.Formats {
			var sizes []string
			for _, s := range f.Sizes {
				var rates []string
				for _, r := range s.FPS {
					rates = append(rates, fmt.Sprintf("%g", r))
				}
				sizes = append(sizes, fmt.Sprintf("%dx%d@%s", s.Width, s.Height, strings.Join(rates, "/")))
			}
			fmt.Fprintf(w, "    %-4s %s\n", f.FourCC, strings.Join(sizes, " "))
		}
	}
	fmt.Fprintln(w, "Microphones:")
	if len(mics) == 0 {
		fmt.Fprintln(w, "  none found")
	}
	for _, m := range mics {
		def := ""
		if m.Default {
			def = "  (default)"
		}
		fmt.Fprintf(w, "  %s  [%s] channels %v, rates %v%s\n", m.Name, m.Backend, m.Channels, m.Rates, def)
	}
}
