package publish

import (
	"testing"
	"time"
)

func TestLatencyQuantiles(t *testing.T) {
	var l Latency
	if l.Quantile(0.5) != 0 {
		t.Fatal("empty histogram: non-zero quantile")
	}
	for i := 1; i <= 100; i++ { // 0.5 ms .. 99.5 ms
		l.Record(time.Duration(i)*time.Millisecond - 500*time.Microsecond)
	}
	for q, want := range map[float64]time.Duration{0.5: 50 * time.Millisecond, 0.99: 99 * time.Millisecond, 1: 100 * time.Millisecond} {
		if got := l.Quantile(q); got != want {
			t.Errorf("q%.2f = %v, want %v", q, got, want)
		}
	}
	l.Record(5 * time.Second)
	if l.Quantile(1) != 5*time.Second || l.Count() != 101 {
		t.Errorf("overflow: max %v count %d", l.Quantile(1), l.Count())
	}
	if n := testing.AllocsPerRun(100, func() { l.Record(time.Millisecond) }); n != 0 {
		t.Errorf("Record allocates %v", n)
	}
}
