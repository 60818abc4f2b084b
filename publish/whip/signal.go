// Package whip publishes packets over WebRTC to a WHIP endpoint (RFC 9725)
// with pion/webrtc v4: H.264 (packetization-mode 1, no B-frames) and Opus,
// NACK/RTX, RTCP reports, TWCC and the GCC bandwidth estimate.
//
// The signalling is one HTTP exchange: the SDP offer is POSTed (after ICE
// gathering, bounded by GatherTimeout), the endpoint answers 201 Created
// with the answer and the session's URL in Location; DELETE on that URL
// ends the session. Candidates found after the POST are trickled with
// PATCH when the endpoint says it takes them (Accept-Patch).
package whip

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/golive/golive/publish"
)

// Endpoint parses a WHIP URL: whip://host[:port]/path (plain HTTP),
// whips://host/path (HTTPS), or, when asWHIP is set (--protocol whip),
// http:// and https:// URLs. Errors never contain the path's key.
func Endpoint(raw string, asWHIP bool) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: not a URL", publish.ErrBadURL, publish.Redact(raw))
	}
	switch strings.ToLower(u.Scheme) {
	case "whip":
		u.Scheme = "http"
	case "whips":
		u.Scheme = "https"
	case "http", "https":
		if !asWHIP {
			return nil, fmt.Errorf("%w: %s: an http(s) URL needs --protocol whip", publish.ErrBadURL, publish.Redact(raw))
		}
		u.Scheme = strings.ToLower(u.Scheme)
	default:
		return nil, fmt.Errorf("%w: %s: not a WHIP URL (whip://, whips://, or https:// with --protocol whip)", publish.ErrBadURL, publish.Redact(raw))
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("%w: %s: missing host", publish.ErrBadURL, publish.Redact(raw))
	}
	if u.User != nil {
		return nil, fmt.Errorf("%w: %s: user:password@ is not supported; use --token", publish.ErrBadURL, publish.Redact(raw))
	}
	return u, nil
}

// IsWHIP says whether raw is to be published over WHIP.
func IsWHIP(raw, protocol string) bool {
	if strings.EqualFold(protocol, "whip") {
		return true
	}
	scheme, _, _ := strings.Cut(raw, "://")
	return strings.EqualFold(scheme, "whip") || strings.EqualFold(scheme, "whips")
}

// ParseICEServer parses --ice-server: stun:host[:port],
// turn[s]:[user:password@]host[:port][?transport=udp|tcp] (the "//" after
// the scheme is allowed).
func ParseICEServer(s string) (webrtc.ICEServer, error) {
	scheme, rest, ok := strings.Cut(s, ":")
	scheme = strings.ToLower(scheme)
	if !ok || (scheme != "stun" && scheme != "stuns" && scheme != "turn" && scheme != "turns") {
		return webrtc.ICEServer{}, fmt.Errorf("ice server %q: want stun:host[:port] or turn:user:password@host[:port]", redactICE(s))
	}
	rest = strings.TrimPrefix(rest, "//")
	var srv webrtc.ICEServer
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		user, pass, _ := strings.Cut(rest[:at], ":")
		u, err1 := url.PathUnescape(user)
		p, err2 := url.PathUnescape(pass)
		if err1 != nil || err2 != nil {
			return webrtc.ICEServer{}, fmt.Errorf("ice server %q: bad credentials", redactICE(s))
		}
		srv.Username, srv.Credential = u, p
		rest = rest[at+1:]
	}
	hostport, _, _ := strings.Cut(rest, "?")
	if hostport == "" || strings.ContainsAny(hostport, "/ ") {
		return webrtc.ICEServer{}, fmt.Errorf("ice server %q: missing or bad host", redactICE(s))
	}
	srv.URLs = []string{scheme + ":" + rest}
	if (scheme == "turn" || scheme == "turns") && srv.Username == "" {
		return webrtc.ICEServer{}, fmt.Errorf("ice server %q: TURN needs user:password@", redactICE(s))
	}
	return srv, nil
}

// redactICE hides a TURN password.
func redactICE(s string) string {
	if at := strings.LastIndex(s, "@"); at >= 0 {
		if c := strings.LastIndex(s[:at], ":"); c >= 0 && c > strings.Index(s, ":") {
			return s[:c+1] + "<password>" + s[at:]
		}
	}
	return s
}

// parseLinks reads the ICE servers of a response's Link headers (RFC 9725
// section 4.6):
//
//	Link: <turn:turn.example.net?transport=udp>; rel="ice-server"; username="u"; credential="p"
//
// Several may share one header, separated by commas.
func parseLinks(h http.Header) []webrtc.ICEServer {
	var out []webrtc.ICEServer
	for _, line := range h.Values("Link") {
		for _, link := range splitLinks(line) {
			link = strings.TrimSpace(link)
			if !strings.HasPrefix(link, "<") {
				continue
			}
			end := strings.Index(link, ">")
			if end < 0 {
				continue
			}
			srv := webrtc.ICEServer{URLs: []string{link[1:end]}}
			isICE := false
			for _, param := range strings.Split(link[end+1:], ";") {
				k, v, ok := strings.Cut(strings.TrimSpace(param), "=")
				if !ok {
					continue
				}
				v = strings.Trim(strings.TrimSpace(v), `"`)
				switch strings.ToLower(strings.TrimSpace(k)) {
				case "rel":
					isICE = strings.EqualFold(v, "ice-server")
				case "username":
					srv.Username = v
				case "credential":
					srv.Credential = v
				}
			}
			if isICE {
				out = append(out, srv)
			}
		}
	}
	return out
}

