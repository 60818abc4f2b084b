package file

import (
	"context"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/golive/golive/media"
)

// BenchmarkFile720pY4M decodes and converts a raw 720p30 y4m clip (looped)
// without pacing: ns/op and allocs/op are per delivered frame. It also
// times ffmpeg on the same file and chain (-f null, no -re) right after,
// and reports ffmpeg's ns/frame and our ratio to it (x-ffmpeg < 1: faster).
func BenchmarkFile720pY4M(b *testing.B) {
	path := makeClip(b, "clip.y4m", cat(videoSrc("1280x720", 30), []string{"-t", "2", "-pix_fmt", "yuv420p"})...)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n := 0
	cfg := Config{Path: path, Loop: true, Width: 1280, Height: 720, FPS: 30, SampleRate: 48000, Channels: 2,
		Clock: media.NewClock(), Logger: quiet,
		Video: media.VideoWriterFunc(func(f *media.VideoFrame) error {
			f.Release()
			if n++; n == b.N {
				cancel()
			}
			return nil
		})}
	f, err := Open(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	f.noPace = true
	b.ReportAllocs()
	b.ResetTimer()
	if err := f.Run(ctx); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	if n < b.N {
		b.Fatalf("%d frames, want %d", n, b.N)
	}
	if b.N < 100 {
		return // a probing run
	}
	if ff := ffmpegNsPerFrame(b, path, videoFilters(&cfg, f.video.vkey, 0, f.video.st.AvgFrameRate())); ff > 0 {
		b.ReportMetric(ff, "ffmpeg-ns/frame")
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/ff, "x-ffmpeg")
	}
}

// ffmpegNsPerFrame times ffmpeg decoding and converting the 60-frame clip
// with the same filter chain (`-f null`, no -re): once and ten times
// looped; the difference, over 540 frames, leaves out its start-up.
func ffmpegNsPerFrame(b *testing.B, path, chain string) float64 {
	run := func(loops int) time.Duration {
		start := time.Now()
		cmd := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-stream_loop", strconv.Itoa(loops-1),
			"-i", path, "-vf", chain, "-f", "null", "-")
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Logf("ffmpeg: %v\n%s", err, out)
			return -1
		}
		return time.Since(start)
	}
	one, ten := run(1), run(10)
	if one < 0 || ten <= one {
		return 0
	}
	return float64((ten - one).Nanoseconds()) / (9 * 60)
}
