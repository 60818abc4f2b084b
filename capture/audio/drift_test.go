package audio

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/golive/golive/media"
)

// sim is a simulated sound card feeding a DriftCorrector: its crystal runs
// at rate·(1+drift), it delivers callbacks of `period` worth of samples whose
// arrival times jitter uniformly by ±jitter around the capture time of the
// end of the buffer, and it records a tone of toneHz on every channel (the
// tone is continuous in real time, so it is the pitch a listener hears).
// With late set, the jitter is one-sided instead: callbacks arrive 0 to
// late after the capture, as they do in reality; with burst, every other
// callback is held back to arrive with the next (PulseAudio's pattern).
// Optionally it stalls: from stallAt on it captures nothing for stall (the
// samples are lost) and then goes on.
type sim struct {
	rate, channels int
	drift          float64
	period         time.Duration
	jitter         time.Duration
	duration       time.Duration
	start          time.Duration // capture time of sample 0
	stallAt, stall time.Duration
	// From delayAt on, the callbacks are held back for delay and then
	// delivered at once, all samples kept (a descheduled audio thread).
	delayAt, delay time.Duration
	// Callbacks due within [lateFrom, lateTo) arrive lateBy later (and
	// the ones after them no earlier).
	lateFrom, lateTo, lateBy time.Duration
	late                     time.Duration
	burst                    bool
	toneHz, level            float64
	seed                     uint64
	settle                   time.Duration // errors are judged after this long
}

// simResult is what a run measured.
type simResult struct {
	frames         int
	maxErr         time.Duration // max |PTS - capture time| after settle
	maxErrAll      time.Duration // the same over the whole run
	bias           time.Duration // mean PTS error over the second half of the run
	converged      time.Duration // time after which |err - bias| <= 1 ms stays true
	maxDiff        float64       // max |y[k]-y[k-1]| of the tone, in full scale
	maxWobble      float64       // max |ratio - (1+drift)| after settle: pitch error
	outRate        float64       // output samples per second of capture time, last 90% of the run
	gaps           int           // PTS steps other than one frame
	gapPTS         []time.Duration
	stats          DriftStats
	levelRatio     float64 // output RMS / input RMS
	toneHz         float64 // tone frequency after settle, by zero crossings on the output's time base
	firstPTSErr    time.Duration
	lastFramePTS   time.Duration
	lastFrameStart time.Duration
}

func (s sim) devRate() float64 { return float64(s.rate) * (1 + s.drift) }

// capture is the capture time of device sample i (fractional: between two
// samples, linear in time).
func (s sim) capture(i float64) time.Duration {
	t := s.start.Seconds() + i/s.devRate()
	if s.stall > 0 && t >= s.stallAt.Seconds() {
		t += s.stall.Seconds()
	}
	return time.Duration(t * float64(time.Second))
}

