package file

import (
	"context"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/golive/golive/media"
)

// BenchmarkFile720pY4M decodes and converts a raw 720p30 y4m clip (looped)
// without pacing: ns/op and allocs/op are per delivered frame. It also
// times ffmpeg on the same file and chain (-f null, no -re) and reports
// ffmpeg's ns/frame and our ratio to it.
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
	if ff := ffmpegNsPerFrame(b, path, videoFilters(&cfg, f.video.vkey, 0, f.video.st.AvgFrameRate())); ff > 0 {
		b.ReportMetric(ff, "ffmpeg-ns/frame")
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/ff, "x-ffmpeg")
	}
}

var ffmpegTime struct {
	once sync.Once
	ns   float64
}

// ffmpegNsPerFrame times `ffmpeg -stream_loop 9 -i path -vf chain -f null -`
// (600 frames of the 2 s clip), once per process.
func ffmpegNsPerFrame(b *testing.B, path, chain string) float64 {
	ffmpegTime.once.Do(func() {
		const loops, frames = 10, 60
		start := time.Now()
		cmd := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-stream_loop", strconv.Itoa(loops-1),
			"-i", path, "-vf", chain, "-f", "null", "-")
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Logf("ffmpeg: %v\n%s", err, out)
			return
		}
		ffmpegTime.ns = float64(time.Since(start).Nanoseconds()) / (loops * frames)
	})
	return ffmpegTime.ns
}
