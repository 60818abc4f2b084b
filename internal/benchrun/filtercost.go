package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/golive/golive/filter"
	"github.com/golive/golive/filter/spec"
	"github.com/golive/golive/media"
)

// filterCostRounds is how many times each filter benchmark runs (go test
// -count): the figures are their medians.
const filterCostRounds = 5

// filterCostSection is the per-frame filter cost at 720p and 1080p, before
// and after the cheaper beauty, with the quality figures (issue 15), a
// section of docs/BENCHMARKS.md in Markdown.
//
// Cost: filter/cpu's benchmarks, the CPU backend on TestFrames — beauty
// 0.6 alone and with a watermark and a clock — with beauty as it was
// (Old: lavfi's bilateral, convolution and lutyuv in the graph) and as it
// is (beauty.c's guided filter), and the ffmpeg command line running the
// old beauty graph; filter/gl's BenchmarkGL720p/1080p (beauty, colour, a
// watermark and the text) where a GL context can be had. Quality:
// spec.MeasureBeauty (noise on the skin patch, edge width, PSNR of the
// new definition against the old), and each backend's beauty against
// spec.Reference.
func filterCostSection() (string, error) {
	var b strings.Builder
	b.WriteString("## Filters: per-frame cost and quality\n\n")
	fmt.Fprintf(&b, "Beauty's smoothing is spec.Beauty's fast (subsampled) self-guided filter: box radius %d half-size pixels and eps %.5f at strength 0.6 (spec.BeautyRadius, spec.BeautyEps), "+
		"where it was a 17-tap bilateral at full size (spec.BeautyBilateral; the CPU backend ran lavfi's bilateral, convolution and lutyuv in its graph for it). "+
		"Per frame, in ms, medians of %d rounds of `go test -bench` on spec.TestFrame; *before* is the old beauty (the benchmarks' legacyBeauty), *after* beauty.c.\n\n",
		spec.BeautyRadius(0.6), spec.BeautyEps(0.6), filterCostRounds)

	cpu, out, err := goBench("./filter/cpu", `BenchmarkCPU(720|1080)p(Beauty)?(Old)?$`, "1s")
	if err != nil {
		return "", fmt.Errorf("filter/cpu benchmarks: %w\n%s", err, out)
	}
	ms := func(name, metric string) string {
		if v, ok := cpu[name][metric]; ok {
			return fmt.Sprintf("%.2f", medianOf(v)/1e6)
		}
		return "–"
	}
	ratio := func(after, before string) string {
		a, oka := cpu[after]["ns/frame"]
		o, oko := cpu[before]["ns/frame"]
		if !oka || !oko {
			return "–"
		}
		return fmt.Sprintf("%.2f", medianOf(a)/medianOf(o))
	}
	b.WriteString("| CPU backend, ms/frame | 720p before | 720p after | after/before | 1080p before | 1080p after | after/before |\n|---|---|---|---|---|---|---|\n")
	for _, row := range []struct{ what, bench string }{
		{"beauty 0.6 alone", "Beauty"},
		{"beauty 0.6 + watermark + clock", ""},
	} {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n", row.what,
			ms("BenchmarkCPU720p"+row.bench+"Old", "ns/frame"), ms("BenchmarkCPU720p"+row.bench, "ns/frame"),
			ratio("BenchmarkCPU720p"+row.bench, "BenchmarkCPU720p"+row.bench+"Old"),
			ms("BenchmarkCPU1080p"+row.bench+"Old", "ns/frame"), ms("BenchmarkCPU1080p"+row.bench, "ns/frame"),
			ratio("BenchmarkCPU1080p"+row.bench, "BenchmarkCPU1080p"+row.bench+"Old"))
	}
	fmt.Fprintf(&b, "| ffmpeg command line, the old beauty graph (bilateral, convolution, lutyuv) | %s | | | %s | | |\n\n",
		ms("BenchmarkCPU720pBeauty", "ffmpeg-ns/frame"), ms("BenchmarkCPU1080pBeauty", "ffmpeg-ns/frame"))

	gl, out, err := goBench("./filter/gl", `BenchmarkGL(720|1080)p$`, "1s")
	switch {
	case err != nil:
		fmt.Fprintf(&b, "GL backend: its benchmarks failed (%v): %s\n\n", err, lastLine(out))
	case len(gl) == 0:
		fmt.Fprintf(&b, "GL backend: no GL here (%s).\n\n", lastLine(out))
	default:
		b.WriteString("| GL backend (BenchmarkGL: beauty 0.6, colour, watermark, text), ms/frame | 720p | 1080p |\n|---|---|---|\n")
		glMS := func(name string) string {
			v, ok := gl[name]["ns/op"]
			if !ok {
				return "–"
			}
			return fmt.Sprintf("%.2f", medianOf(v)/1e6)
		}
		fmt.Fprintf(&b, "| after (the renderer: %s) | %s | %s |\n\n", glRenderer(), glMS("BenchmarkGL720p"), glMS("BenchmarkGL1080p"))
		b.WriteString("(No GL *before* here: the bilateral's shaders are gone with it; see earlier reports for its BenchmarkGL figures.)\n\n")
	}

	b.WriteString("Quality on spec.TestFrame: the variance of Y on the noisy skin patch (code values²) and the 10–90% width of the black/white edge (px), " +
		"in → the old 17-tap bilateral → the guided filter; the guided filter's PSNR against the bilateral over the frame (a figure: they are different filters); " +
		"and each backend's beauty against spec.Reference (the guided filter), max difference in code values and PSNR.\n\n")
	b.WriteString("| size | strength | r, eps | noise in → old → new | edge in → old → new | PSNR new vs old | CPU vs spec | GL vs spec |\n|---|---|---|---|---|---|---|---|\n")
	for _, sz := range [][2]int{{320, 180}, {1280, 720}, {1920, 1080}} {
		for _, s := range []float64{0.2, 0.6, 1} {
			f := spec.MeasureBeauty(sz[0], sz[1], s)
			fmt.Fprintf(&b, "| %dx%d | %.1f | %d, %.5f | %.1f → %.2f → **%.2f** | %.3f → %.3f → **%.3f** | %.1f dB | %s | %s |\n",
				sz[0], sz[1], s, spec.BeautyRadius(s), spec.BeautyEps(s), f.NoiseIn, f.NoiseOld, f.NoiseNew,
				f.EdgeIn, f.EdgeOld, f.EdgeNew, f.PSNR, backendVsSpec(filter.BackendCPU, sz[0], sz[1], s), backendVsSpec(filter.BackendGL, sz[0], sz[1], s))
		}
	}
	b.WriteString("\n")
	return b.String(), nil
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

