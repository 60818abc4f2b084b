package cpu

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/asticode/go-astiav"

	"github.com/golive/golive/filter/spec"
	"github.com/golive/golive/internal/testutil"
	"github.com/golive/golive/media"
	"github.com/golive/golive/media/yuv"
)

// The cgo helpers read the C pointer out of astiav's wrappers.
func TestAstiavPointers(t *testing.T) {
	f, err := Open(load(t, spec.Defaults(), 64, 32), media.PixelFormatI420, &frames{})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, c := range []*astiav.FilterContext{f.src, f.sink} {
		if got, want := filterOutputs(c), c.NbOutputs(); got != want {
			t.Errorf("nb_outputs through filterPtr %d, astiav %d", got, want)
		}
	}
}

// With nothing asked for, lavfi must not touch a sample: no format or
// range conversion sneaks in.
func TestNeutral(t *testing.T) {
	for _, sz := range [][2]int{{320, 180}, {1280, 720}} {
		in, _, _ := spec.TestFrame(sz[0], sz[1], 1)
		in.PTS, in.Seq = 3*time.Second, 90
		out := filterOnce(t, load(t, spec.Defaults(), sz[0], sz[1]), in, t0)
		if d, _ := spec.Compare(in, out); d > 1 {
			t.Errorf("%dx%d: max difference %d, want ≤ 1", sz[0], sz[1], d)
		}
		// An identity LUT: to RGB and back, no more.
		o := spec.Defaults()
		o.LUT = filepath.Join(t.TempDir(), "identity.cube")
		os.WriteFile(o.LUT, []byte("LUT_3D_SIZE 2\n0 0 0\n1 0 0\n0 1 0\n1 1 0\n0 0 1\n1 0 1\n0 1 1\n1 1 1\n"), 0o644)
		out = filterOnce(t, load(t, o, sz[0], sz[1]), in, t0)
		if d, _ := spec.Compare(in, out); d > 1 {
			t.Errorf("%dx%d, identity LUT: max difference %d, want ≤ 1", sz[0], sz[1], d)
		}
		if out.PTS != in.PTS || out.Seq != in.Seq {
			t.Errorf("PTS/Seq %v/%d, want %v/%d", out.PTS, out.Seq, in.PTS, in.Seq)
		}
	}
}

// Frames of other sizes are scaled to the output size, the graph rebuilt
// at each change, and colour is kept: flat colours stay flat, the
// gradients come out as TestFrame draws them at the output size.
func TestScaledInput(t *testing.T) {
	o := spec.Defaults()
	o.Watermark = writeLogo(t, 48, 24)
	o.Text = "%T"
	var c frames
	f, err := Open(load(t, o, 320, 180), media.PixelFormatI420, &c)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := reference(t, o, flat(320, 180, 100, 90, 170), t0)
	sizes := [][2]int{{640, 360}, {321, 181}, {320, 180}, {1280, 720}, {640, 360}}
	for i, sz := range sizes {
		in := flat(sz[0], sz[1], 100, 90, 170)
		in.PTS, in.Seq = time.Duration(i)*time.Second, uint64(i)
		if err := f.Filter(in, t0); err != nil {
			t.Fatal(err)
		}
	}
	if len(c.got) != len(sizes) {
		t.Fatalf("%d frames out of %d", len(c.got), len(sizes))
	}
	for i, out := range c.got {
		if out.Width != 320 || out.Height != 180 || out.Seq != uint64(i) || out.PTS != time.Duration(i)*time.Second {
			t.Fatalf("frame %d: %dx%d seq %d pts %v", i, out.Width, out.Height, out.Seq, out.PTS)
		}
		// A flat colour stays flat, under the logo and the text that
		// each rebuilt graph has again.
		if d, _ := spec.Compare(want, out); d > 2 {
			t.Errorf("frame %d from %v: max difference %d from a flat frame's spec.Reference", i, sizes[i], d)
		}
	}
	if !strings.HasPrefix(f.Graph(), "[in]scale=320:180") {
		t.Errorf("graph for 640x360 input: %s", f.Graph())
	}

	big, _, _ := spec.TestFrame(640, 360, 1)
	want, noise, edge := spec.TestFrame(320, 180, 1)
	out := filterOnce(t, load(t, spec.Defaults(), 320, 180), big, t0)
	// (Away from the patches and the frame's edges, by the bicubic
	// kernel's reach on the chroma planes.)
	for y := 12; y < 168; y++ {
		for x := 12; x < 308; x++ {
			near := func(r spec.Region) bool { return x >= r.X0-12 && x < r.X1+12 && y >= r.Y0-12 && y < r.Y1+12 }
			if near(noise) || near(edge) {
				continue
			}
			if d := at(out, 0, x, y) - at(want, 0, x, y); d > 1 || d < -1 {
				t.Fatalf("scaled gradient: Y at %d,%d is %d, want %d", x, y, at(out, 0, x, y), at(want, 0, x, y))
			}
			if x%2 == 0 && y%2 == 0 {
				for p := 1; p < 3; p++ {
					if d := at(out, p, x/2, y/2) - at(want, p, x/2, y/2); d > 1 || d < -1 {
						t.Fatalf("scaled gradient: plane %d at %d,%d is %d, want %d", p, x/2, y/2, at(out, p, x/2, y/2), at(want, p, x/2, y/2))
					}
				}
			}
		}
	}
}

