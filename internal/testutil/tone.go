package testutil

import "math"

// ToneFrequency estimates the frequency (Hz) of a tone in interleaved S16
// samples from its first channel, by zero crossings: the number of rising
// crossings between the first and the last, over the time between them,
// each crossing placed by linear interpolation. It returns 0 with fewer
// than two crossings.
func ToneFrequency(samples []int16, channels, rate int) float64 {
	first, last, n := -1.0, -1.0, 0
	for i := channels; i < len(samples); i += channels {
		a, b := float64(samples[i-channels]), float64(samples[i])
		if a < 0 && b >= 0 {
			t := float64(i/channels-1) + a/(a-b)
			if first < 0 {
				first = t
			}
			last = t
			n++
		}
	}
	if n < 2 {
		return 0
	}
	return float64(n-1) * float64(rate) / (last - first)
}

// RMS returns the root mean square of the first channel of interleaved S16
// samples, as a fraction of full scale (a full-scale sine gives 1/√2).
func RMS(samples []int16, channels int) float64 {
	var sum float64
	n := 0
	for i := 0; i < len(samples); i += channels {
		v := float64(samples[i]) / 32768
		sum += v * v
		n++
	}
	if n == 0 {
		return 0
	}
	return math.Sqrt(sum / float64(n))
}