func (s sim) run(t testing.TB) simResult {
	t.Helper()
	var r simResult
	rng := rand.New(rand.NewPCG(s.seed, 42))
	ch := s.channels
	n := int(math.Round(float64(s.rate) * s.period.Seconds()))
	in := make([]int16, n*ch)

	var (
		prevPTS      time.Duration
		prevSample   float64
		havePrev     bool
		outSq, inSq  float64
		outN, inN    int64
		rateFrom     time.Duration
		rateFromSmp  int64
		totalOut     int64
		errs         []float32 // per frame: PTS error, s
		outIdx       int64     // output samples so far
		zcFirst      float64   // first and last rising zero crossing after settle, in output samples
		zcLast       float64
		zcN          int
		capts        []float32 // per frame: capture time since start, s
		skipDiffOnce bool
		dc           *DriftCorrector
	)
	frameDur := float64(FrameSamples) / float64(s.rate)
	settleAt := s.start + s.settle
	out := media.AudioWriterFunc(func(f *media.AudioFrame) error {
		if f.NumSamples() != FrameSamples || f.Channels != ch || f.SampleRate != s.rate {
			return errors.New("bad frame shape")
		}
		capt := s.capture(dc.framePos)
		err := f.PTS - capt
		if r.frames == 0 {
			r.firstPTSErr = err
		}
		abs := max(err, -err)
		r.maxErrAll = max(r.maxErrAll, abs)
		if capt >= settleAt {
			r.maxErr = max(r.maxErr, abs)
			r.maxWobble = max(r.maxWobble, math.Abs(dc.ratio-1-s.drift))
		}
		errs = append(errs, float32(err.Seconds()))
		capts = append(capts, float32((capt - s.start).Seconds()))
		if r.frames > 0 {
			step := (f.PTS - prevPTS).Seconds()
			if f.PTS <= prevPTS {
				t.Errorf("PTS went back: %v after %v", f.PTS, prevPTS)
			}
			if math.Abs(step-frameDur) > 1e-9 {
				r.gaps++
				r.gapPTS = append(r.gapPTS, f.PTS)
				skipDiffOnce = true
			}
		}
		prevPTS = f.PTS
		for k := 0; k < FrameSamples; k++ {
			v := float64(f.Samples[k*ch]) / 32768
			if havePrev && !skipDiffOnce {
				r.maxDiff = max(r.maxDiff, math.Abs(v-prevSample))
				if capt >= settleAt && prevSample < 0 && v >= 0 {
					zc := float64(outIdx-1) + prevSample/(prevSample-v)
					if zcN == 0 {
						zcFirst = zc
					}
					zcLast = zc
					zcN++
				}
			}
			outIdx++
			skipDiffOnce = false
			prevSample, havePrev = v, true
			if capt >= settleAt {
				outSq += v * v
				outN++
			}
		}
		totalOut += FrameSamples
		if rateFrom == 0 && capt >= s.start+s.duration/10 {
			rateFrom, rateFromSmp = capt, totalOut
		}
		r.lastFramePTS, r.lastFrameStart = f.PTS, capt
		r.frames++
		return nil
	})
	var err error
	dc, err = NewDriftCorrector(s.rate, ch, out)
	if err != nil {
		t.Fatal(err)
	}

	// The tone, by a rotating phasor renormalised every callback.
	w := 2 * math.Pi * s.toneHz / s.devRate()
	cr, ci := math.Cos(w), math.Sin(w)
	zr, zi := 1.0, 0.0
	stallSample := int64(-1)
	if s.stall > 0 {
		stallSample = int64(math.Ceil((s.stallAt - s.start).Seconds() * s.devRate()))
	}
	amp := s.level * 32767
	prevAt := time.Duration(math.MinInt64)
	end := s.start + s.duration
	for k := int64(0); ; k++ {
		i0 := k * int64(n)
		if s.capture(float64(i0)) >= end {
			break
		}
		for j := 0; j < n; j++ {
			if i0+int64(j) == stallSample {
				// The phase the tone has after the stall.
				ph := 2 * math.Pi * s.toneHz * (s.capture(float64(stallSample)) - s.start).Seconds()
				zr, zi = math.Cos(ph), math.Sin(ph)
			}
			v := int16(math.Round(amp * zi))
			for c := 0; c < ch; c++ {
				in[j*ch+c] = v
			}
			if i0 > int64(s.rate)*int64(s.settle/time.Second) {
				x := float64(v) / 32768
				inSq += x * x
				inN++
			}
			zr, zi = zr*cr-zi*ci, zr*ci+zi*cr
		}
		norm := 1 / math.Hypot(zr, zi)
		zr, zi = zr*norm, zi*norm
		// The callback runs when its last sample has been captured.
		at := s.capture(float64(i0+int64(n)-1)) + time.Duration(float64(time.Second)/s.devRate()) +
			time.Duration((2*rng.Float64()-1)*float64(s.jitter))
		if s.late > 0 {
			at += time.Duration(rng.Float64() * float64(s.late))
		}
		if at >= s.lateFrom && at < s.lateTo {
			at += s.lateBy
		}
		if s.burst && k%2 == 0 {
			at += s.period
		}
		if s.delay > 0 && at >= s.delayAt && at < s.delayAt+s.delay {
			at = s.delayAt + s.delay
		}
		at = max(at, prevAt)
		prevAt = at
		if err := dc.Write(in, at); err != nil {
			t.Fatal(err)
		}
	}
	var sum float64
	half := errs[len(errs)/2:]
	for _, e := range half {
		sum += float64(e)
	}
	bias := sum / float64(len(half))
	r.bias = time.Duration(bias * float64(time.Second))
	for i := len(errs) - 1; i >= 0; i-- {
		if math.Abs(float64(errs[i])-bias) > 0.001 {
			r.converged = time.Duration(float64(capts[i]) * float64(time.Second))
			break
		}
	}
	if outN > 0 && inN > 0 {
		r.levelRatio = math.Sqrt(outSq/float64(outN)) / math.Sqrt(inSq/float64(inN))
	}
	if r.lastFrameStart > rateFrom {
		// Samples per second of real (capture) time.
		r.outRate = float64(totalOut-rateFromSmp) / (r.lastFrameStart - rateFrom).Seconds()
	}
	if zcN > 1 {
		r.toneHz = float64(zcN-1) * float64(s.rate) / (zcLast - zcFirst)
	}
	r.stats = dc.Stats()
	return r
}

