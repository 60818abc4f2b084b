package spec

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golive/golive/media"
	"github.com/golive/golive/media/yuv"
)

func TestParsePosition(t *testing.T) {
	for in, want := range map[string]Position{
		"top-left": {Corner: TopLeft}, "Top-Right": {Corner: TopRight}, "bottom-left": {Corner: BottomLeft},
		"br": {Corner: BottomRight}, "10,20": {Corner: At, X: 10, Y: 20}, " 3 , 4": {Corner: At, X: 3, Y: 4},
	} {
		got, err := ParsePosition(in)
		if err != nil || got != want {
			t.Errorf("ParsePosition(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "middle", "1", "-1,2", "a,b"} {
		if _, err := ParsePosition(in); err == nil {
			t.Errorf("ParsePosition(%q): no error", in)
		}
	}
	p := Position{Corner: BottomRight}
	if got := p.Place(100, 50, 1280, 720, 16); got != image.Pt(1164, 654) {
		t.Errorf("Place = %v", got)
	}
}

func TestStrftime(t *testing.T) {
	tm := time.Date(2026, 3, 7, 9, 5, 4, 0, time.UTC)
	for layout, want := range map[string]string{
		"Lobby cam %Y-%m-%d %H:%M:%S": "Lobby cam 2026-03-07 09:05:04",
		"%F %T %%":                    "2026-03-07 09:05:04 %",
		"%a %b %e %I%p %j":            "Sat Mar  7 09AM 066",
		"%q plain":                    "%q plain",
		"no conversions":              "no conversions",
		"trailing %":                  "trailing %",
	} {
		if got := Strftime(layout, tm); got != want {
			t.Errorf("Strftime(%q) = %q, want %q", layout, got, want)
		}
	}
}

func TestParseCube(t *testing.T) {
	good := "# c\nTITLE \"x\"\nLUT_3D_SIZE 2\nDOMAIN_MIN 0 0 0\nDOMAIN_MAX 1 1 1\n" +
		"0 0 0\n1 0 0\n0 1 0\n1 1 0\n0 0 1\n1 0 1\n0 1 1\n1 1 1\n"
	l, err := ParseCube(strings.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	// Identity: any colour maps to itself.
	r, g, b := l.Apply(0.25, 0.5, 0.75)
	if abs(r-0.25) > 1e-6 || abs(g-0.5) > 1e-6 || abs(b-0.75) > 1e-6 {
		t.Errorf("identity LUT: %v %v %v", r, g, b)
	}
	for name, bad := range map[string]string{
		"1D":       "LUT_1D_SIZE 4\n0 0 0\n",
		"short":    "LUT_3D_SIZE 2\n0 0 0\n",
		"no size":  "0 0 0\n",
		"garbage":  "LUT_3D_SIZE 2\nhello\n",
		"too big":  "LUT_3D_SIZE 999\n",
		"too many": good + "1 1 1\n",
		"empty":    "",
	} {
		if _, err := ParseCube(strings.NewReader(bad)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// With no passes, the reference is a YUV → RGB → YUV round trip: within
// one code value of the input.
func TestReferenceRoundTrip(t *testing.T) {
	in, _, _ := TestFrame(320, 180, 1)
	a, err := Load(Defaults(), 320, 180, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	out := Reference(in, a, time.Now())
	if d, _ := Compare(in, out); d > 1 {
		t.Errorf("round trip: max difference %d code values, want ≤ 1", d)
	}
}

// Beauty (the guided filter) against the 17-tap bilateral it replaced:
// it removes at least as much of the skin patch's noise, keeps the edge
// within 0.05 px of the bilateral's width and no wider than the input's,
// and brightens. Its PSNR against the bilateral is a figure, logged.
func TestReferenceBeauty(t *testing.T) {
	for _, tc := range []struct {
		w, h int
		s    float64
	}{{320, 180, 0.2}, {320, 180, 0.6}, {320, 180, 1}, {1280, 720, 0.6}} {
		f := MeasureBeauty(tc.w, tc.h, tc.s)
		t.Logf("%dx%d s %.1f (r %d, eps %.5f): noise variance %.1f → %.2f (the bilateral %.2f); edge %.3f → %.3f px (%.3f); PSNR against the bilateral %.1f dB",
			tc.w, tc.h, tc.s, BeautyRadius(tc.s), BeautyEps(tc.s), f.NoiseIn, f.NoiseNew, f.NoiseOld, f.EdgeIn, f.EdgeNew, f.EdgeOld, f.PSNR)
		if f.NoiseNew > f.NoiseOld || f.NoiseNew > f.NoiseIn/4 {
			t.Errorf("%dx%d s %.1f: noise variance %.1f → %.2f: want at least 4× lower, and no more than the bilateral's %.2f",
				tc.w, tc.h, tc.s, f.NoiseIn, f.NoiseNew, f.NoiseOld)
		}
		if f.EdgeNew > f.EdgeOld+0.05 || f.EdgeNew > f.EdgeIn {
			t.Errorf("%dx%d s %.1f: edge 10–90%% width %.3f → %.3f px: want within 0.05 px of the bilateral's %.3f, no wider than the input",
				tc.w, tc.h, tc.s, f.EdgeIn, f.EdgeNew, f.EdgeOld)
		}
		if f.PSNR < 40 {
			t.Errorf("%dx%d s %.1f: PSNR %.1f dB against the bilateral: not the same filter any more", tc.w, tc.h, tc.s, f.PSNR)
		}
	}
	in, noise, _ := TestFrame(320, 180, 1)
	o := Defaults()
	o.Beauty = 0.6
	a, _ := Load(o, 320, 180, time.Now())
	out := Reference(in, a, time.Now())
	mIn, _ := LumaStats(in, noise)
	mOut, _ := LumaStats(out, noise)
	if mOut <= mIn {
		t.Errorf("skin mean luma %.1f → %.1f: want brighter", mIn, mOut)
	}
}

// The guided filter by the definition, on small pictures: a flat picture
// stays flat (A = 0, B = the level), a step edge of 0 to 1 keeps its
// levels far from the edge and most of its height across it, and odd
// sizes, 1×1 and 1-wide pictures work.
func TestGuidedSmooth(t *testing.T) {
	flat := make([]float64, 9*7)
	for i := range flat {
		flat[i] = 0.4
	}
	for i, v := range GuidedSmooth(flat, 9, 7, 2, 0.01) {
		if abs(v-0.4) > 1e-12 {
			t.Fatalf("flat: sample %d is %v", i, v)
		}
	}
	const w, h = 40, 6
	step := make([]float64, w*h)
	for y := range h {
		for x := w / 2; x < w; x++ {
			step[y*w+x] = 1
		}
	}
	sm := GuidedSmooth(step, w, h, 2, 0.001)
	if abs(sm[0]) > 1e-9 || abs(sm[w-1]-1) > 1e-9 {
		t.Errorf("step: far from the edge %v and %v, want 0 and 1", sm[0], sm[w-1])
	}
	// Kept, but for what the upsampled B blends in from the far side,
	// about 1/(4(2r+1)) of the step into each of the two pixels.
	if d := sm[w/2] - sm[w/2-1]; d < 0.85 {
		t.Errorf("step: %.3f across the edge, want it kept (≥ 0.85)", d)
	}
	for _, sz := range [][2]int{{1, 1}, {1, 5}, {5, 1}, {3, 3}} {
		l := make([]float64, sz[0]*sz[1])
		for i := range l {
			l[i] = float64(i%3) / 2
		}
		if got := GuidedSmooth(l, sz[0], sz[1], 1, 0.01); len(got) != len(l) {
			t.Errorf("%dx%d: %d samples", sz[0], sz[1], len(got))
		}
	}
}

func TestWatermarkAndTextAssets(t *testing.T) {
	dir := t.TempDir()
	logo := image.NewNRGBA(image.Rect(0, 0, 40, 20))
	for y := range 20 {
		for x := range 40 {
			logo.SetNRGBA(x, y, color.NRGBA{255, 0, 0, 255})
		}
	}
	p := filepath.Join(dir, "logo.png")
	f, _ := os.Create(p)
	png.Encode(f, logo)
	f.Close()
	o := Defaults()
	o.Watermark, o.WatermarkOpacity, o.WatermarkScale = p, 0.5, 2
	o.Text = "%H:%M:%S"
	a, err := Load(o, 320, 180, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if a.Watermark.Rect.Dx() != 80 || a.Watermark.Rect.Dy() != 40 {
		t.Errorf("scaled logo %v, want 80x40", a.Watermark.Rect)
	}
	if a.WatermarkAt != image.Pt(320-80-16, 16) {
		t.Errorf("logo at %v", a.WatermarkAt)
	}
	if al := a.Watermark.NRGBAAt(10, 10).A; al < 127 || al > 128 {
		t.Errorf("alpha %d with opacity 0.5", al)
	}
	// The reference blends it: half red over the background.
	in, _, _ := TestFrame(320, 180, 1)
	out := Reference(in, a, time.Now())
	x, y := a.WatermarkAt.X+10, a.WatermarkAt.Y+10
	r, g, b := yuv.ToRGB(float64(in.Planes[0][y*320+x]), yuv.Chroma(in.Planes[1], 160, 160, 90, x, y), yuv.Chroma(in.Planes[2], 160, 160, 90, x, y))
	wantY, _, _ := yuv.FromRGB(r*0.5+0.5, g*0.5, b*0.5)
	if got := float64(out.Planes[0][y*320+x]); abs(got-wantY) > 1.5 {
		t.Errorf("Y under the logo %v, want %.1f", got, wantY)
	}

	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	img, changed := a.Text.Render(t0)
	if !changed || opaque(img) == 0 {
		t.Fatalf("first render: changed %v, %d opaque pixels", changed, opaque(img))
	}
	first := append([]byte(nil), img.Pix...)
	if _, changed := a.Text.Render(t0.Add(300 * time.Millisecond)); changed {
		t.Error("re-rendered within the same second")
	}
	img, changed = a.Text.Render(t0.Add(time.Second))
	if !changed || string(img.Pix) == string(first) {
		t.Error("the clock ticked but the text did not change")
	}
	if a.Text.At().Y+a.Text.Size().Y != 180-16 && a.Text.At().Y+a.Text.Size().Y != 180-16-1 {
		t.Errorf("text box %v at %v: not at the bottom margin", a.Text.Size(), a.Text.At())
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	notImg := filepath.Join(dir, "x.png")
	os.WriteFile(notImg, []byte("not a png"), 0o644)
	for name, o := range map[string]func(*Options){
		"missing logo": func(o *Options) { o.Watermark = filepath.Join(dir, "none.png") },
		"bad logo":     func(o *Options) { o.Watermark = notImg },
		"missing lut":  func(o *Options) { o.LUT = filepath.Join(dir, "none.cube") },
		"bad lut":      func(o *Options) { o.LUT = notImg },
		"beauty 2":     func(o *Options) { o.Beauty = 2 },
		"opacity -1":   func(o *Options) { o.WatermarkOpacity = -1 },
	} {
		opts := Defaults()
		o(&opts)
		_, err := Load(opts, 320, 180, time.Now())
		if err == nil || !strings.Contains(err.Error(), "filter: bad option") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error %v; want one line wrapping ErrBadOption", name, err)
		}
	}
}

func opaque(img *image.NRGBA) int {
	n := 0
	for i := 3; i < len(img.Pix); i += 4 {
		if img.Pix[i] > 128 {
			n++
		}
	}
	return n
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// Compare and SameAsNV12 take NV12 as the same picture as I420 (Planar
// de-interleaves its UV plane), also at odd sizes, and tell apart an NV12
// frame that holds I420's chroma bytes as they are.
func TestPlanar(t *testing.T) {
	for _, sz := range [][2]int{{320, 180}, {321, 181}} {
		w, h := sz[0], sz[1]
		in, _, _ := TestFrame(w, h, 1)
		cw, ch := media.PlaneSize(w, h, 1)
		nv12 := media.NewFramePoolOf(media.PixelFormatNV12, w, h).Get()
		copy(nv12.Planes[0], in.Planes[0])
		media.InterleaveUV(nv12.Planes[1], nv12.Strides[1], in.Planes[1], in.Strides[1], in.Planes[2], in.Strides[2], cw, ch)
		if got := Planar(in); got != in {
			t.Errorf("%dx%d: Planar(I420) is a copy, want the frame itself", w, h)
		}
		p := Planar(nv12)
		if p.Format != media.PixelFormatI420 {
			t.Errorf("%dx%d: Planar(NV12) is %v", w, h, p.Format)
		}
		for i := range 3 {
			if !bytes.Equal(p.Planes[i], in.Planes[i]) {
				t.Errorf("%dx%d: plane %d of Planar(NV12) differs from the I420 it was made from", w, h, i)
			}
		}
		if d, _ := Compare(nv12, in); d != 0 {
			t.Errorf("%dx%d: Compare(NV12, I420 of the same picture): max difference %d, want 0", w, h, d)
		}
		if err := SameAsNV12(nv12, in, 0); err != nil {
			t.Errorf("%dx%d: SameAsNV12: %v", w, h, err)
		}
		wrong := media.NewFramePoolOf(media.PixelFormatNV12, w, h).Get()
		copy(wrong.Planes[0], in.Planes[0])
		copy(wrong.Planes[1], append(append([]byte(nil), in.Planes[1]...), in.Planes[2]...))
		if d, _ := Compare(wrong, in); d < 10 {
			t.Errorf("%dx%d: I420's chroma bytes labelled NV12: max difference %d, want it seen", w, h, d)
		}
		if err := SameAsNV12(wrong, in, 1); err == nil {
			t.Errorf("%dx%d: SameAsNV12 took I420's chroma bytes labelled NV12", w, h)
		} else {
			t.Log(err)
		}
		if err := SameAsNV12(in, in, 0); err == nil {
			t.Errorf("%dx%d: SameAsNV12 took an I420 frame", w, h)
		}
	}
}
