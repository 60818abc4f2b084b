package preset

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golive/golive/presets"
)

var builtin = []string{"1080p30", "1080p60", "360p30", "480p30", "720p30", "720p60", "pi4-720p30", "pi5-720p30"}

func TestNames(t *testing.T) {
	if got := Names(); !slices.Equal(got, builtin) {
		t.Fatalf("Names() = %v, want %v", got, builtin)
	}
}

// Every embedded preset loads, validates, is named after its file and is in
// line with the streaming services' recommendations.
func TestEmbedded(t *testing.T) {
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			p, err := Load(name)
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Validate(); err != nil {
				t.Fatal(err)
			}
			if p.Name != name || p.Description == "" {
				t.Errorf("name %q description %q; want name %q and a description", p.Name, p.Description, name)
			}
			v, a := p.Video, p.Audio
			if r := float64(v.MinBitrate) / float64(v.Bitrate); r < 0.19 || r > 0.21 {
				t.Errorf("min_bitrate is %.2f of target, want 0.2 (the adaptive bitrate's floor)", r)
			}
			if r := float64(v.MaxBitrate) / float64(v.Bitrate); r < 1.2 || r > 1.5 {
				t.Errorf("max_bitrate is %.2f× target, want 1.2..1.5", r)
			}
			if v.KeyframeInterval != 2*time.Second {
				t.Errorf("keyframe interval %s, want 2s", v.KeyframeInterval)
			}
			if v.Width*9 != v.Height*16 && !(v.Width == 854 && v.Height == 480) {
				t.Errorf("%dx%d is not 16:9", v.Width, v.Height)
			}
			if a.Codec != "aac" || a.SampleRate != 48000 || a.Channels != 2 || (a.Bitrate != 128_000 && a.Bitrate != 96_000) {
				t.Errorf("audio %+v, want AAC 96k or 128k 48 kHz stereo", a)
			}
		})
	}
}

// 720p30 is the benchmark's reference: its values must not drift.
func TestBenchmarkPreset(t *testing.T) {
	p, err := Load("720p30")
	if err != nil {
		t.Fatal(err)
	}
	want := Preset{
		Name:        "720p30",
		Description: p.Description,
		Video: Video{Width: 1280, Height: 720, FPS: 30, Bitrate: 2_500_000, MinBitrate: 500_000, MaxBitrate: 3_000_000,
			KeyframeInterval: 2 * time.Second, X264Preset: "veryfast", Profile: "high"},
		Audio: Audio{Codec: "aac", Bitrate: 128_000, SampleRate: 48000, Channels: 2},
	}
	if p != want {
		t.Errorf("720p30 = %+v\nwant %+v", p, want)
	}
	const s = "720p30 1280x720@30 2500k (500k–3000k) keyint 2s veryfast, aac 128k 48000Hz stereo"
	if p.String() != s {
		t.Errorf("String() = %q\nwant %q", p.String(), s)
	}
	if p.KeyframeFrames() != 60 {
		t.Errorf("KeyframeFrames() = %d, want 60", p.KeyframeFrames())
	}
}

func TestAll(t *testing.T) {
	all, err := All()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range all {
		names = append(names, p.Name)
	}
	if !slices.Equal(names, builtin) {
		t.Errorf("All() names = %v, want %v", names, builtin)
	}
}

// Every embedded file is a preset; nothing else is embedded.
func TestEmbeddedFiles(t *testing.T) {
	entries, err := fs.ReadDir(presets.FS, ".")
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(builtin) {
		t.Errorf("%d embedded files, want %d", len(entries), len(builtin))
	}
}

func TestLoadNames(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"720p30", "720p30"},
		{"720p", "720p30"},
		{"360P", "360p30"},
		{"1080p", "1080p30"},
		{"1080P60", "1080p60"},
		{" 480p ", "480p30"},
		{"720p60", "720p60"},
	} {
		p, err := Load(tt.in)
		if err != nil {
			t.Errorf("Load(%q): %v", tt.in, err)
			continue
		}
		if p.Name != tt.want {
			t.Errorf("Load(%q).Name = %q, want %q", tt.in, p.Name, tt.want)
		}
	}
}

