package cpu

import (
	"bufio"
	"fmt"
	"image"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/golive/golive/filter/spec"
	"github.com/golive/golive/media"
)

// Pads of the graph description: the buffer sources and the sink.
const (
	padIn   = "in"
	padWM   = "wm"
	padText = "txt"
	padOut  = "out"
)

// beautyParams are the lavfi parameters standing in for
// spec.BeautyBilateral (the beauty before the guided filter) at strength
// s: what an ffmpeg user would run, and the benchmarks' "before"
// (legacyBeauty). The backend runs beauty.c.
type beautyParams struct {
	SigmaS, SigmaR float64 // bilateral
	Sharpen        int     // convolution: cross taps −Sharpen, centre sharpenDiv + 4·Sharpen
}

// sharpenDiv is the convolution's divisor: its integer taps approximate
// 0.15·s to 1/sharpenDiv.
const sharpenDiv = 1000

// beautyFor maps the strength s to lavfi parameters:
//
//	bilateral   sigmaS = (1.22 − 0.27·s)·(1 + 4·s) px, sigmaR = (16 + 10·s)/255
//	convolution −0.15·s on the cross, 1 + 0.6·s in the centre
//	lutyuv      spec.Beauty's brightening (brightenExpr)
//
// lavfi's bilateral is not spec.Beauty's 17-tap Gaussian bilateral but
// Yang's recursive one: an exponential spatial kernel (its weight falls
// by exp(−√2/sigmaS) a pixel) whose range weight exp(−|d|/(sigmaR·255))
// is taken between neighbouring pixels along each recursion, so a step
// stops it however far away the step is. No choice of its two sigmas
// makes it spec.BeautyBilateral's filter; these are the best mean PSNR
// against spec.BeautyBilateral on spec.TestFrame at 320×180 and 1280×720 for s = 0.2 …
// 1 (TestBeautyTuning sweeps them), within 0.1 dB of the best for each
// s alone. At s = 0.6: 52.8 and 54.4 dB over the frame, 43 to 44 dB over
// the noisy skin patch.
//
// The sharpening is spec.Beauty's (and BeautyBilateral's) exactly: T = S + 0.6·s·(S − N), N the
// mean of the 4 neighbours, is that 3×3 kernel (edges clamped, as
// convolution does), in integer taps of 1/sharpenDiv.
func beautyFor(s float64) beautyParams {
	r := 1 + 4*s
	return beautyParams{
		SigmaS:  beautySigmaSScale * (1.22 - 0.27*s) * r,
		SigmaR:  beautySigmaRScale * (16 + 10*s) / 255,
		Sharpen: int(math.Round(0.15 * s * sharpenDiv)),
	}
}

// Bilateral is the bilateral filter that stands in for beauty's smoothing
// at strength s in lavfi: what an ffmpeg user would write for it (make
// bench gives it to the ffmpeg command line it compares with).
func Bilateral(s float64) string {
	p := beautyFor(s)
	return fmt.Sprintf("bilateral=sigmaS=%s:sigmaR=%s:planes=1", num(p.SigmaS), num(p.SigmaR))
}

// Scale factors on beautyFor's sigmas: 1, but for TestBeautyTuning's
// sweep around them.
var (
	beautySigmaSScale = 1.0
	beautySigmaRScale = 1.0
)

// num writes a number for a filter option or an expression: to 1e-6 (a
// millionth of a code value), without an exponent (the expression parser
// would read "e" as Euler's).
func num(x float64) string { return strconv.FormatFloat(math.Round(x*1e6)/1e6, 'f', -1, 64) }

// quoted is s as one filter option value inside a graph description: it
// is unescaped twice, by the graph parser (which splits on [ ] , ;) and
// by the filter's option parser (which splits on : and =).
func quoted(s string) string {
	esc := func(s, special string) string {
		var b strings.Builder
		for _, c := range s {
			if strings.ContainsRune(special, c) {
				b.WriteByte('\\')
			}
			b.WriteRune(c)
		}
		return b.String()
	}
	return esc(esc(s, `\':=`), `\'[],;`)
}

