package status

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/common/expfmt"
)

// Server serves GET /status (the Document as JSON) and GET /metrics
// (Prometheus text format 0.0.4) on a local address. /metrics has the
// golive_* families, then the process_* and go_* families of the Prometheus
// client library's process and Go collectors.
type Server struct {
	ln        net.Listener
	srv       *http.Server
	snapshot  func() Document
	hb        atomic.Pointer[Heartbeat]
	reg       *prometheus.Registry // process_* and go_*
	log       *slog.Logger
	gatherErr sync.Once // logs the first failed Gather only
	done      chan struct{}
	closeOnce sync.Once
	closeErr  error
}

// Serve listens on addr ("127.0.0.1:9090"; port 0 picks a free one) and
// serves in the background until Close. A bad or taken address is an error
// returned at once.
func Serve(addr string, snapshot func() Document, log *slog.Logger) (*Server, error) {
	if addr == "" || snapshot == nil {
		return nil, errors.New("status: serve: no address or no snapshot function")
	}
	if log == nil {
		log = slog.Default()
	}
	log = log.With("component", "status.server")
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("status: listen on %s: %w", addr, err)
	}
	s := &Server{ln: ln, snapshot: snapshot, done: make(chan struct{}), reg: runtimeRegistry(), log: log}
	s.srv = &http.Server{
		Handler:           http.HandlerFunc(s.serveHTTP),
		ReadHeaderTimeout: 5 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			log.Error("status server stopped", "error", err)
		}
	}()
	log.Info("serving /status and /metrics", "addr", s.Addr())
	return s, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// SetHeartbeat adds the heartbeat's post counts to /metrics
// (golive_heartbeats_sent_total, golive_heartbeats_failed_total).
func (s *Server) SetHeartbeat(h *Heartbeat) { s.hb.Store(h) }

// Close stops the server and waits for it; it is idempotent.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		if err := s.srv.Close(); err != nil {
			s.closeErr = fmt.Errorf("status: close: %w", err)
		}
		<-s.done
	})
	return s.closeErr
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/status" && r.URL.Path != "/metrics" {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	d := take(s.snapshot)
	var body []byte
	if r.URL.Path == "/status" {
		body, _ = json.Marshal(d) // cannot fail: take removed NaN and ±Inf
		body = append(body, '\n')
		w.Header().Set("Content-Type", "application/json")
	} else {
		body = s.runtimeMetrics(metrics(d, s.hb.Load()))
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.Write(body)
}

// runtimeRegistry is a private registry (not the library's global default)
// with the process collector (process_*: CPU seconds, resident and virtual
// memory, open and max fds, start time...) and the Go collector (go_*:
// goroutines, threads, GC durations, memstats...).
func runtimeRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewGoCollector(),
	)
	return reg
}

// textFormat is the Prometheus text exposition format 0.0.4, the one the
// golive_* families are written in.
var textFormat = expfmt.NewFormat(expfmt.TypeTextPlain)

// runtimeMetrics appends the registry's families to b, in text format 0.0.4.
// A collector that fails (a /proc file missing) leaves out its own metrics,
// not the others: Gather returns what it could collect.
func (s *Server) runtimeMetrics(b []byte) []byte {
	mfs, err := s.reg.Gather()
	if err != nil {
		s.gatherErr.Do(func() { s.log.Warn("some process or Go metrics are missing from /metrics", "error", err) })
	}
	buf := bytes.NewBuffer(b)
	enc := expfmt.NewEncoder(buf, textFormat)
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			s.gatherErr.Do(func() { s.log.Warn("cannot encode a metric family for /metrics", "family", mf.GetName(), "error", err) })
		}
	}
	return buf.Bytes()
}

