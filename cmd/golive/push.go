package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/urfave/cli/v2"

	"github.com/golive/golive/capture"
	"github.com/golive/golive/encode"
	"github.com/golive/golive/filter"
	"github.com/golive/golive/filter/spec"
	"github.com/golive/golive/internal/abr"
	"github.com/golive/golive/internal/pipeline"
	"github.com/golive/golive/internal/preset"
	"github.com/golive/golive/internal/status"
	"github.com/golive/golive/publish"
	"github.com/golive/golive/publish/record"
	"github.com/golive/golive/publish/rtmp"
	"github.com/golive/golive/publish/srt"
	"github.com/golive/golive/publish/whip"
)

// pushOptions is what `golive push` takes.
type pushOptions struct {
	URLs           []string // the destinations
	Record         string   // --record PATH
	RecordSegment  time.Duration
	ABRFollow      string // fastest|slowest
	Preset         string
	Bitrate        string
	FPS            int
	Size           string
	Source         string
	Camera         string
	CameraControls []string
	Mic            string
	Slate          string
	Loop           bool
	Duration       time.Duration
	CAFile         string
	InsecureTLS    bool
	ConnectTimeout time.Duration
	Protocol       string   // auto|rtmp|whip
	Token          string   // WHIP bearer token
	ICEServers     []string // WHIP --ice-server
	LogFormat      string
	LogLevel       string
	Status         string // auto|on|off
	ABR            string // on|off
	ABRScale       string // on|off
	ReconnectMax   int
	WaitForServer  bool
	RetryRefused   bool
	HeartbeatURL   string
	HeartbeatToken string
	HeartbeatEvery time.Duration
	StatusAddr     string
	// Filters.
	Beauty           float64
	Watermark        string
	WatermarkPos     string
	WatermarkScale   float64
	WatermarkOpacity float64
	Text             string
	TextSize         int
	TextPos          string
	FilterMargin     int
	LUT              string
	Brightness       float64
	Contrast         float64
	Saturation       float64
	FilterBackend    string
	Encoder          string // "": the preset's (auto)

	preset preset.Preset      // filled by check
	filter spec.Options       // filled by check
	ice    []webrtc.ICEServer // filled by check
	follow abr.Follow         // filled by check
}

// filterFlags are the filter stage's options (filter/spec).
func filterFlags() []cli.Flag {
	d := spec.Defaults()
	return []cli.Flag{
		&cli.Float64Flag{Name: "beauty", Category: "Filters", Usage: "skin smoothing, brightening and edge sharpening, strength 0..1 (0: off), e.g. 0.6"},
		&cli.StringFlag{Name: "watermark", Category: "Filters", Usage: "PNG or JPEG logo (alpha respected) drawn over the picture"},
		&cli.StringFlag{Name: "watermark-pos", Category: "Filters", Value: d.WatermarkPos.String(), Usage: "top-left, top-right, bottom-left, bottom-right or X,Y (pixels)"},
		&cli.Float64Flag{Name: "watermark-scale", Category: "Filters", Value: d.WatermarkScale, Usage: "logo size, times its own size"},
		&cli.Float64Flag{Name: "watermark-opacity", Category: "Filters", Value: d.WatermarkOpacity, Usage: "logo opacity 0..1"},
		&cli.StringFlag{Name: "text", Category: "Filters", Usage: "caption with strftime expansion, e.g. \"Lobby cam %Y-%m-%d %H:%M:%S\""},
		&cli.IntFlag{Name: "text-size", Category: "Filters", Usage: "caption font height in pixels (default: the frame height / 18)"},
		&cli.StringFlag{Name: "text-pos", Category: "Filters", Value: d.TextPos.String(), Usage: "top-left, top-right, bottom-left, bottom-right or X,Y (pixels)"},
		&cli.IntFlag{Name: "filter-margin", Category: "Filters", Value: d.Margin, Usage: "distance in pixels of the logo and the caption from the frame's edge"},
		&cli.StringFlag{Name: "lut", Category: "Filters", Usage: ".cube 3D LUT file (a colour look)"},
		&cli.Float64Flag{Name: "brightness", Category: "Filters", Usage: "added to R, G and B, -1..1"},
		&cli.Float64Flag{Name: "contrast", Category: "Filters", Value: d.Contrast, Usage: "around mid-grey, 0..4 (1: unchanged)"},
		&cli.Float64Flag{Name: "saturation", Category: "Filters", Value: d.Saturation, Usage: "0..4 (0: black and white, 1: unchanged)"},
		&cli.StringFlag{Name: "filter-backend", Category: "Filters", Value: filter.BackendAuto, Usage: "auto (OpenGL ES on a hardware GPU, else libavfilter), gl or cpu"},
	}
}

