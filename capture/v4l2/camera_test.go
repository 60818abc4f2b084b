package v4l2

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/golive/golive/media"
)

// TestIoctlLayout checks the structures and request numbers ioctl.go
// declares in Go against include/uapi/linux/videodev2.h.
func TestIoctlLayout(t *testing.T) {
	for name, got := range map[string]uintptr{
		"VIDIOC_G_CTRL":                     vidiocGCtrl,
		"VIDIOC_S_CTRL":                     vidiocSCtrl,
		"VIDIOC_QUERYCTRL":                  vidiocQueryCtrl,
		"VIDIOC_QUERYMENU":                  vidiocQueryMenu,
		"VIDIOC_ENUM_FRAMEINTERVALS":        vidiocEnumFrameIntervals,
		"sizeof(v4l2_control)":              unsafe.Sizeof(control{}),
		"sizeof(v4l2_queryctrl)":            unsafe.Sizeof(queryCtrl{}),
		"sizeof(v4l2_querymenu)":            unsafe.Sizeof(queryMenu{}),
		"sizeof(v4l2_frmivalenum)":          unsafe.Sizeof(frmivalEnum{}),
		"V4L2_BUF_FLAG_ERROR":               bufFlagError,
		"V4L2_BUF_FLAG_TIMESTAMP_MASK":      bufFlagTimestampMask,
		"V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC": bufFlagTimestampMonotonic,
		"V4L2_CTRL_FLAG_NEXT_CTRL":          ctrlFlagNextCtrl,
	} {
		if want, ok := headerLayout[name]; !ok || got != want {
			t.Errorf("%s = %#x, videodev2.h says %#x", name, got, want)
		}
	}
}

func TestFourCC(t *testing.T) {
	for _, s := range []string{"YUYV", "MJPG", "YU12", "NV12", "H264", "RGB3"} {
		if got := fourccString(fourccCode(s)); got != s {
			t.Errorf("%s → %#x → %s", s, fourccCode(s), got)
		}
	}
	if fourccCode("YUYV") != 0x56595559 {
		t.Errorf("YUYV = %#x, want 0x56595559 (V4L2_PIX_FMT_YUYV)", fourccCode("YUYV"))
	}
	if got := fourccString(fourccCode("Y16 ")); got != "Y16" {
		t.Errorf("Y16 = %q", got)
	}
	if got := fourccString(fourccCode("Y16 ") | 1<<31); got != "Y16-BE" {
		t.Errorf("Y16 big-endian = %q", got)
	}
}

func TestFrameIntervals(t *testing.T) {
	for _, tt := range []struct {
		fps  float64
		want fract
	}{
		{30, fract{1, 30}}, {7.5, fract{2, 15}}, {29.97, fract{100, 2997}}, {2, fract{1, 2}},
	} {
		got := fpsInterval(tt.fps)
		if got.Numerator != tt.want.Numerator || got.Denominator != tt.want.Denominator {
			t.Errorf("fpsInterval(%g) = %d/%d, want %d/%d", tt.fps, got.Numerator, got.Denominator, tt.want.Numerator, tt.want.Denominator)
		}
		if back := intervalFPS(fract(got)); back != tt.fps {
			t.Errorf("intervalFPS(fpsInterval(%g)) = %g", tt.fps, back)
		}
	}
	if r := intervalFPS(fract{333333, 10000000}); r != 30 {
		t.Errorf("UVC's 333333/10000000 = %g fps, want 30", r)
	}
	got := expandRange(1, 90, 29)
	want := []float64{90, 1, 60, 50, 48, 30, 25, 24, 20, 15, 10, 5, 29}
	if len(got) != len(want) {
		t.Fatalf("expandRange = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("expandRange = %v, want %v", got, want)
		}
	}
}

// There is no camera on the machines the tests run on (no /dev/video*, no
// vivid or v4l2loopback): Open and List fail cleanly.
func TestOpenWithoutCamera(t *testing.T) {
	if cams := cameras(); len(cams) > 0 {
		t.Skipf("this machine has cameras: %v", cams)
	}
	cfg := Config{Width: 1280, Height: 720, FPS: 30, Clock: media.NewClock(),
		Video: media.VideoWriterFunc(func(f *media.VideoFrame) error { f.Release(); return nil })}

	_, err := Open(cfg)
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "no capture-capable /dev/video*") {
		t.Errorf("no device given: %v", err)
	}
	cfg.Device = "/dev/video99"
	_, err = Open(cfg)
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "v4l2: /dev/video99: camera not found; no cameras found") {
		t.Errorf("/dev/video99: %v", err)
	}
	cfg.Device = "/dev/null" // a character device, not V4L2
	if _, err = Open(cfg); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "v4l2: /dev/null: not a V4L2 device: camera not found; no cameras found") {
		t.Errorf("/dev/null: %v", err)
	}

	list, err := List()
	if err != nil || list == nil || len(list) != 0 {
		t.Errorf("List() = %v, %v; want an empty list", list, err)
	}
}

func TestConfigCheck(t *testing.T) {
	ok := Config{Width: 1280, Height: 720, FPS: 30, Clock: media.NewClock(),
		Video: media.VideoWriterFunc(func(f *media.VideoFrame) error { return nil })}
	for _, tt := range []struct {
		mod  func(*Config)
		want string
	}{
		{func(c *Config) { c.Width = 1281 }, "size 1281x720"},
		{func(c *Config) { c.Height = 8 }, "size 1280x8"},
		{func(c *Config) { c.FPS = 0 }, "frame rate 0"},
		{func(c *Config) { c.Clock = nil }, "no Clock"},
		{func(c *Config) { c.Video = nil }, "no Video"},
	} {
		cfg := ok
		tt.mod(&cfg)
		if _, err := Open(cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("got %v, want %q", err, tt.want)
		}
	}
}

// Close is idempotent and also works on a camera that never ran; Run after
// Close returns at once.
func TestCloseWithoutRun(t *testing.T) {
	c := &Camera{dev: &device{fd: -1}, stop: make(chan struct{}), runDone: make(chan struct{})}
	c.Close()
	c.Close()
	if err := c.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "after Close") {
		t.Errorf("Run after Close: %v", err)
	}
	if err := c.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("second Run: %v", err)
	}
}

// Run on a node that is not (or no longer) a camera fails with
// ErrDeviceGone, and Close then frees it.
func TestRunOnNonCamera(t *testing.T) {
	fd, err := unix.Open("/dev/null", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Skip(err)
	}
	c := &Camera{cfg: Config{Clock: media.NewClock()}, log: slog.New(slog.DiscardHandler),
		dev: &device{fd: fd, path: "/dev/null"}, stop: make(chan struct{}), runDone: make(chan struct{})}
	err = c.Run(context.Background())
	if !errors.Is(err, ErrDeviceGone) || !strings.Contains(err.Error(), "v4l2: /dev/null: stream on") {
		t.Errorf("Run: %v", err)
	}
	c.Close()
	if c.dev.fd != -1 {
		t.Error("Close left the device open")
	}
}
