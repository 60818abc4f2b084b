package preset

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// The on-disk shape of a preset. Leaf values are kept as raw nodes so that
// a missing field can be told from a zero one, bitrates may be written as
// strings or integers, and errors can name the field and its line.
type presetFile struct {
	Name        yaml.Node  `yaml:"name"`
	Description yaml.Node  `yaml:"description"`
	Video       *videoFile `yaml:"video"`
	Audio       *audioFile `yaml:"audio"`
}

type videoFile struct {
	Width            yaml.Node `yaml:"width"`
	Height           yaml.Node `yaml:"height"`
	FPS              yaml.Node `yaml:"fps"`
	Bitrate          yaml.Node `yaml:"bitrate"`
	MinBitrate       yaml.Node `yaml:"min_bitrate"`
	MaxBitrate       yaml.Node `yaml:"max_bitrate"`
	KeyframeInterval yaml.Node `yaml:"keyframe_interval"`
	X264Preset       yaml.Node `yaml:"x264_preset"`
	Profile          yaml.Node `yaml:"profile"`
	Encoder          yaml.Node `yaml:"encoder"`
}

type audioFile struct {
	Codec      yaml.Node `yaml:"codec"`
	Bitrate    yaml.Node `yaml:"bitrate"`
	SampleRate yaml.Node `yaml:"sample_rate"`
	Channels   yaml.Node `yaml:"channels"`
}

// parse decodes and validates one preset document. source names it in
// errors (a file name). Built-in and user presets both come through here,
// and so does FuzzLoadYAML: it must return an error, never panic, whatever
// data holds.
func parse(data []byte, source string) (p Preset, err error) {
	defer func() {
		// yaml.v3 has panicked on hostile input before (CVE-2022-28948);
		// a bad preset file must not take the broadcaster down.
		if r := recover(); r != nil {
			p, err = Preset{}, fmt.Errorf("preset: %s: invalid YAML (%s)", source, oneLine.Replace(fmt.Sprint(r)))
		}
	}()
	p, err = decode(data)
	if err == nil {
		err = p.validate()
	}
	if err != nil {
		return Preset{}, fmt.Errorf("preset: %s: %w", source, err)
	}
	return p, nil
}

// decode turns YAML into a Preset without validating the values.
func decode(data []byte) (Preset, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var f presetFile
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return Preset{}, errors.New("empty file; want a YAML mapping with name, video and audio")
		}
		return Preset{}, yamlError(err)
	}
	if err := dec.Decode(new(yaml.Node)); !errors.Is(err, io.EOF) {
		return Preset{}, errors.New("more than one YAML document; want exactly one preset")
	}

	r := new(reader)
	p := Preset{
		Name:        r.str("name", &f.Name),
		Description: r.optionalStr("description", &f.Description),
	}
	if f.Video == nil {
		r.missing = append(r.missing, "video")
	} else {
		v := f.Video
		p.Video = Video{
			Width:            r.int("video.width", &v.Width),
			Height:           r.int("video.height", &v.Height),
			FPS:              r.int("video.fps", &v.FPS),
			Bitrate:          r.bitrate("video.bitrate", &v.Bitrate),
			MinBitrate:       r.bitrate("video.min_bitrate", &v.MinBitrate),
			MaxBitrate:       r.bitrate("video.max_bitrate", &v.MaxBitrate),
			KeyframeInterval: r.duration("video.keyframe_interval", &v.KeyframeInterval),
			X264Preset:       strings.ToLower(r.str("video.x264_preset", &v.X264Preset)),
			Profile:          strings.ToLower(r.str("video.profile", &v.Profile)),
		}
		if !isNull(&v.Encoder) { // optional: auto
			p.Video.Encoder = strings.ToLower(r.str("video.encoder", &v.Encoder))
		}
	}
	if f.Audio == nil {
		r.missing = append(r.missing, "audio")
	} else {
		a := f.Audio
		p.Audio = Audio{
			Codec:      strings.ToLower(r.str("audio.codec", &a.Codec)),
			Bitrate:    r.bitrate("audio.bitrate", &a.Bitrate),
			SampleRate: r.int("audio.sample_rate", &a.SampleRate),
			Channels:   r.int("audio.channels", &a.Channels),
		}
	}
	switch {
	case r.err != nil: // has a line number: the most precise report
		return Preset{}, r.err
	case len(r.missing) == 1:
		return Preset{}, fmt.Errorf("%s: missing", r.missing[0])
	case len(r.missing) > 1:
		return Preset{}, fmt.Errorf("missing fields %s", strings.Join(r.missing, ", "))
	}
	return p, nil
}