func pushCommand() *cli.Command {
	return &cli.Command{
		Name:      "push",
		Usage:     "capture, encode and publish a live stream",
		ArgsUsage: "URL...   (one or more of rtmp://host[:port]/app[/instance]/key, rtmps://…, whip://host[:port]/path, whips://…, srt://host:port?streamid=…; none with --record)",
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return usagef("push: %v (see golive push --help)", err)
		},
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "config", Usage: "YAML file of push options, keyed by their long names, and urls: (see docs/golive.example.yaml); flags on the command line win"},
			&cli.StringFlag{Name: "preset", Value: "720p30", Usage: "preset name (see: golive presets; 720p = 720p30) or a YAML file"},
			&cli.StringFlag{Name: "bitrate", Usage: "video bitrate, e.g. 3000k or 3M (overrides the preset; min/max scale with it)"},
			&cli.IntFlag{Name: "fps", Usage: "frame rate (overrides the preset; 0: the preset's)"},
			&cli.StringFlag{Name: "size", Usage: "WIDTHxHEIGHT, e.g. 1280x720 (overrides the preset)"},
			&cli.StringFlag{Name: "source", Value: "test", Usage: "what to stream: test (a moving pattern with a clock, and a 1 kHz tone), test:sync (a flash and a beep each second, to check A/V sync), camera, file:PATH, or pipe:FORMAT:WxH@FPS (raw yuv420p, nv12 or yuyv422 frames on standard input, e.g. from rpicam-vid)"},
			&cli.StringFlag{Name: "camera", Usage: "camera device for --source camera, e.g. /dev/video0 (default: the first one; see golive devices)"},
			&cli.StringSliceFlag{Name: "camera-control", Usage: "set a V4L2 control, name=value (repeatable), e.g. brightness=140, focus_automatic_continuous=0"},
			&cli.StringFlag{Name: "mic", Usage: "microphone: default, a name from golive devices, or none (default: the default microphone with --source camera; the source's own audio otherwise)"},
			&cli.StringFlag{Name: "slate", Usage: "PNG or JPEG shown while the camera is gone (default: a generated 'camera unavailable' card)"},
			&cli.BoolFlag{Name: "loop", Usage: "--source file:…: play the file again and again (24/7 playout)"},
			&cli.DurationFlag{Name: "duration", Usage: "stop cleanly after this long, e.g. 30s or 1h (0: until interrupted)"},
			&cli.StringFlag{Name: "ca-file", Usage: "PEM file of certificate authorities to trust for rtmps://"},
			&cli.BoolFlag{Name: "insecure-tls", Usage: "rtmps://: do not verify the server's certificate"},
			&cli.DurationFlag{Name: "connect-timeout", Value: 10 * time.Second, Usage: "give up connecting after this long"},
			&cli.StringFlag{Name: "protocol", Value: "auto", Usage: "auto (from the URL's scheme), rtmp or whip (for an https:// WHIP endpoint)"},
			&cli.StringFlag{Name: "token", EnvVars: []string{"GOLIVE_TOKEN"}, Usage: "WHIP: bearer token (never logged; prefer the environment variable, which ps does not show)"},
			&cli.StringFlag{Name: "token-file", Usage: "WHIP: read the bearer token from this file (when --token and GOLIVE_TOKEN are not given)"},
			&cli.StringSliceFlag{Name: "ice-server", Usage: "WHIP: STUN/TURN server, stun:host[:port] or turn:user:password@host[:port][?transport=tcp] (repeatable)"},
			&cli.StringFlag{Name: "abr", Category: "Network", Value: "on", Usage: "adaptive bitrate: on (follow the link, between the preset's minimum and target) or off"},
			&cli.StringFlag{Name: "abr-follow", Category: "Network", Value: "fastest", Usage: "with several destinations, whose link the one video encoder follows: fastest (those that keep up; a slower one drops video to keyframes in its own queue) or slowest (protect the weakest)"},
			&cli.StringFlag{Name: "record", Category: "Recording", Usage: "record locally too (or only, without a URL): PATH ending in .mp4 (fragmented: safe against kill -9 and power cuts), .mkv, .flv or .ts; strftime verbs allowed, e.g. /var/lib/golive/show-%Y%m%d-%H%M%S.mp4"},
			&cli.DurationFlag{Name: "record-segment", Category: "Recording", Usage: "start a new recording file at the first keyframe after this long, e.g. 10m (0: one file); timestamps run on across files"},
			&cli.StringFlag{Name: "abr-scale", Category: "Network", Value: "off", Usage: "on: when the bitrate has been at the minimum for 10 s, encode a smaller picture (the presets below: 720p → 480p → 360p); back up when the link recovers"},
			&cli.IntFlag{Name: "reconnect-max", Category: "Network", Usage: "attempts per outage before giving up once live (0: forever; -1: never reconnect)"},
			&cli.BoolFlag{Name: "wait-for-server", Category: "Network", Usage: "retry the first connection too, as after an outage (kiosks that boot before their network), instead of failing fast"},
			&cli.BoolFlag{Name: "retry-refused", Category: "Network", Usage: "retry a publish the server refused (wrong key, denied) instead of exiting with code 4"},
			&cli.StringFlag{Name: "heartbeat-url", Category: "Monitoring", Usage: "POST the stream's status (JSON) here at each interval and on every state change; the reply may order {\"action\":\"stop\"} or {\"max_bitrate\":N}"},
			&cli.DurationFlag{Name: "heartbeat-interval", Category: "Monitoring", Value: 10 * time.Second, Usage: "time between heartbeats"},
			&cli.StringFlag{Name: "heartbeat-token", Category: "Monitoring", EnvVars: []string{"GOLIVE_HEARTBEAT_TOKEN"}, Usage: "bearer token for the heartbeat (never logged)"},
			&cli.StringFlag{Name: "heartbeat-token-file", Category: "Monitoring", Usage: "read the heartbeat's bearer token from this file (when --heartbeat-token and GOLIVE_HEARTBEAT_TOKEN are not given)"},
			&cli.StringFlag{Name: "status-addr", Category: "Monitoring", Usage: "serve GET /status (the heartbeat's JSON) and GET /metrics (Prometheus) on this address, e.g. 127.0.0.1:9090"},
			&cli.StringFlag{Name: "encoder", Usage: "H.264 encoder: auto (the preset's default: the first hardware encoder that works — v4l2m2m, nvenc, vaapi, qsv — else x264), x264, v4l2m2m, vaapi, nvenc or qsv (see: golive devices)"},
			&cli.StringFlag{Name: "log-format", Value: "text", Usage: "text or json"},
			&cli.StringFlag{Name: "log-level", Value: "info", Usage: "debug, info, warn or error"},
			&cli.StringFlag{Name: "status", Value: "auto", Usage: "one-line live status: auto (on a terminal), on or off"},
		}, filterFlags()...),
		Action: func(c *cli.Context) error {
			o, err := pushOptionsFrom(c)
			if err != nil {
				return err
			}
			if err := o.check(); err != nil {
				return err
			}
			ctx, stop := signalContext(c.Context, c.App.ErrWriter)
			defer stop()
			return runPush(ctx, o, c.App.ErrWriter)
		},
	}
}

