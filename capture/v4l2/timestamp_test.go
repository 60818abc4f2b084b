package v4l2

import (
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/golive/golive/media"
)

// origin is the CLOCK_MONOTONIC reading at pipeline time 0 in the
// sequences below (a machine up for 2 h 17 min).
const origin = 8231*time.Second + 417_302*time.Microsecond

// tsFrame is one buffer: the driver's timestamp, its flags, and the
// pipeline time it was dequeued at.
type tsFrame struct {
	ts       time.Duration
	flags    uint32
	dequeued time.Duration
}

const mono = bufFlagTimestampMonotonic | 0x00000001 // MONOTONIC | MAPPED, as uvcvideo sets them

func us(n int64) time.Duration { return time.Duration(n) * time.Microsecond }

// recorded30fps is modelled on a UVC camera at 30 fps: driver timestamps at the start
// of each frame's transfer, 33.333 ms apart with ±0.5 ms of USB jitter, each
// dequeued 1–4 ms after its timestamp.
var recorded30fps = []tsFrame{
	{origin + us(1_203_114), mono, us(1_205_870)},
	{origin + us(1_236_581), mono, us(1_239_006)},
	{origin + us(1_269_774), mono, us(1_271_912)},
	{origin + us(1_303_402), mono, us(1_306_733)},
	{origin + us(1_336_519), mono, us(1_338_275)},
	{origin + us(1_369_988), mono, us(1_373_640)},
	{origin + us(1_403_107), mono, us(1_405_011)},
	{origin + us(1_436_672), mono, us(1_438_950)},
}

func TestTimestampSteady(t *testing.T) {
	m := newTimestampMapperAt(origin)
	var prev time.Duration
	for i, f := range recorded30fps {
		pts := m.Map(f.ts, f.flags, f.dequeued)
		if want := f.ts - origin; pts != want {
			t.Errorf("frame %d: pts %v, want the driver's timestamp %v", i, pts, want)
		}
		if i > 0 {
			if d := pts - prev; d < 32*time.Millisecond || d > 35*time.Millisecond {
				t.Errorf("frame %d: %v after the previous one", i, d)
			}
		}
		prev = pts
	}
	if m.Nudged() != 0 || m.Fallbacks() != 0 {
		t.Errorf("nudged %d, fallbacks %d; want 0, 0", m.Nudged(), m.Fallbacks())
	}
}

func TestTimestampRepeated(t *testing.T) {
	// A driver that stamps two buffers alike (seen with some UVC bridges
	// when a frame is split across two buffers' worth of packets).
	seq := []tsFrame{
		{origin + us(500_000), mono, us(501_000)},
		{origin + us(533_333), mono, us(534_100)},
		{origin + us(533_333), mono, us(567_500)},
		{origin + us(600_000), mono, us(601_200)},
	}
	m := newTimestampMapperAt(origin)
	got := mapAll(m, seq)
	want := []time.Duration{us(500_000), us(533_333), us(533_334), us(600_000)}
	if !slices.Equal(got, want) {
		t.Errorf("pts %v, want %v", got, want)
	}
	if m.Nudged() != 1 || m.Fallbacks() != 0 {
		t.Errorf("nudged %d, fallbacks %d; want 1, 0", m.Nudged(), m.Fallbacks())
	}
}

func TestTimestampZeroDriver(t *testing.T) {
	// A driver that leaves timestamps at 0 (flags say monotonic): every PTS
	// falls back to the dequeue time.
	seq := []tsFrame{
		{0, mono, us(1_000_000)},
		{0, mono, us(1_033_400)},
		{0, mono, us(1_066_900)},
		{0, mono, us(1_066_900)}, // two dequeued within the same microsecond
	}
	m := newTimestampMapperAt(origin)
	got := mapAll(m, seq)
	want := []time.Duration{us(1_000_000), us(1_033_400), us(1_066_900), us(1_066_901)}
	if !slices.Equal(got, want) {
		t.Errorf("pts %v, want %v", got, want)
	}
	if m.Fallbacks() != 4 || m.Nudged() != 1 {
		t.Errorf("fallbacks %d, nudged %d; want 4, 1", m.Fallbacks(), m.Nudged())
	}
}

