package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golive/golive/internal/testpeer"
	"github.com/golive/golive/internal/testutil"
)

// TestAVSync: a flash and a beep made at the same pipeline time arrive at
// the server within one frame (33 ms) of each other.
func TestAVSync(t *testing.T) {
	testutil.RequireTool(t, "ffmpeg", "ffprobe")
	n := testpeer.StartNginx(t, testpeer.NginxConfig{Record: true})
	if code, log := push(t, "--preset", "360p", "--source", "test:sync", "--duration", "6s", n.URL("sync")); code != exitOK {
		t.Fatalf("exit %d:\n%s", code, log)
	}
	testutil.ProbeRecordingT(t, n.RecordPath("sync"))
	pairs, err := testutil.AVOffsets(n.RecordPath("sync"))
	if err != nil {
		t.Fatal(err)
	}
	if len(pairs) < 4 {
		t.Fatalf("%d flash/beep pairs in 6 s: want one a second", len(pairs))
	}
	t.Logf("flash→beep offsets: %v", pairs)
	for _, p := range pairs {
		if math.Abs(p.Offset) > 1.0/30 {
			t.Fatalf("A/V offsets %v: more than one frame (33 ms)", pairs)
		}
	}
}

// clip makes a media file with ffmpeg in dir.
func clip(t *testing.T, name string, args ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	cmd := exec.Command("ffmpeg", append(append([]string{"-v", "error", "-y"}, args...), path)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg %s: %v\n%s", name, err, out)
	}
	return path
}

