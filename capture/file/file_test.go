package file

import (
	"bytes"
	"context"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/asticode/go-astiav"

	"github.com/golive/golive/internal/testutil"
	"github.com/golive/golive/media"
)

func TestMain(m *testing.M) {
	astiav.SetLogLevel(astiav.LogLevelError)
	os.Exit(m.Run())
}

var quiet = slog.New(slog.DiscardHandler)

// makeClip writes a clip with ffmpeg into the test's temp dir.
func makeClip(t testing.TB, name string, args ...string) string {
	t.Helper()
	testutil.RequireTool(t, "ffmpeg")
	path := filepath.Join(t.TempDir(), name)
	cmd := exec.Command("ffmpeg", append(append([]string{"-hide_banner", "-loglevel", "error", "-y"}, args...), path)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg %s: %v\n%s", name, err, out)
	}
	return path
}

// Sources for the clips.
var (
	videoSrc = func(size string, rate int) []string {
		return []string{"-f", "lavfi", "-i", "testsrc2=size=" + size + ":rate=" + itoa(rate)}
	}
	toneSrc = func(hz, rate int) []string {
		return []string{"-f", "lavfi", "-i", "sine=frequency=" + itoa(hz) + ":sample_rate=" + itoa(rate)}
	}
)

func itoa(i int) string { return strconv.Itoa(i) }

