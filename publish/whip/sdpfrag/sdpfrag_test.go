package sdpfrag

import (
	"strings"
	"testing"
)

const offer = "v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\n" +
	"m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=ice-ufrag:OLDU\r\na=ice-pwd:OLDP\r\na=mid:0\r\n" +
	"a=candidate:1 1 udp 2130706431 10.0.0.1 5000 typ host\r\na=end-of-candidates\r\n" +
	"m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=ice-ufrag:OLDU\r\na=ice-pwd:OLDP\r\na=mid:1\r\n" +
	"a=candidate:1 1 udp 2130706431 10.0.0.1 5000 typ host\r\n"

func TestParseAndApply(t *testing.T) {
	f := Parse(offer)
	if f.Ufrag != "OLDU" || f.Pwd != "OLDP" || f.Mid != "0" || len(f.Candidates) != 1 || !f.End {
		t.Fatalf("Parse: %+v", f)
	}
	nf := Fragment{Ufrag: "NEWU", Pwd: "NEWP", Mid: "0", Candidates: []string{"candidate:2 1 udp 1 127.0.0.1 6000 typ host"}}
	got := Apply(offer, nf)
	if strings.Contains(got, "OLD") || strings.Count(got, "a=ice-ufrag:NEWU") != 2 || strings.Contains(got, "10.0.0.1") {
		t.Fatalf("Apply kept old ICE details:\n%s", got)
	}
	back := Parse(got)
	if back.Ufrag != "NEWU" || len(back.Candidates) != 1 || back.Candidates[0] != nf.Candidates[0] {
		t.Fatalf("round trip: %+v", back)
	}
	// The PATCH body is itself parseable.
	if p := Parse(nf.String()); p.Ufrag != "NEWU" || p.Pwd != "NEWP" || p.Mid != "0" || len(p.Candidates) != 1 {
		t.Fatalf("fragment %q parses to %+v", nf.String(), p)
	}
}
