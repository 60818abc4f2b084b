// Package status reports the broadcaster's health: a Heartbeat that posts a
// Document to the platform at an interval and on every state change (and
// obeys the platform's orders in its replies), and a local Server with the
// same Document at GET /status and Prometheus metrics at GET /metrics.
//
// Both take the Document from a snapshot function the caller provides; it
// must be cheap and safe to call from other goroutines.
package status

import (
	"crypto/sha256"
	"encoding/hex"
	"math"
	"net/url"
	"slices"
	"strings"
	"time"
)

// States of the stream, in Document.State.
const (
	Starting     = "starting"
	Live         = "live"
	Reconnecting = "reconnecting"
	Stopped      = "stopped"
)

// states lists every state, in the order /metrics shows them.
var states = [...]string{Starting, Live, Reconnecting, Stopped}

// Document is what the heartbeat posts and GET /status serves.
type Document struct {
	StreamID         string    `json:"stream_id"` // see StreamID
	State            string    `json:"state"`     // Starting, Live, Reconnecting or Stopped
	UptimeSeconds    float64   `json:"uptime_s"`
	TargetBitrate    int       `json:"target_bitrate"`        // video bit/s the encoder is set to
	ActualBitrate    int       `json:"actual_bitrate"`        // bit/s sent over the last interval
	MaxBitrate       int       `json:"max_bitrate,omitempty"` // cap ordered by the platform (0: none)
	FPS              float64   `json:"fps"`
	DroppedFrames    int64     `json:"dropped_frames"`
	QueueDelayMS     float64   `json:"queue_delay_ms"`
	RTTMS            float64   `json:"rtt_ms"`
	Reconnects       int       `json:"reconnects"`
	BitrateChanges   int64     `json:"bitrate_changes"`
	Encoder          string    `json:"encoder"`           // the video encoder running now: x264, vaapi, nvenc, …
	EncoderFallbacks int64     `json:"encoder_fallbacks"` // hardware encoders replaced by libx264 mid-stream
	Source           string    `json:"source"`            // camera|slate|test|file
	Protocol         string    `json:"protocol"`          // rtmp|whip
	Host             string    `json:"host"`
	Version          string    `json:"version"`
	Time             time.Time `json:"time"` // when the snapshot was taken (UTC)
	// Destinations: each output on its own (the fields above add them up).
	Destinations []Destination `json:"destinations,omitempty"`
}

// Destination is one output's part of a Document: a server the stream
// goes to, or the local recording.
type Destination struct {
	Name          string  `json:"name"`     // e.g. rtmp://live.example.com/app/3f2a9c1e (see StreamID): never the key
	Protocol      string  `json:"protocol"` // rtmp|whip|srt|record
	State         string  `json:"state"`    // Starting, Live, Reconnecting or Stopped
	ActualBitrate int     `json:"actual_bitrate"`
	QueueDelayMS  float64 `json:"queue_delay_ms"`
	RTTMS         float64 `json:"rtt_ms"`
	Reconnects    int     `json:"reconnects"`
	DroppedFrames int64   `json:"dropped_frames"` // video dropped in its own send queue
	Lagging       bool    `json:"lagging"`        // it cannot keep up with the shared encoder: it sheds video to keyframes
	Error         string  `json:"error,omitempty"`
}

// take calls snapshot and makes the result safe to encode: Time set (UTC,
// to the millisecond) and no NaN or infinite numbers, which JSON cannot
// carry.
func take(snapshot func() Document) Document {
	d := snapshot()
	if d.Time.IsZero() {
		d.Time = time.Now()
	}
	d.Time = d.Time.UTC().Truncate(time.Millisecond)
	d.Destinations = slices.Clone(d.Destinations)
	fs := []*float64{&d.UptimeSeconds, &d.FPS, &d.QueueDelayMS, &d.RTTMS}
	for i := range d.Destinations {
		fs = append(fs, &d.Destinations[i].QueueDelayMS, &d.Destinations[i].RTTMS)
	}
	for _, f := range fs {
		if math.IsNaN(*f) || math.IsInf(*f, 0) {
			*f = 0
		}
	}
	return d
}

// StreamID returns a stable id for a destination URL that is safe to show
// and send: host, application and the first 8 hex digits of the SHA-256 of
// the whole URL, e.g. "live.example.com/app/3f2a9c1e" for
// rtmp://live.example.com/app/KEY. The last path element (the stream key)
// and the query string never appear in it; the first path element is kept
// as the application only when more follow it and it is short (a long one
// may be a key too, as WHIP services put it: /KEY/webRTC/publish). The hash
// tells two keys on the same application apart without revealing them.
func StreamID(raw string) string {
	sum := sha256.Sum256([]byte(raw))
	id := hex.EncodeToString(sum[:4])
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "stream/" + id
	}
	parts := []string{u.Host}
	if elems := strings.Split(strings.Trim(u.Path, "/"), "/"); len(elems) >= 2 && len(elems[0]) < 16 {
		parts = append(parts, elems[0])
	}
	return strings.Join(append(parts, id), "/")
}
