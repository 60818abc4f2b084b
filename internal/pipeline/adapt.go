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
	enabled bool
	venc    *encode.Video
	pub     sender
	audio   int // audio bit/s, for turning unsent bytes into time
	log     *slog.Logger

	mu       sync.Mutex // ctl
	ctl      *abr.Controller
	down     atomic.Bool // reconnecting: samples mean nothing
	wasDown  bool
	lastShed time.Time
	changes  atomic.Int64
	maxRate  atomic.Int64 // the platform's maximum (0: none)
}

func newAdapter(enabled bool, target, minRate, audio int, venc *encode.Video, pub sender, log *slog.Logger) *adapter {
	return &adapter{
		enabled: enabled, venc: venc, pub: pub, audio: audio, log: log.With("component", "abr"),
		ctl: abr.New(abr.Config{Target: target, Min: minRate, Audio: audio}),
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

// sendDelay is how long what waits to be sent will take: the queue's media
// time plus the kernel's unsent bytes at the stream's bitrate.
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
	delay := sendDelay(st, a.venc.Bitrate()+a.audio)
	a.mu.Lock()
	if a.wasDown {
		a.ctl.Reset()
		a.wasDown = false
	}
	d := a.ctl.Update(abr.Sample{At: now, QueueDelay: delay, SentBytes: st.Bytes, Estimate: st.EstimateBitrate, Loss: st.Loss})
	a.mu.Unlock()
	if d.Changed {
		a.apply(d)
	}
	if d.Starved && delay >= time.Second && now.Sub(a.lastShed) >= shedHold {
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
