package audio

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/golive/golive/media"
)

// FrameSamples is the number of samples (per channel) in every frame a
// DriftCorrector, and so a Mic, emits: one AAC frame.
const FrameSamples = 1024

// Tuning of the DriftCorrector. Times are in seconds.
const (
	// warmup: the first input after Reset is dropped for this long. The
	// latency of a stream that has just started still moves (measured on a
	// PulseAudio 16 null-sink monitor: its first 0.5 s arrive about 10 ms
	// earlier than what follows), and anchoring on it would leave an error
	// to slew; many devices also pop as they start.
	warmup = 0.5
	// Callbacks arrive late, never early, and often in bursts (PulseAudio
	// hands over several periods at once): the least late callback is the
	// best measure of the capture time. So the loop works on the maximum
	// of the error over blocks of envelopeBlock, and a timeline starts by
	// holding its output for startupHold, to anchor on the least late
	// callback of that time rather than on the first.
	envelopeBlock = 0.25
	startupHold   = 0.2
	// The timing loop is a second-order (PI) phase-locked loop, critically
	// damped, whose natural frequency ω narrows from omegaStart to omegaEnd
	// (rad/s) as the stream ages, halfway at omegaHalf seconds: it learns
	// the drift in seconds, then averages over 1/omegaEnd ≈ 7 s, so that
	// callback jitter and a backend's latency wander barely move the
	// resampling ratio, while a drift that changes with temperature is
	// still followed.
	omegaStart = 0.5
	omegaEnd   = 0.15
	omegaHalf  = 5.0
	// The error is low-pass filtered before the loop with a time constant
	// of 1/(prefilterRatio·ω): above the loop's bandwidth, so it adds little
	// phase lag, but it keeps jitter out of the proportional term.
	prefilterRatio = 4.0
	// settleTime: for this long after the start-up hold (seconds of loop
	// time) the loop only slews the phase (proportional term) and learns
	// no drift: a latency that still moves must not be taken for drift.
	settleTime = 2.0
	// maxDrift bounds the estimated drift, maxSlew the proportional term
	// (a phase error is slewed at 2.5 ms a second at most): the resampling
	// ratio stays within 1 ± maxCorrection. Sound cards are within ±0.1% of
	// nominal, and 0.25% is 4 cents of pitch; errors the loop cannot take
	// out smoothly are handled by skips and re-anchors.
	maxDrift      = 0.01
	maxSlew       = 0.0025
	maxCorrection = maxDrift + maxSlew
	// skipAfter: when the next sample's PTS is more than this later than
	// the capture time measured by one callback, input is dropped at once
	// to catch up (arrivals are never early, so such an error is certain).
	skipAfter = 0.020
	// gapAfter: when the PTS is more than this earlier than the capture
	// time measured by every callback for gapConfirm (samples are missing:
	// the device stalled or overran), the timeline is re-anchored at the
	// first sample after the gap. A callback that is merely late is
	// followed by its backlog, which brings the error back: output is held
	// meanwhile, never emitted with a wrong PTS.
	gapAfter   = 0.030
	gapConfirm = 0.100
	// maxLoopStep bounds the time between two loop updates that the loop
	// integrates over.
	maxLoopStep = 1.0
)

