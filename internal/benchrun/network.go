package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golive/golive/internal/status"
	"github.com/golive/golive/internal/testpeer"
	"github.com/golive/golive/internal/testutil"
)

// The network rounds (issue 6): golive and the ffmpeg command line through
// a bandwidth cut, an outage and a server restart, each publisher once per
// scenario, each run in a network namespace of its own with nginx-rtmp
// inside it. The publisher's view comes from golive's heartbeat and JSON
// log, and from ffmpeg's -progress; the server's from watching the
// recording grow (flvWatch) and, after the run, from ffprobe on it.

// netTarget is the 720p30 preset's video bitrate (bit/s).
const netTarget = 2_500_000

// netEvent is something done to the link or the server, at a time after
// the publisher went live (its first video frame reached the server).
type netEvent struct {
	at   time.Duration
	name string
	do   func(ns *testpeer.Netns, n *testpeer.Nginx) error
}

// netScenario is one degraded-link run: how long to push, the server's
// configuration (Netns is filled in) and the events.
type netScenario struct {
	key    string
	total  time.Duration
	nginx  testpeer.NginxConfig
	events []netEvent
}

func shape(l testpeer.Link) func(*testpeer.Netns, *testpeer.Nginx) error {
	return func(ns *testpeer.Netns, _ *testpeer.Nginx) error { return ns.Shape(l) }
}

var (
	netCut = netScenario{
		key: "cut", total: 60 * time.Second,
		nginx: testpeer.NginxConfig{Record: true},
		events: []netEvent{
			{8 * time.Second, "cut", shape(testpeer.Link{RateKbit: 1000})},
			{35 * time.Second, "restored", shape(testpeer.Link{})},
		},
	}
	// drop_idle_publisher: a publisher's connection that died in the
	// outage never ends by itself; nginx drops it after 5 s of silence, so
	// that the key can be published again (the same server for both).
	netOutage = netScenario{
		key: "outage", total: 40 * time.Second,
		nginx: testpeer.NginxConfig{Record: true, RecordAppend: true, DropIdlePublisher: 5 * time.Second},
		events: []netEvent{
			{6 * time.Second, "link down", shape(testpeer.Link{LossPercent: 100})},
			{21 * time.Second, "link back", shape(testpeer.Link{})},
		},
	}
	netRestart = netScenario{
		key: "restart", total: 25 * time.Second,
		nginx: testpeer.NginxConfig{Record: true, RecordAppend: true, DropIdlePublisher: 5 * time.Second},
		events: []netEvent{
			{6 * time.Second, "server killed", func(_ *testpeer.Netns, n *testpeer.Nginx) error { return n.Kill() }},
			{11 * time.Second, "server back", func(_ *testpeer.Netns, n *testpeer.Nginx) error { return n.Restart() }},
		},
	}
)

// netRun is what one publisher did in one scenario.
type netRun struct {
	who      string // "golive" or "ffmpeg"
	total    time.Duration
	start    time.Time   // the process was started
	live     time.Time   // its first video frame reached the server
	events   []time.Time // when each event was done (its action returned)
	exited   time.Time
	exitCode int  // -1: killed by a signal
	killed   bool // still running at the deadline: benchrun killed it
	log      string
	hb       []hbPost   // golive
	progress []progress // ffmpeg
	arr      []arrival
	video    []testutil.PacketInfo
	audio    []testutil.PacketInfo
}