// pushOptionsFrom reads push's flags, with the --config file under them,
// and the destination: the URL argument, or the file's urls.
func pushOptionsFrom(c *cli.Context) (pushOptions, error) {
	if slices.Contains(c.Args().Slice(), "--generate-bash-completion") {
		// A shell asking for completions where urfave/cli did not see it:
		// never go live on a TAB.
		return pushOptions{}, usagef("push: completion request, nothing done")
	}
	urls, err := applyConfig(c)
	if err != nil {
		return pushOptions{}, err
	}
	if c.NArg() > 0 {
		urls = c.Args().Slice() // the command line wins
	}
	if len(urls) == 0 && c.String("record") == "" {
		return pushOptions{}, usagef("push: want a URL (an argument, or urls: in --config), or --record PATH (golive push [flags] rtmp://host/app/key)")
	}
	o := pushOptions{
		URLs: urls, Record: c.String("record"), RecordSegment: c.Duration("record-segment"), ABRFollow: c.String("abr-follow"),
		Preset: c.String("preset"), Bitrate: c.String("bitrate"),
		FPS: c.Int("fps"), Size: c.String("size"), Source: c.String("source"),
		Camera: c.String("camera"), CameraControls: c.StringSlice("camera-control"), Mic: c.String("mic"),
		Slate: c.String("slate"), Loop: c.Bool("loop"),
		Duration: c.Duration("duration"), CAFile: c.String("ca-file"), InsecureTLS: c.Bool("insecure-tls"),
		ConnectTimeout: c.Duration("connect-timeout"), Protocol: c.String("protocol"),
		Token: c.String("token"), ICEServers: c.StringSlice("ice-server"), LogFormat: c.String("log-format"),
		LogLevel: c.String("log-level"), Status: c.String("status"),
		ABR: c.String("abr"), ABRScale: c.String("abr-scale"), ReconnectMax: c.Int("reconnect-max"), WaitForServer: c.Bool("wait-for-server"),
		RetryRefused: c.Bool("retry-refused"), HeartbeatURL: c.String("heartbeat-url"),
		HeartbeatToken: c.String("heartbeat-token"), HeartbeatEvery: c.Duration("heartbeat-interval"),
		StatusAddr: c.String("status-addr"),
		Beauty:     c.Float64("beauty"), Watermark: c.String("watermark"), WatermarkPos: c.String("watermark-pos"),
		WatermarkScale: c.Float64("watermark-scale"), WatermarkOpacity: c.Float64("watermark-opacity"),
		Text: c.String("text"), TextSize: c.Int("text-size"), TextPos: c.String("text-pos"),
		FilterMargin: c.Int("filter-margin"), LUT: c.String("lut"), Brightness: c.Float64("brightness"),
		Contrast: c.Float64("contrast"), Saturation: c.Float64("saturation"), FilterBackend: c.String("filter-backend"),
		Encoder: c.String("encoder"),
	}
	for _, t := range []struct {
		file string
		into *string
	}{{c.String("token-file"), &o.Token}, {c.String("heartbeat-token-file"), &o.HeartbeatToken}} {
		if t.file == "" || *t.into != "" {
			continue
		}
		b, err := os.ReadFile(t.file)
		if err != nil {
			return o, usagef("token file: %v", err)
		}
		if *t.into = strings.TrimSpace(string(b)); *t.into == "" {
			return o, usagef("token file %s: empty", t.file)
		}
	}
	return o, nil
}

