package abr

import (
	"fmt"
	"testing"

	presets "github.com/golive/golive/internal/preset"
)

// TestLadder: one rung per picture size, largest first, also where
// several built-in presets share a size (720p30 and the Pis').
func TestLadder(t *testing.T) {
	for _, tt := range []struct{ preset, want string }{
		{"1080p30", "[1920x1080 1280x720 854x480 640x360]"},
		{"1080p60", "[1920x1080 1280x720]"},
		{"720p30", "[1280x720 854x480 640x360]"},
		{"pi4-720p30", "[1280x720 854x480 640x360]"},
		{"360p30", "[640x360]"},
	} {
		p, err := presets.Load(tt.preset)
		if err != nil {
			t.Fatal(err)
		}
		got := Ladder(p)
		if s := fmt.Sprint(got); s != tt.want {
			t.Errorf("Ladder(%s) = %s, want %s", tt.preset, s, tt.want)
		}
		if r := got[0]; r.Target != p.Video.Bitrate || r.Min != p.Video.MinBitrate {
			t.Errorf("Ladder(%s)[0] = %+v: want the preset's bitrates", tt.preset, r)
		}
		for _, r := range got {
			if r.Min <= 0 || r.Min > r.Target {
				t.Errorf("Ladder(%s): rung %+v without sane bounds", tt.preset, r)
			}
		}
	}
}
