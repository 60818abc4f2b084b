package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/golive/golive/internal/preset"
)

func presetsCommand() *cli.Command {
	return &cli.Command{
		Name:  "presets",
		Usage: "list the built-in presets",
		Flags: []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "machine-readable output"}},
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return usagef("presets: %v", err)
		},
		Action: func(c *cli.Context) error {
			all, err := preset.All()
			if err != nil {
				return err
			}
			if c.Bool("json") {
				type video struct {
					Width, Height, FPS              int
					Bitrate, MinBitrate, MaxBitrate int
					KeyframeIntervalSeconds         float64 `json:"keyframe_interval_s"`
					X264Preset, Profile             string
				}
				type audio struct {
					Codec                         string
					Bitrate, SampleRate, Channels int
				}
				type entry struct {
					Name, Description string
					Video             video
					Audio             audio
				}
				out := make([]entry, 0, len(all))
				for _, p := range all {
					v, a := p.Video, p.Audio
					out = append(out, entry{p.Name, p.Description,
						video{v.Width, v.Height, v.FPS, v.Bitrate, v.MinBitrate, v.MaxBitrate, v.KeyframeInterval.Seconds(), v.X264Preset, v.Profile},
						audio{a.Codec, a.Bitrate, a.SampleRate, a.Channels}})
				}
				enc := json.NewEncoder(c.App.Writer)
				enc.SetIndent("", "  ")
				return enc.Encode(out)
			}
			tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tSIZE\tFPS\tVIDEO kbit/s (min–max)\tKEYINT\tX264\tAUDIO")
			for _, p := range all {
				v, a := p.Video, p.Audio
				fmt.Fprintf(tw, "%s\t%dx%d\t%d\t%d (%d–%d)\t%v\t%s\t%s %dk %d Hz %dch\n", p.Name, v.Width, v.Height, v.FPS,
					v.Bitrate/1000, v.MinBitrate/1000, v.MaxBitrate/1000, v.KeyframeInterval, v.X264Preset,
					a.Codec, a.Bitrate/1000, a.SampleRate, a.Channels)
			}
			fmt.Fprintln(tw, "\n'--preset 720p' means 720p30; '--preset ./mine.yaml' loads your own file.")
			return tw.Flush()
		},
	}
}
