package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/golive/golive/internal/testpeer"
	"github.com/golive/golive/internal/testutil"
)

// pushOpts parses a push command line (without running it) into its options.
func pushOpts(t *testing.T, args ...string) (pushOptions, error) {
	t.Helper()
	cmd := pushCommand()
	var got pushOptions
	cmd.Action = func(c *cli.Context) error {
		var err error
		got, err = pushOptionsFrom(c)
		return err
	}
	app := &cli.App{Name: "golive", Commands: []*cli.Command{cmd}, Writer: io.Discard, ErrWriter: io.Discard,
		ExitErrHandler: func(*cli.Context, error) {}}
	err := app.Run(append([]string{"golive", "push"}, args...))
	return got, err
}

// writeConfig writes a config file for the test and returns its path.
func writeConfig(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "golive.yaml")
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// configFlags are push's flags that the config file takes (all but --config).
func configFlags() []cli.Flag {
	var fs []cli.Flag
	for _, f := range pushCommand().Flags {
		if f.Names()[0] != "config" {
			fs = append(fs, f)
		}
	}
	return fs
}

// TestConfigKeysRoundTrip: every key gives the same options as its flag.
func TestConfigKeysRoundTrip(t *testing.T) {
	const url = "rtmp://127.0.0.1/live/key"
	for _, f := range configFlags() {
		name := f.Names()[0]
		var args []string
		var yaml string
		switch f.(type) {
		case *cli.BoolFlag:
			args, yaml = []string{"--" + name}, name+": true"
		case *cli.IntFlag:
			args, yaml = []string{"--" + name, "7"}, name+": 7"
		case *cli.Float64Flag:
			args, yaml = []string{"--" + name, "0.25"}, name+": 0.25"
		case *cli.DurationFlag:
			args, yaml = []string{"--" + name, "90s"}, name+": 90s"
		case *cli.StringSliceFlag:
			args, yaml = []string{"--" + name, "a=1", "--" + name, "b=2"}, name+":\n  - a=1\n  - b=2"
		case *cli.StringFlag:
			args, yaml = []string{"--" + name, "value-of-" + name}, name+": value-of-"+name
		default:
			t.Fatalf("--%s: a flag of type %T the test does not know", name, f)
		}
		if name == "token-file" || name == "heartbeat-token-file" {
			p := writeConfig(t, "s3cret\n")
			args[1], yaml = p, name+": "+p
		}
		t.Run(name, func(t *testing.T) {
			fromFlag, err := pushOpts(t, append(args, url)...)
			if err != nil {
				t.Fatalf("flag: %v", err)
			}
			fromFile, err := pushOpts(t, "--config", writeConfig(t, yaml+"\n"), url)
			if err != nil {
				t.Fatalf("config: %v", err)
			}
			if !reflect.DeepEqual(fromFlag, fromFile) {
				t.Errorf("--%s: options differ\nflag:   %+v\nconfig: %+v", name, fromFlag, fromFile)
			}
			if reflect.DeepEqual(fromFile, mustDefaults(t, url)) {
				t.Errorf("%s: the key changed nothing", name)
			}
		})
	}
}

func mustDefaults(t *testing.T, url string) pushOptions {
	t.Helper()
	o, err := pushOpts(t, url)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// TestConfigErrors: a typo is never ignored: exit 2, one line naming the
// file, the line and the key.
func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct{ name, body, want string }{
		{"unknown key", "preset: 360p\nbitrat: 1M\n", `line 2: unknown key "bitrat" (did you mean bitrate?)`},
		{"far from any key", "preset: 360p\nvolume: 11\n", `line 2: unknown key "volume"`},
		{"not a number", "fps: fast\n", `line 1: fps: "fast": want a whole number`},
		{"not a duration", "\n\nduration: 2\n", `line 3: duration: "2": want a duration`},
		{"bool as a word", "loop: yes\n", `line 1: loop: "yes": want true or false`},
		{"a list for one value", "preset:\n  - 360p\n", "line 2: preset: want a single value"},
		{"empty value", "preset:\n", "line 1: preset: no value"},
		{"twice", "fps: 25\nfps: 30\n", "line 2: fps: given twice"},
		{"not a mapping", "- preset\n", "line 1: want a mapping"},
		{"syntax", "preset: [360p\n", "config "},
		{"urls a mapping", "urls:\n  a: b\n", "line 2: urls: want a value or a list"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeConfig(t, tc.body)
			code, log := push(t, "--config", path, "rtmp://127.0.0.1/live/k")
			line := strings.TrimSpace(log)
			if code != exitUsage || !strings.Contains(line, tc.want) || !strings.Contains(line, path) || strings.Contains(line, "\n") {
				t.Errorf("exit %d, %q; want exit 2 and one line with %q", code, line, tc.want)
			}
		})
	}
	if code, log := push(t, "--config", "/nonexistent/golive.yaml"); code != exitUsage || !strings.Contains(log, "no such file") {
		t.Errorf("missing file: exit %d, %q", code, log)
	}
}

