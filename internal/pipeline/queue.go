package pipeline

import (
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
	return func(yield func(*media.VideoFrame) bool) {
		for {
			select {
			case f := <-q.ch:
				if !yield(f) {
					return
				}
				continue
			case <-done:
			}
			for {
				select {
				case f := <-q.ch:
					if !yield(f) {
						return
					}
				default:
					return
				}
			}
		}
	}
}
