package publish

import (
	"sync"
	"time"
)

// Latency is a histogram of durations with 1 ms buckets up to 2 s (and one
// overflow bucket). Record allocates nothing; safe for concurrent use.
type Latency struct {
	mu      sync.Mutex
	buckets [2001]uint32
	n       uint64
	max     time.Duration
}

// Record adds one sample.
func (l *Latency) Record(d time.Duration) {
	i := int(d / time.Millisecond)
	if i < 0 {
		i = 0
	}
	if i >= len(l.buckets) {
		i = len(l.buckets) - 1
	}
	l.mu.Lock()
	l.buckets[i]++
	l.n++
	if d > l.max {
		l.max = d
	}
	l.mu.Unlock()
}

// Quantile returns the q-quantile (0..1), to the upper edge of its 1 ms
// bucket; 0 when there are no samples.
func (l *Latency) Quantile(q float64) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n == 0 {
		return 0
	}
	rank := uint64(q*float64(l.n-1)) + 1
	var seen uint64
	for i, c := range l.buckets {
		seen += uint64(c)
		if seen >= rank {
			if i == len(l.buckets)-1 {
				return l.max
			}
			return time.Duration(i+1) * time.Millisecond
		}
	}
	return l.max
}

// Count is the number of samples; Max the largest.
func (l *Latency) Count() uint64 { l.mu.Lock(); defer l.mu.Unlock(); return l.n }

// Max is the largest sample.
func (l *Latency) Max() time.Duration { l.mu.Lock(); defer l.mu.Unlock(); return l.max }
