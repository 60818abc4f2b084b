package gl

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/go-gl/gl/v3.1/gles2"

	"github.com/golive/golive/filter/spec"
	"github.com/golive/golive/media"
	"github.com/golive/golive/media/yuv"
)

func TestProbe(t *testing.T) {
	info := needGL(t)
	t.Logf("%+v", info)
	switch info.Platform {
	case "device", "gbm", "surfaceless":
	default:
		t.Errorf("Platform %q", info.Platform)
	}
	if info.Renderer == "" || info.Vendor == "" || !strings.HasPrefix(info.Version, "OpenGL ES 3") {
		t.Errorf("Info %+v: want a renderer, a vendor and OpenGL ES 3", info)
	}
	if strings.Contains(info.Renderer, "llvmpipe") && info.Hardware {
		t.Errorf("llvmpipe reported as hardware")
	}
}

func TestHardware(t *testing.T) {
	for renderer, want := range map[string]bool{
		"llvmpipe (LLVM 15.0.6, 256 bits)": false,
		"softpipe":                         false,
		"Software Rasterizer (swrast)":     false,
		"V3D 4.2":                          true,
		"NVIDIA H100 80GB HBM3/PCIe/SSE2":  true,
		"Mesa Intel(R) UHD Graphics 620":   true,
	} {
		if got := hardware(renderer); got != want {
			t.Errorf("hardware(%q) = %v, want %v", renderer, got, want)
		}
	}
}

// With no pass asked for, the frame goes YUV → RGB → YUV and comes back
// as it went in, whatever its strides, also at odd sizes.
func TestNeutralRoundTrip(t *testing.T) {
	needGL(t)
	for _, sz := range [][2]int{{testW, testH}, {testW + 1, testH + 1}} {
		in, _, _ := spec.TestFrame(sz[0], sz[1], 1)
		var c collect
		f, err := Open(assets(t, spec.Defaults(), sz[0], sz[1]), media.PixelFormatI420, &c)
		if err != nil {
			t.Fatal(err)
		}
		for _, pad := range []int{0, 35} {
			if err := f.Filter(clone(in, pad), testNow); err != nil {
				t.Fatal(err)
			}
		}
		if err := f.Flush(); err != nil {
			t.Fatal(err)
		}
		f.Close()
		for i, got := range c.got {
			name := fmt.Sprintf("%dx%d, stride pad %d", sz[0], sz[1], []int{0, 35}[i])
			if md, psnr := spec.Compare(got, in); md > 1 {
				t.Errorf("%s: max diff %d from the input (PSNR %.1f dB), want ≤ 1%s", name, md, psnr, worst(got, in))
			}
			golden(t, name, got, reference(t, spec.Defaults(), in, testNow))
		}
	}
}

