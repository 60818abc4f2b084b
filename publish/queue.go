package publish

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golive/golive/media"
)

// Stats are a sender's counters, the same for every protocol: for the
// status line, the adaptive bitrate controller and the benchmarks.
type Stats struct {
	Bytes, Packets             int64 // bytes and packets handed to the network (headers included)
	VideoDropped, AudioDropped int64
	QueueDelay                 time.Duration // media time waiting in the queue
	QueuePackets               int
	// Unsent: bytes the kernel holds that the server has not acknowledged
	// (TCP senders; 0 when unknown).
	Unsent int
	// Capture → last byte handed to the network, for video packets.
	LatencyP50, LatencyP99, LatencyMax time.Duration
	// What the path reports, where the protocol has it (WebRTC: the GCC
	// estimate and RTCP receiver reports; 0 when unknown).
	EstimateBitrate int           // bit/s the congestion controller thinks the path carries
	Loss            float64       // fraction of packets lost, 0..1, last report
	RTT             time.Duration // round-trip time, last report
	Sessions        int           // sessions opened (1 + reconnections)
}

// Queue holds encoded packets between the encoders and one sender
// goroutine. Push never blocks: the queue is bounded in media time, and
// past its budget video is dropped up to the next keyframe (which is
// requested), audio last. A stream never (re)starts on a non-keyframe.
type Queue struct {
	budget    time.Duration
	keyframes media.KeyframeRequester
	log       *slog.Logger

	mu       sync.Mutex
	queue    []*media.Packet
	waitKey  bool // drop video until a keyframe
	finished bool
	drainBy  time.Time // after Finish: when to give up on what is left
	wake     chan struct{}

	videoDropped, audioDropped atomic.Int64
	queueDelay                 atomic.Int64
	queueLen                   atomic.Int64
	lastDropLog                time.Time
}

// NewQueue makes a queue holding at most budget of media time (3 s when
// zero); keyframes (may be nil) is asked for one after video was dropped.
func NewQueue(budget time.Duration, keyframes media.KeyframeRequester, log *slog.Logger) *Queue {
	if budget <= 0 {
		budget = 3 * time.Second
	}
	if log == nil {
		log = slog.Default()
	}
	return &Queue{budget: budget, keyframes: keyframes, log: log, waitKey: true, wake: make(chan struct{}, 1)}
}

// Push queues p. It never blocks.
func (q *Queue) Push(pkt *media.Packet) {
	q.mu.Lock()
	if q.finished {
		q.mu.Unlock()
		return
	}
	if pkt.Kind == media.KindVideo {
		if q.waitKey && !pkt.Keyframe {
			q.mu.Unlock()
			q.videoDropped.Add(1)
			return
		}
		if pkt.Keyframe {
			q.waitKey = false
		}
	}
	q.queue = append(q.queue, pkt)
	q.trimLocked()
	q.queueLen.Store(int64(len(q.queue)))
	q.mu.Unlock()
	q.signal()
}

func (q *Queue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// Wake is signalled after a Push or Finish.
func (q *Queue) Wake() <-chan struct{} { return q.wake }

// Pop takes the oldest packet (nil when empty), and says whether Finish
// was called.
func (q *Queue) Pop() (pkt *media.Packet, finished bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.queue) > 0 {
		pkt = q.queue[0]
		q.queue[0] = nil
		q.queue = q.queue[1:]
		q.queueDelay.Store(int64(q.depthLocked()))
		q.queueLen.Store(int64(len(q.queue)))
	}
	return pkt, q.finished
}

// Next is a sender's loop step: the oldest packet (nil when none waits),
// or stop once the stream is over — Finish was called and the queue is
// empty, or drain has passed since the first packet sent after Finish and
// what is left is dropped (with a warning).
func (q *Queue) Next(drain time.Duration) (pkt *media.Packet, stop bool) {
	pkt, finished := q.Pop()
	if !finished {
		return pkt, false
	}
	if pkt == nil {
		return nil, true
	}
	q.mu.Lock()
	if q.drainBy.IsZero() {
		q.drainBy = time.Now().Add(drain)
	}
	late := time.Now().After(q.drainBy)
	q.mu.Unlock()
	if late {
		q.log.Warn("stopping with packets still queued", "left", q.Len()+1)
		return nil, true
	}
	return pkt, false
}

