package main

import (
	"math"
	"testing"

	"github.com/golive/golive/internal/testpeer"
)

// avOffsets pairs each flash with the nearest beep onset and returns the
// offsets (beep − flash, s).
func avOffsets(t *testing.T, rec string) []float64 {
	t.Helper()
	flashes, err := testpeer.Flashes(rec, 200)
	if err != nil {
		t.Fatal(err)
	}
	beeps, err := testpeer.BeepOnsets(rec, 0.05, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	if len(flashes) < 3 || len(beeps) < 3 {
		t.Fatalf("%d flashes at %v, %d beeps at %v: want one each per second", len(flashes), flashes, len(beeps), beeps)
	}
	var offs []float64
	for _, f := range flashes {
		best := math.Inf(1)
		for _, b := range beeps {
			if math.Abs(b-f) < math.Abs(best) {
				best = b - f
			}
		}
		offs = append(offs, best)
	}
	return offs
}

// TestAVSync: a flash and a beep made at the same pipeline time arrive at
// the server within one frame (33 ms) of each other.
func TestAVSync(t *testing.T) {
	testpeer.RequireTool(t, "ffmpeg", "ffprobe")
	n := testpeer.StartNginxT(t, testpeer.NginxConfig{Record: true})
	if code, log := push(t, "--preset", "360p", "--source", "test:sync", "--duration", "6s", n.URL("sync")); code != exitOK {
		t.Fatalf("exit %d:\n%s", code, log)
	}
	testpeer.ProbeRecordingT(t, n.RecordPath("sync"))
	offs := avOffsets(t, n.RecordPath("sync"))
	t.Logf("flash→beep offsets (s): %v", offs)
	for _, o := range offs {
		if math.Abs(o) > 1.0/30 {
			t.Fatalf("A/V offsets %v s: more than one frame (33 ms)", offs)
		}
	}
}
