package testutil

import (
	"math"
	"testing"
	"time"
)

func TestParseRate(t *testing.T) {
	for in, want := range map[string]float64{
		"30/1": 30, "30000/1001": 29.97, "0/0": 0, "25": 25, "": 0, "x/1": 0, "1/x": 0,
	} {
		if got := ParseRate(in); math.Abs(got-want) > 0.005 {
			t.Errorf("ParseRate(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestFreePortAndWaitFor(t *testing.T) {
	p, err := FreePort()
	if err != nil || p <= 0 || p > 65535 {
		t.Fatalf("FreePort() = %d, %v", p, err)
	}
	n := 0
	if !WaitFor(time.Second, time.Millisecond, func() bool { n++; return n == 3 }) {
		t.Error("WaitFor: condition that becomes true reported false")
	}
	start := time.Now()
	if WaitFor(50*time.Millisecond, 10*time.Millisecond, func() bool { return false }) {
		t.Error("WaitFor: false condition reported true")
	}
	if d := time.Since(start); d < 50*time.Millisecond || d > time.Second {
		t.Errorf("WaitFor with 50ms timeout took %v", d)
	}
}

func TestToneAnalysis(t *testing.T) {
	const rate = 48000
	for _, hz := range []float64{50, 440, 1000, 9000} {
		s := make([]int16, 2*rate/2) // 0.5 s stereo
		for i := 0; i < len(s)/2; i++ {
			v := int16(math.Round(16384 * math.Sin(2*math.Pi*hz*float64(i)/rate+0.3)))
			s[2*i], s[2*i+1] = v, -v
		}
		if got := ToneFrequency(s, 2, rate); math.Abs(got-hz) > hz*1e-4 {
			t.Errorf("ToneFrequency(%g Hz sine) = %g", hz, got)
		}
		if got := RMS(s, 2); math.Abs(got-0.5/math.Sqrt2) > 1e-3 {
			t.Errorf("RMS(%g Hz sine at 0.5) = %g, want %g", hz, got, 0.5/math.Sqrt2)
		}
	}
	if got := ToneFrequency(make([]int16, 100), 1, rate); got != 0 {
		t.Errorf("ToneFrequency(silence) = %g, want 0", got)
	}
}
