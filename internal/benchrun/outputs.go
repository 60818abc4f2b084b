package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/golive/golive/internal/testpeer"
	"github.com/golive/golive/internal/testutil"
)

// outputCase is one way of pushing the same 720p30 stream: to one RTMP
// destination, to two, to two with a local recording; and ffmpeg's tee
// muxer to two, which also encodes once.
type outputCase struct {
	name string
	keys []string
	args func(urls []string, rec string) (bin string, args []string)
}

// outputRounds measures what each more output costs: the CPU of golive
// pushing to one nginx key, to two keys, to two and a recording, against
// ffmpeg's tee muxer to two. Goal: two destinations ≤ 1.1× one.
func outputRounds(bin string, n *testpeer.Nginx, dur time.Duration, rounds int) (string, error) {
	dir, err := os.MkdirTemp("", "golive-bench-outputs-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	golive := func(urls []string, rec string) (string, []string) {
		a := []string{"push", "--preset", "720p30", "--duration", dur.String(), "--log-format", "json", "--status", "off"}
		if rec != "" {
			a = append(a, "--record", rec)
		}
		return bin, append(a, urls...)
	}
	cases := []outputCase{
		{"golive, one RTMP destination", []string{"one"}, func(u []string, _ string) (string, []string) { return golive(u, "") }},
		{"golive, two RTMP destinations", []string{"twoA", "twoB"}, func(u []string, _ string) (string, []string) { return golive(u, "") }},
		{"golive, two RTMP destinations + --record .mp4", []string{"recA", "recB"}, golive},
		{"ffmpeg, one RTMP destination", []string{"ffone"}, func(u []string, _ string) (string, []string) {
			return "ffmpeg", ffmpegArgs(u[0], dur)
		}},
		{"ffmpeg, tee muxer to two RTMP destinations", []string{"teeA", "teeB"}, func(u []string, _ string) (string, []string) {
			a := ffmpegArgs("", dur)
			a = a[:len(a)-3] // "-f", "flv", url
			return "ffmpeg", append(a, "-map", "0:v", "-map", "1:a", "-f", "tee", "[f=flv]"+u[0]+"|[f=flv]"+u[1])
		}},
	}
	res := make([][]result, len(cases))
	for r := 0; r < rounds; r++ {
		for i, c := range cases {
			var urls []string
			for _, k := range c.keys {
				urls = append(urls, n.URL(fmt.Sprintf("%s%d", k, r)))
			}
			rec := filepath.Join(dir, fmt.Sprintf("rec%d.mp4", r))
			b, args := c.args(urls, rec)
			cmd := exec.Command(b, args...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			x, err := runMeasured(cmd)
			if err != nil {
				return "", fmt.Errorf("%s: %w\n%s", c.name, err, stderr.String())
			}
			// Every destination got the whole stream: the fewest frames any got.
			x.frames = -1
			for _, k := range c.keys {
				rp := n.RecordPath(fmt.Sprintf("%s%d", k, r))
				if err := testutil.WaitRecordingDone(rp, 10*time.Second); err != nil {
					return "", err
				}
				pk, err := testutil.Packets(rp, "v")
				if err != nil {
					return "", err
				}
				if x.frames < 0 || len(pk) < x.frames {
					x.frames = len(pk)
				}
			}
			res[i] = append(res[i], x)
			fmt.Printf("round %d %s: cpu %v rss %d MiB frames %d\n", r+1, c.name, x.cpu.Round(time.Millisecond), x.rssKB/1024, x.frames)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "## Several outputs: 720p30 for %v to one and two nginx-rtmp destinations on loopback\n\n", dur)
	fmt.Fprintf(&b, "One capture and one encode feed every destination (and the recording); each destination adds a send queue and a\n")
	fmt.Fprintf(&b, "sender goroutine. ffmpeg's `tee` muxer also encodes once. %d rounds, alternating; medians. Frames: the fewest any\n", rounds)
	fmt.Fprintf(&b, "destination of the run recorded (%v at 30 fps: %d).\n\n", dur, int(dur.Seconds()*30))
	fmt.Fprintf(&b, "| run | CPU s (median) | × one destination | RSS MiB | frames (min of the destinations) |\n|---|---|---|---|---|\n")
	one, ffOne := median(res[0], cpu), median(res[3], cpu)
	for i, c := range cases {
		base := one
		if strings.HasPrefix(c.name, "ffmpeg") {
			base = ffOne
		}
		minFrames := -1
		for _, x := range res[i] {
			if minFrames < 0 || x.frames < minFrames {
				minFrames = x.frames
			}
		}
		fmt.Fprintf(&b, "| %s | %.2f | **%.3f** | %.0f | %d |\n", c.name, median(res[i], cpu), median(res[i], cpu)/base, median(res[i], rss), minFrames)
	}
	fmt.Fprintf(&b, "\nGoal: two destinations ≤ 1.1× one. An extra destination shares the encoded packets (no copy) and adds a goroutine\n")
	fmt.Fprintf(&b, "and a socket: when it costs less than the noise between rounds, a ratio under 1.0 is noise, not a saving.\n")
	fmt.Fprintf(&b, "golive with two destinations against ffmpeg's tee to two: CPU ratio **%.2f**.\n\n",
		median(res[1], cpu)/median(res[4], cpu))
	return b.String(), nil
}
