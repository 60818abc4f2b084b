package pipeline

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golive/golive/capture"

	"github.com/golive/golive/capture/failover"
	"github.com/golive/golive/capture/v4l2"
	"github.com/golive/golive/internal/preset"
	"github.com/golive/golive/internal/testpeer"
	"github.com/golive/golive/internal/testutil"
	"github.com/golive/golive/media"
)

// flakyCamera delivers a mid-grey picture at its frame rate until its
// unplug time, then fails as an unplugged USB camera does.
type flakyCamera struct {
	cfg    v4l2.Config
	unplug time.Duration // on the pipeline clock; 0: never
}

func (c *flakyCamera) Run(ctx context.Context) error {
	pool := media.NewFramePool(c.cfg.Width, c.cfg.Height)
	interval := time.Second / time.Duration(c.cfg.FPS)
	t := time.NewTicker(interval)
	defer t.Stop()
	// Frames carry capture times on the frame grid, as a driver's buffer
	// timestamps do, however late the delivery (a loaded CI machine).
	start := c.cfg.Clock.Now()
	for k := 1; ; k++ {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		now := c.cfg.Clock.Now()
		if behind := int((now - start) / interval); behind > k+2 {
			k = behind // frames really missed: a gap, as a camera would show it
		}
		if c.unplug > 0 && now >= c.unplug {
			return errors.New("VIDIOC_DQBUF: no such device")
		}
		f := pool.Get()
		for i := range f.Planes[0] {
			f.Planes[0][i] = 128
		}
		for i := range f.Planes[1] {
			f.Planes[1][i], f.Planes[2][i] = 128, 128
		}
		f.PTS = start + time.Duration(k)*interval
		c.cfg.Video.WriteVideo(f)
	}
}

func (c *flakyCamera) Close() {}

// TestCameraFailoverEndToEnd: the camera is unplugged 2 s into the push
// and comes back 1.5 s later. What the server receives never has a gap
// longer than two frames, shows the slate meanwhile, and does not end.
func TestCameraFailoverEndToEnd(t *testing.T) {
	testutil.RequireTool(t, "ffmpeg", "ffprobe")
	n := testpeer.StartNginx(t, testpeer.NginxConfig{Record: true})
	var opens atomic.Int32
	saved := openCamera
	t.Cleanup(func() { openCamera = saved })
	openCamera = func(c v4l2.Config) (failover.Device, error) {
		switch k := opens.Add(1); {
		case k == 1:
			return &flakyCamera{cfg: c, unplug: 2 * time.Second}, nil
		case c.Clock.Now() < 3500*time.Millisecond:
			return nil, errors.New("/dev/video0: no such device")
		default:
			return &flakyCamera{cfg: c}, nil
		}
	}

	p, err := preset.Load("360p")
	if err != nil {
		t.Fatal(err)
	}
	err = Run(context.Background(), Config{Preset: p, Capture: capture.Options{Source: capture.SourceCamera, Mic: capture.MicNone}, URL: n.URL("cam"),
		Duration: 6 * time.Second, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	rec := n.RecordPath("cam")
	pr := testutil.ProbeRecordingT(t, rec)
	if pr.Duration < 5.5 {
		t.Fatalf("recording is %.2f s long: the stream ended early", pr.Duration)
	}
	pk, err := testutil.Packets(rec, "v")
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(pk); i++ {
		if gap := pk[i].DTS - pk[i-1].DTS; gap > 2.0/30+0.002 {
			for j := max(i-4, 0); j < min(i+3, len(pk)); j++ {
				t.Logf("DTS %.3f", pk[j].DTS)
			}
			t.Fatalf("video gap of %.0f ms at %.3f s: more than two frames", gap*1000, pk[i].DTS)
		}
	}
	if len(pk) < 6*30*9/10 {
		t.Errorf("%d video frames in 6 s", len(pk))
	}
	// Camera (flat grey, 128) until 2 s, the slate (a dark card) while it
	// is gone, the camera again once it is back (reopened from 3.5 s).
	frames, err := testutil.LumaMeans(rec)
	if err != nil {
		t.Fatal(err)
	}
	t0 := pk[0].DTS
	for _, f := range frames {
		rel := f.T - t0
		switch {
		case rel < 1.8, rel > 4.2:
			if f.Y < 120 || f.Y > 136 {
				t.Fatalf("frame at %.2f s: mean luma %.0f, want the camera's 128", rel, f.Y)
			}
		case rel > 2.3 && rel < 3.3:
			if f.Y > 100 {
				t.Fatalf("frame at %.2f s: mean luma %.0f, want the slate (dark)", rel, f.Y)
			}
		}
	}
	if opens.Load() < 3 {
		t.Errorf("camera opened %d times: no retries?", opens.Load())
	}
}

// TestAVSyncWithDrift: a sound card 0.1% fast (48048 samples a real
// second) would put the audio 300 ms late after 5 minutes if its samples
// were simply counted; the drift correction keeps flash and beep within one
// frame at the start and at the end. GOLIVE_LONG_TESTS=1 runs the full 5
// minutes at 0.1%; by default 60 s at 0.5% (the same 300 ms).
func TestAVSyncWithDrift(t *testing.T) {
	testutil.RequireTool(t, "ffmpeg", "ffprobe")
	dur, drift := 60*time.Second, 0.005
	if os.Getenv("GOLIVE_LONG_TESTS") == "1" {
		dur, drift = 5*time.Minute, 0.001
	}
	n := testpeer.StartNginx(t, testpeer.NginxConfig{Record: true})
	p, err := preset.Load("360p")
	if err != nil {
		t.Fatal(err)
	}
	p.Video.Bitrate, p.Video.MinBitrate = 300_000, 300_000 // the picture is all but static
	err = Run(context.Background(), Config{Preset: p, Capture: capture.Options{Source: capture.SourceTestSync, SimulateAudioDrift: drift},
		URL: n.URL("drift"), Duration: dur, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	rec := n.RecordPath("drift")
	testutil.ProbeRecordingT(t, rec)
	pairs, err := testutil.AVOffsets(rec)
	if err != nil {
		t.Fatal(err)
	}
	if len(pairs) < int(dur.Seconds())-3 {
		t.Fatalf("%d flash/beep pairs in %v", len(pairs), dur)
	}
	first, last := pairs[0], pairs[len(pairs)-1]
	t.Logf("flash→beep: %.1f ms at %.0f s, %.1f ms at %.0f s (%d pairs; uncorrected the last would be %.0f ms)",
		first.Offset*1000, first.Flash, last.Offset*1000, last.Flash, len(pairs), last.Flash*drift*1000)
	for _, p := range pairs {
		if math.Abs(p.Offset) > 1.0/30 {
			t.Fatalf("flash at %.1f s: A/V offset %.1f ms, more than a frame", p.Flash, p.Offset*1000)
		}
	}
}