func TestLoadUnknown(t *testing.T) {
	const want = `preset: unknown preset "900p" (valid: 1080p30, 1080p60, 360p30, 480p30, 720p30, 720p60, pi4-720p30, pi5-720p30, or a .yaml file)`
	_, err := Load("900p")
	if err == nil || err.Error() != want {
		t.Errorf("Load(900p) error = %v\nwant %s", err, want)
	}
	for _, in := range []string{"900p", "", "720p25", "720p30.json", "hd", "p", "720", "1080i"} {
		_, err := Load(in)
		if !errors.Is(err, ErrUnknown) {
			t.Errorf("Load(%q) error = %v, want ErrUnknown", in, err)
			continue
		}
		for _, n := range builtin {
			if !strings.Contains(err.Error(), n) {
				t.Errorf("Load(%q) error %q does not list %s", in, err, n)
			}
		}
	}
}

func TestLoadUserFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	want := Preset{
		Name:        "my720p",
		Description: "720p30 tuned for my uplink",
		Video: Video{Width: 1280, Height: 720, FPS: 30, Bitrate: 2_500_000, MinBitrate: 1_000_000, MaxBitrate: 3_000_000,
			KeyframeInterval: 2 * time.Second, X264Preset: "veryfast", Profile: "high"},
		Audio: Audio{Codec: "aac", Bitrate: 128_000, SampleRate: 48000, Channels: 2},
	}

	abs := write("my.yaml", validYAML)
	write("sub/other.yml", validYAML)
	write("sub/noext", validYAML)
	write("720p30.YAML", validYAML) // a file, though named like a preset
	t.Chdir(dir)
	for _, in := range []string{abs, "my.yaml", "./my.yaml", "sub/other.yml", "sub/noext", "720p30.YAML"} {
		p, err := Load(in)
		if err != nil {
			t.Errorf("Load(%q): %v", in, err)
			continue
		}
		if p != want {
			t.Errorf("Load(%q) = %+v\nwant %+v", in, p, want)
		}
	}

	// Errors name the file and the field.
	bad := write("bad.yaml", edit("fps", "fps: 0"))
	if _, err := Load(bad); err == nil || !strings.Contains(err.Error(), bad+": video.fps: 0 out of range") {
		t.Errorf("Load(bad) error = %v, want the file and video.fps named", err)
	}
	if _, err := Load("missing.yaml"); !errors.Is(err, fs.ErrNotExist) || errors.Is(err, ErrUnknown) {
		t.Errorf("Load(missing.yaml) error = %v, want not-exist", err)
	}
	if _, err := Load("sub" + string(os.PathSeparator)); err == nil {
		t.Error("Load(directory) succeeded")
	}
	big := write("big.yaml", validYAML+strings.Repeat("# padding\n", 200_000))
	if _, err := Load(big); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("Load(big) error = %v, want too large", err)
	}
}

