package status

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golive/golive/internal/testutil"
)

const (
	token       = "tok-S3CRET-bearer"
	querySecret = "sig-S3CRET-query"
)

func testDoc(state string) Document {
	return Document{
		StreamID: "live.example.com/app/0badc0de", State: state, UptimeSeconds: 12.5,
		TargetBitrate: 2_500_000, ActualBitrate: 2_400_000, MaxBitrate: 3_000_000, FPS: 29.97,
		DroppedFrames: 7, QueueDelayMS: 250, RTTMS: 40, Reconnects: 2, BitrateChanges: 5,
		Encoder: "x264", EncoderFallbacks: 1, Source: "camera", Protocol: "rtmp", Host: "kiosk-1", Version: "1.2.3",
		Time: time.Date(2025, 1, 2, 3, 4, 5, 6e6, time.UTC),
		Destinations: []Destination{
			{Name: "rtmp://live.example.com/app/0badc0de", Protocol: "rtmp", State: state, ActualBitrate: 2_400_000,
				QueueDelayMS: 250, RTTMS: 40, Reconnects: 2, DroppedFrames: 7},
			{Name: "record", Protocol: "record", State: state, ActualBitrate: 2_450_000, Lagging: true, Error: "disk full"},
		},
	}
}

// received is one post the fake platform got.
type received struct {
	header http.Header
	body   []byte
	at     time.Time
}

// platform is a fake live platform: it records every post and answers
// with the status and body set by answer.
type platform struct {
	*httptest.Server
	posts  chan received
	mu     sync.Mutex
	status int
	reply  string
}

func newPlatform(t *testing.T) *platform {
	p := &platform{posts: make(chan received, 10_000), status: http.StatusOK}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		p.posts <- received{r.Header.Clone(), body, time.Now()}
		p.mu.Lock()
		status, reply := p.status, p.reply
		p.mu.Unlock()
		w.WriteHeader(status)
		io.WriteString(w, reply)
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *platform) answer(status int, reply string) {
	p.mu.Lock()
	p.status, p.reply = status, reply
	p.mu.Unlock()
}

// next waits for the next post.
func (p *platform) next(t *testing.T, within time.Duration) received {
	t.Helper()
	select {
	case r := <-p.posts:
		return r
	case <-time.After(within):
		t.Fatalf("no post within %v", within)
		return received{}
	}
}

// all takes the posts received so far.
func (p *platform) all() []received {
	var rs []received
	for {
		select {
		case r := <-p.posts:
			rs = append(rs, r)
		default:
			return rs
		}
	}
}

func newLogger() (*slog.Logger, *testutil.LogBuffer) {
	var buf testutil.LogBuffer
	return slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})), &buf
}

// checkNoSecrets fails if the log shows the token or the URL's query.
func checkNoSecrets(t *testing.T, log string) {
	t.Helper()
	if strings.Contains(log, "S3CRET") {
		t.Errorf("a secret is in the log:\n%s", log)
	}
}

// state is the stream state the tests' snapshots report.
type state struct{ v atomic.Value }

func newState(s string) *state {
	st := &state{}
	st.v.Store(s)
	return st
}

func (s *state) set(v string)       { s.v.Store(v) }
func (s *state) snapshot() Document { return testDoc(s.v.Load().(string)) }
func (s *state) heartbeat(url string) *Heartbeat {
	return &Heartbeat{URL: url + "/hb?sig=" + querySecret, Token: token, Snapshot: s.snapshot}
}

// run starts h.Run and returns a function that cancels it and waits for
// it to return (also called at cleanup).
func run(t *testing.T, h *Heartbeat) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.Run(ctx)
	}()
	stop = func() {
		cancel()
		<-done
	}
	t.Cleanup(stop)
	return stop
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(within); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, within)
		}
	}
}