// DriftCorrector turns audio captured by a device whose sample clock is not
// the pipeline clock into frames of FrameSamples samples whose PTS are exact
// on the pipeline clock: frame k of a timeline has PTS
//
//	anchor + k·FrameSamples/SampleRate (integer nanoseconds, no rounding drift)
//
// and its first sample was captured at that time, within a few milliseconds,
// for hours.
//
// # Model
//
// A sound card's crystal is off by up to ±0.1% or so: one that runs 0.1%
// fast delivers 48048 samples per real second. Stamping samples by counting
// them at the nominal rate would drift 3.6 s an hour away from the video;
// stamping them by arrival time would carry the callbacks' jitter. So:
//
//   - The first 0.5 s of input are dropped (warm-up, see warmup).
//   - Every callback measures the error e = PTS of the next output sample −
//     (arrival time − duration of the samples not yet consumed): how far the
//     timeline is from the capture time, as far as this callback tells.
//     Since a callback is never early, the largest e over a short time is
//     the most accurate: the loop works on the maximum of e over blocks of
//     250 ms (an envelope), which bursty or late callbacks do not move.
//   - The anchor is the arrival time of the first callback after the
//     warm-up minus the duration of its samples (its first sample was
//     captured one buffer before it arrived), moved back by the largest e
//     of the next 200 ms: a timeline holds its output for that long, so
//     that its first frame is stamped right already.
//   - A PI loop (see the constants) drives the envelope of e to zero by
//     setting the resampling ratio r = input samples per output sample =
//     1 + drift + Kp·e, with drift its integral term: the estimate of the
//     card's drift.
//   - The samples are resampled by r with 4-point cubic (Catmull-Rom)
//     interpolation, phase-continuous across callbacks and frames: the
//     output has exactly SampleRate samples per second of the pipeline
//     clock, and a tone keeps its pitch and has no clicks. With no drift
//     and no error (r = 1 at an integer position) samples pass through
//     unchanged.
//
// The PTS so stand for the time the samples reached the process at the
// earliest, less the buffer duration: latency inside the backend before
// that is not known, and not subtracted.
//
// Large errors are not slewed: a PTS later than the capture by more than
// 20 ms drops input at once; input missing for more than 30 ms (a stall or
// an overrun: the arrival times run ahead of the sample count, and stay
// ahead for 100 ms) starts a new timeline (re-anchor) whose first frame is
// stamped with the capture time of the first sample after the gap. The
// incomplete frame before the gap is dropped; nothing fills the gap, so
// there is never a burst of frames, and PTS only increase; they are never
// negative (input captured before 0 is dropped). The drift estimate
// survives a re-anchor.
//
// A DriftCorrector is not safe for concurrent use.
type DriftCorrector struct {
	rate     int
	channels int
	out      media.AudioWriter

	frame    media.AudioFrame // reused: Samples has FrameSamples*channels
	fill     int              // samples (per channel) in frame
	lastPTS  time.Duration    // PTS of the last emitted frame
	emitted  bool             // lastPTS is valid
	started  bool             // a timeline exists
	firstAt  time.Duration    // arrival of the first Write of the timeline
	anchor   time.Duration    // PTS of output sample 0 of the timeline
	outCount int64            // output samples of the timeline (emitted or in frame)

	// Input FIFO of the timeline: buf holds interleaved samples whose first
	// is input index bufStart. Index -1 is a copy of index 0, so that the
	// interpolator has its left neighbour at the start.
	buf      []int16
	bufStart int64
	inCount  int64   // input samples of the timeline (pushed)
	ipos     int64   // integer part of the read position
	frac     float64 // fractional part, in [0, 1)
	base     int64   // input samples before this timeline (since Reset)

	// Gap suspicion: output is held below input index suspectAt while
	// suspect, from arrival suspectSince.
	suspect      bool
	suspectAt    int64
	suspectSince time.Duration

	// Warm-up (before the first timeline), start-up hold and envelope.
	warming  bool
	warmFrom time.Duration // arrival of the first Write
	holding  bool          // the timeline's output is held (startupHold)
	holdMax  float64       // max error while holding, s
	blockMax float64       // max error in the current envelope block, s
	blockAt  time.Duration // start of the envelope block
	loopAt   time.Duration // last loop update

	// Loop state.
	efilt float64 // prefiltered error, s
	drift float64 // integral term: estimated input/output rate ratio - 1
	ratio float64 // current resampling ratio
	age   float64 // seconds of loop time (sets ω)
	errV  float64 // last raw error, s

	reanchors, skipped int64
	framePos           float64 // input position (since Reset) of the last frame's first sample
	nextFramePos       float64 // the same for the frame being filled
}

