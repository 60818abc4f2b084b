package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/golive/golive/internal/testpeer"
)

// whipKeyBeforeEnv names a golive binary of the code before the change (for
// example built from the commit before it): the section then measures it
// too, and shows both.
const whipKeyBeforeEnv = "GOLIVE_WHIPKEY_BEFORE"

// keyScenario is one kind of WHIP endpoint, pushed to n times.
type keyScenario struct {
	name string
	opt  testpeer.EndpointOptions
	n    int
}

// keySession is what one push's session start gave the endpoint.
type keySession struct {
	// firstKept: from the session's start (its first track arriving at the
	// endpoint) to the first keyframe it kept whole (its last packet's
	// arrival), wall clock; -1: none kept.
	firstKept time.Duration
	// keys: keyframes (whole, kept or not) in the session's first 1.9 s of
	// media, the next on golive's 2 s clock left out.
	keys int
}

const (
	keyPush    = 3 * time.Second        // each session's length
	keyBar     = 500 * time.Millisecond // first keyframe kept after the start, at most
	keyDropFor = 300 * time.Millisecond
)

func keyScenarios() []keyScenario {
	return []keyScenario{
		{"drops 300 ms after the tracks arrive; PLI on the track and when forwarding", testpeer.EndpointOptions{DropFor: keyDropFor, PLIOnTrack: true, PLIOnForward: true}, 20},
		{"drops 300 ms after the tracks arrive; PLI when forwarding", testpeer.EndpointOptions{DropFor: keyDropFor, PLIOnForward: true}, 5},
		{"keeps everything; PLI on the track", testpeer.EndpointOptions{PLIOnTrack: true}, 10},
		{"keeps everything; no PLI", testpeer.EndpointOptions{}, 5},
	}
}

// whipKeyframeSection is the "first keyframe every WHIP server keeps"
// benchmark (issue 15), a section of docs/BENCHMARKS.md in Markdown: short
// pushes of bin to in-process pion endpoints that drop what arrives before
// they have set up the session's tracks, or keep everything. With
// $GOLIVE_WHIPKEY_BEFORE, that binary too (the code before the change).
func whipKeyframeSection(bin string) (string, error) {
	type run struct {
		build string
		res   [][]keySession // per scenario
	}
	builds := []struct{ name, bin string }{}
	if before := os.Getenv(whipKeyBeforeEnv); before != "" {
		builds = append(builds, struct{ name, bin string }{"before", before})
	}
	builds = append(builds, struct{ name, bin string }{"after", bin})
	scs := keyScenarios()
	var runs []run
	for _, b := range builds {
		r := run{build: b.name}
		for _, sc := range scs {
			res, err := keySessions(b.bin, sc)
			if err != nil {
				return "", fmt.Errorf("%s, %s: %w", b.name, sc.name, err)
			}
			r.res = append(r.res, res)
		}
		runs = append(runs, r)
	}

	var b strings.Builder
	fmt.Fprintf(&b, "## WHIP: the first keyframe every server keeps\n\n")
	fmt.Fprintf(&b, "`golive push --preset 720p30 --duration %v whip://…` (a %v GOP), a new golive process and a new pion endpoint\n", keyPush, 2*time.Second)
	fmt.Fprintf(&b, "per session, on loopback. Some endpoints drop the media that arrives before they have set up a session's\n")
	fmt.Fprintf(&b, "tracks (here: for %v after the first packet arrives, pion's OnTrack) and ask for a keyframe (PLI) when they\n", keyDropFor)
	fmt.Fprintf(&b, "start forwarding, some also as soon as the track arrives; others keep everything, and many of those ask for a\n")
	fmt.Fprintf(&b, "keyframe as soon as the track arrives. A session starts when its first track arrives at the endpoint; the first\n")
	fmt.Fprintf(&b, "keyframe kept is the first IDR picture every packet of which the endpoint kept, at its last packet's arrival\n")
	fmt.Fprintf(&b, "(wall clock). Keyframes per session start: whole IDR pictures (kept or not) in the session's first 1.9 s of media\n")
	fmt.Fprintf(&b, "time (RTP timestamps), which leaves out the next one on the 2 s clock.\n")
	if len(runs) > 1 {
		fmt.Fprintf(&b, "\"before\" is a golive built from the commit before the change (`$%s`), \"after\" this one.\n", whipKeyBeforeEnv)
	}
	fmt.Fprintf(&b, "\n| endpoint | build | sessions | first keyframe kept after the start, median ms | max ms | within %v | keyframes per session start |\n|---|---|---|---|---|---|---|\n", keyBar)
	for i, sc := range scs {
		for _, r := range runs {
			res := r.res[i]
			var kept []float64
			within, none := 0, 0
			var keys []int
			for _, s := range res {
				if s.firstKept < 0 {
					none++
				} else {
					kept = append(kept, float64(s.firstKept.Milliseconds()))
				}
				if s.firstKept >= 0 && s.firstKept <= keyBar {
					within++
				}
				keys = append(keys, s.keys)
			}
			med, mx := "–", "–"
			if len(kept) > 0 {
				med, mx = fmt.Sprintf("%.0f", medianOf(kept)), fmt.Sprintf("%.0f", slices.Max(kept))
			}
			if none > 0 {
				mx += fmt.Sprintf(" (%d none)", none)
			}
			fmt.Fprintf(&b, "| %s | %s | %d | %s | %s | %d of %d | %s |\n", sc.name, r.build, len(res), med, mx, within, len(res), spread(keys))
		}
	}
	fmt.Fprintf(&b, "\nBars (this build):\n\n")
	after := runs[len(runs)-1]
	drop := after.res[0]
	within := 0
	for _, s := range drop {
		if s.firstKept >= 0 && s.firstKept <= keyBar {
			within++
		}
	}
	fmt.Fprintf(&b, "- first keyframe ≤ %v after the session starts in %d of %d sessions (%s): **%d of %d** — %s\n",
		keyBar, len(drop), len(drop), scs[0].name, within, len(drop), met(within == len(drop)))
	one := true
	for i, sc := range scs {
		if sc.opt.DropFor > 0 {
			continue
		}
		for _, s := range after.res[i] {
			one = one && s.keys == 1
		}
	}
	fmt.Fprintf(&b, "- keyframes per session start against an endpoint that keeps everything: one — %s\n\n", met(one))
	return b.String(), nil
}

