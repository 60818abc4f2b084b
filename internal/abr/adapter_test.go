package abr

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golive/golive/publish"
)

// The stream of these tests: 3000k of video (1000k at least) and 128k of
// audio.
const (
	vTarget = 3_000_000
	vMin    = 1_000_000
	vAudio  = 128_000
)

// fakeEncoder records what the adapter sets.
type fakeEncoder struct {
	mu      sync.Mutex
	bitrate int
	sizes   []string
}

func (e *fakeEncoder) Bitrate() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.bitrate
}

func (e *fakeEncoder) SetBitrate(bps int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.bitrate = bps
}

func (e *fakeEncoder) SetSize(w, h int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.sizes = append(e.sizes, fmt.Sprintf("%dx%d", w, h))
}

// kernelBuf is the socket buffer of a fakeLink: what waits beyond it
// waits in the send queue, in media time.
const kernelBuf = 64 << 10

// fakeLink is a TCP sender on a bottleneck of capacity bit/s: what the
// encoders produce beyond it waits, first in the kernel (Unsent), then in
// the send queue (QueueDelay), which is bounded at 3 s of media as
// publish.Queue is. Bytes counts what was handed to the kernel.
type fakeLink struct {
	mu         sync.Mutex
	capacity   int // bit/s
	stream     int // bit/s the encoders produce
	backlog    float64
	delivered  float64
	down       bool          // reconnecting: the stats are garbage
	standing   time.Duration // a queue that never drains (a jitter buffer, say)
	sheds      int
	statsCalls int // while down
}

// advance moves dt of media through the link.
func (l *fakeLink) advance(dt time.Duration, stream int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.stream = stream
	if l.down {
		return
	}
	l.backlog += float64(stream) * dt.Seconds() / 8
	sent := min(l.backlog, float64(l.capacity)*dt.Seconds()/8)
	l.backlog -= sent
	l.delivered += sent
	l.backlog = min(l.backlog, kernelBuf+3*float64(stream)/8)
}

func (l *fakeLink) Stats() publish.Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.down {
		// What a dead connection would show: a queue that only grows.
		l.statsCalls++
		return publish.Stats{Bytes: int64(l.delivered), QueueDelay: 5 * time.Second}
	}
	unsent := min(l.backlog, kernelBuf)
	var queue time.Duration
	if l.stream > 0 {
		queue = time.Duration((l.backlog - unsent) * 8 / float64(l.stream) * float64(time.Second))
	}
	return publish.Stats{Bytes: int64(l.delivered + unsent), Unsent: int(unsent), QueueDelay: queue + l.standing}
}

func (l *fakeLink) Shed() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.backlog = min(l.backlog, kernelBuf)
	l.sheds++
}

func (l *fakeLink) set(f func(l *fakeLink)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f(l)
}

func (l *fakeLink) get() fakeLink {
	l.mu.Lock()
	defer l.mu.Unlock()
	return fakeLink{capacity: l.capacity, down: l.down, sheds: l.sheds, statsCalls: l.statsCalls}
}

// reconnect makes the link go down (true) or come back (false): a new
// session, with nothing queued.
func (l *fakeLink) reconnect(down bool) {
	l.set(func(l *fakeLink) { l.down, l.backlog = down, 0 })
}

// sim drives an adapter on fake links with a fake clock.
type sim struct {
	t      *testing.T
	enc    *fakeEncoder
	ad     *Adapter
	links  []*fakeLink
	states []*LinkState
	t0     time.Time
	now    time.Time
	logBuf bytes.Buffer
	// Each step's encoder bitrate and time, and when each link shed and
	// the picture changed.
	trace   []tracePoint
	shedAt  [][]time.Time
	sizedAt []time.Time
}

type tracePoint struct {
	at      time.Duration // since the start
	bitrate int
}

// newSim makes an adapter with cfg's Encoder and Logger filled and a link
// per capacity, named a, b, ….
func newSim(t *testing.T, cfg AdapterConfig, capacities ...int) *sim {
	t.Helper()
	s := &sim{t: t, enc: &fakeEncoder{bitrate: cfg.Start}, t0: time.Unix(1_000_000, 0)}
	if cfg.Start == 0 {
		s.enc.bitrate = cfg.Target
	}
	s.now = s.t0
	cfg.Encoder = s.enc
	cfg.Logger = slog.New(slog.NewJSONHandler(&s.logBuf, nil))
	s.ad = NewAdapter(cfg)
	for i, c := range capacities {
		l := &fakeLink{capacity: c}
		s.links = append(s.links, l)
		s.states = append(s.states, s.ad.AddLink(string(rune('a'+i)), l))
		s.shedAt = append(s.shedAt, nil)
	}
	return s
}

