package preset

import "strings"

// Test vectors shared by the table tests and the fuzz targets' seed corpora.

// bitrateVectors: want > 0 means success, otherwise err is a substring of
// the error.
var bitrateVectors = []struct {
	in   string
	want int
	err  string
}{
	{in: "2500k", want: 2_500_000},
	{in: "128K", want: 128_000},
	{in: "2.5M", want: 2_500_000},
	{in: "6M", want: 6_000_000},
	{in: "6m", want: 6_000_000},
	{in: "2500000", want: 2_500_000},
	{in: "  3000k ", want: 3_000_000},
	{in: "3000 k", want: 3_000_000},
	{in: "1.5k", want: 1_500},
	{in: "0.5k", want: 500},
	{in: "1.250000M", want: 1_250_000},
	{in: "007k", want: 7_000},
	{in: "1", want: 1},
	{in: "100M", want: 100_000_000},
	{in: "100000000", want: 100_000_000},

	{in: "", err: "empty"},
	{in: "   ", err: "empty"},
	{in: "k", err: "empty"},
	{in: "0", err: "must be positive"},
	{in: "0k", err: "must be positive"},
	{in: "0.0M", err: "must be positive"},
	{in: "-5k", err: "must be positive"},
	{in: "-2500000", err: "must be positive"},
	{in: "100000001", err: "too large"},
	{in: "101M", err: "too large"},
	{in: "100.000001M", err: "too large"},
	{in: "99999999999999999999k", err: "too large"},
	{in: "1.0005k", err: "not a whole number"},
	{in: "2500.5", err: "not a whole number"},
	{in: "1.0000001M", err: "not a whole number"},
	{in: "abc", err: "want bit/s"},
	{in: "2500kb", err: "want bit/s"},
	{in: "2500kbps", err: "want bit/s"},
	{in: "2,5M", err: "want bit/s"},
	{in: "1e6", err: "want bit/s"},
	{in: ".5M", err: "want bit/s"},
	{in: "5.M", err: "want bit/s"},
	{in: "1.2.3k", err: "want bit/s"},
	{in: "+5k", err: "want bit/s"},
	{in: "0x10", err: "want bit/s"},
	{in: "2 500k", err: "want bit/s"},
	{in: "2500kk", err: "want bit/s"},
	{in: "٣k", err: "want bit/s"}, // non-ASCII digit
}

// sizeVectors: w > 0 means success, otherwise err is a substring of the
// error.
var sizeVectors = []struct {
	in   string
	w, h int
	err  string
}{
	{in: "1280x720", w: 1280, h: 720},
	{in: "1920X1080", w: 1920, h: 1080},
	{in: " 640x360 ", w: 640, h: 360},
	{in: "16x16", w: 16, h: 16},
	{in: "7680x4320", w: 7680, h: 4320},
	{in: "0854x480", w: 854, h: 480},

	{in: "1281x720", err: "width 1281 must be even"},
	{in: "1280x721", err: "height 721 must be even"},
	{in: "8x720", err: "width 8 out of range 16..7680"},
	{in: "1280x14", err: "height 14 out of range 16..4320"},
	{in: "7682x4320", err: "width 7682 out of range"},
	{in: "7680x4322", err: "height 4322 out of range"},
	{in: "99999999x720", err: "want WIDTHxHEIGHT"},
	{in: "1280*720", err: "want WIDTHxHEIGHT"},
	{in: "x720", err: "want WIDTHxHEIGHT"},
	{in: "1280x", err: "want WIDTHxHEIGHT"},
	{in: "-1280x720", err: "want WIDTHxHEIGHT"},
	{in: "1280x720x3", err: "want WIDTHxHEIGHT"},
	{in: "1280 x 720", err: "want WIDTHxHEIGHT"},
	{in: "720p", err: "want WIDTHxHEIGHT"},
	{in: "", err: "want WIDTHxHEIGHT"},
}

// validYAML is a complete user preset; yamlVectors derive broken ones from
// it with edit.
const validYAML = `# a user's own preset
name: my720p
description: 720p30 tuned for my uplink
video:
  width: 1280
  height: 720
  fps: 30
  bitrate: 2500k
  min_bitrate: 1000000     # integers are bit/s
  max_bitrate: "3M"
  keyframe_interval: 2s
  x264_preset: veryfast
  profile: high
audio:
  codec: aac
  bitrate: 128k
  sample_rate: 48000
  channels: 2
`