// check validates everything before anything goes live.
func (o *pushOptions) check() error {
	p, err := preset.Load(o.Preset)
	if err != nil {
		return usageError{err}
	}
	if err := p.Apply(preset.Overrides{Bitrate: o.Bitrate, FPS: o.FPS, Size: o.Size}); err != nil {
		return usageError{err}
	}
	o.preset = p
	if o.Encoder != "" {
		if err := encode.CheckName(o.Encoder); err != nil {
			return usageError{err}
		}
	}
	if err := capture.CheckSource(o.Source); err != nil {
		return usageError{err}
	}
	if o.Loop && !strings.HasPrefix(o.Source, "file:") {
		return usagef("--loop: only with --source file:PATH")
	}
	if o.Camera != "" && o.Source != capture.SourceCamera {
		return usagef("--camera: only with --source camera")
	}
	for _, kv := range o.CameraControls {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return usagef("--camera-control %q: want name=value", kv)
		}
	}
	if o.Slate != "" {
		if _, err := os.Stat(o.Slate); err != nil {
			return usagef("--slate: %v", err)
		}
	}
	if err := o.checkDestination(); err != nil {
		return err
	}
	if o.Duration < 0 {
		return usagef("--duration %v: must not be negative", o.Duration)
	}
	if o.ConnectTimeout <= 0 {
		return usagef("--connect-timeout %v: must be positive", o.ConnectTimeout)
	}
	if o.CAFile != "" {
		if _, err := os.Stat(o.CAFile); err != nil {
			return usagef("--ca-file: %v", err)
		}
	}
	switch o.Status {
	case "auto", "on", "off":
	default:
		return usagef("--status %q: want auto, on or off", o.Status)
	}
	if o.ABR != "on" && o.ABR != "off" {
		return usagef("--abr %q: want on or off", o.ABR)
	}
	if o.ABRScale != "on" && o.ABRScale != "off" {
		return usagef("--abr-scale %q: want on or off", o.ABRScale)
	}
	if o.follow, err = abr.ParseFollow(o.ABRFollow); err != nil {
		return usagef("--abr-follow %v", err)
	}
	if o.RecordSegment < 0 {
		return usagef("--record-segment %v: must not be negative", o.RecordSegment)
	}
	if o.RecordSegment > 0 && o.Record == "" {
		return usagef("--record-segment: only with --record")
	}
	if o.Record != "" {
		if err := record.CheckPath(o.Record); err != nil {
			return usageError{err}
		}
	}
	if o.ABRScale == "on" && o.ABR == "off" {
		return usagef("--abr-scale on: needs --abr on")
	}
	if o.ReconnectMax < -1 {
		return usagef("--reconnect-max %d: want a count, 0 (forever) or -1 (never)", o.ReconnectMax)
	}
	if o.HeartbeatURL != "" {
		if o.HeartbeatEvery < 100*time.Millisecond {
			return usagef("--heartbeat-interval %v: want 100ms or more", o.HeartbeatEvery)
		}
		hb := status.Heartbeat{URL: o.HeartbeatURL, Interval: o.HeartbeatEvery, Snapshot: func() status.Document { return status.Document{} }}
		if err := hb.Check(); err != nil {
			return usagef("--heartbeat-url: %v", err)
		}
	}
	return o.checkFilter()
}

