package capture

import "testing"

func TestCheckSource(t *testing.T) {
	for _, tt := range []struct {
		in, err string // err: "" for valid, else the whole message
	}{
		{in: "test"},
		{in: "test:sync"},
		{in: "camera"},
		{in: "file:show.mp4"},
		{in: "pipe:yuv420p:1280x720@30"},
		{in: "pipe:nv12:640x360@30"},
		{in: "pipe:yuyv422:1920x1080@60"},
		{in: "", err: `--source "": want test, test:sync, camera, file:PATH or pipe:FORMAT:WxH@FPS`},
		{in: "file:", err: `--source "file:": want test, test:sync, camera, file:PATH or pipe:FORMAT:WxH@FPS`},
		{in: "pipe", err: `--source "pipe": want test, test:sync, camera, file:PATH or pipe:FORMAT:WxH@FPS`},
		{in: "pipe:", err: `--source "pipe:": want FORMAT:WIDTHxHEIGHT@FPS, e.g. yuv420p:1280x720@30`},
		{in: "pipe:rgb24:1280x720@30", err: `--source "pipe:rgb24:1280x720@30": format "rgb24": want yuv420p, nv12, yuyv422`},
		{in: "pipe:yuv420p:1280-720@30", err: `--source "pipe:yuv420p:1280-720@30": size "1280-720": want WIDTHxHEIGHT, e.g. 1280x720`},
		{in: "pipe:yuv420p:1279x720@30", err: `--source "pipe:yuv420p:1279x720@30": size 1279x720: width and height must be even (4:2:0 and 4:2:2 chroma)`},
		{in: "pipe:nv12:1280x720@0", err: `--source "pipe:nv12:1280x720@0": frame rate 0: out of range 1..120`},
		{in: "pipe:nv12:1280x720@240", err: `--source "pipe:nv12:1280x720@240": frame rate 240: out of range 1..120`},
	} {
		err := CheckSource(tt.in)
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("CheckSource(%q): %v", tt.in, err)
		case tt.err != "" && (err == nil || err.Error() != tt.err):
			t.Errorf("CheckSource(%q): %v\nwant %s", tt.in, err, tt.err)
		}
	}
}
