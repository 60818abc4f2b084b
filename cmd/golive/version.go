package main

import (
	"fmt"
	"runtime"
	"strings"

	"github.com/urfave/cli/v2"
)

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print the version of golive, of the FFmpeg libraries it runs with, and the H.264 encoders it found",
		Action: func(c *cli.Context) error {
			w := c.App.Writer
			fmt.Fprintf(w, "golive %s (%s, %s/%s, libavcodec %s)\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH, libavcodecVersion())
			var libs []string
			for _, l := range ffmpegVersions() {
				libs = append(libs, l[0]+" "+l[1])
			}
			fmt.Fprintf(w, "FFmpeg: %s\n", strings.Join(libs, ", "))
			encs, err := probeEncoders()
			if err != nil {
				return err
			}
			var found, not []string
			for _, e := range encs {
				if e.Available {
					found = append(found, e.Name)
				} else {
					not = append(not, e.Name)
				}
			}
			fmt.Fprintf(w, "H.264 encoders: %s", strings.Join(found, ", "))
			if len(not) > 0 {
				fmt.Fprintf(w, " (not here: %s; golive devices says why)", strings.Join(not, ", "))
			}
			fmt.Fprintln(w)
			return nil
		},
	}
}