// Each pass alone against spec.Reference on spec.TestFrame.
func TestGolden(t *testing.T) {
	needGL(t)
	dir := t.TempDir()
	// Size 9 with a curve per channel: far from identity, and smooth
	// enough that trilinear interpolation is what decides the result.
	curve := filepath.Join(dir, "curve.cube")
	writeCube(t, curve, 9, "", func(r, g, b float64) (float64, float64, float64) {
		return r * r, 0.1 + 0.8*g, 1 - (1-b)*(1-b)*(1-b)
	})
	// Channels swapped over a wider domain, entries past 0..1 (clamped).
	domain := filepath.Join(dir, "domain.cube")
	writeCube(t, domain, 5, "DOMAIN_MIN 0 0 0\nDOMAIN_MAX 1.25 1 1\n", func(r, g, b float64) (float64, float64, float64) {
		return 1.2*b - 0.1, r, 0.5 * (g + r)
	})
	logo := writePNG(t, testLogo())

	for _, tc := range []struct {
		name string
		o    func(*spec.Options)
	}{
		{"beauty 0.6", func(o *spec.Options) { o.Beauty = 0.6 }},
		{"beauty 1", func(o *spec.Options) { o.Beauty = 1 }},
		{"colour", func(o *spec.Options) { o.Brightness, o.Contrast, o.Saturation = 0.1, 1.2, 1.4 }},
		{"colour darker, desaturated", func(o *spec.Options) { o.Brightness, o.Contrast, o.Saturation = -0.2, 0.7, 0.3 }},
		{"lut", func(o *spec.Options) { o.LUT = curve }},
		{"lut domain", func(o *spec.Options) { o.LUT = domain }},
		{"watermark", func(o *spec.Options) { o.Watermark = logo }},
		{"watermark scaled, faded", func(o *spec.Options) {
			o.Watermark, o.WatermarkScale, o.WatermarkOpacity = logo, 1.5, 0.6
		}},
		{"text", func(o *spec.Options) { o.Text = "Lobby %Y-%m-%d %H:%M:%S" }},
		{"all", func(o *spec.Options) {
			o.Beauty, o.Brightness, o.Contrast, o.Saturation = 0.6, 0.1, 1.2, 1.4
			o.LUT, o.Watermark, o.Text = curve, logo, "%T"
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := spec.Defaults()
			tc.o(&o)
			in, _, _ := spec.TestFrame(testW, testH, 7)
			in.PTS, in.Seq = 1234*time.Millisecond, 42
			got := run(t, o, media.PixelFormatI420, testW, testH, testNow, in)[0]
			if got.PTS != in.PTS || got.Seq != in.Seq || got.Width != testW || got.Height != testH {
				t.Errorf("out %dx%d PTS %v Seq %d, want %dx%d %v %d", got.Width, got.Height, got.PTS, got.Seq,
					testW, testH, in.PTS, in.Seq)
			}
			want := reference(t, o, in, testNow)
			golden(t, tc.name, got, want)
			if md, _ := spec.Compare(got, in); md < 10 {
				t.Errorf("the output is within %d of the input: the pass did nothing", md)
			}
		})
	}
}

// Beauty on GL keeps the quality measures of spec.Reference's beauty on
// TestFrame: the noise left on the skin patch, the width of the edge, the
// skin's brightening; logged beside the input's and the 17-tap
// bilateral's (spec.BeautyBilateral, beauty before the guided filter).
func TestBeautyQuality(t *testing.T) {
	needGL(t)
	for _, sz := range [][2]int{{testW, testH}, {1280, 720}} {
		for _, s := range []float64{0.6, 1} {
			w, h := sz[0], sz[1]
			name := fmt.Sprintf("%dx%d beauty %g", w, h, s)
			o := spec.Defaults()
			o.Beauty = s
			in, noise, edge := spec.TestFrame(w, h, 1)
			got := run(t, o, media.PixelFormatI420, w, h, testNow, in)[0]
			ref := reference(t, o, in, testNow)
			bil := spec.BilateralFrame(in, s)
			mIn, vIn := spec.LumaStats(in, noise)
			mGot, vGot := spec.LumaStats(got, noise)
			mRef, vRef := spec.LumaStats(ref, noise)
			_, vBil := spec.LumaStats(bil, noise)
			wIn, wGot, wRef, wBil := spec.EdgeWidth(in, edge), spec.EdgeWidth(got, edge), spec.EdgeWidth(ref, edge), spec.EdgeWidth(bil, edge)
			t.Logf("%s: skin noise variance %.2f → %.2f (spec.Reference %.2f, bilateral %.2f); edge width %.2f → %.2f px (%.2f, %.2f); "+
				"skin mean %.1f → %.1f (%.1f)", name, vIn, vGot, vRef, vBil, wIn, wGot, wRef, wBil, mIn, mGot, mRef)
			if vGot > vRef*1.05+0.1 {
				t.Errorf("%s: skin noise variance %.2f, spec.Reference's %.2f", name, vGot, vRef)
			}
			if wGot > wRef+0.1 {
				t.Errorf("%s: edge width %.2f px, spec.Reference's %.2f", name, wGot, wRef)
			}
			if mGot <= mIn || math.Abs(mGot-mRef) > 0.2 {
				t.Errorf("%s: skin mean luma %.1f → %.1f, spec.Reference's %.1f", name, mIn, mGot, mRef)
			}
		}
	}
}

