package v4l2

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"unsafe"

	"github.com/asticode/go-astiav"

	"github.com/golive/golive/internal/testutil"
	"github.com/golive/golive/media"
)

// ffmpeg runs the ffmpeg CLI with stdin and returns its stdout.
func ffmpeg(t testing.TB, stdin []byte, args ...string) []byte {
	t.Helper()
	cmd := exec.Command("ffmpeg", append([]string{"-hide_banner", "-loglevel", "error", "-nostdin"}, args...)...)
	if stdin != nil {
		cmd.Args = append(cmd.Args[:4:4], args...) // no -nostdin: the input is on stdin
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ffmpeg %q: %v\n%s", args, err, stderr.Bytes())
	}
	return out
}

// jpegFrames makes n real JPEG frames of a moving test pattern, w×h, in a
// camera's layout (4:2:2, full range), with ffmpeg's MJPEG encoder.
func jpegFrames(t testing.TB, w, h, n int) [][]byte {
	t.Helper()
	dir := t.TempDir()
	ffmpeg(t, nil, "-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=%dx%d:rate=30", w, h),
		"-frames:v", fmt.Sprint(n), "-pix_fmt", "yuvj422p", "-c:v", "mjpeg", "-q:v", "3",
		"-f", "image2", filepath.Join(dir, "f%03d.jpg"))
	var out [][]byte
	for i := 1; i <= n; i++ {
		b, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("f%03d.jpg", i)))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(b, []byte{0xff, 0xd8}) || !bytes.HasSuffix(b, []byte{0xff, 0xd9}) {
			t.Fatalf("frame %d is not a JPEG (SOI … EOI)", i)
		}
		out = append(out, b)
	}
	return out
}

// rawFrame makes one raw frame of the test pattern in an ffmpeg pixel format.
func rawFrame(t testing.TB, pixfmt string, w, h int) []byte {
	t.Helper()
	return ffmpeg(t, nil, "-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=%dx%d:rate=30", w, h),
		"-frames:v", "1", "-pix_fmt", pixfmt, "-f", "rawvideo", "-")
}

// reference is ffmpeg's own conversion of one input picture to yuv420p at
// w×h, after cropping to the region our converter crops to.
func reference(t testing.TB, input []byte, inArgs []string, r rect, w, h int) []byte {
	t.Helper()
	vf := fmt.Sprintf("crop=%d:%d:%d:%d,scale=%d:%d", r.w, r.h, r.x, r.y, w, h)
	args := append(append([]string{}, inArgs...), "-i", "-", "-vf", vf, "-pix_fmt", "yuv420p", "-f", "rawvideo", "-")
	return ffmpeg(t, input, args...)
}

// psnr is the peak signal-to-noise ratio of b against a, in dB.
func psnr(a, b []byte) float64 {
	var se float64
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		se += d * d
	}
	if se == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(255*255/(se/float64(len(a))))
}

// planes is an I420 frame's planes back to back (the layout ffmpeg writes).
func planes(f *media.VideoFrame) []byte {
	var out []byte
	cw, ch := (f.Width+1)/2, (f.Height+1)/2
	for i, wh := range [3][2]int{{f.Width, f.Height}, {cw, ch}, {cw, ch}} {
		for y := range wh[1] {
			out = append(out, f.Planes[i][y*f.Strides[i]:y*f.Strides[i]+wh[0]]...)
		}
	}
	return out
}

// comparePlanes checks each plane of got against want at ≥ minDB.
func comparePlanes(t *testing.T, name string, got, want []byte, w, h int, minDB float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d bytes, ffmpeg made %d", name, len(got), len(want))
	}
	ys, cs := w*h, ((w+1)/2)*((h+1)/2)
	for i, pl := range [][2]int{{0, ys}, {ys, ys + cs}, {ys + cs, ys + 2*cs}} {
		p := psnr(want[pl[0]:pl[1]], got[pl[0]:pl[1]])
		t.Logf("%s: plane %c PSNR %.1f dB", name, "YUV"[i], p)
		if p < minDB {
			t.Errorf("%s: plane %c PSNR %.1f dB < %.0f dB", name, "YUV"[i], p, minDB)
		}
	}
}

