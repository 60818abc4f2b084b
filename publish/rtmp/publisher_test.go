package rtmp

import (
	"testing"
	"time"

	"github.com/golive/golive/media"
)

func TestTimestamps(t *testing.T) {
	p := &Publisher{cfg: Config{TimeOffset: 1024 * time.Second / 48000}}
	for _, tc := range []struct {
		d    time.Duration
		want uint32
	}{
		{-1024 * time.Second / 48000, 0}, // AAC priming: the first audio packet lands on 0
		{0, 21},                          // 21.33 ms rounds to 21
		{time.Second / 30, 55},           // 33.33+21.33 = 54.67 → 55
		{2 * time.Second, 2021},
		{-time.Second, 0}, // never negative
		{5 * time.Hour, 18000021},
		// 2³² ms is 49.7 days: RTMP timestamps wrap, as the spec says they do.
		{50 * 24 * time.Hour, uint32((50*86_400_000 + 21) % (1 << 32))},
	} {
		if got := p.flvTime(tc.d); got != tc.want {
			t.Errorf("flvTime(%v) = %d, want %d", tc.d, got, tc.want)
		}
	}
	for _, tc := range []struct {
		pts, dts time.Duration
		want     int32
	}{
		{0, 0, 0},
		{100 * time.Millisecond, 33333333 * time.Nanosecond, 67},
		{time.Second / 30, 0, 33},
	} {
		if got := compositionTime(&media.Packet{PTS: tc.pts, DTS: tc.dts}); got != tc.want {
			t.Errorf("compositionTime(%v, %v) = %d, want %d", tc.pts, tc.dts, got, tc.want)
		}
	}
}
