package abr

import (
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golive/golive/publish"
)

// Encoder is what the adapter steers: the one video encoder every
// destination shares (encode.Video satisfies it).
type Encoder interface {
	Bitrate() int
	SetBitrate(bps int)
	SetSize(w, h int)
}

// Link is one destination as the adapter sees it (the RTMP, WHIP and SRT
// publishers satisfy it).
type Link interface {
	Stats() publish.Stats
	// Shed drops the queued video up to a new keyframe, which it requests.
	Shed()
}

// Follow says whose decision the shared encoder follows when several
// destinations vote.
type Follow int

const (
	// FollowFastest: the highest decision. A destination that cannot
	// carry it falls behind and sheds video in its own queue; the others
	// keep their quality.
	FollowFastest Follow = iota
	// FollowSlowest: the lowest decision. Every destination keeps up, all
	// at the slowest one's quality.
	FollowSlowest
)

// ParseFollow reads --abr-follow: "fastest" or "slowest".
func ParseFollow(s string) (Follow, error) {
	switch s {
	case "fastest":
		return FollowFastest, nil
	case "slowest":
		return FollowSlowest, nil
	}
	return 0, fmt.Errorf("%q: want fastest or slowest", s)
}

func (f Follow) String() string {
	if f == FollowSlowest {
		return "slowest"
	}
	return "fastest"
}

const (
	// tick is how often the adapter samples the links: often enough to
	// react within a second, seldom enough to cost nothing.
	tick = 200 * time.Millisecond
	// A link sheds its queued video when even the minimum bitrate does
	// not fit it and this much waits to be sent, at most once a shedHold.
	shedDelay = 1500 * time.Millisecond
	shedHold  = 2 * time.Second
	// ackWindow: a link's rate is what it carried over about this long
	// (half of it at least).
	ackWindow = time.Second
)

// AdapterConfig configures an Adapter.
type AdapterConfig struct {
	Target int // the preset's video bitrate: the ceiling
	Min    int // the preset's minimum video bitrate
	Audio  int // audio bit/s, carried by every link
	Start  int // the bitrate the encoder starts at (0: Target); NewAdapter does not set it

	Encoder Encoder // required
	Follow  Follow
	// Rungs is the resolution ladder (--abr-scale), the configured picture
	// first (see Ladder); nil or one rung: the picture keeps its size.
	Rungs []Rung

	Logger *slog.Logger     // nil: discard
	Now    func() time.Time // the clock Run reads at each tick (nil: time.Now)
}

// Adapter runs an adaptive bitrate controller per destination and sets
// the shared encoder from their decisions: the highest (FollowFastest) or
// the lowest (FollowSlowest) of the links that are live. It also applies
// the platform's maximum (SetMax) and, with a ladder, the picture size.
// Safe for concurrent use.
type Adapter struct {
	enc    Encoder
	audio  int
	follow Follow
	log    *slog.Logger
	now    func() time.Time

	changes atomic.Int64

	mu      sync.Mutex // what follows, and the links' controllers and histories
	links   []*LinkState
	bitrate int // the stream's bitrate: the last vote applied
	// The bounds of the rung in use (the configured ones at first), and
	// the platform's maximum (0: none).
	target, minRate int
	maxRate         int
	// The resolution ladder, the rung in use, and since when the stream's
	// bitrate rests at its minimum or (below the top) at its target.
	rungs        []Rung
	level        int
	pinned, high time.Time
	scaled       time.Time // the last tick scale ran
}