// NewDriftCorrector makes a corrector for interleaved S16 audio of channels
// channels at the nominal sampleRate, which writes its frames to out. out
// must not keep the frame after it returns; an error from it is returned by
// Write.
func NewDriftCorrector(sampleRate, channels int, out media.AudioWriter) (*DriftCorrector, error) {
	if sampleRate < 1000 || sampleRate > 384000 {
		return nil, fmt.Errorf("audio: drift corrector: sample rate %d: must be 1000..384000", sampleRate)
	}
	if channels < 1 || channels > 8 {
		return nil, fmt.Errorf("audio: drift corrector: %d channels: must be 1..8", channels)
	}
	if out == nil {
		return nil, errors.New("audio: drift corrector: no AudioWriter")
	}
	d := &DriftCorrector{
		rate:     sampleRate,
		channels: channels,
		out:      out,
		buf:      make([]int16, 0, 4096*channels),
	}
	d.frame = media.AudioFrame{
		SampleRate: sampleRate,
		Channels:   channels,
		Samples:    make([]int16, FrameSamples*channels),
	}
	d.Reset()
	return d, nil
}

// Reset forgets everything, the drift estimate included: the next Write
// starts a timeline as the first one did. The next frame's PTS is still
// after the last one's.
func (d *DriftCorrector) Reset() {
	d.started = false
	d.fill = 0
	d.suspect, d.holding, d.warming = false, false, false
	d.drift, d.ratio, d.efilt, d.age, d.errV = 0, 1, 0, 0, 0
	d.base = 0
	d.buf = d.buf[:0]
	d.bufStart, d.inCount, d.ipos, d.frac, d.outCount = 0, 0, 0, 0, 0
}

// DriftStats describes the state of a DriftCorrector.
type DriftStats struct {
	// Drift is the estimated rate of the device relative to the nominal
	// rate, minus 1: +0.001 for a card that runs 0.1% fast.
	Drift float64
	// Ratio is the current resampling ratio (input samples per output
	// sample): 1 + Drift + the proportional correction.
	Ratio float64
	// Error is the last measured difference between the timeline and the
	// arrival-based capture time, callback jitter included (positive: PTS
	// later than the capture).
	Error time.Duration
	// Reanchors counts the timelines started after gaps; Skipped the input
	// samples (per channel) dropped to catch up.
	Reanchors, Skipped int64
}

// Stats returns the corrector's state.
func (d *DriftCorrector) Stats() DriftStats {
	return DriftStats{
		Drift:     d.drift,
		Ratio:     d.ratio,
		Error:     time.Duration(d.errV * float64(time.Second)),
		Reanchors: d.reanchors,
		Skipped:   d.skipped,
	}
}

// Write takes the samples of one device callback (interleaved, channels
// per sample frame; a partial sample frame at the end is ignored) and at,
// their arrival time on the pipeline clock: when the callback ran, so that
// the last sample was captured just before at. It emits every frame that is
// complete. It does not keep samples.
func (d *DriftCorrector) Write(samples []int16, at time.Duration) error {
	n := len(samples) / d.channels
	if n == 0 {
		return nil
	}
	samples = samples[:n*d.channels]
	if !d.started {
		if !d.warming {
			d.warming, d.warmFrom = true, at
		}
		if (at - d.warmFrom).Seconds() < warmup {
			d.base += int64(n) // a stream that has just started: see warmup
			return nil
		}
		d.startTimeline(samples, at-d.dur(n), at)
		return d.produce()
	}
	d.buf = append(d.buf, samples...)
	d.inCount += int64(n)

	e := d.measure(at)
	d.errV = e
	if d.holding {
		d.holdMax = max(d.holdMax, e)
		if (at - d.firstAt).Seconds() >= startupHold {
			d.endHold(at)
		}
		return d.produce()
	}
	switch {
	case e > skipAfter:
		d.suspect = false
		d.skip(e)
		d.efilt, d.blockMax = 0, math.Inf(-1)
	case e < -gapAfter:
		if !d.suspect {
			d.suspect = true
			d.suspectAt = d.inCount - int64(n)
			d.suspectSince = at
		} else if (at - d.suspectSince).Seconds() >= gapConfirm {
			return d.reanchor(at)
		}
	default:
		d.suspect = false // if it was: the late callback's backlog has arrived
		d.blockMax = max(d.blockMax, e)
		if (at - d.blockAt).Seconds() >= envelopeBlock {
			d.control(d.blockMax, (at - d.loopAt).Seconds())
			d.blockAt, d.loopAt, d.blockMax = at, at, math.Inf(-1)
		}
	}
	return d.produce()
}