// Each pass alone against spec.Reference on TestFrame.
func TestGolden(t *testing.T) {
	cube := testCube(t, "", 1)
	wideCube := testCube(t, "DOMAIN_MIN 0 0 0\nDOMAIN_MAX 2 2 2\n", 1)
	hotCube := testCube(t, "", 1.3)
	logo := writeLogo(t, 61, 41) // odd: its last chroma row and column are half covered
	for _, c := range []struct {
		name  string
		big   bool
		opts  func(o *spec.Options)
		frame string // a fragment of the graph it must run
	}{
		// Within the RGB cube for TestFrame (see TestColourClipping).
		{"colour", true, func(o *spec.Options) { o.Brightness, o.Contrast, o.Saturation = 0.02, 1.05, 1.1 }, "lutyuv="},
		{"colour-contrast", false, func(o *spec.Options) { o.Contrast, o.Saturation = 1.1, 1.2 }, "lutyuv="},
		{"colour-flat", false, func(o *spec.Options) { o.Brightness, o.Contrast, o.Saturation = -0.1, 0.7, 0 }, "lutyuv="},
		{"lut", true, func(o *spec.Options) { o.LUT = cube }, "lut3d="},
		{"lut-domain", false, func(o *spec.Options) { o.LUT = wideCube }, "lut3d="},
		{"lut-clipping", false, func(o *spec.Options) { o.LUT = hotCube }, "lut3d="},
		{"watermark", true, func(o *spec.Options) { o.Watermark = logo; o.WatermarkOpacity = 0.8 }, "overlay="},
		{"watermark-edge", false, func(o *spec.Options) {
			o.Watermark, o.WatermarkScale = logo, 1.5
			o.WatermarkPos = spec.Position{Corner: spec.At, X: 280, Y: 150}
		}, "overlay="},
		{"watermark-big", false, func(o *spec.Options) { o.Watermark, o.WatermarkScale = logo, 6 }, "overlay=x=-"}, // hangs off the left
		{"text", true, func(o *spec.Options) { o.Text = "Lobby %Y-%m-%d %H:%M:%S" }, "overlay="},
		{"text-top-right", false, func(o *spec.Options) { o.Text, o.TextPos, o.TextSize = "%T", spec.Position{Corner: spec.TopRight}, 21 }, "overlay="},
	} {
		sizes := [][2]int{{320, 180}}
		if c.big {
			sizes = append(sizes, [2]int{1280, 720})
		}
		for _, sz := range sizes {
			o := spec.Defaults()
			c.opts(&o)
			in, _, _ := spec.TestFrame(sz[0], sz[1], 1)
			var got frames
			f, err := Open(load(t, o, sz[0], sz[1]), media.PixelFormatI420, &got)
			if err != nil {
				t.Fatal(err)
			}
			if err := f.Filter(clone(in), t0); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(f.Graph(), c.frame) {
				t.Errorf("%s: graph %s has no %s", c.name, f.Graph(), c.frame)
			}
			f.Close()
			ref := reference(t, o, in, t0)
			d, psnr := spec.Compare(ref, got.got[0])
			t.Logf("%s %dx%d: max difference %d, PSNR %.1f dB", c.name, sz[0], sz[1], d, psnr)
			if d > 2 {
				t.Errorf("%s %dx%d: max difference %d from spec.Reference (PSNR %.1f dB), want ≤ 2", c.name, sz[0], sz[1], d, psnr)
			}
		}
	}
}

