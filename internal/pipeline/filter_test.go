package pipeline

import (
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/golive/golive/media"
)

// heldBackend stands in for a GL backend: it holds one frame back until
// the next Filter or a Flush, and fails from frame failAt on.
type heldBackend struct {
	out     *frameQueue
	held    *media.VideoFrame
	n       int
	failAt  int
	flushes int
}

func (b *heldBackend) Name() string { return "test" }
func (b *heldBackend) Filter(f *media.VideoFrame, _ time.Time) error {
	b.n++
	if b.failAt > 0 && b.n >= b.failAt {
		f.Release()
		return errors.New("GPU reset")
	}
	if b.held != nil {
		b.out.push(b.held)
	}
	b.held = f
	return nil
}
func (b *heldBackend) Flush() error {
	b.flushes++
	if b.held != nil {
		b.out.push(b.held)
		b.held = nil
	}
	return nil
}
func (b *heldBackend) Close() {}

// TestRunFilter: every frame comes out, in order, with nothing held back
// at the end; a backend that fails is bypassed and the frames keep coming.
func TestRunFilter(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, failAt := range []int{0, 4} {
		in, out := newFrameQueue(16), newFrameQueue(16)
		pool := media.NewFramePool(16, 16)
		for i := range 10 {
			f := pool.Get()
			f.Seq = uint64(i)
			in.push(f)
		}
		done := make(chan struct{})
		close(done)
		b := &heldBackend{out: out, failAt: failAt}
		runFilter(b, in, out, done, media.NewClock(), log)
		var seqs []uint64
		for len(out.ch) > 0 {
			seqs = append(seqs, (<-out.ch).Seq)
		}
		want := 10
		if failAt > 0 {
			want = 9 // the frame the backend failed on is lost; the rest pass unfiltered
		}
		if len(seqs) != want {
			t.Errorf("failAt %d: %d frames out (%v), want %d", failAt, len(seqs), seqs, want)
		}
		for i := 1; i < len(seqs); i++ {
			if seqs[i] <= seqs[i-1] {
				t.Errorf("failAt %d: out of order: %v", failAt, seqs)
			}
		}
		if failAt == 0 && b.flushes == 0 {
			t.Error("never flushed")
		}
	}
}