// splitLinks splits a Link header at the commas between links (not those
// inside quotes or <>).
func splitLinks(s string) []string {
	var out []string
	depth, quoted, start := 0, false, 0
	for i, r := range s {
		switch {
		case r == '"':
			quoted = !quoted
		case quoted:
		case r == '<':
			depth++
		case r == '>':
			depth--
		case r == ',' && depth == 0:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// signaller talks HTTP to the endpoint.
type signaller struct {
	client    *http.Client
	endpoint  *url.URL
	token     string
	userAgent string
}

// HTTPError is an endpoint's refusal.
type HTTPError struct {
	Status int
	Text   string // the status line's text and the start of the body
}

func (e *HTTPError) Error() string { return fmt.Sprintf("endpoint answered %s", e.Text) }

func newSignaller(endpoint *url.URL, token, userAgent string, timeout time.Duration, client *http.Client) *signaller {
	if client == nil {
		d := &net.Dialer{Timeout: timeout}
		client = &http.Client{Transport: &http.Transport{
			Proxy: http.ProxyFromEnvironment, DialContext: d.DialContext,
			TLSHandshakeTimeout: timeout, ResponseHeaderTimeout: 0, MaxIdleConnsPerHost: 2,
		}}
	}
	s := &signaller{client: client, endpoint: endpoint, token: token, userAgent: userAgent}
	c := *client
	// Follow 307/308 with the method and body (net/http does), and keep the
	// token where it is safe: same host, or HTTPS.
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= 5 {
			return errors.New("too many redirects")
		}
		if s.token != "" && (req.URL.Scheme == "https" || req.URL.Host == via[0].URL.Host) {
			req.Header.Set("Authorization", "Bearer "+s.token)
		}
		return nil
	}
	s.client = &c
	return s
}

// offerResult is what the POST brought back.
type offerResult struct {
	answer   string
	resource *url.URL // the session's URL, resolved; nil if none given
	etag     string
	trickle  bool // the endpoint takes PATCHed candidates
	servers  []webrtc.ICEServer
}

func (s *signaller) do(ctx context.Context, method string, u *url.URL, ctype string, body []byte, hdr map[string]string) (*http.Response, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return nil, nil, err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if s.token != "" {
		req.Header.Set("Authorization", "Bearer "+s.token)
	}
	if s.userAgent != "" {
		req.Header.Set("User-Agent", s.userAgent)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp, b, err
}

// offer POSTs the SDP offer and reads the answer. 401/403 are
// publish.ErrUnauthorized; other refusals an *HTTPError wrapped in
// publish.ErrConnect, as are network errors.
func (s *signaller) offer(ctx context.Context, sdp string) (*offerResult, error) {
	resp, body, err := s.do(ctx, http.MethodPost, s.endpoint, "application/sdp", []byte(sdp), nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", publish.ErrConnect, publish.Redact(s.endpoint.String()), netCause(err))
	}
	if err := statusErr(resp, body); err != nil {
		return nil, err
	}
	if !strings.Contains(string(body), "v=0") {
		return nil, fmt.Errorf("%w: %s: %d with no SDP answer", publish.ErrConnect, publish.Redact(s.endpoint.String()), resp.StatusCode)
	}
	r := &offerResult{answer: string(body), etag: resp.Header.Get("ETag"), servers: parseLinks(resp.Header)}
	if loc := resp.Header.Get("Location"); loc != "" {
		// Relative to the URL that answered (after any redirect).
		if l, err := resp.Request.URL.Parse(loc); err == nil {
			r.resource = l
		}
	}
	for _, v := range resp.Header.Values("Accept-Patch") {
		if strings.Contains(strings.ToLower(v), "application/trickle-ice-sdpfrag") {
			r.trickle = true
		}
	}
	return r, nil
}

func statusErr(resp *http.Response, body []byte) error {
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	text := resp.Status
	if b := strings.TrimSpace(string(body)); b != "" && len(b) < 200 && !strings.ContainsAny(b, "<\n") {
		text += ": " + b
	}
	herr := &HTTPError{Status: resp.StatusCode, Text: text}
	where := publish.Redact(resp.Request.URL.String())
	switch resp.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden:
		return fmt.Errorf("%w: %s: %w (check --token)", publish.ErrUnauthorized, where, herr)
	default:
		return fmt.Errorf("%w: %s: %w", publish.ErrConnect, where, herr)
	}
}

// patch sends a trickle-ice-sdpfrag to the session; it returns the
// endpoint's answer fragment (for an ICE restart) and its new ETag.
func (s *signaller) patch(ctx context.Context, resource *url.URL, etag, frag string) (string, string, error) {
	hdr := map[string]string{}
	if etag != "" {
		hdr["If-Match"] = etag
	}
	resp, body, err := s.do(ctx, http.MethodPatch, resource, "application/trickle-ice-sdpfrag", []byte(frag), hdr)
	if err != nil {
		return "", "", err
	}
	if err := statusErr(resp, body); err != nil {
		return "", "", err
	}
	if e := resp.Header.Get("ETag"); e != "" {
		etag = e
	}
	return string(body), etag, nil
}

// remove DELETEs the session.
func (s *signaller) remove(ctx context.Context, resource *url.URL) error {
	resp, body, err := s.do(ctx, http.MethodDelete, resource, "", nil, nil)
	if err != nil {
		return err
	}
	return statusErr(resp, body)
}

// netCause shortens a client error to what a user can act on.
func netCause(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return errors.New("timed out")
	}
	return err
}