// networkRounds runs the three scenarios, golive then ffmpeg in each, and
// returns the report's section.
func networkRounds(bin string) (string, error) {
	abs, err := filepath.Abs(bin)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	netIntro(&b)
	for _, sc := range []netScenario{netCut, netOutage, netRestart} {
		var runs [2]netRun
		for i, who := range []string{"golive", "ffmpeg"} {
			r, err := runNetScenario(abs, who, sc)
			if err != nil {
				return "", fmt.Errorf("network %s, %s: %w", sc.key, who, err)
			}
			fmt.Printf("network %s %s: exit %d after %v, %d frames recorded\n", sc.key, who, r.exitCode,
				r.exited.Sub(r.start).Round(100*time.Millisecond), len(r.video))
			runs[i] = r
		}
		switch sc.key {
		case "cut":
			cutTable(&b, runs[0], runs[1])
		case "outage":
			fmt.Fprintf(&b, "### Outage: every packet lost for 15 s (after 6 s live), then the link back; %v in all\n\n", sc.total)
			lossTable(&b, runs[0], runs[1], "the link went down", "the link came back")
		case "restart":
			fmt.Fprintf(&b, "### Server restart: nginx killed (SIGKILL) after 6 s live, started again 5 s later; %v in all\n\n", sc.total)
			lossTable(&b, runs[0], runs[1], "nginx was killed", "nginx was back")
		}
	}
	host, _ := os.Hostname()
	fmt.Fprintf(&b, "One run of each on %d cores (host %q), shared with other work: the times are good to about ±0.5 s (heartbeat every 500 ms, "+
		"the recording polled every 100 ms, the encoders competing for the CPU); read them as what happens, not as precise figures.\n\n", runtime.NumCPU(), host)
	return b.String(), nil
}

func netIntro(b *strings.Builder) {
	fmt.Fprintf(b, "## On a degraded link: bandwidth cut, outage, server restart (golive vs the ffmpeg command line)\n\n")
	fmt.Fprintf(b, "Each scenario runs once per publisher, in a network namespace of its own with nginx-rtmp (recording) inside it: the 720p30 preset\n")
	fmt.Fprintf(b, "(2500 kbit/s video + 128 kbit/s AAC). golive: `golive push --preset 720p30 --heartbeat-interval 500ms …`; ffmpeg: the command line of\n")
	fmt.Fprintf(b, "the first table (testsrc2, `-re`, libx264 veryfast zerolatency 2500k, `-f flv`) with `-progress pipe:1`. The ffmpeg command line has\n")
	fmt.Fprintf(b, "no adaptive bitrate and no reconnection for RTMP output: the tables record what happens to it.\n\n")
	fmt.Fprintf(b, "The link is the namespace's loopback (MTU 1500, no segmentation offload; `internal/testpeer`): a cut is tbf at the rate as its root qdisc\n")
	fmt.Fprintf(b, "(the rate is shared by data and ACKs; about 250 ms of queue), an outage a classic-BPF filter on the loopback's ingress that drops\n")
	fmt.Fprintf(b, "every packet, silently. Times are from the event (the `tc` command or nginx's kill/restart having returned). golive's queue delay\n")
	fmt.Fprintf(b, "and target bitrate come from its heartbeat, its reactions from its JSON log; ffmpeg's own view from `-progress` (how far its output\n")
	fmt.Fprintf(b, "time is behind the wall clock, compared with the start). The server's view: the recording watched as it grows (every 100 ms: bytes,\n")
	fmt.Fprintf(b, "video frames, newest timestamp; *lag* = how much further behind real time the newest frame arrives than it did before the event),\n")
	fmt.Fprintf(b, "and ffprobe on it afterwards (gaps are on media time).\n\n")
}