func TestParseYAML(t *testing.T) {
	for _, tt := range yamlVectors {
		t.Run(tt.name, func(t *testing.T) {
			p, err := parse([]byte(tt.doc), "test.yaml")
			if tt.err == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if err := p.Validate(); err != nil {
					t.Fatalf("parsed preset does not validate: %v", err)
				}
				if want := map[bool]string{true: "vaapi"}[strings.Contains(tt.doc, "encoder:")]; p.Video.Encoder != want {
					t.Fatalf("encoder %q, want %q", p.Video.Encoder, want)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", tt.err)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.err) || !strings.HasPrefix(msg, "preset: test.yaml: ") || strings.Contains(msg, "\n") {
				t.Errorf("error %q\nwant one line starting %q and containing %q", msg, "preset: test.yaml: ", tt.err)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	base, err := Load("720p30")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name   string
		change func(*Preset)
		err    string
	}{
		{"ok", func(p *Preset) {}, ""},
		{"ok 25fps", func(p *Preset) { p.Video.FPS = 25 }, ""},
		{"ok 44.1kHz mono", func(p *Preset) { p.Audio.SampleRate, p.Audio.Channels = 44100, 1 }, ""},
		{"ok min=target=max", func(p *Preset) { p.Video.MinBitrate, p.Video.MaxBitrate = p.Video.Bitrate, p.Video.Bitrate }, ""},
		{"no name", func(p *Preset) { p.Name = "" }, "preset: name: missing"},
		{"width odd", func(p *Preset) { p.Video.Width = 1279 }, "preset: 720p30: video.width: 1279 must be even"},
		{"width zero", func(p *Preset) { p.Video.Width = 0 }, "video.width: 0 out of range 16..7680"},
		{"width too big", func(p *Preset) { p.Video.Width = 7682 }, "video.width: 7682 out of range"},
		{"height too big", func(p *Preset) { p.Video.Height = 4322 }, "video.height: 4322 out of range 16..4320"},
		{"fps 0", func(p *Preset) { p.Video.FPS = 0 }, "video.fps: 0 out of range 1..120"},
		{"fps 121", func(p *Preset) { p.Video.FPS = 121 }, "video.fps: 121 out of range"},
		{"bitrate 0", func(p *Preset) { p.Video.Bitrate = 0 }, "video.bitrate: 0 out of range"},
		{"min 0", func(p *Preset) { p.Video.MinBitrate = 0 }, "video.min_bitrate: 0 out of range"},
		{"max huge", func(p *Preset) { p.Video.MaxBitrate = 200_000_000 }, "video.max_bitrate: 200000k out of range"},
		{"min above", func(p *Preset) { p.Video.MinBitrate = 2_600_000 }, "video.min_bitrate: 2600k is above video.bitrate 2500k"},
		{"max below", func(p *Preset) { p.Video.MaxBitrate = 2_400_000 }, "video.max_bitrate: 2400k is below video.bitrate 2500k"},
		{"keyint 0", func(p *Preset) { p.Video.KeyframeInterval = 0 }, "video.keyframe_interval: 0s out of range"},
		{"keyint 10s", func(p *Preset) { p.Video.KeyframeInterval = 10 * time.Second }, ""},
		{"keyint 10.1s", func(p *Preset) { p.Video.KeyframeInterval = 10100 * time.Millisecond }, "video.keyframe_interval: 10.1s out of range"},
		{"keyint fractional", func(p *Preset) { p.Video.KeyframeInterval = 1010 * time.Millisecond }, "1.01s is 30.3 frames at 30 fps; must be a whole number of frames"},
		{"keyint 1.5s at 25fps", func(p *Preset) { p.Video.FPS, p.Video.KeyframeInterval = 25, 1500*time.Millisecond }, "1.5s is 37.5 frames at 25 fps"},
		{"x264 preset", func(p *Preset) { p.Video.X264Preset = "placebo" }, `video.x264_preset: "placebo" unknown (want one of ultrafast, superfast, veryfast, faster, fast, medium, slow, slower, veryslow)`},
		{"x264 preset case", func(p *Preset) { p.Video.X264Preset = "VeryFast" }, "video.x264_preset"},
		{"profile", func(p *Preset) { p.Video.Profile = "" }, `video.profile: "" unknown`},
		{"codec", func(p *Preset) { p.Audio.Codec = "opus" }, `audio.codec: "opus" not supported (only aac)`},
		{"audio bitrate low", func(p *Preset) { p.Audio.Bitrate = 31_999 }, "audio.bitrate: 31.999k out of range 32k..512k"},
		{"audio bitrate high", func(p *Preset) { p.Audio.Bitrate = 512_001 }, "audio.bitrate: 512.001k out of range"},
		{"sample rate", func(p *Preset) { p.Audio.SampleRate = 96000 }, "audio.sample_rate: 96000 not supported (want 44100 or 48000)"},
		{"channels", func(p *Preset) { p.Audio.Channels = 0 }, "audio.channels: 0 not supported (want 1 or 2)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := base
			tt.change(&p)
			err := p.Validate()
			switch {
			case tt.err == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err) || !strings.HasPrefix(err.Error(), "preset: ")):
				t.Errorf("error = %v, want one containing %q", err, tt.err)
			}
		})
	}
}

