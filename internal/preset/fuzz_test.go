package preset

import (
	"io/fs"
	"strings"
	"testing"

	"github.com/golive/golive/presets"
)

// FuzzLoadYAML feeds arbitrary bytes through the parse path of user preset
// files. It must never panic; what it accepts must validate and print, and
// what it rejects must say so in one line.
func FuzzLoadYAML(f *testing.F) {
	for _, tt := range yamlVectors {
		f.Add([]byte(tt.doc))
	}
	for _, n := range Names() {
		data, err := fs.ReadFile(presets.FS, n+".yaml")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := parse(data, "fuzz.yaml")
		if err != nil {
			if msg := err.Error(); !strings.HasPrefix(msg, "preset: fuzz.yaml: ") || strings.Contains(msg, "\n") {
				t.Fatalf("error is not one line with context: %q", msg)
			}
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("parse accepted a preset that does not validate: %v", err)
		}
		if p.KeyframeFrames() < 1 || p.String() == "" {
			t.Fatalf("accepted preset %+v: %d keyframe frames, String %q", p, p.KeyframeFrames(), p)
		}
	})
}

// FuzzParseBitrate checks that ParseBitrate never panics, stays within its
// limits, and reads back what String prints.
func FuzzParseBitrate(f *testing.F) {
	for _, tt := range bitrateVectors {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseBitrate(s)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "preset: bitrate ") {
				t.Fatalf("error without context: %v", err)
			}
			return
		}
		if n < 1 || n > maxBitrate {
			t.Fatalf("ParseBitrate(%q) = %d, outside 1..100M", s, n)
		}
		back, err := ParseBitrate(formatBitrate(n))
		if err != nil || back != n {
			t.Fatalf("ParseBitrate(formatBitrate(%d) = %q) = %d, %v", n, formatBitrate(n), back, err)
		}
	})
}
