// Package preset loads, overrides and validates golive's encoding presets:
// the video (size, frame rate, H.264 bitrates, keyframe interval, x264
// speed preset and profile) and audio (AAC) settings of one broadcast.
//
// Built-in presets live as YAML in the presets package (see Names); a user
// may also point Load at a YAML file of the same shape:
//
//	name: my720p
//	description: 720p30 for my uplink
//	video:
//	  width: 1280
//	  height: 720
//	  fps: 30
//	  bitrate: 2500k        # or 2.5M, or 2500000 (bit/s)
//	  min_bitrate: 1000k
//	  max_bitrate: 3000k
//	  keyframe_interval: 2s
//	  x264_preset: veryfast
//	  profile: high
//	audio:
//	  codec: aac
//	  bitrate: 128k
//	  sample_rate: 48000
//	  channels: 2
//
// Every field but description is required; there are no defaults.
package preset

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/golive/golive/presets"
)

// Video holds the video encoding settings of a preset.
type Video struct {
	Width, Height int // frame size in pixels, both even
	FPS           int // frames per second, 1..120

	// Bitrates in bit/s: the encoder's target, and the range an adaptive
	// sender may move within (MinBitrate <= Bitrate <= MaxBitrate).
	Bitrate, MinBitrate, MaxBitrate int

	// KeyframeInterval is the time between keyframes (IDR frames); it must
	// be a whole number of frames at FPS (see Preset.KeyframeFrames).
	KeyframeInterval time.Duration

	X264Preset string // x264 speed preset: ultrafast … veryslow
	Profile    string // H.264 profile: baseline, main or high
	// Encoder: the H.264 encoder, auto (also when empty: the hardware
	// encoder the machine has, else libx264), x264, v4l2m2m, vaapi, nvenc
	// or qsv. --encoder overrides it.
	Encoder string
}

// Audio holds the audio encoding settings of a preset.
type Audio struct {
	Codec      string // only "aac" for now
	Bitrate    int    // bit/s, 32k..512k
	SampleRate int    // Hz: 44100 or 48000
	Channels   int    // 1 (mono) or 2 (stereo)
}

// Preset is one complete set of encoding settings.
type Preset struct {
	Name        string // e.g. "720p30"
	Description string // one line, for `golive presets`
	Video       Video
	Audio       Audio
}

// ErrUnknown is wrapped by Load's error when a name matches no built-in
// preset.
var ErrUnknown = errors.New("unknown preset")

// Validation limits.
const (
	minFPS, maxFPS            = 1, 120
	maxKeyframeInterval       = 10 * time.Second
	minAudioBitrate           = 32_000
	maxAudioBitrate           = 512_000
	maxUserFileSize     int64 = 1 << 20
)

// x264Presets are the x264 speed presets, fastest first (placebo is left
// out: it is never sensible for live encoding).
var x264Presets = []string{"ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow"}

// profiles are the H.264 profiles a preset may ask for.
var profiles = []string{"baseline", "main", "high"}

// Encoders are the values of video.encoder (as encode.CheckName takes them).
var Encoders = []string{"auto", "x264", "v4l2m2m", "vaapi", "nvenc", "qsv"}

// Names returns the names of the built-in presets, sorted.
func Names() []string {
	entries, err := fs.ReadDir(presets.FS, ".")
	if err != nil { // cannot happen with an embed.FS root
		return nil
	}
	var names []string
	for _, e := range entries {
		if n, ok := strings.CutSuffix(e.Name(), ".yaml"); ok && !e.IsDir() {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names
}

// Load returns a validated preset, either built in or from a user's file.
//
// A value containing a path separator or ending in .yaml or .yml names a
// file, read as given (relative paths from the working directory). Anything
// else is a built-in preset name, matched case-insensitively; a name
// without a frame rate means its 30 fps preset ("720p" is "720p30"). An
// unknown name gives an error wrapping ErrUnknown that lists the valid
// names.
func Load(nameOrPath string) (Preset, error) {
	if isPath(nameOrPath) {
		data, err := readFile(nameOrPath)
		if err != nil {
			return Preset{}, fmt.Errorf("preset: %w", err)
		}
		return parse(data, nameOrPath)
	}

	name := strings.ToLower(strings.TrimSpace(nameOrPath))
	if rest, ok := strings.CutSuffix(name, "p"); ok && rest != "" && allDigits(rest) {
		name += "30"
	}
	names := Names()
	if !slices.Contains(names, name) {
		return Preset{}, fmt.Errorf("preset: %w %q (valid: %s, or a .yaml file)",
			ErrUnknown, nameOrPath, strings.Join(names, ", "))
	}
	data, err := fs.ReadFile(presets.FS, name+".yaml")
	if err != nil {
		return Preset{}, fmt.Errorf("preset: built-in %s: %w", name, err)
	}
	return parse(data, "built-in "+name+".yaml")
}

// isPath reports whether Load should treat s as a file rather than a name.
func isPath(s string) bool {
	if strings.ContainsRune(s, '/') || strings.ContainsRune(s, os.PathSeparator) {
		return true
	}
	ext := strings.ToLower(path.Ext(s))
	return ext == ".yaml" || ext == ".yml"
}

// readFile reads a user's preset file, refusing anything implausibly big.
func readFile(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxUserFileSize+1))
	if err != nil {
		return nil, err // an *fs.PathError: names the file already
	}
	if int64(len(data)) > maxUserFileSize {
		return nil, fmt.Errorf("%s: larger than %d bytes; not a preset file", name, maxUserFileSize)
	}
	return data, nil
}