func TestApply(t *testing.T) {
	for _, tt := range []struct {
		name   string
		preset string
		o      Overrides
		check  func(t *testing.T, p Preset)
		err    string
	}{
		{name: "nothing", preset: "720p30", check: func(t *testing.T, p Preset) {
			want, _ := Load("720p30")
			if p != want {
				t.Errorf("changed: %v", p)
			}
		}},
		{name: "bitrate scales min and max", preset: "720p30", o: Overrides{Bitrate: "3000k"}, check: bitrates(3_000_000, 600_000, 3_600_000)},
		{name: "bitrate in M", preset: "720p30", o: Overrides{Bitrate: "5M"}, check: bitrates(5_000_000, 1_000_000, 6_000_000)},
		{name: "bitrate in bit/s", preset: "720p30", o: Overrides{Bitrate: "2500000"}, check: bitrates(2_500_000, 500_000, 3_000_000)},
		{name: "bitrate down", preset: "1080p60", o: Overrides{Bitrate: "4.5M"}, check: bitrates(4_500_000, 900_000, 5_625_000)},
		{name: "size", preset: "720p30", o: Overrides{Size: "1920x1080"}, check: func(t *testing.T, p Preset) {
			if p.Video.Width != 1920 || p.Video.Height != 1080 || p.Video.Bitrate != 2_500_000 {
				t.Errorf("got %v", p)
			}
		}},
		{name: "fps 60 doubles keyframe frames", preset: "720p30", o: Overrides{FPS: 60}, check: frames(60, 120)},
		{name: "fps 25", preset: "720p30", o: Overrides{FPS: 25}, check: frames(25, 50)},
		{name: "fps 1", preset: "720p30", o: Overrides{FPS: 1}, check: frames(1, 2)},
		{name: "fps 120", preset: "720p60", o: Overrides{FPS: 120}, check: frames(120, 240)},
		{name: "keyint 1s", preset: "720p30", o: Overrides{KeyframeInterval: time.Second}, check: frames(30, 30)},
		{name: "keyint 4s fps 50", preset: "1080p60", o: Overrides{KeyframeInterval: 4 * time.Second, FPS: 50}, check: frames(50, 200)},
		{name: "all at once", preset: "720p", o: Overrides{Bitrate: "6M", FPS: 60, Size: "1920x1080", KeyframeInterval: 2 * time.Second}, check: func(t *testing.T, p Preset) {
			const want = "720p30 1920x1080@60 6000k (1200k–7200k) keyint 2s veryfast, aac 128k 48000Hz stereo"
			if p.String() != want || p.KeyframeFrames() != 120 {
				t.Errorf("got %q (%d frames), want %q (120)", p, p.KeyframeFrames(), want)
			}
		}},

		{name: "bad bitrate", preset: "720p30", o: Overrides{Bitrate: "fast"}, err: `preset: 720p30: bitrate override "fast": want bit/s`},
		{name: "zero bitrate", preset: "720p30", o: Overrides{Bitrate: "0k"}, err: "must be positive"},
		{name: "bitrate too low to scale", preset: "1080p30", o: Overrides{Bitrate: "1"}, err: "video.min_bitrate: 0 out of range"},
		{name: "absurd bitrate", preset: "720p30", o: Overrides{Bitrate: "1G"}, err: "bitrate override"},
		{name: "bitrate pushes max over limit", preset: "720p30", o: Overrides{Bitrate: "90M"}, err: "video.max_bitrate: 108000k out of range"},
		{name: "fps 0 means unchanged", preset: "720p30", o: Overrides{FPS: 0}, check: frames(30, 60)},
		{name: "fps negative", preset: "720p30", o: Overrides{FPS: -30}, err: "fps override -30 out of range 1..120"},
		{name: "fps 121", preset: "720p30", o: Overrides{FPS: 121}, err: "fps override 121 out of range"},
		{name: "odd size", preset: "720p30", o: Overrides{Size: "1281x720"}, err: `size override "1281x720": width 1281 must be even`},
		{name: "bad size", preset: "720p30", o: Overrides{Size: "720p"}, err: "want WIDTHxHEIGHT"},
		{name: "negative keyint", preset: "720p30", o: Overrides{KeyframeInterval: -time.Second}, err: "keyframe interval override -1s must be positive"},
		{name: "keyint too long", preset: "720p30", o: Overrides{KeyframeInterval: time.Minute}, err: "video.keyframe_interval: 1m0s out of range"},
		{name: "keyint not whole frames", preset: "720p30", o: Overrides{FPS: 25, KeyframeInterval: 1500 * time.Millisecond}, err: "1.5s is 37.5 frames at 25 fps"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Load(tt.preset)
			if err != nil {
				t.Fatal(err)
			}
			before := p
			err = p.Apply(tt.o)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.HasPrefix(err.Error(), "preset: ") {
					t.Errorf("error = %v, want one containing %q", err, tt.err)
				}
				if p != before {
					t.Errorf("failed Apply changed the preset to %v", p)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			tt.check(t, p)
		})
	}
}

