package srt

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/asticode/go-astiav"

	"github.com/golive/golive/internal/testpeer"
	"github.com/golive/golive/internal/teststream"
	"github.com/golive/golive/internal/testutil"
	"github.com/golive/golive/media"
	"github.com/golive/golive/publish"
)

func TestMain(m *testing.M) {
	astiav.SetLogLevel(astiav.LogLevelError)
	os.Exit(m.Run())
}

const pass = "correct horse battery"

// stream is 12 s of 320x180 at 30 fps with AAC, made by the project's
// encoders (x264, AAC) from the test source.
func stream(t *testing.T) *teststream.Stream {
	t.Helper()
	s, err := teststream.Generate(teststream.Options{Width: 320, Height: 180, FPS: 30, Duration: 12 * time.Second, Audio: media.CodecAAC})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func config(s *teststream.Stream, url string, clock *media.Clock) Config {
	return Config{
		DialConfig: DialConfig{URL: url, Timeout: 3 * time.Second, Logger: slog.New(slog.DiscardHandler)},
		Video:      s.Video, Audio: s.Audio, TimeOffset: s.Audio.Delay, Clock: clock,
	}
}

// feed hands pub the packets whose DTS is before until, each when the
// clock reaches it (as encoders would), from the packet at index from;
// it returns the index it stopped at.
func feed(ctx context.Context, pub *Publisher, s *teststream.Stream, clock *media.Clock, from int, until time.Duration) int {
	t := time.NewTimer(time.Hour)
	t.Stop()
	i := from
	for ; i < len(s.Packets) && s.Packets[i].DTS < until; i++ {
		if !clock.SleepUntil(ctx, t, s.Packets[i].DTS) {
			break
		}
		pub.WritePacket(s.Packets[i])
	}
	return i
}

// checkRecording: the recording decodes without a single error, has the
// size and rate sent, audio, and about the frames sent.
func checkRecording(t *testing.T, path string, wantFrames int) {
	t.Helper()
	pr, err := testutil.Probe(path)
	if err != nil {
		t.Fatal(err)
	}
	v, a := pr.Video(), pr.Audio()
	if v == nil || a == nil {
		t.Fatalf("%s: streams %+v: want video and audio", path, pr.Streams)
	}
	if v.CodecName != "h264" || v.Width != 320 || v.Height != 180 || math.Abs(testutil.ParseRate(v.RFrameRate)-30) > 0.01 {
		t.Errorf("video %s %dx%d at %s fps, want h264 320x180 at 30", v.CodecName, v.Width, v.Height, v.RFrameRate)
	}
	if a.CodecName != "aac" || a.SampleRate != 48000 || a.Channels != 2 {
		t.Errorf("audio %s %d Hz %d channels, want aac 48000 Hz stereo", a.CodecName, a.SampleRate, a.Channels)
	}
	frames, err := testutil.DecodeFrames(path, "v")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := testutil.DecodeFrames(path, "a"); err != nil {
		t.Fatal(err)
	}
	if frames < wantFrames*95/100 || frames > wantFrames {
		t.Errorf("%d video frames decoded, want about %d", frames, wantFrames)
	}
	pkts, err := testutil.Packets(path, "v")
	if err != nil {
		t.Fatal(err)
	}
	if len(pkts) == 0 || !pkts[0].Keyframe {
		t.Errorf("the recording does not start on a keyframe")
	}
	t.Logf("%s: %d frames, %.2f s", filepath.Base(path), frames, pr.Duration)
}

// TestPublish: 4 s to ffmpeg, encrypted, arrive whole; the statistics
// move; a clean stop ends ffmpeg's input.
func TestPublish(t *testing.T) {
	s := stream(t)
	l := testpeer.StartSRTListener(t, testpeer.SRTListenerConfig{Passphrase: pass, Name: "out.ts"})
	clock := media.NewClock()
	start := time.Now()
	pub, err := Dial(context.Background(), config(s, fmt.Sprintf("srt://127.0.0.1:%d?streamid=live/KEYKEY&passphrase=%s&latency=200", l.Port, pass), clock))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("connected in %v", time.Since(start).Round(time.Millisecond))
	defer pub.Close()
	errc := make(chan error, 1)
	go func() { errc <- pub.Run(context.Background()) }()

	var ru0, ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	i := feed(context.Background(), pub, s, clock, 0, 2*time.Second)
	mid := pub.Stats()
	feed(context.Background(), pub, s, clock, i, 4*time.Second)
	end := pub.Stats()
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	cpu := time.Duration(syscall.TimevalToNsec(ru1.Utime) + syscall.TimevalToNsec(ru1.Stime) - syscall.TimevalToNsec(ru0.Utime) - syscall.TimevalToNsec(ru0.Stime))
	t.Logf("CPU of muxing and sending 4 s at %d kbit/s: %v (%.1f%% of a core)", end.Bytes*8/4/1000, cpu.Round(time.Millisecond), 100*cpu.Seconds()/4)
	pub.Finish()
	if err := <-errc; err != nil {
		t.Fatalf("Run: %v", err)
	}
	l.Wait(t)
	t.Logf("stats at 2 s: %d B, rtt %v, unsent %d B; at 4 s: %d B, %d packets, rtt %v, loss %.3f, latency p50 %v",
		mid.Bytes, mid.RTT, mid.Unsent, end.Bytes, end.Packets, end.RTT, end.Loss, end.LatencyP50)
	if mid.Bytes <= 0 || end.Bytes <= mid.Bytes || end.RTT <= 0 || end.RTT > 100*time.Millisecond || end.Sessions != 1 {
		t.Errorf("stats %+v after %+v: want bytes growing, a loopback RTT, one session", end, mid)
	}
	if fi, err := os.Stat(l.Out); err != nil || fi.Size() > end.Bytes || fi.Size() < end.Bytes*9/10 {
		t.Errorf("recorded %v bytes of %d sent (%v)", fi.Size(), end.Bytes, err)
	}
	checkRecording(t, l.Out, 120)
}

// TestRefused: a wrong or missing passphrase is ErrUnauthorized at once,
// saying why and showing no secret; nobody listening is ErrConnect within
// the timeout; a bad URL is ErrBadURL.
func TestRefused(t *testing.T) {
	l := testpeer.StartSRTListener(t, testpeer.SRTListenerConfig{Passphrase: pass, Name: "out.ts"})
	for _, tc := range []struct {
		name, query string
		want        error
		says        string
	}{
		{"wrong passphrase", "?streamid=live/KEYKEY&passphrase=wrongwrongwrong", publish.ErrUnauthorized, "wrong passphrase"},
		{"no passphrase", "?streamid=live/KEYKEY", publish.ErrUnauthorized, "encryption mismatch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := fmt.Sprintf("srt://127.0.0.1:%d%s", l.Port, tc.query)
			start := time.Now()
			err := Check(context.Background(), DialConfig{URL: url, Timeout: 3 * time.Second})
			took := time.Since(start)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("Check = %v, want %v saying %q", err, tc.want, tc.says)
			}
			if strings.Contains(err.Error(), "KEYKEY") || strings.Contains(err.Error(), "wrongwrong") {
				t.Errorf("the error shows a secret: %v", err)
			}
			if took > time.Second {
				t.Errorf("refusal took %v", took)
			}
			t.Logf("%v (after %v)", err, took.Round(time.Millisecond))
		})
	}
	t.Run("right passphrase", func(t *testing.T) {
		if err := Check(context.Background(), DialConfig{URL: fmt.Sprintf("srt://127.0.0.1:%d?passphrase=%s", l.Port, pass)}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("nobody listening", func(t *testing.T) {
		start := time.Now()
		err := Check(context.Background(), DialConfig{URL: fmt.Sprintf("srt://127.0.0.1:%d", freePort(t)), Timeout: 1500 * time.Millisecond})
		if !errors.Is(err, publish.ErrConnect) || time.Since(start) > 2*time.Second {
			t.Fatalf("Check = %v after %v, want ErrConnect within the 1.5 s timeout", err, time.Since(start))
		}
		t.Logf("%v", err)
	})
	t.Run("bad URL", func(t *testing.T) {
		_, err := Dial(context.Background(), Config{DialConfig: DialConfig{URL: "srt://h:1?latency=2000000"}, Clock: media.NewClock(), Video: media.VideoConfig{Codec: media.CodecH264}})
		if !errors.Is(err, publish.ErrBadURL) {
			t.Fatalf("Dial = %v, want ErrBadURL", err)
		}
	})
}

// TestReconnect: the listener is killed mid-stream; the sender notices
// within the peer idle timeout, reconnects to a new listener on the same
// port, and the second recording is a TS of its own that decodes from a
// keyframe.
func TestReconnect(t *testing.T) {
	s := stream(t)
	l1 := testpeer.StartSRTListener(t, testpeer.SRTListenerConfig{Name: "first.ts"})
	clock := media.NewClock()
	cfg := config(s, fmt.Sprintf("srt://127.0.0.1:%d?streamid=live/KEYKEY", l1.Port), clock)
	var lost, back atomic.Int64 // clock times of OnLive(false), OnLive(true)
	cfg.OnLive = func(live bool) {
		if live {
			back.Store(int64(clock.Now()))
		} else {
			lost.Store(int64(clock.Now()))
		}
	}
	pub, err := Dial(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	errc := make(chan error, 1)
	go func() { errc <- pub.Run(context.Background()) }()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fed := make(chan int, 1)
	go func() { fed <- feed(ctx, pub, s, clock, 0, 11*time.Second) }()

	if !testutil.WaitFor(5*time.Second, 10*time.Millisecond, func() bool { return clock.Now() >= 2*time.Second }) {
		t.Fatal("clock")
	}
	// Stopped, the listener keeps its socket but answers nothing, as
	// when the network goes: only the peer idle timeout (3 s) can tell.
	l1.Pause()
	stopped := clock.Now()
	if !testutil.WaitFor(6*time.Second, 10*time.Millisecond, func() bool { return lost.Load() != 0 }) {
		t.Fatal("the sender did not notice the silent listener within 6 s")
	}
	noticed := time.Duration(lost.Load()) - stopped
	t.Logf("loss noticed %v after the listener stopped answering", noticed.Round(time.Millisecond))
	if noticed < 2*time.Second || noticed > 4*time.Second {
		t.Errorf("noticed after %v, want the 3 s peer idle timeout", noticed)
	}
	l1.Kill()

	l2 := testpeer.StartSRTListener(t, testpeer.SRTListenerConfig{Port: l1.Port, Name: "second.ts"})
	restarted := clock.Now()
	if !testutil.WaitFor(8*time.Second, 10*time.Millisecond, func() bool { return back.Load() != 0 }) {
		t.Fatal("the sender did not reconnect within 8 s of the restart")
	}
	t.Logf("reconnected %v after the restart", (time.Duration(back.Load()) - restarted).Round(time.Millisecond))
	sent := <-fed
	pub.Finish()
	if err := <-errc; err != nil {
		t.Fatalf("Run: %v", err)
	}
	l2.Wait(t)
	if st := pub.Stats(); st.Sessions != 2 {
		t.Errorf("%d sessions, want 2", st.Sessions)
	}
	// The second recording: from the first keyframe after the reconnect
	// (every 2 s) to the end of what was fed.
	firstKey := time.Duration(back.Load())
	firstKey = (firstKey + 2*time.Second - 1) / (2 * time.Second) * (2 * time.Second)
	want := int((s.Packets[sent-1].DTS - firstKey) * 30 / time.Second)
	checkRecording(t, l2.Out, want+1)
}

// freePort is a UDP port nobody listens on.
func freePort(t *testing.T) int {
	t.Helper()
	p, err := testutil.FreeUDPPort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}
