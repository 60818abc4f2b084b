package pipeline

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golive/golive/encode"
	"github.com/golive/golive/internal/abr"
	"github.com/golive/golive/publish"
)

// abrTick is how often the controller samples the sender: often enough to
// react within a second, seldom enough to cost nothing.
const abrTick = 200 * time.Millisecond

// shedHold: at most one shedding of queued video per this long.
const shedHold = 2 * time.Second

// adapter runs the adaptive bitrate controller against a sender and sets
// the encoder; it also applies the platform's maximum (heartbeat).
type adapter struct {
	venc  *encode.Video
	pub   sender
	audio int // audio bit/s, for turning unsent bytes into time
	log   *slog.Logger

	mu       sync.Mutex // ctl
	ctl      *abr.Controller
	down     atomic.Bool // reconnecting: samples mean nothing
	wasDown  bool
	lastShed time.Time
	changes  atomic.Int64
	maxRate  atomic.Int64 // the platform's maximum (0: none)
	// acked is what the server acknowledged, sampled over the last
	// second; link is the rate that gives (bit/s; 0: not known yet).
	acked []ackPoint
	link  atomic.Int64
	// The resolution ladder (--abr-scale; one rung: off), the rung in use,
	// and since when the bitrate rests at its minimum or (below the top)
	// at its target.
	rungs        []rung
	level        int
	pinned, high time.Time
}

type ackPoint struct {
	at    time.Time
	bytes int64
}

func newAdapter(target, minRate, audio, start int, venc *encode.Video, pub sender, log *slog.Logger) *adapter {
	return &adapter{
		venc: venc, pub: pub, audio: audio, log: log.With("component", "abr"),
		ctl: abr.New(abr.Config{Target: target, Min: minRate, Audio: audio, Start: start}),
	}
}

// run samples every abrTick until done.
func (a *adapter) run(done <-chan struct{}) {
	t := time.NewTicker(abrTick)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case now := <-t.C:
			a.step(now)
		}
	}
}

// rate is what the kernel's unsent bytes drain at: the link's measured
// rate, or the stream's bitrate before there is a measure.
func (a *adapter) rate() int {
	if r := a.link.Load(); r > 0 {
		return int(max(r, 100_000))
	}
	return a.venc.Bitrate() + a.audio
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

// setLive pauses the controller while the sender reconnects.
func (a *adapter) setLive(live bool) { a.down.Store(!live) }

func (a *adapter) step(now time.Time) {
	if a.down.Load() {
		a.wasDown = true
		return
	}
	st := a.pub.Stats()
	// What the server acknowledged: bytes handed to the kernel, less what
	// it still holds. Counting only what was written would take a filling
	// socket buffer (and the bottleneck's queue) for throughput.
	acked := st.Bytes - int64(st.Unsent)
	a.acked = append(a.acked, ackPoint{now, acked})
	for len(a.acked) > 2 && now.Sub(a.acked[1].at) >= time.Second {
		a.acked = a.acked[1:]
	}
	if first := a.acked[0]; now.Sub(first.at) >= time.Second/2 {
		a.link.Store(int64(float64(acked-first.bytes) * 8 / now.Sub(first.at).Seconds()))
	}
	delay := sendDelay(st, a.rate())
	a.mu.Lock()
	if a.wasDown {
		a.ctl.Reset()
		a.wasDown = false
	}
	d := a.ctl.Update(abr.Sample{At: now, QueueDelay: delay, SentBytes: acked, Estimate: st.EstimateBitrate, Loss: st.Loss})
	if d.Changed {
		a.apply(d)
	}
	if len(a.rungs) > 1 {
		a.scale(now, delay)
	}
	a.mu.Unlock()
	if d.Starved && delay >= 1500*time.Millisecond && now.Sub(a.lastShed) >= shedHold {
		// Even the minimum does not fit: what is queued would only arrive
		// later and later. Drop it up to a new keyframe; audio goes on.
		a.lastShed = now
		a.pub.Shed()
		a.log.Warn("the link carries less than the minimum bitrate: dropping queued video up to a new keyframe", "queue", delay.Round(time.Millisecond))
	}
}

func (a *adapter) apply(d abr.Decision) {
	from := a.venc.Bitrate()
	a.venc.SetBitrate(d.Bitrate)
	a.changes.Add(1)
	a.log.Info("bitrate", "from_kbps", from/1000, "to_kbps", d.Bitrate/1000, "why", d.Reason)
}

// setMax applies the platform's maximum bitrate (bit/s).
func (a *adapter) setMax(bps int) {
	if bps <= 0 || int64(bps) == a.maxRate.Swap(int64(bps)) {
		return
	}
	a.mu.Lock()
	d := a.ctl.SetMax(bps)
	a.mu.Unlock()
	a.log.Info("platform's maximum bitrate", "kbps", bps/1000)
	if d.Changed {
		a.apply(d)
	}
}

// Changes counts the bitrate changes made.
func (a *adapter) Changes() int64 { return a.changes.Load() }
