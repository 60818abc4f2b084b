package publish

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"
)

// ErrBusy: the server says the stream is already being published (RTMP's
// NetStream.Publish.BadName). It also matches ErrUnauthorized: on a first
// connection it is a wrong key or someone else's stream; after an outage
// it is usually our own dead session, which the server has not dropped yet.
var ErrBusy = errors.New("stream already being published")

// Reconnect is what a sender does when a destination that was live drops.
type Reconnect struct {
	// Max is the number of attempts per outage before giving up (0:
	// forever — a kiosk must never give up; < 0: no reconnect).
	Max int
	// RetryRefused retries a refused publish (ErrUnauthorized) too; without
	// it a refusal ends the stream with the authorisation error.
	RetryRefused bool
	// Wait makes the first connection retry like a reconnect
	// (--wait-for-server) instead of failing fast.
	Wait bool
	// MinAttempt: no attempt gets less time than this (a WebRTC session
	// that gathers through STUN needs more than the backoff's 2 s).
	MinAttempt time.Duration
}

// ErrGaveUp wraps the last error after Max attempts.
var ErrGaveUp = errors.New("gave up reconnecting")

// The backoff: the first attempt within a second, then attempts at most
// fastGap apart (start to start, each with at most that as its timeout)
// for the first fastPhase of an outage, then ×1.5 up to maxGap, jittered.
const (
	firstWait = 250 * time.Millisecond
	fastGap   = 2 * time.Second
	fastPhase = 30 * time.Second
	maxGap    = 30 * time.Second
)

// Backoff spaces the attempts of one outage. Not safe for concurrent use.
type Backoff struct {
	start time.Time
	gap   time.Duration
	n     int
	rnd   func() float64 // [0, 1)
}

// NewBackoff starts an outage at now.
func NewBackoff(now time.Time) *Backoff {
	return &Backoff{start: now, rnd: rand.Float64}
}

// Next returns when the next attempt starts, counted from the start of
// the previous one, and the longest that attempt may take.
func (b *Backoff) Next(now time.Time) (gap, timeout time.Duration) {
	b.n++
	switch {
	case b.n == 1:
		// Jittered, so that a fleet of kiosks behind one server that
		// restarted does not come back in lockstep.
		b.gap = firstWait + time.Duration(b.rnd()*float64(firstWait))
		return b.gap, fastGap
	case now.Sub(b.start) < fastPhase:
		b.gap = fastGap - time.Duration(b.rnd()*float64(fastGap/4))
		return b.gap, b.gap
	}
	b.gap = min(b.gap*3/2, maxGap)
	gap = b.gap - time.Duration(b.rnd()*float64(b.gap/5))
	return gap, min(gap, 10*time.Second)
}

// Retryable says whether err, from an attempt to (re)connect, is worth
// another attempt under r: a bad URL never is; a refusal only with
// RetryRefused, or when the server only says the stream is busy.
func (r Reconnect) Retryable(err error) bool {
	switch {
	case errors.Is(err, ErrBadURL):
		return false
	case errors.Is(err, ErrBusy):
		return true
	case errors.Is(err, ErrUnauthorized):
		return r.RetryRefused
	}
	return true
}

// ErrStopped is returned by Retry when stop said the stream is over (it
// logs that what was queued is lost).
var ErrStopped = errors.New("stream stopped while reconnecting")

// Retry calls try until it succeeds, an error is not retryable, Max
// attempts failed (ErrGaveUp), stop returns true (ErrStopped, checked
// every 100 ms) or ctx ends. try gets the timeout for its attempt.
func (r Reconnect) Retry(ctx context.Context, log *slog.Logger, stop func() bool, try func(ctx context.Context, timeout time.Duration) error) (attempts int, err error) {
	b := NewBackoff(time.Now())
	gap, timeout := b.Next(time.Now())
	next := time.Now().Add(gap)
	if !r.waitUntil(ctx, next, stop) {
		return 0, r.stopErr(ctx, log)
	}
	for attempt := 1; ; attempt++ {
		start := time.Now()
		timeout = max(timeout, r.MinAttempt)
		actx, cancel := context.WithTimeout(ctx, timeout)
		err := try(actx, timeout)
		cancel()
		if err == nil {
			return attempt, nil
		}
		if ctx.Err() != nil {
			return attempt, ctx.Err()
		}
		if !r.Retryable(err) {
			return attempt, err
		}
		if r.Max > 0 && attempt >= r.Max {
			return attempt, fmt.Errorf("%w after %d attempts: %w", ErrGaveUp, attempt, err)
		}
		gap, timeout = b.Next(time.Now())
		next = start.Add(gap)
		// Every attempt is logged for the first few, then one in ten.
		if attempt <= 5 || attempt%10 == 0 {
			log.Warn("reconnect attempt failed", "attempt", attempt, "next_in", max(time.Until(next), 0).Round(10*time.Millisecond), "error", err)
		}
		if !r.waitUntil(ctx, next, stop) {
			return attempt, r.stopErr(ctx, log)
		}
	}
}

func (r Reconnect) stopErr(ctx context.Context, log *slog.Logger) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	log.Warn("stopped while reconnecting: what was queued is lost")
	return ErrStopped
}

// waitUntil sleeps until t; false if ctx ended or stop said so first.
func (r Reconnect) waitUntil(ctx context.Context, t time.Time, stop func() bool) bool {
	for {
		if ctx.Err() != nil || (stop != nil && stop()) {
			return false
		}
		d := time.Until(t)
		if d <= 0 {
			return true
		}
		select {
		case <-time.After(min(d, 100*time.Millisecond)):
		case <-ctx.Done():
			return false
		}
	}
}
