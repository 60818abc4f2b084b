package testsrc

import (
	"math"
	"time"
)

// FillAudio fills buf, interleaved S16 with Channels channels (1 when
// Channels is 0), with the tone from absolute sample index startSample on.
// Each sample's phase is computed from its absolute index, so consecutive
// calls join without drift or discontinuity, and every channel carries the
// same signal.
func (s *Source) FillAudio(buf []int16, startSample uint64) {
	chans := max(s.Channels, 1)
	rate := uint64(max(s.SampleRate, 1))
	hz, amp := s.toneHz(), s.toneLevel()*math.MaxInt16

	// Index k = sec*rate + rem; the phase in cycles is frac(hz*sec) +
	// hz*rem/rate, exact for a whole hz and precise for days otherwise.
	sec, rem := startSample/rate, startSample%rate
	base := secondsPhase(hz, sec)
	beep := rate * uint64(SyncBeep) / uint64(time.Second)
	for i := 0; i+chans <= len(buf); i += chans {
		cycles := base + hz*float64(rem)/float64(rate)
		v := int16(math.Round(amp * math.Sin(2*math.Pi*cycles)))
		if s.Sync && rem >= beep {
			v = 0 // the sync signal: a beep in the first SyncBeep of each second
		}
		for c := range chans {
			buf[i+c] = v
		}
		if rem++; rem == rate {
			sec, rem = sec+1, 0
			base = secondsPhase(hz, sec)
		}
	}
}

// secondsPhase is the tone's phase, in cycles within [0, 1), after sec whole
// seconds.
func secondsPhase(hz float64, sec uint64) float64 {
	_, frac := math.Modf(hz * float64(sec))
	return frac
}