func TestHeartbeatInterval(t *testing.T) {
	p := newPlatform(t)
	log, buf := newLogger()
	st := newState(Live)
	h := st.heartbeat(p.URL)
	h.Interval, h.Logger = 100*time.Millisecond, log
	stop := run(t, h)
	time.Sleep(550 * time.Millisecond) // the window measured, not synchronisation
	st.set(Stopped)
	stop()

	posts := p.all()
	live := 0
	for i, r := range posts {
		var fields map[string]any
		if err := json.Unmarshal(r.body, &fields); err != nil {
			t.Fatalf("post %d: %v: %s", i, err, r.body)
		}
		for f := range reflect.TypeFor[Document]().Fields() {
			if name, _, _ := strings.Cut(f.Tag.Get("json"), ","); fields[name] == nil {
				t.Errorf("post %d: no %q: %s", i, name, r.body)
			}
		}
		var d Document
		if err := json.Unmarshal(r.body, &d); err != nil {
			t.Fatal(err)
		}
		if want := testDoc(d.State); !reflect.DeepEqual(d, want) {
			t.Errorf("post %d: got %+v, want %+v", i, d, want)
		}
		if d.State == Live {
			live++
		}
		for k, want := range map[string]string{"Authorization": "Bearer " + token, "Content-Type": "application/json", "User-Agent": "golive/1.2.3"} {
			if got := r.header.Get(k); got != want {
				t.Errorf("post %d: %s = %q, want %q", i, k, got, want)
			}
		}
	}
	// One at start, then one each 100 ms over 0.55 s: 6.
	if live < 4 || live > 7 {
		t.Errorf("%d posts while live over 0.55 s at a 100 ms interval, want 4..7", live)
	}
	if len(posts) == 0 || !bytes.Contains(posts[len(posts)-1].body, []byte(`"state":"stopped"`)) {
		t.Error("the last post is not the final one with state stopped")
	}
	if sent, failed := h.Counts(); sent != int64(len(posts)) || failed != 0 {
		t.Errorf("Counts = %d, %d; want %d, 0", sent, failed, len(posts))
	}
	checkNoSecrets(t, buf.String())
}

func TestHeartbeatNotify(t *testing.T) {
	p := newPlatform(t)
	h := newState(Starting).heartbeat(p.URL)
	h.Interval = time.Hour
	run(t, h)
	p.next(t, 5*time.Second) // the post at start
	for range 3 {
		t0 := time.Now()
		h.Notify()
		if r := p.next(t, 5*time.Second); r.at.Sub(t0) > 50*time.Millisecond {
			t.Errorf("post %v after Notify, want within 50 ms", r.at.Sub(t0))
		}
	}
}

// A Notify before Run is covered by the post at start.
func TestHeartbeatNotifyBeforeRun(t *testing.T) {
	p := newPlatform(t)
	h := newState(Starting).heartbeat(p.URL)
	h.Interval = time.Hour
	h.Notify()
	stop := run(t, h)
	waitFor(t, 5*time.Second, "the post at start", func() bool { sent, _ := h.Counts(); return sent >= 1 })
	stop()
	if n := len(p.all()); n != 2 {
		t.Errorf("%d posts, want 2 (at start, final)", n)
	}
}

func TestNotifyNeverBlocks(t *testing.T) {
	var h Heartbeat // not running
	for range 1000 {
		h.Notify()
	}
}

// A slow platform: Notify does not wait for it, requests coalesce, and
// never more than one post is in flight.
func TestHeartbeatSlowPlatform(t *testing.T) {
	var inFlight, maxInFlight, posts atomic.Int32
	arrived, release := make(chan struct{}, 10), make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		if n > maxInFlight.Load() {
			maxInFlight.Store(n)
		}
		posts.Add(1)
		select {
		case arrived <- struct{}{}:
		default:
		}
		<-release
	}))
	defer srv.Close()
	h := newState(Live).heartbeat(srv.URL)
	h.Interval, h.Timeout = time.Hour, 10*time.Second
	stop := run(t, h)
	<-arrived // the post at start hangs
	t0 := time.Now()
	for range 100 {
		h.Notify()
	}
	if d := time.Since(t0); d > 10*time.Millisecond {
		t.Errorf("100 Notify calls took %v while a post hangs", d)
	}
	close(release)
	waitFor(t, 5*time.Second, "two posts through", func() bool { sent, _ := h.Counts(); return sent == 2 })
	stop()
	// The post at start, one for the 100 notifications, the final one.
	if n := posts.Load(); n != 3 {
		t.Errorf("%d posts, want 3", n)
	}
	if n := maxInFlight.Load(); n != 1 {
		t.Errorf("%d posts in flight at once, want 1", n)
	}
}