// simRate is the sample rate of the long simulations: the loop works in
// seconds, so a low rate shows the same timing behaviour as 48000 Hz at a
// sixth of the cost. The 48000 Hz cases run shorter.
const simRate = 8000

func TestDriftCorrectorLong(t *testing.T) {
	hours := 5 * time.Hour
	switch {
	case raceEnabled:
		hours = 20 * time.Minute // -race makes the sample loop ~10x slower
	case testing.Short():
		hours = time.Hour
	}
	const J = 5 * time.Millisecond
	cases := []struct {
		name         string
		drift        float64
		jitter, late time.Duration
		burst        bool
	}{
		{"exact", 0, 0, 0, false},
		{"fast 0.1%", 0.001, 0, 0, false},
		{"slow 0.1%", -0.001, 0, 0, false},
		{"fast 0.5%", 0.005, 0, 0, false},
		{"slow 0.5%", -0.005, 0, 0, false},
		{"fast 0.1% jitter ±5ms", 0.001, J, 0, false},
		{"slow 0.1% jitter ±5ms", -0.001, J, 0, false},
		{"fast 0.5% jitter ±5ms", 0.005, J, 0, false},
		{"slow 0.5% jitter ±5ms", -0.005, J, 0, false},
		{"fast 0.1% late 0-10ms", 0.001, 0, 2 * J, false},
		{"slow 0.5% late 0-10ms bursts", -0.005, 0, 2 * J, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := sim{
				rate: simRate, channels: 1, drift: c.drift, period: 10 * time.Millisecond,
				jitter: c.jitter, late: c.late, burst: c.burst, duration: hours, start: 1234567 * time.Microsecond,
				toneHz: 1000, level: 0.5, seed: 1, settle: 60 * time.Second,
			}
			r := s.run(t)
			t.Logf("%s, %v: |PTS err| max %.2f ms after %v, %.2f ms overall (first frame %+.2f ms); "+
				"mean %+.2f ms, within ±1 ms of it from %.1f s; out rate %.5f Hz; drift est. %+.4f%%; "+
				"pitch wobble %.4f%%; max step %.4f; level %+.3f dB",
				c.name, hours, ms(r.maxErr), s.settle, ms(r.maxErrAll), ms(r.firstPTSErr), ms(r.bias), r.converged.Seconds(),
				r.outRate, 100*r.stats.Drift, 100*r.maxWobble, r.maxDiff, 20*math.Log10(r.levelRatio))
			if r.maxErr > 10*time.Millisecond {
				t.Errorf("|PTS - capture time| up to %v after %v, want <= 10ms", r.maxErr, s.settle)
			}
			if r.maxErrAll > 40*time.Millisecond {
				t.Errorf("|PTS - capture time| up to %v, want <= 40ms from the start (A/V sync)", r.maxErrAll)
			}
			if math.Abs(r.outRate/simRate-1) > 1e-6 {
				t.Errorf("output rate %.6f Hz, want %d", r.outRate, simRate)
			}
			if math.Abs(r.stats.Drift-c.drift) > 5e-5 {
				t.Errorf("drift estimate %g, want %g", r.stats.Drift, c.drift)
			}
			// A 1 kHz tone at 0.5 moves at most 0.5·2·sin(π·f/rate) per
			// sample, a little more when resampled at the largest ratio;
			// a click would be far above that.
			if lim := maxStep(0.5, 1000, simRate); r.maxDiff > lim {
				t.Errorf("sample-to-sample step up to %.4f, want <= %.4f (no clicks)", r.maxDiff, lim)
			}
			if r.gaps != 0 || r.stats.Reanchors != 0 || r.stats.Skipped != 0 {
				t.Errorf("%d PTS discontinuities, %d re-anchors, %d samples skipped; want none",
					r.gaps, r.stats.Reanchors, r.stats.Skipped)
			}
		})
	}
}