// runNetScenario runs one publisher through sc in a fresh namespace.
func runNetScenario(bin, who string, sc netScenario) (r netRun, err error) {
	r = netRun{who: who, total: sc.total}
	ns, err := testpeer.NewNetns()
	if err != nil {
		return r, err
	}
	defer func() { err = errors.Join(err, ns.Close()) }()
	cfg := sc.nginx
	cfg.Netns = ns
	n, err := testpeer.NewNginx(cfg)
	if err != nil {
		return r, err
	}
	defer func() {
		if serr := n.Stop(); serr != nil && err == nil {
			err = serr
		}
	}()
	key := sc.key + who
	url := n.URL(key)

	var stderr testutil.LogBuffer
	var hb *hbReceiver
	var prog *progressReader
	var cmd interface{ Kill() error }
	var wait func() error
	switch who {
	case "golive":
		ln, err := ns.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return r, err
		}
		hb = &hbReceiver{}
		srv := &http.Server{Handler: hb}
		go srv.Serve(ln)
		defer srv.Close()
		c := ns.Command(bin, "push", "--preset", "720p30", "--status", "off", "--log-format", "json",
			"--duration", sc.total.String(), "--heartbeat-url", "http://"+ln.Addr().String()+"/heartbeat",
			"--heartbeat-interval", "500ms", url)
		c.Stderr = &stderr
		if err := c.Start(); err != nil {
			return r, err
		}
		cmd, wait = c.Process, c.Wait
	case "ffmpeg":
		args := append([]string{"-progress", "pipe:1", "-nostats"}, ffmpegArgs(url, sc.total)...)
		c := ns.Command("ffmpeg", args...)
		c.Stderr = &stderr
		out, err := c.StdoutPipe()
		if err != nil {
			return r, err
		}
		if err := c.Start(); err != nil {
			return r, err
		}
		prog = &progressReader{}
		read := make(chan struct{})
		go func() { prog.read(out); close(read) }()
		cmd, wait = c.Process, func() error { <-read; return c.Wait() }
	}
	r.start = time.Now()
	cmdDone := make(chan struct{})
	var waitErr error
	go func() { waitErr = wait(); r.exited = time.Now(); close(cmdDone) }()

	w := &flvWatch{path: n.RecordPath(key)}
	stopWatch := make(chan struct{})
	watched := make(chan struct{})
	go func() { w.run(stopWatch); close(watched) }()

	// Live: the first video frame at the server.
	if !testutil.WaitFor(20*time.Second, 20*time.Millisecond, func() bool { return w.frameCount() > 0 || isDone(cmdDone) }) || w.frameCount() == 0 {
		cmd.Kill()
		<-cmdDone
		close(stopWatch)
		<-watched
		return r, fmt.Errorf("never went live:\n%s", tailLines(stderr.String(), 20))
	}
	r.live = w.firstArrival()
	for _, ev := range sc.events {
		time.Sleep(time.Until(r.live.Add(ev.at)))
		if err := ev.do(ns, n); err != nil {
			cmd.Kill()
			<-cmdDone
			close(stopWatch)
			<-watched
			return r, fmt.Errorf("%s: %w", ev.name, err)
		}
		r.events = append(r.events, time.Now())
	}
	select {
	case <-cmdDone:
	case <-time.After(time.Until(r.start.Add(sc.total + 30*time.Second))):
		r.killed = true
		cmd.Kill()
		<-cmdDone
	}
	r.exitCode = -1
	var ee interface{ ExitCode() int }
	if waitErr == nil {
		r.exitCode = 0
	} else if errors.As(waitErr, &ee) {
		r.exitCode = ee.ExitCode()
	}
	r.log = stderr.String()
	if hb != nil {
		r.hb = hb.all()
	}
	if prog != nil {
		r.progress = prog.all()
	}

	rec := n.RecordPath(key)
	if err := testutil.WaitRecordingDone(rec, 10*time.Second); err != nil {
		close(stopWatch)
		<-watched
		return r, err
	}
	close(stopWatch)
	<-watched
	r.arr = w.all()
	if r.video, err = testutil.Packets(rec, "v"); err != nil {
		return r, err
	}
	if r.audio, err = testutil.Packets(rec, "a"); err != nil {
		return r, err
	}
	return r, nil
}

func isDone(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// hbPost is one heartbeat as received.
type hbPost struct {
	at  time.Time
	doc status.Document
}

// hbReceiver records golive's heartbeat posts.
type hbReceiver struct {
	mu    sync.Mutex
	posts []hbPost
}

func (h *hbReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	p := hbPost{at: time.Now()}
	if json.Unmarshal(body, &p.doc) != nil {
		return
	}
	h.mu.Lock()
	h.posts = append(h.posts, p)
	h.mu.Unlock()
}

func (h *hbReceiver) all() []hbPost {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.posts)
}

// progress is one block of ffmpeg's -progress output, when it was read.
type progress struct {
	at      time.Time
	frame   int
	outTime time.Duration
}

type progressReader struct {
	mu sync.Mutex
	ps []progress
}