func TestHeartbeatStopOrder(t *testing.T) {
	p := newPlatform(t)
	p.answer(http.StatusOK, `{"action":"stop","reason":"banned"}`)
	var calls atomic.Int32
	var reason atomic.Value
	h := newState(Live).heartbeat(p.URL)
	h.Interval = time.Hour
	h.OnStop = func(r string) { calls.Add(1); reason.Store(r) }
	stop := run(t, h)
	for range 3 {
		p.next(t, 5*time.Second)
		h.Notify()
	}
	waitFor(t, 5*time.Second, "3 replies", func() bool { sent, _ := h.Counts(); return sent >= 3 })
	stop()
	if n := calls.Load(); n != 1 {
		t.Errorf("OnStop called %d times, want once", n)
	}
	if r, _ := reason.Load().(string); r != "banned" {
		t.Errorf("OnStop reason %q, want banned", r)
	}
}

func TestHeartbeatMaxBitrate(t *testing.T) {
	p := newPlatform(t)
	p.answer(http.StatusOK, `{"max_bitrate":800000}`)
	var mu sync.Mutex
	var got []int
	h := newState(Live).heartbeat(p.URL)
	h.Interval = time.Hour
	h.OnMaxBitrate = func(bps int) { mu.Lock(); got = append(got, bps); mu.Unlock() }
	stop := run(t, h)
	sent := func(n int64) func() bool {
		return func() bool { s, _ := h.Counts(); return s >= n }
	}
	for n := range int64(3) {
		waitFor(t, 5*time.Second, "replies", sent(n+1))
		h.Notify()
	}
	waitFor(t, 5*time.Second, "replies", sent(4))
	p.answer(http.StatusOK, `{"max_bitrate":600000,"extra":[1,2]}`)
	h.Notify()
	waitFor(t, 5*time.Second, "replies", sent(5))
	stop()
	if want := []int{800_000, 600_000}; !reflect.DeepEqual(got, want) {
		t.Errorf("OnMaxBitrate calls %v, want %v", got, want)
	}
}

// Replies that order nothing, or nothing valid, are ignored.
func TestHeartbeatReplies(t *testing.T) {
	for _, tc := range []struct {
		reply  string
		stop   bool
		reason string
		maxBps int
	}{
		{reply: ""},
		{reply: "ok"},
		{reply: "<html>"},
		{reply: `{"unknown":true}`},
		{reply: `{"action":"restart"}`},
		{reply: `{"action":"STOP"}`, stop: true},
		{reply: `{"action":"stop","reason":"ended","max_bitrate":500000}`, stop: true, reason: "ended", maxBps: 500_000},
		{reply: `{"max_bitrate":8e5}`, maxBps: 800_000},
		{reply: `{"max_bitrate":0}`},
		{reply: `{"max_bitrate":-5}`},
		{reply: `{"max_bitrate":"1000"}`},
		{reply: `{"max_bitrate":1e300}`},
	} {
		stop, reason, maxBps := false, "", 0
		log, _ := newLogger()
		h := &Heartbeat{
			OnStop:       func(r string) { stop, reason = true, r },
			OnMaxBitrate: func(bps int) { maxBps = bps },
			log:          log,
		}
		h.obey([]byte(tc.reply))
		if stop != tc.stop || reason != tc.reason || maxBps != tc.maxBps {
			t.Errorf("%q: stop %v %q, max %d; want %v %q, %d", tc.reply, stop, reason, maxBps, tc.stop, tc.reason, tc.maxBps)
		}
	}
}

