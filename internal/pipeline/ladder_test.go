package pipeline

import (
	"fmt"
	"testing"

	"github.com/golive/golive/internal/preset"
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
		p, err := preset.Load(tt.preset)
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(ladder(p)); got != tt.want {
			t.Errorf("ladder(%s) = %s, want %s", tt.preset, got, tt.want)
		}
	}
}