func ms(d time.Duration) float64 { return d.Seconds() * 1000 }

// maxStep is the largest sample-to-sample difference of a sine of level
// and hz sampled at rate, resampled by up to 1+maxCorrection, plus
// rounding.
func maxStep(level, hz float64, rate int) float64 {
	return 2*level*math.Sin(math.Pi*hz*(1+maxCorrection)/float64(rate)) + 2.0/32768
}

// TestDriftCorrector48k runs the corrector at the real rate, stereo, for a
// few minutes: pitch, level and smoothness of a 1 kHz tone.
func TestDriftCorrector48k(t *testing.T) {
	for _, c := range []struct {
		name         string
		drift        float64
		jitter, late time.Duration
		burst        bool
		period       time.Duration
	}{
		{"exact", 0, 0, 0, false, 10 * time.Millisecond},
		{"fast 0.1% jitter ±5ms", 0.001, 5 * time.Millisecond, 0, false, 10 * time.Millisecond},
		{"slow 0.5% jitter ±5ms", -0.005, 5 * time.Millisecond, 0, false, 10 * time.Millisecond},
		{"fast 0.5% late 0-4ms 25ms periods", 0.005, 0, 4 * time.Millisecond, false, 25 * time.Millisecond},
		{"slow 0.1% late 0-10ms bursts", -0.001, 0, 10 * time.Millisecond, true, 10 * time.Millisecond},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := sim{
				rate: 48000, channels: 2, drift: c.drift, period: c.period, jitter: c.jitter, late: c.late, burst: c.burst,
				duration: 3 * time.Minute, toneHz: 1000, level: 0.5, seed: 7, settle: 30 * time.Second,
			}
			if raceEnabled || testing.Short() {
				s.duration = 75 * time.Second
			}
			r := s.run(t)
			t.Logf("%s: |PTS err| max %.2f ms after %v, %.2f overall, mean %+.2f ms; tone %.4f Hz; pitch wobble %.4f%%; "+
				"max step %.5f; level %+.4f dB",
				c.name, ms(r.maxErr), s.settle, ms(r.maxErrAll), ms(r.bias), r.toneHz, 100*r.maxWobble, r.maxDiff,
				20*math.Log10(r.levelRatio))
			if r.maxErr > 10*time.Millisecond || r.maxErrAll > 40*time.Millisecond {
				t.Errorf("|PTS - capture time| up to %v after %v, %v overall", r.maxErr, s.settle, r.maxErrAll)
			}
			if lim := maxStep(0.5, 1000, 48000); r.maxDiff > lim {
				t.Errorf("sample-to-sample step up to %.5f, want <= %.5f (no clicks)", r.maxDiff, lim)
			}
			// The tone the device heard, at its pitch (the output's time
			// base is the pipeline clock's).
			if math.Abs(r.toneHz-1000) > 0.05 {
				t.Errorf("tone at %.4f Hz, want 1000", r.toneHz)
			}
			if db := 20 * math.Log10(r.levelRatio); math.Abs(db) > 0.05 {
				t.Errorf("level changed by %.3f dB", db)
			}
			if r.gaps != 0 {
				t.Errorf("%d PTS discontinuities", r.gaps)
			}
		})
	}
}

