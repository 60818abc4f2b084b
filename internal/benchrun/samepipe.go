package main

import (
	"bytes"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/golive/golive/internal/testpeer"
)

// samePipeRounds: golive and the ffmpeg command line each read the very
// same 720p30 frames from a pipe — golive's test pattern, rendered by
// benchrun and written at 30 fps — and push them with the same encoder
// settings, without audio: the input's cost is the same on both sides
// (a read into memory), so the CPU and memory ratios are what golive
// itself adds around the encoder. golive: `--source
// pipe:yuv420p:1280x720@30 --mic none`; ffmpeg: `-f rawvideo … -i pipe:0
// -an` (paced by the pipe, no -re).
func samePipeRounds(bin string, n *testpeer.Nginx, dur time.Duration, rounds int) (g, f []result, err error) {
	for r := range rounds {
		key := fmt.Sprintf("pipegolive%d", r)
		cmd := exec.Command(bin, "push", "--preset", "720p30", "--source", "pipe:yuv420p:1280x720@30", "--mic", "none",
			"--log-format", "json", "--status", "off", n.URL(key))
		res, err := pushPiped(cmd, n, key, dur)
		if err != nil {
			return nil, nil, fmt.Errorf("golive (pipe): %w", err)
		}
		g = append(g, res)
		fmt.Printf("round %d golive, piped: cpu %v rss %d MiB anon %d MiB frames %d\n", r+1, res.cpu.Round(time.Millisecond), res.rssKB/1024, res.anonKB/1024, res.frames)

		key = fmt.Sprintf("pipeffmpeg%d", r)
		args := []string{"-hide_banner", "-loglevel", "error",
			"-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", "1280x720", "-r", "30", "-i", "pipe:0", "-an",
			"-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency", "-profile:v", "high",
			"-b:v", "2500k", "-maxrate", "2500k", "-bufsize", "2500k", "-g", "60", "-keyint_min", "60",
			"-sc_threshold", "0", "-bf", "0", "-pix_fmt", "yuv420p", "-f", "flv", n.URL(key)}
		if res, err = pushPiped(exec.Command("ffmpeg", args...), n, key, dur); err != nil {
			return nil, nil, fmt.Errorf("ffmpeg (pipe): %w", err)
		}
		f = append(f, res)
		fmt.Printf("round %d ffmpeg, piped: cpu %v rss %d MiB anon %d MiB frames %d\n", r+1, res.cpu.Round(time.Millisecond), res.rssKB/1024, res.anonKB/1024, res.frames)
	}
	return g, f, nil
}

// pushPiped runs cmd with dur of golive's test pattern on its standard
// input, written at 30 fps, then the end of the pipe.
func pushPiped(cmd *exec.Cmd, n *testpeer.Nginx, key string, dur time.Duration) (result, error) {
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	w, err := cmd.StdinPipe()
	if err != nil {
		return result{}, err
	}
	go func() {
		defer w.Close()
		writeFrames(w, 1280, 720, 30, int(dur.Seconds()*30), false, true)
	}()
	res, err := measure(cmd, n, key)
	if err != nil {
		return res, fmt.Errorf("%w\n%s", err, stderr.String())
	}
	return res, nil
}

// bar is the verdict line for a measured ratio against its bar.
func bar(what string, ratio, limit float64) string {
	verdict := "met"
	if ratio > limit {
		verdict = "**not met**"
	}
	return fmt.Sprintf("- %s ≤ %.2f: %.2f — %s\n", what, limit, ratio, verdict)
}

// samePipeReport is the section of the piped comparison.
func samePipeReport(g, f []result, dur time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "### Same picture, same input: both read golive's frames from a pipe\n\n")
	fmt.Fprintf(&b, "benchrun renders golive's test pattern and writes it, raw I420 at 30 fps for %v, into the standard input of\n", dur)
	fmt.Fprintf(&b, "`golive push --preset 720p30 --source pipe:yuv420p:1280x720@30 --mic none` and of `ffmpeg -f rawvideo -pix_fmt yuv420p -s 1280x720 -r 30 -i pipe:0 -an`\n")
	fmt.Fprintf(&b, "with the encoder settings above; no audio on either side. Both read the same bytes the same way, so what differs is\n")
	fmt.Fprintf(&b, "what each adds around the encoder. Anon = peak RssAnon (private memory; sampled every 50 ms): peak RSS also\n")
	fmt.Fprintf(&b, "counts the mapped pages of the executable and the libraries, clean and shared, which the kernel maps in 64 KiB\n")
	fmt.Fprintf(&b, "windows around every page touched: a Go binary of 27 MB has some 13–17 MiB of them, ffmpeg's own 300 KB executable none\n")
	fmt.Fprintf(&b, "(the libraries are the same on both sides).\n\n")
	compare(&b, g, f)
	b.WriteString("Bars (issue 15), on this strictest form of the comparison:\n\n")
	b.WriteString(bar("golive/ffmpeg CPU, same picture", median(g, cpu)/median(f, cpu), 0.95))
	b.WriteString(bar("golive/ffmpeg peak RSS, same picture", median(g, rss)/median(f, rss), 1.0))
	b.WriteString("\n")
	return b.String()
}