// TestFileSource: a file is pushed in real time, re-encoded to the preset,
// and the push ends cleanly (exit 0) at its end.
func TestFileSource(t *testing.T) {
	testutil.RequireTool(t, "ffmpeg", "ffprobe")
	n := testpeer.StartNginx(t, testpeer.NginxConfig{Record: true})
	mp4 := clip(t, "show.mp4", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
		"-t", "4", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-ac", "1")
	start := time.Now()
	if code, log := push(t, "--preset", "360p", "--source", "file:"+mp4, n.URL("file")); code != exitOK {
		t.Fatalf("exit %d:\n%s", code, log)
	}
	if took := time.Since(start); took < 3500*time.Millisecond || took > 8*time.Second {
		t.Errorf("a 4 s file took %v to push: not paced in real time", took)
	}
	pr := testutil.ProbeRecordingT(t, n.RecordPath("file"))
	v, a := pr.Video(), pr.Audio()
	if v == nil || a == nil || v.Width != 640 || v.Height != 360 || a.SampleRate != 48000 || a.Channels != 2 {
		t.Fatalf("recording streams %+v: want 640x360 video and 48 kHz stereo audio", pr.Streams)
	}
	if fps := testutil.ParseRate(v.RFrameRate); math.Abs(fps-30) > 0.5 {
		t.Errorf("frame rate %v, want the preset's 30", fps)
	}
	if math.Abs(pr.Duration-4) > 0.5 {
		t.Errorf("duration %.2f s, want the file's 4 s", pr.Duration)
	}
}

// TestFileLoop: --loop plays the file again and again; timestamps keep
// running across the loop point without gaps.
func TestFileLoop(t *testing.T) {
	testutil.RequireTool(t, "ffmpeg", "ffprobe")
	n := testpeer.StartNginx(t, testpeer.NginxConfig{Record: true})
	mp4 := clip(t, "loop.mp4", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-t", "2", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac")
	if code, log := push(t, "--preset", "360p", "--source", "file:"+mp4, "--loop", "--duration", "5s", n.URL("loop")); code != exitOK {
		t.Fatalf("exit %d:\n%s", code, log)
	}
	rec := n.RecordPath("loop")
	pr := testutil.ProbeRecordingT(t, rec)
	if pr.Duration < 4.5 {
		t.Fatalf("duration %.2f s: the loop stopped", pr.Duration)
	}
	for _, kind := range []string{"v", "a"} {
		pk, err := testutil.Packets(rec, kind)
		if err != nil {
			t.Fatal(err)
		}
		for i := 1; i < len(pk); i++ {
			if pk[i].DTS <= pk[i-1].DTS {
				t.Fatalf("%s: timestamps go back at %.3f s", kind, pk[i].DTS)
			}
			if gap := pk[i].DTS - pk[i-1].DTS; gap > 2.0/30+0.002 {
				t.Fatalf("%s: gap of %.0f ms at %.3f s (the loop point?)", kind, gap*1000, pk[i].DTS)
			}
		}
	}
}

// TestFileAudioOnly: a wav has no picture: the slate goes with its audio.
func TestFileAudioOnly(t *testing.T) {
	testutil.RequireTool(t, "ffmpeg", "ffprobe")
	n := testpeer.StartNginx(t, testpeer.NginxConfig{Record: true})
	wav := clip(t, "radio.wav", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "3")
	if code, log := push(t, "--preset", "360p", "--source", "file:"+wav, n.URL("wav")); code != exitOK {
		t.Fatalf("exit %d:\n%s", code, log)
	}
	pr := testutil.ProbeRecordingT(t, n.RecordPath("wav"))
	if pr.Video() == nil || pr.Audio() == nil || math.Abs(pr.Duration-3) > 0.5 {
		t.Fatalf("recording %.2f s, streams %+v: want 3 s of slate and audio", pr.Duration, pr.Streams)
	}
}

// decodeAudio decodes from..from+dur s of path's audio to 48 kHz mono s16.
func decodeAudio(t *testing.T, path string, from, dur float64) []int16 {
	t.Helper()
	out, err := exec.Command("ffmpeg", "-v", "error", "-ss", fmt.Sprint(from), "-t", fmt.Sprint(dur), "-i", path,
		"-map", "0:a:0", "-ac", "1", "-ar", "48000", "-f", "s16le", "-").Output()
	if err != nil {
		t.Fatalf("decode audio: %v", err)
	}
	s := make([]int16, len(out)/2)
	for i := range s {
		s[i] = int16(binary.LittleEndian.Uint16(out[2*i:]))
	}
	return s
}

// TestMicrophone: a tone played into a real PulseAudio daemon's null sink,
// captured from its monitor with --mic, arrives at the server with its
// frequency and level.
func TestMicrophone(t *testing.T) {
	testutil.RequireTool(t, "ffmpeg", "ffprobe")
	pulse := testpeer.StartPulse(t) // also points this process's libpulse at it
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const level = 0.25
	if err := pulse.PlayTone(ctx, 1000, level); err != nil {
		t.Fatal(err)
	}
	n := testpeer.StartNginx(t, testpeer.NginxConfig{Record: true})
	if code, log := push(t, "--preset", "360p", "--mic", pulse.Monitor(), "--duration", "4s", n.URL("mic")); code != exitOK {
		t.Fatalf("exit %d:\n%s", code, log)
	}
	rec := n.RecordPath("mic")
	testutil.ProbeRecordingT(t, rec)
	s := decodeAudio(t, rec, 1.5, 2)
	hz := testutil.ToneFrequency(s, 1, 48000)
	rms := testutil.RMS(s, 1)
	want := level / math.Sqrt2
	t.Logf("received %.1f Hz at RMS %.3f (played %.3f)", hz, rms, want)
	if math.Abs(hz-1000) > 5 {
		t.Errorf("tone at %.1f Hz, want 1000", hz)
	}
	if db := 20 * math.Log10(rms/want); math.Abs(db) > 1 {
		t.Errorf("level %.2f dB off what was played", db)
	}
}

// TestNoMicrophone: --mic default on a machine without any microphone (no
// sound card, no PulseAudio here): a warning, silence, and the push goes on.
func TestNoMicrophone(t *testing.T) {
	testutil.RequireTool(t, "ffprobe")
	n := testpeer.StartNginx(t, testpeer.NginxConfig{Record: true})
	code, log := push(t, "--preset", "360p", "--mic", "default", "--duration", "3s", n.URL("nomic"))
	if code != exitOK || !strings.Contains(log, "no microphone") {
		t.Fatalf("exit %d, want 0 with a warning; log:\n%s", code, log)
	}
	pr := testutil.ProbeRecordingT(t, n.RecordPath("nomic"))
	if pr.Audio() == nil || math.Abs(pr.Duration-3) > 0.5 {
		t.Fatalf("recording %.2f s, streams %+v: want 3 s with a (silent) audio track", pr.Duration, pr.Streams)
	}
	if s := decodeAudio(t, n.RecordPath("nomic"), 0.5, 2); testutil.RMS(s, 1) > 0.001 {
		t.Errorf("audio RMS %.4f: want silence", testutil.RMS(s, 1))
	}
}
