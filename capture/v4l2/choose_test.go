package v4l2

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
)

// testCamera is a camera's format list as recorded in testdata/cameras.json.
type testCamera struct {
	Name    string       `json:"name"`
	Card    string       `json:"card"`
	Driver  string       `json:"driver"`
	Source  string       `json:"source"`
	Formats []FormatInfo `json:"formats"`
}

func loadCameras(t testing.TB) map[string]testCamera {
	t.Helper()
	b, err := os.ReadFile("testdata/cameras.json")
	if err != nil {
		t.Fatal(err)
	}
	var list []testCamera
	if err := json.Unmarshal(b, &list); err != nil {
		t.Fatal(err)
	}
	m := map[string]testCamera{}
	for _, c := range list {
		m[c.Name] = c
	}
	return m
}

func TestChoose(t *testing.T) {
	cams := loadCameras(t)
	tests := []struct {
		camera        string
		width, height int
		fps           int
		want          string // Choice.String(), or "" for ErrUnsupported
		why           string
	}{
		{"c920", 1280, 720, 30, "MJPG 1280x720@30", "YUYV has 720p only at 10 fps: MJPEG at the right rate wins"},
		{"c920", 1920, 1080, 30, "MJPG 1920x1080@30", "YUYV 1080p runs at 5 fps"},
		{"c920", 640, 360, 30, "YUYV 640x360@30", "the exact size and rate raw: no decode, no scaling (640x480 would crop a quarter of its lines)"},
		{"c920", 640, 480, 30, "YUYV 640x480@30", "exact raw"},
		{"c920", 1280, 720, 60, "MJPG 1280x720@30", "nothing runs at 60: half the rate is the best there is"},
		{"c920", 3840, 2160, 30, "MJPG 1920x1080@30", "a quarter of 4K's pixels, upscaled, is still usable"},
		{"c270", 1280, 720, 30, "MJPG 1280x720@30", "YUYV 720p runs at 7.5 fps"},
		{"c270", 640, 480, 30, "YUYV 640x480@30", "exact raw"},
		{"c270", 1920, 1080, 30, "MJPG 1280x720@30", "the largest 16:9 mode at 30 fps, upscaled (1280x960 would crop as well)"},
		{"c270", 640, 360, 25, "YUYV 640x360@25", "exact rate"},
		{"lifecam-hd3000", 1280, 720, 30, "MJPG 1280x720@30", "YUYV 720p runs at 10 fps"},
		{"lifecam-hd3000", 640, 360, 30, "YUYV 640x360@30", "exact raw"},
		{"generic-elp", 1280, 720, 30, "MJPG 1920x1080@30", "720p is 60 fps only; 1080p30 downscaled wastes less than decoding twice the frames needed"},
		{"generic-elp", 640, 480, 30, "YUYV 640x480@30", "exact raw"},
		{"rpi-bcm2835", 1280, 720, 30, "YU12 1280x720@30", "any size in the range: the preset itself, in I420"},
		{"rpi-bcm2835", 1920, 1080, 30, "YU12 1920x1080@30", "within the range"},
		{"rpi-bcm2835", 854, 480, 30, "YU12 854x480@30", "within the range, on its 2-pixel steps"},
		{"rpi-bcm2835", 3840, 2160, 30, "YU12 2592x1458@30", "the range's largest 16:9 size"},
		{"rpi-unicam", 1280, 720, 30, "", "raw Bayer only"},
		{"h264-only", 1280, 720, 30, "", "H.264 only"},
	}
	for _, tt := range tests {
		cam, ok := cams[tt.camera]
		if !ok {
			t.Fatalf("no camera %q in testdata", tt.camera)
		}
		got, err := Choose(cam.Formats, tt.width, tt.height, tt.fps)
		if tt.want == "" {
			if !errors.Is(err, ErrUnsupported) {
				t.Errorf("%s %dx%d@%d: got %v, %v; want ErrUnsupported (%s)", tt.camera, tt.width, tt.height, tt.fps, got, err, tt.why)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s %dx%d@%d: %v", tt.camera, tt.width, tt.height, tt.fps, err)
			continue
		}
		if got.String() != tt.want {
			t.Errorf("%s %dx%d@%d: got %s (score %g), want %s: %s", tt.camera, tt.width, tt.height, tt.fps, got, got.Score, tt.want, tt.why)
		}
		t.Logf("%-15s %4dx%-4d@%-3d → %-18s score %7.3f  (%s)", tt.camera, tt.width, tt.height, tt.fps, got, got.Score, tt.why)
	}
}

func TestChooseUnsupportedMessage(t *testing.T) {
	cams := loadCameras(t)
	_, err := Choose(cams["h264-only"].Formats, 1280, 720, 30)
	if !errors.Is(err, ErrUnsupported) {
		t.Fatalf("got %v, want ErrUnsupported", err)
	}
	for _, want := range []string{"1280x720@30", "H264 640x480@30, 1280x720@30, 1920x1080@30 (not usable)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q lacks %q", err, want)
		}
	}
	_, err = Choose(cams["rpi-unicam"].Formats, 1280, 720, 30)
	if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "pBAA 16x16–16376x16376 (not usable)") {
		t.Errorf("unicam: %v", err)
	}
	// A camera whose only raw mode is far too small and slow.
	tiny := []FormatInfo{{FourCC: "YUYV", Sizes: []SizeInfo{{320, 240, []float64{15}}}}}
	_, err = Choose(tiny, 1280, 720, 30)
	if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "YUYV 320x240@15") {
		t.Errorf("tiny: %v", err)
	}
	if _, err := Choose(nil, 1280, 720, 30); !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "no formats") {
		t.Errorf("no formats: %v", err)
	}
}