// The sink gives NV12 when asked: the same input and options give the
// same Y and, de-interleaved, the same U and V as I420, through every pass
// and at an odd size: byte for byte (the last format filter only
// interleaves them), but for an input that is scaled and then passes
// through no other filter, which swscale scales straight to NV12 and
// rounds a little differently (within a code value).
func TestNV12(t *testing.T) {
	cube := testCube(t, "", 1)
	logo := writeLogo(t, 48, 24)
	for _, sz := range [][2]int{{320, 180}, {321, 181}} {
		for _, tc := range []struct {
			name string
			o    func(*spec.Options)
		}{
			{"neutral", func(*spec.Options) {}},
			{"all", func(o *spec.Options) {
				o.Beauty, o.Brightness, o.Contrast, o.Saturation = 0.6, 0.05, 1.1, 1.2
				o.LUT, o.Watermark, o.Text = cube, logo, "%T"
			}},
		} {
			w, h := sz[0], sz[1]
			t.Run(fmt.Sprintf("%dx%d %s", w, h, tc.name), func(t *testing.T) {
				o := spec.Defaults()
				tc.o(&o)
				in1, _, _ := spec.TestFrame(w, h, 1)
				big, _, _ := spec.TestFrame(2*w, 2*h, 2)
				in3, _, _ := spec.TestFrame(w, h, 3)
				ins := []*media.VideoFrame{in1, big, in3}
				stream := func(pf media.PixelFormat) ([]*media.VideoFrame, string) {
					var c frames
					f, err := Open(load(t, o, w, h), pf, &c)
					if err != nil {
						t.Fatal(err)
					}
					defer f.Close()
					for i, in := range ins {
						fr := clone(in)
						fr.PTS, fr.Seq = time.Duration(i)*time.Second/30, uint64(i)
						if err := f.Filter(fr, t0); err != nil {
							t.Fatal(err)
						}
					}
					if len(c.got) != len(ins) {
						t.Fatalf("%v: %d frames out of %d", pf, len(c.got), len(ins))
					}
					return c.got, f.Graph()
				}
				i420, g420 := stream(media.PixelFormatI420)
				nv12, gNV12 := stream(media.PixelFormatNV12)
				if !strings.HasSuffix(g420, ",format=yuv420p[out]") || !strings.HasSuffix(gNV12, ",format=nv12[out]") {
					t.Errorf("graphs %s and %s: want them to end in format=yuv420p and format=nv12", g420, gNV12)
				}
				for i := range ins {
					tol := 0
					if ins[i] == big && tc.name == "neutral" {
						tol = 1
					}
					if err := spec.SameAsNV12(nv12[i], i420[i], tol); err != nil {
						t.Errorf("frame %d: %v", i, err)
					}
					if nv12[i].PTS != i420[i].PTS || nv12[i].Seq != uint64(i) {
						t.Errorf("frame %d: PTS %v Seq %d, want %v %d", i, nv12[i].PTS, nv12[i].Seq, i420[i].PTS, i)
					}
				}
				d, psnr := spec.Compare(reference(t, o, in1, t0), nv12[0])
				t.Logf("NV12 against spec.Reference: max difference %d, PSNR %.1f dB", d, psnr)
				if psnr < 40 {
					t.Errorf("NV12 against spec.Reference: PSNR %.1f dB, want ≥ 40", psnr)
				}
			})
		}
	}
}

// TestColourStrong: at strong settings that push most of TestFrame out of
// the RGB cube, lutyuv is spec's ColourYUV exactly, over the whole frame.
func TestColourStrong(t *testing.T) {
	o := spec.Defaults()
	o.Brightness, o.Contrast, o.Saturation = 0.1, 1.2, 1.4
	in, _, _ := spec.TestFrame(320, 180, 1)
	out := filterOnce(t, load(t, o, 320, 180), in, t0)
	ref := reference(t, o, in, t0)
	if d, psnr := spec.Compare(ref, out); d > 1 {
		t.Errorf("max difference %d from spec.Reference (PSNR %.1f dB), want ≤ 1", d, psnr)
	}
}

