package main

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

// TestCompletion: each shell's script loads in that shell where it is
// installed (bash always is), and golive answers the completion requests
// the scripts make: commands, then a command's flags.
func TestCompletion(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish"} {
		var out, errb bytes.Buffer
		if code := run([]string{"golive", "completion", shell}, &out, &errb); code != exitOK || !strings.Contains(out.String(), "golive") {
			t.Errorf("%s: exit %d: %s", shell, code, errb.String())
		}
		if shell == "bash" {
			load := exec.Command("bash", "-c", out.String()+"\ncomplete -p golive")
			if b, err := load.CombinedOutput(); err != nil || !strings.Contains(string(b), "_golive_complete") {
				t.Errorf("bash does not load the script: %v\n%s", err, b)
			}
		}
	}
	if code := run([]string{"golive", "completion", "tcsh"}, &bytes.Buffer{}, &bytes.Buffer{}); code != exitUsage {
		t.Errorf("tcsh: exit %d, want 2", code)
	}
	// urfave/cli reads the request from os.Args: ask the binary.
	bin := goliveBinary(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--generate-bash-completion"}, "check"},
		{[]string{"push", "--enc", "--generate-bash-completion"}, "--encoder"},
		{[]string{"push", "-", "--generate-bash-completion"}, "--encoder"},
	} {
		out, _ := exec.Command(bin, tc.args...).Output()
		if !strings.Contains(string(out), tc.want) {
			t.Errorf("%v: %q lacks %q", tc.args, out, tc.want)
		}
	}
	// A completion request never goes live, also where urfave/cli does
	// not take it for one (after "--").
	for _, args := range [][]string{
		{"push", "rtmp://127.0.0.1:1/live/k", "x", "--generate-bash-completion"},
		{"push", "rtmp://127.0.0.1:1/live/k", "--", "--generate-bash-completion"},
	} {
		cmd := exec.Command(bin, args...)
		if err := cmd.Run(); cmd.ProcessState.ExitCode() == exitConnect {
			t.Errorf("%v ran a push: %v", args, err)
		}
	}
}

// TestVersion: golive version names the FFmpeg libraries and the encoders.
func TestVersion(t *testing.T) {
	var out bytes.Buffer
	if code := run([]string{"golive", "version"}, &out, &bytes.Buffer{}); code != exitOK {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"golive ", "libavcodec 59.", "libavformat 59.", "libswscale 6.", "H.264 encoders: ", "x264"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("version lacks %q:\n%s", want, out.String())
		}
	}
}

// TestHelpSaysWhatItDoes: the top line names WHIP and the hardware encoders.
func TestHelpSaysWhatItDoes(t *testing.T) {
	var out bytes.Buffer
	run([]string{"golive", "--help"}, &out, &bytes.Buffer{})
	for _, want := range []string{"WHIP", "hardware encoder", "check", "completion"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("golive --help lacks %q", want)
		}
	}
}