// NewAdapter returns an adapter without links; the stream starts at
// cfg.Start, within the bounds.
func NewAdapter(cfg AdapterConfig) *Adapter {
	if cfg.Encoder == nil {
		panic("abr: NewAdapter without an Encoder")
	}
	a := &Adapter{
		enc: cfg.Encoder, audio: cfg.Audio, follow: cfg.Follow, now: cfg.Now,
		target: cfg.Target, minRate: cfg.Min, rungs: cfg.Rungs,
	}
	if a.minRate <= 0 || a.minRate > a.target {
		a.minRate = a.target // as New does
	}
	if a.now == nil {
		a.now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a.log = log.With("component", "abr")
	a.bitrate = a.controller(cfg.Start).Bitrate()
	return a
}

// controller is a new controller for the rung in use, starting at start
// and under the platform's maximum. Called with a.mu held (or before the
// adapter is shared).
func (a *Adapter) controller(start int) *Controller {
	c := New(Config{Target: a.target, Min: a.minRate, Audio: a.audio, Start: start})
	if a.maxRate > 0 {
		c.SetMax(a.maxRate)
	}
	return c
}

// LinkState is one destination's side of the adapter: its controller,
// what it carried, whether it votes.
type LinkState struct {
	a    *Adapter
	name string
	link Link

	down    atomic.Bool  // reconnecting: its samples mean nothing
	removed atomic.Bool  // failed for good
	rate    atomic.Int64 // what it carried over the last second, bit/s (0: not known yet)

	// Under a.mu.
	ctl      *Controller
	dec      Decision      // the last tick's
	delay    time.Duration // the last tick's send delay
	voting   bool          // in the last vote
	wasDown  bool
	lagging  bool
	lastShed time.Time
	// acked is what the far end acknowledged, sampled over the last
	// ackWindow.
	acked []ackPoint
}

type ackPoint struct {
	at    time.Time
	bytes int64
}

// AddLink adds a destination, live, whose controller starts at the
// stream's bitrate. name is its display name for the log (never a URL
// with a stream key). Meant for before Run, but safe at any time.
func (a *Adapter) AddLink(name string, l Link) *LinkState {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := &LinkState{a: a, name: name, link: l, ctl: a.controller(a.bitrate)}
	a.links = append(a.links, s)
	return s
}

// SetLive says whether the destination is connected. While it is not
// (reconnecting), it does not vote and its samples are not taken; when it
// is back, its controller forgets what it saw before.
func (s *LinkState) SetLive(live bool) { s.down.Store(!live) }

// Remove takes the destination out for good (it failed): it no longer
// votes.
func (s *LinkState) Remove() { s.removed.Store(true) }

// Lagging says whether the destination cannot keep up with the stream
// (FollowFastest): it sheds video in its own queue.
func (s *LinkState) Lagging() bool {
	s.a.mu.Lock()
	defer s.a.mu.Unlock()
	return s.lagging
}

// QueueDelay is how long what waits to be sent will take: the queue's
// media time plus the kernel's unsent bytes at the link's measured rate.
func (s *LinkState) QueueDelay() time.Duration { return s.SendDelay(s.link.Stats()) }

// SendDelay is QueueDelay for stats already read from the link.
func (s *LinkState) SendDelay(st publish.Stats) time.Duration { return sendDelay(st, s.drainRate()) }

func (s *LinkState) votes() bool { return !s.down.Load() && !s.removed.Load() }

// drainRate is what the kernel's unsent bytes drain at: the link's
// measured rate, or the stream's bitrate before there is a measure.
func (s *LinkState) drainRate() int {
	if r := s.rate.Load(); r > 0 {
		return int(max(r, 100_000))
	}
	return s.a.enc.Bitrate() + s.a.audio
}

// sendDelay is how long what waits to be sent will take: the queue's media
// time plus the kernel's unsent bytes at rate (bit/s).
func sendDelay(st publish.Stats, rate int) time.Duration {
	d := st.QueueDelay
	if st.Unsent > 0 && rate > 0 {
		d += time.Duration(int64(st.Unsent) * 8 * int64(time.Second) / int64(rate))
	}
	return d
}

// Run steps every tick until done.
func (a *Adapter) Run(done <-chan struct{}) {
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
			a.Step(a.now())
		}
	}
}

// Step samples every live link, updates its controller, and sets the
// encoder from their votes; then the ladder, the lag of each link and
// its shedding. One tick: Run calls it; tests call it with a fake clock.
func (a *Adapter) Step(now time.Time) {
	a.mu.Lock()
	links := a.links
	a.mu.Unlock()
	// The links' stats are read without a.mu: a sender may be busy.
	votes := make([]bool, len(links))
	stats := make([]publish.Stats, len(links))
	for i, s := range links {
		if votes[i] = s.votes(); votes[i] {
			stats[i] = s.link.Stats()
		}
	}

	a.mu.Lock()
	for i, s := range links {
		s.voting = votes[i]
		if !s.voting {
			s.wasDown, s.lagging = true, false // it will be judged afresh
			continue
		}
		s.sample(now, stats[i])
	}
	b, leader := a.vote()
	if leader == nil {
		a.mu.Unlock()
		return // none votes: nothing to go by
	}
	if b != a.bitrate {
		why := leader.dec.Reason
		if !leader.dec.Changed {
			// The vote moved without its winner's decision moving: a
			// destination stopped voting or another one fell below it.
			why = fmt.Sprintf("following %s, now the %s destination", leader.name, a.follow)
		}
		a.apply(b, why, leader)
	}
	if len(a.rungs) > 1 {
		a.scale(now)
	}
	var shed []*LinkState
	for _, s := range links {
		if !s.voting {
			continue
		}
		a.trackLag(s)
		if s.dec.Starved && s.delay >= shedDelay && now.Sub(s.lastShed) >= shedHold {
			s.lastShed = now
			shed = append(shed, s)
		}
	}
	several := len(links) > 1
	a.mu.Unlock()

	for _, s := range shed {
		// Even the minimum does not fit: what is queued would only arrive
		// later and later. Drop it up to a new keyframe; audio goes on.
		s.link.Shed()
		attrs := []any{"queue", s.delay.Round(time.Millisecond)}
		if several {
			attrs = append(attrs, "dest", s.name)
		}
		a.log.Warn("the link carries less than the minimum bitrate: dropping queued video up to a new keyframe", attrs...)
	}
}