// Beauty is beauty.c, spec.Beauty to a code value or two, whatever the
// strength; its quality figures (noise on the skin patch, the edge's
// width) are spec.Reference's, and are logged against the bilateral
// beauty was before (spec.BeautyBilateral: spec's tests hold the bars).
func TestBeauty(t *testing.T) {
	for _, tc := range []struct {
		w, h int
		s    float64
	}{{320, 180, 0.6}, {1280, 720, 0.6}, {320, 180, 0.2}, {320, 180, 1}, {321, 181, 0.6}} {
		o := spec.Defaults()
		o.Beauty = tc.s
		in, noise, edge := spec.TestFrame(tc.w, tc.h, 1)
		out := filterOnce(t, load(t, o, tc.w, tc.h), in, t0)
		ref := reference(t, o, in, t0)
		old := spec.BilateralFrame(in, tc.s)
		d, psnr := spec.Compare(ref, out)
		_, psnrOld := spec.Compare(old, out)
		t.Logf("%dx%d s %.1f: against spec.Reference max difference %d, PSNR %.1f dB; against the old bilateral %.1f dB",
			tc.w, tc.h, tc.s, d, psnr, psnrOld)
		if d > 2 || psnr < 50 {
			t.Errorf("%dx%d s %.1f: max difference %d (PSNR %.1f dB) from spec.Reference, want ≤ 2 (≥ 50 dB)", tc.w, tc.h, tc.s, d, psnr)
		}
		mIn, vIn := spec.LumaStats(in, noise)
		mOut, vOut := spec.LumaStats(out, noise)
		_, vRef := spec.LumaStats(ref, noise)
		_, vOld := spec.LumaStats(old, noise)
		t.Logf("noise variance %.1f → %.2f (spec %.2f, the old bilateral %.2f); skin mean %.2f → %.2f", vIn, vOut, vRef, vOld, mIn, mOut)
		if vOut > vRef*1.05+0.1 {
			t.Errorf("noise variance %.2f, spec.Reference's %.2f", vOut, vRef)
		}
		if mOut <= mIn && tc.s >= 0.5 {
			t.Errorf("skin mean luma %.2f → %.2f: want brighter", mIn, mOut)
		}
		wi, wo, wr := spec.EdgeWidth(in, edge), spec.EdgeWidth(out, edge), spec.EdgeWidth(ref, edge)
		t.Logf("edge 10–90%% width %.3f → %.3f px (spec %.3f, the old bilateral %.3f)", wi, wo, wr, spec.EdgeWidth(old, edge))
		if wo > wr+0.02 {
			t.Errorf("edge 10–90%% width %.3f px, spec.Reference's %.3f", wo, wr)
		}
		for p := 1; p < 3; p++ {
			for i := range out.Planes[p] {
				if out.Planes[p][i] != in.Planes[p][i] {
					t.Fatalf("beauty changed chroma (plane %d)", p)
				}
			}
		}
	}
}

// Beauty runs on the frame scaled to the output size, before the other
// passes: a frame of another size comes out as beauty.c on what the same
// Filter without beauty makes of it — with colour, the scale, beauty, then
// lutyuv.
func TestBeautyAfterScale(t *testing.T) {
	for _, sz := range [][2]int{{640, 360}, {200, 120}, {321, 181}} {
		big, _, _ := spec.TestFrame(sz[0], sz[1], 2)
		o := spec.Defaults()
		scaled := filterOnce(t, load(t, o, 320, 180), big, t0)
		o.Beauty = 0.6
		got := filterOnce(t, load(t, o, 320, 180), big, t0)
		want := beautyFrame(newBeauty(0.6, 320, 180), scaled)
		if d, psnr := spec.Compare(want, got); d != 0 {
			t.Errorf("%dx%d in: max difference %d (PSNR %.1f dB) from beauty on the scaled frame", sz[0], sz[1], d, psnr)
		}
		// And with colour after it.
		o.Brightness, o.Contrast = 0.05, 1.2
		got = filterOnce(t, load(t, o, 320, 180), big, t0)
		o.Beauty = 0
		o.Brightness, o.Contrast = 0.05, 1.2
		want = filterOnce(t, load(t, o, 320, 180), want, t0)
		if d, psnr := spec.Compare(want, got); d != 0 {
			t.Errorf("%dx%d in, with colour: max difference %d (PSNR %.1f dB) from beauty then colour", sz[0], sz[1], d, psnr)
		}
	}
}

