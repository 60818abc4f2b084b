package main

import (
	"bytes"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/golive/golive/internal/testpeer"
	"github.com/golive/golive/internal/testutil"
)

// check runs `golive check …` in-process: its exit code, stdout (the
// steps) and stderr.
func check(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(append([]string{"golive", "check"}, args...), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// steps maps each step's name to its mark (✓ or ✗), in order.
func steps(out string) (names []string, ok map[string]bool) {
	ok = map[string]bool{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 {
			names = append(names, f[1])
			ok[f[1]] = f[0] == "✓"
		}
	}
	return names, ok
}

// TestCheck: golive check against real peers, with push's exit codes, and
// no media on the air.
func TestCheck(t *testing.T) {
	n := testpeer.StartNginx(t, testpeer.NginxConfig{Record: true})
	deny := testpeer.StartNginx(t, testpeer.NginxConfig{DenyPublish: true})
	closed, err := testutil.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		failed string // the step that fails ("": none)
	}{
		{"accepted", []string{n.URL("checked")}, exitOK, ""},
		{"with filters", []string{"--filter-backend", "cpu", "--brightness", "0.1", n.URL("filtered")}, exitOK, ""},
		{"refused", []string{deny.URL("denied")}, exitUnauthorized, "destination"},
		{"closed port", []string{fmt.Sprintf("rtmp://127.0.0.1:%d/live/k", closed)}, exitConnect, "destination"},
		{"missing file", []string{"--source", "file:/nonexistent.mp4", n.URL("nofile")}, exitUsage, "source"},
		{"bad config", []string{"--fps", "500", n.URL("badfps")}, exitUsage, "config"},
		{"two and a recording", []string{"--record", t.TempDir() + "/r-%Y.mkv", n.URL("first"), n.URL("second")}, exitOK, ""},
		{"one of two refused", []string{n.URL("third"), deny.URL("denied2")}, exitUnauthorized, "destination"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			code, out, log := check(t, append([]string{"--preset", "360p"}, tc.args...)...)
			t.Logf("%v:\n%s", time.Since(start).Round(time.Millisecond), out)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\n%s%s", code, tc.code, out, log)
			}
			names, ok := steps(out)
			want := []string{"config", "source", "encoder", "destination"}
			if tc.name == "with filters" {
				want = []string{"config", "source", "encoder", "filters", "destination"}
			}
			if tc.failed == "config" {
				want = []string{"config"}
			}
			switch tc.name {
			case "two and a recording":
				want = []string{"config", "source", "encoder", "destination", "destination", "destination"}
			case "one of two refused":
				want = []string{"config", "source", "encoder", "destination", "destination"}
			}
			if strings.Join(names, " ") != strings.Join(want, " ") {
				t.Fatalf("steps %v, want %v", names, want)
			}
			for _, s := range names {
				if s != "destination" && ok[s] != (s != tc.failed) {
					t.Errorf("step %s: ok %v", s, ok[s])
				}
			}
			// Each destination's line, in order: only the refused one fails.
			var dests []string
			for _, l := range strings.Split(out, "\n") {
				if f := strings.Fields(l); len(f) >= 3 && f[1] == "destination" {
					dests = append(dests, f[0]+" "+f[2])
				}
			}
			for i, d := range dests {
				refused := tc.failed == "destination" && (i == len(dests)-1)
				if strings.HasPrefix(d, "✗") != refused {
					t.Errorf("destination line %d: %q", i, d)
				}
			}
		})
	}
	// The publish was accepted, and nothing went on the air.
	if !strings.Contains(n.ErrorLog(), "publish: name='checked'") {
		t.Errorf("nginx never saw the publish")
	}
	if pkts, err := testutil.Packets(n.RecordPath("checked"), "v"); err == nil && len(pkts) > 0 {
		t.Errorf("nginx recorded %d video packets: check sent media", len(pkts))
	}
}

// TestCheckWHIP: the offer is answered, then the session DELETEd, and no
// media reaches the endpoint.
func TestCheckWHIP(t *testing.T) {
	ep := testpeer.StartWHIPEndpoint(t, testpeer.EndpointOptions{Token: "SECRETTOKEN9"})
	url := strings.Replace(ep.URL, "http://", "whip://", 1)
	t.Setenv("GOLIVE_TOKEN", "SECRETTOKEN9")
	code, out, log := check(t, "--preset", "360p", url)
	t.Logf("\n%s", out)
	if code != exitOK || ep.Count("POST") != 1 || ep.Count("DELETE") != 1 {
		t.Fatalf("exit %d, %d POST, %d DELETE\n%s%s", code, ep.Count("POST"), ep.Count("DELETE"), out, log)
	}
	time.Sleep(500 * time.Millisecond)
	if f := ep.Frames(); f != 0 {
		t.Errorf("the endpoint got %d frames", f)
	}
	t.Setenv("GOLIVE_TOKEN", "wrong")
	if code, out, _ := check(t, "--preset", "360p", url); code != exitUnauthorized {
		t.Errorf("wrong token: exit %d\n%s", code, out)
	}
	if strings.Contains(out+log, "SECRETTOKEN9") {
		t.Error("the token is in the output")
	}
}

// TestCheckSlowPipe: a producer that takes 1.5 s to start (rpicam-vid
// starting its camera) passes: the slate that stands in meanwhile is not
// taken for the source's frame; a producer that never writes fails.
func TestCheckSlowPipe(t *testing.T) {
	n := testpeer.StartNginx(t, testpeer.NginxConfig{})
	for _, tc := range []struct {
		name  string
		delay time.Duration
		write bool
		code  int
	}{
		{"slow start", 1500 * time.Millisecond, true, exitOK},
		{"never writes", 0, false, exitUsage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(goliveBinary(t), "check", "--preset", "360p", "--source", "pipe:yuv420p:640x360@30", n.URL("pipe"))
			w, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			cmd.Stdout = &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			go func() {
				defer w.Close()
				if !tc.write {
					time.Sleep(12 * time.Second)
					return
				}
				time.Sleep(tc.delay)
				frame := make([]byte, 640*360*3/2)
				for range 90 {
					if _, err := w.Write(frame); err != nil {
						return
					}
					time.Sleep(time.Second / 30)
				}
			}()
			err = cmd.Wait()
			t.Logf("\n%s", out.String())
			if code := cmd.ProcessState.ExitCode(); code != tc.code {
				t.Fatalf("exit %d (%v), want %d", code, err, tc.code)
			}
			if _, ok := steps(out.String()); ok["source"] != (tc.code == exitOK) {
				t.Errorf("source step: %v", ok["source"])
			}
		})
	}
}
