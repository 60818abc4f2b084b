package publish

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"
)

// fakeConn is a connection whose session fails or ends as the test says.
type fakeConn struct {
	n      int
	closed bool
	clean  bool
}

// TestSessions: a lost session is replaced (OnLive false then true, the
// queue restarted, the count up) and the next ends the stream cleanly; a
// refusal is not retried; with reconnecting off a loss is the error; the
// first dial fails fast unless Wait, and then retries.
func TestSessions(t *testing.T) {
	lost := errors.New("connection lost")
	type script struct {
		dials    []error // each dial's result, in turn (past the end: nil)
		sessions []error // each session's result, in turn
		rc       Reconnect
	}
	for _, tc := range []struct {
		name            string
		s               script
		openErr, runErr error
		dials, count    int
		live            []bool
		lastClosedClean bool
	}{
		{"one session", script{sessions: []error{nil}}, nil, nil, 1, 1, nil, true},
		{"lost then back", script{sessions: []error{lost, nil}}, nil, nil, 2, 2, []bool{false, true}, true},
		{"lost, a failed attempt, back", script{dials: []error{nil, ErrConnect}, sessions: []error{lost, nil}}, nil, nil, 3, 2, []bool{false, true}, true},
		{"refused on reconnect", script{dials: []error{nil, ErrUnauthorized}, sessions: []error{lost}}, nil, ErrUnauthorized, 2, 1, []bool{false}, false},
		{"no reconnect", script{sessions: []error{lost}, rc: Reconnect{Max: -1}}, nil, lost, 1, 1, nil, false},
		{"first dial fails fast", script{dials: []error{ErrConnect}}, ErrConnect, nil, 1, 0, nil, false},
		{"first dial waits", script{dials: []error{ErrConnect, nil}, sessions: []error{nil}, rc: Reconnect{Wait: true}}, nil, nil, 2, 1, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var (
				mu    sync.Mutex
				dials int
				runs  int
				live  []bool
				conns []*fakeConn
			)
			q := NewQueue(0, nil, slog.New(slog.DiscardHandler))
			s := &Sessions[fakeConn]{
				Reconnect: tc.s.rc, Queue: q, Log: slog.New(slog.DiscardHandler),
				OnLive: func(l bool) { mu.Lock(); live = append(live, l); mu.Unlock() },
				Dial: func(ctx context.Context, timeout time.Duration) (*fakeConn, error) {
					dials++
					if i := dials - 1; i < len(tc.s.dials) && tc.s.dials[i] != nil {
						return nil, tc.s.dials[i]
					}
					c := &fakeConn{n: dials}
					conns = append(conns, c)
					return c, nil
				},
				Session: func(ctx context.Context, c *fakeConn) error {
					runs++
					if i := runs - 1; i < len(tc.s.sessions) {
						return tc.s.sessions[i]
					}
					return nil
				},
				Close: func(c *fakeConn, clean bool) { c.closed, c.clean = true, clean },
			}
			err := s.Open(context.Background())
			if !errors.Is(err, tc.openErr) || (err == nil) != (tc.openErr == nil) {
				t.Fatalf("Open: %v, want %v", err, tc.openErr)
			}
			if err == nil {
				err = s.Run(context.Background())
				if !errors.Is(err, tc.runErr) || (err == nil) != (tc.runErr == nil) {
					t.Fatalf("Run: %v, want %v", err, tc.runErr)
				}
			}
			if dials != tc.dials || s.Count() != tc.count || !slices.Equal(live, tc.live) {
				t.Errorf("%d dials, %d sessions, live %v; want %d, %d, %v", dials, s.Count(), live, tc.dials, tc.count, tc.live)
			}
			for i, c := range conns {
				if !c.closed {
					t.Errorf("connection %d left open", i)
				}
			}
			if len(conns) > 0 && tc.openErr == nil && conns[len(conns)-1].clean != tc.lastClosedClean {
				t.Errorf("the last connection closed clean=%v, want %v", conns[len(conns)-1].clean, tc.lastClosedClean)
			}
		})
	}
}

func TestAttemptTimeout(t *testing.T) {
	for _, tc := range []struct{ configured, attempt, want time.Duration }{
		{10 * time.Second, 0, 10 * time.Second}, // the first dial: the configured one
		{10 * time.Second, 2 * time.Second, 2 * time.Second},
		{time.Second, 2 * time.Second, time.Second},
		{0, 2 * time.Second, 2 * time.Second},
		{0, 0, 0},
	} {
		if got := AttemptTimeout(tc.configured, tc.attempt); got != tc.want {
			t.Errorf("AttemptTimeout(%v, %v) = %v, want %v", tc.configured, tc.attempt, got, tc.want)
		}
	}
}