// legacyBeauty: beauty as it was before spec.Beauty's guided filter, in
// the graph (bilateral, convolution, lutyuv, see beautyFor), for the
// benchmarks' "before" only: it is not spec.Beauty.
var legacyBeauty = false

// scaleDesc is the scale graph: an input of another size to W×H, for
// beauty to run on.
func scaleDesc(w, h int) string {
	return fmt.Sprintf("[%s]%s,format=yuv420p[%s]", padIn, scaleTo(w, h), padOut)
}

// scaleTo scales to w×h. YUV to YUV in the same range: swscale resamples
// the planes and converts nothing.
func scaleTo(w, h int) string {
	return fmt.Sprintf("scale=%d:%d:flags=bicubic:in_range=tv:out_range=tv", w, h)
}

// describe is the graph for an inW×inH input, less beauty (which runs
// before it; but for legacyBeauty): a description for
// avfilter_graph_parse with the sources [in] (the frames), [wm] (the
// watermark, when a.Watermark is set) and [txt] (the text box, when
// a.Text is set), and the sink [out], given frames of format pf. lutPath
// is the .cube file lut3d reads (when a.LUT is set).
func describe(a *spec.Assets, pf media.PixelFormat, inW, inH int, lutPath string) string {
	var main []string
	if inW != a.Width || inH != a.Height {
		main = append(main, scaleTo(a.Width, a.Height))
	}
	if a.Beauty > 0 && legacyBeauty {
		p := beautyFor(a.Beauty)
		main = append(main, Bilateral(a.Beauty))
		if p.Sharpen > 0 {
			k := strconv.Itoa(-p.Sharpen)
			main = append(main, fmt.Sprintf("convolution=0m='0 %s 0 %s %d %s 0 %s 0':0rdiv=%s",
				k, k, sharpenDiv+4*p.Sharpen, k, k, num(1.0/sharpenDiv)))
		}
		main = append(main, "lutyuv=y='"+brightenExpr(a.Beauty)+"'")
	}
	if a.Colour() {
		y, c := colourExprs(a.Options)
		main = append(main, "lutyuv=y='"+y+"':u='"+c+"':v='"+c+"'")
	}
	if a.LUT != nil {
		// To full-range RGB and back, in float: what spec.Reference's
		// RGB is, and (with lut3d's float code) faster here than 8 or 16
		// bits. lut3d clamps its input to the LUT's domain, swscale its
		// float input to 0..1, as Reference clamps before and after. As
		// yuv.Chroma and Reference do: each pixel takes its 2×2 block's
		// chroma (neighbor: centre-sited chroma lies a quarter pixel from
		// each of the block's pixels), and chroma goes back as the block's
		// mean (area, at 2:1 a box). accurate_rnd keeps swscale off its
		// table-driven 8-bit converters.
		main = append(main,
			"scale=in_color_matrix=bt709:in_range=tv:out_range=pc:flags=neighbor+accurate_rnd+full_chroma_int",
			"format=gbrpf32le",
			"lut3d=file="+quoted(lutPath)+":interp=trilinear",
			"scale=out_color_matrix=bt709:out_range=tv:flags=area+accurate_rnd",
			"format=yuv420p")
	}
	if len(main) == 0 {
		main = append(main, "null")
	}
	var b strings.Builder
	b.WriteString("[" + padIn + "]" + strings.Join(main, ","))
	if a.Watermark != nil {
		b.WriteString("[m];[m][" + padWM + "]" + overlay(a.WatermarkAt) + ":eof_action=repeat")
	}
	if a.Text != nil {
		b.WriteString("[t];[t][" + padText + "]" + overlay(a.Text.At()))
	}
	// buffersink takes whatever comes: pin it to the output's format (a
	// no-op when it already is; for NV12, swscale interleaves U and V).
	b.WriteString(",format=" + pf.String() + "[" + padOut + "]")
	return b.String()
}

