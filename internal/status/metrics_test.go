package status

import (
	"net/http"
	"os"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// goldenGolive is /metrics' golive_* part for testDoc(Live) with a heartbeat
// that sent 4 and failed 3, as golive served it before the process and Go
// collectors came: the families, their order, HELP, TYPE, labels and values
// must not change.
const goldenGolive = `
# HELP golive_up 1 while golive runs.
# TYPE golive_up gauge
golive_up 1
# HELP golive_state State of the stream: 1 for the current one, 0 for the others.
# TYPE golive_state gauge
golive_state{state="starting"} 0
golive_state{state="live"} 1
golive_state{state="reconnecting"} 0
golive_state{state="stopped"} 0
# HELP golive_info Build and stream information (always 1).
# TYPE golive_info gauge
golive_info{version="1.2.3",encoder="x264",protocol="rtmp",source="camera",host="kiosk-1",stream_id="live.example.com/app/0badc0de"} 1
# HELP golive_uptime_seconds Seconds since the stream started.
# TYPE golive_uptime_seconds gauge
golive_uptime_seconds 12.5
# HELP golive_target_bitrate_bps Video bitrate the encoder is set to, in bit/s.
# TYPE golive_target_bitrate_bps gauge
golive_target_bitrate_bps 2500000
# HELP golive_actual_bitrate_bps Bitrate sent over the last interval, in bit/s.
# TYPE golive_actual_bitrate_bps gauge
golive_actual_bitrate_bps 2400000
# HELP golive_max_bitrate_bps Bitrate cap ordered by the platform, in bit/s (0: none).
# TYPE golive_max_bitrate_bps gauge
golive_max_bitrate_bps 3000000
# HELP golive_fps Video frames per second sent.
# TYPE golive_fps gauge
golive_fps 29.97
# HELP golive_dropped_frames_total Video frames dropped.
# TYPE golive_dropped_frames_total counter
golive_dropped_frames_total 7
# HELP golive_queue_delay_seconds Media time waiting in the send queue.
# TYPE golive_queue_delay_seconds gauge
golive_queue_delay_seconds 0.25
# HELP golive_rtt_seconds Round-trip time to the server.
# TYPE golive_rtt_seconds gauge
golive_rtt_seconds 0.04
# HELP golive_reconnects_total Reconnections to the server.
# TYPE golive_reconnects_total counter
golive_reconnects_total 2
# HELP golive_bitrate_changes_total Changes of the encoder's bitrate.
# TYPE golive_bitrate_changes_total counter
golive_bitrate_changes_total 5
# HELP golive_encoder_fallbacks_total Hardware encoders that failed mid-stream and were replaced by libx264.
# TYPE golive_encoder_fallbacks_total counter
golive_encoder_fallbacks_total 1
# HELP golive_destination_up 1 while the destination is live (connected, or the recording writing).
# TYPE golive_destination_up gauge
golive_destination_up{dest="rtmp://live.example.com/app/0badc0de",protocol="rtmp"} 1
golive_destination_up{dest="record",protocol="record"} 1
# HELP golive_destination_bitrate_bps Bitrate sent to the destination over the last interval, in bit/s.
# TYPE golive_destination_bitrate_bps gauge
golive_destination_bitrate_bps{dest="rtmp://live.example.com/app/0badc0de",protocol="rtmp"} 2400000
golive_destination_bitrate_bps{dest="record",protocol="record"} 2450000
# HELP golive_destination_queue_delay_seconds Media time waiting to be sent to the destination.
# TYPE golive_destination_queue_delay_seconds gauge
golive_destination_queue_delay_seconds{dest="rtmp://live.example.com/app/0badc0de",protocol="rtmp"} 0.25
golive_destination_queue_delay_seconds{dest="record",protocol="record"} 0
# HELP golive_destination_rtt_seconds Round-trip time to the destination (0: unknown).
# TYPE golive_destination_rtt_seconds gauge
golive_destination_rtt_seconds{dest="rtmp://live.example.com/app/0badc0de",protocol="rtmp"} 0.04
golive_destination_rtt_seconds{dest="record",protocol="record"} 0
# HELP golive_destination_reconnects_total Reconnections to the destination.
# TYPE golive_destination_reconnects_total counter
golive_destination_reconnects_total{dest="rtmp://live.example.com/app/0badc0de",protocol="rtmp"} 2
golive_destination_reconnects_total{dest="record",protocol="record"} 0
# HELP golive_destination_dropped_frames_total Video frames dropped in the destination's send queue.
# TYPE golive_destination_dropped_frames_total counter
golive_destination_dropped_frames_total{dest="rtmp://live.example.com/app/0badc0de",protocol="rtmp"} 7
golive_destination_dropped_frames_total{dest="record",protocol="record"} 0
# HELP golive_destination_lagging 1 while the destination cannot keep up with the shared encoder and sheds video.
# TYPE golive_destination_lagging gauge
golive_destination_lagging{dest="rtmp://live.example.com/app/0badc0de",protocol="rtmp"} 0
golive_destination_lagging{dest="record",protocol="record"} 1
# HELP golive_heartbeats_sent_total Heartbeats the platform accepted.
# TYPE golive_heartbeats_sent_total counter
golive_heartbeats_sent_total 4
# HELP golive_heartbeats_failed_total Heartbeats that failed.
# TYPE golive_heartbeats_failed_total counter
golive_heartbeats_failed_total 3
`

// The golive_* families come first, byte for byte as before, then the
// process_* and go_* families a fleet operator expects of any Go exporter;
// the whole response is valid text format 0.0.4.
func TestMetricsRuntime(t *testing.T) {
	h := &Heartbeat{}
	h.sent.Add(4)
	h.failed.Add(3)
	s, err := Serve("127.0.0.1:0", func() Document { return testDoc(Live) }, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.SetHeartbeat(h)
	runtime.GC() // go_gc_duration_seconds has a collection to count
	start := time.Now()

	code, ctype, body := get(t, http.MethodGet, "http://"+s.Addr()+"/metrics")
	if code != http.StatusOK || ctype != "text/plain; version=0.0.4; charset=utf-8" {
		t.Fatalf("/metrics: %d %q", code, ctype)
	}
	golden := strings.TrimPrefix(goldenGolive, "\n")
	rest, ok := strings.CutPrefix(body, golden)
	if !ok {
		t.Errorf("/metrics does not begin with golive's families as before:\n%s", body)
	}
	if strings.Contains(rest, "golive_") {
		t.Errorf("/metrics: golive_ after golive's families:\n%s", rest)
	}

	// Each family once: one HELP and one TYPE.
	for _, kind := range []string{"HELP", "TYPE"} {
		seen := map[string]int{}
		for _, m := range regexp.MustCompile(`(?m)^# `+kind+` (\S+)`).FindAllStringSubmatch(body, -1) {
			if seen[m[1]]++; seen[m[1]] == 2 {
				t.Errorf("/metrics: # %s %s more than once", kind, m[1])
			}
		}
	}

	var p expfmt.TextParser
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics does not parse as text format: %v", err)
	}
	golive, err := p.TextToMetricFamilies(strings.NewReader(golden))
	if err != nil {
		t.Fatalf("golden does not parse: %v", err)
	}
	for name, want := range golive {
		if got := fams[name]; got == nil || got.String() != want.String() {
			t.Errorf("/metrics: %s is %v, want %v", name, got, want)
		}
	}

	// value is the one sample of a gauge or counter family.
	value := func(name string, typ dto.MetricType) (float64, bool) {
		t.Helper()
		f := fams[name]
		if f == nil {
			t.Errorf("/metrics has no %s", name)
			return 0, false
		}
		if f.GetType() != typ || len(f.GetMetric()) != 1 || f.GetHelp() == "" {
			t.Errorf("/metrics: %s is a %v of %d samples (help %q), want one %v", name, f.GetType(), len(f.GetMetric()), f.GetHelp(), typ)
			return 0, false
		}
		if typ == dto.MetricType_COUNTER {
			return f.GetMetric()[0].GetCounter().GetValue(), true
		}
		return f.GetMetric()[0].GetGauge().GetValue(), true
	}
	emulated := emulatedProcStat(t)
	for _, name := range []string{
		"process_resident_memory_bytes", "process_virtual_memory_bytes", "process_open_fds", "process_max_fds",
		"process_start_time_seconds", "go_goroutines", "go_threads", "go_memstats_heap_alloc_bytes", "go_memstats_sys_bytes",
	} {
		v, ok := value(name, dto.MetricType_GAUGE)
		if emulated && (name == "process_resident_memory_bytes" || name == "process_virtual_memory_bytes") {
			continue // qemu-user's /proc/self/stat has 0 there
		}
		if ok && !(v > 0) {
			t.Errorf("/metrics: %s %v, want > 0", name, v)
		}
	}
	if v, ok := value("process_start_time_seconds", dto.MetricType_GAUGE); ok && (v > float64(start.Unix()+1) || v < float64(start.Add(-time.Hour).Unix())) {
		t.Errorf("/metrics: process_start_time_seconds %v, the test started at %v", v, start.Unix())
	}
	if v, ok := value("process_cpu_seconds_total", dto.MetricType_COUNTER); ok && v < 0 {
		t.Errorf("/metrics: process_cpu_seconds_total %v", v)
	}
	value("go_memstats_alloc_bytes_total", dto.MetricType_COUNTER)
	if f := fams["go_info"]; f == nil || len(f.GetMetric()) != 1 || !strings.Contains(f.GetMetric()[0].String(), runtime.Version()) {
		t.Errorf("/metrics: go_info %v, want version %s", f, runtime.Version())
	}
	gc := fams["go_gc_duration_seconds"]
	if gc == nil || gc.GetType() != dto.MetricType_SUMMARY || len(gc.GetMetric()) != 1 {
		t.Fatalf("/metrics: go_gc_duration_seconds %v, want a summary", gc)
	}
	sum := gc.GetMetric()[0].GetSummary()
	median := false
	for _, q := range sum.GetQuantile() {
		median = median || q.GetQuantile() == 0.5
	}
	if !median || sum.GetSampleCount() == 0 {
		t.Errorf("/metrics: go_gc_duration_seconds %v, want quantile 0.5 and a collection counted", sum)
	}
	for _, want := range []string{`go_gc_duration_seconds{quantile="0.5"} `, "go_gc_duration_seconds_sum ", "go_gc_duration_seconds_count "} {
		if !strings.Contains(rest, "\n"+want) {
			t.Errorf("/metrics has no %s", want)
		}
	}

	// The registry is the server's, made once: a second scrape is served
	// from it again.
	reg := s.reg
	if _, _, body2 := get(t, http.MethodGet, "http://"+s.Addr()+"/metrics"); s.reg != reg || !strings.HasPrefix(body2, golden) ||
		!strings.Contains(body2, "\nprocess_resident_memory_bytes ") {
		t.Errorf("second scrape:\n%s", body2)
	}
}

// emulatedProcStat tells whether /proc/self/stat is qemu-user's own (make
// test-cross), which has 0 for the virtual memory size and the resident set
// that the process collector reads there, while /proc/self/statm, which
// qemu-user passes through, has the real ones; on Linux both are the kernel's.
func emulatedProcStat(t *testing.T) bool {
	t.Helper()
	stat, err1 := os.ReadFile("/proc/self/stat")
	statm, err2 := os.ReadFile("/proc/self/statm")
	if err1 != nil || err2 != nil {
		t.Fatalf("no /proc/self/stat or statm: %v, %v", err1, err2)
	}
	_, after, _ := strings.Cut(string(stat), ") ") // after comm, which may have spaces
	f, m := strings.Fields(after), strings.Fields(string(statm))
	// vsize and rss are fields 23 and 24 of stat (20 and 21 after comm);
	// size and resident fields 1 and 2 of statm.
	return len(f) > 21 && len(m) > 1 && f[20] == "0" && f[21] == "0" && m[0] != "0" && m[1] != "0"
}
