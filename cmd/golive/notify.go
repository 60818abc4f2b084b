package main

import (
	"fmt"
	"sync"
	"time"

	"github.com/golive/golive/internal/pipeline"
	"github.com/golive/golive/internal/sdnotify"
)

// systemd is what a push tells systemd when it runs as a Type=notify
// service: READY=1 once live, STATUS= with the state and bitrate, and,
// under WatchdogSec=, WATCHDOG=1 only while the pipeline makes progress —
// so that systemd restarts a golive that hangs, which Restart=always alone
// cannot see.
type systemd struct {
	n     *sdnotify.Notifier
	once  sync.Once // READY=1
	stop  chan struct{}
	wg    sync.WaitGroup
	watch progress
}

// progress decides, from one status snapshot to the next, whether the
// pipeline moves: frames encoded, and bytes sent (by any output: one
// destination may be down while another and the recording go on) or a
// reconnection under way (the send queue drops what cannot go while it
// runs).
type progress struct {
	frames, bytes int64
}

func (p *progress) moved(st pipeline.Status) bool {
	bytes, reconnecting := st.Sent.Bytes, st.State == pipeline.StateReconnecting
	if len(st.Destinations) > 0 {
		bytes = 0
		for _, d := range st.Destinations {
			bytes += d.Sent.Bytes
			reconnecting = reconnecting || d.State == pipeline.StateReconnecting
		}
	}
	moved := st.Frames > p.frames && (bytes > p.bytes || reconnecting)
	p.frames, p.bytes = st.Frames, bytes
	return moved
}

// newSystemd connects to $NOTIFY_SOCKET (nil outside systemd).
func newSystemd() (*systemd, error) {
	n, err := sdnotify.FromEnv()
	if err != nil || n == nil {
		return nil, err
	}
	return &systemd{n: n, stop: make(chan struct{})}, nil
}

// statusEvery is how often the pipeline must report for the watchdog to
// see fresh figures at each ping.
func (s *systemd) statusEvery(every time.Duration) time.Duration {
	if s == nil || s.n.Watchdog == 0 {
		return every
	}
	return min(every, s.n.Watchdog/2)
}

func (s *systemd) state(st string) {
	if s == nil {
		return
	}
	switch st {
	case pipeline.StateLive:
		s.once.Do(func() { s.n.Send("READY=1\nSTATUS=live") })
	case pipeline.StateStopped:
		s.n.Send("STOPPING=1\nSTATUS=stopping")
	default:
		s.n.Send("STATUS=" + st)
	}
}

func (s *systemd) status(st pipeline.Status) {
	if s != nil {
		s.n.Send(fmt.Sprintf("STATUS=%s %d kbit/s (target %d), %.1f fps, encoder %s",
			st.State, st.Bitrate/1000, st.TargetBitrate/1000, st.FPS, st.Encoder))
	}
}

// watchdog pings every half $WATCHDOG_USEC while last shows progress.
func (s *systemd) watchdog(last func() *pipeline.Status) {
	if s == nil || s.n.Watchdog == 0 {
		return
	}
	s.wg.Go(func() {
		t := time.NewTicker(s.n.Watchdog)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
			if st := last(); st != nil && s.watch.moved(*st) {
				s.n.Send("WATCHDOG=1")
			}
		}
	})
}

func (s *systemd) close() {
	if s != nil {
		close(s.stop)
		s.wg.Wait()
		s.n.Close()
	}
}
