package publish

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"
)

// Sessions runs a connection-oriented sender's life: its first
// connection, the sessions on it, and the reconnections between them under
// Reconnect. T is the protocol's connection; the protocol gives what
// differs: how to dial, how to publish on a connection, how to drop one.
// The zero value is not ready: set the fields, then call Open once.
type Sessions[T any] struct {
	Reconnect Reconnect
	Queue     *Queue // Finished stops the retries; Restart starts a new session on a keyframe
	Log       *slog.Logger
	// OnLive (may be nil) is told when the connection is lost (false) and
	// back (true).
	OnLive func(live bool)
	// Dial connects, within timeout when it is not zero (a reconnection's
	// attempt), else within the protocol's own.
	Dial func(ctx context.Context, timeout time.Duration) (*T, error)
	// Session publishes on c until the queue is finished and drained
	// (nil), ctx is done or the connection fails.
	Session func(ctx context.Context, c *T) error
	// Close drops c; clean: the stream ended normally (say goodbye).
	Close func(c *T, clean bool)

	conn  atomic.Pointer[T]
	count atomic.Int64
}

// Open makes the first connection. It fails fast, unless Reconnect.Wait,
// when it retries as after an outage (a kiosk that boots before its
// network).
func (s *Sessions[T]) Open(ctx context.Context) error {
	c, err := s.Dial(ctx, 0)
	if err != nil && s.Reconnect.Wait && s.Reconnect.Retryable(err) && ctx.Err() == nil {
		s.Log.Warn("cannot publish yet: waiting for the server (--wait-for-server)", "error", err)
		_, err = s.Reconnect.Retry(ctx, s.Log, nil, func(ctx context.Context, timeout time.Duration) (err error) {
			c, err = s.Dial(ctx, timeout)
			return err
		})
	}
	if err != nil {
		return err
	}
	s.conn.Store(c)
	s.count.Store(1)
	return nil
}

// Conn is the connection in use (the last one made).
func (s *Sessions[T]) Conn() *T { return s.conn.Load() }

// Count is the number of sessions opened: 1 + the reconnections.
func (s *Sessions[T]) Count() int { return int(s.count.Load()) }

// Run publishes session after session until the stream is finished (nil),
// ctx is done (its error), or a lost connection cannot be replaced:
// reconnecting is off, gives up, or the server refuses the new session.
// Capture and encoding go on meanwhile; the queue keeps the newest seconds.
func (s *Sessions[T]) Run(ctx context.Context) (err error) {
	defer func() { s.Close(s.conn.Load(), err == nil) }()
	for {
		err := s.Session(ctx, s.conn.Load())
		if err == nil || ctx.Err() != nil || s.Reconnect.Max < 0 || !s.Reconnect.Retryable(err) {
			return err
		}
		if err := s.reconnect(ctx, err); err != nil {
			if errors.Is(err, ErrStopped) {
				return nil
			}
			return err
		}
	}
}

// reconnect replaces the lost connection, with backoff, and restarts the
// queue on a keyframe: viewers and recordings start again on one.
// Timestamps go on from the pipeline clock.
func (s *Sessions[T]) reconnect(ctx context.Context, lost error) error {
	s.Close(s.conn.Load(), false)
	s.Log.Warn("connection lost: reconnecting", "error", lost)
	if s.OnLive != nil {
		s.OnLive(false)
	}
	start := time.Now()
	attempts, err := s.Reconnect.Retry(ctx, s.Log, s.Queue.Finished, func(ctx context.Context, timeout time.Duration) error {
		c, err := s.Dial(ctx, timeout)
		if err == nil {
			s.conn.Store(c)
		}
		return err
	})
	if err != nil {
		return err
	}
	s.count.Add(1)
	s.Queue.Restart()
	s.Log.Info("reconnected: publishing again", "after", time.Since(start).Round(time.Millisecond), "attempts", attempts)
	if s.OnLive != nil {
		s.OnLive(true)
	}
	return nil
}

// AttemptTimeout is a dial's timeout: the configured one, cut to an
// attempt's (a reconnection's backoff gives each attempt at most that;
// 0: no cut).
func AttemptTimeout(configured, attempt time.Duration) time.Duration {
	if attempt > 0 && (configured <= 0 || configured > attempt) {
		return attempt
	}
	return configured
}