// read parses key=value lines until EOF; a block ends with progress=….
func (p *progressReader) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	var cur progress
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), "=")
		switch k {
		case "frame":
			cur.frame, _ = strconv.Atoi(v)
		case "out_time_us":
			us, _ := strconv.ParseInt(v, 10, 64)
			cur.outTime = time.Duration(us) * time.Microsecond
		case "progress":
			cur.at = time.Now()
			p.mu.Lock()
			p.ps = append(p.ps, cur)
			p.mu.Unlock()
		}
	}
	io.Copy(io.Discard, r)
}

func (p *progressReader) all() []progress {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.ps)
}

// arrival is the recording as seen at one poll: totals so far.
type arrival struct {
	at                time.Time
	bytes, videoBytes int64         // audio+video and video tag payload
	frames            int           // video frames (H.264 NAL units, not headers)
	ts                time.Duration // the newest video frame's timestamp
}

// flvWatch polls a recording nginx is writing and parses the FLV tags
// appended since the last poll. A file that shrinks (rewritten by a new
// session) is read again from the start; the totals go on.
type flvWatch struct {
	path    string
	off     int64
	pending []byte

	mu    sync.Mutex
	cur   arrival
	first time.Time // the poll that saw the first video frame
	arr   []arrival
}

func (w *flvWatch) run(stop <-chan struct{}) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		w.poll()
		select {
		case <-stop:
			w.poll()
			return
		case <-t.C:
		}
	}
}

func (w *flvWatch) poll() {
	now := time.Now()
	f, err := os.Open(w.path)
	if err == nil {
		if fi, err := f.Stat(); err == nil && fi.Size() < w.off {
			w.off, w.pending = 0, nil
		}
		if _, err := f.Seek(w.off, io.SeekStart); err == nil {
			b, _ := io.ReadAll(f)
			w.off += int64(len(b))
			w.pending = append(w.pending, b...)
		}
		f.Close()
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.parse()
	w.cur.at = now
	if w.first.IsZero() && w.cur.frames > 0 {
		w.first = now
	}
	w.arr = append(w.arr, w.cur)
}

// parse consumes the complete tags in pending (and a file header, which
// a session that rewrote the file starts with).
func (w *flvWatch) parse() {
	b := w.pending
	for {
		if len(b) >= 3 && string(b[:3]) == "FLV" {
			if len(b) < 13 {
				break
			}
			b = b[13:] // header and PreviousTagSize0
			continue
		}
		if len(b) < 11 {
			break
		}
		size := int(b[1])<<16 | int(b[2])<<8 | int(b[3])
		if len(b) < 11+size+4 {
			break
		}
		ms := int64(b[4])<<16 | int64(b[5])<<8 | int64(b[6]) | int64(b[7])<<24
		data := b[11 : 11+size]
		switch b[0] {
		case 8:
			w.cur.bytes += int64(size)
		case 9:
			w.cur.bytes += int64(size)
			w.cur.videoBytes += int64(size)
			if size > 1 && data[1] == 1 { // AVC NALU, not the sequence header
				w.cur.frames++
				w.cur.ts = time.Duration(ms) * time.Millisecond
			}
		}
		b = b[11+size+4:]
	}
	w.pending = append(w.pending[:0:0], b...)
}

func (w *flvWatch) frameCount() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.cur.frames
}

func (w *flvWatch) firstArrival() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.first
}

func (w *flvWatch) all() []arrival {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.arr)
}

// sample is a value of a series at a time.
type sample struct {
	at time.Time
	v  float64
}

// queueSeries is golive's queue delay from its heartbeat, in seconds.
func (r netRun) queueSeries() []sample {
	var s []sample
	for _, p := range r.hb {
		s = append(s, sample{p.at, p.doc.QueueDelayMS / 1000})
	}
	return s
}

// progressLag is how much further ffmpeg's output time is behind the wall
// clock than at its least (early on), in seconds, at each progress block.
func (r netRun) progressLag() []sample {
	var s []sample
	base := -1.0
	for _, p := range r.progress {
		raw := p.at.Sub(r.start).Seconds() - p.outTime.Seconds()
		if p.outTime > 0 && (len(r.events) == 0 || p.at.Before(r.events[0])) && (base < 0 || raw < base) {
			base = raw
		}
		s = append(s, sample{p.at, raw})
	}
	for i := range s {
		s[i].v -= max(base, 0)
	}
	return s
}