// endHold ends a timeline's start-up hold: the anchor moves back by the
// largest error measured meanwhile (never before the last frame, nor 0).
func (d *DriftCorrector) endHold(at time.Duration) {
	d.holding = false
	d.blockAt, d.loopAt, d.blockMax = at, at, math.Inf(-1)
	anchor := d.anchor - time.Duration(d.holdMax*float64(time.Second))
	// Input captured before the earliest allowed PTS is dropped, so that
	// the first frame is still stamped right: nothing has been emitted
	// from this timeline yet, so this is no discontinuity.
	if low := d.lowestPTS(); anchor < low {
		n := int64((low - anchor).Seconds() * float64(d.rate))
		n = min(n, d.inCount-3)
		d.ipos += n
		d.skipped += n
		anchor += d.dur(int(n))
		d.trim()
		if anchor < low {
			anchor = low
		}
	}
	d.anchor = anchor
}

// lowestPTS is the earliest PTS the next timeline may start at: after the
// last frame emitted, and never negative.
func (d *DriftCorrector) lowestPTS() time.Duration {
	if d.emitted {
		return d.lastPTS + d.dur(FrameSamples)
	}
	return 0
}

// dur is the duration of n samples at the nominal rate.
func (d *DriftCorrector) dur(n int) time.Duration {
	return time.Duration(int64(n) * int64(time.Second) / int64(d.rate))
}

// pts is the PTS of output sample j of the timeline.
func (d *DriftCorrector) pts(j int64) time.Duration {
	r := int64(d.rate)
	return d.anchor + time.Duration(j/r)*time.Second + time.Duration((j%r)*int64(time.Second)/r)
}

// measure returns the timeline error in seconds for a callback that
// arrived at: the PTS of the next output sample minus the capture time of
// the input at the read position (at, less the duration of the input after
// the read position).
func (d *DriftCorrector) measure(at time.Duration) float64 {
	pending := float64(d.inCount) - (float64(d.ipos) + d.frac)
	capture := at.Seconds() - pending/float64(d.rate)
	return d.pts(d.outCount).Seconds() - capture
}

// control runs one step of the loop on error e after dt seconds.
func (d *DriftCorrector) control(e, dt float64) {
	dt = min(max(dt, 0), maxLoopStep)
	d.age += dt
	// ω from omegaStart to omegaEnd, halfway (geometrically) at omegaHalf.
	w := omegaEnd + (omegaStart-omegaEnd)/(1+d.age/omegaHalf*d.age/omegaHalf)
	a := min(dt*prefilterRatio*w, 1)
	d.efilt += (e - d.efilt) * a
	kp, ki := 2*w, w*w
	if d.age > settleTime {
		d.drift = min(max(d.drift+ki*d.efilt*dt, -maxDrift), maxDrift)
	}
	d.ratio = 1 + d.drift + min(max(kp*d.efilt, -maxSlew), maxSlew)
}

// skip drops input to take out e seconds of error at once.
func (d *DriftCorrector) skip(e float64) {
	n := int64(math.Round(e * float64(d.rate)))
	// Keep the samples the interpolator needs after the read position.
	if avail := d.inCount - 3 - d.ipos; n > avail {
		n = avail
	}
	if n <= 0 {
		return
	}
	d.ipos += n
	d.skipped += n
	d.trim()
}

