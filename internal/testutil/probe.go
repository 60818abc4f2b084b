package testutil

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// probeTimeout bounds one ffprobe run (a URL of a stream that never starts
// would otherwise block forever).
const probeTimeout = 30 * time.Second

// Stream is one stream as reported by ffprobe -show_streams. Numbers that
// ffprobe does not know (or reports as "N/A") are zero.
type Stream struct {
	Index         int
	CodecType     string // "video", "audio", ...
	CodecName     string // "h264", "aac", ...
	Profile       string // "High", "LC", ...
	Width, Height int
	PixFmt        string
	AvgFrameRate  string // as a fraction, "30/1"; see ParseRate
	RFrameRate    string
	SampleRate    int
	Channels      int
	ChannelLayout string
	Duration      float64 // seconds
	NbFrames      int
}

// ProbeResult is ffprobe's view of a file or URL.
type ProbeResult struct {
	Streams    []Stream
	FormatName string  // "flv", "hls", "mov,mp4,m4a,3gp,3g2,mj2", ...
	Duration   float64 // seconds
	BitRate    int64   // bits per second
}

// Video returns the first video stream, or nil.
func (p ProbeResult) Video() *Stream { return p.first("video") }

// Audio returns the first audio stream, or nil.
func (p ProbeResult) Audio() *Stream { return p.first("audio") }

func (p ProbeResult) first(typ string) *Stream {
	for i := range p.Streams {
		if p.Streams[i].CodecType == typ {
			return &p.Streams[i]
		}
	}
	return nil
}

// ParseRate parses an ffprobe rate such as "30/1" (30) or "30000/1001"
// (29.97) or a plain number. It returns 0 for "0/0" and anything invalid.
func ParseRate(s string) float64 {
	num, den, isFrac := strings.Cut(s, "/")
	n, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0
	}
	if !isFrac {
		return n
	}
	d, err := strconv.ParseFloat(den, 64)
	if err != nil || d == 0 {
		return 0
	}
	return n / d
}

// Probe runs ffprobe on path (a file or a URL) and returns its streams and
// format. Probing an RTMP URL whose key nobody publishes blocks until the
// 30 s ffprobe timeout.
func Probe(path string) (ProbeResult, error) {
	var out struct {
		Streams []struct {
			Index         int    `json:"index"`
			CodecType     string `json:"codec_type"`
			CodecName     string `json:"codec_name"`
			Profile       string `json:"profile"`
			Width         int    `json:"width"`
			Height        int    `json:"height"`
			PixFmt        string `json:"pix_fmt"`
			AvgFrameRate  string `json:"avg_frame_rate"`
			RFrameRate    string `json:"r_frame_rate"`
			SampleRate    string `json:"sample_rate"`
			Channels      int    `json:"channels"`
			ChannelLayout string `json:"channel_layout"`
			Duration      string `json:"duration"`
			NbFrames      string `json:"nb_frames"`
		} `json:"streams"`
		Format struct {
			FormatName string `json:"format_name"`
			Duration   string `json:"duration"`
			BitRate    string `json:"bit_rate"`
		} `json:"format"`
	}
	if err := ffprobe(&out, "-show_streams", "-show_format", path); err != nil {
		return ProbeResult{}, fmt.Errorf("testutil: probe %s: %w", path, err)
	}
	r := ProbeResult{
		FormatName: out.Format.FormatName,
		Duration:   atof(out.Format.Duration),
		BitRate:    int64(atof(out.Format.BitRate)),
	}
	for _, s := range out.Streams {
		r.Streams = append(r.Streams, Stream{
			Index: s.Index, CodecType: s.CodecType, CodecName: s.CodecName, Profile: s.Profile,
			Width: s.Width, Height: s.Height, PixFmt: s.PixFmt,
			AvgFrameRate: s.AvgFrameRate, RFrameRate: s.RFrameRate,
			SampleRate: int(atof(s.SampleRate)), Channels: s.Channels, ChannelLayout: s.ChannelLayout,
			Duration: atof(s.Duration), NbFrames: int(atof(s.NbFrames)),
		})
	}
	return r, nil
}

// PacketInfo is one packet as reported by ffprobe -show_packets.
type PacketInfo struct {
	PTS, DTS float64 // seconds; 0 when ffprobe reports none
	Keyframe bool
	Size     int // bytes
}

// Packets returns the packets of the first video (stream "v") or audio
// (stream "a") stream of path, in file order.
func Packets(path string, stream string) ([]PacketInfo, error) {
	if stream != "v" && stream != "a" {
		return nil, fmt.Errorf("testutil: packets %s: stream %q: want \"v\" or \"a\"", path, stream)
	}
	var out struct {
		Packets []struct {
			PTSTime string `json:"pts_time"`
			DTSTime string `json:"dts_time"`
			Flags   string `json:"flags"`
			Size    string `json:"size"`
		} `json:"packets"`
	}
	if err := ffprobe(&out, "-select_streams", stream+":0",
		"-show_entries", "packet=pts_time,dts_time,flags,size", path); err != nil {
		return nil, fmt.Errorf("testutil: packets %s: %w", path, err)
	}
	pkts := make([]PacketInfo, 0, len(out.Packets))
	for _, p := range out.Packets {
		pkts = append(pkts, PacketInfo{
			PTS:      atof(p.PTSTime),
			DTS:      atof(p.DTSTime),
			Keyframe: strings.Contains(p.Flags, "K"),
			Size:     int(atof(p.Size)),
		})
	}
	return pkts, nil
}

// MaxGap is the longest time between two of pkts (in file order) on media
// time, in seconds, and the DTS where it starts.
func MaxGap(pkts []PacketInfo) (gap, at float64) {
	for i := 1; i < len(pkts); i++ {
		if d := pkts[i].DTS - pkts[i-1].DTS; d > gap {
			gap, at = d, pkts[i-1].DTS
		}
	}
	return gap, at
}

// KeyframeTimes returns the PTS of the keyframes among pkts, in order.
func KeyframeTimes(pkts []PacketInfo) []float64 {
	var ts []float64
	for _, p := range pkts {
		if p.Keyframe {
			ts = append(ts, p.PTS)
		}
	}
	return ts
}

// ffprobe runs ffprobe -v error -of json with args and decodes its output
// into v.
func ffprobe(v any, args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ffprobe", append([]string{"-v", "error", "-of", "json"}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("ffprobe: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	if err := json.Unmarshal(stdout.Bytes(), v); err != nil {
		return fmt.Errorf("ffprobe: decode output: %w", err)
	}
	return nil
}

// atof parses a number that ffprobe prints as a string; "", "N/A" and other
// invalid values give 0.
func atof(s string) float64 {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0
	}
	return f
}

// ProbeRecordingT waits until the recording at path is complete (the
// publisher has gone) and probes it; any failure ends the test.
func ProbeRecordingT(t testing.TB, path string) ProbeResult {
	t.Helper()
	if err := WaitRecordingDone(path, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	pr, err := Probe(path)
	if err != nil {
		t.Fatal(err)
	}
	return pr
}
