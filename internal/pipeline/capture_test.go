package pipeline

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/golive/golive/capture"
	"github.com/golive/golive/internal/preset"
	"github.com/golive/golive/internal/testpeer"
	"github.com/golive/golive/internal/testutil"
	"github.com/golive/golive/media"
)

// stdinPipe makes openStdin return the read end of a pipe the test writes.
func stdinPipe(t *testing.T) *os.File {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved := openStdin
	t.Cleanup(func() { openStdin = saved; r.Close(); w.Close() })
	openStdin = func() (io.ReadCloser, error) { return r, nil }
	return w
}

// TestPipeSize: a pipe of another size than the preset's is refused
// before going live, as a source error (exit 2).
func TestPipeSize(t *testing.T) {
	stdinPipe(t)
	p, err := preset.Load("360p")
	if err != nil {
		t.Fatal(err)
	}
	vw := media.VideoWriterFunc(func(f *media.VideoFrame) error { f.Release(); return nil })
	aw := media.AudioWriterFunc(func(*media.AudioFrame) error { return nil })
	_, err = openSources(Config{Preset: p, Capture: capture.Options{Source: "pipe:yuv420p:1280x720@30"}}, media.NewClock(), vw, aw, slog.New(slog.DiscardHandler))
	if !errors.Is(err, capture.ErrSource) || !strings.Contains(err.Error(), "the pipe's 1280x720 is not the preset's 640x360") {
		t.Fatalf("openSources: %v; want ErrSource about the size", err)
	}
}

// TestPipeEndToEnd: a producer writes 2 s of grey frames, stalls for
// 3.5 s, writes 2 s more and exits. The server gets the grey picture, the
// slate while the pipe is stalled (from 2 s into the stall), the picture
// again, with silence for audio and no gap; the push ends cleanly at the
// end of the pipe.
func TestPipeEndToEnd(t *testing.T) {
	testutil.RequireTool(t, "ffmpeg", "ffprobe")
	n := testpeer.StartNginx(t, testpeer.NginxConfig{Record: true})
	w := stdinPipe(t)
	p, err := preset.Load("360p")
	if err != nil {
		t.Fatal(err)
	}
	frame := make([]byte, 640*360*3/2)
	for i := range frame {
		frame[i] = 128
	}
	writeErr := make(chan error, 1)
	go func() {
		defer w.Close()
		write := func(d time.Duration) error {
			start := time.Now()
			for k := 0; ; k++ {
				at := start.Add(time.Duration(k) * time.Second / 30)
				if at.Sub(start) >= d {
					return nil
				}
				time.Sleep(time.Until(at))
				if _, err := w.Write(frame); err != nil {
					return err
				}
			}
		}
		if err := write(2 * time.Second); err != nil {
			writeErr <- err
			return
		}
		time.Sleep(3500 * time.Millisecond)
		writeErr <- write(2 * time.Second)
	}()

	start := time.Now()
	err = Run(context.Background(), Config{Preset: p, Capture: capture.Options{Source: "pipe:yuv420p:640x360@30"}, URL: n.URL("pipe"),
		Duration: 30 * time.Second, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 15*time.Second {
		t.Fatalf("the push took %v: it did not end with the pipe", took)
	}
	if err := <-writeErr; err != nil {
		t.Fatalf("producer: %v", err)
	}
	rec := n.RecordPath("pipe")
	pr := testutil.ProbeRecordingT(t, rec)
	if pr.Video() == nil || pr.Audio() == nil || pr.Duration < 6.5 || pr.Duration > 9 {
		t.Fatalf("recording %.2f s, streams %+v: want 7.5 s of video and audio", pr.Duration, pr.Streams)
	}
	pk, err := testutil.Packets(rec, "v")
	if err != nil {
		t.Fatal(err)
	}
	if gap, at := testutil.MaxGap(pk); gap > 2.0/30+0.002 {
		t.Fatalf("video gap of %.0f ms at %.3f s: more than two frames", gap*1000, at)
	}
	frames, err := testutil.LumaMeans(rec)
	if err != nil {
		t.Fatal(err)
	}
	t0 := pk[0].DTS
	dark := 0
	for _, f := range frames {
		rel := f.T - t0
		switch {
		case f.Y < 100:
			dark++
			if rel < 3 {
				t.Fatalf("frame at %.2f s: mean luma %.0f: the slate came before 2 s of stall", rel, f.Y)
			}
		case f.Y < 120 || f.Y > 136:
			t.Fatalf("frame at %.2f s: mean luma %.0f: neither the pipe's 128 nor the slate", rel, f.Y)
		}
	}
	if dark < 20 {
		t.Errorf("%d frames of slate: want the slate for over a second of the stall", dark)
	}
	if last := frames[len(frames)-1]; last.Y < 120 {
		t.Errorf("the last frame (%.2f s) has luma %.0f: the pipe's picture never came back", last.T-t0, last.Y)
	}
}