// serverLag is how much further behind real time the newest frame at the
// server is than at its least before the first event, in seconds.
func (r netRun) serverLag() []sample {
	var s []sample
	base := -1.0
	for _, a := range r.arr {
		if a.frames == 0 {
			continue
		}
		raw := a.at.Sub(r.start).Seconds() - a.ts.Seconds()
		if (len(r.events) == 0 || a.at.Before(r.events[0])) && (base < 0 || raw < base) {
			base = raw
		}
		s = append(s, sample{a.at, raw})
	}
	for i := range s {
		s[i].v -= max(base, 0)
	}
	return s
}

// maxIn is the largest value in [from, to) and when.
func maxIn(s []sample, from, to time.Time) (v float64, at time.Time) {
	for _, x := range s {
		if !x.at.Before(from) && x.at.Before(to) && x.v > v {
			v, at = x.v, x.at
		}
	}
	return v, at
}

// valueAt is the last value at or before t.
func valueAt(s []sample, t time.Time) float64 {
	v := 0.0
	for _, x := range s {
		if x.at.After(t) {
			break
		}
		v = x.v
	}
	return v
}

// backUnder is how long after from the series went under limit for good
// within [from, to): 0 if it never reached limit, -1 if still over at to.
func backUnder(s []sample, from, to time.Time, limit float64) time.Duration {
	last := -1 // the last sample over the limit
	var in []sample
	for _, x := range s {
		if !x.at.Before(from) && x.at.Before(to) {
			if x.v >= limit {
				last = len(in)
			}
			in = append(in, x)
		}
	}
	switch {
	case last < 0:
		return 0
	case last == len(in)-1:
		return -1
	}
	return in[last+1].at.Sub(from)
}

// arrivalAt is the totals of the last poll at or before t.
func (r netRun) arrivalAt(t time.Time) arrival {
	var a arrival
	for _, x := range r.arr {
		if x.at.After(t) {
			break
		}
		a = x
	}
	return a
}

// arrivedRate is the kbit/s (audio+video) and video frames per second that
// reached the server in [from, to) by the wall clock.
func (r netRun) arrivedRate(from, to time.Time) (kbps, fps float64) {
	a, b := r.arrivalAt(from), r.arrivalAt(to)
	d := b.at.Sub(a.at).Seconds()
	if d <= 0 {
		return 0, 0
	}
	return float64(b.bytes-a.bytes) * 8 / d / 1000, float64(b.frames-a.frames) / d
}

// fullRateAfter is how long after t the server got video at ≥ 90 % of the
// target over the last 2 s with a lag under 1 s; -1: never.
func (r netRun) fullRateAfter(t time.Time) time.Duration {
	lag := r.serverLag()
	for _, x := range r.arr {
		if x.at.Before(t.Add(time.Second)) {
			continue
		}
		a := r.arrivalAt(x.at.Add(-2 * time.Second))
		d := x.at.Sub(a.at).Seconds()
		if d > 0 && float64(x.videoBytes-a.videoBytes)*8/d >= 0.9*netTarget && valueAt(lag, x.at) < 1 {
			return x.at.Sub(t)
		}
	}
	return -1
}

// stallMax is the longest wall-clock time without a new video frame at the
// server between going live and the end, and when it began.
func (r netRun) stallMax() (d time.Duration, at time.Time) {
	var lastNew time.Time
	prev := 0
	for _, x := range r.arr {
		if x.frames > prev {
			if !lastNew.IsZero() && x.at.Sub(lastNew) > d {
				d, at = x.at.Sub(lastNew), lastNew
			}
			lastNew, prev = x.at, x.frames
		}
	}
	return d, at
}

// logLines returns golive's JSON log lines with msg, decoded.
func (r netRun) logLines(msg string) []map[string]any { return testutil.LogLines(r.log, msg) }