// A raw format at a much lower rate must lose to MJPEG at the right rate,
// and win when it has the rate.
func TestChooseRawVersusMJPEG(t *testing.T) {
	mjpg := FormatInfo{FourCC: "MJPG", Sizes: []SizeInfo{{1280, 720, []float64{30}}}}
	for _, tt := range []struct {
		rawFPS float64
		want   string
	}{
		{30, "YUYV"}, {25, "MJPG"}, {20, "MJPG"}, {15, "MJPG"}, {10, "MJPG"},
	} {
		raw := FormatInfo{FourCC: "YUYV", Sizes: []SizeInfo{{1280, 720, []float64{tt.rawFPS}}}}
		got, err := Choose([]FormatInfo{raw, mjpg}, 1280, 720, 30)
		if err != nil || got.FourCC != tt.want {
			t.Errorf("YUYV@%g vs MJPG@30: got %v, %v; want %s", tt.rawFPS, got, err, tt.want)
		}
	}
}

func TestCropToAspect(t *testing.T) {
	for _, tt := range []struct {
		w, h, W, H int
		want       rect
	}{
		{1280, 720, 1280, 720, rect{0, 0, 1280, 720}},
		{640, 480, 640, 360, rect{0, 60, 640, 360}},
		{1280, 720, 640, 480, rect{160, 0, 960, 720}},
		{800, 448, 1280, 720, rect{0, 0, 800, 448}}, // 1.786 vs 1.778: within 1%, scaled
		{1280, 960, 1280, 720, rect{0, 120, 1280, 720}},
		{854, 480, 1280, 720, rect{0, 0, 854, 480}},
		{352, 288, 640, 360, rect{0, 45 &^ 1, 352, 198}},
	} {
		if got := cropToAspect(tt.w, tt.h, tt.W, tt.H); got != tt.want {
			t.Errorf("cropToAspect(%dx%d → %dx%d) = %+v, want %+v", tt.w, tt.h, tt.W, tt.H, got, tt.want)
		}
	}
}

func TestFitRange(t *testing.T) {
	r := SizeRange{MinWidth: 32, MaxWidth: 2592, StepWidth: 2, MinHeight: 32, MaxHeight: 1944, StepHeight: 2}
	for _, tt := range []struct{ W, H, w, h int }{
		{1280, 720, 1280, 720},
		{3840, 2160, 2592, 1458},
		{16, 16, 32, 32},
		{641, 361, 640, 360},
	} {
		if w, h := fitRange(r, tt.W, tt.H); w != tt.w || h != tt.h {
			t.Errorf("fitRange(%dx%d) = %dx%d, want %dx%d", tt.W, tt.H, w, h, tt.w, tt.h)
		}
	}
	r16 := SizeRange{MinWidth: 48, MaxWidth: 1920, StepWidth: 16, MinHeight: 32, MaxHeight: 1080, StepHeight: 8}
	if w, h := fitRange(r16, 1000, 500); w != 992 || h != 496 {
		t.Errorf("fitRange with steps = %dx%d, want 992x496", w, h)
	}
}

func TestSummarize(t *testing.T) {
	cams := loadCameras(t)
	got := Summarize(cams["c920"].Formats)
	want := "YUYV 160x90@30, 160x120@30, 176x144@30 … 1920x1080@5, 2304x1296@2, 2304x1536@2; " +
		"H264 160x90@30, 160x120@30, 176x144@30 … 1280x720@30, 1600x896@30, 1920x1080@30 (not usable); " +
		"MJPG 160x90@30, 160x120@30, 176x144@30 … 1280x720@30, 1600x896@30, 1920x1080@30"
	if got != want {
		t.Errorf("Summarize(c920) =\n%s\nwant\n%s", got, want)
	}
	if got := Summarize(cams["rpi-bcm2835"].Formats[:1]); got != "YU12 32x32–2592x1944@90" {
		t.Errorf("Summarize(rpi) = %q", got)
	}
}

func TestChooseInvalidPreset(t *testing.T) {
	if _, err := Choose(loadCameras(t)["c920"].Formats, 0, 720, 30); err == nil {
		t.Error("a zero width was accepted")
	}
}
