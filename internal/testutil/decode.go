package testutil

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
)

// DecodeFrames decodes the first video ("v") or audio ("a") stream of path
// with ffmpeg and returns how many frames came out. Anything the decoder
// reports (a corrupt or missing slice, a bad packet) is an error, with
// ffmpeg's messages: a clean recording decodes silently.
func DecodeFrames(path string, stream string) (int, error) {
	if stream != "v" && stream != "a" {
		return 0, fmt.Errorf("testutil: decode %s: stream %q: want \"v\" or \"a\"", path, stream)
	}
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	// passthrough: one line per decoded frame, none duplicated or dropped
	// to fit a frame rate (raw H.264 has no timestamps).
	cmd := exec.CommandContext(ctx, "ffmpeg", "-nostdin", "-nostats", "-v", "error", "-i", path,
		"-map", "0:"+stream+":0", "-fps_mode", "passthrough", "-f", "framecrc", "-")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	msg := strings.TrimSpace(stderr.String())
	switch {
	case err != nil:
		return 0, fmt.Errorf("testutil: decode %s: ffmpeg: %w: %s", path, err, msg)
	case msg != "":
		return 0, fmt.Errorf("testutil: decode %s: ffmpeg reports errors: %s", path, msg)
	}
	frames := 0
	for _, line := range strings.Split(stdout.String(), "\n") {
		if line != "" && !strings.HasPrefix(line, "#") {
			frames++
		}
	}
	return frames, nil
}
