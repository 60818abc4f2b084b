package main

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golive/golive/internal/pipeline"
	"github.com/golive/golive/internal/status"
)

// monitor is what a push tells the outside world: the heartbeat to the
// platform and the /status and /metrics endpoints.
type monitor struct {
	started  time.Time
	streamID string
	protocol string
	host     string
	target   int    // before the first status: the preset's
	source   string // …and the source's kind
	last     atomic.Pointer[pipeline.Status]
	state    atomic.Value // string
	maxRate  atomic.Int64

	hb     *status.Heartbeat
	srv    *status.Server
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func newMonitor(o pushOptions) *monitor {
	// The stream is known by its first destination (the recording's path
	// when there is no URL).
	m := &monitor{started: time.Now(), protocol: pipeline.KindRecord, target: o.preset.Video.Bitrate}
	if len(o.URLs) > 0 {
		m.streamID, m.protocol = status.StreamID(o.URLs[0]), pipeline.URLKind(o.URLs[0], o.Protocol)
	} else {
		m.streamID = status.StreamID("file://" + o.Record)
	}
	m.source, _, _ = strings.Cut(o.Source, ":")
	m.host, _ = os.Hostname()
	m.state.Store(pipeline.StateStarting)
	return m
}

// start serves --status-addr and starts the heartbeat. A platform's stop
// order calls stop (a clean stop: exit 0); its maximum bitrate goes to ctl.
func (m *monitor) start(ctx context.Context, o pushOptions, log *slog.Logger, ctl *pipeline.Control, stop func()) error {
	if o.StatusAddr != "" {
		srv, err := status.Serve(o.StatusAddr, m.snapshot, log)
		if err != nil {
			return usagef("--status-addr: %v", err)
		}
		m.srv = srv
		log.Info("serving /status and /metrics", "component", "push", "addr", srv.Addr())
	}
	if o.HeartbeatURL == "" {
		return nil
	}
	m.hb = &status.Heartbeat{
		URL: o.HeartbeatURL, Token: o.HeartbeatToken, Interval: o.HeartbeatEvery, Snapshot: m.snapshot, Logger: log,
		OnStop: func(string) { stop() }, // the heartbeat logs the order and its reason
		OnMaxBitrate: func(bps int) {
			m.maxRate.Store(int64(bps))
			ctl.SetMaxBitrate(bps)
		},
	}
	if m.srv != nil {
		m.srv.SetHeartbeat(m.hb)
	}
	// The heartbeat outlives ctx: its last post says "stopped".
	hctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	m.cancel = cancel
	m.wg.Go(func() { m.hb.Run(hctx) })
	return nil
}

func (m *monitor) setState(s string) {
	m.state.Store(s)
	if m.hb != nil {
		m.hb.Notify()
	}
}

// stop sends the last heartbeat (state stopped) and closes the server.
func (m *monitor) stop() {
	m.state.Store(pipeline.StateStopped)
	if m.cancel != nil {
		m.cancel()
		m.wg.Wait()
	}
	if m.srv != nil {
		m.srv.Close()
	}
}

func (m *monitor) snapshot() status.Document {
	d := status.Document{
		StreamID: m.streamID, State: m.state.Load().(string), UptimeSeconds: time.Since(m.started).Seconds(),
		MaxBitrate: int(m.maxRate.Load()), Protocol: m.protocol, Host: m.host,
		Version: version, Time: time.Now(), TargetBitrate: m.target, Source: m.source,
	}
	if st := m.last.Load(); st != nil {
		d.TargetBitrate, d.ActualBitrate, d.FPS = st.TargetBitrate, st.Bitrate, st.FPS
		d.DroppedFrames, d.QueueDelayMS = st.Dropped, float64(st.QueueDelay)/1e6
		d.RTTMS, d.Reconnects, d.BitrateChanges = float64(st.Sent.RTT)/1e6, st.Reconnects, st.BitrateChanges
		d.Source, d.Encoder, d.EncoderFallbacks = st.Source, st.Encoder, st.EncoderFallbacks
		for _, x := range st.Destinations {
			d.Destinations = append(d.Destinations, status.Destination{
				Name: x.Name, Protocol: x.Kind, State: x.State, ActualBitrate: x.Bitrate,
				QueueDelayMS: float64(x.QueueDelay) / 1e6, RTTMS: float64(x.Sent.RTT) / 1e6, Reconnects: x.Reconnects,
				DroppedFrames: x.Sent.VideoDropped, Lagging: x.Lagging, Error: x.Error,
			})
		}
	}
	return d
}