func met(ok bool) string {
	if ok {
		return "met"
	}
	return "**not met**"
}

// spread is "n" when every value is n, else "min–max (each value's count)".
func spread(v []int) string {
	if len(v) == 0 {
		return "–"
	}
	lo, hi := slices.Min(v), slices.Max(v)
	if lo == hi {
		return fmt.Sprint(lo)
	}
	counts := map[int]int{}
	for _, x := range v {
		counts[x]++
	}
	var parts []string
	for x := lo; x <= hi; x++ {
		if counts[x] > 0 {
			parts = append(parts, fmt.Sprintf("%d×%d", counts[x], x))
		}
	}
	return fmt.Sprintf("%d–%d (%s)", lo, hi, strings.Join(parts, ", "))
}

// keySessions pushes sc.n short sessions of bin, each to a new endpoint.
func keySessions(bin string, sc keyScenario) ([]keySession, error) {
	var out []keySession
	for i := range sc.n {
		ep, err := testpeer.NewWHIPEndpoint(sc.opt)
		if err != nil {
			return nil, err
		}
		s, err := keyPushOnce(bin, ep)
		ep.Close()
		if err != nil {
			return nil, err
		}
		fmt.Printf("whipkey: %s: session %d: first keyframe kept %v after the start, %d keyframes per start\n", sc.name, i+1, s.firstKept.Round(time.Millisecond), s.keys)
		out = append(out, s)
	}
	return out, nil
}

func keyPushOnce(bin string, ep *testpeer.WHIPEndpoint) (keySession, error) {
	url := strings.Replace(ep.URL, "http://", "whip://", 1)
	cmd := exec.Command(bin, "push", "--preset", "720p30", "--duration", keyPush.String(), "--log-format", "json", "--status", "off", url)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return keySession{}, fmt.Errorf("golive: %w\n%s", err, tailOf(stderr.String()))
	}
	starts := ep.SessionStarts()
	if len(starts) != 1 {
		return keySession{}, fmt.Errorf("%d sessions, want 1\n%s", len(starts), tailOf(stderr.String()))
	}
	st := starts[0]
	ts0, ok := ep.FirstVideo(st.Session)
	if !ok {
		return keySession{}, fmt.Errorf("no video arrived\n%s", tailOf(stderr.String()))
	}
	res := keySession{firstKept: -1}
	for _, f := range ep.WholeFrames(st.Session) {
		if !f.Key {
			continue
		}
		if f.Kept && res.firstKept < 0 {
			res.firstKept = f.At.Sub(st.Arrived)
		}
		if time.Duration(int32(f.Timestamp-ts0))*time.Second/90000 < 1900*time.Millisecond {
			res.keys++
		}
	}
	return res, nil
}

// tailOf is the last lines of a log, for an error.
func tailOf(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-15):], "\n")
}