// sample takes one tick's stats into the link's history and controller.
// Called with a.mu held.
func (s *LinkState) sample(now time.Time, st publish.Stats) {
	// What the far end acknowledged: bytes handed to the kernel, less what
	// it still holds. Counting only what was written would take a filling
	// socket buffer (and the bottleneck's queue) for throughput.
	acked := st.Bytes - int64(st.Unsent)
	if s.wasDown || len(s.acked) > 0 && acked < s.acked[len(s.acked)-1].bytes {
		// Back from a reconnection (or a new sender's counters): what was
		// carried before says nothing of the new session, and a span over
		// the outage would make the rate look tiny and the delay huge.
		s.acked = s.acked[:0]
	}
	s.acked = append(s.acked, ackPoint{now, acked})
	for len(s.acked) > 2 && now.Sub(s.acked[1].at) >= ackWindow {
		s.acked = s.acked[1:]
	}
	if first := s.acked[0]; now.Sub(first.at) >= ackWindow/2 {
		s.rate.Store(int64(float64(acked-first.bytes) * 8 / now.Sub(first.at).Seconds()))
	}
	s.delay = sendDelay(st, s.drainRate())
	if s.wasDown {
		s.ctl.Reset()
		s.wasDown = false
	}
	s.dec = s.ctl.Update(Sample{
		At: now, QueueDelay: s.delay, SentBytes: acked, Estimate: st.EstimateBitrate, Loss: st.Loss,
	})
}

// vote is the stream's bitrate by the links that vote: the highest or the
// lowest of their decisions, and the link that made it (nil: none votes;
// of equal decisions, one that changed). Called with a.mu held.
func (a *Adapter) vote() (int, *LinkState) {
	var leader *LinkState
	for _, s := range a.links {
		if !s.voting {
			continue
		}
		b := s.ctl.Bitrate()
		switch {
		case leader == nil,
			a.follow == FollowSlowest && b < leader.ctl.Bitrate(),
			a.follow != FollowSlowest && b > leader.ctl.Bitrate(),
			b == leader.ctl.Bitrate() && s.dec.Changed && !leader.dec.Changed:
			leader = s
		}
	}
	if leader == nil {
		return 0, nil
	}
	return leader.ctl.Bitrate(), leader
}

// apply sets the encoder to the stream's new bitrate. Called with a.mu held.
func (a *Adapter) apply(b int, why string, leader *LinkState) {
	from := a.enc.Bitrate()
	a.enc.SetBitrate(b)
	a.bitrate = b
	a.changes.Add(1)
	attrs := []any{"from_kbps", from / 1000, "to_kbps", b / 1000, "why", why}
	if len(a.links) > 1 && leader != nil {
		attrs = append(attrs, "dest", leader.name)
	}
	a.log.Info("bitrate", attrs...)
}

// trackLag notes (in the log, once each way) a link that cannot carry the
// stream: its own decision is below the stream's bitrate and its queue is
// congested, until its decision has climbed back to the stream's. (A
// decision merely below, say one tick late in stepping up, with the queue
// clear, is not lagging.) Only FollowFastest leaves a link behind.
// Called with a.mu held.
func (a *Adapter) trackLag(s *LinkState) {
	own := s.ctl.Bitrate()
	switch {
	case !s.lagging && own < a.bitrate && s.delay >= congestedDelay:
		s.lagging = true
		a.log.Warn("destination cannot keep up: shedding video to keyframes in its own queue",
			"dest", s.name, "kbps", own/1000, "stream_kbps", a.bitrate/1000, "queue", s.delay.Round(time.Millisecond))
	case s.lagging && own >= a.bitrate:
		s.lagging = false
		a.log.Info("destination keeps up again", "dest", s.name, "kbps", own/1000, "stream_kbps", a.bitrate/1000)
	}
}

// SetMax applies the platform's maximum bitrate (bit/s) to every link's
// controller, and to the encoder at once.
func (a *Adapter) SetMax(bps int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if bps <= 0 || bps == a.maxRate {
		return
	}
	a.maxRate = bps
	for _, s := range a.links {
		if !s.removed.Load() {
			s.ctl.SetMax(bps)
		}
		s.voting = s.votes()
	}
	a.log.Info("platform's maximum bitrate", "kbps", bps/1000)
	b, leader := a.vote()
	if leader == nil {
		// None votes: cap the stream as a controller would.
		b = min(a.bitrate, max(min(bps, a.target), a.minRate))
	}
	if b != a.bitrate {
		a.apply(b, fmt.Sprintf("platform's maximum %d kbit/s", bps/1000), leader)
	}
}

// Changes counts the changes of bitrate and picture size made.
func (a *Adapter) Changes() int64 { return a.changes.Load() }