// metrics renders d (and h's counts, when h is not nil) in the Prometheus
// text exposition format 0.0.4.
func metrics(d Document, h *Heartbeat) []byte {
	var b bytes.Buffer
	family := func(name, typ, help string) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
	}
	metric := func(name, typ, help string, v float64) {
		family(name, typ, help)
		fmt.Fprintf(&b, "%s %s\n", name, strconv.FormatFloat(v, 'f', -1, 64))
	}
	metric("golive_up", "gauge", "1 while golive runs.", 1)
	family("golive_state", "gauge", "State of the stream: 1 for the current one, 0 for the others.")
	for _, st := range states {
		v := 0
		if st == d.State {
			v = 1
		}
		fmt.Fprintf(&b, "golive_state{state=\"%s\"} %d\n", label(st), v)
	}
	family("golive_info", "gauge", "Build and stream information (always 1).")
	fmt.Fprintf(&b, "golive_info{version=\"%s\",encoder=\"%s\",protocol=\"%s\",source=\"%s\",host=\"%s\",stream_id=\"%s\"} 1\n",
		label(d.Version), label(d.Encoder), label(d.Protocol), label(d.Source), label(d.Host), label(d.StreamID))
	metric("golive_uptime_seconds", "gauge", "Seconds since the stream started.", d.UptimeSeconds)
	metric("golive_target_bitrate_bps", "gauge", "Video bitrate the encoder is set to, in bit/s.", float64(d.TargetBitrate))
	metric("golive_actual_bitrate_bps", "gauge", "Bitrate sent over the last interval, in bit/s.", float64(d.ActualBitrate))
	metric("golive_max_bitrate_bps", "gauge", "Bitrate cap ordered by the platform, in bit/s (0: none).", float64(d.MaxBitrate))
	metric("golive_fps", "gauge", "Video frames per second sent.", d.FPS)
	metric("golive_dropped_frames_total", "counter", "Video frames dropped.", float64(d.DroppedFrames))
	metric("golive_queue_delay_seconds", "gauge", "Media time waiting in the send queue.", d.QueueDelayMS/1000)
	metric("golive_rtt_seconds", "gauge", "Round-trip time to the server.", d.RTTMS/1000)
	metric("golive_reconnects_total", "counter", "Reconnections to the server.", float64(d.Reconnects))
	metric("golive_bitrate_changes_total", "counter", "Changes of the encoder's bitrate.", float64(d.BitrateChanges))
	metric("golive_encoder_fallbacks_total", "counter", "Hardware encoders that failed mid-stream and were replaced by libx264.", float64(d.EncoderFallbacks))
	if len(d.Destinations) > 0 {
		each := func(name, typ, help string, v func(Destination) float64) {
			family(name, typ, help)
			for _, x := range d.Destinations {
				fmt.Fprintf(&b, "%s{dest=\"%s\",protocol=\"%s\"} %s\n", name, label(x.Name), label(x.Protocol),
					strconv.FormatFloat(v(x), 'f', -1, 64))
			}
		}
		each("golive_destination_up", "gauge", "1 while the destination is live (connected, or the recording writing).", func(x Destination) float64 {
			if x.State == Live {
				return 1
			}
			return 0
		})
		each("golive_destination_bitrate_bps", "gauge", "Bitrate sent to the destination over the last interval, in bit/s.", func(x Destination) float64 { return float64(x.ActualBitrate) })
		each("golive_destination_queue_delay_seconds", "gauge", "Media time waiting to be sent to the destination.", func(x Destination) float64 { return x.QueueDelayMS / 1000 })
		each("golive_destination_rtt_seconds", "gauge", "Round-trip time to the destination (0: unknown).", func(x Destination) float64 { return x.RTTMS / 1000 })
		each("golive_destination_reconnects_total", "counter", "Reconnections to the destination.", func(x Destination) float64 { return float64(x.Reconnects) })
		each("golive_destination_dropped_frames_total", "counter", "Video frames dropped in the destination's send queue.", func(x Destination) float64 { return float64(x.DroppedFrames) })
		each("golive_destination_lagging", "gauge", "1 while the destination cannot keep up with the shared encoder and sheds video.", func(x Destination) float64 {
			if x.Lagging {
				return 1
			}
			return 0
		})
	}
	if h != nil {
		sent, failed := h.Counts()
		metric("golive_heartbeats_sent_total", "counter", "Heartbeats the platform accepted.", float64(sent))
		metric("golive_heartbeats_failed_total", "counter", "Heartbeats that failed.", float64(failed))
	}
	return b.Bytes()
}

var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

// label escapes a label value: backslash, double quote and line feed.
func label(v string) string {
	return labelEscaper.Replace(strings.ToValidUTF8(v, "\uFFFD"))
}
