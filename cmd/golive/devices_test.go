package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/golive/golive/capture/audio"
	"github.com/golive/golive/capture/v4l2"
)

// TestDevicesJSON: scripts get both lists, empty ones as [] (not null),
// also on a machine with no camera and no microphone.
func TestDevicesJSON(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"golive", "devices", "--json"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var got map[string]json.RawMessage
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, stdout.String())
	}
	for _, k := range []string{"cameras", "microphones"} {
		if v := strings.TrimSpace(string(got[k])); v == "" || v == "null" {
			t.Errorf("%q is %q: want a list", k, v)
		}
	}
	// Mesa's llvmpipe is here (make deps): found, and reported as software,
	// so the filters would run on the CPU.
	var g glInfo
	if err := json.Unmarshal(got["gl"], &g); err != nil {
		t.Fatalf("gl: %v in %s", err, got["gl"])
	}
	if g.Error != "" || g.Renderer == "" {
		t.Errorf("no OpenGL ES renderer found: %+v", g)
	} else if strings.Contains(g.Renderer, "llvmpipe") && (g.Hardware || g.Filters != "cpu") {
		t.Errorf("llvmpipe: %+v; want software, filters on the CPU", g)
	}
}

func TestPrintDevices(t *testing.T) {
	var b bytes.Buffer
	printDevices(&b, []v4l2.DeviceInfo{{Path: "/dev/video0", Card: "HD Pro Webcam C920", Driver: "uvcvideo",
		Formats: []v4l2.FormatInfo{{FourCC: "MJPG", Sizes: []v4l2.SizeInfo{{Width: 1280, Height: 720, FPS: []float64{30, 24}}}}}}},
		[]audio.DeviceInfo{{Name: "HD Pro Webcam C920 Analog Stereo", Backend: "pulseaudio", Channels: []int{2}, Rates: []int{48000}, Default: true}})
	for _, want := range []string{"/dev/video0  HD Pro Webcam C920 (uvcvideo)", "MJPG 1280x720@30/24", "C920 Analog Stereo  [pulseaudio]", "(default)"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, b.String())
		}
	}
}
