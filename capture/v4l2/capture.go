package v4l2

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/golive/golive/media"
)

// Stats counts what happened to the camera's frames since Run started. The
// counters are safe to read from any goroutine.
type Stats struct {
	// Delivered counts the frames handed to Config.Video.
	Delivered media.Counter
	// DriverDropped counts the frames the driver dropped: gaps in the
	// buffers' sequence numbers, when no buffer was free (conversion too
	// slow) or the bus lost data.
	DriverDropped media.Counter
	// Corrupt counts buffers that were flagged as errored, empty, too
	// short, or could not be decoded; they are skipped.
	Corrupt media.Counter
	// Nudged counts the PTS moved forward because they were not after the
	// previous frame's.
	Nudged media.Counter
	// ClockFallbacks counts the PTS taken at dequeue time because the
	// driver's timestamp was missing, not monotonic, or absurd.
	ClockFallbacks media.Counter
}

// capturer is the part of Run that does not touch the device: it turns a
// dequeued buffer into a frame for the pipeline.
type capturer struct {
	conv  *converter
	ts    *TimestampMapper
	pool  *media.FramePool
	video media.VideoWriter
	log   *slog.Logger
	stats *Stats

	started bool
	lastSeq uint32 // the driver's last sequence number
	seq     uint64 // Seq of the last frame: the driver's count, extended to 64 bits

	warnDrop, warnCorrupt media.OncePerSecond
}

// frame handles one buffer: data (its bytesused), the driver's sequence
// number, flags and timestamp, dequeued at pipeline time now. It returns
// an error only when the writer fails.
func (c *capturer) frame(data []byte, seq, flags uint32, ts, now time.Duration) error {
	// Sequence numbers count every frame the driver captured, dropped ones
	// too. Drivers that do not count (always 0), and wraps, count as +1.
	if !c.started {
		c.started = true
	} else {
		d := seq - c.lastSeq
		if d == 0 || d > 1<<30 {
			d = 1
		}
		if d > 1 {
			c.stats.DriverDropped.Add(int64(d - 1))
			c.warnf(&c.warnDrop, now, "driver dropped frames", "dropped", c.stats.DriverDropped.Load())
		}
		c.seq += uint64(d)
	}
	c.lastSeq = seq

	pts := c.ts.Map(ts, flags, now)
	c.stats.Nudged.Add(c.ts.Nudged() - c.stats.Nudged.Load())
	c.stats.ClockFallbacks.Add(c.ts.Fallbacks() - c.stats.ClockFallbacks.Load())

	if flags&bufFlagError != 0 || len(data) == 0 {
		c.stats.Corrupt.Add(1)
		c.warnf(&c.warnCorrupt, now, "corrupt frame skipped", "reason", "driver flagged the buffer", "corrupt", c.stats.Corrupt.Load())
		return nil
	}
	f := c.pool.Get()
	if err := c.conv.convert(data, f); err != nil {
		f.Release()
		c.stats.Corrupt.Add(1)
		c.warnf(&c.warnCorrupt, now, "corrupt frame skipped", "reason", err.Error(), "corrupt", c.stats.Corrupt.Load())
		return nil
	}
	f.PTS, f.Seq = pts, c.seq
	c.stats.Delivered.Add(1)
	if err := c.video.WriteVideo(f); err != nil {
		return fmt.Errorf("v4l2: video frame %d: %w", c.seq, err)
	}
	return nil
}

// warnf logs a warning if r allows it (once a second, pipeline time); the
// counters in args say how many happened in between.
func (c *capturer) warnf(r *media.OncePerSecond, now time.Duration, msg string, args ...any) {
	if r.Allow(now) {
		c.log.Warn(msg, args...)
	}
}