func convertOne(t testing.TB, in inputFormat, data []byte, w, h int) *media.VideoFrame {
	t.Helper()
	c, err := newConverter(in, w, h)
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	f := media.NewFramePool(w, h).Get()
	if err := c.convert(data, f); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestConvertMJPEG(t *testing.T) {
	testutil.RequireTool(t, "ffmpeg")
	for _, tt := range []struct{ inW, inH, outW, outH int }{
		{1280, 720, 1280, 720},  // 4:2:2 to 4:2:0, full to limited range
		{1920, 1080, 1280, 720}, // downscale
		{1280, 720, 854, 480},   // output lines not a multiple of 64: through scratch
		{1280, 720, 640, 480},   // crop 16:9 to 4:3
	} {
		name := fmt.Sprintf("MJPG %dx%d→%dx%d", tt.inW, tt.inH, tt.outW, tt.outH)
		frames := jpegFrames(t, tt.inW, tt.inH, 3)
		c, err := newConverter(inputFormat{FourCC: "MJPG", Width: tt.inW, Height: tt.inH}, tt.outW, tt.outH)
		if err != nil {
			t.Fatal(err)
		}
		pool := media.NewFramePool(tt.outW, tt.outH)
		for i, jpg := range frames {
			f := pool.Get()
			if err := c.convert(jpg, f); err != nil {
				t.Fatalf("%s frame %d: %v", name, i, err)
			}
			want := reference(t, jpg, []string{"-f", "image2pipe", "-c:v", "mjpeg"},
				cropToAspect(tt.inW, tt.inH, tt.outW, tt.outH), tt.outW, tt.outH)
			comparePlanes(t, fmt.Sprintf("%s frame %d", name, i), planes(f), want, tt.outW, tt.outH, 35)
			f.Release()
		}
		t.Logf("%s: %s", name, c.describe())
		c.close()
		c.close() // idempotent
	}
}

func TestConvertRaw(t *testing.T) {
	testutil.RequireTool(t, "ffmpeg")
	for _, tt := range []struct {
		fourcc, pixfmt       string
		full                 bool
		inW, inH, outW, outH int
	}{
		{"YUYV", "yuyv422", false, 1280, 720, 1280, 720},
		{"YUYV", "yuyv422", false, 640, 480, 640, 360},    // crop 4:3 to 16:9
		{"YUYV", "yuyv422", false, 1920, 1080, 1280, 720}, // downscale
		{"YUYV", "yuyv422", false, 176, 144, 176, 144},    // lines not a multiple of 32 pixels: staging and scratch
		{"UYVY", "uyvy422", false, 640, 480, 640, 480},
		{"NV12", "nv12", false, 1280, 720, 1280, 720},
		{"NV21", "nv21", false, 640, 480, 640, 480},
		{"YU12", "yuv420p", false, 1280, 720, 1280, 720}, // plane copy
		{"YU12", "yuv420p", false, 1280, 720, 640, 360},
		{"YV12", "yuv420p", false, 640, 480, 640, 480},
		{"YU12", "yuvj420p", true, 1280, 720, 1280, 720}, // the Pi camera's full range
	} {
		name := fmt.Sprintf("%s %dx%d→%dx%d full=%v", tt.fourcc, tt.inW, tt.inH, tt.outW, tt.outH, tt.full)
		src := rawFrame(t, tt.pixfmt, tt.inW, tt.inH)
		data := src
		if tt.fourcc == "YV12" { // ffmpeg has no yvu420p: swap the chroma planes
			ys, cs := tt.inW*tt.inH, tt.inW*tt.inH/4
			data = append(append(append([]byte{}, src[:ys]...), src[ys+cs:]...), src[ys:ys+cs]...)
		}
		in := inputFormat{FourCC: tt.fourcc, Width: tt.inW, Height: tt.inH, FullRange: tt.full}
		f := convertOne(t, in, data, tt.outW, tt.outH)
		want := reference(t, src, []string{"-f", "rawvideo", "-pix_fmt", tt.pixfmt, "-s", fmt.Sprintf("%dx%d", tt.inW, tt.inH)},
			cropToAspect(tt.inW, tt.inH, tt.outW, tt.outH), tt.outW, tt.outH)
		comparePlanes(t, name, planes(f), want, tt.outW, tt.outH, 35)
		if tt.fourcc == "YU12" && !tt.full && tt.inW == tt.outW && !bytes.Equal(planes(f), want) {
			t.Errorf("%s: the plane copy differs from the input", name)
		}
	}
}

// Full-range (JPEG) white and black must come out as limited-range 235 and
// 16: the encoder is told the stream is limited range.
func TestConvertFullRangeToLimited(t *testing.T) {
	testutil.RequireTool(t, "ffmpeg")
	dir := t.TempDir()
	for _, tt := range []struct {
		color string
		in    byte // full-range luma in the JPEG
		out   byte // limited-range luma expected
	}{
		{"white", 255, 235},
		{"black", 0, 16},
	} {
		file := filepath.Join(dir, tt.color+".jpg")
		ffmpeg(t, nil, "-f", "lavfi", "-i", "color=c="+tt.color+":size=640x480", "-frames:v", "1",
			"-pix_fmt", "yuvj422p", "-c:v", "mjpeg", "-q:v", "2", "-f", "image2", file)
		jpg, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		raw := ffmpeg(t, jpg, "-f", "image2pipe", "-c:v", "mjpeg", "-i", "-", "-pix_fmt", "yuvj422p", "-f", "rawvideo", "-")
		if lo, hi := minMax(raw[:640*480]); lo != tt.in || hi != tt.in {
			t.Fatalf("%s JPEG: luma %d..%d, want %d (full range)", tt.color, lo, hi, tt.in)
		}
		// Also as a Raspberry Pi would deliver it: raw I420 in full range.
		rawI420 := ffmpeg(t, jpg, "-f", "image2pipe", "-c:v", "mjpeg", "-i", "-", "-pix_fmt", "yuvj420p", "-f", "rawvideo", "-")
		for _, in := range []struct {
			format inputFormat
			data   []byte
		}{
			{inputFormat{FourCC: "MJPG", Width: 640, Height: 480}, jpg},
			{inputFormat{FourCC: "YU12", Width: 640, Height: 480, FullRange: true}, rawI420},
		} {
			for _, size := range [][2]int{{640, 480}, {320, 240}} {
				f := convertOne(t, in.format, in.data, size[0], size[1])
				y := planes(f)[:size[0]*size[1]]
				lo, hi := minMax(y)
				if lo < 16 || hi > 235 || int(lo) < int(tt.out)-1 || int(hi) > int(tt.out)+1 {
					t.Errorf("%s %s → %dx%d: luma %d..%d, want %d", tt.color, in.format.FourCC, size[0], size[1], lo, hi, tt.out)
				}
				u, v := f.Planes[1][0], f.Planes[2][0]
				if u < 127 || u > 129 || v < 127 || v > 129 {
					t.Errorf("%s %s: chroma %d,%d, want 128", tt.color, in.format.FourCC, u, v)
				}
			}
		}
	}
}

func minMax(b []byte) (lo, hi byte) {
	lo, hi = 255, 0
	for _, v := range b {
		lo, hi = min(lo, v), max(hi, v)
	}
	return lo, hi
}

func TestConvertErrors(t *testing.T) {
	// A short raw buffer is refused, not read past.
	c, err := newConverter(inputFormat{FourCC: "YUYV", Width: 64, Height: 48}, 64, 48)
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	f := media.NewFramePool(64, 48).Get()
	if err := c.convert(make([]byte, 64*48*2-1), f); err == nil {
		t.Error("a short YUYV buffer was accepted")
	}
	if err := c.convert(make([]byte, 64*48*2), media.NewFramePool(32, 32).Get()); err == nil {
		t.Error("a wrong-sized output frame was accepted")
	}
	// Garbage is not a JPEG: an error, and the decoder still works after it.
	m, err := newConverter(inputFormat{FourCC: "MJPG", Width: 64, Height: 48}, 64, 48)
	if err != nil {
		t.Fatal(err)
	}
	defer m.close()
	if err := m.convert(bytes.Repeat([]byte{0x55}, 1000), f); err == nil {
		t.Error("garbage decoded")
	}
	if err := m.convert(nil, f); err == nil {
		t.Error("an empty buffer decoded")
	}
	for _, bad := range []inputFormat{
		{FourCC: "H264", Width: 64, Height: 48},
		{FourCC: "YUYV", Width: 64, Height: 48, BytesPerLine: 100},
		{FourCC: "YUYV", Width: 0, Height: 48},
	} {
		if c, err := newConverter(bad, 64, 48); err == nil {
			c.close()
			t.Errorf("%+v accepted", bad)
		}
	}
	if _, err := newConverter(inputFormat{FourCC: "YUYV", Width: 64, Height: 48}, 63, 48); err == nil {
		t.Error("an odd output width was accepted")
	}
}

func TestConvertMJPEGRecoversAndGrows(t *testing.T) {
	testutil.RequireTool(t, "ffmpeg")
	jpg := jpegFrames(t, 640, 480, 1)[0]
	// MaxBytes far too small: the packet pool grows.
	c, err := newConverter(inputFormat{FourCC: "MJPG", Width: 640, Height: 480, MaxBytes: 1000}, 640, 480)
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	c.dec.pool.free()
	if c.dec.pool, err = newPacketPool(1000); err != nil {
		t.Fatal(err)
	}
	f := media.NewFramePool(640, 480).Get()
	if err := c.convert(jpg, f); err != nil {
		t.Fatalf("after growing the packet pool: %v", err)
	}
	// A truncated frame (USB lost the end) errors or decodes partially;
	// either way the next good frame decodes.
	_ = c.convert(jpg[:len(jpg)/2], f)
	if err := c.convert(jpg, f); err != nil {
		t.Fatalf("after a truncated frame: %v", err)
	}
	// A camera that changes size mid-stream: the scaler follows.
	big := jpegFrames(t, 1280, 720, 1)[0]
	if err := c.convert(big, f); err != nil {
		t.Fatalf("after a size change: %v", err)
	}
	if c.decKey.w != 1280 || c.decKey.h != 720 {
		t.Errorf("scaler made for %dx%d, want 1280x720", c.decKey.w, c.decKey.h)
	}
}

// Steady-state conversion allocates nothing (Go memory; libavcodec's
// frames and packets come from its buffer pools).
func TestConvertAllocs(t *testing.T) {
	testutil.RequireTool(t, "ffmpeg")
	jpg := jpegFrames(t, 1280, 720, 1)[0]
	yuyv := rawFrame(t, "yuyv422", 1280, 720)
	for _, tt := range []struct {
		in   inputFormat
		data []byte
	}{
		{inputFormat{FourCC: "MJPG", Width: 1280, Height: 720}, jpg},
		{inputFormat{FourCC: "YUYV", Width: 1280, Height: 720}, yuyv},
	} {
		c, err := newConverter(tt.in, 1280, 720)
		if err != nil {
			t.Fatal(err)
		}
		// One frame, not the pool's Get/Release: under -race, sync.Pool
		// drops a share of what is put back on purpose. (The benchmarks
		// show the pool's steady state: 0 allocs/op.)
		f := media.NewFramePool(1280, 720).Get()
		run := func() {
			if err := c.convert(tt.data, f); err != nil {
				t.Fatal(err)
			}
		}
		run() // the MJPEG scaler is made at the first frame
		if n := testing.AllocsPerRun(20, run); n > 0 {
			t.Errorf("%s: %.1f allocations per frame, want 0", tt.in.FourCC, n)
		}
		c.close()
	}
}

// The astiav wrappers keep their C pointer first (what pktPtr relies on).
func TestAstiavPointers(t *testing.T) {
	f := astiav.AllocFrame()
	defer f.Free()
	if *(*unsafe.Pointer)(unsafe.Pointer(f)) != f.UnsafePointer() {
		t.Fatal("astiav.Frame does not keep its AVFrame pointer first")
	}
	p := astiav.AllocPacket()
	defer p.Free()
	pool, err := newPacketPool(16)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.free()
	data := []byte("0123456789")
	if err := pool.fill(p, data); err != nil {
		t.Fatal(err)
	}
	if p.Size() != len(data) || !bytes.Equal(p.Data(), data) {
		t.Fatalf("packet holds %q (%d bytes), want %q", p.Data(), p.Size(), data)
	}
	p.Unref()
	if err := pool.fill(p, make([]byte, 17)); err == nil {
		t.Error("17 bytes fit a 16-byte pool")
	}
}

func TestLayoutOf(t *testing.T) {
	for _, tt := range []struct {
		fourcc    string
		w, h, bpl int
		r         rect
		offset    [3]int
		stride    [3]int
		size      int
	}{
		{"YUYV", 640, 480, 0, rect{0, 60, 640, 360}, [3]int{60 * 1280}, [3]int{1280}, 640 * 480 * 2},
		{"YUYV", 640, 480, 1536, rect{160, 0, 320, 480}, [3]int{320}, [3]int{1536}, 1536 * 480},
		{"YU12", 640, 480, 0, rect{0, 60, 640, 360}, [3]int{60 * 640, 307200 + 30*320, 307200 + 76800 + 30*320}, [3]int{640, 320, 320}, 460800},
		{"YV12", 640, 480, 0, rect{0, 0, 640, 480}, [3]int{0, 307200 + 76800, 307200}, [3]int{640, 320, 320}, 460800},
		{"NV12", 640, 480, 0, rect{2, 60, 636, 360}, [3]int{60*640 + 2, 307200 + 30*640 + 2}, [3]int{640, 640}, 460800},
	} {
		l, err := layoutOf(tt.fourcc, tt.w, tt.h, tt.bpl, tt.r)
		if err != nil {
			t.Fatal(err)
		}
		if l.offset != tt.offset || l.stride != tt.stride || l.size != tt.size {
			t.Errorf("%s %dx%d %+v: offsets %v strides %v size %d, want %v %v %d",
				tt.fourcc, tt.w, tt.h, tt.r, l.offset, l.stride, l.size, tt.offset, tt.stride, tt.size)
		}
	}
}
