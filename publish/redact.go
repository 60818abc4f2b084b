package publish

import "strings"

// RedactedKey replaces a stream key in what is logged.
const RedactedKey = "<key>"

// Redact hides the stream key (the last path element) and any query string
// of a URL so it can be logged. It works on anything, also on strings that
// do not parse as URLs.
func Redact(raw string) string {
	s := raw
	if i := strings.IndexAny(s, "?#"); i >= 0 {
		s = s[:i]
	}
	scheme := ""
	if i := strings.Index(s, "://"); i >= 0 {
		scheme, s = s[:i+3], s[i+3:]
	}
	if at := strings.LastIndex(s, "@"); at >= 0 { // user:pass@host
		if slash := strings.Index(s, "/"); slash < 0 || at < slash {
			s = "<credentials>@" + s[at+1:]
		}
	}
	first := strings.Index(s, "/")
	if first < 0 {
		return scheme + s
	}
	s = strings.TrimRight(s, "/")
	last := strings.LastIndex(s, "/")
	if last < first { // nothing after the host
		return scheme + s
	}
	// The last element is hidden even when it is the only one: in a
	// mistyped URL it may well be the key.
	if last == first {
		return scheme + s[:first+1] + RedactedKey
	}
	// Long elements before it may be keys too (WHIP services put them
	// mid-path: /KEY/webRTC/publish).
	elems := strings.Split(s[first+1:last], "/")
	for i, e := range elems {
		if len(e) >= 16 {
			elems[i] = RedactedKey
		}
	}
	return scheme + s[:first+1] + strings.Join(elems, "/") + "/" + RedactedKey
}