func TestHeartbeatFailures(t *testing.T) {
	countLines := func(log, msg string) int { return strings.Count(log, `msg="`+msg) }

	t.Run("closed port", func(t *testing.T) {
		gone := httptest.NewServer(http.NotFoundHandler())
		gone.Close()
		log, buf := newLogger()
		h := newState(Live).heartbeat(gone.URL)
		h.Interval, h.Logger = 10*time.Millisecond, log
		stop := run(t, h)
		waitFor(t, 5*time.Second, "5 failed posts", func() bool { _, failed := h.Counts(); return failed >= 5 })
		stop()
		if sent, _ := h.Counts(); sent != 0 {
			t.Errorf("%d posts sent to a closed port", sent)
		}
		if n := countLines(buf.String(), "heartbeat failed"); n != 1 {
			t.Errorf("%d warnings, want 1:\n%s", n, buf)
		}
		checkNoSecrets(t, buf.String())
	})

	t.Run("500 then recovery", func(t *testing.T) {
		p := newPlatform(t)
		p.answer(http.StatusInternalServerError, "oops")
		log, buf := newLogger()
		h := newState(Live).heartbeat(p.URL)
		h.Interval, h.Logger = 10*time.Millisecond, log
		stop := run(t, h)
		waitFor(t, 5*time.Second, "5 failed posts", func() bool { _, failed := h.Counts(); return failed >= 5 })
		p.answer(http.StatusOK, "")
		waitFor(t, 5*time.Second, "a post through", func() bool { sent, _ := h.Counts(); return sent >= 1 })
		stop()
		out := buf.String()
		if n := countLines(out, "heartbeat failed"); n != 1 {
			t.Errorf("%d warnings, want 1:\n%s", n, out)
		}
		if n := countLines(out, "heartbeat recovered"); n != 1 {
			t.Errorf("%d recovery lines, want 1:\n%s", n, out)
		}
		if !strings.Contains(out, "500 Internal Server Error") {
			t.Errorf("the warning does not name the status:\n%s", out)
		}
		checkNoSecrets(t, out)
	})
}

// Failures going on: one warning a minute, one line on recovery.
func TestHeartbeatWarningRate(t *testing.T) {
	log, buf := newLogger()
	var now time.Time
	h := &Heartbeat{URL: "https://platform.example/hb", log: log, now: func() time.Time { return now }}
	fail := errors.New("boom")
	for _, at := range []time.Duration{0, time.Second, 30 * time.Second, 61 * time.Second, 62 * time.Second, 90 * time.Second, 122 * time.Second} {
		now = time.Unix(0, 0).Add(at)
		h.record(fail)
	}
	h.record(nil)
	h.record(fail)
	out := buf.String()
	// At 0, 61 s and 122 s; then the first after the recovery.
	if n := strings.Count(out, "heartbeat failed"); n != 4 {
		t.Errorf("%d warnings, want 4:\n%s", n, out)
	}
	if n := strings.Count(out, "heartbeat recovered"); n != 1 || !strings.Contains(out, "failed_posts=7") {
		t.Errorf("recovery: %d lines, want 1 with failed_posts=7:\n%s", n, out)
	}
	if sent, failed := h.Counts(); sent != 1 || failed != 8 {
		t.Errorf("Counts = %d, %d; want 1, 8", sent, failed)
	}
}

func TestHeartbeatFinalPost(t *testing.T) {
	p := newPlatform(t)
	st := newState(Starting)
	h := st.heartbeat(p.URL)
	h.Interval = time.Hour
	stop := run(t, h)
	if r := p.next(t, 5*time.Second); !bytes.Contains(r.body, []byte(`"state":"starting"`)) {
		t.Errorf("first post: %s", r.body)
	}
	st.set(Stopped)
	stop()
	if r := p.next(t, time.Second); !bytes.Contains(r.body, []byte(`"state":"stopped"`)) {
		t.Errorf("final post: %s", r.body)
	}
}

func TestHeartbeatCheck(t *testing.T) {
	snap := func() Document { return Document{} }
	for _, h := range []*Heartbeat{
		{URL: "", Snapshot: snap},
		{URL: "ftp://host/x", Snapshot: snap},
		{URL: "https:///nohost", Snapshot: snap},
		{URL: "http://host/\x7f", Snapshot: snap},
		{URL: "http://host/hb", Interval: -time.Second, Snapshot: snap},
		{URL: "http://host/hb"},
	} {
		if err := h.Check(); err == nil {
			t.Errorf("Check(%+v): no error", h)
		}
		h.Logger = slog.New(slog.DiscardHandler)
		h.Run(context.Background()) // returns at once
	}
	if err := (&Heartbeat{URL: "https://host/hb?x=1", Snapshot: snap}).Check(); err != nil {
		t.Error(err)
	}
}