// checkDestination validates each URL for its protocol, and the WHIP
// options.
func (o *pushOptions) checkDestination() error {
	switch o.Protocol {
	case "auto", "rtmp", "whip":
	default:
		return usagef("--protocol %q: want auto, rtmp or whip", o.Protocol)
	}
	anyWHIP := false
	seen := map[string]bool{}
	for _, u := range o.URLs {
		if seen[u] {
			return usagef("push: %s given twice", publish.Redact(u))
		}
		seen[u] = true
		switch pipeline.URLKind(u, o.Protocol) {
		case pipeline.KindWHIP:
			if _, err := whip.Endpoint(u, true); err != nil {
				return err
			}
			anyWHIP = true
		case pipeline.KindSRT:
			if _, err := srt.ParseURL(u); err != nil {
				return err
			}
		default:
			if _, err := rtmp.ParseURL(u); err != nil {
				return err
			}
		}
	}
	if !anyWHIP {
		if len(o.ICEServers) > 0 {
			return usagef("--ice-server: only for WHIP")
		}
		return nil
	}
	for _, s := range o.ICEServers {
		srv, err := whip.ParseICEServer(s)
		if err != nil {
			return usagef("--ice-server: %v", err)
		}
		o.ice = append(o.ice, srv)
	}
	return nil
}

// checkFilter validates the filter flags; their files are read when the
// push starts (still before going live).
func (o *pushOptions) checkFilter() error {
	f := spec.Options{
		Beauty: o.Beauty, Watermark: o.Watermark, WatermarkScale: o.WatermarkScale, WatermarkOpacity: o.WatermarkOpacity,
		Margin: o.FilterMargin, Text: o.Text, TextSize: o.TextSize, LUT: o.LUT,
		Brightness: o.Brightness, Contrast: o.Contrast, Saturation: o.Saturation,
	}
	var err error
	if f.WatermarkPos, err = spec.ParsePosition(o.WatermarkPos); err != nil {
		return usagef("--watermark-pos: %v", err)
	}
	if f.TextPos, err = spec.ParsePosition(o.TextPos); err != nil {
		return usagef("--text-pos: %v", err)
	}
	if err := f.Check(); err != nil {
		return usageError{err}
	}
	if err := filter.CheckBackend(o.FilterBackend); err != nil {
		return usageError{err}
	}
	o.filter = f
	return nil
}

func runPush(ctx context.Context, o pushOptions, stderr io.Writer) error {
	showStatus := o.Status == "on" || (o.Status == "auto" && isTerminal(stderr) && o.LogFormat == "text")
	out := &statusWriter{w: stderr, line: showStatus}
	log, err := newLogger(out, o.LogFormat, o.LogLevel)
	if err != nil {
		return err
	}
	dests := make([]string, len(o.URLs))
	for i, u := range o.URLs {
		dests[i] = publish.Redact(u)
	}
	log.Info("starting", "component", "push", "preset", o.preset.String(), "urls", strings.Join(dests, " "),
		"record", o.Record, "source", o.Source)
	cfg := pipeline.Config{
		Preset: o.preset, Capture: capture.Options{Source: o.Source, Camera: o.Camera, CameraControls: o.CameraControls,
			Mic: o.Mic, Slate: o.Slate, Loop: o.Loop}, URLs: o.URLs, Protocol: o.Protocol,
		Record: o.Record, RecordSegment: o.RecordSegment, ABRFollow: o.follow, Token: o.Token, ICEServers: o.ice,
		CAFile: o.CAFile, InsecureTLS: o.InsecureTLS,
		ConnectTimeout: o.ConnectTimeout, Duration: o.Duration, Version: version, Logger: log,
		Filter: &o.filter, FilterBackend: o.FilterBackend, Encoder: o.Encoder,
		ABR:       o.ABR == "on",
		ABRScale:  o.ABRScale == "on",
		Reconnect: publish.Reconnect{Max: o.ReconnectMax, RetryRefused: o.RetryRefused, Wait: o.WaitForServer},
		Control:   &pipeline.Control{},
	}
	mon := newMonitor(o)
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	if err := mon.start(ctx, o, log, cfg.Control, stop); err != nil {
		return err
	}
	sd, err := newSystemd()
	if err != nil {
		log.Warn("systemd notify socket", "component", "push", "error", err)
	}
	defer sd.close()
	cfg.OnState = func(st string) {
		mon.setState(st)
		sd.state(st)
	}
	cfg.StatusEvery = time.Second
	if o.HeartbeatURL != "" {
		cfg.StatusEvery = min(cfg.StatusEvery, o.HeartbeatEvery) // each heartbeat fresh
	}
	cfg.StatusEvery = sd.statusEvery(cfg.StatusEvery)
	cfg.OnStatus = func(s pipeline.Status) {
		mon.last.Store(&s)
		sd.status(s)
		if showStatus {
			out.status(formatStatus(s))
		}
	}
	sd.watchdog(mon.last.Load)
	err = pipeline.Run(ctx, cfg)
	out.status("")
	mon.stop()
	if err != nil && o.LogFormat == "json" {
		log.Error("failed", "component", "push", "error", oneLine(err.Error()), "exit_code", exitCode(err))
		return reportedError{err}
	}
	return err
}