// All returns every built-in preset, in Names order.
func All() ([]Preset, error) {
	var all []Preset
	for _, n := range Names() {
		p, err := Load(n)
		if err != nil {
			return nil, err
		}
		all = append(all, p)
	}
	return all, nil
}

// Overrides are command-line changes to a preset; zero fields leave the
// preset's value alone.
type Overrides struct {
	Bitrate          string        // target bitrate, as for ParseBitrate ("3000k", "3M", "3000000")
	FPS              int           // frames per second, 1..120
	Size             string        // frame size, as for ParseSize ("1280x720")
	KeyframeInterval time.Duration // time between keyframes
}

// Apply applies o to p and validates the result. A new target bitrate
// scales the minimum and maximum with it, keeping their ratios to the
// target. The keyframe interval stays a duration, so a new frame rate
// changes KeyframeFrames. On error p is left unchanged.
func (p *Preset) Apply(o Overrides) error {
	q := *p
	if o.Bitrate != "" {
		b, err := parseBitrate(o.Bitrate)
		if err != nil {
			return fmt.Errorf("preset: %s: bitrate override %w", p.Name, err)
		}
		if old := q.Video.Bitrate; old > 0 {
			q.Video.MinBitrate = scale(q.Video.MinBitrate, b, old)
			q.Video.MaxBitrate = scale(q.Video.MaxBitrate, b, old)
		}
		q.Video.Bitrate = b
	}
	if o.FPS != 0 {
		if o.FPS < minFPS || o.FPS > maxFPS {
			return fmt.Errorf("preset: %s: fps override %d out of range %d..%d", p.Name, o.FPS, minFPS, maxFPS)
		}
		q.Video.FPS = o.FPS
	}
	if o.Size != "" {
		w, h, err := parseSize(o.Size)
		if err != nil {
			return fmt.Errorf("preset: %s: size override %w", p.Name, err)
		}
		q.Video.Width, q.Video.Height = w, h
	}
	if o.KeyframeInterval != 0 {
		if o.KeyframeInterval < 0 {
			return fmt.Errorf("preset: %s: keyframe interval override %s must be positive", p.Name, o.KeyframeInterval)
		}
		q.Video.KeyframeInterval = o.KeyframeInterval
	}
	if err := q.Validate(); err != nil {
		return err
	}
	*p = q
	return nil
}

// scale returns v*num/den rounded to the nearest integer, without
// overflow for bitrates (all below 2^31).
func scale(v, num, den int) int {
	return int((int64(v)*int64(num) + int64(den)/2) / int64(den))
}

// Validate checks that p is complete and sensible, and reports the first
// problem by its YAML field name, e.g.
// `preset: 720p30: video.width: 1281 must be even`.
func (p Preset) Validate() error {
	if err := p.validate(); err != nil {
		if p.Name == "" || !validName(p.Name) {
			return fmt.Errorf("preset: %w", err)
		}
		return fmt.Errorf("preset: %s: %w", p.Name, err)
	}
	return nil
}

