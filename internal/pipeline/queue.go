package pipeline

import (
	"sync"

	"github.com/golive/golive/media"
)

// frameQueue is the bounded queue between a live source and the encoder.
// push never blocks: when the queue is full the oldest frame is dropped
// (and counted), so the newest picture always gets through.
type frameQueue struct {
	ch      chan *media.VideoFrame
	dropped media.Counter
}

func newFrameQueue(n int) *frameQueue { return &frameQueue{ch: make(chan *media.VideoFrame, n)} }

func (q *frameQueue) push(f *media.VideoFrame) {
	for {
		select {
		case q.ch <- f:
			return
		default:
		}
		select {
		case old := <-q.ch:
			old.Release()
			q.dropped.Add(1)
		default:
		}
	}
}

// frames yields queued frames until done is closed and the queue is empty.
func (q *frameQueue) frames(done <-chan struct{}) func(yield func(*media.VideoFrame) bool) {
	return drain(q.ch, done)
}

// drain yields what ch holds until done is closed and ch is empty.
func drain[T any](ch chan T, done <-chan struct{}) func(yield func(T) bool) {
	return func(yield func(T) bool) {
		for {
			select {
			case v := <-ch:
				if !yield(v) {
					return
				}
				continue
			case <-done:
			}
			for {
				select {
				case v := <-ch:
					if !yield(v) {
						return
					}
				default:
					return
				}
			}
		}
	}
}

// audioQueue is the bounded queue between the sources and the audio
// encoders. Sources reuse their buffers, so WriteAudio copies into a
// pooled frame. It never blocks: when the encoders are hopelessly behind,
// the oldest frame is dropped (and counted), as in frameQueue.
type audioQueue struct {
	ch      chan *media.AudioFrame
	pool    sync.Pool
	dropped media.Counter
}

func newAudioQueue(n int) *audioQueue { return &audioQueue{ch: make(chan *media.AudioFrame, n)} }

func (q *audioQueue) WriteAudio(f *media.AudioFrame) error {
	c, _ := q.pool.Get().(*media.AudioFrame)
	if c == nil {
		c = &media.AudioFrame{}
	}
	c.SampleRate, c.Channels, c.PTS = f.SampleRate, f.Channels, f.PTS
	c.Samples = append(c.Samples[:0], f.Samples...)
	for {
		select {
		case q.ch <- c:
			return nil
		default:
		}
		select {
		case old := <-q.ch:
			q.pool.Put(old)
			q.dropped.Add(1)
		default:
		}
	}
}

// release gives a frame from frames back to the pool.
func (q *audioQueue) release(f *media.AudioFrame) { q.pool.Put(f) }

// frames yields queued frames until done is closed and the queue is empty.
func (q *audioQueue) frames(done <-chan struct{}) func(yield func(*media.AudioFrame) bool) {
	return drain(q.ch, done)
}
