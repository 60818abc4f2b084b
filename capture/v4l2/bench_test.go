package v4l2

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/golive/golive/internal/testutil"
	"github.com/golive/golive/media"
)

// BenchmarkMJPEGDecode720p is the cost per frame of a 720p MJPEG camera:
// decode a real 1280x720 4:2:2 JPEG (ffmpeg's encoder at -q:v 3, as a
// webcam's) and convert it to limited-range I420 in a pooled frame. It
// reports ns/frame and allocs/frame, and ffmpeg's own cost for the same
// work (decoding the same stream to yuv420p, one thread) for comparison.
func BenchmarkMJPEGDecode720p(b *testing.B) {
	benchMJPEG(b, 1280, 720, 1280, 720)
}

// BenchmarkMJPEGDecode1080pTo720p: a 1080p MJPEG camera for a 720p preset.
func BenchmarkMJPEGDecode1080pTo720p(b *testing.B) {
	benchMJPEG(b, 1920, 1080, 1280, 720)
}

func benchMJPEG(b *testing.B, inW, inH, outW, outH int) {
	testutil.RequireTool(b, "ffmpeg")
	frames := jpegFrames(b, inW, inH, 30)
	c, err := newConverter(inputFormat{FourCC: "MJPG", Width: inW, Height: inH}, outW, outH)
	if err != nil {
		b.Fatal(err)
	}
	defer c.close()
	pool := media.NewFramePool(outW, outH)
	size := 0
	for _, f := range frames {
		size += len(f)
	}
	b.SetBytes(int64(size / len(frames)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		f := pool.Get()
		if err := c.convert(frames[i%len(frames)], f); err != nil {
			b.Fatal(err)
		}
		f.Release()
	}
	b.StopTimer()
	perFrame := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	b.ReportMetric(perFrame, "ns/frame")
	if ff := ffmpegPerFrame(b, frames, outW, outH); ff > 0 {
		b.ReportMetric(ff, "ffmpeg-ns/frame")
		b.ReportMetric(perFrame/ff, "x-ffmpeg")
	}
}

// ffmpegPerFrame times the ffmpeg CLI decoding the frames (repeated to 600)
// to yuv420p at outW×outH on one thread, in ns per frame (real time, from
// -benchmark).
func ffmpegPerFrame(b *testing.B, frames [][]byte, outW, outH int) float64 {
	const n = 600
	var stream bytes.Buffer
	for i := range n {
		stream.Write(frames[i%len(frames)])
	}
	file := filepath.Join(b.TempDir(), "in.mjpeg")
	if err := os.WriteFile(file, stream.Bytes(), 0o644); err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command("ffmpeg", "-hide_banner", "-nostdin", "-benchmark", "-threads", "1",
		"-f", "mjpeg", "-i", file, "-vf", fmt.Sprintf("scale=%d:%d", outW, outH), "-pix_fmt", "yuv420p",
		"-threads", "1", "-f", "null", "-")
	out, err := cmd.CombinedOutput()
	if err != nil {
		b.Logf("ffmpeg: %v\n%s", err, out)
		return 0
	}
	m := regexp.MustCompile(`rtime=([0-9.]+)s`).FindSubmatch(out)
	if m == nil {
		return 0
	}
	s, _ := strconv.ParseFloat(string(m[1]), 64)
	return s * float64(time.Second) / n
}

// BenchmarkYUYV720p is the cost per frame of a raw 720p YUYV camera.
func BenchmarkYUYV720p(b *testing.B) {
	testutil.RequireTool(b, "ffmpeg")
	data := rawFrame(b, "yuyv422", 1280, 720)
	c, err := newConverter(inputFormat{FourCC: "YUYV", Width: 1280, Height: 720}, 1280, 720)
	if err != nil {
		b.Fatal(err)
	}
	defer c.close()
	pool := media.NewFramePool(1280, 720)
	b.ReportAllocs()
	for b.Loop() {
		f := pool.Get()
		if err := c.convert(data, f); err != nil {
			b.Fatal(err)
		}
		f.Release()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/frame")
}
