// Package testsrc is the `--source test` capture source: a live synthetic
// picture and tone, like ffmpeg's testsrc2 + sine, paced in real time on the
// pipeline clock.
//
// The picture is a static background (75% colour bars over a luma ramp,
// with a grid) on which every frame draws a white box that sweeps left to
// right once per second, a red vertical bar that steps one bar width per
// frame, and, in large digits, the frame counter and the frame's PTS as
// HH:MM:SS.mmm. A viewer can therefore see motion, freezes (nothing moves,
// the numbers stop) and drops (the counter and the bar skip). A patch of
// snow (noise that moves every frame) over the right half of the ramp makes
// the encoder spend the bitrate it is given, as on a camera's picture, so
// a test push loads the uplink for real.
//
// Frames lie on an exact PTS grid: video frame n has PTS n*1s/FPS and audio
// frame k, of N samples, has PTS k*N*1s/SampleRate (integer maths, no
// drift). A source that falls more than a few frames behind the clock skips
// ahead on that grid instead of bursting; the gaps show in Seq (video) and
// in the PTS (audio).
package testsrc

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/golive/golive/media"
)

// Defaults for the zero values of the optional fields.
const (
	DefaultToneHz            = 1000.0
	DefaultToneLevel         = 0.25 // -12 dBFS
	DefaultAudioFrameSamples = 1024 // one AAC frame
)

// SyncBeep is how long each beep of the sync signal lasts.
const SyncBeep = 100 * time.Millisecond

// maxLagFrames is how far (in frames) a stream may fall behind the clock
// before it skips ahead instead of catching up frame by frame.
const maxLagFrames = 3

// Source is a live test source. Fill in the fields, then call Run (once).
// The fields must not change after the first call to Run, RenderFrame or
// FillAudio.
type Source struct {
	// Video: I420 frames of Width x Height (even, 16..7680 x 16..4320) at
	// FPS (1..120) frames per second.
	Width, Height, FPS int
	// Audio: interleaved S16 PCM. Channels 0 means no audio.
	SampleRate, Channels int
	// ToneHz is the sine frequency; 0 means DefaultToneHz.
	ToneHz float64
	// ToneLevel is the peak amplitude, 0..1 of full scale; 0 means
	// DefaultToneLevel.
	ToneLevel float64
	// Clock is the pipeline clock frames are stamped and paced on. Required.
	Clock *media.Clock
	// Video receives every frame; ownership passes with the call (the
	// receiver calls Release). It must return at once (queue or drop).
	// Required.
	Video media.VideoWriter
	// Audio receives PCM and must not keep the frame or its samples after
	// it returns. It must return at once. nil means no audio.
	Audio media.AudioWriter
	// AudioFrameSamples is the number of samples (per channel) in each
	// AudioFrame; 0 means DefaultAudioFrameSamples.
	AudioFrameSamples int
	// Sync makes the A/V sync signal (`--source test:sync`): at every whole
	// second of the PTS grid the whole picture is white for one frame, and
	// a beep (the tone, SyncBeep long) starts on the same instant; the
	// audio is silent otherwise. Measuring flash against beep in what a
	// server received gives the A/V offset.
	Sync bool
	// AudioDrift simulates a sound card whose clock is off: 0.001 is one
	// running 0.1% fast. The audio then comes as a sound card delivers it —
	// raw 10 ms callbacks to RawAudio with their arrival time, the samples
	// placed at their true capture times — for the drift correction a
	// microphone goes through. For tests of A/V sync.
	AudioDrift float64
	// RawAudio receives the simulated sound card's callbacks (AudioDrift).
	RawAudio func(samples []int16, at time.Duration) error

	once sync.Once
	pic  *picture
}

// Check validates the configuration. Run calls it first.
func (s *Source) Check() error {
	if s.Width < 16 || s.Width > 7680 || s.Height < 16 || s.Height > 4320 ||
		s.Width%2 != 0 || s.Height%2 != 0 {
		return fmt.Errorf("testsrc: size %dx%d: width and height must be even, within 16x16..7680x4320",
			s.Width, s.Height)
	}
	if s.FPS < 1 || s.FPS > 120 {
		return fmt.Errorf("testsrc: frame rate %d: must be 1..120", s.FPS)
	}
	if s.Channels < 0 || s.Channels > 8 {
		return fmt.Errorf("testsrc: %d audio channels: must be 0..8", s.Channels)
	}
	if s.Channels > 0 {
		if s.SampleRate <= 0 {
			return fmt.Errorf("testsrc: sample rate %d: must be > 0 with %d channels", s.SampleRate, s.Channels)
		}
		if f := s.toneHz(); !(f > 0 && f < float64(s.SampleRate)/2) {
			return fmt.Errorf("testsrc: tone %g Hz: must be > 0 and below half the sample rate (%d Hz)",
				f, s.SampleRate)
		}
		if !(s.ToneLevel >= 0 && s.ToneLevel <= 1) {
			return fmt.Errorf("testsrc: tone level %g: must be within 0..1", s.ToneLevel)
		}
		if s.AudioFrameSamples < 0 || s.AudioFrameSamples > 1<<20 {
			return fmt.Errorf("testsrc: %d samples per audio frame: must be 1..%d (0 = %d)",
				s.AudioFrameSamples, 1<<20, DefaultAudioFrameSamples)
		}
	}
	if s.Clock == nil {
		return errors.New("testsrc: no Clock")
	}
	if s.Video == nil {
		return errors.New("testsrc: no Video writer")
	}
	return nil
}

func (s *Source) toneHz() float64 {
	if s.ToneHz == 0 {
		return DefaultToneHz
	}
	return s.ToneHz
}