var benchLine = regexp.MustCompile(`^(Benchmark\S+?)(-\d+)?\s+\d+\s+(.*)$`)

// goBench runs pkg's benchmarks matching re filterCostRounds times and
// returns each one's metrics (ns/op, ns/frame, …), a value a round. No
// benchmarks and no error: they were skipped (out says why).
func goBench(pkg, re, benchtime string) (map[string]map[string][]float64, string, error) {
	cmd := exec.Command("go", "test", "-run", "^$", "-bench", re, "-benchtime", benchtime,
		"-count", strconv.Itoa(filterCostRounds), pkg)
	outB, err := cmd.CombinedOutput()
	out := string(outB)
	if err != nil {
		return nil, out, err
	}
	res := map[string]map[string][]float64{}
	sc := bufio.NewScanner(bytes.NewReader(outB))
	for sc.Scan() {
		m := benchLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		f := strings.Fields(m[3])
		for i := 0; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			if res[m[1]] == nil {
				res[m[1]] = map[string][]float64{}
			}
			res[m[1]][f[i+1]] = append(res[m[1]][f[i+1]], v)
		}
	}
	return res, out, nil
}

// lastLine is the last line of out that says something (a skip's reason).
func lastLine(out string) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(lines[i])
		if l != "" && l != "PASS" && !strings.HasPrefix(l, "ok ") && !strings.HasPrefix(l, "ok\t") {
			return l
		}
	}
	return "no output"
}

// glRenderer names the GL backend's renderer ("?" when none opens).
func glRenderer() string {
	o := spec.Defaults()
	o.Beauty = 0.6
	bk, err := filter.Open(filter.Config{Options: o, Backend: filter.BackendGL, Width: 64, Height: 36, Logger: quiet},
		media.VideoWriterFunc(func(f *media.VideoFrame) error { f.Release(); return nil }))
	if err != nil {
		return "?"
	}
	defer bk.Close()
	return strings.TrimPrefix(bk.Name(), "gl: ")
}

// backendVsSpec filters TestFrame at w×h with beauty s alone through the
// backend and compares it with spec.Reference: "max difference, PSNR", or
// why not.
func backendVsSpec(backend string, w, h int, s float64) string {
	o := spec.Defaults()
	o.Beauty = s
	a, err := spec.Load(o, w, h, time.Now())
	if err != nil {
		return "error: " + err.Error()
	}
	var got *media.VideoFrame
	bk, err := filter.Open(filter.Config{Options: o, Backend: backend, Width: w, Height: h, Logger: quiet},
		media.VideoWriterFunc(func(f *media.VideoFrame) error { got = f; return nil }))
	if err != nil {
		return "not available"
	}
	defer bk.Close()
	in, _, _ := spec.TestFrame(w, h, 1)
	c := media.NewFramePool(w, h).Get()
	for p := range 3 {
		copy(c.Planes[p], in.Planes[p])
	}
	if err := bk.Filter(c, time.Now()); err != nil {
		return "error: " + err.Error()
	}
	if err := bk.Flush(); err != nil {
		return "error: " + err.Error()
	}
	if got == nil {
		return "no frame"
	}
	d, psnr := spec.Compare(spec.Reference(in, a, time.Now()), got)
	return fmt.Sprintf("%d, %.1f dB", d, psnr)
}
