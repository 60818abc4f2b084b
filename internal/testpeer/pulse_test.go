package testpeer

import (
	"context"
	"encoding/binary"
	"io"
	"math"
	"os"
	"strings"
	"testing"
	"time"
)

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

func TestPulseTone(t *testing.T) {
	p := StartPulseT(t)
	RequireTool(t, "parec")
	if got := os.Getenv("PULSE_SERVER"); !strings.HasPrefix(got, "unix:"+p.Dir()) {
		t.Errorf("PULSE_SERVER = %q in the test process", got)
	}
	if out, err := p.pactl("list", "short", "sources"); err != nil || !strings.Contains(out, p.Monitor()) {
		t.Fatalf("sources: %q, %v; want %s", out, err, p.Monitor())
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	const level = 0.5
	if err := p.PlayTone(ctx, 440, level); err != nil {
		t.Fatal(err)
	}

	// Record 1.2 s from the monitor and look at the last second.
	const rate, skip, keep = 48000, 9600, 48000
	rec := p.Command(ctx, "parec", "--raw", "--device="+p.Monitor(), "--rate=48000",
		"--channels=2", "--format=s16le", "--latency-msec=20")
	stdout, err := rec.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := rec.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]int16, 2*(skip+keep))
	err = binary.Read(stdout, binary.LittleEndian, buf)
	rec.Process.Kill()
	rec.Wait()
	if err != nil && err != io.EOF {
		t.Fatalf("parec: %v", err)
	}
	got := buf[2*skip:]
	if hz := ToneFrequency(got, 2, rate); math.Abs(hz-440) > 1 {
		t.Errorf("recorded tone at %.2f Hz, want 440", hz)
	}
	if rms, want := RMS(got, 2), level/math.Sqrt2; math.Abs(20*math.Log10(rms/want)) > 0.1 {
		t.Errorf("recorded RMS %.4f, want %.4f (level %g)", rms, want, level)
	}
	if hz := ToneFrequency(got[1:], 2, rate); math.Abs(hz-440) > 1 {
		t.Errorf("right channel: tone at %.2f Hz, want 440", hz)
	}

	// Kill is a crash; Stop after it is still clean and idempotent.
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := p.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	if _, err := os.Stat(p.Dir()); !os.IsNotExist(err) && os.Getenv("GOLIVE_KEEP_PEER") != "1" {
		t.Errorf("directory %s not removed: %v", p.Dir(), err)
	}
	if err := p.PlayTone(ctx, 440, level); err == nil {
		t.Error("PlayTone after Stop succeeded")
	}
}
