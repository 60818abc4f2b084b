package cpu

import (
	"os"
	"testing"

	"github.com/golive/golive/filter/spec"
	"github.com/golive/golive/media"
)

// TestBeautyTuning is how beautyFor's constants were found: for each
// strength, a sweep of scale factors on its sigmaS and sigmaR for the
// best mean PSNR against spec.BeautyBilateral (spec.Beauty then) on
// TestFrame at 320×180 and 1280×720 (1.00 and 1.00 are beautyFor as it
// is), the graph run with legacyBeauty.
// GOLIVE_TUNE=1 go test -run BeautyTuning -v ./filter/cpu/ (a minute).
func TestBeautyTuning(t *testing.T) {
	if os.Getenv("GOLIVE_TUNE") == "" {
		t.Skip("GOLIVE_TUNE=1 sweeps the beauty mapping")
	}
	defer func(s, r float64) { beautySigmaSScale, beautySigmaRScale = s, r }(beautySigmaSScale, beautySigmaRScale)
	legacyBeauty = true
	defer func() { legacyBeauty = false }()
	type testCase struct {
		in, ref *media.VideoFrame
		a       *spec.Assets
	}
	for _, s := range []float64{0.2, 0.4, 0.6, 0.8, 1} {
		var cases []testCase
		for _, sz := range [][2]int{{320, 180}, {1280, 720}} {
			in, _, _ := spec.TestFrame(sz[0], sz[1], 1)
			o := spec.Defaults()
			o.Beauty = s
			cases = append(cases, testCase{in, spec.BilateralFrame(in, s), load(t, o, sz[0], sz[1])})
		}
		psnr := func(ss, sr float64) float64 {
			beautySigmaSScale, beautySigmaRScale = ss, sr
			var sum float64
			for _, c := range cases {
				_, p := spec.Compare(c.ref, filterOnce(t, c.a, c.in, t0))
				sum += p / float64(len(cases))
			}
			return sum
		}
		best, bss, bsr := 0.0, 0.0, 0.0
		for ss := 0.8; ss <= 1.21; ss += 0.05 {
			for sr := 0.8; sr <= 1.21; sr += 0.05 {
				if p := psnr(ss, sr); p > best {
					best, bss, bsr = p, ss, sr
				}
			}
		}
		t.Logf("s %.1f: beautyFor %.2f dB; best %.2f dB at ×%.2f, ×%.2f", s, psnr(1, 1), best, bss, bsr)
	}
}