// run steps the adapter every tick for d.
func (s *sim) run(d time.Duration) {
	for end := s.now.Add(d); s.now.Before(end); {
		s.now = s.now.Add(tick)
		stream := s.enc.Bitrate() + vAudio
		sheds := make([]int, len(s.links))
		for i, l := range s.links {
			l.advance(tick, stream)
			sheds[i] = l.get().sheds
		}
		sized := len(s.enc.sizes)
		s.ad.Step(s.now)
		for i, l := range s.links {
			if l.get().sheds > sheds[i] {
				s.shedAt[i] = append(s.shedAt[i], s.now)
			}
		}
		if len(s.enc.sizes) > sized {
			s.sizedAt = append(s.sizedAt, s.now)
		}
		s.trace = append(s.trace, tracePoint{s.now.Sub(s.t0), s.enc.Bitrate()})
	}
}

// bitrates is the lowest encoder bitrate after from.
func (s *sim) bitrates(from time.Duration) int {
	lo := 1 << 62
	for _, p := range s.trace {
		if p.at > from {
			lo = min(lo, p.bitrate)
		}
	}
	return lo
}

// mean is the mean encoder bitrate after from: on a narrow link the
// controller probes above what it carries now and then.
func (s *sim) mean(from time.Duration) int {
	sum, n := 0, 0
	for _, p := range s.trace {
		if p.at > from {
			sum, n = sum+p.bitrate, n+1
		}
	}
	return sum / max(n, 1)
}

func (s *sim) elapsed() time.Duration { return s.now.Sub(s.t0) }