// stopped is golive's "stopped" line (nil if none).
func (r netRun) stopped() map[string]any {
	if ls := r.logLines("stopped"); len(ls) > 0 {
		return ls[len(ls)-1]
	}
	return nil
}

// lastFrame is ffmpeg's last progress frame count.
func (r netRun) lastFrame() int {
	if len(r.progress) == 0 {
		return 0
	}
	return r.progress[len(r.progress)-1].frame
}

func recorded(pkts []testutil.PacketInfo) float64 {
	if len(pkts) < 2 {
		return 0
	}
	return pkts[len(pkts)-1].DTS - pkts[0].DTS
}

// outcome: how the process ended.
func (r netRun) outcome() string {
	took := r.exited.Sub(r.start).Seconds()
	switch {
	case r.killed:
		return fmt.Sprintf("still running %.1f s after start (%v push): killed", took, r.total)
	case r.exitCode == 0:
		return fmt.Sprintf("exit 0 after %.1f s (%v push)", took, r.total)
	default:
		return fmt.Sprintf("**exit %d after %.1f s** (%.1f s after going live)", r.exitCode, took, r.exited.Sub(r.live).Seconds())
	}
}

func secs(d time.Duration) string { return fmt.Sprintf("%.1f s", d.Seconds()) }

// afterEvent writes how long after event something happened (d < 0: never).
func afterEvent(d time.Duration, never string) string {
	if d < 0 {
		return never
	}
	return secs(d)
}

