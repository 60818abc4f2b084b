package encode

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/asticode/go-astiav"

	"github.com/golive/golive/media/h264"
)

// errHung: the encoder did not answer in time (a driver hang, a GPU reset).
var errHung = errors.New("encoder hung")

// hung remembers the encoders that overran a deadline: a driver that hung
// once is never used again by this process.
var hung sync.Map // Backend.Name + " " + Backend.Device → struct{}

func hungKey(b Backend) string { return b.Name + " " + b.Device }

// au is one packet out of a codec: sorted, copied, with its timestamps.
type au struct {
	h264.AccessUnit
	pts, dts int64
}

type request struct {
	op      int
	pts     int64
	key     bool
	bitrate int
	vbv     time.Duration
}

const (
	opEncode = iota
	opFlush
	opRate
	opClose
)

type response struct {
	aus     []au
	applied bool // opRate
	err     error
}

// session is one opened Codec on a worker goroutine of its own. Calls
// come from one goroutine (the encoder's) and wait for the worker with a
// deadline: an encoder that overruns it is abandoned, never called again,
// and freed by its worker if its call ever returns. (A goroutine stuck in
// a driver cannot be stopped: that one may outlive the pipeline.)
type session struct {
	b     Backend
	codec Codec
	req   chan request
	resp  chan response
	gone  chan struct{} // closed when abandoned
	timer *time.Timer
	// stall: how long a frame may wait for its packet (0: forever) while
	// frames go in; pause: a gap between frames longer than this is the
	// source pausing (a camera lost until the slate starts), not the
	// encoder, and does not count.
	stall, pause time.Duration
	// inflight: when each frame not yet out as a packet went in (moved on
	// by the pauses since); lastCall: when the last frame went in.
	inflight []time.Time
	lastCall time.Time
	aus      []au // the worker's packet buffer, reused call after call
	closed   bool
}

// openSession opens b on a new worker, waiting at most timeout (0: forever);
// a frame may then wait at most stall for its packet (0: forever).
func openSession(b Backend, cfg VideoConfig, timeout, stall time.Duration) (*session, error) {
	if _, bad := hung.Load(hungKey(b)); bad {
		return nil, fmt.Errorf("%w before: not used again", errHung)
	}
	s := &session{b: b, req: make(chan request), resp: make(chan response), gone: make(chan struct{}), stall: stall}
	if cfg.FPS > 0 {
		s.pause = 3 * time.Second / time.Duration(cfg.FPS)
	}
	opened := make(chan error, 1)
	go s.work(cfg, opened)
	wait := s.deadline(timeout)
	select {
	case err := <-opened:
		s.stopTimer()
		if err != nil {
			return nil, err
		}
		return s, nil
	case <-wait:
		s.abandon(true)
		return nil, fmt.Errorf("%w: no answer to open within %v", errHung, timeout)
	}
}

func (s *session) work(cfg VideoConfig, opened chan<- error) {
	// The encoder's C calls on one thread, as the file source's (see
	// capture/file's Run): what libavcodec mallocs per frame stays in one
	// arena instead of one per runtime thread it happens to run on.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	c, err := s.b.Open(cfg)
	if err != nil {
		opened <- err
		return
	}
	select {
	case <-s.gone: // the caller gave up waiting
		c.Close()
		return
	default:
	}
	s.codec = c
	opened <- nil
	for {
		var r request
		select {
		case r = <-s.req:
		case <-s.gone:
			c.Close()
			return
		}
		var out response
		switch r.op {
		case opEncode:
			if out.err = c.Send(r.pts, r.key); out.err == nil {
				out.aus, out.err = drain(c, s.aus[:0])
			}
		case opFlush:
			if out.err = c.Flush(); out.err == nil {
				out.aus, out.err = drain(c, s.aus[:0])
			}
		case opRate:
			out.applied = c.SetRate(r.bitrate, r.vbv)
		case opClose:
			c.Close()
			select {
			case s.resp <- out:
			case <-s.gone:
			}
			return
		}
		s.aus = out.aus // the caller is done with them before its next call
		select {
		case s.resp <- out:
		case <-s.gone:
			c.Close()
			return
		}
	}
}

