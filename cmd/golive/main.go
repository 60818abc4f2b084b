// Command golive is a live broadcaster: it captures, encodes and publishes
// a stream to an RTMP/RTMPS server.
package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/asticode/go-astiav"
	"github.com/urfave/cli/v2"

	"github.com/golive/golive/capture"
	"github.com/golive/golive/encode"
	"github.com/golive/golive/filter/spec"
	"github.com/golive/golive/publish"
	"github.com/golive/golive/publish/record"
)

// version is set at build time (-ldflags "-X main.version=…").
var version = "dev"

// Exit codes (documented in README.md).
const (
	exitOK           = 0
	exitInternal     = 1 // a bug or an unexpected failure
	exitUsage        = 2 // bad flags, preset, URL, file: nothing was sent
	exitConnect      = 3 // cannot connect, or the connection was lost
	exitUnauthorized = 4 // the server refused the publish (key, app, denied)
)

// reportedError is an error already written to the JSON log: run does
// not print it again (a JSON log stays pure JSON lines).
type reportedError struct{ err error }

func (e reportedError) Error() string { return e.err.Error() }
func (e reportedError) Unwrap() error { return e.err }

// usageError marks errors in what the user typed.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

func exitCode(err error) int {
	var ue usageError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue), errors.Is(err, publish.ErrBadURL), errors.Is(err, capture.ErrSource),
		errors.Is(err, spec.ErrBadOption), errors.Is(err, encode.ErrUnavailable), errors.Is(err, record.ErrBadPath):
		return exitUsage
	case errors.Is(err, publish.ErrUnauthorized):
		return exitUnauthorized
	case errors.Is(err, publish.ErrConnect):
		return exitConnect
	}
	return exitInternal
}

func main() {
	os.Exit(run(os.Args, os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	astiav.SetLogLevel(astiav.LogLevelError)
	app := newApp(stdout, stderr)
	err := app.Run(args)
	code := exitCode(err)
	var reported reportedError
	if err != nil && !errors.As(err, &reported) {
		fmt.Fprintf(stderr, "golive: %s\n", oneLine(err.Error()))
	}
	return code
}

func newApp(stdout, stderr io.Writer) *cli.App {
	return &cli.App{
		Name:                 "golive",
		Usage:                "live broadcaster: capture (camera, microphone, files), filter, encode (the machine's hardware encoder or libx264) and publish over RTMP/RTMPS or WHIP (WebRTC), surviving bad networks",
		EnableBashCompletion: true,
		Version:              version,
		Writer:               stdout,
		ErrWriter:            stderr,
		// Errors are printed once, by run, and mapped to exit codes there.
		ExitErrHandler: func(*cli.Context, error) {},
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return usageError{err}
		},
		Commands: []*cli.Command{pushCommand(), checkCommand(), devicesCommand(), presetsCommand(), versionCommand(), completionCommand()},
		CommandNotFound: func(c *cli.Context, name string) {
			fmt.Fprintf(stderr, "golive: unknown command %q (try: golive help)\n", name)
			os.Exit(exitUsage)
		},
	}
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// newLogger makes the one logger every component gets: text (or JSON with
// --log-format json) on w.
func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, usagef("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, usagef("--log-format %q: want text or json", format)
}