func (s *Source) toneLevel() float64 {
	if s.ToneLevel == 0 {
		return DefaultToneLevel
	}
	return s.ToneLevel
}

func (s *Source) audioFrameSamples() int {
	if s.AudioFrameSamples == 0 {
		return DefaultAudioFrameSamples
	}
	return s.AudioFrameSamples
}

// Run produces video (and audio, when Audio is set and Channels > 0) in real
// time until ctx is done, then returns nil. It returns an error when the
// configuration is invalid or a writer fails; a writer error stops both
// streams. Video and audio run in goroutines of their own, and Run waits for
// both before it returns.
//
// The first video frame is the one due at the clock's time when Run starts
// (Seq 0 when the clock has just started), so Seq is always the frame's index
// on the PTS grid.
func (s *Source) Run(ctx context.Context) error {
	if err := s.Check(); err != nil {
		return err
	}
	s.init()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 2)
	run := func(fn func(context.Context) error) func() {
		return func() {
			if err := fn(ctx); err != nil {
				errc <- err
				cancel()
			}
		}
	}
	var wg sync.WaitGroup
	wg.Go(run(s.runVideo))
	switch {
	case s.RawAudio != nil && s.Channels > 0:
		wg.Go(run(s.runSoundCard))
	case s.Audio != nil && s.Channels > 0:
		wg.Go(run(s.runAudio))
	}
	wg.Wait()
	close(errc)
	return <-errc // the first error, or nil
}

// runVideo emits video frames on the PTS grid until ctx is done.
func (s *Source) runVideo(ctx context.Context) error {
	pool := media.NewFramePool(s.Width, s.Height)
	fps := uint64(s.FPS)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	maxLag := time.Duration(maxLagFrames) * time.Second / time.Duration(fps)

	for n := frameAt(s.Clock.Now(), fps); ; n++ {
		due := gridTime(n, fps)
		if !s.Clock.SleepUntil(ctx, timer, due) {
			return nil
		}
		if now := s.Clock.Now(); now-due > maxLag {
			n = frameAt(now, fps) // stalled: drop the frames we missed
		}
		f := pool.Get()
		s.RenderFrame(f, n)
		if err := s.Video.WriteVideo(f); err != nil {
			return fmt.Errorf("testsrc: video frame %d: %w", n, err)
		}
	}
}

// runAudio emits audio frames on the sample grid until ctx is done. Frame k
// covers samples [k*N, (k+1)*N) and is emitted once the clock reaches the end
// of that span, as a capture device would deliver it.
func (s *Source) runAudio(ctx context.Context) error {
	n := uint64(s.audioFrameSamples())
	rate := uint64(s.SampleRate)
	fr := &media.AudioFrame{
		SampleRate: s.SampleRate,
		Channels:   s.Channels,
		Samples:    make([]int16, int(n)*s.Channels),
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	maxLag := gridTime(maxLagFrames*n, rate)

	for k := frameAt(s.Clock.Now(), rate) / n; ; k++ {
		end := gridTime((k+1)*n, rate)
		if !s.Clock.SleepUntil(ctx, timer, end) {
			return nil
		}
		if now := s.Clock.Now(); now-end > maxLag {
			k = frameAt(now, rate)/n - 1 // stalled: the latest frame already complete
		}
		start := k * n
		s.FillAudio(fr.Samples, start)
		fr.PTS = gridTime(start, rate)
		if err := s.Audio.WriteAudio(fr); err != nil {
			return fmt.Errorf("testsrc: audio at sample %d: %w", start, err)
		}
	}
}

// runSoundCard delivers audio as a sound card whose clock runs AudioDrift
// off would: every 10 ms, the samples captured since the last callback —
// SampleRate*(1+AudioDrift) a second — with the tone (or the sync beep)
// placed at each sample's true capture time on the pipeline clock.
func (s *Source) runSoundCard(ctx context.Context) error {
	rate := float64(s.SampleRate) * (1 + s.AudioDrift)
	ch := s.Channels
	hz, amp := s.toneHz(), s.toneLevel()*32767
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	start := s.Clock.Now()
	var done uint64 // samples delivered
	buf := make([]int16, 0, 4096*ch)
	for tick := 1; ; tick++ {
		if !s.Clock.SleepUntil(ctx, timer, start+time.Duration(tick)*10*time.Millisecond) {
			return nil
		}
		now := s.Clock.Now()
		total := uint64((now - start).Seconds() * rate)
		buf = buf[:0]
		for j := done; j < total; j++ {
			at := start.Seconds() + float64(j)/rate // true capture time
			v := int16(0)
			if _, frac := math.Modf(at); !s.Sync || frac < SyncBeep.Seconds() {
				v = int16(amp * math.Sin(2*math.Pi*hz*at))
			}
			for range ch {
				buf = append(buf, v)
			}
		}
		done = total
		if err := s.RawAudio(buf, now); err != nil {
			return fmt.Errorf("testsrc: sound card: %w", err)
		}
	}
}

// gridTime is the time of tick i of a rate-per-second grid: floor(i*1s/rate),
// computed without overflow for any realistic i.
func gridTime(i, rate uint64) time.Duration {
	return time.Duration(i/rate)*time.Second + time.Duration((i%rate)*uint64(time.Second)/rate)
}

// frameAt is the latest tick of a rate-per-second grid at or before t
// (0 for t < 0): the inverse of gridTime.
func frameAt(t time.Duration, rate uint64) uint64 {
	if t <= 0 {
		return 0
	}
	// The largest j with floor(j*1s/rate) <= frac is
	// ceil((frac+1)*rate/1s) - 1.
	sec, frac := uint64(t/time.Second), uint64(t%time.Second)
	return sec*rate + ((frac+1)*rate-1)/uint64(time.Second)
}