// reader converts leaf nodes, remembering missing fields and the first
// malformed one.
type reader struct {
	missing []string
	err     error
}

// scalar resolves aliases and returns n's scalar node, or ok=false after
// recording why not.
func (r *reader) scalar(field string, n *yaml.Node) (_ *yaml.Node, ok bool) {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 100; i++ {
		n = n.Alias
	}
	switch {
	case isNull(n):
		r.missing = append(r.missing, field)
		return nil, false
	case n.Kind != yaml.ScalarNode:
		r.fail(n.Line, field, "want a single value, not a list or mapping")
		return nil, false
	}
	return n, true
}

// isNull reports a field that is absent or explicitly empty.
func isNull(n *yaml.Node) bool {
	return n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

func (r *reader) fail(line int, field, format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("line %d: %s: %s", line, field, fmt.Sprintf(format, args...))
	}
}

func (r *reader) str(field string, n *yaml.Node) string {
	if n, ok := r.scalar(field, n); ok {
		return strings.TrimSpace(n.Value)
	}
	return ""
}

// optionalStr is str for a field that may be left out.
func (r *reader) optionalStr(field string, n *yaml.Node) string {
	if isNull(n) {
		return ""
	}
	return r.str(field, n)
}

func (r *reader) int(field string, n *yaml.Node) int {
	n, ok := r.scalar(field, n)
	if !ok {
		return 0
	}
	var v int
	if n.ShortTag() != "!!int" || n.Decode(&v) != nil {
		r.fail(n.Line, field, "want an integer, got %q", n.Value)
		return 0
	}
	return v
}

func (r *reader) bitrate(field string, n *yaml.Node) int {
	n, ok := r.scalar(field, n)
	if !ok {
		return 0
	}
	v, err := parseBitrate(n.Value)
	if err != nil {
		r.fail(n.Line, field, "%v", err)
	}
	return v
}

func (r *reader) duration(field string, n *yaml.Node) time.Duration {
	n, ok := r.scalar(field, n)
	if !ok {
		return 0
	}
	d, err := time.ParseDuration(strings.TrimSpace(n.Value))
	if err != nil {
		r.fail(n.Line, field, `want a duration like "2s", got %q`, n.Value)
	}
	return d
}

var (
	// yaml.v3's KnownFields error: "line 5: field foo not found in type preset.videoFile".
	unknownFieldRE = regexp.MustCompile(`(?s)^line (\d+): field (.*) not found in type (\S+)$`)
	// A section that is not a mapping: "line 3: cannot unmarshal !!str `x` into preset.videoFile".
	notMappingRE = regexp.MustCompile("(?s)^line (\\d+): cannot unmarshal (!!\\w+).* into (\\S+)$")
)

// sections maps the Go types above to where they sit in the YAML.
var sections = map[string]string{
	"preset.presetFile": "",
	"preset.videoFile":  "video.",
	"preset.audioFile":  "audio.",
}

// oneLine escapes line breaks that yaml.v3 copies from the input into its
// messages, so that every error stays on one line.
var oneLine = strings.NewReplacer("\r", `\r`, "\n", `\n`, "\u2028", `\u2028`, "\u2029", `\u2029`, "\u0085", `\u0085`)

// yamlError rewrites yaml.v3's errors into one line that speaks of YAML
// fields rather than Go types.
func yamlError(err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return fmt.Errorf("invalid YAML: %s", oneLine.Replace(strings.TrimPrefix(err.Error(), "yaml: ")))
	}
	msgs := make([]string, 0, len(te.Errors))
	for _, m := range te.Errors {
		if g := unknownFieldRE.FindStringSubmatch(m); g != nil {
			if sec, ok := sections[g[3]]; ok {
				m = fmt.Sprintf("line %s: unknown field %q", g[1], sec+g[2])
			}
		} else if g := notMappingRE.FindStringSubmatch(m); g != nil {
			if sec, ok := sections[g[3]]; ok {
				if sec == "" {
					m = fmt.Sprintf("line %s: want a mapping with name, video and audio, got %s", g[1], g[2])
				} else {
					m = fmt.Sprintf("line %s: %s: want a mapping, got %s", g[1], strings.TrimSuffix(sec, "."), g[2])
				}
			}
		}
		msgs = append(msgs, oneLine.Replace(m))
	}
	return errors.New(strings.Join(msgs, "; "))
}