// lastWords is the last non-empty line of a log.
func lastWords(log string) string {
	lines := strings.Split(strings.TrimSpace(log), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

func tailLines(log string, n int) string {
	lines := strings.Split(strings.TrimSpace(log), "\n")
	return strings.Join(lines[max(len(lines)-n, 0):], "\n")
}

func cutTable(b *strings.Builder, g, f netRun) {
	fmt.Fprintf(b, "### Bandwidth cut: unshaped 8 s, then 1000 kbit/s for 27 s, then unshaped again (%v in all)\n\n", g.total)
	fmt.Fprintf(b, "| | golive | ffmpeg |\n|---|---|---|\n")
	row := func(name, gv, fv string) { fmt.Fprintf(b, "| %s | %s | %s |\n", name, gv, fv) }
	cut := func(r netRun) (time.Time, time.Time) { return r.events[0], r.events[1] }

	gs := g.stopped()
	row("How it ended", fmt.Sprintf("%s, %d reconnects", g.outcome(), testutil.LogInt(gs, "reconnects")), f.outcome())

	// Time to react.
	react := "no change during the cut"
	gc, gr := cut(g)
	for _, l := range g.logLines("bitrate") {
		if t := testutil.LogTime(l); t.After(gc) {
			react = fmt.Sprintf("%s (%d → %d kbit/s: %v)", secs(t.Sub(gc)), testutil.LogInt(l, "from_kbps"), testutil.LogInt(l, "to_kbps"), l["why"])
			break
		}
	}
	var rates []string
	for _, l := range g.logLines("bitrate") {
		if t := testutil.LogTime(l); t.After(gc) && t.Before(gr) {
			rates = append(rates, fmt.Sprintf("%d@%.1fs", testutil.LogInt(l, "to_kbps"), t.Sub(gc).Seconds()))
		}
	}
	row("Time to react (first bitrate change after the cut)", react, "— (no adaptive bitrate)")
	row("Bitrate changes during the cut (kbit/s @ s after the cut)", fmt.Sprintf("%d: %s", len(rates), strings.Join(rates, ", ")), "—")
	sheds := 0
	for _, l := range strings.Split(g.log, "\n") {
		if strings.Contains(l, "dropping queued video") {
			sheds++
		}
	}

	// The publisher's own view of its delay.
	fc, fr := cut(f)
	gq, ql := g.queueSeries(), f.progressLag()
	gmax, gat := maxIn(gq, gc, gr)
	fmax, fat := maxIn(ql, fc, fr)
	row("Max delay, publisher's view (golive: heartbeat queue delay; ffmpeg: `-progress` time behind the clock)",
		fmt.Sprintf("%.0f ms (%.1f s after the cut)", gmax*1000, gat.Sub(gc).Seconds()),
		fmt.Sprintf("%.1f s (%.1f s after the cut)", fmax, fat.Sub(fc).Seconds()))
	under := func(d time.Duration) string {
		switch {
		case d == 0:
			return "never reached 1 s"
		case d < 0:
			return "not during the cut"
		}
		return secs(d) + " after the cut"
	}
	row("Back under 1 s of delay (publisher's view)", under(backUnder(gq, gc, gr, 1)), under(backUnder(ql, fc, fr, 1)))
	row("Delay at the end of the cut (publisher's view)", fmt.Sprintf("%.0f ms", valueAt(gq, gr)*1000), fmt.Sprintf("%.1f s", valueAt(ql, fr)))

	// The server's view.
	gl, fl := g.serverLag(), f.serverLag()
	gsm, gsat := maxIn(gl, gc, gr)
	fsm, fsat := maxIn(fl, fc, fr)
	row("Max lag at the server during the cut", fmt.Sprintf("%.1f s (%.1f s after the cut)", gsm, gsat.Sub(gc).Seconds()),
		fmt.Sprintf("%.1f s (%.1f s after the cut)", fsm, fsat.Sub(fc).Seconds()))
	row("Lag at the server back under 1 s", under(backUnder(gl, gc, gr, 1)), under(backUnder(fl, fc, fr, 1)))
	row("Lag at the server at the end of the cut", fmt.Sprintf("%.1f s", valueAt(gl, gr)), fmt.Sprintf("%.1f s", valueAt(fl, fr)))
	gk, gf := g.arrivedRate(gc.Add(12*time.Second), gr.Add(-time.Second))
	fk, ff := f.arrivedRate(fc.Add(12*time.Second), fr.Add(-time.Second))
	row("Settled: arriving at the server, cut+12 s → restore−1 s (audio+video, wall clock)",
		fmt.Sprintf("%.0f kbit/s, %.1f fps", gk, gf), fmt.Sprintf("%.0f kbit/s, %.1f fps", fk, ff))

	// Frames.
	gdrop := testutil.LogInt(gs, "dropped_before_encoder") + testutil.LogInt(gs, "dropped_sending")
	row("Video frames: encoded / recorded / dropped",
		fmt.Sprintf("%d / %d / %d (%d before the encoder, %d sending; %d sheds to a keyframe)", testutil.LogInt(gs, "frames"), len(g.video), gdrop,
			testutil.LogInt(gs, "dropped_before_encoder"), testutil.LogInt(gs, "dropped_sending"), sheds),
		fmt.Sprintf("%d / %d / %d", f.lastFrame(), len(f.video), f.lastFrame()-len(f.video)))

	// Recovery.
	back := time.Duration(-1)
	for _, p := range g.hb {
		if p.at.After(gr) && p.doc.TargetBitrate >= 0.9*netTarget {
			back = p.at.Sub(gr)
			break
		}
	}
	row("Target back to ≥ 90 % after the restore (heartbeat)", afterEvent(back, "never"), "— (never lowered)")
	row("Server back to real time at full rate after the restore (lag < 1 s, video ≥ 2250 kbit/s over 2 s)",
		afterEvent(g.fullRateAfter(gr), "never"), afterEvent(f.fullRateAfter(fr), "never"))

	peak := func(r netRun, from time.Time) string {
		best := 0.0
		for _, x := range r.arr {
			if x.at.Before(from.Add(time.Second)) {
				continue
			}
			if k, _ := r.arrivedRate(x.at.Add(-time.Second), x.at); k > best {
				best = k
			}
		}
		return fmt.Sprintf("%.0f kbit/s", best)
	}
	row("Peak arrival rate after the restore (1 s windows)", peak(g, gr), peak(f, fr))

	// Gaps.
	gap := func(r netRun) string {
		vg, vat := testutil.MaxGap(r.video)
		ag, _ := testutil.MaxGap(r.audio)
		st, sat := r.stallMax()
		return fmt.Sprintf("%.2f s video at %.1f s, %.2f s audio; arrivals stalled %.1f s at most (%.1f s after going live)",
			vg, vat, ag, st.Seconds(), sat.Sub(r.live).Seconds())
	}
	row("Longest gap in the recording (media time) and in arrivals (wall clock)", gap(g), gap(f))
	row("Media recorded / wall time pushing", fmt.Sprintf("%.1f s / %.1f s", recorded(g.video), g.exited.Sub(g.live).Seconds()),
		fmt.Sprintf("%.1f s / %.1f s", recorded(f.video), f.exited.Sub(f.live).Seconds()))
	fmt.Fprintf(b, "\n")
	if f.exitCode != 0 {
		fmt.Fprintf(b, "ffmpeg's last words: `%s`\n\n", lastWords(f.log))
	}
}

// lossTable: the outage and the restart; down and up are the two events.
func lossTable(b *strings.Builder, g, f netRun, down, up string) {
	fmt.Fprintf(b, "| | golive | ffmpeg |\n|---|---|---|\n")
	row := func(name, gv, fv string) { fmt.Fprintf(b, "| %s | %s | %s |\n", name, gv, fv) }
	gs := g.stopped()
	row("How it ended", fmt.Sprintf("%s, %d reconnects", g.outcome(), testutil.LogInt(gs, "reconnects")), f.outcome())

	lost := "never said so"
	if ls := g.logLines("connection lost: reconnecting"); len(ls) > 0 {
		lost = fmt.Sprintf("%s (`%v`)", secs(max(testutil.LogTime(ls[0]).Sub(g.events[0]), 0)), ls[0]["error"])
	}
	fNoticed := "did not exit"
	if !f.killed && f.exitCode != 0 {
		fNoticed = fmt.Sprintf("exit %d, %s after %s", f.exitCode, secs(f.exited.Sub(f.events[0])), down)
		if f.exited.After(f.events[1]) {
			fNoticed += fmt.Sprintf(" (%s after %s)", secs(f.exited.Sub(f.events[1])), up)
		}
	}
	row("Noticed the loss after "+down, lost, fNoticed)

	again := "never"
	if ls := g.logLines("reconnected: publishing again"); len(ls) > 0 {
		again = fmt.Sprintf("%s (%d attempts, %s after losing it)", secs(testutil.LogTime(ls[0]).Sub(g.events[1])), testutil.LogInt(ls[0], "attempts"),
			secs(time.Duration(testutil.LogInt(ls[0], "after"))))
	}
	fAgain := "never (no reconnection)"
	row("Publishing again after "+up+" (its log)", again, fAgain)
	mediaAgain := func(r netRun) string {
		before := r.arrivalAt(r.events[1]).frames
		for _, a := range r.arr {
			if a.at.After(r.events[1]) && a.frames > before {
				return fmt.Sprintf("%s (%d frames after it)", secs(a.at.Sub(r.events[1])), r.arr[len(r.arr)-1].frames-before)
			}
		}
		return "never: the recording stopped"
	}
	row("New video at the server after "+up, mediaAgain(g), mediaAgain(f))
	gdrop := testutil.LogInt(gs, "dropped_before_encoder") + testutil.LogInt(gs, "dropped_sending")
	row("Video frames: encoded / recorded", fmt.Sprintf("%d / %d (%d dropped before the encoder or sending)", testutil.LogInt(gs, "frames"), len(g.video), gdrop),
		fmt.Sprintf("%d / %d", f.lastFrame(), len(f.video)))
	rec := func(r netRun) string {
		vg, _ := testutil.MaxGap(r.video)
		return fmt.Sprintf("%.1f s of video in %.1f s of media time (%.1f s live); longest gap %.2f s",
			float64(len(r.video))/30, recorded(r.video), r.exited.Sub(r.live).Seconds(), vg)
	}
	row("Recorded (one file: nginx appends a new session to it)", rec(g), rec(f))
	fmt.Fprintf(b, "\n")
	if f.exitCode != 0 {
		fmt.Fprintf(b, "ffmpeg's last words: `%s`\n\n", lastWords(f.log))
	}
}
