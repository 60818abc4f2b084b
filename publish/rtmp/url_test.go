package rtmp

import (
	"errors"
	"strings"
	"testing"
)

// urlVectors are shared by the table test and the fuzz target.
var urlVectors = []struct {
	in   string
	want Target
	err  string
}{
	{in: "rtmp://live.example.com/app/SECRETKEY", want: Target{"rtmp", "live.example.com", 1935, "app", "SECRETKEY"}},
	{in: "rtmp://a.rtmp.youtube.com/live2/abcd-efgh-ijkl-mnop-qrst", want: Target{"rtmp", "a.rtmp.youtube.com", 1935, "live2", "abcd-efgh-ijkl-mnop-qrst"}},
	{in: "rtmps://a.rtmps.youtube.com:443/live2/SECRETKEY", want: Target{"rtmps", "a.rtmps.youtube.com", 443, "live2", "SECRETKEY"}},
	{in: "rtmps://live.cloudflare.com/live/SECRETKEY", want: Target{"rtmps", "live.cloudflare.com", 443, "live", "SECRETKEY"}},
	{in: "rtmp://live.twitch.tv/app/live_123_SECRETKEY?bandwidthtest=true", want: Target{"rtmp", "live.twitch.tv", 1935, "app", "live_123_SECRETKEY?bandwidthtest=true"}},
	{in: "RTMP://127.0.0.1:19350/app/inst/SECRETKEY", want: Target{"rtmp", "127.0.0.1", 19350, "app/inst", "SECRETKEY"}},
	{in: "rtmp://[::1]:1936/live/SECRETKEY", want: Target{"rtmp", "::1", 1936, "live", "SECRETKEY"}},
	{in: "http://example.com/app/SECRETKEY", err: `unsupported scheme "http"`},
	{in: "srt://example.com/app/SECRETKEY", err: "unsupported scheme"},
	{in: "example.com/app/SECRETKEY", err: "missing scheme"},
	{in: "rtmp:///app/SECRETKEY", err: "missing host"},
	{in: "rtmp://host/SECRETKEY", err: "want rtmp://host/app/streamkey"},
	{in: "rtmp://host/app/", err: "want rtmp://host/app/streamkey"},
	{in: "rtmp://host:99999/app/SECRETKEY", err: "bad port"},
	{in: "rtmp://user:SECRETKEY@host/app/key", err: "not supported"},
	{in: "rtmp://host/app/%zzSECRETKEY", err: "not a URL"},
}

func TestParseURL(t *testing.T) {
	for _, tc := range urlVectors {
		got, err := ParseURL(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.Is(err, ErrBadURL) {
				t.Errorf("ParseURL(%q) err = %v, want %q", tc.in, err, tc.err)
			}
			if err != nil && strings.Contains(err.Error(), "SECRETKEY") {
				t.Errorf("ParseURL(%q) error leaks the key: %v", tc.in, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseURL(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
			continue
		}
		if s := got.String() + got.TCURL(); strings.Contains(s, "SECRETKEY") {
			t.Errorf("String/TCURL leak the key: %s", s)
		}
	}
}

func TestTCURL(t *testing.T) {
	for in, want := range map[string]string{
		"rtmp://h/app/k":          "rtmp://h/app",
		"rtmp://h:1935/app/k":     "rtmp://h/app",
		"rtmp://h:1936/a/i/k":     "rtmp://h:1936/a/i",
		"rtmps://h/app/k":         "rtmps://h/app",
		"rtmps://h:8443/app/k":    "rtmps://h:8443/app",
		"rtmp://[::1]:1936/app/k": "rtmp://[::1]:1936/app",
	} {
		tg, err := ParseURL(in)
		if err != nil || tg.TCURL() != want {
			t.Errorf("TCURL(%s) = %q, %v; want %q", in, tg.TCURL(), err, want)
		}
	}
}

func FuzzParseURL(f *testing.F) {
	for _, tc := range urlVectors {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tg, err := ParseURL(s)
		if err == nil && (tg.Key == "" || tg.App == "" || tg.Port == 0) {
			t.Fatalf("ParseURL(%q) = %+v without error", s, tg)
		}
		if err == nil && strings.Contains(tg.String(), tg.Key) && tg.Key != "" && !strings.Contains(tg.TCURL(), tg.Key) {
			t.Fatalf("String() leaks key %q", tg.Key)
		}
		_ = Redact(s)
	})
}