// startTimeline makes samples the first input of a new timeline whose first
// sample was captured at anchor, and starts its hold (endHold makes sure it
// starts after the last frame emitted).
func (d *DriftCorrector) startTimeline(samples []int16, anchor, at time.Duration) {
	d.started = true
	d.holding, d.holdMax = true, 0
	d.anchor = anchor
	d.firstAt = at
	d.outCount, d.fill = 0, 0
	d.suspect = false
	d.efilt = 0
	d.buf = append(d.buf[:0], samples[:d.channels]...) // index -1: copy of 0
	d.buf = append(d.buf, samples...)
	d.bufStart = -1
	d.inCount = int64(len(samples) / d.channels)
	d.ipos, d.frac = 0, 0
	d.nextFramePos = float64(d.base)
}

// reanchor starts a new timeline at the first input sample after the gap
// (suspectAt), and emits what it can.
func (d *DriftCorrector) reanchor(at time.Duration) error {
	// The output before the gap has been produced (held at suspectAt); the
	// incomplete frame is dropped.
	from := d.suspectAt
	d.base += from
	rest := d.buf[(from-d.bufStart)*int64(d.channels):]
	capture := at - d.dur(int(d.inCount-from))
	// startTimeline moves rest to the start of buf: it lies after it, and
	// append moves overlapping memory safely.
	d.startTimeline(rest, capture, at)
	d.reanchors++
	return d.produce()
}

// produce resamples the input available into frames.
func (d *DriftCorrector) produce() error {
	limit := d.inCount
	switch {
	case d.holding:
		return nil
	case d.suspect:
		limit = d.suspectAt
	}
	ch := d.channels
	for d.ipos+2 < limit {
		if d.fill == 0 {
			d.nextFramePos = float64(d.base+d.ipos) + d.frac
		}
		// x0..x3 are input indices ipos-1 .. ipos+2.
		k := int(d.ipos-1-d.bufStart) * ch
		t := d.frac
		dst := d.frame.Samples[d.fill*ch : (d.fill+1)*ch]
		if t == 0 {
			copy(dst, d.buf[k+ch:k+2*ch])
		} else {
			x := d.buf[k : k+4*ch]
			for c := range ch {
				x0, x1, x2, x3 := float64(x[c]), float64(x[ch+c]), float64(x[2*ch+c]), float64(x[3*ch+c])
				c1 := 0.5 * (x2 - x0)
				c2 := x0 - 2.5*x1 + 2*x2 - 0.5*x3
				c3 := 0.5*(x3-x0) + 1.5*(x1-x2)
				v := ((c3*t+c2)*t+c1)*t + x1
				dst[c] = int16(min(max(math.Round(v), -32768), 32767))
			}
		}
		d.fill++
		d.outCount++
		adv := d.frac + d.ratio
		step := math.Floor(adv)
		d.ipos += int64(step)
		d.frac = adv - step
		if d.fill == FrameSamples {
			if err := d.emit(); err != nil {
				d.trim()
				return err
			}
		}
	}
	d.trim()
	return nil
}

// emit writes the full frame.
func (d *DriftCorrector) emit() error {
	d.frame.PTS = d.pts(d.outCount - FrameSamples)
	d.framePos = d.nextFramePos
	d.fill = 0
	d.lastPTS, d.emitted = d.frame.PTS, true
	if err := d.out.WriteAudio(&d.frame); err != nil {
		return fmt.Errorf("audio: write frame at %v: %w", d.frame.PTS, err)
	}
	return nil
}

// trim drops the input before the interpolator's left neighbour.
func (d *DriftCorrector) trim() {
	keep := d.ipos - 1 // index of x0
	if keep <= d.bufStart {
		return
	}
	drop := int((keep - d.bufStart)) * d.channels
	if drop >= len(d.buf) {
		d.buf = d.buf[:0]
	} else {
		n := copy(d.buf, d.buf[drop:])
		d.buf = d.buf[:n]
	}
	d.bufStart = keep
}