// overlay blends a box (see nrgbaToYUVA for why premultiplied) at a fixed
// place.
func overlay(at image.Point) string {
	return fmt.Sprintf("overlay=x=%d:y=%d:format=yuv420:alpha=premultiplied:eval=init", at.X, at.Y)
}

// brightenExpr is spec.Beauty's last step on Y: clamp the sharpened value
// to 16..235, then T + 0.12·s·T·(1 − T) in normalised luma.
// (lutyuv truncates; floor(x+0.5) rounds whichever way it stores.)
func brightenExpr(s float64) string {
	t := "clip((val-16)/219,0,1)"
	return "floor(16+219*(" + t + "+" + num(0.12*s) + "*" + t + "*(1-" + t + "))+0.5)"
}

// colourExprs are spec's ColourYUV as lutyuv expressions:
//
//	Y′ = clip((Y − 125.5)·contrast + 125.5 + 219·brightness, 16, 235)
//	U′ = clip(128 + (U − 128)·contrast·saturation, 16, 240)   (V likewise)
func colourExprs(o spec.Options) (y, c string) {
	off := 125.5 + 219*o.Brightness - 125.5*o.Contrast
	y = "floor(clip(" + num(off) + "+val*" + num(o.Contrast) + ",16,235)+0.5)"
	c = "floor(clip(128+(val-128)*" + num(o.Saturation*o.Contrast) + ",16,240)+0.5)"
	return y, c
}

// writeCube writes l as a .cube file lut3d reads as spec.LUT.Apply does:
// lut3d ignores DOMAIN_MIN and clips 1/(DOMAIN_MAX−DOMAIN_MIN) to 1, so a
// LUT whose domain is not [0, 1]³ is resampled onto that domain (at the
// same size, 17 at least; exact where the grids line up, trilinear
// between).
func writeCube(path string, l *spec.LUT) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	w := bufio.NewWriterSize(f, 1<<16)
	unit := l.Min == [3]float64{} && l.Max == [3]float64{1, 1, 1}
	n := l.Size
	if !unit {
		n = max(n, 17)
	}
	fmt.Fprintf(w, "LUT_3D_SIZE %d\n", n)
	var buf []byte
	put := func(r, g, b float64) {
		buf = buf[:0]
		buf = strconv.AppendFloat(buf, r, 'g', 9, 64)
		buf = append(buf, ' ')
		buf = strconv.AppendFloat(buf, g, 'g', 9, 64)
		buf = append(buf, ' ')
		buf = strconv.AppendFloat(buf, b, 'g', 9, 64)
		buf = append(buf, '\n')
		w.Write(buf)
	}
	for b := range n {
		for g := range n {
			for r := range n {
				if unit {
					i := 3 * (r + n*(g+n*b))
					put(float64(l.Data[i]), float64(l.Data[i+1]), float64(l.Data[i+2]))
					continue
				}
				d := float64(n - 1)
				put(l.Apply(float64(r)/d, float64(g)/d, float64(b)/d))
			}
		}
	}
	return w.Flush()
}

// checkLUT rejects what lut3d cannot take (a LUT that did not come from
// spec.LoadCube).
func checkLUT(l *spec.LUT) error {
	if l.Size < 2 || l.Size > 256 || len(l.Data) != 3*l.Size*l.Size*l.Size {
		return fmt.Errorf("%w: --lut: %d entries for size %d", spec.ErrBadOption, len(l.Data)/3, l.Size)
	}
	for i := range 3 {
		if !(l.Max[i] > l.Min[i]) {
			return fmt.Errorf("%w: --lut: DOMAIN_MAX must be above DOMAIN_MIN", spec.ErrBadOption)
		}
	}
	return nil
}