// The graph is what Graph says: the ffmpeg command line, given the same
// description and what beauty made of the frame, makes the same picture.
// (Beauty itself is beauty.c, not lavfi: no ffmpeg filter is spec.Beauty;
// Bilateral is what stands in for it on the ffmpeg command line.)
func TestGraphMatchesFFmpeg(t *testing.T) {
	testutil.RequireTool(t, "ffmpeg")
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Fatal(err)
	}
	o := spec.Defaults()
	o.Beauty = 0.6
	o.Brightness, o.Contrast, o.Saturation = 0.05, 1.1, 1.2
	in, _, _ := spec.TestFrame(320, 180, 1)
	var c frames
	f, err := Open(load(t, o, 320, 180), media.PixelFormatI420, &c)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Filter(clone(in), t0); err != nil {
		t.Fatal(err)
	}
	desc := f.Graph()
	if !strings.HasPrefix(desc, "[in]lutyuv=") || !strings.HasSuffix(desc, "[out]") || strings.Contains(desc, "bilateral") {
		t.Fatalf("graph %s", desc)
	}
	beautified := beautyFrame(newBeauty(0.6, 320, 180), in)
	dir := t.TempDir()
	raw := filepath.Join(dir, "in.yuv")
	if err := os.WriteFile(raw, append(append(append([]byte(nil), beautified.Planes[0]...), beautified.Planes[1]...), beautified.Planes[2]...), 0o644); err != nil {
		t.Fatal(err)
	}
	desc = "[0:v]" + strings.TrimSuffix(strings.TrimPrefix(desc, "[in]"), "[out]") + "[o]"
	outPath := filepath.Join(dir, "out.yuv")
	cmd := exec.Command(ffmpeg, "-v", "error", "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", "320x180", "-i", raw,
		"-filter_complex", desc, "-map", "[o]", "-f", "rawvideo", "-pix_fmt", "yuv420p", "-y", outPath)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, b)
	}
	b, err := os.ReadFile(outPath)
	if err != nil || len(b) != 320*180*3/2 {
		t.Fatalf("ffmpeg wrote %d bytes (%v)", len(b), err)
	}
	ff := media.NewFramePool(320, 180).Get()
	copy(ff.Planes[0], b)
	copy(ff.Planes[1], b[320*180:])
	copy(ff.Planes[2], b[320*180*5/4:])
	d, psnr := spec.Compare(ff, c.got[0])
	t.Logf("ffmpeg -filter_complex %q on beauty's output: max difference %d, PSNR %.1f dB", desc, d, psnr)
	if d > 1 {
		t.Errorf("ffmpeg's result with the same graph: max difference %d (PSNR %.1f dB), want ≤ 1", d, psnr)
	}
}

// The logo's opaque, half and transparent thirds, by the numbers.
func TestWatermarkPixels(t *testing.T) {
	logo := writeLogo(t, 48, 16)
	in, _, _ := spec.TestFrame(320, 180, 1)
	ly, lu, lv := yuv.FromRGB(float64(logoRGB.R)/255, float64(logoRGB.G)/255, float64(logoRGB.B)/255)
	for _, opacity := range []float64{1, 0.5} {
		o := spec.Defaults()
		o.Watermark, o.WatermarkOpacity = logo, opacity
		o.WatermarkPos = spec.Position{Corner: spec.At, X: 40, Y: 20}
		out := filterOnce(t, load(t, o, 320, 180), in, t0)
		for third, alpha := range logoAlphas {
			a := float64(uint8(float64(alpha)*opacity+0.5)) / 255
			x, y := 40+16*third+6, 20+6 // a 2×2 block inside the third
			blend := func(bg, logo float64) int { return int(yuv.Byte(bg*(1-a) + logo*a)) }
			want := [3]int{
				blend(float64(at(in, 0, x, y)), ly),
				blend(float64(at(in, 1, x/2, y/2)), lu),
				blend(float64(at(in, 2, x/2, y/2)), lv),
			}
			got := [3]int{at(out, 0, x, y), at(out, 1, x/2, y/2), at(out, 2, x/2, y/2)}
			for p := range 3 {
				if d := got[p] - want[p]; d > 1 || d < -1 {
					t.Errorf("opacity %g, alpha %d: Y/U/V %v, want %v ±1", opacity, alpha, got, want)
					break
				}
			}
		}
		// Outside the logo: untouched.
		if at(out, 0, 39, 19) != at(in, 0, 39, 19) || at(out, 0, 88, 36) != at(in, 0, 88, 36) {
			t.Errorf("opacity %g: pixels outside the logo changed", opacity)
		}
	}
}