// drain receives every packet the codec has ready.
func drain(c Codec, aus []au) ([]au, error) {
	for {
		data, pts, dts, err := c.Receive()
		if errors.Is(err, astiav.ErrEagain) || errors.Is(err, astiav.ErrEof) {
			return aus, nil
		}
		if err != nil {
			return aus, err
		}
		if dts == astiav.NoPtsValue {
			dts = pts
		}
		aus = append(aus, au{AccessUnit: h264.ParseAccessUnit(data), pts: pts, dts: dts})
	}
}

// deadline is a channel that fires after d (never when d <= 0).
func (s *session) deadline(d time.Duration) <-chan time.Time {
	if d <= 0 {
		return nil
	}
	if s.timer == nil {
		s.timer = time.NewTimer(d)
	} else {
		s.timer.Reset(d)
	}
	return s.timer.C
}

func (s *session) stopTimer() {
	if s.timer != nil {
		s.timer.Stop()
	}
}

// do hands r to the worker and waits at most timeout (0: forever).
func (s *session) do(r request, timeout time.Duration) (response, error) {
	if s.closed {
		return response{}, errors.New("encoder closed")
	}
	s.req <- r // the worker is idle between calls
	select {
	case out := <-s.resp:
		s.stopTimer()
		return out, out.err
	case <-s.deadline(timeout):
		s.abandon(true)
		return response{}, errHung
	}
}

// abandon gives up on the worker: it frees the codec if its call returns.
// A driver that hung while working is never used again (hung); one that
// was only slow to let go is not marked.
func (s *session) abandon(markHung bool) {
	if !s.closed {
		s.closed = true
		close(s.gone)
		if markHung {
			hung.Store(hungKey(s.b), struct{}{})
		}
	}
}

// encode sends the loaded frame and returns the packets it made. A
// watched session fails when a frame has waited longer than stall for
// its packet, or the call itself takes that long.
func (s *session) encode(pts int64, key bool) ([]au, error) {
	now := time.Now()
	if gap := now.Sub(s.lastCall); s.pause > 0 && gap > s.pause && !s.lastCall.IsZero() {
		// The source paused: an encoder that holds frames until more come
		// (h264_v4l2m2m hands a packet out a frame or two later) did not
		// stall meanwhile.
		for i := range s.inflight {
			s.inflight[i] = s.inflight[i].Add(gap)
		}
	}
	s.lastCall = now
	s.inflight = append(s.inflight, now)
	timeout := time.Duration(0)
	if s.stall > 0 {
		if timeout = s.stall - now.Sub(s.inflight[0]); timeout <= 0 {
			s.abandon(true)
			return nil, fmt.Errorf("%w: no packet for %v", errHung, s.stall)
		}
	}
	out, err := s.do(request{op: opEncode, pts: pts, key: key}, timeout)
	if errors.Is(err, errHung) {
		return nil, fmt.Errorf("%w: no packet for %v", errHung, s.stall)
	}
	for _, a := range out.aus {
		if n := len(s.inflight); a.Picture && n > 0 {
			copy(s.inflight, s.inflight[1:]) // a few entries: no allocation per frame
			s.inflight = s.inflight[:n-1]
		}
	}
	return out.aus, err
}

// flush drains the codec at the end of its life (its last frames).
func (s *session) flush(timeout time.Duration) ([]au, error) {
	out, err := s.do(request{op: opFlush}, timeout)
	s.inflight = nil
	return out.aus, err
}

// setRate applies a bitrate on the open codec; false: reopen instead.
func (s *session) setRate(bitrate int, d time.Duration, timeout time.Duration) (bool, error) {
	out, err := s.do(request{op: opRate, bitrate: bitrate, vbv: d}, timeout)
	return out.applied, err
}

// close frees the codec, waiting at most timeout for a busy driver.
func (s *session) close(timeout time.Duration) {
	if s.closed {
		return
	}
	s.req <- request{op: opClose}
	select {
	case <-s.resp:
		s.closed = true
	case <-s.deadline(timeout):
		s.abandon(false)
	}
	s.stopTimer()
}