// TestDriftCorrectorDisruptions: a stall loses samples (re-anchor, no
// burst), a late callback keeps them (nothing to do), a late first
// callback makes the timeline start late (skip).
func TestDriftCorrectorDisruptions(t *testing.T) {
	base := sim{
		rate: 48000, channels: 2, drift: 0.001, period: 10 * time.Millisecond,
		jitter: 2 * time.Millisecond, duration: 90 * time.Second, start: 5 * time.Second,
		toneHz: 1000, level: 0.5, seed: 3, settle: 20 * time.Second,
	}
	frameDur := time.Duration(FrameSamples) * time.Second / 48000

	t.Run("stall 300ms", func(t *testing.T) {
		s := base
		s.stallAt, s.stall = 45*time.Second, 300*time.Millisecond
		r := s.run(t)
		t.Logf("PTS error max %.2f ms after %v; gaps at %v; stats %+v", ms(r.maxErr), s.settle, r.gapPTS, r.stats)
		if r.stats.Reanchors != 1 || r.gaps != 1 {
			t.Fatalf("%d re-anchors, %d PTS discontinuities; want 1", r.stats.Reanchors, r.gaps)
		}
		// The PTS jump is the stall, plus at most the incomplete frame
		// dropped before it, give or take the error.
		if g := r.gapPTS[0]; g < s.stallAt || g > s.stallAt+s.stall+2*frameDur {
			t.Errorf("timeline re-anchored at %v, want just after the stall at %v..%v", g, s.stallAt, s.stallAt+s.stall)
		}
		if r.maxErr > 10*time.Millisecond {
			t.Errorf("|PTS - capture time| up to %v after %v (the stall included), want <= 10ms", r.maxErr, s.settle)
		}
		// No burst: as many frames as the device captured (less the
		// warm-up), not more.
		captured := (s.duration - s.stall - time.Duration(warmup*float64(time.Second))).Seconds() * 48000 / FrameSamples
		if f := float64(r.frames); f > captured+1 || f < captured-3 {
			t.Errorf("%d frames, want about %.0f (what was captured: nothing fills the stall)", r.frames, captured)
		}
	})

	t.Run("late callback 300ms", func(t *testing.T) {
		s := base
		s.delayAt, s.delay = 45*time.Second, 300*time.Millisecond
		r := s.run(t)
		t.Logf("PTS error max %.2f ms after %v; stats %+v", ms(r.maxErr), s.settle, r.stats)
		if r.stats.Reanchors != 0 || r.gaps != 0 || r.stats.Skipped != 0 {
			t.Errorf("%d re-anchors, %d PTS discontinuities, %d skipped; want none (no sample was lost)",
				r.stats.Reanchors, r.gaps, r.stats.Skipped)
		}
		if r.maxErr > 10*time.Millisecond {
			t.Errorf("|PTS - capture time| up to %v after %v, want <= 10ms", r.maxErr, s.settle)
		}
		if lim := maxStep(0.5, 1000, 48000); r.maxDiff > lim {
			t.Errorf("sample-to-sample step up to %.5f, want <= %.5f (no clicks)", r.maxDiff, lim)
		}
	})

	// The start-up hold anchors on the least late callback of the first
	// 200 ms of the timeline (after the warm-up), not on the first one.
	t.Run("first callbacks 60ms late", func(t *testing.T) {
		s := base
		warm := time.Duration(warmup * float64(time.Second))
		s.lateFrom, s.lateTo, s.lateBy = s.start+warm, s.start+warm+30*time.Millisecond, 60*time.Millisecond
		s.settle = 0
		r := s.run(t)
		t.Logf("first frame PTS error %.2f ms, max %.2f ms; stats %+v", ms(r.firstPTSErr), ms(r.maxErr), r.stats)
		if r.stats.Skipped != 0 || r.stats.Reanchors != 0 || r.gaps != 0 {
			t.Errorf("skipped %d samples, %d re-anchors, %d discontinuities; want none",
				r.stats.Skipped, r.stats.Reanchors, r.gaps)
		}
		if r.maxErr > 5*time.Millisecond {
			t.Errorf("|PTS - capture time| up to %v, want <= 5ms from the first frame", r.maxErr)
		}
	})

	// A timeline that is late after its start (a clamp, a skewed clock)
	// drops input at once instead of slewing.
	t.Run("timeline late", func(t *testing.T) {
		var got []media.AudioFrame
		dc, _ := NewDriftCorrector(48000, 1, media.AudioWriterFunc(func(f *media.AudioFrame) error {
			got = append(got, *f)
			return nil
		}))
		buf := make([]int16, 480)
		at := time.Second
		for k := 0; k < 300; k++ {
			at += 10 * time.Millisecond
			if k == 200 {
				for range 5 { // 50 ms of samples more than time allows
					dc.Write(buf, at)
				}
			}
			if err := dc.Write(buf, at); err != nil {
				t.Fatal(err)
			}
		}
		st := dc.Stats()
		// Errors above 20 ms are skipped, the rest is the loop's.
		if len(got) < 100 {
			t.Fatalf("%d frames", len(got))
		}
		if st.Skipped < 48000*20/1000 || st.Skipped > 48000*50/1000 || st.Reanchors != 0 {
			t.Errorf("skipped %d samples, %d re-anchors; want 20..50 ms skipped", st.Skipped, st.Reanchors)
		}
		for k := 1; k < len(got); k++ {
			if d := got[k].PTS - got[k-1].PTS; d < 21333333 || d > 21333334 {
				t.Fatalf("PTS step %v at frame %d", d, k)
			}
		}
	})
}

