package audio

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"testing"
	"time"

	"github.com/golive/golive/media"
)

func TestReplay(t *testing.T) {
	f, _ := os.Open("/tmp/chunks.txt")
	sc := bufio.NewScanner(f)
	dc, _ := NewDriftCorrector(48000, 2, media.AudioWriterFunc(func(*media.AudioFrame) error { return nil }))
	buf := make([]int16, 960)
	maxR, maxD := 0.0, 0.0
	var last time.Duration
	for sc.Scan() {
		var us, n, e, r, d int64
		fmt.Sscanf(sc.Text(), "chunk %d %d %d %d %d", &us, &n, &e, &r, &d)
		at := time.Duration(us) * time.Microsecond
		dc.Write(buf, at)
		st := dc.Stats()
		maxR = max(maxR, math.Abs(st.Ratio-1))
		maxD = max(maxD, math.Abs(st.Drift))
		if at-last > 2*time.Second {
			last = at
			t.Logf("%6.1fs ratio %+5d drift %+5d e %.1f", at.Seconds(), int((st.Ratio-1)*1e6), int(st.Drift*1e6), st.Error.Seconds()*1000)
		}
	}
	t.Logf("max |ratio-1| %d ppm, max |drift| %d ppm; reanchors %d skipped %d", int(maxR*1e6), int(maxD*1e6), dc.Stats().Reanchors, dc.Stats().Skipped)
}
