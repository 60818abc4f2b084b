package pipeline

import (
	"time"

	"github.com/golive/golive/internal/abr"
	"github.com/golive/golive/media"
)

// reporter makes the Status snapshots: the encoder's and each output's
// counters, rates over the last interval.
type reporter struct {
	clock *media.Clock
	enc   *encoders
	qs    []*frameQueue
	outs  []*output
	ad    *abr.Adapter

	lastFrames int64
	lastBytes  []int64
	last       time.Duration
}

func (r *reporter) run(every time.Duration, done <-chan struct{}, fn func(Status)) {
	t := time.NewTicker(every)
	defer t.Stop()
	r.lastBytes = make([]int64, len(r.outs))
	r.last = r.clock.Now()
	for {
		select {
		case <-done:
			return
		case <-t.C:
		}
		fn(r.snapshot())
	}
}

// snapshot is the status now. The push's totals: bitrate the sum of the
// outputs', queue delay the longest of the network outputs' (the
// recording's when there is none), the network's counters (Sent) those of
// the first network output still running.
func (r *reporter) snapshot() Status {
	now := r.clock.Now()
	dt := (now - r.last).Seconds()
	v := r.enc.video
	frames, _, _ := v.Stats()
	st := Status{
		Elapsed: now, FPS: float64(frames-r.lastFrames) / dt, TargetBitrate: v.Bitrate(), Frames: frames,
		Dropped: dropped(r.qs...), Encoder: v.Encoder(), EncoderFallbacks: v.Fallbacks(), BitrateChanges: r.ad.Changes(),
	}
	primary := -1
	for i, o := range r.outs {
		sent := o.stats()
		d := DestinationStatus{
			Name: o.name, Kind: o.kind, State: o.State(), Sent: sent, QueueDelay: sent.QueueDelay,
			Bitrate: int(float64(sent.Bytes-r.lastBytes[i]) * 8 / dt),
		}
		if o.network { // a recording's sessions are its files
			d.Reconnects = max(sent.Sessions-1, 0)
		}
		if o.link != nil {
			d.QueueDelay, d.Lagging = o.link.SendDelay(sent), o.link.Lagging()
		}
		o.mu.Lock()
		if o.err != nil {
			d.Error = o.err.Error()
		}
		o.mu.Unlock()
		r.lastBytes[i] = sent.Bytes
		st.Destinations = append(st.Destinations, d)
		st.Bitrate += d.Bitrate
		st.Reconnects += d.Reconnects
		if o.network && (primary < 0 || st.Destinations[primary].State == StateStopped && d.State != StateStopped) {
			primary = i
		}
	}
	if primary < 0 {
		primary = 0
	}
	p := st.Destinations[primary]
	st.Sent, st.QueueDelay = p.Sent, p.QueueDelay
	for _, d := range st.Destinations {
		if d.Kind != KindRecord && d.State != StateStopped {
			st.QueueDelay = max(st.QueueDelay, d.QueueDelay)
		}
	}
	st.Dropped += st.Sent.VideoDropped
	r.lastFrames, r.last = frames, now
	return st
}