// Beauty's smoothing S, read back as the floats it is, against
// spec.GuidedSmooth on random luma (edges everywhere): at sizes whose half
// size is even and odd in each direction (guided.frag keeps two rows a
// texel) and at each radius spec.BeautyRadius gives, odd and even.
func TestGuidedSmooth(t *testing.T) {
	needGL(t)
	rng := rand.New(rand.NewPCG(1, 2))
	var strengths []float64 // the first strength of each radius
	seen := map[int]bool{}
	for i := 1; i <= 20; i++ {
		if s := float64(i) / 20; !seen[spec.BeautyRadius(s)] {
			seen[spec.BeautyRadius(s)] = true
			strengths = append(strengths, s)
		}
	}
	for _, sz := range [][2]int{{testW, testH}, {testW + 2, testH + 2}, {testW + 1, testH + 1}, {testW - 2, testH - 2}, {37, 9}} {
		for _, s := range strengths {
			w, h := sz[0], sz[1]
			o := spec.Defaults()
			o.Beauty = s
			in, _, _ := spec.TestFrame(w, h, 1)
			l := make([]float64, w*h)
			for y := range h {
				for x := range w {
					v := uint8(16 + rng.IntN(220))
					if x < w/3 { // and a smooth part, fine noise on a ramp
						v = uint8(60 + x + rng.IntN(5))
					}
					in.Planes[0][y*in.Strides[0]+x] = v
					l[y*w+x] = (float64(v) - 16) / 219
				}
			}
			want := spec.GuidedSmooth(l, w, h, spec.BeautyRadius(s), spec.BeautyEps(s))
			got := make([]uint32, 4*w*((h+1)/2)) // two rows a texel
			at := func(x, y int) float64 { return float64(math.Float32frombits(got[4*(y/2*w+x)+y%2])) }
			onGLThread(t, func() error {
				r, err := newRenderer(assets(t, o, w, h), media.PixelFormatI420)
				defer r.free()
				if err != nil {
					return err
				}
				if _, err := r.filter(clone(in, 0), testNow); err != nil {
					return err
				}
				gles2.BindFramebuffer(gles2.FRAMEBUFFER, r.fboSmooth)
				gles2.ReadPixels(0, 0, int32(w), int32((h+1)/2), gles2.RGBA_INTEGER, gles2.UNSIGNED_INT, unsafe.Pointer(&got[0]))
				gles2.BindFramebuffer(gles2.FRAMEBUFFER, 0)
				return glError()
			})
			worst, wx, wy := 0.0, 0, 0
			for y := range h {
				for x := range w {
					if d := math.Abs(at(x, y) - want[y*w+x]); d > worst {
						worst, wx, wy = d, x, y
					}
				}
			}
			t.Logf("%dx%d beauty %g (r %d): max |S − spec.GuidedSmooth| %.2g at %d,%d", w, h, s, spec.BeautyRadius(s), worst, wx, wy)
			if worst > 1e-4 { // float32 against float64: ~1e-5 where eps is small; 1 code value is 4.6e-3
				t.Errorf("%dx%d beauty %g: S off by %.2g at %d,%d (%g, want %g)", w, h, s, worst, wx, wy, at(wx, wy), want[wy*w+wx])
			}
		}
	}
}

