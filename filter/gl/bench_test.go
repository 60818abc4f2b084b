package gl

import (
	"bytes"
	"runtime"
	"testing"

	"github.com/golive/golive/filter/spec"
	"github.com/golive/golive/media"
)

func BenchmarkGL720p(b *testing.B)  { benchmarkGL(b, 1280, 720, media.PixelFormatI420) }
func BenchmarkGL1080p(b *testing.B) { benchmarkGL(b, 1920, 1080, media.PixelFormatI420) }

// The same, written as NV12 for a hardware encoder.
func BenchmarkGL720pNV12(b *testing.B)  { benchmarkGL(b, 1280, 720, media.PixelFormatNV12) }
func BenchmarkGL1080pNV12(b *testing.B) { benchmarkGL(b, 1920, 1080, media.PixelFormatNV12) }

// benchmarkGL filters TestFrame with beauty, colour, a watermark and the
// text at w×h into frames of format pf: ns/op and allocs/op for the pipelined steady state, then
// the time of each stage per frame (upload, passes, readback), measured
// with glFinish between stages, which gives up the overlap and so runs
// apart from the timed loop. The clock stands still: the text is redrawn
// once a second in a real run, not every frame.
func benchmarkGL(b *testing.B, w, h int, pf media.PixelFormat) {
	needGL(b)
	o := spec.Defaults()
	o.Beauty, o.Watermark, o.Text = 0.6, writePNG(b, testLogo()), "Lobby %Y-%m-%d %H:%M:%S"
	o.Brightness, o.Contrast, o.Saturation = 0.05, 1.1, 1.2
	in, _, _ := spec.TestFrame(w, h, 1)
	src := media.NewFramePool(w, h)
	next := func() *media.VideoFrame {
		f := src.Get()
		if !bytes.Equal(f.Planes[0][:w], in.Planes[0][:w]) { // new from the pool, not recycled
			for p := range 3 {
				copy(f.Planes[p], in.Planes[p])
			}
		}
		return f
	}
	f, err := Open(assets(b, o, w, h), pf, media.VideoWriterFunc(func(f *media.VideoFrame) error {
		f.Release()
		return nil
	}))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	filter := func() {
		if err := f.Filter(next(), testNow); err != nil {
			b.Fatal(err)
		}
	}
	// Collect the setup's garbage (TestFrame's float planes) now, or a cycle
	// starts inside the loop and empties the pools; then fill them (a
	// sync.Pool needs a few frames in circulation before goroutines moving
	// between Ps stop missing it).
	runtime.GC()
	for range 6 {
		filter()
	}
	b.ReportAllocs()
	for b.Loop() {
		filter()
	}
	if err := f.Flush(); err != nil {
		b.Fatal(err)
	}

	const frames = 5
	f.r.timing, f.r.stats = true, stats{} // the GL thread waits on its channel meanwhile
	for range frames {
		filter()
	}
	if err := f.Flush(); err != nil {
		b.Fatal(err)
	}
	s := f.r.stats
	ms := func(d interface{ Seconds() float64 }) float64 { return d.Seconds() * 1000 / float64(s.frames) }
	b.ReportMetric(ms(s.upload), "upload-ms")
	b.ReportMetric(ms(s.passes), "passes-ms")
	b.ReportMetric(ms(s.readback), "readback-ms")
}