// The text box follows the clock: a new picture when the second ticks,
// the same one while it does not. Whoever else renders the same Text in
// between (here spec.Reference) does not make it miss a change.
func TestTextTicks(t *testing.T) {
	o := spec.Defaults()
	o.Text = "%H:%M:%S"
	a := load(t, o, 320, 180)
	in, _, _ := spec.TestFrame(320, 180, 1)
	var c frames
	f, err := Open(a, media.PixelFormatI420, &c)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	times := []time.Time{t0, t0.Add(400 * time.Millisecond), t0.Add(time.Second), t0.Add(1900 * time.Millisecond), t0.Add(2 * time.Second)}
	for i, now := range times {
		if err := f.Filter(clone(in), now); err != nil {
			t.Fatal(err)
		}
		ref := spec.Reference(in, a, now) // renders a.Text too
		if d, psnr := spec.Compare(ref, c.got[i]); d > 2 {
			t.Errorf("frame %d (%s): max difference %d (PSNR %.1f dB) from spec.Reference", i, now.Format("15:04:05.000"), d, psnr)
		}
	}
	same := func(i, j int) bool { d, _ := spec.Compare(c.got[i], c.got[j]); return d == 0 }
	if !same(0, 1) || !same(2, 3) {
		t.Error("the text changed within a second")
	}
	if same(1, 2) || same(3, 4) {
		t.Error("the second ticked and the text stayed")
	}
}

// A stream, not a frame: the logo given once stays for good, the text
// follows the clock, every frame comes out with its own PTS and Seq.
func TestStream(t *testing.T) {
	o := spec.Defaults()
	o.Watermark = writeLogo(t, 48, 24)
	o.Text = "%H:%M:%S"
	o.Brightness = 0.02
	in, _, _ := spec.TestFrame(320, 180, 1)
	var c frames
	f, err := Open(load(t, o, 320, 180), media.PixelFormatI420, &c)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const n = 75
	now := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Second / 30) }
	for i := range n {
		fr := clone(in)
		fr.PTS, fr.Seq = time.Duration(i)*time.Second/30, uint64(1000+i)
		if err := f.Filter(fr, now(i)); err != nil {
			t.Fatal(err)
		}
	}
	if len(c.got) != n {
		t.Fatalf("%d frames out of %d", len(c.got), n)
	}
	for i, out := range c.got {
		if out.Seq != uint64(1000+i) || out.PTS != time.Duration(i)*time.Second/30 {
			t.Fatalf("frame %d: seq %d pts %v", i, out.Seq, out.PTS)
		}
	}
	for _, i := range []int{0, 29, 30, n - 1} {
		if d, psnr := spec.Compare(reference(t, o, in, now(i)), c.got[i]); d > 2 {
			t.Errorf("frame %d: max difference %d (PSNR %.1f dB) from spec.Reference", i, d, psnr)
		}
	}
}

