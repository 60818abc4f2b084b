package record

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/asticode/go-astiav"

	"github.com/golive/golive/internal/teststream"
	"github.com/golive/golive/internal/testutil"
	"github.com/golive/golive/media"
	"github.com/golive/golive/publish/mux"
)

func TestMain(m *testing.M) {
	astiav.SetLogLevel(astiav.LogLevelError)
	if path := os.Getenv(crashChildEnv); path != "" {
		os.Exit(crashChild(path))
	}
	os.Exit(m.Run())
}

const (
	msgStopped = "recording stopped: the stream goes on without it"
	msgFull    = "recording queue full (the disk is too slow): dropping"
)

func generate(t testing.TB, opt teststream.Options) *teststream.Stream {
	t.Helper()
	s, err := teststream.Generate(opt)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// testStream is d of 640x360 at 30 fps, keyframes every 2 s, with audio
// in codec.
func testStream(t testing.TB, d time.Duration, codec media.Codec) *teststream.Stream {
	return generate(t, teststream.Options{Width: 640, Height: 360, FPS: 30, Duration: d, Audio: codec})
}

// harness is a Recorder under test, with its log.
type harness struct {
	*Recorder
	log  *testutil.LogBuffer
	done chan error
}

// open opens a Recorder for s at path and starts Run. The cleanup checks
// that no goroutine outlives Run and Close.
func open(t *testing.T, path string, s *teststream.Stream, tune func(*Config)) *harness {
	t.Helper()
	base := runtime.NumGoroutine()
	h := &harness{log: &testutil.LogBuffer{}, done: make(chan error, 1)}
	cfg := Config{Path: path, Video: s.Video, Audio: s.Audio, Logger: slog.New(slog.NewJSONHandler(h.log, nil))}
	if s.Audio != nil {
		cfg.TimeOffset = s.Audio.Delay
	}
	if tune != nil {
		tune(&cfg)
	}
	r, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.Recorder = r
	go func() { h.done <- r.Run(context.Background()) }()
	t.Cleanup(func() {
		r.Close()
		r.Close()
		h.wait(t)
		if !testutil.WaitFor(5*time.Second, 10*time.Millisecond, func() bool { return runtime.NumGoroutine() <= base }) {
			buf := make([]byte, 1<<16)
			t.Errorf("%d goroutines after Close, %d before:\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
		}
	})
	return h
}

// wait waits for Run to return (once; later calls return at once).
func (h *harness) wait(t *testing.T) {
	t.Helper()
	if h.done == nil {
		return
	}
	select {
	case err := <-h.done:
		h.done = nil
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return")
	}
}

// record writes pkts, finishes and waits for Run.
func (h *harness) record(t *testing.T, pkts []*media.Packet) {
	t.Helper()
	for _, p := range pkts {
		if err := h.WritePacket(p); err != nil {
			t.Fatal(err)
		}
	}
	h.Finish()
	h.wait(t)
}

func decodeErrors(path string) string {
	out, err := exec.Command("ffmpeg", "-nostdin", "-v", "error", "-i", path, "-f", "null", "-").CombinedOutput()
	if err != nil {
		return string(out) + err.Error()
	}
	return strings.TrimSpace(string(out))
}

func videoPackets(t *testing.T, path string) []testutil.PacketInfo {
	t.Helper()
	vp, err := testutil.Packets(path, "v")
	if err != nil {
		t.Fatal(err)
	}
	if len(vp) == 0 {
		t.Fatalf("%s: no video", path)
	}
	return vp
}

// TestFormats: a 3 s recording in each container decodes without an
// error to 90 frames of 640x360 and 3 s of audio.
func TestFormats(t *testing.T) {
	testutil.RequireTool(t, "ffmpeg", "ffprobe")
	for _, tc := range []struct {
		ext   string
		audio media.Codec
	}{
		{".mp4", media.CodecAAC}, {".mkv", media.CodecAAC}, {".flv", media.CodecAAC}, {".ts", media.CodecAAC},
		{".mp4", media.CodecOpus}, {".mkv", media.CodecOpus},
	} {
		t.Run(tc.ext[1:]+"/"+tc.audio.String(), func(t *testing.T) {
			s := testStream(t, 3*time.Second, tc.audio)
			path := filepath.Join(t.TempDir(), "rec"+tc.ext)
			h := open(t, path, s, nil)
			h.record(t, s.Packets)
			if files := h.Files(); len(files) != 1 || files[0] != path {
				t.Fatalf("files %v, want [%s]", files, path)
			}
			if msg := decodeErrors(path); msg != "" {
				t.Fatalf("ffmpeg: %s", msg)
			}
			pr, err := testutil.Probe(path)
			if err != nil {
				t.Fatal(err)
			}
			if v := pr.Video(); v == nil || v.Width != 640 || v.Height != 360 {
				t.Fatalf("video %+v, want 640x360", v)
			}
			if a := pr.Audio(); a == nil || a.CodecName != tc.audio.String() {
				t.Fatalf("audio %+v, want %s", a, tc.audio)
			}
			if n := len(videoPackets(t, path)); n < 89 || n > 91 {
				t.Fatalf("%d frames, want 90", n)
			}
			ap, err := testutil.Packets(path, "a")
			if err != nil || len(ap) == 0 || ap[len(ap)-1].PTS-ap[0].PTS < 2.9 {
				t.Fatalf("audio packets: %d (%v)", len(ap), err)
			}
			st := h.Stats()
			fi, _ := os.Stat(path)
			if st.Packets != int64(len(s.Packets)) || st.VideoDropped+st.AudioDropped != 0 ||
				st.Bytes < fi.Size() || st.Sessions != 1 {
				t.Fatalf("stats %+v for %d packets, a file of %d bytes", st, len(s.Packets), fi.Size())
			}
		})
	}
}

// TestSegments: with Segment 2 s, 5 s make a file per GOP, each starting
// on a keyframe, each going on from the last one's timestamps; a name
// without verbs gets -1, -2.
func TestSegments(t *testing.T) {
	testutil.RequireTool(t, "ffmpeg", "ffprobe")
	s := testStream(t, 5*time.Second, media.CodecAAC)
	for _, ext := range []string{".mp4", ".mkv", ".ts", ".flv"} {
		t.Run(ext[1:], func(t *testing.T) {
			dir := t.TempDir()
			h := open(t, filepath.Join(dir, "rec"+ext), s, func(c *Config) { c.Segment = 2 * time.Second })
			h.record(t, s.Packets)
			files := h.Files()
			want := []string{"rec" + ext, "rec-1" + ext, "rec-2" + ext}
			if len(files) != len(want) {
				t.Fatalf("files %v, want %v", files, want)
			}
			var last float64
			frames := 0
			for i, f := range files {
				if filepath.Base(f) != want[i] {
					t.Fatalf("files %v, want %v", files, want)
				}
				if msg := decodeErrors(f); msg != "" {
					t.Fatalf("ffmpeg %s: %s", f, msg)
				}
				vp := videoPackets(t, f)
				frames += len(vp)
				if !vp[0].Keyframe {
					t.Fatalf("%s starts on a non-keyframe", f)
				}
				if i > 0 {
					if d := vp[0].PTS - (last + 1.0/30); math.Abs(d) > 0.002 {
						t.Fatalf("%s starts at %.4f s, the last file ended at %.4f s (+1 frame): off by %.4f", f, vp[0].PTS, last, d)
					}
				}
				last = vp[len(vp)-1].PTS
			}
			if frames != s.VideoFrames() {
				t.Fatalf("%d frames in all, want %d", frames, s.VideoFrames())
			}
		})
	}
}

// TestConfigChange: a keyframe with another config (the encoder reopened
// at another size) starts a new file there.
func TestConfigChange(t *testing.T) {
	testutil.RequireTool(t, "ffmpeg", "ffprobe")
	a := generate(t, teststream.Options{Width: 640, Height: 360, FPS: 30, Duration: 2 * time.Second})
	b := generate(t, teststream.Options{Width: 320, Height: 180, FPS: 30, Duration: 2 * time.Second, Start: 2 * time.Second})
	h := open(t, filepath.Join(t.TempDir(), "rec.mp4"), a, func(c *Config) { c.Segment = time.Hour })
	h.record(t, append(append([]*media.Packet(nil), a.Packets...), b.Packets...))
	files := h.Files()
	if len(files) != 2 {
		t.Fatalf("files %v, want 2", files)
	}
	for i, want := range []int{640, 320} {
		pr, err := testutil.Probe(files[i])
		if err != nil {
			t.Fatal(err)
		}
		if v := pr.Video(); v == nil || v.Width != want {
			t.Fatalf("%s: video %+v, want width %d", files[i], v, want)
		}
		if msg := decodeErrors(files[i]); msg != "" {
			t.Fatalf("ffmpeg %s: %s", files[i], msg)
		}
	}
}

// TestStartsOnKeyframe: video before the first keyframe is dropped (and
// counted), the file starts on the keyframe.
func TestStartsOnKeyframe(t *testing.T) {
	testutil.RequireTool(t, "ffprobe")
	s := testStream(t, 3*time.Second, media.CodecAAC)
	var pkts []*media.Packet
	skipped := 0
	for _, p := range s.Packets {
		if p.Kind == media.KindVideo && p.DTS < 2*time.Second-time.Millisecond {
			skipped++
			if p.DTS > time.Second { // a second of non-keyframes: the recording joins late
				pkts = append(pkts, p)
			}
			continue
		}
		pkts = append(pkts, p)
	}
	path := filepath.Join(t.TempDir(), "rec.mkv")
	h := open(t, path, s, nil)
	h.record(t, pkts)
	vp := videoPackets(t, path)
	if !vp[0].Keyframe || math.Abs(vp[0].PTS-2-s.Audio.Delay.Seconds()) > 0.002 || len(vp) != s.VideoFrames()-skipped {
		t.Fatalf("%d frames from %.3f s (keyframe %v), want %d from 2 s, a keyframe",
			len(vp), vp[0].PTS, vp[0].Keyframe, s.VideoFrames()-skipped)
	}
	if st := h.Stats(); st.VideoDropped != 29 {
		t.Fatalf("%d video packets dropped, want 29", st.VideoDropped)
	}
}

// TestQueueFull: WritePacket never blocks; past the queue's bound packets
// are dropped, counted, with one warning a second, and video resumes at a
// keyframe: the file still decodes without an error.
func TestQueueFull(t *testing.T) {
	testutil.RequireTool(t, "ffmpeg")
	s := testStream(t, 5*time.Second, media.CodecAAC)
	path := filepath.Join(t.TempDir(), "rec.ts")
	base := runtime.NumGoroutine()
	logs := &testutil.LogBuffer{}
	r, err := Open(Config{
		Path: path, Video: s.Video, Audio: s.Audio, TimeOffset: s.Audio.Delay,
		MaxQueue: 1500 * time.Millisecond, Logger: slog.New(slog.NewJSONHandler(logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	// Run is not started yet: the disk is stuck.
	for _, p := range s.Packets {
		if err := r.WritePacket(p); err != nil {
			t.Fatal(err)
		}
	}
	st := r.Stats()
	if st.VideoDropped == 0 || st.AudioDropped == 0 ||
		st.QueueDelay > 1500*time.Millisecond || st.QueueDelay < time.Second {
		t.Fatalf("stats %+v with a queue of 1.5 s", st)
	}
	if n := len(testutil.LogLines(logs.String(), msgFull)); n != 1 {
		t.Fatalf("%d warnings, want 1:\n%s", n, logs)
	}
	done := make(chan error, 1)
	go func() { done <- r.Run(context.Background()) }()
	r.Finish()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	r.Close()
	if msg := decodeErrors(path); msg != "" {
		t.Fatalf("ffmpeg: %s", msg)
	}
	if !testutil.WaitFor(5*time.Second, 10*time.Millisecond, func() bool { return runtime.NumGoroutine() <= base }) {
		t.Fatalf("%d goroutines after Close, %d before", runtime.NumGoroutine(), base)
	}
}

// TestOpenErrors: what cannot be recorded fails Open with ErrBadPath and
// leaves no file.
func TestOpenErrors(t *testing.T) {
	aac := testStream(t, 3*time.Second, media.CodecAAC)
	opus := testStream(t, 3*time.Second, media.CodecOpus)
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path string
		audio      *media.AudioConfig
		segment    time.Duration
		also       error
	}{
		{"extension", filepath.Join(dir, "rec.avi"), aac.Audio, 0, nil},
		{"no extension", filepath.Join(dir, "rec"), aac.Audio, 0, nil},
		{"no directory", filepath.Join(dir, "nope", "rec.mp4"), aac.Audio, 0, os.ErrNotExist},
		{"not a directory", filepath.Join(file, "rec.mp4"), aac.Audio, 0, nil},
		{"unknown verb", filepath.Join(dir, "rec-%Q.mp4"), aac.Audio, 0, nil},
		{"opus in flv", filepath.Join(dir, "rec.flv"), opus.Audio, 0, mux.ErrUnsupported},
		{"negative segment", filepath.Join(dir, "rec.mp4"), aac.Audio, -time.Second, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Open(Config{Path: tc.path, Video: aac.Video, Audio: tc.audio, Segment: tc.segment})
			if !errors.Is(err, ErrBadPath) || tc.also != nil && !errors.Is(err, tc.also) {
				t.Fatalf("error %v, want %v (and %v)", err, ErrBadPath, tc.also)
			}
			t.Log(err)
			// CheckPath, for the flags, knows nothing of codecs or segments.
			if cerr := CheckPath(tc.path); tc.audio == aac.Audio && tc.segment == 0 && !errors.Is(cerr, ErrBadPath) {
				t.Fatalf("CheckPath: %v, want %v", cerr, ErrBadPath)
			}
		})
	}
	if err := CheckPath(filepath.Join(dir, "rec-%Y.mkv")); err != nil {
		t.Fatalf("CheckPath of a good path: %v", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("Open left files: %v", ents)
	}
}

// TestReadOnlyDir: a directory that cannot be written fails Open (as
// root, permissions do not stop writes: a read-only mount does).
func TestReadOnlyDir(t *testing.T) {
	dir := mountTmpfs(t, "ro,size=64k")
	s := testStream(t, 3*time.Second, media.CodecAAC)
	_, err := Open(Config{Path: filepath.Join(dir, "rec.mp4"), Video: s.Video, Audio: s.Audio})
	if !errors.Is(err, ErrBadPath) {
		t.Fatalf("error %v, want %v", err, ErrBadPath)
	}
	t.Log(err)
}

// TestNames: strftime verbs take the time the file opens at; a taken name
// gets -1.
func TestNames(t *testing.T) {
	s := testStream(t, 5*time.Second, media.CodecAAC)
	dir := t.TempDir()
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.Local)
	now := func() time.Time { at = at.Add(time.Second); return at }
	taken := filepath.Join(dir, "cam-2026-03-04_05-06-10.mkv")
	if err := os.WriteFile(taken, []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	h := open(t, filepath.Join(dir, "cam-%Y-%m-%d_%H-%M-%S.mkv"), s, func(c *Config) {
		c.Segment, c.Now = 2*time.Second, now
	})
	h.record(t, s.Packets)
	var got []string
	for _, f := range h.Files() {
		got = append(got, filepath.Base(f))
	}
	// Open asks the time once (…08), each file once more.
	want := []string{"cam-2026-03-04_05-06-09.mkv", "cam-2026-03-04_05-06-10-1.mkv", "cam-2026-03-04_05-06-11.mkv"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("files %v, want %v", got, want)
	}
	if b, _ := os.ReadFile(taken); string(b) != "mine" {
		t.Fatal("an existing file was overwritten")
	}
}

func TestExpand(t *testing.T) {
	at := time.Date(2026, 12, 31, 23, 59, 58, 0, time.UTC)
	for _, tc := range []struct{ in, want, err string }{
		{"rec.mp4", "rec.mp4", ""},
		{"%Y-%m-%d_%H-%M-%S.mkv", "2026-12-31_23-59-58.mkv", ""},
		{"/var/rec/%Y/%m/%d/%s.ts", "/var/rec/2026/12/31/1798761598.ts", ""},
		{"100%%.flv", "100%.flv", ""},
		{"%Q.mp4", "", "unknown verb %Q"},
		{"rec%", "", "at the end"},
	} {
		got, err := Expand(tc.in, at)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Expand(%q): error %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("Expand(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// TestContextCancel: Run returns ctx.Err() when ctx is done, with the file
// closed properly (the trailer written).
func TestContextCancel(t *testing.T) {
	testutil.RequireTool(t, "ffmpeg")
	s := testStream(t, 3*time.Second, media.CodecAAC)
	path := filepath.Join(t.TempDir(), "rec.mp4")
	r, err := Open(Config{
		Path: path, Video: s.Video, Audio: s.Audio, TimeOffset: s.Audio.Delay, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, p := range s.Packets {
		r.WritePacket(p)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	if !testutil.WaitFor(10*time.Second, 5*time.Millisecond, func() bool { return r.Stats().QueuePackets == 0 }) {
		t.Fatal("the queue did not drain")
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v", err)
	}
	if msg := decodeErrors(path); msg != "" {
		t.Fatalf("ffmpeg: %s", msg)
	}
}

// BenchmarkRecord: the CPU a recording costs, per second of a 640x360
// 30 fps + AAC stream (1.1 Mbit/s) recorded as fragmented MP4, the
// fsyncs of a temporary directory's disk included.
func BenchmarkRecord(b *testing.B) {
	s := testStream(b, 5*time.Second, media.CodecAAC)
	dir := b.TempDir()
	b.ReportAllocs()
	for b.Loop() {
		r, err := Open(Config{Path: filepath.Join(dir, "rec.mp4"), Video: s.Video, Audio: s.Audio, TimeOffset: s.Audio.Delay,
			Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			b.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- r.Run(context.Background()) }()
		for _, p := range s.Packets {
			r.WritePacket(p)
		}
		r.Finish()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		r.Close()
		for _, f := range r.Files() {
			os.Remove(f)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/5, "µs/media-s")
}