// Finish says no more packets will come; later Pushes are ignored.
func (q *Queue) Finish() {
	q.mu.Lock()
	q.finished = true
	q.mu.Unlock()
	q.signal()
}

// Finished says whether Finish was called.
func (q *Queue) Finished() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.finished
}

// Restart drops the queued video and makes video wait for a new keyframe,
// which is requested: for a new session, whose viewers must start on one.
func (q *Queue) Restart() {
	q.mu.Lock()
	q.dropVideoLocked(nil)
	if q.keyframes != nil {
		q.keyframes.RequestKeyframe() // also when nothing was queued
	}
	q.queueDelay.Store(int64(q.depthLocked()))
	q.queueLen.Store(int64(len(q.queue)))
	q.mu.Unlock()
}

// Len is the number of queued packets.
func (q *Queue) Len() int { return int(q.queueLen.Load()) }

// FillStats sets s's queue fields.
func (q *Queue) FillStats(s *Stats) {
	s.VideoDropped, s.AudioDropped = q.videoDropped.Load(), q.audioDropped.Load()
	s.QueueDelay, s.QueuePackets = time.Duration(q.queueDelay.Load()), int(q.queueLen.Load())
}

// depthLocked is the media time between the oldest and newest queued packet.
func (q *Queue) depthLocked() time.Duration {
	if len(q.queue) < 2 {
		return 0
	}
	return q.queue[len(q.queue)-1].DTS - q.queue[0].DTS
}

// trimLocked brings the queue back within its budget. Video before the
// newest queued keyframe goes first (a viewer could not use it without
// what was already dropped, and servers restart viewers at a keyframe
// anyway); then the oldest audio; and only if the newest group of pictures
// alone is longer than the budget, all video, until a keyframe that is
// asked for at once.
func (q *Queue) trimLocked() {
	d := q.depthLocked()
	if d <= q.budget {
		q.queueDelay.Store(int64(d))
		return
	}
	key := -1
	for i := len(q.queue) - 1; i >= 0; i-- {
		if p := q.queue[i]; p.Kind == media.KindVideo && p.Keyframe {
			key = i
			break
		}
	}
	if key < 0 {
		q.dropVideoLocked(nil)
	} else {
		q.dropVideoLocked(q.queue[key])
	}
	var adrop int64
	for q.depthLocked() > q.budget && q.queue[0].Kind == media.KindAudio {
		q.queue[0] = nil
		q.queue = q.queue[1:]
		adrop++
	}
	if q.depthLocked() > q.budget {
		q.dropVideoLocked(nil)
		for q.depthLocked() > q.budget {
			q.queue[0] = nil
			q.queue = q.queue[1:]
			adrop++
		}
	}
	q.audioDropped.Add(adrop)
	if now := time.Now(); now.Sub(q.lastDropLog) >= time.Second {
		q.lastDropLog = now
		q.log.Warn("send queue full (network too slow, or reconnecting): dropping", "queue", d.Round(time.Millisecond), "video_total", q.videoDropped.Load(), "audio_total", q.audioDropped.Load())
	}
	q.queueDelay.Store(int64(q.depthLocked()))
}

// dropVideoLocked drops queued video before keep (all of it when keep is
// nil, and then video waits for a new keyframe, which is requested).
func (q *Queue) dropVideoLocked(keep *media.Packet) {
	kept := q.queue[:0]
	var dropped int64
	before := true
	for _, p := range q.queue {
		if p == keep {
			before = false
		}
		if p.Kind == media.KindVideo && before {
			dropped++
			continue
		}
		kept = append(kept, p)
	}
	clear(q.queue[len(kept):])
	q.queue = kept
	q.videoDropped.Add(dropped)
	if keep == nil {
		q.waitKey = true
		if dropped > 0 && q.keyframes != nil {
			q.keyframes.RequestKeyframe()
		}
	}
}
