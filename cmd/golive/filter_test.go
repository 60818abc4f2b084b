package main

import (
	"bufio"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/golive/golive/filter/spec"
	"github.com/golive/golive/internal/testpeer"
	"github.com/golive/golive/internal/testutil"
	"github.com/golive/golive/media"
)

// writeY4M writes n copies of f as a y4m file at 30 fps.
func writeY4M(t *testing.T, f *media.VideoFrame, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "still.y4m")
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(out)
	fmt.Fprintf(w, "YUV4MPEG2 W%d H%d F30:1 Ip A1:1 C420mpeg2 XCOLORRANGE=LIMITED\n", f.Width, f.Height)
	for range n {
		w.WriteString("FRAME\n")
		for p := range 3 {
			pw, ph := f.Width, f.Height
			if p > 0 {
				pw, ph = (pw+1)/2, (ph+1)/2
			}
			for y := range ph {
				w.Write(f.Planes[p][y*f.Strides[p] : y*f.Strides[p]+pw])
			}
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	out.Close()
	return path
}

// decodeFrame decodes the video frame at time at (s) of a recording.
func decodeFrame(t *testing.T, path string, at float64, w, h int) *media.VideoFrame {
	t.Helper()
	raw, err := exec.Command("ffmpeg", "-v", "error", "-ss", fmt.Sprint(at), "-i", path, "-frames:v", "1",
		"-f", "rawvideo", "-pix_fmt", "yuv420p", "-").Output()
	if err != nil {
		t.Fatalf("decode %s at %.1f s: %v", path, at, err)
	}
	f := media.NewFramePool(w, h).Get()
	if len(raw) != w*h*3/2 {
		t.Fatalf("decoded %d bytes, want a %dx%d frame", len(raw), w, h)
	}
	copy(f.Planes[0], raw[:w*h])
	copy(f.Planes[1], raw[w*h:w*h*5/4])
	copy(f.Planes[2], raw[w*h*5/4:])
	return f
}

// TestPushFilters: a push with --beauty 0.6, a watermark and a clock
// caption, decoded from what nginx recorded and compared with the same
// push unfiltered: the logo's pixels are where and what they should be,
// the caption is drawn, the noisy skin patch is smoother and the hard
// edge as sharp.
func TestPushFilters(t *testing.T) {
	testutil.RequireTool(t, "ffmpeg", "ffprobe")
	const w, h = 640, 360
	in, noise, edge := spec.TestFrame(w, h, 7)
	still := writeY4M(t, in, 15)

	logo := image.NewNRGBA(image.Rect(0, 0, 64, 32))
	for y := range 32 {
		for x := range 64 {
			if x < 32 {
				logo.SetNRGBA(x, y, color.NRGBA{255, 0, 0, 255}) // opaque red
			} else {
				logo.SetNRGBA(x, y, color.NRGBA{0, 0, 255, 128}) // half-transparent blue
			}
		}
	}
	logoPath := filepath.Join(t.TempDir(), "logo.png")
	lf, _ := os.Create(logoPath)
	if err := png.Encode(lf, logo); err != nil {
		t.Fatal(err)
	}
	lf.Close()

	n := testpeer.StartNginx(t, testpeer.NginxConfig{Record: true})
	base := []string{"--preset", "360p", "--source", "file:" + still, "--loop", "--duration", "3s"}
	if code, log := push(t, append(base, n.URL("plain"))...); code != exitOK {
		t.Fatalf("plain push: exit %d:\n%s", code, log)
	}
	plain := decodeFrame(t, n.RecordPath("plain"), 2, w, h)
	// Both backends: the CPU one (what auto picks here) and the GL one on
	// Mesa's llvmpipe (fast enough at 360p).
	for _, backend := range []string{"cpu", "gl"} {
		t.Run(backend, func(t *testing.T) {
			key := "filtered-" + backend
			code, log := push(t, append(base, "--filter-backend", backend, "--beauty", "0.6", "--watermark", logoPath, "--watermark-pos", "top-left",
				"--text", "Lobby cam %Y-%m-%d %H:%M:%S", "--text-pos", "bottom-left", n.URL(key))...)
			if code != exitOK {
				t.Fatalf("filtered push: exit %d:\n%s", code, log)
			}
			if !strings.Contains(log, "backend=\""+backend+": ") {
				t.Errorf("the log does not say the %s backend ran:\n%s", backend, log)
			}
			checkFiltered(t, decodeFrame(t, n.RecordPath(key), 2, w, h), plain, noise, edge)
		})
	}
}

// checkFiltered compares a frame of the filtered push with the same frame
// unfiltered.
func checkFiltered(t *testing.T, got, plain *media.VideoFrame, noise, edge spec.Region) {
	h := got.Height
	// The logo: top-left at the 16 px margin; opaque red, then blue at half.
	px := func(f *media.VideoFrame, x, y int) (int, int, int) {
		return int(f.Planes[0][y*f.Strides[0]+x]), int(f.Planes[1][y/2*f.Strides[1]+x/2]), int(f.Planes[2][y/2*f.Strides[2]+x/2])
	}
	near := func(a, b, tol int) bool { return a-b <= tol && b-a <= tol }
	if y, u, v := px(got, 16+12, 16+12); !near(y, 63, 6) || !near(u, 102, 8) || !near(v, 240, 8) {
		t.Errorf("opaque red logo pixel: YUV %d,%d,%d, want about 63,102,240", y, u, v)
	}
	py, _, _ := px(plain, 16+48, 16+16)
	if y, _, _ := px(got, 16+48, 16+16); !near(y, (py+32)/2, 8) {
		t.Errorf("half-transparent blue logo pixel: Y %d, want about %d (half of %d and blue's 32)", y, (py+32)/2, py)
	}
	if y, _, _ := px(got, 16+80, 16+16); !near(y, func() int { y, _, _ := px(plain, 16+80, 16+16); return y }(), 6) {
		t.Errorf("beside the logo: Y %d differs from the unfiltered picture", y)
	}

	// The caption: white glyphs in the bottom-left corner.
	bright := func(f *media.VideoFrame) int {
		c := 0
		for y := h - 16 - h/18 - 4; y < h-16; y++ {
			for x := 16; x < 300; x++ {
				if f.Planes[0][y*f.Strides[0]+x] > 215 {
					c++
				}
			}
		}
		return c
	}
	if b, p := bright(got), bright(plain); b < 100 || p > 10 {
		t.Errorf("caption area: %d white pixels (unfiltered %d): want a drawn caption", b, p)
	}

	// Beauty: the skin patch's noise is smoothed, the edge stays sharp.
	_, vGot := spec.LumaStats(got, noise)
	_, vPlain := spec.LumaStats(plain, noise)
	t.Logf("skin noise variance %.1f → %.1f; edge width %.2f → %.2f px", vPlain, vGot, spec.EdgeWidth(plain, edge), spec.EdgeWidth(got, edge))
	if vGot > vPlain/3 {
		t.Errorf("skin noise variance %.1f with beauty, %.1f without: want at least 3× lower", vGot, vPlain)
	}
	if eg, ep := spec.EdgeWidth(got, edge), spec.EdgeWidth(plain, edge); eg > ep+1 {
		t.Errorf("edge 10–90%% width %.2f px with beauty, %.2f without: blurred", eg, ep)
	}
}

// TestFilterBadOptions: a filter that cannot be set up fails before going
// live: one line, the usage exit code, nothing sent.
func TestFilterBadOptions(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.png")
	os.WriteFile(junk, []byte("not an image"), 0o644)
	cube := filepath.Join(dir, "bad.cube")
	os.WriteFile(cube, []byte("LUT_3D_SIZE 2\n0 0 0\n"), 0o644)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--watermark", filepath.Join(dir, "missing.png")}, "--watermark"},
		{[]string{"--watermark", junk}, "not a PNG or JPEG"},
		{[]string{"--lut", cube}, "--lut"},
		{[]string{"--beauty", "1.5"}, "--beauty"},
		{[]string{"--watermark-pos", "middle", "--watermark", junk}, "--watermark-pos"},
		{[]string{"--filter-backend", "vulkan", "--beauty", "0.5"}, "--filter-backend"},
	} {
		code, log := push(t, append(c.args, "--duration", "1s", "rtmp://127.0.0.1:1/live/x")...)
		var errLines []string
		for _, l := range strings.Split(log, "\n") {
			if strings.HasPrefix(l, "golive: ") {
				errLines = append(errLines, l)
			}
		}
		if code != exitUsage || len(errLines) != 1 || !strings.Contains(errLines[0], c.want) {
			t.Errorf("%v: exit %d, log %q; want exit %d and one error line naming %s", c.args, code, log, exitUsage, c.want)
		}
		if strings.Contains(log, "connect") {
			t.Errorf("%v: tried to connect:\n%s", c.args, log)
		}
	}
}