// TestConfigPrecedence: the command line wins over the file, the file over
// the defaults; a URL argument wins over urls:.
func TestConfigPrecedence(t *testing.T) {
	path := writeConfig(t, "preset: 360p\nfps: 25\nabr: \"off\"\nurls: [rtmp://from-file/live/a]\n")
	o, err := pushOpts(t, "--config", path, "--fps", "50")
	if err != nil {
		t.Fatal(err)
	}
	if o.Preset != "360p" || o.FPS != 50 || o.ABR != "off" || !slices.Equal(o.URLs, []string{"rtmp://from-file/live/a"}) || o.ConnectTimeout.Seconds() != 10 {
		t.Errorf("got %+v", o)
	}
	if o, _ := pushOpts(t, "--config", path, "rtmp://from-args/live/b"); !slices.Equal(o.URLs, []string{"rtmp://from-args/live/b"}) {
		t.Errorf("URLs %q, want the argument's", o.URLs)
	}
	two := writeConfig(t, "urls:\n  - rtmp://a/live/1\n  - whip://b/whip\n  - \"srt://c:9000?streamid=x\"\nrecord: /tmp/show.mkv\n")
	o, err = pushOpts(t, "--config", two)
	if err != nil || !slices.Equal(o.URLs, []string{"rtmp://a/live/1", "whip://b/whip", "srt://c:9000?streamid=x"}) || o.Record != "/tmp/show.mkv" {
		t.Errorf("three urls and a recording: %q %q, %v", o.URLs, o.Record, err)
	}
	none := writeConfig(t, "preset: 360p\n")
	if _, err := pushOpts(t, "--config", none); err == nil || !strings.Contains(err.Error(), "want a URL") {
		t.Errorf("no url: %v", err)
	}
}

// TestConfigTokenFile: secrets from a file (the config stays
// world-readable); --token and GOLIVE_TOKEN win over it.
func TestConfigTokenFile(t *testing.T) {
	secret := writeConfig(t, "  tok-from-file\n")
	path := writeConfig(t, fmt.Sprintf("token-file: %s\nheartbeat-token-file: %s\n", secret, secret))
	o, err := pushOpts(t, "--config", path, "whip://127.0.0.1/whip")
	if err != nil {
		t.Fatal(err)
	}
	if o.Token != "tok-from-file" || o.HeartbeatToken != "tok-from-file" {
		t.Errorf("tokens %q %q", o.Token, o.HeartbeatToken)
	}
	t.Setenv("GOLIVE_TOKEN", "tok-from-env")
	if o, _ := pushOpts(t, "--config", path, "whip://127.0.0.1/whip"); o.Token != "tok-from-env" {
		t.Errorf("token %q, want the environment's", o.Token)
	}
	empty := writeConfig(t, "token-file: "+writeConfig(t, "\n")+"\n")
	t.Setenv("GOLIVE_TOKEN", "")
	if _, err := pushOpts(t, "--config", empty, "whip://127.0.0.1/whip"); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("empty token file: %v", err)
	}
}

// TestConfigExample: docs/golive.example.yaml names every key (set, or in
// a comment where it needs a file of the user's) and loads.
func TestConfigExample(t *testing.T) {
	const path = "../../docs/golive.example.yaml"
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range configFlags() {
		name := f.Names()[0]
		if !regexp.MustCompile(`(?m)^#? ?` + regexp.QuoteMeta(name) + `:`).Match(data) {
			t.Errorf("the example does not name %q", name)
		}
	}
	o, err := pushOpts(t, "--config", path)
	if err != nil {
		t.Fatalf("the example does not load: %v", err)
	}
	if !slices.Equal(o.URLs, []string{"rtmp://live.example.com/live/STREAMKEY"}) || o.Source != "camera" || len(o.CameraControls) != 2 ||
		o.Encoder != "auto" || !o.WaitForServer || o.ABR != "on" || o.Status != "off" {
		t.Errorf("loaded %+v", o)
	}
}

// TestConfigPush: a push from a config file alone, end to end at nginx.
func TestConfigPush(t *testing.T) {
	testutil.RequireTool(t, "ffprobe")
	n := testpeer.StartNginx(t, testpeer.NginxConfig{Record: true})
	path := writeConfig(t, fmt.Sprintf("preset: 360p\nduration: 2s\nlog-format: json\nurls:\n  - %s\n", n.URL("fromconfig")))
	code, log := push(t, "--config", path)
	if code != exitOK {
		t.Fatalf("exit %d:\n%s", code, log)
	}
	if !strings.Contains(log, `"msg":"stopped"`) {
		t.Errorf("no JSON log: the config's log-format was not applied:\n%s", log)
	}
	if v := testutil.ProbeRecordingT(t, n.RecordPath("fromconfig")).Video(); v == nil || v.Width != 640 {
		t.Errorf("recorded video %+v, want the 360p preset", v)
	}
}
