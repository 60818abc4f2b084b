package v4l2

import (
	"time"

	"golang.org/x/sys/unix"

	"github.com/golive/golive/media"
)

// Buffer flags (struct v4l2_buffer.flags), from include/uapi/linux/videodev2.h.
const (
	bufFlagError              = 0x00000040 // V4L2_BUF_FLAG_ERROR
	bufFlagTimestampMask      = 0x0000e000 // V4L2_BUF_FLAG_TIMESTAMP_MASK
	bufFlagTimestampMonotonic = 0x00002000 // V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC
)

// maxTimestampSkew is how far a driver timestamp may lie from the time its
// buffer was dequeued before it is taken for garbage.
const maxTimestampSkew = time.Second

// TimestampMapper maps the drivers' buffer timestamps onto the pipeline
// clock, and guarantees strictly increasing PTS.
//
// Nearly all drivers (uvcvideo among them) stamp buffers on
// CLOCK_MONOTONIC, at the start or the end of the frame's exposure or
// transfer, which is closer to the capture time than the moment the
// buffer is dequeued. The pipeline clock (media.Clock) is time since its
// start on Go's monotonic clock, which on Linux is CLOCK_MONOTONIC too, so
// a constant offset maps one onto the other: the CLOCK_MONOTONIC reading
// at pipeline time 0, measured once.
//
// The dequeue time is used instead when the buffer does not carry
// V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC (unknown clock, or a timestamp copied
// from elsewhere), or when its timestamp is absurd: zero, or more than
// 1 s away from the dequeue time. A PTS at or before the previous one is
// nudged to the previous one + 1 µs.
//
// A TimestampMapper is not safe for concurrent use.
type TimestampMapper struct {
	origin    time.Duration // CLOCK_MONOTONIC at pipeline time 0
	last      time.Duration
	started   bool
	nudged    int64
	fallbacks int64
}

// NewTimestampMapper returns a mapper onto clock.
func NewTimestampMapper(clock *media.Clock) *TimestampMapper {
	return newTimestampMapperAt(monotonicOrigin(clock))
}

// newTimestampMapperAt returns a mapper for a pipeline clock that read 0
// when CLOCK_MONOTONIC read origin.
func newTimestampMapperAt(origin time.Duration) *TimestampMapper {
	return &TimestampMapper{origin: origin}
}

// monotonicOrigin measures the CLOCK_MONOTONIC reading at pipeline time 0:
// the tightest of a few clock.Now / clock_gettime / clock.Now brackets.
func monotonicOrigin(clock *media.Clock) time.Duration {
	var origin time.Duration
	best := time.Duration(1<<63 - 1)
	for range 5 {
		var ts unix.Timespec
		a := clock.Now()
		if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
			panic("v4l2: clock_gettime(CLOCK_MONOTONIC): " + err.Error()) // cannot fail on Linux
		}
		b := clock.Now()
		if b-a < best {
			best = b - a
			origin = time.Duration(ts.Nano()) - (a+b)/2
		}
	}
	return origin
}

// Map returns the PTS of a buffer whose driver timestamp is ts (struct
// timeval as a duration since the driver clock's epoch) with buffer flags
// flags, dequeued at pipeline time dequeued.
func (m *TimestampMapper) Map(ts time.Duration, flags uint32, dequeued time.Duration) time.Duration {
	pts := ts - m.origin
	if flags&bufFlagTimestampMask != bufFlagTimestampMonotonic || ts <= 0 ||
		pts > dequeued+maxTimestampSkew || pts < dequeued-maxTimestampSkew {
		pts = dequeued
		m.fallbacks++
	}
	pts = max(pts, 0)
	if m.started && pts <= m.last {
		pts = m.last + time.Microsecond
		m.nudged++
	}
	m.last, m.started = pts, true
	return pts
}

// Nudged counts the PTS that were moved forward because they were not
// after the previous one.
func (m *TimestampMapper) Nudged() int64 { return m.nudged }

// Fallbacks counts the PTS taken from the dequeue time instead of the
// driver's timestamp.
func (m *TimestampMapper) Fallbacks() int64 { return m.fallbacks }

// timevalDuration converts a struct timeval to a duration since its epoch.
func timevalDuration(tv unix.Timeval) time.Duration {
	return time.Duration(tv.Sec)*time.Second + time.Duration(tv.Usec)*time.Microsecond
}
