package rtmp

import (
	"log/slog"
	"testing"
	"time"

	"github.com/golive/golive/media"
)

type keyReq int

func (k *keyReq) RequestKeyframe() { *k++ }

// queueOnly is a Publisher whose queue is exercised without a network.
func queueOnly(budget time.Duration, kr media.KeyframeRequester) *Publisher {
	return &Publisher{
		cfg:     Config{QueueBudget: budget, Keyframes: kr},
		log:     slog.New(slog.DiscardHandler),
		waitKey: true,
		wake:    make(chan struct{}, 1),
	}
}

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
	p := queueOnly(time.Second, &kr)

	p.WritePacket(video(0, false)) // before any keyframe: dropped
	if len(p.queue) != 0 || p.videoDropped.Load() != 1 {
		t.Fatalf("a stream must start on a keyframe: queue %d, dropped %d", len(p.queue), p.videoDropped.Load())
	}
	// 0.91 s of A/V with a keyframe at 0: within budget, nothing dropped.
	for ms := 0; ms < 1000; ms += 100 {
		p.WritePacket(video(ms, ms == 0))
		p.WritePacket(audio(ms + 10))
	}
	if p.videoDropped.Load() != 1 || p.audioDropped.Load() != 0 {
		t.Fatalf("within budget: dropped video %d audio %d", p.videoDropped.Load(), p.audioDropped.Load())
	}
	if d := p.Stats().QueueDelay; d != 910*time.Millisecond {
		t.Fatalf("queue delay %v, want 910ms", d)
	}
	// The network stalls: 300 ms more arrives.
	p.WritePacket(video(1000, false))
	p.WritePacket(audio(1010))
	p.WritePacket(video(1100, false))
	p.WritePacket(audio(1110))
	p.WritePacket(video(1200, false))
	p.WritePacket(audio(1210))
	for _, q := range p.queue {
		if q.Kind == media.KindVideo {
			t.Fatalf("video still queued after the budget was passed: %v", q.DTS)
		}
	}
	if kr == 0 {
		t.Fatal("no keyframe requested after dropping video")
	}
	if p.Stats().QueueDelay > time.Second {
		t.Fatalf("queue still %v over a 1 s budget", p.Stats().QueueDelay)
	}
	if p.audioDropped.Load() == 0 {
		t.Fatal("audio alone over budget: none dropped")
	}
	// Video resumes only at a keyframe.
	p.WritePacket(video(1300, false))
	p.WritePacket(video(1400, true))
	p.WritePacket(video(1500, false))
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
	p.WritePacket(audio(1600))
	if len(p.queue) != n {
		t.Fatal("packet queued after Finish")
	}
}

func TestTimestamps(t *testing.T) {
	p := &Publisher{cfg: Config{TimeOffset: 1024 * time.Second / 48000}}
	for _, tc := range []struct {
		d    time.Duration
		want uint32
	}{
		{-1024 * time.Second / 48000, 0}, // AAC priming: the first audio packet lands on 0
		{0, 21},                          // 21.33 ms rounds to 21
		{time.Second / 30, 55},           // 33.33+21.33 = 54.67 → 55
		{2 * time.Second, 2021},
		{-time.Second, 0}, // never negative
		{5 * time.Hour, 18000021},
	} {
		if got := p.flvTime(tc.d); got != tc.want {
			t.Errorf("flvTime(%v) = %d, want %d", tc.d, got, tc.want)
		}
	}
	for _, tc := range []struct {
		pts, dts time.Duration
		want     int32
	}{
		{0, 0, 0},
		{100 * time.Millisecond, 33333333 * time.Nanosecond, 67},
		{time.Second / 30, 0, 33},
	} {
		if got := compositionTime(&media.Packet{PTS: tc.pts, DTS: tc.dts}); got != tc.want {
			t.Errorf("compositionTime(%v, %v) = %d, want %d", tc.pts, tc.dts, got, tc.want)
		}
	}
}
