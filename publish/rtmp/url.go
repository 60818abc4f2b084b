// Package rtmp publishes packets to an RTMP or RTMPS server as FLV tags.
//
// It uses go-rtmp (github.com/yutopp/go-rtmp v0.0.7) for the handshake and
// the message and AMF0 codecs, and owns the chunk framing and the session:
// go-rtmp's client waits for replies without any timeout, does not report
// the publish's onStatus, and schedules writes on a goroutine of its own,
// which would hide when a packet's last byte reached the socket.
package rtmp

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/golive/golive/publish"
)

// ErrBadURL marks a URL that cannot be published to.
var ErrBadURL = publish.ErrBadURL

// Target is a parsed publish URL.
type Target struct {
	Scheme string // rtmp or rtmps
	Host   string // host name or address, without port
	Port   int
	App    string // "app" or "app/instance", with any query string
	Key    string // stream key (the last path element), with any query string
}

// ParseURL parses rtmp://host[:port]/app[/instance]/key (port 1935) and
// rtmps://… (port 443). Errors never contain the key.
func ParseURL(raw string) (Target, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Target{}, fmt.Errorf("%w: %s: not a URL", ErrBadURL, Redact(raw))
	}
	t := Target{Scheme: strings.ToLower(u.Scheme)}
	switch t.Scheme {
	case "rtmp":
		t.Port = 1935
	case "rtmps":
		t.Port = 443
	case "":
		return Target{}, fmt.Errorf("%w: %s: missing scheme (rtmp:// or rtmps://)", ErrBadURL, Redact(raw))
	default:
		return Target{}, fmt.Errorf("%w: %s: unsupported scheme %q (rtmp or rtmps)", ErrBadURL, Redact(raw), u.Scheme)
	}
	if u.User != nil {
		return Target{}, fmt.Errorf("%w: %s: user:password@ is not supported; put credentials in the key", ErrBadURL, Redact(raw))
	}
	t.Host = u.Hostname()
	if t.Host == "" {
		return Target{}, fmt.Errorf("%w: %s: missing host", ErrBadURL, Redact(raw))
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return Target{}, fmt.Errorf("%w: %s: bad port %q", ErrBadURL, Redact(raw), p)
		}
		t.Port = n
	}
	path := strings.Trim(u.EscapedPath(), "/")
	i := strings.LastIndex(path, "/")
	if i <= 0 || i == len(path)-1 {
		return Target{}, fmt.Errorf("%w: %s: want %s://host/app/streamkey", ErrBadURL, Redact(raw), t.Scheme)
	}
	app, key := path[:i], path[i+1:]
	if app, err = url.PathUnescape(app); err != nil {
		return Target{}, fmt.Errorf("%w: %s: bad app", ErrBadURL, Redact(raw))
	}
	if key, err = url.PathUnescape(key); err != nil {
		return Target{}, fmt.Errorf("%w: %s: bad stream key encoding", ErrBadURL, Redact(raw))
	}
	// A query string belongs to the stream name (Twitch's ?bandwidthtest=true,
	// tokens of CDNs), as ffmpeg and OBS send it.
	if u.RawQuery != "" {
		key += "?" + u.RawQuery
	}
	t.App, t.Key = app, key
	return t, nil
}

// Addr is host:port for dialing.
func (t Target) Addr() string { return net.JoinHostPort(t.Host, strconv.Itoa(t.Port)) }

// TCURL is the tcUrl sent in connect: the URL without the stream key.
func (t Target) TCURL() string {
	host := t.Host
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	def := (t.Scheme == "rtmp" && t.Port == 1935) || (t.Scheme == "rtmps" && t.Port == 443)
	if !def {
		host += ":" + strconv.Itoa(t.Port)
	}
	return t.Scheme + "://" + host + "/" + t.App
}

// String is the URL with the key redacted: safe to log.
func (t Target) String() string { return t.TCURL() + "/" + redacted }

const redacted = publish.RedactedKey

// Redact is publish.Redact: the URL without its key, safe to log.
var Redact = publish.Redact