// The last pass writes NV12 as it writes I420: the same input and options
// give the same Y and, de-interleaved, the same U and V, byte for byte, at
// widths that take the split draws for both formats (320), for NV12 only
// (324) and for neither (322, 321 with an odd height).
func TestNV12(t *testing.T) {
	needGL(t)
	logo := writePNG(t, testLogo())
	for _, sz := range [][2]int{{testW, testH}, {testW + 4, testH}, {testW + 2, testH + 1}, {testW + 1, testH + 1}} {
		for _, tc := range []struct {
			name string
			o    func(*spec.Options)
		}{
			{"neutral", func(*spec.Options) {}},
			{"all", func(o *spec.Options) {
				o.Beauty, o.Brightness, o.Contrast, o.Saturation = 0.6, 0.1, 1.2, 1.4
				o.Watermark, o.Text = logo, "%T"
			}},
		} {
			w, h := sz[0], sz[1]
			t.Run(fmt.Sprintf("%dx%d %s", w, h, tc.name), func(t *testing.T) {
				o := spec.Defaults()
				tc.o(&o)
				in1, _, _ := spec.TestFrame(w, h, 7)
				in2, _, _ := spec.TestFrame(w, h, 8)
				in2.PTS, in2.Seq = 40*time.Millisecond, 1
				i420 := run(t, o, media.PixelFormatI420, w, h, testNow, in1, in2)
				nv12 := run(t, o, media.PixelFormatNV12, w, h, testNow, in1, in2)
				for i, in := range []*media.VideoFrame{in1, in2} {
					if err := spec.SameAsNV12(nv12[i], i420[i], 0); err != nil {
						t.Errorf("frame %d: %v", i, err)
					}
					if nv12[i].PTS != in.PTS || nv12[i].Seq != in.Seq {
						t.Errorf("frame %d: PTS %v Seq %d, want %v %d", i, nv12[i].PTS, nv12[i].Seq, in.PTS, in.Seq)
					}
				}
				golden(t, "NV12", spec.Planar(nv12[0]), reference(t, o, in1, testNow))
			})
		}
	}
}

// writeCube writes a size³ .cube of fn (red fastest).
func writeCube(t *testing.T, path string, size int, header string, fn func(r, g, b float64) (float64, float64, float64)) {
	t.Helper()
	var s strings.Builder
	fmt.Fprintf(&s, "# test\nLUT_3D_SIZE %d\n%s", size, header)
	for b := range size {
		for g := range size {
			for r := range size {
				n := float64(size - 1)
				x, y, z := fn(float64(r)/n, float64(g)/n, float64(b)/n)
				fmt.Fprintf(&s, "%.6f %.6f %.6f\n", x, y, z)
			}
		}
	}
	if err := os.WriteFile(path, []byte(s.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// testLogo is 48×32: opaque red, then 50% green, then transparent blue,
// 16 columns each.
func testLogo() *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, 48, 32))
	for y := range 32 {
		for x := range 48 {
			c := color.NRGBA{255, 0, 0, 255}
			switch {
			case x >= 32:
				c = color.NRGBA{0, 0, 255, 0}
			case x >= 16:
				c = color.NRGBA{0, 255, 0, 128}
			}
			img.SetNRGBA(x, y, c)
		}
	}
	return img
}

// The watermark, code value by code value at known pixels of each of its
// areas, with and without opacity.
func TestWatermarkPixels(t *testing.T) {
	needGL(t)
	logo := writePNG(t, testLogo())
	in, _, _ := spec.TestFrame(testW, testH, 3)
	at := image.Pt(100, 40) // over the gradient, on whole chroma blocks
	for _, opacity := range []float64{1, 0.5} {
		o := spec.Defaults()
		o.Watermark, o.WatermarkPos, o.WatermarkOpacity = logo, spec.Position{Corner: spec.At, X: at.X, Y: at.Y}, opacity
		a := assets(t, o, testW, testH)
		got := run(t, o, media.PixelFormatI420, testW, testH, testNow, in)[0]
		for _, area := range []struct {
			name string
			x    int // in the logo; rows 16, 17
		}{{"opaque", 8}, {"half", 24}, {"transparent", 40}} {
			x, y := at.X+area.x, at.Y+16
			wy, wu, wv := blendAt(in, a.Watermark, at, x, y)
			gy := got.Planes[0][y*got.Strides[0]+x]
			gu := got.Planes[1][y/2*got.Strides[1]+x/2]
			gv := got.Planes[2][y/2*got.Strides[2]+x/2]
			if abs(int(gy)-int(yuv.Byte(wy))) > 1 || abs(int(gu)-int(yuv.Byte(wu))) > 1 || abs(int(gv)-int(yuv.Byte(wv))) > 1 {
				t.Errorf("opacity %g, %s at %d,%d: Y U V %d %d %d, want %.1f %.1f %.1f (±1)",
					opacity, area.name, x, y, gy, gu, gv, wy, wu, wv)
			}
			// Pin the areas to what they must be, not only to the maths above.
			iy := in.Planes[0][y*in.Strides[0]+x]
			red, _, _ := yuv.FromRGB(1, 0, 0)
			switch {
			case area.name == "transparent" && gy != iy:
				t.Errorf("opacity %g: transparent area changed Y %d to %d", opacity, iy, gy)
			case area.name == "opaque" && opacity == 1 && abs(int(gy)-int(yuv.Byte(red))) > 1:
				t.Errorf("opaque red: Y %d, want %d", gy, yuv.Byte(red))
			case area.name == "opaque" && opacity < 1:
				mid := (float64(iy) + red) / 2
				if abs(int(gy)-int(mid+0.5)) > 2 {
					t.Errorf("red at opacity 0.5: Y %d, want about %.1f (halfway from %d to %.1f)", gy, mid, iy, red)
				}
			}
		}
	}
}

