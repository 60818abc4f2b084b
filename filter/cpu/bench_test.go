package cpu

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golive/golive/filter/spec"
	"github.com/golive/golive/media"
)

// benchFilter runs 1280×720 TestFrames through a Filter for o writing
// pf; it returns the graph's description.
func benchFilter(b *testing.B, o spec.Options, pf media.PixelFormat) string {
	in, _, _ := spec.TestFrame(1280, 720, 1)
	a := load(b, o, 1280, 720)
	f, err := Open(a, pf, media.VideoWriterFunc(func(f *media.VideoFrame) error { f.Release(); return nil }))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	src := media.NewFramePool(1280, 720)
	feed := func(i int, now time.Time) {
		fr := src.Get()
		copy(fr.Planes[0], in.Planes[0])
		copy(fr.Planes[1], in.Planes[1])
		copy(fr.Planes[2], in.Planes[2])
		fr.PTS, fr.Seq = time.Duration(i)*time.Second/30, uint64(i)
		if err := f.Filter(fr, now); err != nil {
			b.Fatal(err)
		}
	}
	for i := range 10 {
		feed(i, t0)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// 30 frames a second of wall clock: the clock text changes every 30th.
		feed(i, t0.Add(time.Duration(i)*time.Second/30))
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/frame")
	return f.Graph()
}

// BenchmarkCPU720p is a typical streamer's set-up: beauty, a logo and a
// clock, 720p in and out.
func BenchmarkCPU720p(b *testing.B) { benchFilter(b, streamer(b), media.PixelFormatI420) }

// BenchmarkCPU720pNV12 is the same written as NV12, for a hardware encoder.
func BenchmarkCPU720pNV12(b *testing.B) { benchFilter(b, streamer(b), media.PixelFormatNV12) }

func streamer(b *testing.B) spec.Options {
	o := spec.Defaults()
	o.Beauty = 0.6
	o.Watermark = writeLogo(b, 160, 80)
	o.Text = "%Y-%m-%d %H:%M:%S"
	return o
}

// BenchmarkCPU720pBeauty is beauty alone, side by side with the ffmpeg
// command line running the same graph.
func BenchmarkCPU720pBeauty(b *testing.B) {
	o := spec.Defaults()
	o.Beauty = 0.6
	desc := benchFilter(b, o, media.PixelFormatI420)
	if ns := ffmpegNsPerFrame(b, desc); ns > 0 {
		b.ReportMetric(ns, "ffmpeg-ns/frame")
	}
}

var ffmpegNs = map[string]float64{}

// ffmpegNsPerFrame times `ffmpeg -filter_complex desc` on raw 720p
// TestFrames: the difference between 130 frames and 10, so that start-up
// does not count. 0 without ffmpeg. Once per description.
func ffmpegNsPerFrame(b *testing.B, desc string) float64 {
	key := desc
	if ns, ok := ffmpegNs[key]; ok {
		return ns
	}
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		return 0
	}
	in, _, _ := spec.TestFrame(1280, 720, 1)
	frame := append(append(append([]byte(nil), in.Planes[0]...), in.Planes[1]...), in.Planes[2]...)
	raw := filepath.Join(b.TempDir(), "in.yuv")
	if err := os.WriteFile(raw, bytes.Repeat(frame, 130), 0o644); err != nil {
		b.Fatal(err)
	}
	desc = "[0:v]" + strings.TrimSuffix(strings.TrimPrefix(desc, "[in]"), "[out]") + "[o]"
	run := func(frames int) time.Duration {
		cmd := exec.Command(ffmpeg, "-v", "error", "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", "1280x720", "-i", raw,
			"-filter_complex", desc, "-map", "[o]", "-frames:v", strconv.Itoa(frames), "-f", "null", "-")
		start := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%s: %v\n%s", cmd, err, out)
		}
		return time.Since(start)
	}
	ns := float64((run(130) - run(10)).Nanoseconds()) / 120
	ffmpegNs[key] = ns
	return ns
}

// BenchmarkCPU720pAll: every pass, the LUT's RGB round trip included.
func BenchmarkCPU720pAll(b *testing.B) {
	o := spec.Defaults()
	o.Beauty = 0.6
	o.Brightness, o.Contrast, o.Saturation = 0.05, 1.1, 1.2
	o.LUT = testCube(b, "", 1)
	o.Watermark = writeLogo(b, 160, 80)
	o.Text = "%Y-%m-%d %H:%M:%S"
	benchFilter(b, o, media.PixelFormatI420)
}
