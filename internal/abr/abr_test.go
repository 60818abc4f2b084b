package abr

import (
	"testing"
	"time"
)

// The 720p preset: 2500k video, 128k audio, with a minimum of 500k.
var preset = Config{Target: 2_500_000, Min: 500_000, Audio: 128_000}

// step is one tick of a simulated RTMP sender on a TCP link.
type step struct {
	at      time.Duration
	bitrate int           // the encoder's video bitrate during the tick
	delay   time.Duration // the queue after it
	d       Decision
}

// simulate runs the controller against a link whose capacity (bit/s)
// follows capacity(t): every 100 ms the encoders produce bitrate+audio,
// the link takes what it can, the rest waits in a queue bounded at 3 s of
// media (as publish.Queue is; the excess is dropped).
func simulate(c *Controller, dur time.Duration, capacity func(time.Duration) int) []step {
	const tick = 100 * time.Millisecond
	t0 := time.Unix(1_000_000, 0)
	var queue, sentBits float64
	var out []step
	for at := tick; at <= dur; at += tick {
		rate := float64(c.Bitrate() + preset.Audio)
		queue += rate * tick.Seconds()
		sent := min(queue, float64(capacity(at))*tick.Seconds())
		queue -= sent
		sentBits += sent
		queue = min(queue, 3*rate)
		delay := time.Duration(queue / rate * float64(time.Second))
		b := c.Bitrate()
		d := c.Update(Sample{At: t0.Add(at), QueueDelay: delay, SentBytes: int64(sentBits / 8)})
		out = append(out, step{at, b, delay, d})
	}
	return out
}

func constant(bps int) func(time.Duration) int { return func(time.Duration) int { return bps } }

func changes(tr []step, from, to time.Duration) int {
	n := 0
	for _, s := range tr {
		if s.at >= from && s.at < to && s.d.Changed {
			n++
		}
	}
	return n
}

// TestSteadyLink: a link with room to spare: the bitrate never moves.
func TestSteadyLink(t *testing.T) {
	c := New(preset)
	tr := simulate(c, 2*time.Minute, constant(5_000_000))
	if n := changes(tr, 0, 2*time.Minute); n != 0 {
		t.Fatalf("%d bitrate changes on a steady 5 Mbit/s link", n)
	}
}

// TestBandwidthCut is issue 6's scenario on a model of the link: 2500k on
// a 5 Mbit/s link that drops to 1000k for 30 s, then comes back.
func TestBandwidthCut(t *testing.T) {
	c := New(preset)
	const cutAt, restoreAt = 10 * time.Second, 40 * time.Second
	tr := simulate(c, 70*time.Second, func(at time.Duration) int {
		if at > cutAt && at <= restoreAt {
			return 1_000_000
		}
		return 5_000_000
	})
	var reacted, drained, recovered time.Duration
	for _, s := range tr {
		if reacted == 0 && s.at > cutAt && s.d.Changed {
			reacted = s.at - cutAt
		}
		if reacted > 0 && drained == 0 && s.delay < time.Second && s.at > cutAt+reacted {
			drained = s.at - cutAt
		}
		if recovered == 0 && s.at > restoreAt && s.d.Bitrate >= preset.Target*9/10 {
			recovered = s.at - restoreAt
		}
	}
	settled := tr[int(restoreAt/(100*time.Millisecond))-2].d.Bitrate
	t.Logf("reacted after %v, queue under 1 s %v after the cut, settled at %d kbit/s (+audio), back to ≥ 90%% %v after the restore; %d changes",
		reacted, drained, settled/1000, recovered, changes(tr, 0, 70*time.Second))
	if reacted == 0 || reacted > time.Second {
		t.Errorf("reacted after %v, want within 1 s", reacted)
	}
	if drained == 0 || drained > 5*time.Second {
		t.Errorf("queue back under 1 s %v after the cut, want within 5 s", drained)
	}
	if settled+preset.Audio > 950_000 {
		t.Errorf("settled at %d bit/s video + %d audio, want ≤ 950k in all", settled, preset.Audio)
	}
	if recovered == 0 || recovered > 20*time.Second {
		t.Errorf("back to 90%% of the target %v after the restore, want within 20 s", recovered)
	}
	for _, s := range tr {
		if s.at > cutAt+5*time.Second && s.at <= restoreAt && s.delay > time.Second {
			t.Fatalf("queue %v at %v: the cut was not enough", s.delay, s.at)
		}
	}
}