// blendAt is the reference's watermark at pixel (x, y): its Y, and the U
// and V of its 2×2 block.
func blendAt(in *media.VideoFrame, wm *image.NRGBA, at image.Point, x, y int) (yy, u, v float64) {
	rgb := func(x, y int) (float64, float64, float64) {
		r, g, b := yuv.ToRGB(float64(in.Planes[0][y*in.Strides[0]+x]),
			float64(in.Planes[1][y/2*in.Strides[1]+x/2]), float64(in.Planes[2][y/2*in.Strides[2]+x/2]))
		r, g, b = yuv.Clamp01(r), yuv.Clamp01(g), yuv.Clamp01(b)
		c := wm.NRGBAAt(x-at.X, y-at.Y)
		al := float64(c.A) / 255
		return r*(1-al) + float64(c.R)/255*al, g*(1-al) + float64(c.G)/255*al, b*(1-al) + float64(c.B)/255*al
	}
	yy, _, _ = yuv.FromRGB(rgb(x, y))
	for _, d := range [4][2]int{{0, 0}, {1, 0}, {0, 1}, {1, 1}} {
		_, cu, cv := yuv.FromRGB(rgb(x&^1+d[0], y&^1+d[1]))
		u, v = u+cu/4, v+cv/4
	}
	return yy, u, v
}

