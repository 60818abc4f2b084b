package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/golive/golive/capture/audio"
	"github.com/golive/golive/capture/v4l2"
)

func devicesCommand() *cli.Command {
	return &cli.Command{
		Name:  "devices",
		Usage: "list cameras (with their formats, sizes and rates) and microphones",
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
			if c.Bool("json") {
				enc := json.NewEncoder(c.App.Writer)
				enc.SetIndent("", "  ")
				return enc.Encode(struct {
					Cameras     []v4l2.DeviceInfo  `json:"cameras"`
					Microphones []audio.DeviceInfo `json:"microphones"`
				}{cams, mics})
			}
			printDevices(c.App.Writer, cams, mics)
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
