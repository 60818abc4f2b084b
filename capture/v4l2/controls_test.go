package v4l2

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// c920Controls are a Logitech C920's controls as `v4l2-ctl -l` lists them
// (uvcvideo before Linux 5.x renamed some: "Exposure, Auto" is now "Auto
// Exposure").
func c920Controls(t *testing.T) []ctrlInfo {
	t.Helper()
	b, err := os.ReadFile("testdata/c920_controls.json")
	if err != nil {
		t.Fatal(err)
	}
	var c []ctrlInfo
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCtrlVarName(t *testing.T) {
	for in, want := range map[string]string{
		"Brightness":                      "brightness",
		"Exposure, Auto":                  "exposure_auto",
		"Exposure (Absolute)":             "exposure_absolute",
		"White Balance Temperature, Auto": "white_balance_temperature_auto",
		"Focus (absolute)":                "focus_absolute",
		"Zoom, Absolute":                  "zoom_absolute",
		"  Auto Exposure  ":               "auto_exposure",
		"Power Line Frequency":            "power_line_frequency",
		"50 Hz":                           "50_hz",
		"H264 I-Frame Period":             "h264_i_frame_period",
	} {
		if got := ctrlVarName(in); got != want {
			t.Errorf("ctrlVarName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestResolveControls(t *testing.T) {
	avail := c920Controls(t)
	got, err := resolveControls([]string{
		"brightness=120",
		"Exposure_Auto=1", // case-insensitive
		"exposure_absolute = 300",
		"focus_auto=false",
		"focus_absolute=0",
		"power_line_frequency=50 Hz", // a menu item by name
		"Contrast=0x80",
		"auto_exposure=manual mode", // the newer kernel's name, by control ID
		"pan_absolute=-3600",
		"white_balance_automatic=off",
	}, avail)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		id    uint32
		value int32
	}{
		{0x00980900, 120}, {0x009a0901, 1}, {0x009a0902, 300}, {0x009a090c, 0}, {0x009a090a, 0},
		{0x00980918, 1}, {0x00980901, 128}, {0x009a0901, 1}, {0x009a0908, -3600}, {0x0098090c, 0},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d settings, want %d", len(got), len(want))
	}
	for i, w := range want {
		if got[i].ctrl.ID != w.id || got[i].value != w.value {
			t.Errorf("setting %d: %#x=%d, want %#x=%d", i, got[i].ctrl.ID, got[i].value, w.id, w.value)
		}
	}
}

func TestResolveControlsErrors(t *testing.T) {
	avail := c920Controls(t)
	for _, tt := range []struct {
		spec string
		want []string
	}{
		{"brightnes=120", []string{`unknown control "brightnes"`, "brightness (int 0..255)",
			"exposure_auto (menu 1=Manual Mode, 3=Aperture Priority Mode)", "zoom_absolute (int 100..500)"}},
		{"brightness=300", []string{"brightness=300", "out of range 0..255, default 128"}},
		{"brightness=bright", []string{"not an integer (range 0..255, default 128)"}},
		{"focus_absolute=7", []string{"not on a step: range 0..250 step 5, default 0"}},
		{"pan_absolute=100", []string{"range -36000..36000 step 3600"}},
		{"exposure_auto=2", []string{"no such menu item; the items are 1=Manual Mode, 3=Aperture Priority Mode"}},
		{"power_line_frequency=70 Hz", []string{"0=Disabled, 1=50 Hz, 2=60 Hz"}},
		{"focus_auto=maybe", []string{"not a boolean"}},
		{"brightness", []string{"want name=value"}},
		{"=5", []string{"want name=value"}},
	} {
		_, err := resolveControls([]string{tt.spec}, avail)
		if err == nil {
			t.Errorf("%q: accepted", tt.spec)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%q: error %q lacks %q", tt.spec, err, w)
			}
		}
	}
	ro := []ctrlInfo{{ID: 1, Type: ctrlTypeInteger, Name: "Frame Count", Max: 100, Flags: ctrlFlagReadOnly},
		{ID: 2, Type: ctrlTypeString, Name: "Serial"}}
	if _, err := resolveControls([]string{"frame_count=1"}, ro); err == nil || !strings.Contains(err.Error(), "read-only") {
		t.Errorf("read-only: %v", err)
	}
	if _, err := resolveControls([]string{"serial=x"}, ro); err == nil || !strings.Contains(err.Error(), "string control cannot be set") {
		t.Errorf("string: %v", err)
	}
	if _, err := resolveControls([]string{"x=1"}, nil); err == nil || !strings.Contains(err.Error(), "no controls") {
		t.Errorf("no controls: %v", err)
	}
}