// The text follows the clock it is given: redrawn when the second ticks,
// the same frame when it does not.
func TestText(t *testing.T) {
	needGL(t)
	o := spec.Defaults()
	o.Text = "%H:%M:%S"
	a := assets(t, o, testW, testH)
	box := image.Rectangle{Min: a.Text.At(), Max: a.Text.At().Add(a.Text.Size())}
	in, _, _ := spec.TestFrame(testW, testH, 5)
	// Rendered once already: the Filter's first Render reports no change,
	// and the text must be drawn all the same.
	a.Text.Render(testNow)
	var c collect
	f, err := Open(a, media.PixelFormatI420, &c)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	times := []time.Time{testNow, testNow.Add(500 * time.Millisecond), testNow.Add(time.Second)}
	for _, now := range times {
		if err := f.Filter(clone(in, 0), now); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Flush(); err != nil {
		t.Fatal(err)
	}
	if len(c.got) != 3 {
		t.Fatalf("%d frames, want 3", len(c.got))
	}
	golden(t, "09:05:04", c.got[0], reference(t, o, in, times[0]))
	golden(t, "09:05:05", c.got[2], reference(t, o, in, times[2]))
	if md, _ := spec.Compare(c.got[0], c.got[1]); md != 0 {
		t.Errorf("same second, different frames (max diff %d)", md)
	}
	inBox, outBox := 0, 0
	for y := range testH {
		for x := range testW {
			if c.got[1].Planes[0][y*testW+x] != c.got[2].Planes[0][y*testW+x] {
				if image.Pt(x, y).In(box) {
					inBox++
				} else {
					outBox++
				}
			}
		}
	}
	if inBox < 10 || outBox != 0 {
		t.Errorf("next second: %d pixels changed in the text box, %d outside it; want some, none", inBox, outBox)
	}
}

// Input of another size is scaled in the shaders, and the textures follow
// the input's size when it changes.
func TestScale(t *testing.T) {
	needGL(t)
	big, _, _ := spec.TestFrame(2*testW, 2*testH, 9)
	small, _, _ := spec.TestFrame(testW, testH, 9)
	odd, _, _ := spec.TestFrame(testW+50, testH+30, 9)
	tiny, _, _ := spec.TestFrame(testW/2, testH/2, 9)
	got := run(t, spec.Defaults(), media.PixelFormatI420, testW, testH, testNow, big, small, odd, big, tiny)
	// Sampling halfway between input pixels averages each 2×2 block.
	want := reference(t, spec.Defaults(), downscale(big), testNow)
	for _, i := range []int{0, 3} {
		md, psnr := spec.Compare(got[i], want)
		t.Logf("640x360 → 320x180 (frame %d): max diff %d, PSNR %.1f dB", i, md, psnr)
		if psnr < 30 {
			t.Errorf("frame %d: PSNR %.1f dB, want ≥ 30", i, psnr)
		}
	}
	if md, _ := spec.Compare(got[1], small); md > 1 {
		t.Errorf("320x180 after 640x360: max diff %d from the input", md)
	}
	if got[2].Width != testW || got[2].Height != testH {
		t.Errorf("370x210 in: %dx%d out", got[2].Width, got[2].Height)
	}
	// Up: the same picture drawn at half the size, so only roughly alike.
	md, psnr := spec.Compare(got[4], small)
	t.Logf("160x90 → 320x180: max diff %d, PSNR %.1f dB against TestFrame at 320x180", md, psnr)
	if psnr < 25 {
		t.Errorf("160x90 → 320x180: PSNR %.1f dB against TestFrame at 320x180, want ≥ 25", psnr)
	}

	// Beauty takes the scaled luma: its passes read the input bilinearly
	// when it is not the output's size, texel by texel when it is.
	o := spec.Defaults()
	o.Beauty = 0.6
	got = run(t, o, media.PixelFormatI420, testW, testH, testNow, big, small, big)
	want = reference(t, o, downscale(big), testNow)
	for _, i := range []int{0, 2} {
		md, psnr := spec.Compare(got[i], want)
		t.Logf("beauty, 640x360 → 320x180 (frame %d): max diff %d, PSNR %.1f dB", i, md, psnr)
		if psnr < 40 {
			t.Errorf("beauty, frame %d: PSNR %.1f dB, want ≥ 40", i, psnr)
		}
	}
	golden(t, "beauty, 320x180 after 640x360", got[1], reference(t, o, small, testNow))
}

// One frame is held back while the next renders; Flush writes it.
func TestPipelining(t *testing.T) {
	needGL(t)
	in, _, _ := spec.TestFrame(testW, testH, 1)
	var c collect
	f, err := Open(assets(t, spec.Defaults(), testW, testH), media.PixelFormatI420, &c)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(f.Name(), "gl: ") {
		t.Errorf("Name %q", f.Name())
	}
	want := 0
	check := func(step string) {
		t.Helper()
		if len(c.got) != want {
			t.Fatalf("after %s: %d frames written, want %d", step, len(c.got), want)
		}
	}
	for i := range 4 {
		fr := clone(in, 0)
		fr.PTS, fr.Seq = time.Duration(i)*40*time.Millisecond, uint64(10+i)
		if err := f.Filter(fr, testNow); err != nil {
			t.Fatal(err)
		}
		want = i
		check(fmt.Sprintf("Filter %d", i))
	}
	if err := f.Flush(); err != nil {
		t.Fatal(err)
	}
	want = 4
	check("Flush")
	if err := f.Flush(); err != nil {
		t.Fatal(err)
	}
	check("a second Flush")
	for i, g := range c.got {
		if g.PTS != time.Duration(i)*40*time.Millisecond || g.Seq != uint64(10+i) {
			t.Errorf("frame %d: PTS %v Seq %d", i, g.PTS, g.Seq)
		}
	}

	// A writer's error comes back from the call that wrote.
	c.err = errors.New("full")
	if err := f.Filter(clone(in, 0), testNow); err != nil {
		t.Fatal(err)
	}
	if err := f.Flush(); err == nil || err.Error() != "full" {
		t.Errorf("Flush with a failing writer: %v", err)
	}

	f.Close()
	f.Close()
	if err := f.Filter(clone(in, 0), testNow); !errors.Is(err, ErrClosed) {
		t.Errorf("Filter after Close: %v", err)
	}
	if err := f.Flush(); !errors.Is(err, ErrClosed) {
		t.Errorf("Flush after Close: %v", err)
	}
}

// Two Filters share the EGL display: closing one leaves the other working.
func TestTwoFilters(t *testing.T) {
	needGL(t)
	in, _, _ := spec.TestFrame(testW, testH, 1)
	var c1, c2 collect
	f1, err := Open(assets(t, spec.Defaults(), testW, testH), media.PixelFormatI420, &c1)
	if err != nil {
		t.Fatal(err)
	}
	defer f1.Close()
	f2, err := Open(assets(t, spec.Defaults(), testW, testH), media.PixelFormatI420, &c2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Probe(); err != nil {
		t.Fatal(err)
	}
	f2.Close()
	for range 2 {
		if err := f1.Filter(clone(in, 0), testNow); err != nil {
			t.Fatal(err)
		}
	}
	if err := f1.Flush(); err != nil {
		t.Fatal(err)
	}
	for _, g := range c1.got {
		if md, _ := spec.Compare(g, in); md > 1 {
			t.Errorf("max diff %d after the other Filter closed", md)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	needGL(t)
	w := media.VideoWriterFunc(func(f *media.VideoFrame) error { f.Release(); return nil })
	if _, err := Open(nil, media.PixelFormatI420, w); err == nil {
		t.Error("nil assets: no error")
	}
	if _, err := Open(&spec.Assets{Options: spec.Defaults()}, media.PixelFormatI420, w); err == nil {
		t.Error("no size: no error")
	}
	if _, err := Open(assets(t, spec.Defaults(), testW, testH), media.PixelFormatI420, nil); err == nil {
		t.Error("no writer: no error")
	}
	if _, err := Open(assets(t, spec.Defaults(), testW, testH), media.PixelFormat(99), w); !errors.Is(err, spec.ErrBadOption) {
		t.Errorf("an unknown output format: %v, want ErrBadOption", err)
	}
	_, err := Open(&spec.Assets{Options: spec.Defaults(), Width: 1 << 20, Height: 16}, media.PixelFormatI420, w)
	if err == nil || !strings.HasPrefix(err.Error(), "gl: ") || strings.Contains(err.Error(), "\n") {
		t.Errorf("a frame wider than any texture: %q, want one line starting gl:", err)
	}
	t.Log(err)

	var c collect
	f, err := Open(assets(t, spec.Defaults(), testW, testH), media.PixelFormatI420, &c)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	in, _, _ := spec.TestFrame(testW, testH, 1)
	bad := clone(in, 0)
	bad.Planes[1] = bad.Planes[1][:10]
	if err := f.Filter(bad, testNow); err == nil {
		t.Error("a short chroma plane: no error")
	}
}

// onGLThread runs fn with a context current on a locked thread of its own.
func onGLThread(t *testing.T, fn func() error) {
	t.Helper()
	errc := make(chan error)
	go func() {
		runtime.LockOSThread()
		c, err := openContext()
		if err != nil {
			errc <- err
			return
		}
		defer c.close()
		errc <- fn()
	}()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// A shader that does not compile is reported as one line with its name.
func TestShaderError(t *testing.T) {
	needGL(t)
	onGLThread(t, func() error {
		_, err := program("broken", "#version 300 es\nprecision highp float;\nout vec4 o;\nvoid main() {\n\to = nonsense;\n}\n", []string{"X"})
		if err == nil {
			return errors.New("no error from a broken shader")
		}
		t.Log(err)
		if !strings.Contains(err.Error(), "broken.frag") || strings.Contains(err.Error(), "\n") {
			return fmt.Errorf("%q: want one line naming broken.frag", err)
		}
		return nil
	})
}

// free deletes every GL object, once: none is left, and a second free
// does nothing. Either output format.
func TestFree(t *testing.T) {
	needGL(t)
	dir := t.TempDir()
	lut := filepath.Join(dir, "id.cube")
	writeCube(t, lut, 2, "", func(r, g, b float64) (float64, float64, float64) { return r, g, b })
	o := spec.Defaults()
	o.Beauty, o.Brightness, o.LUT, o.Watermark, o.Text = 0.5, 0.1, lut, writePNG(t, testLogo()), "%T"
	a := assets(t, o, testW, testH)
	in, _, _ := spec.TestFrame(testW, testH, 1)
	for _, pf := range []media.PixelFormat{media.PixelFormatI420, media.PixelFormatNV12} {
		onGLThread(t, func() error {
			r, err := newRenderer(a, pf)
			if err != nil {
				r.free()
				return fmt.Errorf("%v: %w", pf, err)
			}
			if _, err := r.filter(clone(in, 0), testNow); err != nil {
				return err
			}
			tex := []uint32{r.texY, r.texU, r.texV, r.texLd, r.texGuided[0], r.texGuided[1], r.texSmooth, r.texRGB,
				r.texPack, r.texLUT, r.texWatermark, r.texText}
			fbos := []uint32{r.fboLd, r.fboGuided[0], r.fboGuided[1], r.fboSmooth, r.fboRGB, r.fboPack}
			progs := append([]uint32{r.progMain, r.progPack[0], r.progPack[1],
				r.progDown[0], r.progDown[1], r.progSmooth[0], r.progSmooth[1]}, r.progBox[:]...)
			bufs := r.pbo[:]
			bufs = append([]uint32(nil), bufs...)
			var syncs []uintptr
			for _, s := range r.fence {
				if s != 0 {
					syncs = append(syncs, s)
				}
			}
			if len(syncs) != 1 {
				return fmt.Errorf("%d fences pending after one frame, want 1", len(syncs))
			}
			r.free()
			var left []string
			for _, k := range []struct {
				what  string
				ids   []uint32
				alive func(uint32) bool
			}{
				{"texture", tex, gles2.IsTexture}, {"framebuffer", fbos, gles2.IsFramebuffer},
				{"program", progs, gles2.IsProgram}, {"buffer", bufs, gles2.IsBuffer},
			} {
				for _, id := range k.ids {
					if id == 0 || k.alive(id) {
						left = append(left, fmt.Sprintf("%s %d", k.what, id))
					}
				}
			}
			for _, s := range syncs {
				if gles2.IsSync(s) {
					left = append(left, "a fence")
				}
			}
			if left != nil {
				return fmt.Errorf("%v: after free (0: never made): %s", pf, strings.Join(left, ", "))
			}
			r.free()
			return glError()
		})
	}
}

// Steady state: no allocation per frame, whichever the output format.
func TestNoAllocs(t *testing.T) {
	for _, pf := range []media.PixelFormat{media.PixelFormatI420, media.PixelFormatNV12} {
		t.Run(pf.String(), func(t *testing.T) { testNoAllocs(t, pf) })
	}
}

func testNoAllocs(t *testing.T, pf media.PixelFormat) {
	needGL(t)
	o := spec.Defaults()
	o.Beauty, o.Brightness, o.Watermark, o.Text = 0.6, 0.1, writePNG(t, testLogo()), "%T"
	in, _, _ := spec.TestFrame(testW, testH, 1)
	src := media.NewFramePool(testW, testH)
	next := func() *media.VideoFrame {
		f := src.Get()
		for p := range 3 {
			copy(f.Planes[p], in.Planes[p])
		}
		return f
	}
	f, err := Open(assets(t, o, testW, testH), pf, media.VideoWriterFunc(func(f *media.VideoFrame) error {
		f.Release()
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for range 3 {
		if err := f.Filter(next(), testNow); err != nil {
			t.Fatal(err)
		}
	}
	allocs := testing.AllocsPerRun(20, func() {
		if err := f.Filter(next(), testNow); err != nil {
			t.Fatal(err)
		}
	})
	t.Logf("%.2f allocations per frame (race detector: %v)", allocs, raceEnabled)
	// Under the race detector sync.Pool drops some of what is put back, so
	// frames are now and then allocated anew.
	if limit := map[bool]float64{false: 0, true: 2}[raceEnabled]; allocs > limit {
		t.Errorf("%.2f allocations per frame, want ≤ %g", allocs, limit)
	}
}
