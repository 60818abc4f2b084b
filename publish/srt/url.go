// Package srt publishes packets to an SRT listener in caller mode, as
// MPEG-TS (H.264 + AAC) in 1316-byte messages (seven TS packets each).
//
// It uses the pure-Go github.com/datarhei/gosrt (v0.9.0) for the protocol:
// unlike libavformat's libsrt protocol it exposes the connection's
// statistics (RTT, send loss, the bytes in the send buffer that the
// receiver has not acknowledged), which the adaptive bitrate controller
// reads as it reads the kernel's unsent bytes for RTMP. The TS muxing is
// libavformat's, through publish/mux. Tested against libsrt 1.5.1 (ffmpeg
// as the listener).
package srt

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/golive/golive/publish"
)

// Limits of libsrt (and gosrt) on what the URL may carry.
const (
	minPassphrase = 10
	maxPassphrase = 79
	maxStreamID   = 512
	// maxLatency: anything above is taken for microseconds, ffmpeg's unit
	// for the same parameter, and refused rather than guessed.
	maxLatency = 60 * time.Second
)

// Target is a parsed srt:// URL.
type Target struct {
	Host string // host name or address, without port
	Port int
	// StreamID (SRTO_STREAMID) says what to publish, e.g. "live/key" or
	// "#!::r=live/key,m=publish"; Passphrase (SRTO_PASSPHRASE) turns on
	// AES encryption. Both are secrets: String never shows them.
	StreamID, Passphrase string
	PBKeyLen             int           // AES key length in bytes: 16, 24 or 32 (0: 16)
	Latency              time.Duration // SRTO_LATENCY (0: libsrt's 120 ms)
	ConnectTimeout       time.Duration // conntimeo (0: the DialConfig's)
	PeerIdleTimeout      time.Duration // peeridletimeo (0: the DialConfig's)
}

// ParseURL parses srt://host:port?streamid=…&passphrase=…&latency=MS.
//
// Parameters, as srt-live-transmit and most platforms write them:
// streamid, passphrase (10..79 characters), pbkeylen (16, 24, 32),
// latency, conntimeo and peeridletimeo in milliseconds, mode (caller
// only). ffmpeg's own `latency` is in microseconds: a value that only
// makes sense as microseconds (a minute or more) is refused, saying so.
// A '#' in the stream id may be left unescaped (#!::r=live/key,m=publish,
// as platforms print it). Unknown parameters are refused, so that a
// misspelt passphrase is not silently dropped. Errors never contain the
// stream id or the passphrase.
func ParseURL(raw string) (Target, error) {
	safe := Redact(raw)
	bad := func(format string, a ...any) (Target, error) {
		return Target{}, fmt.Errorf("%w: %s: %s", publish.ErrBadURL, safe, fmt.Sprintf(format, a...))
	}
	// The query runs to the end, '#' included: a stream id of the form
	// #!::… is often pasted unescaped.
	base, query, _ := strings.Cut(raw, "?")
	if strings.Contains(base, "#") {
		return bad("not a URL")
	}
	u, err := url.Parse(base)
	if err != nil {
		return bad("not a URL")
	}
	switch strings.ToLower(u.Scheme) {
	case "srt":
	case "":
		return bad("missing scheme (srt://)")
	default:
		return bad("unsupported scheme %q (srt)", u.Scheme)
	}
	if u.User != nil {
		return bad("user@ is not supported: give streamid= and passphrase=")
	}
	if p := strings.Trim(u.Path, "/"); p != "" {
		return bad("an SRT URL has no path: give the stream as ?streamid=")
	}
	t := Target{Host: u.Hostname()}
	if t.Host == "" {
		return bad("missing host")
	}
	if u.Port() == "" {
		return bad("missing port (srt://host:port)")
	}
	if t.Port, err = strconv.Atoi(u.Port()); err != nil || t.Port < 1 || t.Port > 65535 {
		return bad("bad port %q", u.Port())
	}
	ms := func(key, v string) (time.Duration, error) {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%s=%q: want milliseconds", key, v)
		}
		return time.Duration(n) * time.Millisecond, nil
	}
	seen := map[string]bool{}
	for _, kv := range strings.Split(query, "&") {
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		key, err := url.QueryUnescape(k)
		if err != nil {
			return bad("bad query parameter")
		}
		key = strings.ToLower(key)
		if v, err = url.QueryUnescape(v); err != nil {
			return bad("bad %s encoding", key)
		}
		if seen[key] {
			return bad("%s given twice", key)
		}
		seen[key] = true
		switch key {
		case "streamid":
			if len(v) > maxStreamID {
				return bad("streamid longer than %d bytes", maxStreamID)
			}
			t.StreamID = v
		case "passphrase":
			if len(v) < minPassphrase || len(v) > maxPassphrase {
				return bad("passphrase must be %d..%d characters (it has %d)", minPassphrase, maxPassphrase, len(v))
			}
			t.Passphrase = v
		case "pbkeylen":
			switch v {
			case "16", "24", "32":
				t.PBKeyLen, _ = strconv.Atoi(v)
			default:
				return bad("pbkeylen=%q: want 16, 24 or 32", v)
			}
		case "latency":
			if t.Latency, err = ms(key, v); err != nil {
				return bad("%v", err)
			}
			if t.Latency >= maxLatency {
				return bad("latency=%s is in milliseconds here (as in srt-live-transmit); %s ms looks like microseconds, ffmpeg's unit: write latency=%d",
					v, v, t.Latency/time.Millisecond/1000)
			}
		case "conntimeo":
			if t.ConnectTimeout, err = ms(key, v); err != nil {
				return bad("%v", err)
			}
		case "peeridletimeo":
			if t.PeerIdleTimeout, err = ms(key, v); err != nil {
				return bad("%v", err)
			}
		case "mode":
			if v != "caller" && v != "client" {
				return bad("mode=%q: golive calls the server (mode=caller); listener and rendezvous are not supported", v)
			}
		case "transtype":
			if v != "live" {
				return bad("transtype=%q: only live", v)
			}
		case "pkt_size", "payload_size", "payloadsize":
			if v != "1316" {
				return bad("%s=%q: golive sends 1316-byte messages", key, v)
			}
		default:
			return bad("unknown parameter %q (known: streamid, passphrase, pbkeylen, latency, conntimeo, peeridletimeo, mode)", key)
		}
	}
	if t.PBKeyLen != 0 && t.Passphrase == "" {
		return bad("pbkeylen without passphrase")
	}
	return t, nil
}

// Addr is host:port for dialing.
func (t Target) Addr() string { return net.JoinHostPort(t.Host, strconv.Itoa(t.Port)) }

// String is the URL without its secrets: safe to log. It says whether a
// stream id and a passphrase are set, not what they are.
func (t Target) String() string {
	s := "srt://" + t.Addr()
	var q []string
	if t.StreamID != "" {
		q = append(q, "streamid="+publish.RedactedKey)
	}
	if t.Passphrase != "" {
		q = append(q, "passphrase=<secret>")
	}
	if t.Latency > 0 {
		q = append(q, "latency="+strconv.FormatInt(int64(t.Latency/time.Millisecond), 10))
	}
	if len(q) > 0 {
		s += "?" + strings.Join(q, "&")
	}
	return s
}

// Redact is publish.Redact: the URL without its query string (the stream
// id and the passphrase), safe to log.
var Redact = publish.Redact