// logs are the log lines with message msg.
func (s *sim) logs(msg string) []map[string]any {
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(s.logBuf.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err == nil && m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

const (
	msgBitrate = "bitrate"
	msgShed    = "the link carries less than the minimum bitrate: dropping queued video up to a new keyframe"
	msgLag     = "destination cannot keep up: shedding video to keyframes in its own queue"
	msgKeepsUp = "destination keeps up again"
	msgSize    = "picture size"
	msgMax     = "platform's maximum bitrate"
)

func kbps(m map[string]any, key string) int {
	f, _ := m[key].(float64)
	return int(f)
}

func oneStream() AdapterConfig { return AdapterConfig{Target: vTarget, Min: vMin, Audio: vAudio} }

// TestAdapterOneLink: the link narrows: the bitrate is cut below what it
// carries, logged as today (from_kbps, to_kbps, why); it widens: the
// bitrate climbs back to the target. Nothing is shed: the minimum fits.
func TestAdapterOneLink(t *testing.T) {
	s := newSim(t, oneStream(), 10_000_000)
	s.run(5 * time.Second)
	if n := len(s.logs(msgBitrate)); n != 0 || s.enc.Bitrate() != vTarget {
		t.Fatalf("on a wide link: %d changes, bitrate %d; want none, %d", n, s.enc.Bitrate(), vTarget)
	}

	s.links[0].set(func(l *fakeLink) { l.capacity = 1_500_000 })
	cut := s.elapsed()
	s.run(10 * time.Second)
	lines := s.logs(msgBitrate)
	if len(lines) == 0 {
		t.Fatalf("no cut on a link narrowed to 1500k:\n%s", s.logBuf.String())
	}
	first := lines[0]
	why, _ := first["why"].(string)
	if kbps(first, "from_kbps") != vTarget/1000 || kbps(first, "to_kbps") >= 1500-vAudio/1000 ||
		!strings.Contains(why, "congestion") {
		t.Errorf("first change %v, want from 3000 to under what the link carries, for congestion", first)
	}
	if first["component"] != "abr" || first["dest"] != nil {
		t.Errorf("first change %v: want component abr and, with one link, no dest", first)
	}
	if lo, mean := s.bitrates(cut+5*time.Second), s.mean(cut+5*time.Second); lo < vMin || mean > 1_500_000-vAudio {
		t.Errorf("5 s after the cut the bitrate is %d at least, %d on average; "+
			"want the minimum, under what the link carries", lo, mean)
	}

	s.links[0].set(func(l *fakeLink) { l.capacity = 10_000_000 })
	s.run(40 * time.Second)
	if b := s.enc.Bitrate(); b != vTarget {
		t.Errorf("40 s after the link widened: %d, want the target %d", b, vTarget)
	}
	if n := s.links[0].get().sheds; n != 0 {
		t.Errorf("%d sheds, want none: the minimum fits 1500k", n)
	}
	if s.ad.Changes() != int64(len(s.logs(msgBitrate))) {
		t.Errorf("Changes() = %d, %d bitrate lines", s.ad.Changes(), len(s.logs(msgBitrate)))
	}
}

// refAdapter is the single-destination adapter as it was in
// internal/pipeline (adapter.step, setMax, scale, moveTo), the reference
// one link must match decision for decision. One difference, also in the
// Adapter: after a reconnection the acknowledged-bytes history starts
// afresh (a span over the outage made the rate tiny and the delay huge).
type refAdapter struct {
	enc      *fakeEncoder
	pub      *fakeLink
	ctl      *Controller
	acked    []ackPoint
	link     int64
	down     bool
	wasDown  bool
	lastShed time.Time
	maxRate  int
	rungs    []Rung
	level    int
	pinned   time.Time
	scaled   time.Time
	high     time.Time
	sheds    []time.Time
}

func (a *refAdapter) rate() int {
	if a.link > 0 {
		return int(max(a.link, 100_000))
	}
	return a.enc.Bitrate() + vAudio
}

func (a *refAdapter) step(now time.Time) {
	if a.down {
		a.wasDown = true
		return
	}
	st := a.pub.Stats()
	acked := st.Bytes - int64(st.Unsent)
	if a.wasDown {
		a.acked = a.acked[:0] // the one difference
	}
	a.acked = append(a.acked, ackPoint{now, acked})
	for len(a.acked) > 2 && now.Sub(a.acked[1].at) >= time.Second {
		a.acked = a.acked[1:]
	}
	if first := a.acked[0]; now.Sub(first.at) >= time.Second/2 {
		a.link = int64(float64(acked-first.bytes) * 8 / now.Sub(first.at).Seconds())
	}
	delay := sendDelay(st, a.rate())
	if a.wasDown {
		a.ctl.Reset()
		a.wasDown = false
	}
	d := a.ctl.Update(Sample{At: now, QueueDelay: delay, SentBytes: acked, Estimate: st.EstimateBitrate, Loss: st.Loss})
	if d.Changed {
		a.enc.SetBitrate(d.Bitrate)
	}
	if len(a.rungs) > 1 {
		a.scale(now, delay)
	}
	if d.Starved && delay >= 1500*time.Millisecond && now.Sub(a.lastShed) >= shedHold {
		a.lastShed = now
		a.pub.Shed()
		a.sheds = append(a.sheds, now)
	}
}

func (a *refAdapter) setMax(bps int) {
	if bps <= 0 || bps == a.maxRate {
		return
	}
	a.maxRate = bps
	if d := a.ctl.SetMax(bps); d.Changed {
		a.enc.SetBitrate(d.Bitrate)
	}
}

func (a *refAdapter) scale(now time.Time, delay time.Duration) {
	r, b := a.rungs[a.level], a.ctl.Bitrate()
	switch {
	case b > r.Min:
		a.pinned = time.Time{}
	case a.pinned.IsZero():
		a.pinned = now
	case a.link >= int64(b+vAudio): // the link carries the stream (since issue 15)
		a.pinned = a.pinned.Add(now.Sub(a.scaled))
	}
	a.scaled = now
	if a.level == 0 || b < r.Target || delay > 100*time.Millisecond {
		a.high = time.Time{}
	} else if a.high.IsZero() {
		a.high = now
	}
	switch {
	case !a.pinned.IsZero() && now.Sub(a.pinned) >= scaleDownAfter && a.level+1 < len(a.rungs):
		a.moveTo(a.level+1, b)
	case !a.high.IsZero() && now.Sub(a.high) >= scaleUpAfter:
		a.moveTo(a.level-1, b)
	}
}

func (a *refAdapter) moveTo(level, bitrate int) {
	to := a.rungs[level]
	a.level, a.pinned, a.high = level, time.Time{}, time.Time{}
	a.ctl = New(Config{Target: to.Target, Min: to.Min, Audio: vAudio, Start: bitrate})
	if a.maxRate > 0 {
		a.ctl.SetMax(a.maxRate)
	}
	a.enc.SetSize(to.W, to.H)
	if b := a.ctl.Bitrate(); b != a.enc.Bitrate() {
		a.enc.SetBitrate(b)
	}
}

// testRungs: 720p, 480p, 360p, as Ladder makes them of the built-in
// presets (in round numbers).
var testRungs = []Rung{{1280, 720, vTarget, 1_500_000}, {854, 480, 1_500_000, 700_000}, {640, 360, 800_000, 400_000}}

// TestAdapterOneLinkAsBefore: on one link the adapter decides, sheds and
// scales exactly as the single-destination adapter did, tick for tick,
// through a narrowing, a starving, the platform's maximum, an outage and
// a recovery.
func TestAdapterOneLinkAsBefore(t *testing.T) {
	for _, scale := range []bool{false, true} {
		t.Run(fmt.Sprintf("scale=%v", scale), func(t *testing.T) {
			cfg := oneStream()
			cfg.Start = 2_000_000
			ref := &refAdapter{enc: &fakeEncoder{bitrate: cfg.Start}, pub: &fakeLink{capacity: 10_000_000}}
			ref.ctl = New(Config{Target: cfg.Target, Min: cfg.Min, Audio: cfg.Audio, Start: cfg.Start})
			if scale {
				cfg.Min, cfg.Rungs = testRungs[0].Min, testRungs
				ref.ctl = New(Config{Target: cfg.Target, Min: cfg.Min, Audio: cfg.Audio, Start: cfg.Start})
				ref.rungs = testRungs
			}
			s := newSim(t, cfg, 10_000_000)
			phases := []struct {
				d        time.Duration
				capacity int
				max      int
				down     bool
			}{
				{10 * time.Second, 10_000_000, 0, false},
				{15 * time.Second, 1_500_000, 0, false},
				{20 * time.Second, 400_000, 0, false}, // starved: sheds
				{3 * time.Second, 400_000, 0, true},
				{20 * time.Second, 2_000_000, 0, false},
				{5 * time.Second, 10_000_000, 2_500_000, false},
				{40 * time.Second, 10_000_000, 8_000_000, false},
			}
			var refTrace []int
			for _, ph := range phases {
				for _, l := range []*fakeLink{s.links[0], ref.pub} {
					l.set(func(l *fakeLink) { l.capacity = ph.capacity })
					if ph.down != l.get().down {
						l.reconnect(ph.down)
					}
				}
				s.states[0].SetLive(!ph.down)
				ref.down = ph.down
				if ph.max > 0 {
					s.ad.SetMax(ph.max)
					ref.setMax(ph.max)
				}
				start := s.now
				s.run(ph.d)
				for now := start.Add(tick); !now.After(s.now); now = now.Add(tick) {
					ref.pub.advance(tick, ref.enc.Bitrate()+vAudio)
					ref.step(now)
					refTrace = append(refTrace, ref.enc.Bitrate())
				}
			}
			for i, p := range s.trace {
				if p.bitrate != refTrace[i] {
					t.Fatalf("at %v: bitrate %d, the single-link adapter's %d", p.at, p.bitrate, refTrace[i])
				}
			}
			if !slices.Equal(s.shedAt[0], ref.sheds) || len(ref.sheds) == 0 {
				t.Errorf("shed at %v, the single-link adapter at %v (want the same, some)", s.shedAt[0], ref.sheds)
			}
			if !slices.Equal(s.enc.sizes, ref.enc.sizes) || scale && len(ref.enc.sizes) == 0 {
				t.Errorf("picture sizes %v, the single-link adapter's %v", s.enc.sizes, ref.enc.sizes)
			}
			if n := len(s.logs(msgShed)); n != len(s.shedAt[0]) {
				t.Errorf("%d shed warnings for %d sheds", n, len(s.shedAt[0]))
			}
		})
	}
}

// TestAdapterFollowFastest: b carries 500k, a plenty. The stream stays
// at a's 3000k; b sheds (at most every 2 s) and its lag is logged once;
// when b widens, its recovery is logged once.
func TestAdapterFollowFastest(t *testing.T) {
	s := newSim(t, oneStream(), 10_000_000, 500_000)
	s.run(30 * time.Second)
	if lo := s.bitrates(0); lo != vTarget {
		t.Errorf("the bitrate went down to %d: fastest must keep a's %d", lo, vTarget)
	}
	if n := len(s.logs(msgBitrate)); n != 0 {
		t.Errorf("%d bitrate changes, want none", n)
	}
	if n := len(s.shedAt[0]); n != 0 {
		t.Errorf("a shed %d times, want never", n)
	}
	sheds := s.shedAt[1]
	if len(sheds) < 3 {
		t.Errorf("b shed %d times in 30 s, want several", len(sheds))
	}
	for i := 1; i < len(sheds); i++ {
		if d := sheds[i].Sub(sheds[i-1]); d < shedHold {
			t.Errorf("b shed twice within %v", d)
		}
	}
	for _, m := range s.logs(msgShed) {
		if m["dest"] != "b" {
			t.Errorf("shed warning %v, want dest b", m)
		}
	}
	lag := s.logs(msgLag)
	if len(lag) != 1 || lag[0]["dest"] != "b" ||
		kbps(lag[0], "stream_kbps") != vTarget/1000 || kbps(lag[0], "kbps") >= vTarget/1000 {
		t.Errorf("lag lines %v, want one, for b, its kbps below the stream's 3000", lag)
	}
	if !s.states[1].Lagging() || s.states[0].Lagging() {
		t.Errorf("Lagging: a %v, b %v; want b only", s.states[0].Lagging(), s.states[1].Lagging())
	}

	// b reconnects: not lagging while down; still slow when back, its lag
	// is logged again, once.
	s.links[1].reconnect(true)
	s.states[1].SetLive(false)
	s.run(time.Second)
	if s.states[1].Lagging() {
		t.Error("b lagging while down")
	}
	s.links[1].reconnect(false)
	s.states[1].SetLive(true)
	s.run(10 * time.Second)
	if n := len(s.logs(msgLag)); n != 2 || !s.states[1].Lagging() {
		t.Errorf("b back and still slow: %d lag lines (want 2), lagging %v", n, s.states[1].Lagging())
	}

	s.links[1].set(func(l *fakeLink) { l.capacity = 10_000_000 })
	s.run(40 * time.Second)
	if n, m := len(s.logs(msgLag)), len(s.logs(msgKeepsUp)); n != 2 || m != 1 {
		t.Errorf("after b widened: %d lag lines and %d recoveries, want 2 and 1", n, m)
	}
	if s.states[1].Lagging() {
		t.Error("b still lagging on a wide link")
	}
	if lo := s.bitrates(0); lo != vTarget {
		t.Errorf("the bitrate went down to %d", lo)
	}
}

// TestAdapterBehindIsNotLagging: b comes back with a decision from before
// the stream rose; its link is wide, its queue clear: it is not lagging,
// and climbs back without a word.
func TestAdapterBehindIsNotLagging(t *testing.T) {
	cfg := oneStream()
	cfg.Start = 1_500_000
	s := newSim(t, cfg, 10_000_000, 10_000_000)
	s.links[1].reconnect(true)
	s.states[1].SetLive(false)
	s.run(30 * time.Second)
	if b := s.enc.Bitrate(); b != vTarget {
		t.Fatalf("a alone: %d, want the target", b)
	}
	s.links[1].reconnect(false)
	s.states[1].SetLive(true)
	s.run(time.Second)
	if own := s.states[1].ctl.Bitrate(); own >= vTarget {
		t.Fatalf("b back at %d: the setting needs it below the stream", own)
	}
	s.run(30 * time.Second)
	if n := len(s.logs(msgLag)) + len(s.logs(msgKeepsUp)); n != 0 || s.states[1].Lagging() {
		t.Errorf("%d lag lines for a link with a clear queue, want none", n)
	}
	if own := s.states[1].ctl.Bitrate(); own != vTarget {
		t.Errorf("b at %d after 30 s on a wide link, want the target", own)
	}
}

// TestAdapterFollowSlowest: b carries 1500k: the stream follows it down,
// with nobody lagging, and the change names b.
func TestAdapterFollowSlowest(t *testing.T) {
	cfg := oneStream()
	cfg.Follow = FollowSlowest
	s := newSim(t, cfg, 10_000_000, 1_500_000)
	s.run(20 * time.Second)
	if lo, mean := s.bitrates(10*time.Second), s.mean(10*time.Second); lo < vMin || mean > 1_500_000-vAudio {
		t.Errorf("the bitrate is %d at least, %d on average; want the minimum, under b's 1500k less audio", lo, mean)
	}
	lines := s.logs(msgBitrate)
	if len(lines) == 0 || lines[0]["dest"] != "b" {
		t.Errorf("bitrate lines %v: want a first change by b", lines)
	}
	if n := len(s.logs(msgLag)); n != 0 {
		t.Errorf("%d lag lines: following the slowest, none lags", n)
	}
	if n := len(s.shedAt[0]) + len(s.shedAt[1]); n != 0 {
		t.Errorf("%d sheds, want none", n)
	}
}

// TestAdapterLinkDown: the slow link reconnects: it stops voting (and its
// stats are not read), the stream follows the other one; back, it votes
// again at once, its controller reset.
func TestAdapterLinkDown(t *testing.T) {
	cfg := oneStream()
	cfg.Follow = FollowSlowest
	s := newSim(t, cfg, 10_000_000, 1_500_000)
	s.run(20 * time.Second)
	slow := s.enc.Bitrate()
	aOwn := s.states[0].ctl.Bitrate()
	if slow >= aOwn {
		t.Fatalf("b at %d, a at %d: the setting needs b below a", slow, aOwn)
	}

	s.links[1].reconnect(true)
	s.states[1].SetLive(false)
	bOwn := s.states[1].ctl.Bitrate()
	s.run(tick)
	if b := s.enc.Bitrate(); b != aOwn {
		t.Errorf("with b down the bitrate is %d, want a's %d", b, aOwn)
	}
	lines := s.logs(msgBitrate)
	if why, _ := lines[len(lines)-1]["why"].(string); why != "following a, now the slowest destination" {
		t.Errorf("why %q", why)
	}
	s.run(3 * time.Second)
	if n := s.links[1].get().statsCalls; n != 0 {
		t.Errorf("b's stats read %d times while down", n)
	}
	if b := s.states[1].ctl.Bitrate(); b != bOwn {
		t.Errorf("b's controller moved from %d to %d while down", bOwn, b)
	}

	s.links[1].reconnect(false)
	s.states[1].SetLive(true)
	s.run(tick)
	if n := len(s.states[1].ctl.hist); n != 1 {
		t.Errorf("b's controller holds %d samples after its return, want 1 (reset)", n)
	}
	if len(s.states[1].acked) != 1 {
		t.Errorf("b's acked history holds %d points after its return, want 1", len(s.states[1].acked))
	}
	if b := s.enc.Bitrate(); b != bOwn {
		t.Errorf("b back: bitrate %d, want b's %d at once", b, bOwn)
	}
	s.run(15 * time.Second)
	if mean := s.mean(s.elapsed() - 10*time.Second); mean > 1_500_000-vAudio {
		t.Errorf("b back: the bitrate is %d on average, more than b carries", mean)
	}

	// None votes: nothing changes.
	for i := range s.links {
		s.links[i].reconnect(true)
		s.states[i].SetLive(false)
	}
	before, changes := s.enc.Bitrate(), s.ad.Changes()
	s.run(5 * time.Second)
	if s.enc.Bitrate() != before || s.ad.Changes() != changes {
		t.Errorf("with no link live the bitrate went from %d to %d", before, s.enc.Bitrate())
	}
}

// TestAdapterRemove: a removed link no longer votes, even if it says it
// is live; its stats are not read.
func TestAdapterRemove(t *testing.T) {
	cfg := oneStream()
	cfg.Follow = FollowSlowest
	s := newSim(t, cfg, 10_000_000, 1_500_000)
	s.run(20 * time.Second)
	aOwn := s.states[0].ctl.Bitrate()
	s.states[1].Remove()
	s.states[1].SetLive(true)
	s.links[1].set(func(l *fakeLink) { l.down = true }) // counts reads
	s.run(10 * time.Second)
	if lo := s.bitrates(20*time.Second + tick); lo != aOwn {
		t.Errorf("b removed: the bitrate went down to %d, want a's %d", lo, aOwn)
	}
	if n := s.links[1].get().statsCalls; n != 0 {
		t.Errorf("b's stats read %d times after its removal", n)
	}
}

// TestAdapterSetMax: the platform's maximum caps the encoder at once and
// every link's controller (one added later too); raised, the stream
// climbs back to the target, not beyond; with no link live, it still caps.
func TestAdapterSetMax(t *testing.T) {
	s := newSim(t, oneStream(), 10_000_000, 10_000_000)
	s.run(2 * time.Second)
	s.ad.SetMax(2_000_000)
	s.ad.SetMax(2_000_000)
	if b := s.enc.Bitrate(); b != 2_000_000 {
		t.Fatalf("after SetMax(2000k): %d", b)
	}
	if n := len(s.logs(msgMax)); n != 1 {
		t.Errorf("%d maximum lines for the same maximum twice, want 1", n)
	}
	lines := s.logs(msgBitrate)
	if len(lines) != 1 || lines[0]["why"] != "platform's maximum 2000 kbit/s" {
		t.Errorf("bitrate lines %v", lines)
	}
	late := s.ad.AddLink("c", &fakeLink{capacity: 10_000_000})
	for i, st := range append(s.states, late) {
		if b := st.ctl.Bitrate(); b > 2_000_000 {
			t.Errorf("link %d's controller at %d, above the maximum", i, b)
		}
	}
	s.links = append(s.links, late.link.(*fakeLink))
	s.shedAt = append(s.shedAt, nil)
	s.run(30 * time.Second)
	for _, p := range s.trace[10:] {
		if p.bitrate > 2_000_000 {
			t.Fatalf("the bitrate reached %d at %v under a maximum of 2000k", p.bitrate, p.at)
		}
	}

	s.ad.SetMax(8_000_000)
	s.run(40 * time.Second)
	if b := s.enc.Bitrate(); b != vTarget {
		t.Errorf("40 s after the maximum rose to 8000k: %d, want the target %d", b, vTarget)
	}

	for i := range s.links {
		s.ad.links[i].SetLive(false)
	}
	s.ad.SetMax(1_200_000)
	if b := s.enc.Bitrate(); b != 1_200_000 {
		t.Errorf("SetMax(1200k) with no link live: %d", b)
	}
}

// TestAdapterLadder: on a link narrower than 720p's minimum the picture
// goes to 480p 10 s after the bitrate rests at the minimum, not sooner and
// not further; widened, it comes back 10 s after 480p's target is
// reached with the queue clear.
func TestAdapterLadder(t *testing.T) {
	cfg := AdapterConfig{Target: vTarget, Min: testRungs[0].Min, Audio: vAudio, Rungs: testRungs}
	s := newSim(t, cfg, 10_000_000)
	s.run(5 * time.Second)
	s.links[0].set(func(l *fakeLink) { l.capacity = 1_200_000 })
	s.run(40 * time.Second)
	if want := []string{"854x480"}; !slices.Equal(s.enc.sizes, want) {
		t.Fatalf("sizes %v on a 1200k link, want %v", s.enc.sizes, want)
	}
	atMin := s.firstAt(func(b int) bool { return b <= testRungs[0].Min }, 0)
	if d := s.sizedAt[0].Sub(s.t0) - atMin; d < scaleDownAfter || d > scaleDownAfter+tick {
		t.Errorf("smaller picture %v after the bitrate reached the minimum, want %v", d, scaleDownAfter)
	}
	last := s.elapsed() - 10*time.Second
	if lo, mean := s.bitrates(last), s.mean(last); lo < testRungs[1].Min || mean > 1_200_000-vAudio {
		t.Errorf("at 480p the bitrate is %d at least, %d on average; "+
			"want 480p's minimum, under what the link carries", lo, mean)
	}

	widened := s.elapsed()
	s.links[0].set(func(l *fakeLink) { l.capacity = 10_000_000 })
	s.run(60 * time.Second)
	if want := []string{"854x480", "1280x720"}; !slices.Equal(s.enc.sizes, want) {
		t.Fatalf("sizes %v after the link widened, want %v", s.enc.sizes, want)
	}
	atTop := s.firstAt(func(b int) bool { return b >= testRungs[1].Target }, widened)
	if d := s.sizedAt[1].Sub(s.t0) - atTop; d < scaleUpAfter {
		t.Errorf("bigger picture %v after 480p's target, want %v at least", d, scaleUpAfter)
	}
	lines := s.logs(msgSize)
	if len(lines) != 2 || lines[0]["from"] != "1280x720" || lines[0]["to"] != "854x480" ||
		kbps(lines[1], "bitrate_kbps") != 1500 {
		t.Errorf("picture size lines %v", lines)
	}
	if b := s.enc.Bitrate(); b != vTarget {
		t.Errorf("back at 720p the bitrate is %d, want 720p's target", b)
	}
}

// TestAdapterLadderLagging: following the fastest, a link left behind
// (shedding, its queue long) does not keep the picture small once the
// fast link recovers.
func TestAdapterLadderLagging(t *testing.T) {
	cfg := AdapterConfig{Target: vTarget, Min: testRungs[0].Min, Audio: vAudio, Rungs: testRungs}
	s := newSim(t, cfg, 1_200_000, 300_000)
	s.run(30 * time.Second)
	if want := []string{"854x480"}; !slices.Equal(s.enc.sizes, want) {
		t.Fatalf("sizes %v, want %v", s.enc.sizes, want)
	}
	s.links[0].set(func(l *fakeLink) { l.capacity = 10_000_000 })
	s.run(40 * time.Second)
	if want := []string{"854x480", "1280x720"}; !slices.Equal(s.enc.sizes, want) {
		t.Errorf("sizes %v after a widened, want %v: b's queue must not hold the picture", s.enc.sizes, want)
	}
	if !s.states[1].Lagging() {
		t.Error("b not lagging")
	}
}

// TestAdapterLadderClearAndMax: the picture grows back only with the
// queue clear (a standing 120 ms queue holds it), under the platform's
// maximum, which the new rung's controller keeps; a move whose bitrate
// falls outside the new rung sets the encoder at once.
func TestAdapterLadderClearAndMax(t *testing.T) {
	rungs := []Rung{{1280, 720, vTarget, 1_500_000}, {854, 480, 1_200_000, 600_000}}
	cfg := AdapterConfig{Target: vTarget, Min: rungs[0].Min, Audio: vAudio, Rungs: rungs}
	s := newSim(t, cfg, 1_000_000)
	s.ad.SetMax(2_000_000)
	for len(s.enc.sizes) == 0 && s.elapsed() < time.Minute {
		s.run(tick)
	}
	if len(s.enc.sizes) != 1 || s.enc.Bitrate() != rungs[1].Target {
		t.Fatalf("sizes %v, bitrate %d after the move down: want one move, 480p's target %d",
			s.enc.sizes, s.enc.Bitrate(), rungs[1].Target)
	}
	s.links[0].set(func(l *fakeLink) { l.capacity, l.standing = 10_000_000, 120*time.Millisecond })
	s.run(30 * time.Second)
	if len(s.enc.sizes) != 1 {
		t.Fatalf("sizes %v: the picture grew with a 120 ms queue", s.enc.sizes)
	}
	s.links[0].set(func(l *fakeLink) { l.standing = 0 })
	s.run(40 * time.Second)
	if len(s.enc.sizes) != 2 {
		t.Fatalf("sizes %v: the picture did not grow with the queue clear", s.enc.sizes)
	}
	if b := s.enc.Bitrate(); b != 2_000_000 {
		t.Errorf("back at 720p under a maximum of 2000k: %d", b)
	}
}

// firstAt is when the encoder bitrate first met ok after from.
func (s *sim) firstAt(ok func(int) bool, from time.Duration) time.Duration {
	for _, p := range s.trace {
		if p.at > from && ok(p.bitrate) {
			return p.at
		}
	}
	s.t.Fatalf("never")
	return 0
}

// scriptLink reports the stats it is given.
type scriptLink struct{ st publish.Stats }

func (l *scriptLink) Stats() publish.Stats { return l.st }
func (l *scriptLink) Shed()                {}

// TestQueueDelay: the queue plus the kernel's unsent bytes, drained at
// the stream's rate before the link's is measured, at the link's after.
func TestQueueDelay(t *testing.T) {
	enc := &fakeEncoder{bitrate: 872_000}
	ad := NewAdapter(AdapterConfig{Target: vTarget, Min: vMin, Audio: vAudio, Encoder: enc})
	l := &scriptLink{publish.Stats{QueueDelay: 300 * time.Millisecond, Unsent: 50_000}}
	s := ad.AddLink("a", l)
	if d := s.QueueDelay(); d != 700*time.Millisecond { // 50 kB at 1000k
		t.Errorf("before a measure: %v, want 700ms", d)
	}
	now := time.Unix(1_000_000, 0)
	for range 10 {
		now = now.Add(tick)
		l.st.Bytes += 50_000 // 2 Mbit/s acknowledged, the unsent bytes steady
		ad.Step(now)
	}
	if d := s.QueueDelay(); d != 500*time.Millisecond { // 50 kB at 2000k
		t.Errorf("at 2 Mbit/s: %v, want 500ms", d)
	}
	// A new sender: its counters start again from zero.
	l.st.Bytes = 0
	for range 2 {
		now = now.Add(tick)
		l.st.Bytes += 50_000
		ad.Step(now)
	}
	if d := s.QueueDelay(); d != 500*time.Millisecond {
		t.Errorf("after the counters restarted: %v, want 500ms still", d)
	}
	if d := s.SendDelay(publish.Stats{Unsent: 25_000}); d != 100*time.Millisecond {
		t.Errorf("SendDelay: %v, want 100ms", d)
	}
}

func TestParseFollow(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Follow
		ok   bool
	}{
		{"fastest", FollowFastest, true},
		{"slowest", FollowSlowest, true},
		{"", 0, false},
		{"Fastest", 0, false},
		{"lowest", 0, false},
	} {
		f, err := ParseFollow(tt.in)
		if (err == nil) != tt.ok || tt.ok && (f != tt.want || f.String() != tt.in) {
			t.Errorf("ParseFollow(%q) = %v, %v", tt.in, f, err)
		}
	}
	var zero AdapterConfig
	if zero.Follow != FollowFastest {
		t.Error("the default is not FollowFastest")
	}
}

// TestAdapterRun: Run returns when done closes.
func TestAdapterRun(t *testing.T) {
	ad := NewAdapter(AdapterConfig{Target: vTarget, Encoder: &fakeEncoder{}})
	done := make(chan struct{})
	close(done)
	ad.Run(done)
}

// TestAdapterLadderDraining: down one rung, on a link that carries that
// rung's minimum with room to spare, the picture stays there while the
// backlog of the rung above drains, however long that takes: the link
// carries the stream, so resting at the minimum is not a reason to go
// smaller again (nginx-rtmp's 550k link once went 720p → 480p → 360p).
func TestAdapterLadderDraining(t *testing.T) {
	cfg := AdapterConfig{Target: vTarget, Min: testRungs[0].Min, Audio: vAudio, Rungs: testRungs}
	s := newSim(t, cfg, 10_000_000)
	s.run(5 * time.Second)
	s.links[0].set(func(l *fakeLink) { l.capacity = (testRungs[1].Min + vAudio) * 115 / 100 })
	s.run(60 * time.Second)
	if want := []string{"854x480"}; !slices.Equal(s.enc.sizes, want) {
		t.Fatalf("sizes %v on a link that carries 480p's minimum with 15%% to spare, want %v", s.enc.sizes, want)
	}
}
