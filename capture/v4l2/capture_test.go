package v4l2

import (
	"bytes"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/golive/golive/media"
)

// yuyvGrey is a w×h YUYV frame of one grey level (limited range).
func yuyvGrey(w, h int, y byte) []byte {
	return bytes.Repeat([]byte{y, 128, y, 128}, w*h/2)
}

type capturedFrame struct {
	pts  time.Duration
	seq  uint64
	luma byte
}

func newTestCapturer(t *testing.T, w, h int, write func(*media.VideoFrame) error) (*capturer, *Stats) {
	t.Helper()
	conv, err := newConverter(inputFormat{FourCC: "YUYV", Width: w, Height: h}, w, h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conv.close)
	stats := &Stats{}
	return &capturer{conv: conv, ts: newTimestampMapperAt(origin), pool: media.NewFramePool(w, h),
		video: media.VideoWriterFunc(write), log: slog.New(slog.DiscardHandler), stats: stats}, stats
}

func TestCapturerFrames(t *testing.T) {
	var got []capturedFrame
	c, stats := newTestCapturer(t, 64, 48, func(f *media.VideoFrame) error {
		got = append(got, capturedFrame{f.PTS, f.Seq, f.Planes[0][0]})
		f.Release()
		return nil
	})
	bufs := []struct {
		seq   uint32
		flags uint32
		data  []byte
		ts    time.Duration
	}{
		{7, mono, yuyvGrey(64, 48, 50), origin + 1000*time.Millisecond},                 // the driver's count starts anywhere
		{8, mono, yuyvGrey(64, 48, 60), origin + 1033*time.Millisecond},                 // next
		{11, mono, yuyvGrey(64, 48, 70), origin + 1133*time.Millisecond},                // 2 dropped by the driver
		{12, mono | bufFlagError, yuyvGrey(64, 48, 80), origin + 1166*time.Millisecond}, // errored: skipped
		{13, mono, nil, origin + 1200*time.Millisecond},                                 // empty: skipped
		{14, mono, yuyvGrey(64, 48, 90)[:100], origin + 1233*time.Millisecond},          // short: skipped
		{15, mono, yuyvGrey(64, 48, 100), origin + 1266*time.Millisecond},
	}
	for _, b := range bufs {
		if err := c.frame(b.data, b.seq, b.flags, b.ts, b.ts-origin+2*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	want := []capturedFrame{
		{1000 * time.Millisecond, 0, 50},
		{1033 * time.Millisecond, 1, 60},
		{1133 * time.Millisecond, 4, 70},
		{1266 * time.Millisecond, 8, 100},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d frames %+v, want %+v", len(got), got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("frame %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	if d, dr, co := stats.Delivered.Load(), stats.DriverDropped.Load(), stats.Corrupt.Load(); d != 4 || dr != 2 || co != 3 {
		t.Errorf("delivered %d, driver dropped %d, corrupt %d; want 4, 2, 3", d, dr, co)
	}
}

func TestCapturerNoSequenceNumbers(t *testing.T) {
	// A driver that leaves the sequence at 0, and timestamps at 0: frames
	// are counted by us, stamped at dequeue time.
	var seqs []uint64
	var pts []time.Duration
	c, stats := newTestCapturer(t, 64, 48, func(f *media.VideoFrame) error {
		seqs, pts = append(seqs, f.Seq), append(pts, f.PTS)
		f.Release()
		return nil
	})
	for i := range 3 {
		now := time.Duration(i) * 40 * time.Millisecond
		if err := c.frame(yuyvGrey(64, 48, 16), 0, mono, 0, now); err != nil {
			t.Fatal(err)
		}
	}
	if len(seqs) != 3 || seqs[0] != 0 || seqs[1] != 1 || seqs[2] != 2 {
		t.Errorf("seq %v, want [0 1 2]", seqs)
	}
	if len(pts) != 3 || pts[1] != 40*time.Millisecond || pts[2] != 80*time.Millisecond {
		t.Errorf("pts %v", pts)
	}
	if stats.ClockFallbacks.Load() != 3 || stats.DriverDropped.Load() != 0 {
		t.Errorf("fallbacks %d, dropped %d", stats.ClockFallbacks.Load(), stats.DriverDropped.Load())
	}
}

func TestCapturerWriterError(t *testing.T) {
	boom := errors.New("boom")
	c, _ := newTestCapturer(t, 64, 48, func(f *media.VideoFrame) error {
		f.Release()
		return boom
	})
	if err := c.frame(yuyvGrey(64, 48, 16), 1, mono, origin+time.Second, time.Second); !errors.Is(err, boom) {
		t.Errorf("got %v, want the writer's error", err)
	}
}