func bitrates(target, lo, hi int) func(*testing.T, Preset) {
	return func(t *testing.T, p Preset) {
		t.Helper()
		if v := p.Video; v.Bitrate != target || v.MinBitrate != lo || v.MaxBitrate != hi {
			t.Errorf("bitrates %d (%d–%d), want %d (%d–%d)", v.Bitrate, v.MinBitrate, v.MaxBitrate, target, lo, hi)
		}
	}
}

func frames(fps, n int) func(*testing.T, Preset) {
	return func(t *testing.T, p Preset) {
		t.Helper()
		if p.Video.FPS != fps || p.KeyframeFrames() != n {
			t.Errorf("fps %d, keyframe every %d frames; want %d, %d", p.Video.FPS, p.KeyframeFrames(), fps, n)
		}
	}
}

func TestParseBitrate(t *testing.T) {
	for _, tt := range bitrateVectors {
		got, err := ParseBitrate(tt.in)
		if tt.err == "" {
			if err != nil || got != tt.want {
				t.Errorf("ParseBitrate(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.HasPrefix(err.Error(), "preset: bitrate ") {
			t.Errorf("ParseBitrate(%q) = %d, %v; want error containing %q", tt.in, got, err, tt.err)
		}
	}
}

func TestParseSize(t *testing.T) {
	for _, tt := range sizeVectors {
		w, h, err := ParseSize(tt.in)
		if tt.err == "" {
			if err != nil || w != tt.w || h != tt.h {
				t.Errorf("ParseSize(%q) = %d, %d, %v; want %d, %d", tt.in, w, h, err, tt.w, tt.h)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.HasPrefix(err.Error(), "preset: size ") {
			t.Errorf("ParseSize(%q) = %d, %d, %v; want error containing %q", tt.in, w, h, err, tt.err)
		}
	}
}

func TestString(t *testing.T) {
	p, err := Load("480p")
	if err != nil {
		t.Fatal(err)
	}
	if want := "480p30 854x480@30 1200k (240k–1500k) keyint 2s veryfast, aac 96k 48000Hz stereo"; p.String() != want {
		t.Errorf("String() = %q, want %q", p, want)
	}
	p.Audio.Channels = 1
	p.Video.KeyframeInterval = 1500 * time.Millisecond
	p.Video.MinBitrate = 333_300
	if want := "480p30 854x480@30 1200k (333.3k–1500k) keyint 1.5s veryfast, aac 96k 48000Hz mono"; p.String() != want {
		t.Errorf("String() = %q, want %q", p, want)
	}
}

// The Raspberry Pi presets: the Pi 4's on its hardware encoder, never
// asked below the 200 kbit/s golive keeps it above, with a fast libx264
// for a fallback; the Pi 5's on libx264 at a speed it sustains.
func TestPiPresets(t *testing.T) {
	pi4, err := Load("pi4-720p30")
	if err != nil {
		t.Fatal(err)
	}
	if v := pi4.Video; v.Encoder != "v4l2m2m" || v.MinBitrate < 200_000 || v.Profile == "baseline" ||
		(v.X264Preset != "ultrafast" && v.X264Preset != "superfast") {
		t.Errorf("pi4-720p30 video %+v: want v4l2m2m, min_bitrate >= 200k, main or high, a fast fallback", v)
	}
	pi5, err := Load("PI5-720P30")
	if err != nil {
		t.Fatal(err)
	}
	if v := pi5.Video; v.Encoder != "x264" || (v.X264Preset != "ultrafast" && v.X264Preset != "superfast") ||
		v.Bitrate < 2_000_000 || v.Bitrate > 2_500_000 {
		t.Errorf("pi5-720p30 video %+v: want x264 superfast or ultrafast at 2000k..2500k", v)
	}
	for _, p := range []Preset{pi4, pi5} {
		if v := p.Video; v.Width != 1280 || v.Height != 720 || v.FPS != 30 || p.KeyframeFrames() != 60 {
			t.Errorf("%s: %dx%d@%d, keyframe every %d frames: want 720p30, every 2 s", p.Name, v.Width, v.Height, v.FPS, p.KeyframeFrames())
		}
	}
}
