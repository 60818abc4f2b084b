package publish

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"
)

// TestBackoffSchedule: the first attempt within 1 s; attempts at most 2 s
// apart for the first 30 s of an outage; then ×1.5 up to 30 s, jittered.
func TestBackoffSchedule(t *testing.T) {
	for _, jitter := range []float64{0, 0.5, 0.999} {
		start := time.Unix(1000, 0)
		b := NewBackoff(start)
		b.rnd = func() float64 { return jitter }
		now := start
		var gaps []time.Duration
		for i := 0; i < 40; i++ {
			gap, timeout := b.Next(now)
			if timeout > gap && now.Sub(start) < fastPhase && i > 0 {
				t.Errorf("jitter %v: attempt %d at %v: timeout %v longer than the gap %v", jitter, i+1, now.Sub(start), timeout, gap)
			}
			gaps = append(gaps, gap)
			now = now.Add(gap)
		}
		if gaps[0] >= time.Second {
			t.Errorf("jitter %v: first attempt after %v, want < 1 s", jitter, gaps[0])
		}
		at := start.Add(gaps[0])
		prev := time.Duration(0)
		for i, g := range gaps[1:] {
			fast := at.Sub(start) < fastPhase
			switch {
			case fast && g > fastGap:
				t.Errorf("jitter %v: gap %d at %v is %v, want <= 2 s in the first 30 s", jitter, i+2, at.Sub(start), g)
			case !fast && g > maxGap:
				t.Errorf("jitter %v: gap %v over 30 s", jitter, g)
			case !fast && prev > 0 && g < prev*11/10 && prev < maxGap*8/10 && jitter == 0:
				t.Errorf("jitter %v: gap %v after %v: not growing", jitter, g, prev)
			}
			if !fast {
				prev = g
			}
			at = at.Add(g)
		}
		if last := gaps[len(gaps)-1]; last < 20*time.Second {
			t.Errorf("jitter %v: after %v the gap is %v, want it grown towards 30 s", jitter, at.Sub(start), last)
		}
	}
}

func TestRetryable(t *testing.T) {
	busy := fmt.Errorf("%w: %w: x", ErrUnauthorized, ErrBusy)
	for _, tt := range []struct {
		err            error
		plain, refused bool
	}{
		{fmt.Errorf("%w: refused", ErrConnect), true, true},
		{fmt.Errorf("%w: denied", ErrUnauthorized), false, true},
		{busy, true, true},
		{fmt.Errorf("%w: x", ErrBadURL), false, false},
	} {
		if got := (Reconnect{}).Retryable(tt.err); got != tt.plain {
			t.Errorf("Retryable(%v) = %v, want %v", tt.err, got, tt.plain)
		}
		if got := (Reconnect{RetryRefused: true}).Retryable(tt.err); got != tt.refused {
			t.Errorf("RetryRefused: Retryable(%v) = %v, want %v", tt.err, got, tt.refused)
		}
	}
}

func TestRetry(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	refused := fmt.Errorf("%w: connection refused", ErrConnect)
	t.Run("until it works", func(t *testing.T) {
		n := 0
		start := time.Now()
		attempts, err := Reconnect{}.Retry(context.Background(), log, nil, func(ctx context.Context, timeout time.Duration) error {
			if _, ok := ctx.Deadline(); !ok || timeout > fastGap {
				t.Errorf("attempt %d: timeout %v, deadline set %v", n+1, timeout, ok)
			}
			if n++; n < 2 {
				return refused
			}
			return nil
		})
		if err != nil || attempts != 2 {
			t.Fatalf("Retry = %d, %v; want 2, nil", attempts, err)
		}
		if d := time.Since(start); d > 2500*time.Millisecond {
			t.Errorf("2 attempts took %v", d)
		}
	})
	t.Run("max", func(t *testing.T) {
		_, err := Reconnect{Max: 1}.Retry(context.Background(), log, nil, func(context.Context, time.Duration) error { return refused })
		if !errors.Is(err, ErrGaveUp) || !errors.Is(err, ErrConnect) {
			t.Errorf("err = %v, want ErrGaveUp wrapping the last error", err)
		}
	})
	t.Run("refused", func(t *testing.T) {
		n := 0
		_, err := Reconnect{}.Retry(context.Background(), log, nil, func(context.Context, time.Duration) error {
			n++
			return fmt.Errorf("%w: denied", ErrUnauthorized)
		})
		if !errors.Is(err, ErrUnauthorized) || n != 1 {
			t.Errorf("err = %v after %d attempts, want the refusal after 1", err, n)
		}
	})
	t.Run("stopped", func(t *testing.T) {
		stop := time.Now().Add(300 * time.Millisecond)
		_, err := Reconnect{}.Retry(context.Background(), log, func() bool { return time.Now().After(stop) }, func(context.Context, time.Duration) error { return refused })
		if !errors.Is(err, ErrStopped) {
			t.Errorf("err = %v, want ErrStopped", err)
		}
		if late := time.Since(stop); late > 300*time.Millisecond {
			t.Errorf("noticed the stop %v late", late)
		}
	})
}