// TestLinkBelowTarget: a steady link below the target. The controller
// settles under it and keeps using most of it; its tries to step up (it
// must, to find a link that came back) are spaced out, so the queue stays
// short and the bitrate does not swing on every tick.
func TestLinkBelowTarget(t *testing.T) {
	c := New(preset)
	tr := simulate(c, 5*time.Minute, constant(1_800_000))
	late := tr[1200:] // the last three minutes
	n := changes(tr, 2*time.Minute, 5*time.Minute)
	var sum float64
	var maxDelay time.Duration
	long := 0
	for _, s := range late {
		sum += float64(s.bitrate + preset.Audio)
		maxDelay = max(maxDelay, s.delay)
		if s.delay > 500*time.Millisecond {
			long++
		}
	}
	use := sum / float64(len(late)) / 1_800_000
	t.Logf("last 3 minutes: %d changes, %.0f%% of the link used, queue at most %v, over 0.5 s %d%% of the time", n, use*100, maxDelay, long*100/len(late))
	// A probe cycle (up, up to the level that failed, back down) at most
	// every 10 s: the 8 s hold and the time to climb.
	if n > 3*180/10 {
		t.Errorf("%d bitrate changes in 3 minutes on a steady link", n)
	}
	if use < 0.85 {
		t.Errorf("only %.0f%% of a steady link used", use*100)
	}
	if maxDelay > time.Second || long*20 > len(late) {
		t.Errorf("queue up to %v, over 0.5 s %d of %d ticks", maxDelay, long, len(late))
	}
}

// TestOscillatingLink: capacity swinging between 3 and 1.2 Mbit/s every
// 3 s. The queue stays bounded and the bitrate does not chase every swing.
func TestOscillatingLink(t *testing.T) {
	c := New(preset)
	tr := simulate(c, 2*time.Minute, func(at time.Duration) int {
		if int(at/(3*time.Second))%2 == 0 {
			return 3_000_000
		}
		return 1_200_000
	})
	var maxDelay time.Duration
	for _, s := range tr[200:] {
		maxDelay = max(maxDelay, s.delay)
	}
	n := changes(tr, 20*time.Second, 2*time.Minute)
	t.Logf("%d changes in 100 s of a link swinging every 3 s; queue at most %v", n, maxDelay)
	if maxDelay > time.Second {
		t.Errorf("queue up to %v", maxDelay)
	}
	if swings := 100 / 3; n >= swings {
		t.Errorf("%d changes in 100 s, %d swings of the link: chasing every one", n, swings)
	}
}

// TestStarved: a link under the preset's minimum says so (the sender then
// drops video up to a keyframe), and the bitrate rests at the minimum.
func TestStarved(t *testing.T) {
	c := New(preset)
	tr := simulate(c, 20*time.Second, constant(400_000))
	starved := false
	for _, s := range tr {
		starved = starved || s.d.Starved
	}
	if !starved || c.Bitrate() != preset.Min {
		t.Fatalf("starved %v, bitrate %d; want the signal and the minimum", starved, c.Bitrate())
	}
}

// TestNearlyStarved: a link a little under what the minimum needs is only
// a soft picture, not a reason to drop video.
func TestNearlyStarved(t *testing.T) {
	c := New(preset)
	for _, s := range simulate(c, 20*time.Second, constant(700_000)) {
		if s.d.Starved {
			t.Fatalf("starved at %v on a 700k link (the minimum needs 628k with audio)", s.at)
		}
	}
}

// TestSetMax: the platform's maximum caps the bitrate at once and is the
// new ceiling for step ups; lifting it lets the bitrate climb again.
func TestSetMax(t *testing.T) {
	c := New(preset)
	if d := c.SetMax(800_000); !d.Changed || d.Bitrate != 800_000 {
		t.Fatalf("SetMax(800k) = %+v", d)
	}
	tr := simulate(c, 20*time.Second, constant(10_000_000))
	for _, s := range tr {
		if s.d.Bitrate > 800_000 {
			t.Fatalf("bitrate %d at %v above the platform's maximum", s.d.Bitrate, s.at)
		}
	}
	if d := c.SetMax(100_000); d.Bitrate != preset.Min {
		t.Errorf("SetMax under the minimum: %+v, want the minimum", d)
	}
	c.SetMax(10_000_000) // above the preset's target: back to the target
	simulate(c, 30*time.Second, constant(10_000_000))
	if c.Bitrate() != preset.Target {
		t.Errorf("after lifting the maximum: %d, want the target %d", c.Bitrate(), preset.Target)
	}
}

