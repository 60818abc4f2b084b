package record

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/golive/golive/internal/teststream"
	"github.com/golive/golive/internal/testutil"
	"github.com/golive/golive/media"
)

// crashChildEnv makes the test binary a recording child (see TestMain):
// it records a live-paced stream to the path the variable names, saying
// on stdout how much it fed, until it is killed.
const crashChildEnv = "GOLIVE_RECORD_CRASH_CHILD"

func crashChild(path string) int {
	s, err := teststream.Generate(teststream.Options{
		Width: 640, Height: 360, FPS: 30, Duration: 20 * time.Second, Audio: media.CodecAAC,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	r, err := Open(Config{
		Path: path, Video: s.Video, Audio: s.Audio, TimeOffset: s.Audio.Delay, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	go r.Run(context.Background())
	clock := media.NewClock()
	timer := time.NewTimer(time.Hour)
	for _, p := range s.Packets {
		clock.SleepUntil(context.Background(), timer, p.DTS) // a live source's pace
		r.WritePacket(p)
		if p.Kind == media.KindVideo {
			fmt.Printf("fed %d\n", p.DTS)
		}
	}
	return 0
}

// TestCrash: a recording killed with SIGKILL after about 3 s leaves an
// MP4 that decodes without an error to at least 2.5 s.
func TestCrash(t *testing.T) {
	testutil.RequireTool(t, "ffmpeg", "ffprobe")
	path := filepath.Join(t.TempDir(), "crash.mp4")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+path)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var fed atomic.Int64
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "fed "); ok {
				n, _ := strconv.ParseInt(v, 10, 64)
				fed.Store(n)
			}
		}
	}()
	ok := testutil.WaitFor(60*time.Second, 5*time.Millisecond, func() bool {
		return time.Duration(fed.Load()) >= 3200*time.Millisecond
	})
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	werr := cmd.Wait()
	if !ok {
		t.Fatalf("the child fed %v in 60 s (%v)", time.Duration(fed.Load()), werr)
	}
	var ee *exec.ExitError
	if !errors.As(werr, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("the child ended with %v, not killed", werr)
	}
	if msg := decodeErrors(path); msg != "" {
		t.Fatalf("ffmpeg decoding what a SIGKILL left: %s", msg)
	}
	vp := videoPackets(t, path)
	d := vp[len(vp)-1].PTS - vp[0].PTS + 1.0/30
	t.Logf("fed %v, killed: %d frames, %.2f s on disk", time.Duration(fed.Load()), len(vp), d)
	if d < 2.5 {
		t.Fatalf("%.2f s of video after the kill, want >= 2.5", d)
	}
}

// mountTmpfs mounts a tmpfs with opts in a temporary directory, unmounted
// at the end. Where mounting is not permitted (not root, no CAP_SYS_ADMIN)
// the test skips, saying why — but not under CI, which runs as root.
func mountTmpfs(t *testing.T, opts string) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, opts); err != nil {
		testutil.Missing(t, fmt.Sprintf("cannot mount a tmpfs (%s): %v", opts, err))
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// TestDiskFull: a full disk stops the recording with one warning and
// nothing else: WritePacket goes on discarding, Run returns nil, Err says
// ENOSPC, and the file written so far decodes without an error.
func TestDiskFull(t *testing.T) {
	testutil.RequireTool(t, "ffmpeg", "ffprobe")
	for _, ext := range []string{".mp4", ".mkv", ".ts"} {
		t.Run(ext[1:], func(t *testing.T) {
			dir := mountTmpfs(t, "size=256k")
			s := testStream(t, 5*time.Second, media.CodecAAC)
			path := filepath.Join(dir, "rec"+ext)
			h := open(t, path, s, nil)
			h.record(t, s.Packets)
			if n := len(testutil.LogLines(h.log.String(), msgStopped)); n != 1 {
				t.Fatalf("%d warnings, want 1:\n%s", n, h.log)
			}
			l := testutil.LogLines(h.log.String(), msgStopped)[0]
			if l["path"] != path || !strings.Contains(fmt.Sprint(l["error"]), "no space left") {
				t.Fatalf("warning %v: want the path and the error", l)
			}
			if !errors.Is(h.Err(), syscall.ENOSPC) {
				t.Fatalf("Err() = %v, want ENOSPC", h.Err())
			}
			if err := h.WritePacket(s.Packets[0]); err != nil {
				t.Fatal(err)
			}
			if msg := decodeErrors(path); msg != "" {
				t.Fatalf("ffmpeg decoding what the full disk kept: %s", msg)
			}
			vp := videoPackets(t, path)
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%d frames in %d bytes kept; stats %+v", len(vp), fi.Size(), h.Stats())
			if h.Stats().Bytes != fi.Size() {
				t.Fatalf("Stats().Bytes %d, the file has %d", h.Stats().Bytes, fi.Size())
			}
		})
	}
}
