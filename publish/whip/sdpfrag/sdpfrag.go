// Package sdpfrag reads and applies SDP fragments
// (application/trickle-ice-sdpfrag, RFC 8840) as WHIP uses them over
// PATCH: trickled candidates and ICE restarts.
package sdpfrag

import (
	"fmt"
	"strings"
)

// Fragment is the ICE part of a description: credentials and candidates
// (lines without "a=", e.g. "candidate:1 1 udp …").
type Fragment struct {
	Ufrag, Pwd, Mid string
	Candidates      []string
	End             bool // a=end-of-candidates
}

// Parse reads the ICE attributes of an SDP or a fragment. Credentials and
// the mid come from the first media section that has them; candidates
// from all (bundled sections repeat them).
func Parse(s string) Fragment {
	var f Fragment
	seen := map[string]bool{}
	for _, l := range lines(s) {
		a, ok := strings.CutPrefix(l, "a=")
		if !ok {
			continue
		}
		switch {
		case strings.HasPrefix(a, "ice-ufrag:") && f.Ufrag == "":
			f.Ufrag = strings.TrimPrefix(a, "ice-ufrag:")
		case strings.HasPrefix(a, "ice-pwd:") && f.Pwd == "":
			f.Pwd = strings.TrimPrefix(a, "ice-pwd:")
		case strings.HasPrefix(a, "mid:") && f.Mid == "":
			f.Mid = strings.TrimPrefix(a, "mid:")
		case strings.HasPrefix(a, "candidate:") && !seen[a]:
			seen[a] = true
			f.Candidates = append(f.Candidates, a)
		case a == "end-of-candidates":
			f.End = true
		}
	}
	return f
}

// String is the fragment as a PATCH body.
func (f Fragment) String() string {
	var b strings.Builder
	if f.Ufrag != "" {
		fmt.Fprintf(&b, "a=ice-ufrag:%s\r\na=ice-pwd:%s\r\n", f.Ufrag, f.Pwd)
	}
	fmt.Fprintf(&b, "m=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:%s\r\n", f.Mid)
	for _, c := range f.Candidates {
		fmt.Fprintf(&b, "a=%s\r\n", c)
	}
	if f.End {
		b.WriteString("a=end-of-candidates\r\n")
	}
	return b.String()
}

// Apply returns sdp with f's credentials in every media section and f's
// candidates (replacing the old ones) in the first: what the peer's
// description would have been had it been made with them.
func Apply(sdp string, f Fragment) string {
	var out []string
	media := 0
	for _, l := range lines(sdp) {
		switch {
		case strings.HasPrefix(l, "m="):
			media++
		case strings.HasPrefix(l, "a=candidate:"), l == "a=end-of-candidates":
			continue
		case strings.HasPrefix(l, "a=ice-ufrag:"):
			l = "a=ice-ufrag:" + f.Ufrag
		case strings.HasPrefix(l, "a=ice-pwd:"):
			l = "a=ice-pwd:" + f.Pwd
			if media == 1 {
				out = append(out, l)
				for _, c := range f.Candidates {
					out = append(out, "a="+c)
				}
				out = append(out, "a=end-of-candidates")
				continue
			}
		}
		out = append(out, l)
	}
	return strings.Join(out, "\r\n") + "\r\n"
}

func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimRight(l, "\r"); l != "" {
			out = append(out, l)
		}
	}
	return out
}