func formatStatus(s pipeline.Status) string {
	e := s.Elapsed.Truncate(time.Second)
	state := s.State
	if state == "" {
		state = pipeline.StateLive
	}
	line := fmt.Sprintf("%s %02d:%02d:%02d  %5.1f fps  %5d kbit/s (target %d)  dropped %d  queue %v",
		state, int(e.Hours()), int(e.Minutes())%60, int(e.Seconds())%60, s.FPS, s.Bitrate/1000, s.TargetBitrate/1000,
		s.Dropped, s.QueueDelay.Round(time.Millisecond))
	if s.Encoder != "" {
		line += "  " + s.Encoder
		if s.EncoderFallbacks > 0 {
			line += fmt.Sprintf(" (fallback ×%d)", s.EncoderFallbacks)
		}
	}
	if len(s.Destinations) > 1 {
		// Several outputs: how many in each state, and those that lag.
		count := map[string]int{}
		lagging := 0
		for _, d := range s.Destinations {
			count[d.State]++
			if d.Lagging {
				lagging++
			}
		}
		var parts []string
		for _, st := range []string{pipeline.StateLive, pipeline.StateReconnecting, pipeline.StateStarting, pipeline.StateStopped} {
			if count[st] > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", count[st], st))
			}
		}
		if lagging > 0 {
			parts = append(parts, fmt.Sprintf("%d lagging", lagging))
		}
		line += "  outputs: " + strings.Join(parts, ", ")
	}
	if st := s.Sent; st.EstimateBitrate > 0 || st.RTT > 0 { // WebRTC: what the path reports
		line += fmt.Sprintf("  est %d kbit/s  loss %.1f%%  rtt %.1f ms", st.EstimateBitrate/1000, st.Loss*100, float64(st.RTT)/1e6)
	}
	return line
}

// signalContext is cancelled by the first SIGINT/SIGTERM (a clean stop); a
// second one exits at once.
func signalContext(parent context.Context, stderr io.Writer) (context.Context, func()) {
	ctx, cancel := context.WithCancel(parent)
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		select {
		case s := <-ch:
			fmt.Fprintf(stderr, "\ngolive: %v: stopping (again to quit at once)\n", s)
			cancel()
		case <-ctx.Done():
			return
		}
		<-ch
		os.Exit(exitInternal)
	}()
	return ctx, func() { signal.Stop(ch); cancel() }
}

// statusWriter shares stderr between log lines and the one-line status: a
// log line first clears the status line, which is then drawn again.
type statusWriter struct {
	mu   sync.Mutex
	w    io.Writer
	line bool
	last string
}

func (s *statusWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.line || s.last == "" {
		return s.w.Write(p)
	}
	fmt.Fprint(s.w, "\r\033[K")
	n, err := s.w.Write(p)
	fmt.Fprint(s.w, s.last)
	return n, err
}

func (s *statusWriter) status(line string) {
	if !s.line {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprint(s.w, "\r\033[K"+line)
	if line == "" && s.last != "" {
		fmt.Fprint(s.w, "\r")
	}
	s.last = line
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
