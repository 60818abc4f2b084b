package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/golive/golive/capture"
	"github.com/golive/golive/internal/pipeline"
	"github.com/golive/golive/publish"
)

// checkCommand is `golive check`: everything a push would do short of
// going live, each step one line, with push's exit codes — for the cron
// job that must know before air time, and the kiosk being set up.
func checkCommand() *cli.Command {
	push := pushCommand()
	return &cli.Command{
		Name:      "check",
		Usage:     "check a push without going live: the config, the source (a frame), the filters, the encoder, the destination (publish accepted, then released; nothing sent)",
		ArgsUsage: "[URL]   (or urls: in --config; takes every push flag)",
		Flags:     push.Flags,
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return usagef("check: %v (see golive check --help)", err)
		},
		Action: func(c *cli.Context) error {
			if !c.IsSet("log-level") {
				c.Set("log-level", "warn") // the steps speak; the logs only when something is wrong
			}
			return runCheck(c, c.App.Writer, c.App.ErrWriter)
		},
	}
}

func runCheck(c *cli.Context, stdout, stderr io.Writer) error {
	line := func(ok bool, name, detail string) {
		mark := "✓"
		if !ok {
			mark = "✗"
		}
		fmt.Fprintf(stdout, "%s %-11s %s\n", mark, name, detail)
	}
	o, err := pushOptionsFrom(c)
	if err == nil {
		err = o.check()
	}
	if err != nil {
		line(false, "config", oneLine(err.Error()))
		return reportedError{err}
	}
	from := "the command line"
	if f := c.String("config"); f != "" {
		from = f
	}
	var to []string
	for _, u := range o.URLs {
		to = append(to, publish.Redact(u))
	}
	if o.Record != "" {
		to = append(to, "record "+o.Record)
	}
	line(true, "config", fmt.Sprintf("%s: preset %s, source %s, to %s", from, o.preset.Name, o.Source, strings.Join(to, ", ")))
	log, err := newLogger(stderr, o.LogFormat, o.LogLevel)
	if err != nil {
		return err
	}
	ctx, stop := signalContext(c.Context, stderr)
	defer stop()
	err = pipeline.Check(ctx, pipeline.Config{
		Preset: o.preset, Capture: capture.Options{Source: o.Source, Camera: o.Camera, CameraControls: o.CameraControls,
			Mic: o.Mic, Slate: o.Slate, Loop: o.Loop}, URLs: o.URLs, Protocol: o.Protocol,
		Record: o.Record, RecordSegment: o.RecordSegment, Token: o.Token, ICEServers: o.ice,
		CAFile: o.CAFile, InsecureTLS: o.InsecureTLS, ConnectTimeout: o.ConnectTimeout, Version: version, Logger: log,
		Filter: &o.filter, FilterBackend: o.FilterBackend, Encoder: o.Encoder,
	}, func(s pipeline.Step) {
		detail := s.Detail
		if s.Err != nil {
			detail = oneLine(s.Err.Error())
		}
		line(s.Err == nil, s.Name, detail)
	})
	if err != nil {
		return reportedError{err}
	}
	return nil
}
