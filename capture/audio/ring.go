package audio

import (
	"sync"
	"sync/atomic"
	"time"
)

// chunk is one callback's worth of samples in the ring.
type chunk struct {
	n  int           // sample frames
	at time.Duration // arrival on the pipeline clock
}

// ring carries samples from miniaudio's callback thread to Run's goroutine:
// a fixed circular buffer of interleaved samples and one of chunks, under a
// mutex held only to copy. When Run falls behind and the ring is full, new
// callbacks are dropped and counted (the corrector then sees a gap); the
// callback never waits.
type ring struct {
	mu      sync.Mutex
	buf     []int16
	r, w    int // element positions in buf
	used    int // elements in buf
	chunks  []chunk
	cr, cn  int // first chunk, number of chunks
	dropped atomic.Int64
	pushes  atomic.Int64  // callbacks, dropped ones included
	signal  chan struct{} // cap 1: "there is data"
}

func (q *ring) init(samples, chunks int) {
	q.buf = make([]int16, samples)
	q.chunks = make([]chunk, chunks)
	q.signal = make(chan struct{}, 1)
}

// push copies one callback's samples (frames sample frames, interleaved)
// in and signals the reader.
func (q *ring) push(samples []int16, frames int, at time.Duration) {
	q.pushes.Add(1)
	q.mu.Lock()
	if q.cn == len(q.chunks) || q.used+len(samples) > len(q.buf) {
		q.mu.Unlock()
		q.dropped.Add(int64(frames))
		return
	}
	n := copy(q.buf[q.w:], samples)
	copy(q.buf, samples[n:])
	q.w = (q.w + len(samples)) % len(q.buf)
	q.used += len(samples)
	q.chunks[(q.cr+q.cn)%len(q.chunks)] = chunk{n: frames, at: at}
	q.cn++
	q.mu.Unlock()
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

// pop moves every queued chunk into chunks and their samples, in order,
// into samples (both as large as the ring's), and returns how many chunks
// and sample elements.
func (q *ring) pop(chunks []chunk, samples []int16) (nc, ns int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for i := 0; i < q.cn; i++ {
		chunks[i] = q.chunks[(q.cr+i)%len(q.chunks)]
	}
	nc = q.cn
	q.cr, q.cn = (q.cr+q.cn)%len(q.chunks), 0
	ns = q.used
	n := copy(samples[:ns], q.buf[q.r:])
	copy(samples[n:ns], q.buf)
	q.r = (q.r + ns) % len(q.buf)
	q.used = 0
	return nc, ns
}