// TestReset: samples from before a reconnection do not count after it.
func TestReset(t *testing.T) {
	c := New(preset)
	t0 := time.Unix(1_000_000, 0)
	// A queue waiting while there was no connection, nothing sent…
	for i := range 10 {
		c.Update(Sample{At: t0.Add(time.Duration(i) * 100 * time.Millisecond), QueueDelay: 100 * time.Millisecond})
	}
	c.Reset()
	// …then the first sample of the new connection: no verdict yet.
	d := c.Update(Sample{At: t0.Add(2 * time.Second), QueueDelay: 500 * time.Millisecond, SentBytes: 10_000})
	if d.Changed {
		t.Errorf("cut right after Reset, from samples before it: %+v", d)
	}
}

// TestFollowEstimate: WebRTC — the GCC estimate drives, less audio and a
// margin, ignoring small moves; heavy loss cuts further.
func TestFollowEstimate(t *testing.T) {
	c := New(preset)
	t0 := time.Unix(1_000_000, 0)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	if d := c.Update(Sample{At: at(1), Estimate: 3_000_000}); d.Changed || d.Bitrate != preset.Target {
		t.Fatalf("estimate above the target: %+v", d)
	}
	d := c.Update(Sample{At: at(2), Estimate: 1_000_000})
	if want := 900_000 - preset.Audio; !d.Changed || d.Bitrate != max(want, preset.Min) {
		t.Fatalf("estimate 1 Mbit/s: %+v, want %d", d, max(want, preset.Min))
	}
	c = New(Config{Target: 2_500_000, Min: 300_000, Audio: 128_000})
	c.Update(Sample{At: at(1), Estimate: 2_000_000})
	b := c.Bitrate()
	if d := c.Update(Sample{At: at(2), Estimate: 2_050_000}); d.Changed {
		t.Errorf("a 2.5%% move followed: %+v (was %d)", d, b)
	}
	if d := c.Update(Sample{At: at(3), Estimate: 2_000_000, Loss: 0.3}); !d.Changed || d.Bitrate > b*85/100+1 {
		t.Errorf("30%% loss: %+v, want a cut to ≤ 85%% of %d", d, b)
	}
}

// TestKeyframeBursts: on a slow link each keyframe (a fifth of a 2 s
// group's bits in one frame) queues for a moment; a queue that empties
// between keyframes is a link that keeps up, and the bitrate climbs off
// the minimum to what the link carries.
func TestKeyframeBursts(t *testing.T) {
	c := New(Config{Target: 2_500_000, Min: 500_000, Audio: 128_000, Start: 500_000})
	const tick = 100 * time.Millisecond
	t0 := time.Unix(1_000_000, 0)
	capacity := 1_000_000.0
	var queue, sent float64 // bits
	maxDelay := time.Duration(0)
	for at := tick; at <= 60*time.Second; at += tick {
		video := float64(c.Bitrate())
		bits := float64(preset.Audio) * tick.Seconds()
		if at%(2*time.Second) == 0 {
			bits += video * 2 / 5 // the keyframe: a fifth of the group
		} else {
			bits += video * 2 * 4 / 5 / 19 // the other 19 frames of the 2 s
		}
		queue += bits
		out := min(queue, capacity*tick.Seconds())
		queue -= out
		sent += out
		rate := video + float64(preset.Audio)
		delay := time.Duration(queue / rate * float64(time.Second))
		if at > 30*time.Second {
			maxDelay = max(maxDelay, delay)
		}
		c.Update(Sample{At: t0.Add(at), QueueDelay: delay, SentBytes: int64(sent / 8)})
	}
	t.Logf("after 60 s on a 1000k link with keyframe bursts: %d kbit/s video, queue at most %v in the last 30 s", c.Bitrate()/1000, maxDelay)
	if c.Bitrate() < 600_000 {
		t.Errorf("stuck at %d kbit/s on a 1000k link (video + audio fit up to ~870k)", c.Bitrate()/1000)
	}
	if maxDelay > time.Second {
		t.Errorf("queue up to %v", maxDelay)
	}
}
