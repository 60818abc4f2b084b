package mux

import (
	"bytes"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/asticode/go-astiav"

	"github.com/golive/golive/internal/teststream"
	"github.com/golive/golive/internal/testutil"
	"github.com/golive/golive/media"
)

func TestMain(m *testing.M) {
	astiav.SetLogLevel(astiav.LogLevelError)
	os.Exit(m.Run())
}

// stream is 3 s of 640x360 at 30 fps with audio in codec (0: none).
func testStream(t testing.TB, codec media.Codec) *teststream.Stream {
	t.Helper()
	s, err := teststream.Generate(teststream.Options{Width: 640, Height: 360, FPS: 30, Duration: 3 * time.Second, Audio: codec})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func config(format string, s *teststream.Stream) Config {
	c := Config{Format: format, Video: s.Video, Audio: s.Audio}
	if s.Audio != nil {
		c.TimeOffset = s.Audio.Delay
	}
	return c
}

func writeAll(t testing.TB, m *Muxer, pkts []*media.Packet) {
	t.Helper()
	for _, p := range pkts {
		if err := m.WritePacket(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
}

// decodeErrors is what ffmpeg says (at level error) decoding all of path.
func decodeErrors(t testing.TB, path string) string {
	t.Helper()
	out, err := exec.Command("ffmpeg", "-nostdin", "-v", "error", "-i", path, "-f", "null", "-").CombinedOutput()
	if err != nil {
		return string(out) + err.Error()
	}
	return strings.TrimSpace(string(out))
}

// checkFile proves that ffmpeg decodes path without an error and finds the
// stream s holds: size, frame count, audio codec.
func checkFile(t *testing.T, path string, s *teststream.Stream) {
	t.Helper()
	if msg := decodeErrors(t, path); msg != "" {
		t.Fatalf("ffmpeg decoding %s: %s", filepath.Base(path), msg)
	}
	pr, err := testutil.Probe(path)
	if err != nil {
		t.Fatal(err)
	}
	v := pr.Video()
	if v == nil || v.CodecName != "h264" || v.Width != s.Video.Width || v.Height != s.Video.Height {
		t.Fatalf("video stream %+v, want h264 %dx%d", v, s.Video.Width, s.Video.Height)
	}
	vp, err := testutil.Packets(path, "v")
	if err != nil {
		t.Fatal(err)
	}
	if want := s.VideoFrames(); len(vp) != want {
		t.Fatalf("%d video packets, want %d", len(vp), want)
	}
	if !vp[0].Keyframe {
		t.Fatal("the first video packet is not a keyframe")
	}
	if gap, at := testutil.MaxGap(vp); gap > 0.05 {
		t.Fatalf("video DTS gap of %.3f s at %.3f s", gap, at)
	}
	if s.Audio == nil {
		return
	}
	a := pr.Audio()
	if a == nil || a.CodecName != s.Audio.Codec.String() ||
		a.SampleRate != s.Audio.SampleRate || a.Channels != s.Audio.Channels {
		t.Fatalf("audio stream %+v, want %s %d Hz %d channels", a, s.Audio.Codec, s.Audio.SampleRate, s.Audio.Channels)
	}
	ap, err := testutil.Packets(path, "a")
	if err != nil {
		t.Fatal(err)
	}
	if d := ap[len(ap)-1].PTS - ap[0].PTS; d < 2.9 {
		t.Fatalf("audio spans %.2f s, want 3", d)
	}
	if d := ap[0].PTS - vp[0].PTS; d < -0.05 || d > 0.05 {
		t.Fatalf("audio starts %.3f s after video", d)
	}
}

// TestFormats: each container with each audio codec it takes decodes
// with ffmpeg, without an error, to the stream that went in.
func TestFormats(t *testing.T) {
	testutil.RequireTool(t, "ffmpeg", "ffprobe")
	for _, tc := range []struct {
		format, ext string
		audio       media.Codec
		writer      bool // New to a bytes.Buffer rather than Create
	}{
		{"mp4", ".mp4", media.CodecAAC, false},
		{"matroska", ".mkv", media.CodecAAC, false},
		{"flv", ".flv", media.CodecAAC, false},
		{"mpegts", ".ts", media.CodecAAC, false},
		{"mpegts", ".ts", media.CodecAAC, true},
		{"mp4", ".mp4", media.CodecAAC, true},
		{"matroska", ".mkv", media.CodecAAC, true},
		{"flv", ".flv", media.CodecAAC, true},
		{"mp4", ".mp4", media.CodecOpus, false},
		{"matroska", ".mkv", media.CodecOpus, false},
		{"mpegts", ".ts", media.CodecOpus, false},
		{"mp4", ".mp4", 0, false},
		{"mpegts", ".ts", 0, true},
	} {
		name := tc.format + "/" + tc.audio.String()
		if tc.writer {
			name += "/writer"
		}
		t.Run(name, func(t *testing.T) {
			s := testStream(t, tc.audio)
			path := filepath.Join(t.TempDir(), "out"+tc.ext)
			if !tc.writer {
				m, err := Create(path, config(tc.format, s))
				if err != nil {
					t.Fatal(err)
				}
				writeAll(t, m, s.Packets)
				// Bytes counts the trailer's patches of the header too.
				if st, err := os.Stat(path); err != nil || st.Size() > m.Bytes() || st.Size() < m.Bytes()-1000 {
					t.Fatalf("file of %v bytes, Bytes() %d (%v)", st.Size(), m.Bytes(), err)
				}
			} else {
				var w chunks
				m, err := New(&w, config(tc.format, s))
				if err != nil {
					t.Fatal(err)
				}
				writeAll(t, m, s.Packets)
				if int64(w.b.Len()) != m.Bytes() {
					t.Fatalf("writer got %d bytes, Bytes() %d", w.b.Len(), m.Bytes())
				}
				if odd := w.odd(); tc.format == "mpegts" && odd > 1 {
					t.Fatalf("%d writes of other than %d bytes: %v", odd, ChunkSize, w.sizes)
				}
				if err := os.WriteFile(path, w.b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			checkFile(t, path, s)
		})
	}
}

// chunks is a writer that records the size of each write.
type chunks struct {
	b     bytes.Buffer
	sizes []int
}

func (c *chunks) Write(p []byte) (int, error) {
	c.sizes = append(c.sizes, len(p))
	return c.b.Write(p)
}

// odd counts the writes that are not whole chunks.
func (c *chunks) odd() int {
	n := 0
	for _, s := range c.sizes {
		if s != ChunkSize {
			n++
		}
	}
	return n
}

// TestTSChunks: over a writer, MPEG-TS comes in writes of seven TS
// packets (what SRT sends in one datagram); Flush writes what is buffered,
// whole TS packets.
func TestTSChunks(t *testing.T) {
	s := testStream(t, media.CodecAAC)
	var w chunks
	m, err := New(&w, config("mpegts", s))
	if err != nil {
		t.Fatal(err)
	}
	flushes := 0
	for _, p := range s.Packets {
		if p.Kind == media.KindVideo && p.Keyframe {
			if err := m.Flush(); err != nil {
				t.Fatal(err)
			}
			flushes++
		}
		if err := m.WritePacket(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if odd := w.odd(); odd > flushes+1 {
		t.Fatalf("%d writes of other than %d bytes for %d flushes and a trailer", odd, ChunkSize, flushes)
	}
	for i, n := range w.sizes {
		if n%188 != 0 || n > ChunkSize {
			t.Fatalf("write %d: %d bytes, not whole TS packets within a chunk", i, n)
		}
	}
	if b := w.b.Bytes(); len(b) < 188 || b[0] != 0x47 || b[188] != 0x47 {
		t.Fatal("no TS sync byte")
	}
}

// TestConfigChange: a keyframe with a new config (the encoder reopened at
// another size) carries its parameter sets in band; ffmpeg decodes both
// sizes without an error.
func TestConfigChange(t *testing.T) {
	testutil.RequireTool(t, "ffmpeg", "ffprobe")
	a, err := teststream.Generate(teststream.Options{Width: 640, Height: 360, FPS: 30, Duration: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	b, err := teststream.Generate(teststream.Options{
		Width: 320, Height: 180, FPS: 30, Duration: 2 * time.Second, Start: 2 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	pkts := append(append([]*media.Packet(nil), a.Packets...), b.Packets...)
	for _, tc := range []struct{ format, ext string }{{"mpegts", ".ts"}, {"mp4", ".mp4"}, {"matroska", ".mkv"}} {
		t.Run(tc.format, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "out"+tc.ext)
			m, err := Create(path, config(tc.format, a))
			if err != nil {
				t.Fatal(err)
			}
			writeAll(t, m, pkts)
			if msg := decodeErrors(t, path); msg != "" {
				t.Fatalf("ffmpeg: %s", msg)
			}
			out, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "frame=width",
				"-of", "csv=p=0", path).Output()
			out = bytes.ReplaceAll(out, []byte(","), nil)
			if err != nil {
				t.Fatal(err)
			}
			widths := strings.Fields(string(out))
			if len(widths) != 120 || widths[0] != "640" || widths[119] != "320" {
				t.Fatalf("%d frames decoded, first %v last %v; want 120, 640 then 320",
					len(widths), widths[:1], widths[len(widths)-1:])
			}
		})
	}
}

// TestTimestamps: the offset moves every timestamp, also in a fragmented
// MP4 (a recording's second file goes on from the first); a DTS that does
// not move forward is nudged rather than refused.
func TestTimestamps(t *testing.T) {
	testutil.RequireTool(t, "ffprobe")
	s := testStream(t, 0)
	for _, tc := range []struct {
		format, ext string
		opts        map[string]string
	}{
		{"matroska", ".mkv", nil},
		{"mp4", ".mp4", map[string]string{"movflags": FragmentedMP4}},
		{"mpegts", ".ts", nil},
	} {
		t.Run(tc.format, func(t *testing.T) {
			cfg := config(tc.format, s)
			cfg.TimeOffset, cfg.Options = 5*time.Second, tc.opts
			path := filepath.Join(t.TempDir(), "out"+tc.ext)
			m, err := Create(path, cfg)
			if err != nil {
				t.Fatal(err)
			}
			for i, p := range s.Packets {
				if i == 10 {
					q := *p
					q.DTS, q.PTS = s.Packets[9].DTS, s.Packets[9].PTS // a repeated timestamp
					p = &q
				}
				if err := m.WritePacket(p); err != nil {
					t.Fatal(err)
				}
			}
			if err := m.Close(); err != nil {
				t.Fatal(err)
			}
			vp, err := testutil.Packets(path, "v")
			if err != nil {
				t.Fatal(err)
			}
			if len(vp) != len(s.Packets) || math.Abs(vp[0].PTS-5) > 0.002 {
				t.Fatalf("%d packets from %.3f s, want %d from 5 s", len(vp), vp[0].PTS, len(s.Packets))
			}
			for i := 1; i < len(vp); i++ {
				if d := vp[i].DTS - vp[i-1].DTS; d <= 0 || d > 0.07 { // 0.067 after the repeated one
					t.Fatalf("DTS %.3f after %.3f", vp[i].DTS, vp[i-1].DTS)
				}
			}
		})
	}
}

func opt(k, v string) map[string]string { return map[string]string{k: v} }

func TestConfigErrors(t *testing.T) {
	aac := testStream(t, media.CodecAAC)
	opus := testStream(t, media.CodecOpus)
	for _, tc := range []struct {
		name string
		cfg  Config
		want error
	}{
		{"unknown format", Config{Format: "avi", Video: aac.Video}, ErrUnsupported},
		{"opus in flv", Config{Format: "flv", Video: aac.Video, Audio: opus.Audio}, ErrUnsupported},
		{"unknown option", Config{Format: "mp4", Video: aac.Video, Options: opt("no_such", "1")}, ErrUnsupported},
		{"bad movflags", Config{Format: "mp4", Video: aac.Video, Options: opt("movflags", "no")}, ErrUnsupported},
		{"no record", Config{Format: "mp4"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			astiav.SetLogLevel(astiav.LogLevelQuiet) // libavformat says why, the error too
			defer astiav.SetLogLevel(astiav.LogLevelError)
			path := filepath.Join(t.TempDir(), "out")
			m, err := Create(path, tc.cfg)
			if err == nil {
				m.Close()
				t.Fatal("no error")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("a failed Create left its file (%v)", err)
			}
			if _, err := New(&bytes.Buffer{}, tc.cfg); err == nil {
				t.Fatal("New: no error")
			}
		})
	}
}

// failAfter accepts n bytes, then fails.
type failAfter struct{ n int }

var errFull = errors.New("test: full")

func (f *failAfter) Write(p []byte) (int, error) {
	if len(p) > f.n {
		return 0, errFull
	}
	f.n -= len(p)
	return len(p), nil
}

// TestWriteError: the writer's error comes back as it was (errors.Is
// finds it), from then on every call, and Close is idempotent.
func TestWriteError(t *testing.T) {
	s := testStream(t, media.CodecAAC)
	m, err := New(&failAfter{n: 100_000}, config("mpegts", s))
	if err != nil {
		t.Fatal(err)
	}
	var werr error
	for _, p := range s.Packets {
		if werr = m.WritePacket(p); werr != nil {
			break
		}
	}
	if !errors.Is(werr, errFull) {
		t.Fatalf("WritePacket: %v, want %v", werr, errFull)
	}
	if err := m.Flush(); !errors.Is(err, errFull) {
		t.Fatalf("Flush after the failure: %v", err)
	}
	if err := m.Close(); !errors.Is(err, errFull) {
		t.Fatalf("Close: %v", err)
	}
	if err := m.Close(); !errors.Is(err, errFull) {
		t.Fatalf("second Close: %v", err)
	}
}

func TestOpusHead(t *testing.T) {
	for _, tc := range []struct {
		channels int
		delay    time.Duration
		want     []byte
	}{
		{2, 6500 * time.Microsecond, append([]byte("OpusHead"), 1, 2, 0x38, 0x01, 0x80, 0xbb, 0, 0, 0, 0, 0)},
		{1, 0, append([]byte("OpusHead"), 1, 1, 0, 0, 0x80, 0xbb, 0, 0, 0, 0, 0)},
	} {
		if got := OpusHead(tc.channels, tc.delay); !bytes.Equal(got, tc.want) {
			t.Errorf("OpusHead(%d, %v) = %x, want %x", tc.channels, tc.delay, got, tc.want)
		}
	}
}

// BenchmarkWritePacket: the cost of muxing (fragmented MP4 to a writer),
// per packet of a 640x360 30 fps + AAC stream.
func BenchmarkWritePacket(b *testing.B) {
	s := testStream(b, media.CodecAAC)
	cfg := config("mp4", s)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		m, err := New(discard{}, cfg)
		if err != nil {
			b.Fatal(err)
		}
		for _, p := range s.Packets {
			if err := m.WritePacket(p); err != nil {
				b.Fatal(err)
			}
		}
		if err := m.Close(); err != nil {
			b.Fatal(err)
		}
		n += len(s.Packets)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/packet")
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
