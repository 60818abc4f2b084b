package pipe

import (
	"strings"
	"testing"
)

// specVectors are shared by TestParseSpec and FuzzParseSpec. err is a
// part of the error; "" means valid.
var specVectors = []struct {
	in   string
	want Spec
	err  string
}{
	{in: "yuv420p:1280x720@30", want: Spec{FormatI420, 1280, 720, 30}},
	{in: "nv12:640x360@30", want: Spec{FormatNV12, 640, 360, 30}},
	{in: "yuyv422:1920x1080@60", want: Spec{FormatYUYV, 1920, 1080, 60}},
	{in: "YUV420P:16x16@1", want: Spec{FormatI420, 16, 16, 1}},
	{in: "nv12:7680x4320@120", want: Spec{FormatNV12, 7680, 4320, 120}},

	{in: "", err: "want FORMAT:WIDTHxHEIGHT@FPS"},
	{in: "yuv420p", err: "want FORMAT:WIDTHxHEIGHT@FPS"},
	{in: "yuv420p:1280x720", err: "want FORMAT:WIDTHxHEIGHT@FPS"},
	{in: "rgb24:1280x720@30", err: `format "rgb24": want yuv420p, nv12, yuyv422`},
	{in: "yuv420:1280x720@30", err: `format "yuv420": want`},
	{in: ":1280x720@30", err: `format "": want`},
	{in: "yuv420p:1280@30", err: `size "1280": want WIDTHxHEIGHT`},
	{in: "yuv420p:1280x@30", err: `size "1280x": want WIDTHxHEIGHT`},
	{in: "yuv420p:-1280x720@30", err: `size "-1280x720"`},
	{in: "yuv420p:+1280x720@30", err: `size "+1280x720"`},
	{in: "yuv420p:1280X720@30", err: `size "1280X720"`},
	{in: "yuv420p: 1280x720@30", err: `size " 1280x720"`},
	{in: "yuv420p:99999999999999999999x720@30", err: "size"},
	{in: "yuv420p:1279x720@30", err: "size 1279x720: width and height must be even"},
	{in: "yuv420p:1280x721@30", err: "size 1280x721: width and height must be even"},
	{in: "yuv420p:8x8@30", err: "size 8x8: out of range 16x16..7680x4320"},
	{in: "yuv420p:7682x720@30", err: "size 7682x720: out of range"},
	{in: "yuv420p:1280x4322@30", err: "out of range"},
	{in: "yuv420p:1280x720@0", err: "frame rate 0: out of range 1..120"},
	{in: "yuv420p:1280x720@121", err: "frame rate 121: out of range 1..120"},
	{in: "yuv420p:1280x720@29.97", err: `frame rate "29.97": want a whole number`},
	{in: "yuv420p:1280x720@", err: `frame rate "": want a whole number`},
	{in: "yuv420p:1280x720@30:extra", err: `frame rate "30:extra"`},
}

func TestParseSpec(t *testing.T) {
	for _, tt := range specVectors {
		got, err := ParseSpec(tt.in)
		if tt.err == "" {
			if err != nil || got != tt.want {
				t.Errorf("ParseSpec(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			}
			if again, err := ParseSpec(got.String()); err != nil || again != got {
				t.Errorf("ParseSpec(%q.String()) = %+v, %v: does not round-trip", tt.in, again, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.err) || strings.Contains(err.Error(), "\n") {
			t.Errorf("ParseSpec(%q) error %v; want one line containing %q", tt.in, err, tt.err)
		}
	}
}

func TestFrameSize(t *testing.T) {
	for _, tt := range []struct {
		s    Spec
		want int
	}{
		{Spec{FormatI420, 1280, 720, 30}, 1382400},
		{Spec{FormatNV12, 1280, 720, 30}, 1382400},
		{Spec{FormatYUYV, 1280, 720, 30}, 1843200},
		{Spec{FormatI420, 640, 360, 30}, 345600},
	} {
		if got := tt.s.FrameSize(); got != tt.want {
			t.Errorf("%v: FrameSize %d, want %d", tt.s, got, tt.want)
		}
	}
}

// FuzzParseSpec: never a panic; what is accepted is in range and
// round-trips; what is refused says why in one line.
func FuzzParseSpec(f *testing.F) {
	for _, tt := range specVectors {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sp, err := ParseSpec(s)
		if err != nil {
			if msg := err.Error(); msg == "" || strings.Contains(msg, "\n") {
				t.Fatalf("error %q: want one line", msg)
			}
			return
		}
		if sp.Width < MinWidth || sp.Width > MaxWidth || sp.Height < MinHeight || sp.Height > MaxHeight ||
			sp.Width%2 != 0 || sp.Height%2 != 0 || sp.FPS < MinFPS || sp.FPS > MaxFPS || sp.FrameSize() <= 0 {
			t.Fatalf("accepted %q as %+v", s, sp)
		}
		if again, err := ParseSpec(sp.String()); err != nil || again != sp {
			t.Fatalf("%+v does not round-trip: %+v, %v", sp, again, err)
		}
	})
}
