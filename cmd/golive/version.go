package main

import (
	"fmt"
	"runtime"

	"github.com/urfave/cli/v2"
)

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print the version of golive and of the FFmpeg it uses",
		Action: func(c *cli.Context) error {
			fmt.Fprintf(c.App.Writer, "golive %s (%s, %s/%s, libavcodec %s)\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH, libavcodecVersion())
			return nil
		},
	}
}