// TestDriftCorrectorPassThrough: with the device on time and no jitter,
// samples come out as they went in (after the warm-up), in frames of
// FrameSamples, and the PTS are anchor + k·FrameSamples/rate to the
// nanosecond.
func TestDriftCorrectorPassThrough(t *testing.T) {
	var got []int16
	var pts []time.Duration
	dc, err := NewDriftCorrector(48000, 2, media.AudioWriterFunc(func(f *media.AudioFrame) error {
		got = append(got, f.Samples...)
		pts = append(pts, f.PTS)
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	const n = 480
	var in []int16
	start := 3 * time.Second
	const calls = 300
	for k := 0; k < calls; k++ {
		buf := make([]int16, 2*n)
		for i := range buf {
			buf[i] = int16(k*7919 + i*31)
		}
		in = append(in, buf...)
		if err := dc.Write(buf, start+time.Duration(k+1)*10*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	// The warm-up drops the callbacks that arrive within 0.5 s of the
	// first: 50 of them. The anchor is the 51st's arrival less its length.
	const dropped = 50
	in = in[dropped*2*n:]
	anchor := start + (dropped+1)*10*time.Millisecond - 10*time.Millisecond
	if want := (calls - dropped) * n / FrameSamples; len(pts) != want {
		t.Fatalf("%d frames, want %d", len(pts), want)
	}
	for k, p := range pts {
		want := anchor + time.Duration(int64(k)*FrameSamples*int64(time.Second)/48000)
		if p != want {
			t.Errorf("frame %d PTS %v, want %v", k, p, want)
		}
	}
	diff := 0
	for i := range got {
		if d := int(got[i]) - int(in[i]); d > 1 || d < -1 {
			diff++
		}
	}
	if diff > 0 {
		t.Errorf("%d of %d samples changed by more than 1 LSB", diff, len(got))
	}
	if st := dc.Stats(); math.Abs(st.Ratio-1) > 1e-6 {
		t.Errorf("ratio %v, want 1", st.Ratio)
	}
}

func TestDriftCorrectorErrors(t *testing.T) {
	nop := media.AudioWriterFunc(func(*media.AudioFrame) error { return nil })
	for _, c := range []struct {
		rate, ch int
		out      media.AudioWriter
	}{{0, 2, nop}, {48000, 0, nop}, {48000, 9, nop}, {48000, 2, nil}} {
		if _, err := NewDriftCorrector(c.rate, c.ch, c.out); err == nil {
			t.Errorf("NewDriftCorrector(%d, %d, %v) succeeded", c.rate, c.ch, c.out)
		}
	}
	boom := errors.New("boom")
	dc, _ := NewDriftCorrector(48000, 1, media.AudioWriterFunc(func(*media.AudioFrame) error { return boom }))
	var err error
	for k := 1; k < 100 && err == nil; k++ {
		err = dc.Write(make([]int16, 480), time.Duration(k)*10*time.Millisecond)
	}
	if !errors.Is(err, boom) {
		t.Errorf("Write with a failing writer: %v, want %v", err, boom)
	}
	if err := dc.Write(nil, time.Second); err != nil {
		t.Errorf("Write(nil): %v", err)
	}
}

// BenchmarkDriftCorrector: one 10 ms stereo callback at 48000 Hz through the
// corrector into frames; no allocation in the steady state.
func BenchmarkDriftCorrector(b *testing.B) {
	dc, _ := NewDriftCorrector(48000, 2, media.AudioWriterFunc(func(*media.AudioFrame) error { return nil }))
	buf := make([]int16, 2*480)
	for i := range buf {
		buf[i] = int16(i * 13)
	}
	at := time.Second
	step := 10 * time.Millisecond * 1001 / 1000 // a slow card
	for range 100 {
		at += step
		dc.Write(buf, at)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		at += step
		if err := dc.Write(buf, at); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/480, "ns/sample")
}