// edit returns validYAML with the line starting (after indentation) with
// key replaced by repl, or deleted when repl is "".
func edit(key, repl string) string {
	lines := strings.Split(validYAML, "\n")
	for i, l := range lines {
		trimmed := strings.TrimLeft(l, " ")
		if strings.HasPrefix(trimmed, key+":") {
			if repl == "" {
				return strings.Join(append(lines[:i:i], lines[i+1:]...), "\n")
			}
			lines[i] = l[:len(l)-len(trimmed)] + repl
			return strings.Join(lines, "\n")
		}
	}
	panic("edit: no line " + key)
}

// yamlVectors are preset documents for parse: err "" means it must load,
// otherwise err is a substring of the error (naming the field).
var yamlVectors = []struct {
	name, doc, err string
}{
	{name: "valid", doc: validYAML},
	{name: "no description", doc: edit("description", "")},
	{name: "integer bitrates", doc: edit("bitrate", "bitrate: 2500000")},
	{name: "upper case values", doc: edit("x264_preset", "x264_preset: VeryFast")},
	{name: "encoder named", doc: edit("profile", "profile: high\n  encoder: VAAPI")},
	{name: "keyint 500ms at 30fps", doc: edit("keyframe_interval", "keyframe_interval: 500ms")},
	{name: "44.1kHz mono", doc: strings.Replace(edit("sample_rate", "sample_rate: 44100"), "channels: 2", "channels: 1", 1)},
	{name: "anchor and alias", doc: strings.Replace(edit("name", "name: &n my720p"), "description: 720p30 tuned for my uplink", "description: *n", 1)},

	{name: "empty", doc: "", err: "empty file"},
	{name: "comment only", doc: "# nothing\n", err: "empty file"},
	{name: "not a mapping", doc: "hello", err: "want a mapping with name, video and audio"},
	{name: "video not a mapping", doc: "name: x\nvideo: 3\n", err: "video: want a mapping"},
	{name: "syntax", doc: "name: [", err: "invalid YAML"},
	{name: "two documents", doc: validYAML + "---\n" + validYAML, err: "more than one YAML document"},
	{name: "duplicate key", doc: validYAML + "name: again\n", err: `"name" already defined`},
	{name: "unknown top field", doc: validYAML + "bitrate: 3M\n", err: `unknown field "bitrate"`},
	{name: "unknown video field", doc: edit("fps", "fps: 30\n  framerate: 30"), err: `unknown field "video.framerate"`},
	{name: "unknown audio field", doc: edit("codec", "codec: aac\n  volume: 11"), err: `unknown field "audio.volume"`},

	{name: "missing name", doc: edit("name", ""), err: "name: missing"},
	{name: "null name", doc: edit("name", "name:"), err: "name: missing"},
	{name: "missing video", doc: "name: x\naudio: {codec: aac, bitrate: 128k, sample_rate: 48000, channels: 2}\n", err: "video: missing"},
	{name: "missing width", doc: edit("width", ""), err: "video.width: missing"},
	{name: "missing height", doc: edit("height", ""), err: "video.height: missing"},
	{name: "missing fps", doc: edit("fps", ""), err: "video.fps: missing"},
	{name: "missing bitrate", doc: edit("bitrate", ""), err: "video.bitrate: missing"},
	{name: "missing min_bitrate", doc: edit("min_bitrate", ""), err: "video.min_bitrate: missing"},
	{name: "missing max_bitrate", doc: edit("max_bitrate", ""), err: "video.max_bitrate: missing"},
	{name: "missing keyframe_interval", doc: edit("keyframe_interval", ""), err: "video.keyframe_interval: missing"},
	{name: "missing x264_preset", doc: edit("x264_preset", ""), err: "video.x264_preset: missing"},
	{name: "missing profile", doc: edit("profile", ""), err: "video.profile: missing"},
	{name: "missing codec", doc: edit("codec", ""), err: "audio.codec: missing"},
	{name: "missing sample_rate", doc: edit("sample_rate", ""), err: "audio.sample_rate: missing"},
	{name: "missing channels", doc: edit("channels", ""), err: "audio.channels: missing"},
	{name: "null channels", doc: edit("channels", "channels:"), err: "audio.channels: missing"},
	{name: "empty sections", doc: "name: x\nvideo: {}\naudio: {}\n", err: "missing fields video.width, video.height"},

	{name: "width not a number", doc: edit("width", "width: wide"), err: `line 5: video.width: want an integer, got "wide"`},
	{name: "width float", doc: edit("width", "width: 1280.5"), err: "video.width: want an integer"},
	{name: "width quoted", doc: edit("width", `width: "1280"`), err: "video.width: want an integer"},
	{name: "width list", doc: edit("width", "width: [1280]"), err: "video.width: want a single value"},
	{name: "width odd", doc: edit("width", "width: 1281"), err: "video.width: 1281 must be even"},
	{name: "width huge", doc: edit("width", "width: 99999999999999999999"), err: "video.width: want an integer"},
	{name: "height too small", doc: edit("height", "height: 8"), err: "video.height: 8 out of range"},
	{name: "fps zero", doc: edit("fps", "fps: 0"), err: "video.fps: 0 out of range 1..120"},
	{name: "fps too high", doc: edit("fps", "fps: 240"), err: "video.fps: 240 out of range"},
	{name: "bitrate junk", doc: edit("bitrate", "bitrate: fast"), err: `video.bitrate: "fast": want bit/s`},
	{name: "bitrate negative", doc: edit("bitrate", "bitrate: -2500000"), err: "video.bitrate: \"-2500000\": must be positive"},
	{name: "min above target", doc: edit("min_bitrate", "min_bitrate: 2600k"), err: "video.min_bitrate: 2600k is above video.bitrate 2500k"},
	{name: "max below target", doc: edit("max_bitrate", "max_bitrate: 2M"), err: "video.max_bitrate: 2000k is below video.bitrate 2500k"},
	{name: "keyint number", doc: edit("keyframe_interval", "keyframe_interval: 2"), err: `video.keyframe_interval: want a duration like "2s", got "2"`},
	{name: "keyint zero", doc: edit("keyframe_interval", "keyframe_interval: 0s"), err: "video.keyframe_interval: 0s out of range"},
	{name: "keyint negative", doc: edit("keyframe_interval", "keyframe_interval: -2s"), err: "video.keyframe_interval: -2s out of range"},
	{name: "keyint too long", doc: edit("keyframe_interval", "keyframe_interval: 11s"), err: "video.keyframe_interval: 11s out of range"},
	{name: "keyint fractional frames", doc: edit("keyframe_interval", "keyframe_interval: 1.01s"), err: "video.keyframe_interval: 1.01s is 30.3 frames at 30 fps"},
	{name: "x264 preset unknown", doc: edit("x264_preset", "x264_preset: turbo"), err: `video.x264_preset: "turbo" unknown`},
	{name: "x264 placebo", doc: edit("x264_preset", "x264_preset: placebo"), err: `video.x264_preset: "placebo" unknown`},
	{name: "profile unknown", doc: edit("profile", "profile: high10"), err: `video.profile: "high10" unknown`},
	{name: "encoder unknown", doc: edit("profile", "profile: high\n  encoder: h264_omx"), err: `video.encoder: "h264_omx" unknown (want one of auto, x264, v4l2m2m, vaapi, nvenc, qsv)`},
	{name: "encoder a list", doc: edit("profile", "profile: high\n  encoder: [vaapi]"), err: `video.encoder: want a single value`},
	{name: "codec opus", doc: edit("codec", "codec: opus"), err: `audio.codec: "opus" not supported (only aac)`},
	{name: "audio bitrate low", doc: strings.Replace(validYAML, "bitrate: 128k", "bitrate: 16k", 1), err: "audio.bitrate: 16k out of range 32k..512k"},
	{name: "audio bitrate high", doc: strings.Replace(validYAML, "bitrate: 128k", "bitrate: 1M", 1), err: "audio.bitrate: 1000k out of range"},
	{name: "sample rate", doc: edit("sample_rate", "sample_rate: 22050"), err: "audio.sample_rate: 22050 not supported"},
	{name: "channels", doc: edit("channels", "channels: 6"), err: "audio.channels: 6 not supported"},
	{name: "name with space", doc: edit("name", "name: my preset"), err: "name: \"my preset\" must be one word"},
	{name: "multi-line description", doc: edit("description", "description: |\n  one\n  two"), err: "description: must be one line"},
}