func cat(parts ...[]string) []string {
	var out []string
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// result is what a run delivered.
type result struct {
	video    []media.VideoFrame // PTS, Seq, size, format (planes not kept)
	first    *media.VideoFrame  // the first frame, kept
	audio    []media.AudioFrame // PTS, rate, channels (samples not kept)
	samples  []int16            // every audio sample, interleaved
	start    time.Duration      // the clock when Run was called
	end      time.Duration      // the clock when Run returned
	err      error
	hasVideo bool
	hasAudio bool
}

func (r *result) WriteVideo(f *media.VideoFrame) error {
	if r.first == nil {
		r.first = f
	} else {
		defer f.Release()
	}
	r.video = append(r.video, media.VideoFrame{Format: f.Format, Width: f.Width, Height: f.Height, PTS: f.PTS, Seq: f.Seq})
	return nil
}

func (r *result) WriteAudio(f *media.AudioFrame) error {
	r.audio = append(r.audio, media.AudioFrame{SampleRate: f.SampleRate, Channels: f.Channels,
		PTS: f.PTS, Samples: make([]int16, len(f.Samples))})
	r.samples = append(r.samples, f.Samples...)
	return nil
}

func testConfig(path string, r *result) Config {
	return Config{Path: path, Width: 1280, Height: 720, FPS: 30, SampleRate: 48000, Channels: 2,
		Clock: media.NewClock(), Video: r, Audio: r, Logger: quiet}
}

// play opens cfg and runs it for at most d (0: until the end, within a
// minute); noPace runs it as fast as it decodes.
func play(t *testing.T, cfg Config, d time.Duration, noPace bool) *result {
	t.Helper()
	r := cfg.Video.(*result)
	f, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.noPace = noPace
	r.hasVideo, r.hasAudio = f.HasVideo(), f.HasAudio()
	if d == 0 {
		d = time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	r.start = cfg.Clock.Now()
	r.err = f.Run(ctx)
	r.end = cfg.Clock.Now()
	if r.err != nil {
		t.Fatalf("Run: %v", r.err)
	}
	return r
}

// checkVideoGrid: 1280x720 I420, PTS strictly increasing, exactly 1/fps
// apart (floor of n/fps seconds: 33333333 or 33333334 ns at 30 fps), Seq
// counting from 0.
func checkVideoGrid(t *testing.T, r *result, fps int) {
	t.Helper()
	if len(r.video) == 0 {
		t.Fatal("no video frames")
	}
	step := time.Second / time.Duration(fps)
	for i, v := range r.video {
		if v.Width != 1280 || v.Height != 720 || v.Format != media.PixelFormatI420 {
			t.Fatalf("frame %d: %dx%d format %d", i, v.Width, v.Height, v.Format)
		}
		if v.Seq != uint64(i) {
			t.Fatalf("frame %d: Seq %d", i, v.Seq)
		}
		if i == 0 {
			continue
		}
		if d := v.PTS - r.video[i-1].PTS; d != step && d != step+1 {
			t.Fatalf("frame %d: PTS %v, %v after the previous one (want %v)", i, v.PTS, d, step)
		}
		// and no drift: exactly i/fps after the first
		if d := v.PTS - r.video[0].PTS - time.Duration(i)*time.Second/time.Duration(fps); d < -1 || d > 1 {
			t.Fatalf("frame %d: %v off the 1/%d s grid", i, d, fps)
		}
	}
}

// checkAudioGrid: 1024-sample frames at rate/channels, PTS exactly
// 1024/rate apart.
func checkAudioGrid(t *testing.T, r *result, rate, channels int) {
	t.Helper()
	if len(r.audio) == 0 {
		t.Fatal("no audio frames")
	}
	for i, a := range r.audio {
		if a.SampleRate != rate || a.Channels != channels || a.NumSamples() != AudioFrameSamples {
			t.Fatalf("audio frame %d: %d Hz, %d channels, %d samples", i, a.SampleRate, a.Channels, a.NumSamples())
		}
		want := r.audio[0].PTS + time.Duration(int64(i)*AudioFrameSamples*int64(time.Second)/int64(rate))
		if d := a.PTS - want; d < -1 || d > 1 {
			t.Fatalf("audio frame %d: PTS %v, want %v", i, a.PTS, want)
		}
	}
}

// toneHz measures the frequency of channel 0 by its zero crossings, leaving
// out the first and last 100 ms.
func toneHz(samples []int16, rate, channels int) float64 {
	skip := rate / 10
	n := len(samples)/channels - 2*skip
	if n <= rate/10 {
		return 0
	}
	crossings := 0
	prev := samples[skip*channels]
	for i := skip + 1; i < skip+n; i++ {
		v := samples[i*channels]
		if (prev < 0) != (v < 0) {
			crossings++
		}
		prev = v
	}
	return float64(crossings) / 2 / (float64(n) / float64(rate))
}

func near(got, want, tol float64) bool { return math.Abs(got-want) <= tol }

func TestMP4(t *testing.T) {
	path := makeClip(t, "x.mp4", cat(videoSrc("640x360", 25), toneSrc(440, 44100),
		[]string{"-t", "3", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac"})...)
	var logs bytes.Buffer
	r := &result{}
	cfg := testConfig(path, r)
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	play(t, cfg, 0, false)

	if !r.hasVideo || !r.hasAudio {
		t.Fatalf("HasVideo %v, HasAudio %v", r.hasVideo, r.hasAudio)
	}
	for _, want := range []string{"component=capture.file", "container=mov,mp4", "video=h264", "size=640x360",
		"fps=25", "audio=aac", "rate=44100", "channels=1", "duration=3"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
	// Pacing: 3 s of file take 3 s of clock.
	if took := r.end - r.start; took < 2700*time.Millisecond || took > 3300*time.Millisecond {
		t.Errorf("Run took %v, want 3 s ± 0.3", took)
	}
	checkVideoGrid(t, r, 30)
	if n := len(r.video); n < 87 || n > 93 {
		t.Errorf("%d video frames in 3 s, want ≈ 90", n)
	}
	checkAudioGrid(t, r, 48000, 2)
	if n := len(r.audio); n < 138 || n > 143 { // 3 s = 140.6 frames
		t.Errorf("%d audio frames in 3 s, want ≈ 141", n)
	}
	if hz := toneHz(r.samples, 48000, 2); !near(hz, 440, 5) {
		t.Errorf("tone %.1f Hz, want 440", hz)
	}
	for i := 0; i+1 < len(r.samples); i += 2 {
		if r.samples[i] != r.samples[i+1] {
			t.Fatalf("mono upmix: sample %d: left %d right %d", i/2, r.samples[i], r.samples[i+1])
		}
	}
	// Sync and start: both begin when Run started; nothing before its time.
	if d := r.video[0].PTS - r.start; d < 0 || d > 50*time.Millisecond {
		t.Errorf("first video PTS %v, Run started at %v", r.video[0].PTS, r.start)
	}
	if d := r.audio[0].PTS - r.video[0].PTS; d < -35*time.Millisecond || d > 35*time.Millisecond {
		t.Errorf("first audio PTS %v, first video %v", r.audio[0].PTS, r.video[0].PTS)
	}
	// The last frames end with the file.
	lastV := r.video[len(r.video)-1].PTS - r.video[0].PTS
	lastA := r.audio[len(r.audio)-1].PTS - r.audio[0].PTS
	if !near(lastV.Seconds(), 3-1.0/30, 0.04) || !near(lastA.Seconds(), 3-1024.0/48000, 0.03) {
		t.Errorf("last video frame at %v, last audio frame at %v after the first", lastV, lastA)
	}
	// A 16:9 picture fills a 16:9 frame: no bars.
	if isBlack(r.first, 0, 0, 8, 720) || isBlack(r.first, 1272, 0, 8, 720) {
		t.Error("16:9 into 16:9 has bars at the sides")
	}
}

// TestEmitOnTime: no frame is handed over before the clock reaches its PTS.
func TestEmitOnTime(t *testing.T) {
	path := makeClip(t, "x.mkv", cat(videoSrc("320x240", 25), toneSrc(440, 48000),
		[]string{"-t", "1.5", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "libopus"})...)
	clock := media.NewClock()
	var early []string
	var nv, na int
	cfg := Config{Path: path, Width: 1280, Height: 720, FPS: 30, SampleRate: 48000, Channels: 2, Clock: clock, Logger: quiet,
		Video: media.VideoWriterFunc(func(f *media.VideoFrame) error {
			if now := clock.Now(); now < f.PTS {
				early = append(early, "video "+f.PTS.String()+" at "+now.String())
			}
			nv++
			f.Release()
			return nil
		}),
		Audio: media.AudioWriterFunc(func(f *media.AudioFrame) error {
			if now := clock.Now(); now < f.PTS {
				early = append(early, "audio "+f.PTS.String()+" at "+now.String())
			}
			na++
			return nil
		}),
	}
	f, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(early) > 0 {
		t.Errorf("%d frames emitted early, e.g. %s", len(early), early[0])
	}
	if nv < 43 || na < 68 {
		t.Errorf("%d video and %d audio frames from 1.5 s", nv, na)
	}
}

// isBlack reports whether the w x h rectangle at x, y is black (luma 16,
// chroma 128).
func isBlack(f *media.VideoFrame, x, y, w, h int) bool {
	for j := y; j < y+h; j++ {
		for i := x; i < x+w; i++ {
			if f.Planes[0][j*f.Strides[0]+i] != 16 {
				return false
			}
			if u, v := f.Planes[1][j/2*f.Strides[1]+i/2], f.Planes[2][j/2*f.Strides[2]+i/2]; u != 128 || v != 128 {
				return false
			}
		}
	}
	return true
}

func TestLetterbox(t *testing.T) {
	for _, c := range []struct {
		name, size string
		bars       [][4]int // x, y, w, h of rectangles that must be black
		picture    [][4]int // and of rectangles that must not
	}{
		// 4:3 → 960x720 in the middle: pillarbox, 160 px at each side.
		{"4:3", "640x480", [][4]int{{0, 0, 160, 720}, {1120, 0, 160, 720}}, [][4]int{{160, 0, 8, 720}, {1112, 0, 8, 720}}},
		// 2.4:1 → 1280x534 (even): letterbox, 93 lines above and below.
		{"2.4:1", "1200x500", [][4]int{{0, 0, 1280, 92}, {0, 628, 1280, 92}}, [][4]int{{0, 94, 1280, 4}, {0, 622, 1280, 4}}},
		// The same aspect: nothing.
		{"16:9", "320x180", nil, [][4]int{{0, 0, 4, 720}, {1276, 0, 4, 720}, {0, 0, 1280, 4}, {0, 716, 1280, 4}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := makeClip(t, "x.y4m", cat(videoSrc(c.size, 30), []string{"-t", "0.2", "-pix_fmt", "yuv420p"})...)
			r := play(t, testConfig(path, &result{}), 0, true)
			if r.first == nil {
				t.Fatal("no frame")
			}
			for _, b := range c.bars {
				if !isBlack(r.first, b[0], b[1], b[2], b[3]) {
					t.Errorf("%v is not black", b)
				}
			}
			for _, b := range c.picture {
				if isBlack(r.first, b[0], b[1], b[2], b[3]) {
					t.Errorf("%v is black", b)
				}
			}
		})
	}
}

// TestFullRangeRGB: RGB and full-range sources come out limited range.
func TestFullRangeRGB(t *testing.T) {
	for _, c := range []struct{ name, ext, pixfmt, codec string }{
		{"rgb", "x.mkv", "rgb24", "png"},
		{"yuvj", "x.mkv", "yuvj420p", "mjpeg"},
	} {
		t.Run(c.name, func(t *testing.T) {
			// A white frame and black bars: white must be 235, black 16.
			path := makeClip(t, c.ext, "-f", "lavfi", "-i", "color=c=white:size=640x480:rate=30", "-t", "0.2",
				"-pix_fmt", c.pixfmt, "-c:v", c.codec)
			r := play(t, testConfig(path, &result{}), 0, true)
			f := r.first
			if y := f.Planes[0][360*f.Strides[0]+640]; y < 233 || y > 236 {
				t.Errorf("white is luma %d, want 235", y)
			}
			if !isBlack(f, 0, 0, 150, 720) {
				t.Error("bars not black")
			}
		})
	}
}

func TestY4MVideoOnly(t *testing.T) {
	path := makeClip(t, "x.y4m", cat(videoSrc("320x240", 25), []string{"-t", "1", "-pix_fmt", "yuv420p"})...)
	r := play(t, testConfig(path, &result{}), 0, false)
	if !r.hasVideo || r.hasAudio {
		t.Fatalf("HasVideo %v, HasAudio %v", r.hasVideo, r.hasAudio)
	}
	checkVideoGrid(t, r, 30)
	if n := len(r.video); n < 28 || n > 32 {
		t.Errorf("%d frames from 1 s", n)
	}
	if len(r.audio) != 0 {
		t.Errorf("%d audio frames from a file without audio", len(r.audio))
	}
	if took := r.end - r.start; took < 900*time.Millisecond || took > 1300*time.Millisecond {
		t.Errorf("1 s took %v", took)
	}
}

func TestAudioOnly(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
	}{
		{"x.wav", cat(toneSrc(440, 44100), []string{"-t", "1"})},
		{"x.mp3", cat(toneSrc(440, 44100), []string{"-t", "1", "-c:a", "libmp3lame"})},
		// mp3 with cover art: the picture is not video.
		{"cover.mp3", cat(toneSrc(440, 44100), videoSrc("64x64", 1), []string{"-t", "1", "-map", "0:a", "-map", "1:v",
			"-c:a", "libmp3lame", "-c:v", "mjpeg", "-frames:v", "1", "-disposition:v", "attached_pic"})},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := makeClip(t, c.name, c.args...)
			r := play(t, testConfig(path, &result{}), 0, false)
			if r.hasVideo || !r.hasAudio {
				t.Fatalf("HasVideo %v, HasAudio %v", r.hasVideo, r.hasAudio)
			}
			if len(r.video) != 0 {
				t.Errorf("%d video frames", len(r.video))
			}
			checkAudioGrid(t, r, 48000, 2)
			if n := len(r.audio); n < 46 || n > 50 {
				t.Errorf("%d audio frames from 1 s", n)
			}
			if hz := toneHz(r.samples, 48000, 2); !near(hz, 440, 5) {
				t.Errorf("tone %.1f Hz", hz)
			}
			if d := r.audio[0].PTS - r.start; d < 0 || d > 30*time.Millisecond {
				t.Errorf("first audio PTS %v, Run started at %v", r.audio[0].PTS, r.start)
			}
		})
	}
}

func TestMonoOutput(t *testing.T) {
	path := makeClip(t, "x.wav", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000,pan=stereo|c0=c0|c1=c0", "-t", "0.5")
	r := &result{}
	cfg := testConfig(path, r)
	cfg.Channels, cfg.SampleRate = 1, 44100
	play(t, cfg, 0, true)
	checkAudioGrid(t, r, 44100, 1)
	if hz := toneHz(r.samples, 44100, 1); !near(hz, 440, 5) {
		t.Errorf("tone %.1f Hz", hz)
	}
}

// TestStartOffset: audio that starts 0.5 s after the video still does.
func TestStartOffset(t *testing.T) {
	path := makeClip(t, "x.mkv", cat(videoSrc("320x240", 25), []string{"-itsoffset", "0.5"}, toneSrc(440, 48000),
		[]string{"-t", "1.5", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "libopus"})...)
	r := play(t, testConfig(path, &result{}), 0, true)
	if d := r.audio[0].PTS - r.video[0].PTS; d < 470*time.Millisecond || d > 530*time.Millisecond {
		t.Errorf("audio starts %v after the video, want 0.5 s", d)
	}
	checkVideoGrid(t, r, 30)
	checkAudioGrid(t, r, 48000, 2)
}

// TestFormatChange: a stream whose resolution and sample rate change midway
// (two MPEG-TS files end to end) comes out unchanged in format, on the same
// grids.
func TestFormatChange(t *testing.T) {
	a := makeClip(t, "a.ts", cat(videoSrc("320x240", 25), toneSrc(440, 48000),
		[]string{"-t", "1", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac"})...)
	b := makeClip(t, "b.ts", cat(videoSrc("640x360", 30), toneSrc(440, 44100),
		[]string{"-t", "1", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-output_ts_offset", "1.1"})...)
	ab := filepath.Join(t.TempDir(), "ab.ts")
	var data []byte
	for _, p := range []string{a, b} {
		d, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		data = append(data, d...)
	}
	if err := os.WriteFile(ab, data, 0o644); err != nil {
		t.Fatal(err)
	}
	r := play(t, testConfig(ab, &result{}), 0, true)
	checkVideoGrid(t, r, 30)
	checkAudioGrid(t, r, 48000, 2)
	checkContinuous(t, r)
	if n := len(r.video); n < 60 || n > 68 {
		t.Errorf("%d video frames from 2.1 s", n)
	}
	// The tone on both sides of the change (the 0.1 s between the files is
	// silence).
	n := len(r.samples)
	for _, part := range [][]int16{r.samples[:n*4/10], r.samples[n*6/10:]} {
		if hz := toneHz(part, 48000, 2); !near(hz, 440, 5) {
			t.Errorf("tone %.1f Hz", hz)
		}
	}
}

// TestDiscontinuity: MPEG-TS files joined end to end, the timestamps of
// the second starting again and those of the third an hour on, play as one
// continuous stream, as with ffmpeg.
func TestDiscontinuity(t *testing.T) {
	var data []byte
	for i, offset := range []string{"0", "0", "3600"} {
		p := makeClip(t, "p"+itoa(i)+".ts", cat(videoSrc("320x240", 25), toneSrc(440, 48000),
			[]string{"-t", "1", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-output_ts_offset", offset})...)
		d, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		data = append(data, d...)
	}
	path := filepath.Join(t.TempDir(), "joined.ts")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	r := play(t, testConfig(path, &result{}), 0, true)
	checkVideoGrid(t, r, 30)
	checkAudioGrid(t, r, 48000, 2)
	checkContinuous(t, r)
	if n := len(r.video); n < 87 || n > 95 {
		t.Errorf("%d video frames from 3 s", n)
	}
	if n := len(r.audio); n < 136 || n > 146 {
		t.Errorf("%d audio frames from 3 s", n)
	}
	if d := r.audio[len(r.audio)-1].PTS - r.video[len(r.video)-1].PTS; d < -100*time.Millisecond || d > 100*time.Millisecond {
		t.Errorf("audio ends %v after the video", d)
	}
}

// TestRotated: a phone's portrait video (landscape pixels and a display
// matrix) is turned upright, as ffmpeg does.
func TestRotated(t *testing.T) {
	src := makeClip(t, "src.mp4", cat(videoSrc("320x240", 25), []string{"-t", "0.2", "-c:v", "libx264", "-preset", "ultrafast"})...)
	path := makeClip(t, "rot.mp4", "-i", src, "-c", "copy", "-metadata:s:v:0", "rotate=90")
	r := play(t, testConfig(path, &result{}), 0, true)
	// 240x320 upright into 1280x720: 540x720 in the middle.
	if !isBlack(r.first, 0, 0, 368, 720) || !isBlack(r.first, 912, 0, 368, 720) {
		t.Fatal("no pillarbox bars for a portrait picture")
	}
	ref := filepath.Join(t.TempDir(), "ref.yuv")
	out, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-i", path, "-frames:v", "1",
		"-vf", "scale=540:720,format=yuv420p", "-f", "rawvideo", ref).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	want, err := os.ReadFile(ref)
	if err != nil {
		t.Fatal(err)
	}
	var diff int
	for y := range 720 {
		for x := range 540 {
			d := int(r.first.Planes[0][y*r.first.Strides[0]+370+x]) - int(want[y*540+x])
			diff += max(d, -d)
		}
	}
	if mean := float64(diff) / (540 * 720); mean > 3 {
		t.Errorf("picture differs from ffmpeg's autorotated one: mean luma difference %.1f", mean)
	}
}

// TestNoAudioWriter: with Audio nil the file's audio is decoded (it paces)
// but not delivered.
func TestNoAudioWriter(t *testing.T) {
	path := makeClip(t, "x.mkv", cat(videoSrc("320x240", 25), toneSrc(440, 48000),
		[]string{"-t", "0.5", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "libopus"})...)
	r := &result{}
	cfg := testConfig(path, r)
	cfg.Audio = nil
	play(t, cfg, 0, false)
	checkVideoGrid(t, r, 30)
	if len(r.audio) != 0 || len(r.video) < 14 {
		t.Errorf("%d audio frames, %d video frames", len(r.audio), len(r.video))
	}
}

// checkContinuous: strictly increasing PTS with no gap larger than one
// frame, for both streams.
func checkContinuous(t *testing.T, r *result) {
	t.Helper()
	for i := 1; i < len(r.video); i++ {
		if d := r.video[i].PTS - r.video[i-1].PTS; d <= 0 || d > time.Second/30+1 {
			t.Fatalf("video frame %d: %v after the previous one", i, d)
		}
	}
	for i := 1; i < len(r.audio); i++ {
		if d := r.audio[i].PTS - r.audio[i-1].PTS; d <= 0 || d > r.audio[i-1].Duration()+1 {
			t.Fatalf("audio frame %d: %v after the previous one", i, d)
		}
	}
}

func TestLoop(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
	}{
		{"x.mp4", cat(videoSrc("640x360", 25), toneSrc(440, 44100),
			[]string{"-t", "2", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac"})},
		// B-frames (the decoder holds frames back) and audio shorter than
		// the video (a gap of silence at each loop point).
		{"short-audio.mp4", []string{"-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30:duration=2",
			"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=1.7",
			"-c:v", "libx264", "-preset", "fast", "-bf", "3", "-c:a", "aac"}},
		{"x.y4m", cat(videoSrc("320x240", 25), []string{"-t", "2", "-pix_fmt", "yuv420p"})},
		{"x.wav", cat(toneSrc(440, 44100), []string{"-t", "2"})},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			path := makeClip(t, c.name, c.args...)
			r := &result{}
			cfg := testConfig(path, r)
			cfg.Loop = true
			play(t, cfg, 5*time.Second, false)
			checkContinuous(t, r)
			if r.hasVideo {
				checkVideoGrid(t, r, 30)
				// ≈ 30/s throughout: every second of the run.
				for s := 0; s < 4; s++ {
					n := 0
					for _, v := range r.video {
						if d := v.PTS - r.start; d >= time.Duration(s)*time.Second && d < time.Duration(s+1)*time.Second {
							n++
						}
					}
					if n < 28 || n > 32 {
						t.Errorf("second %d: %d video frames", s, n)
					}
				}
			}
			if r.hasAudio {
				checkAudioGrid(t, r, 48000, 2)
				if n := len(r.audio); n < 225 || n > 236 { // 5 s = 234 frames
					t.Errorf("%d audio frames in 5 s", n)
				}
			}
			// Audio stays in step with the video across loop points: the
			// short audio's 0.3 s of silence ends where the clip restarts.
			if c.name == "short-audio.mp4" {
				checkSilences(t, r.samples, 2*time.Second)
			}
		})
	}
}

// checkSilences: every silence longer than 0.2 s (of stereo 48 kHz samples)
// ends on a multiple of period.
func checkSilences(t *testing.T, samples []int16, period time.Duration) {
	t.Helper()
	n, zero := 0, 0
	for i := 0; i < len(samples); i += 2 {
		if samples[i] == 0 {
			zero++
			continue
		}
		if zero > 48000/5 {
			n++
			at := time.Duration(i/2) * time.Second / 48000
			if off := (at + period/2) % period; off < period/2-5*time.Millisecond || off > period/2+5*time.Millisecond {
				t.Errorf("a silence ends at %v, not on a multiple of %v", at, period)
			}
		}
		zero = 0
	}
	if n < 1 {
		t.Error("no silence found")
	}
}

func TestBadInput(t *testing.T) {
	testutil.RequireTool(t, "ffmpeg")
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// An AVI whose video has a FourCC no decoder knows.
	avi, err := os.ReadFile(makeClip(t, "known.avi", "-f", "lavfi", "-i", "testsrc2=size=64x64:rate=5", "-t", "1", "-c:v", "mpeg4"))
	if err != nil {
		t.Fatal(err)
	}
	unknown := write("unknown.avi", strings.ReplaceAll(string(avi), "FMP4", "ZZZZ"))
	noStreams := write("subtitles.srt", "1\n00:00:00,000 --> 00:00:01,000\nHello\n\n2\n00:00:01,000 --> 00:00:02,000\nWorld\n")
	for _, c := range []struct{ path, want string }{
		{filepath.Join(dir, "missing.mp4"), ": no such file"},
		{write("notes.txt", "hello, this is not a video\n"), ": not a media file FFmpeg can read"},
		{write("random.mp4", strings.Repeat("\x00garbage\xff", 1000)), ": not a media file FFmpeg can read"},
		{write("empty.mp4", ""), ": empty file"},
		{dir, ": is a directory"},
		{noStreams, ": no audio or video stream"},
		{unknown, `: video stream 0: unknown codec (tag "ZZZZ")`},
	} {
		t.Run(filepath.Base(c.path), func(t *testing.T) {
			r := &result{}
			f, err := Open(testConfig(c.path, r))
			if err == nil {
				f.Close()
				t.Fatalf("Open(%s) works", c.path)
			}
			t.Log(err)
			if want := "file: " + c.path + c.want; !strings.HasPrefix(err.Error(), want) {
				t.Errorf("error %q, want %q…", err, want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q is not one line", err)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	r := &result{}
	good := testConfig("x.mp4", r)
	for _, c := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"size", func(c *Config) { c.Width = 641 }, "size 641x720"},
		{"fps", func(c *Config) { c.FPS = 0 }, "frame rate 0"},
		{"rate", func(c *Config) { c.SampleRate = 0 }, "sample rate 0"},
		{"channels", func(c *Config) { c.Channels = 6 }, "6 audio channels"},
		{"clock", func(c *Config) { c.Clock = nil }, "no Clock"},
		{"video", func(c *Config) { c.Video = nil }, "no Video writer"},
		{"path", func(c *Config) { c.Path = "" }, "no path"},
	} {
		cfg := good
		c.edit(&cfg)
		if _, err := Open(cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}

// TestLifecycle: Close is idempotent, Run runs once, cancelling stops a
// long file at once, and no goroutine outlives Run.
func TestLifecycle(t *testing.T) {
	path := makeClip(t, "x.mkv", cat(videoSrc("320x240", 25), toneSrc(440, 48000),
		[]string{"-t", "20", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "libopus"})...)
	before := runtime.NumGoroutine()
	r := &result{}
	f, err := Open(testConfig(path, r))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	time.Sleep(300 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run after cancel: %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if err := f.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("second Run: %v", err)
	}
	f.Close()
	f.Close()
	if err := f.Run(context.Background()); err == nil {
		t.Error("Run after Close works")
	}
	if len(r.video) < 5 || len(r.audio) < 5 {
		t.Errorf("%d video, %d audio frames in 0.3 s", len(r.video), len(r.audio))
	}
	if !testutil.WaitFor(time.Second, 10*time.Millisecond, func() bool { return runtime.NumGoroutine() <= before }) {
		t.Errorf("%d goroutines before, %d after", before, runtime.NumGoroutine())
	}

	// Closing without running.
	f, err = Open(testConfig(path, &result{}))
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
}

// TestAstiavPointers checks the shim's reading of astiav's C pointers.
func TestAstiavPointers(t *testing.T) {
	path := makeClip(t, "x.mkv", cat(videoSrc("320x240", 25), toneSrc(440, 48000),
		[]string{"-t", "0.2", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "libopus"})...)
	f, err := Open(testConfig(path, &result{}))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if n := nbStreams(f.fc); n != f.fc.NbStreams() {
		t.Errorf("nb_streams %d, astiav %d", n, f.fc.NbStreams())
	}
	for _, s := range f.streams() {
		if i := streamIndex(s.st); i != s.st.Index() {
			t.Errorf("stream index %d, astiav %d", i, s.st.Index())
		}
		if n := filterInputs(s.sink); n != s.sink.NbInputs() {
			t.Errorf("buffersink inputs %d, astiav %d", n, s.sink.NbInputs())
		}
	}
	if decoderChannels(f.audio.dec) != 1 || layoutName(f.audio.dec) != "mono" {
		t.Errorf("audio decoder: %d channels, layout %q", decoderChannels(f.audio.dec), layoutName(f.audio.dec))
	}
}

func TestTimeMath(t *testing.T) {
	tb30 := astiav.NewRational(1, 30)
	for n := int64(-100); n < 100; n++ {
		want := time.Duration(math.Floor(float64(n) * 1e9 / 30))
		if got := tsToDur(n, tb30); got != want {
			t.Fatalf("tsToDur(%d, 1/30) = %d, want %d", n, got, want)
		}
	}
	// No overflow a year in, at 90 kHz.
	year := int64(365 * 24 * 3600)
	if got := tsToDur(year*90000, astiav.NewRational(1, 90000)); got != time.Duration(year)*time.Second {
		t.Errorf("a year at 90 kHz: %v", got)
	}
	if got := durToTS(time.Duration(year)*time.Second+time.Second/3, astiav.NewRational(1, 48000)); got != year*48000+16000 {
		t.Errorf("durToTS: %d", got)
	}
	if got := rescale(1024, astiav.NewRational(1, 44100), astiav.NewRational(1, 48000)); got != 1115 {
		t.Errorf("rescale: %d", got)
	}
	for _, c := range []struct {
		w, h      int
		sar       astiav.Rational
		wantW, h2 int
	}{
		{640, 480, astiav.NewRational(1, 1), 960, 720},
		{640, 360, astiav.NewRational(1, 1), 1280, 720},
		{720, 576, astiav.NewRational(16, 15), 960, 720},  // PAL 4:3
		{720, 576, astiav.NewRational(64, 45), 1280, 720}, // PAL 16:9
		{1200, 500, astiav.NewRational(1, 1), 1280, 534},
		{1080, 1920, astiav.NewRational(1, 1), 406, 720},
	} {
		if w, h := fitSize(c.w, c.h, c.sar, 1280, 720); w != c.wantW || h != c.h2 {
			t.Errorf("fitSize(%dx%d sar %v) = %dx%d, want %dx%d", c.w, c.h, c.sar, w, h, c.wantW, c.h2)
		}
	}
}
