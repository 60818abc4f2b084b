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

	"github.com/golive/golive/internal/testutil"
)

func TestPulseTone(t *testing.T) {
	p := StartPulse(t)
	testutil.RequireTool(t, "parec")
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
	if hz := testutil.ToneFrequency(got, 2, rate); math.Abs(hz-440) > 1 {
		t.Errorf("recorded tone at %.2f Hz, want 440", hz)
	}
	if rms, want := testutil.RMS(got, 2), level/math.Sqrt2; math.Abs(20*math.Log10(rms/want)) > 0.1 {
		t.Errorf("recorded RMS %.4f, want %.4f (level %g)", rms, want, level)
	}
	if hz := testutil.ToneFrequency(got[1:], 2, rate); math.Abs(hz-440) > 1 {
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