// validate is Validate without the context prefix.
func (p Preset) validate() error {
	v, a := p.Video, p.Audio
	switch {
	case p.Name == "":
		return errors.New("name: missing")
	case !validName(p.Name):
		return fmt.Errorf("name: %q must be one word of printable characters", p.Name)
	case strings.ContainsFunc(p.Description, isControl):
		return errors.New("description: must be one line of printable characters")
	}

	if err := checkDim(v.Width, minWidth, maxWidth); err != nil {
		return fmt.Errorf("video.width: %w", err)
	}
	if err := checkDim(v.Height, minHeight, maxHeight); err != nil {
		return fmt.Errorf("video.height: %w", err)
	}
	if v.FPS < minFPS || v.FPS > maxFPS {
		return fmt.Errorf("video.fps: %d out of range %d..%d", v.FPS, minFPS, maxFPS)
	}
	for _, b := range []struct {
		field string
		bps   int
	}{{"video.bitrate", v.Bitrate}, {"video.min_bitrate", v.MinBitrate}, {"video.max_bitrate", v.MaxBitrate}} {
		if b.bps <= 0 || b.bps > maxBitrate {
			return fmt.Errorf("%s: %s out of range 1..100M", b.field, formatBitrate(b.bps))
		}
	}
	if v.MinBitrate > v.Bitrate {
		return fmt.Errorf("video.min_bitrate: %s is above video.bitrate %s", formatBitrate(v.MinBitrate), formatBitrate(v.Bitrate))
	}
	if v.MaxBitrate < v.Bitrate {
		return fmt.Errorf("video.max_bitrate: %s is below video.bitrate %s", formatBitrate(v.MaxBitrate), formatBitrate(v.Bitrate))
	}
	if v.KeyframeInterval <= 0 || v.KeyframeInterval > maxKeyframeInterval {
		return fmt.Errorf("video.keyframe_interval: %s out of range (0s, %s]", v.KeyframeInterval, maxKeyframeInterval)
	}
	// Interval and fps are bounded above, so the product cannot overflow.
	if n := int64(v.KeyframeInterval) * int64(v.FPS); n%int64(time.Second) != 0 {
		frames := strconv.FormatFloat(float64(n)/float64(time.Second), 'f', -1, 64)
		return fmt.Errorf("video.keyframe_interval: %s is %s frames at %d fps; must be a whole number of frames",
			v.KeyframeInterval, frames, v.FPS)
	}
	if !slices.Contains(x264Presets, v.X264Preset) {
		return fmt.Errorf("video.x264_preset: %q unknown (want one of %s)", v.X264Preset, strings.Join(x264Presets, ", "))
	}
	if !slices.Contains(profiles, v.Profile) {
		return fmt.Errorf("video.profile: %q unknown (want one of %s)", v.Profile, strings.Join(profiles, ", "))
	}
	if v.Encoder != "" && !slices.Contains(Encoders, v.Encoder) {
		return fmt.Errorf("video.encoder: %q unknown (want one of %s)", v.Encoder, strings.Join(Encoders, ", "))
	}

	if a.Codec != "aac" {
		return fmt.Errorf("audio.codec: %q not supported (only aac)", a.Codec)
	}
	if a.Bitrate < minAudioBitrate || a.Bitrate > maxAudioBitrate {
		return fmt.Errorf("audio.bitrate: %s out of range 32k..512k", formatBitrate(a.Bitrate))
	}
	if a.SampleRate != 44100 && a.SampleRate != 48000 {
		return fmt.Errorf("audio.sample_rate: %d not supported (want 44100 or 48000)", a.SampleRate)
	}
	if a.Channels != 1 && a.Channels != 2 {
		return fmt.Errorf("audio.channels: %d not supported (want 1 or 2)", a.Channels)
	}
	return nil
}

// validName reports whether s is usable as a preset name: non-empty, no
// spaces or control characters, at most 64 bytes.
func validName(s string) bool {
	return s != "" && len(s) <= 64 && !strings.ContainsFunc(s, func(r rune) bool {
		return isControl(r) || r == ' ' || r == '\u00a0' || r == '\u3000'
	})
}

// isControl reports control characters, line breaks and invalid UTF-8.
func isControl(r rune) bool {
	return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) ||
		r == '\u2028' || r == '\u2029' || r == '\ufffd'
}

// KeyframeFrames returns the keyframe interval in frames at the preset's
// frame rate (the encoder's GOP length), rounded to the nearest frame.
func (p Preset) KeyframeFrames() int {
	n := int64(p.Video.KeyframeInterval) * int64(p.Video.FPS)
	return int((n + int64(time.Second)/2) / int64(time.Second))
}

// String describes p on one line, e.g.
// "720p30 1280x720@30 2500k (1000k–3000k) keyint 2s veryfast, aac 128k 48000Hz stereo".
func (p Preset) String() string {
	v, a := p.Video, p.Audio
	ch := strconv.Itoa(a.Channels) + "ch"
	switch a.Channels {
	case 1:
		ch = "mono"
	case 2:
		ch = "stereo"
	}
	return fmt.Sprintf("%s %dx%d@%d %s (%s–%s) keyint %s %s, %s %s %dHz %s",
		p.Name, v.Width, v.Height, v.FPS,
		formatBitrate(v.Bitrate), formatBitrate(v.MinBitrate), formatBitrate(v.MaxBitrate),
		v.KeyframeInterval, v.X264Preset,
		a.Codec, formatBitrate(a.Bitrate), a.SampleRate, ch)
}