// get fetches url; it returns the status, content type and body.
func get(t *testing.T, method, url string) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(body)
}

var (
	sampleLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*",?)*\})? (-?[0-9.]+(e[+-]?[0-9]+)?|NaN|[+-]Inf)$`)
	typeLine   = regexp.MustCompile(`^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (gauge|counter|summary|histogram|untyped)$`)
)

func TestServer(t *testing.T) {
	doc := testDoc(Live)
	doc.Encoder = "lib\"x264\"\\ \nv2"
	log, _ := newLogger()
	s, err := Serve("127.0.0.1:0", func() Document { return doc }, log)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	base := "http://" + s.Addr()

	code, ctype, body := get(t, http.MethodGet, base+"/status")
	var got Document
	if err := json.Unmarshal([]byte(body), &got); err != nil || code != http.StatusOK || ctype != "application/json" {
		t.Fatalf("/status: %d %q %v: %s", code, ctype, err, body)
	}
	if !reflect.DeepEqual(got, doc) {
		t.Errorf("/status: got %+v, want %+v", got, doc)
	}

	code, ctype, body = get(t, http.MethodGet, base+"/metrics")
	if code != http.StatusOK || ctype != "text/plain; version=0.0.4; charset=utf-8" {
		t.Fatalf("/metrics: %d %q", code, ctype)
	}
	for _, want := range []string{
		"golive_up 1",
		`golive_state{state="live"} 1`,
		`golive_state{state="starting"} 0`,
		`golive_state{state="reconnecting"} 0`,
		`golive_state{state="stopped"} 0`,
		`golive_info{version="1.2.3",encoder="lib\"x264\"\\ \nv2",protocol="rtmp",source="camera",host="kiosk-1",stream_id="live.example.com/app/0badc0de"} 1`,
		"golive_uptime_seconds 12.5",
		"golive_target_bitrate_bps 2500000",
		"golive_actual_bitrate_bps 2400000",
		"golive_fps 29.97",
		"# TYPE golive_dropped_frames_total counter",
		"golive_dropped_frames_total 7",
		"golive_queue_delay_seconds 0.25",
		"golive_rtt_seconds 0.04",
		"golive_reconnects_total 2",
		"golive_bitrate_changes_total 5",
		"# TYPE golive_encoder_fallbacks_total counter",
		"golive_encoder_fallbacks_total 1",
		`golive_destination_up{dest="rtmp://live.example.com/app/0badc0de",protocol="rtmp"} 1`,
		`golive_destination_up{dest="record",protocol="record"} 1`,
		`golive_destination_bitrate_bps{dest="record",protocol="record"} 2450000`,
		`golive_destination_queue_delay_seconds{dest="rtmp://live.example.com/app/0badc0de",protocol="rtmp"} 0.25`,
		`golive_destination_rtt_seconds{dest="rtmp://live.example.com/app/0badc0de",protocol="rtmp"} 0.04`,
		"# TYPE golive_destination_reconnects_total counter",
		`golive_destination_reconnects_total{dest="rtmp://live.example.com/app/0badc0de",protocol="rtmp"} 2`,
		`golive_destination_dropped_frames_total{dest="rtmp://live.example.com/app/0badc0de",protocol="rtmp"} 7`,
		`golive_destination_lagging{dest="record",protocol="record"} 1`,
		`golive_destination_lagging{dest="rtmp://live.example.com/app/0badc0de",protocol="rtmp"} 0`,
	} {
		if !strings.Contains(body, "\n"+want+"\n") {
			t.Errorf("/metrics has no line %s", want)
		}
	}
	// Every sample is well-formed and its family has HELP and TYPE first (a
	// summary's or histogram's _sum, _count and _bucket samples belong to it).
	typed := map[string]string{}
	for _, line := range strings.Split(strings.TrimSuffix(body, "\n"), "\n") {
		if m := typeLine.FindStringSubmatch(line); m != nil {
			typed[m[1]] = m[2]
		} else if m := sampleLine.FindStringSubmatch(line); m != nil {
			name := m[1]
			for _, suffix := range []string{"_sum", "_count", "_bucket"} {
				if base, ok := strings.CutSuffix(name, suffix); ok && (typed[base] == "summary" || typed[base] == "histogram") {
					name = base
				}
			}
			if typed[name] == "" || !strings.Contains(body, "# HELP "+name+" ") {
				t.Errorf("/metrics: %s has no HELP or TYPE before it", m[1])
			}
		} else if !strings.HasPrefix(line, "# HELP ") {
			t.Errorf("/metrics: malformed line %q", line)
		}
	}

	h := &Heartbeat{}
	h.failed.Add(3)
	s.SetHeartbeat(h)
	if _, _, body = get(t, http.MethodGet, base+"/metrics"); !strings.Contains(body, "\ngolive_heartbeats_failed_total 3\n") {
		t.Errorf("/metrics has no heartbeat counts:\n%s", body)
	}

	for _, tc := range []struct {
		method, path string
		code         int
	}{
		{http.MethodPost, "/status", http.StatusMethodNotAllowed},
		{http.MethodPut, "/metrics", http.StatusMethodNotAllowed},
		{http.MethodGet, "/nope", http.StatusNotFound},
		{http.MethodGet, "/", http.StatusNotFound},
		{http.MethodHead, "/status", http.StatusOK},
	} {
		if code, _, _ := get(t, tc.method, base+tc.path); code != tc.code {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, code, tc.code)
		}
	}

	if s2, err := Serve(s.Addr(), func() Document { return doc }, log); err == nil {
		s2.Close()
		t.Errorf("Serve on a taken address %s: no error", s.Addr())
	}
	for _, addr := range []string{"", "127.0.0.1:99999", "nonsense:port"} {
		if s2, err := Serve(addr, func() Document { return doc }, log); err == nil {
			s2.Close()
			t.Errorf("Serve(%q): no error", addr)
		}
	}

	if err := s.Close(); err != nil {
		t.Error(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := http.Get(base + "/status"); err == nil {
		t.Error("still serving after Close")
	}
}

// NaN and infinities, which JSON cannot carry, are served as 0.
func TestServerBadNumbers(t *testing.T) {
	s, err := Serve("127.0.0.1:0", func() Document {
		return Document{State: Reconnecting, FPS: math.NaN(), RTTMS: math.Inf(1)}
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if code, _, body := get(t, http.MethodGet, "http://"+s.Addr()+"/status"); code != http.StatusOK || !strings.Contains(body, `"fps":0,`) {
		t.Errorf("/status: %d %s", code, body)
	}
}

func TestStreamID(t *testing.T) {
	const key = "live_1234567_AbCdEfGh"
	for _, tc := range []struct{ url, want string }{
		{"rtmp://live.example.com/app/" + key, "live.example.com/app/"},
		{"rtmps://live.example.com:443/app/" + key + "?auth=" + key, "live.example.com:443/app/"},
		{"rtmp://user:" + key + "@live.example.com/app/x", "live.example.com/app/"},
		{"rtmp://live.example.com/" + key, "live.example.com/"},
		{"rtmp://live.example.com/short", "live.example.com/"},
		{"https://whip.example.com/" + key + "/webRTC/publish", "whip.example.com/"},
		{"https://whip.example.com/whip/endpoint/" + key, "whip.example.com/whip/"},
		{key, "stream/"},
		{"%%" + key, "stream/"},
	} {
		id := StreamID(tc.url)
		hash, ok := strings.CutPrefix(id, tc.want)
		if !ok || !regexp.MustCompile(`^[0-9a-f]{8}$`).MatchString(hash) || strings.Contains(id, key) {
			t.Errorf("StreamID(%q) = %q, want %s<8 hex digits>, without the key", tc.url, id, tc.want)
		}
		if StreamID(tc.url) != id {
			t.Errorf("StreamID(%q) is not stable", tc.url)
		}
	}
	if StreamID("rtmp://h/app/key1") == StreamID("rtmp://h/app/key2") {
		t.Error("two keys on one application: the same id")
	}
}