func TestTimestampBackwardsJump(t *testing.T) {
	// The driver's clock jumps back 20 ms (a resynchronisation of the
	// camera's clock recovery), then runs on.
	seq := []tsFrame{
		{origin + us(2_000_000), mono, us(2_002_000)},
		{origin + us(2_033_333), mono, us(2_035_100)},
		{origin + us(2_013_000), mono, us(2_068_500)}, // back 20 ms
		{origin + us(2_046_000), mono, us(2_101_900)}, // after frame 1 again: believed
		{origin + us(2_079_333), mono, us(2_135_000)},
	}
	m := newTimestampMapperAt(origin)
	got := mapAll(m, seq)
	want := []time.Duration{us(2_000_000), us(2_033_333), us(2_033_334), us(2_046_000), us(2_079_333)}
	if !slices.Equal(got, want) {
		t.Errorf("pts %v, want %v", got, want)
	}
	if m.Nudged() != 1 {
		t.Errorf("nudged %d, want 1", m.Nudged())
	}
}

func TestTimestampAbsurdAndOtherClocks(t *testing.T) {
	m := newTimestampMapperAt(origin)
	seq := []tsFrame{
		{origin + us(3_000_000), mono, us(3_001_000)},           // fine
		{origin + us(9_000_000), mono, us(3_034_000)},           // 6 s in the future: dequeue time
		{origin + us(3_067_000), mono, us(3_068_000)},           // fine again
		{origin - us(5_000_000), mono, us(3_101_000)},           // 8 s in the past: dequeue time
		{us(1_700_000_000_000_000), 0x4001, us(3_134_000)},      // TIMESTAMP_COPY (wall clock): dequeue time
		{origin + us(3_166_500), 0x0001, us(3_167_000)},         // TIMESTAMP_UNKNOWN: dequeue time
		{origin + us(3_199_800), mono, us(3_200_500)},           // fine
		{origin + us(3_233_100), mono, us(3_233_100 + 999_000)}, // 999 ms late: still believed
	}
	got := mapAll(m, seq)
	want := []time.Duration{us(3_000_000), us(3_034_000), us(3_067_000), us(3_101_000),
		us(3_134_000), us(3_167_000), us(3_199_800), us(3_233_100)}
	if !slices.Equal(got, want) {
		t.Errorf("pts %v, want %v", got, want)
	}
	if m.Fallbacks() != 4 || m.Nudged() != 0 {
		t.Errorf("fallbacks %d, nudged %d; want 4, 0", m.Fallbacks(), m.Nudged())
	}
}

func TestTimestampBeforeClockStart(t *testing.T) {
	// A buffer captured just before the pipeline clock started: PTS 0, not
	// negative, and the next one after it.
	m := newTimestampMapperAt(origin)
	got := mapAll(m, []tsFrame{{origin - us(400), mono, us(2_000)}, {origin + us(33_000), mono, us(35_000)}})
	if want := []time.Duration{0, us(33_000)}; !slices.Equal(got, want) {
		t.Errorf("pts %v, want %v", got, want)
	}
}

// The origin measured against the real clocks: a CLOCK_MONOTONIC reading
// taken now maps to the pipeline clock's now.
func TestTimestampMapperOrigin(t *testing.T) {
	clock := media.NewClock()
	m := NewTimestampMapper(clock)
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		t.Fatal(err)
	}
	now := clock.Now()
	pts := m.Map(time.Duration(ts.Nano()), mono, now)
	if m.Fallbacks() != 0 {
		t.Fatalf("fell back to the dequeue time: origin %v", m.origin)
	}
	if d := now - pts; d < 0 || d > 5*time.Millisecond {
		t.Errorf("a timestamp taken now maps to %v, the clock reads %v", pts, now)
	}
	if tv := (unix.Timeval{Sec: 12, Usec: 345_678}); timevalDuration(tv) != 12_345_678*time.Microsecond {
		t.Errorf("timevalDuration(%v) = %v", tv, timevalDuration(tv))
	}
}

func mapAll(m *TimestampMapper, seq []tsFrame) []time.Duration {
	out := make([]time.Duration, len(seq))
	for i, f := range seq {
		out[i] = m.Map(f.ts, f.flags, f.dequeued)
	}
	return out
}