// lut3d's file name survives both of the graph parser's unescapings,
// whatever the temporary directory is called.
func TestLUTPathQuoting(t *testing.T) {
	dir := filepath.Join(t.TempDir(), `it's [a,b];c:d=e\f`)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TMPDIR", dir)
	o := spec.Defaults()
	o.LUT = testCube(t, "", 1)
	in, _, _ := spec.TestFrame(64, 36, 1)
	out := filterOnce(t, load(t, o, 64, 36), in, t0)
	if d, _ := spec.Compare(reference(t, o, in, t0), out); d > 2 {
		t.Errorf("max difference %d from spec.Reference", d)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*")); len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
}

func TestBadOptions(t *testing.T) {
	dir := t.TempDir()
	corrupt := filepath.Join(dir, "corrupt.cube")
	os.WriteFile(corrupt, []byte("LUT_3D_SIZE 3\n0 0 0\n1 1 oops\n"), 0o644)
	for name, a := range map[string]*spec.Assets{
		"missing LUT": {Options: spec.Options{LUT: filepath.Join(dir, "none.cube"), Contrast: 1, Saturation: 1}, Width: 320, Height: 180},
		"corrupt LUT": {Options: spec.Options{LUT: corrupt, Contrast: 1, Saturation: 1}, Width: 320, Height: 180},
		"short LUT": {Options: spec.Defaults(), Width: 320, Height: 180,
			LUT: &spec.LUT{Size: 4, Max: [3]float64{1, 1, 1}, Data: make([]float32, 3*4*4)}},
		"no size": {Options: spec.Defaults()},
	} {
		f, err := Open(a, media.PixelFormatI420, &frames{})
		if err == nil {
			f.Close()
			t.Errorf("%s: Open worked", name)
			continue
		}
		if !errors.Is(err, spec.ErrBadOption) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %q: want one line wrapping spec.ErrBadOption", name, err)
		}
	}
	if _, err := Open(load(t, spec.Defaults(), 64, 32), media.PixelFormat(99), &frames{}); !errors.Is(err, spec.ErrBadOption) {
		t.Errorf("an unknown output format: %v, want ErrBadOption", err)
	}
}

// A description lavfi rejects fails cleanly: a failed parse frees every
// filter of the graph, the sources we made among them, and Close must not
// free them again.
func TestGraphParseFailure(t *testing.T) {
	f, err := Open(load(t, spec.Defaults(), 64, 32), media.PixelFormatI420, &frames{})
	if err != nil {
		t.Fatal(err)
	}
	f.freeGraph()
	if err := f.buildGraph("[in]nosuchfilter[out]", 64, 32); err == nil {
		t.Error("a graph with an unknown filter was built")
	}
	f.Close()
	f.Close()
}

func TestCloseAndMisuse(t *testing.T) {
	o := spec.Defaults()
	o.Watermark = writeLogo(t, 32, 16)
	o.Text = "%T"
	f, err := Open(load(t, o, 64, 64), media.PixelFormatI420, &frames{})
	if err != nil {
		t.Fatal(err)
	}
	in := flat(64, 64, 16, 128, 128)
	f.Close()
	f.Close()
	if err := f.Filter(in, t0); err == nil {
		t.Error("Filter after Close worked")
	}
	if f.Name() != "cpu: libavfilter" {
		t.Errorf("Name %q", f.Name())
	}
	bad := &media.VideoFrame{Width: 64, Height: 64}
	g, err := Open(load(t, spec.Defaults(), 64, 64), media.PixelFormatI420, &frames{})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if err := g.Filter(bad, t0); err == nil {
		t.Error("a frame of no format was taken")
	}
}

// Steady state allocates nothing, whichever the output format: the input
// buffers come from our pool, the output frames from the Filter's, and
// Text.Render (which allocates) runs once a second.
func TestNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops frames at random under the race detector")
	}
	for _, pf := range []media.PixelFormat{media.PixelFormatI420, media.PixelFormatNV12} {
		t.Run(pf.String(), func(t *testing.T) { testNoAllocs(t, pf) })
	}
}

func testNoAllocs(t *testing.T, pf media.PixelFormat) {
	o := spec.Defaults()
	o.Beauty = 0.6
	o.Watermark = writeLogo(t, 32, 16)
	o.Text = "%H:%M:%S"
	f, err := Open(load(t, o, 160, 96), pf, media.VideoWriterFunc(func(f *media.VideoFrame) error { f.Release(); return nil }))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	src := media.NewFramePool(160, 96)
	now := t0
	step := func() {
		if err := f.Filter(src.Get(), now); err != nil {
			t.Fatal(err)
		}
	}
	for range 5 {
		step()
	}
	if n := testing.AllocsPerRun(50, step); n != 0 {
		t.Errorf("%.1f allocations a frame, want 0", n)
	}
}
