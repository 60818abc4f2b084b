package cpu

import (
	"bytes"
	"fmt"
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

// benchFilter runs w×h TestFrames through a Filter for o writing pf; it
// returns the graph's description.
func benchFilter(b *testing.B, o spec.Options, pf media.PixelFormat, w, h int) string {
	in, _, _ := spec.TestFrame(w, h, 1)
	a := load(b, o, w, h)
	f, err := Open(a, pf, media.VideoWriterFunc(func(f *media.VideoFrame) error { f.Release(); return nil }))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	src := media.NewFramePool(w, h)
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
func BenchmarkCPU720p(b *testing.B) { benchFilter(b, streamer(b), media.PixelFormatI420, 1280, 720) }

// BenchmarkCPU720pNV12 is the same written as NV12, for a hardware encoder.
func BenchmarkCPU720pNV12(b *testing.B) {
	benchFilter(b, streamer(b), media.PixelFormatNV12, 1280, 720)
}

// BenchmarkCPU1080p is the streamer's set-up at 1080p.
func BenchmarkCPU1080p(b *testing.B) { benchFilter(b, streamer(b), media.PixelFormatI420, 1920, 1080) }

// The Old benchmarks are the same with beauty as it was before
// spec.Beauty's guided filter (legacyBeauty: lavfi's bilateral,
// convolution and lutyuv in the graph): make bench's "before".
func BenchmarkCPU720pOld(b *testing.B)  { benchOld(b, streamer(b), 1280, 720) }
func BenchmarkCPU1080pOld(b *testing.B) { benchOld(b, streamer(b), 1920, 1080) }

func benchOld(b *testing.B, o spec.Options, w, h int) {
	legacyBeauty = true
	defer func() { legacyBeauty = false }()
	benchFilter(b, o, media.PixelFormatI420, w, h)
}

func streamer(b *testing.B) spec.Options {
	o := spec.Defaults()
	o.Beauty = 0.6
	o.Watermark = writeLogo(b, 160, 80)
	o.Text = "%Y-%m-%d %H:%M:%S"
	return o
}

// BenchmarkCPU720pBeauty is beauty alone, side by side with the ffmpeg
// command line running what stands in for it in lavfi (the Old graph:
// bilateral, convolution, lutyuv).
func BenchmarkCPU720pBeauty(b *testing.B)     { benchBeauty(b, 1280, 720) }
func BenchmarkCPU1080pBeauty(b *testing.B)    { benchBeauty(b, 1920, 1080) }
func BenchmarkCPU720pBeautyOld(b *testing.B)  { benchOld(b, beautyAlone(), 1280, 720) }
func BenchmarkCPU1080pBeautyOld(b *testing.B) { benchOld(b, beautyAlone(), 1920, 1080) }

func beautyAlone() spec.Options {
	o := spec.Defaults()
	o.Beauty = 0.6
	return o
}

func benchBeauty(b *testing.B, w, h int) {
	benchFilter(b, beautyAlone(), media.PixelFormatI420, w, h)
	legacyBeauty = true
	desc := describe(load(b, beautyAlone(), w, h), media.PixelFormatI420, w, h, "")
	legacyBeauty = false
	if ns := ffmpegNsPerFrame(b, desc, w, h); ns > 0 {
		b.ReportMetric(ns, "ffmpeg-ns/frame")
	}
}

var ffmpegNs = map[string]float64{}

// ffmpegNsPerFrame times `ffmpeg -filter_complex desc` on raw w×h
// TestFrames: the difference between 130 frames and 10, so that start-up
// does not count. 0 without ffmpeg. Once per description.
func ffmpegNsPerFrame(b *testing.B, desc string, w, h int) float64 {
	key := fmt.Sprintf("%dx%d %s", w, h, desc)
	if ns, ok := ffmpegNs[key]; ok {
		return ns
	}
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		return 0
	}
	in, _, _ := spec.TestFrame(w, h, 1)
	frame := append(append(append([]byte(nil), in.Planes[0]...), in.Planes[1]...), in.Planes[2]...)
	raw := filepath.Join(b.TempDir(), "in.yuv")
	if err := os.WriteFile(raw, bytes.Repeat(frame, 130), 0o644); err != nil {
		b.Fatal(err)
	}
	desc = "[0:v]" + strings.TrimSuffix(strings.TrimPrefix(desc, "[in]"), "[out]") + "[o]"
	run := func(frames int) time.Duration {
		cmd := exec.Command(ffmpeg, "-v", "error", "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", fmt.Sprintf("%dx%d", w, h), "-i", raw,
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
	benchFilter(b, o, media.PixelFormatI420, 1280, 720)
}
