package publish

import (
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/golive/golive/media"
)

func (q *Queue) delay() time.Duration { var s Stats; q.FillStats(&s); return s.QueueDelay }

type keyReq int

func (k *keyReq) RequestKeyframe() { *k++ }

func video(ms int, key bool) *media.Packet {
	d := time.Duration(ms) * time.Millisecond
	return &media.Packet{Kind: media.KindVideo, PTS: d, DTS: d, Keyframe: key}
}

func audio(ms int) *media.Packet {
	d := time.Duration(ms) * time.Millisecond
	return &media.Packet{Kind: media.KindAudio, PTS: d, DTS: d, Keyframe: true}
}

// TestQueueDropPolicy: the send queue is bounded in media time; past the
// budget video goes first (up to the next keyframe, which is requested),
// audio last, and the stream never resumes on a non-keyframe.
func TestQueueDropPolicy(t *testing.T) {
	var kr keyReq
	p := NewQueue(time.Second, &kr, slog.New(slog.DiscardHandler))

	p.Push(video(0, false)) // before any keyframe: dropped
	if len(p.queue) != 0 || p.videoDropped.Load() != 1 {
		t.Fatalf("a stream must start on a keyframe: queue %d, dropped %d", len(p.queue), p.videoDropped.Load())
	}
	// 0.91 s of A/V with a keyframe at 0: within budget, nothing dropped.
	for ms := 0; ms < 1000; ms += 100 {
		p.Push(video(ms, ms == 0))
		p.Push(audio(ms + 10))
	}
	if p.videoDropped.Load() != 1 || p.audioDropped.Load() != 0 {
		t.Fatalf("within budget: dropped video %d audio %d", p.videoDropped.Load(), p.audioDropped.Load())
	}
	if d := p.delay(); d != 910*time.Millisecond {
		t.Fatalf("queue delay %v, want 910ms", d)
	}
	// The network stalls: 300 ms more arrives.
	p.Push(video(1000, false))
	p.Push(audio(1010))
	p.Push(video(1100, false))
	p.Push(audio(1110))
	p.Push(video(1200, false))
	p.Push(audio(1210))
	for _, q := range p.queue {
		if q.Kind == media.KindVideo {
			t.Fatalf("video still queued after the budget was passed: %v", q.DTS)
		}
	}
	if kr == 0 {
		t.Fatal("no keyframe requested after dropping video")
	}
	if p.delay() > time.Second {
		t.Fatalf("queue still %v over a 1 s budget", p.delay())
	}
	if p.audioDropped.Load() == 0 {
		t.Fatal("audio alone over budget: none dropped")
	}
	// Video resumes only at a keyframe.
	p.Push(video(1300, false))
	p.Push(video(1400, true))
	p.Push(video(1500, false))
	var got []time.Duration
	for _, q := range p.queue {
		if q.Kind == media.KindVideo {
			got = append(got, q.DTS)
		}
	}
	if len(got) != 2 || got[0] != 1400*time.Millisecond {
		t.Fatalf("video after the drop: %v, want [1.4s 1.5s] (resume at the keyframe)", got)
	}
	// After Finish nothing more is queued.
	p.Finish()
	n := len(p.queue)
	p.Push(audio(1600))
	if len(p.queue) != n {
		t.Fatal("packet queued after Finish")
	}
}

// TestQueueDrain: after Finish the sender gets what is queued, then the
// stop; past the drain time what is left is given up.
func TestQueueDrain(t *testing.T) {
	q := NewQueue(time.Second, nil, slog.New(slog.DiscardHandler))
	q.Push(video(0, true))
	if p, stop := q.Next(time.Hour); p == nil || stop {
		t.Fatalf("Next = %v, %v before Finish", p, stop)
	}
	if p, stop := q.Next(time.Hour); p != nil || stop {
		t.Fatal("an empty, unfinished queue must neither give nor stop")
	}
	q.Push(video(33, false))
	q.Push(video(66, false))
	q.Finish()
	if p, stop := q.Next(time.Hour); p == nil || stop {
		t.Fatal("queued packets must still go after Finish")
	}
	if p, stop := q.Next(time.Hour); p == nil || stop {
		t.Fatal("queued packets must still go after Finish")
	}
	if _, stop := q.Next(time.Hour); !stop {
		t.Fatal("no stop once finished and empty")
	}
	q = NewQueue(time.Second, nil, slog.New(slog.DiscardHandler))
	q.Push(video(0, true))
	q.Push(video(33, false))
	q.Push(video(66, false))
	q.Finish()
	q.Next(0) // starts the drain clock
	time.Sleep(time.Millisecond)
	if p, stop := q.Next(0); p != nil || !stop {
		t.Fatal("past the drain time: want the stop, not more packets")
	}
}

// TestQueueRestart: a new session (a reconnection) starts on a keyframe:
// Restart drops the queued video, asks for a keyframe, keeps the audio,
// and later video waits for that keyframe.
func TestQueueRestart(t *testing.T) {
	var keys keyReq
	q := NewQueue(3*time.Second, &keys, nil)
	for _, p := range []*media.Packet{video(0, true), audio(10), video(33, false), audio(30), video(66, false)} {
		q.Push(p)
	}
	q.Restart()
	if keys == 0 {
		t.Fatal("no keyframe requested")
	}
	q.Push(video(100, false)) // still the old group of pictures: dropped
	q.Push(video(133, true))  // the new keyframe
	q.Push(video(166, false))
	var got []string
	for {
		p, _ := q.Pop()
		if p == nil {
			break
		}
		got = append(got, fmt.Sprintf("%v@%d/%v", p.Kind, p.DTS.Milliseconds(), p.Keyframe))
	}
	want := []string{"audio@10/true", "audio@30/true", "video@133/true", "video@166/false"}
	if !slices.Equal(got, want) {
		t.Errorf("after Restart: %v, want %v", got, want)
	}
}
