package srt

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golive/golive/publish"
)

// urlCases are shared by TestParseURL and FuzzParseURL's seed corpus.
var urlCases = []struct {
	raw  string
	want Target
	err  string // substring of the error; "" for success
}{
	{raw: "srt://live.example.com:9000", want: Target{Host: "live.example.com", Port: 9000}},
	{raw: "srt://127.0.0.1:9000?streamid=live/KEYKEY&passphrase=secretsecret&latency=2000",
		want: Target{Host: "127.0.0.1", Port: 9000, StreamID: "live/KEYKEY", Passphrase: "secretsecret", Latency: 2 * time.Second}},
	// A stream id in the access-control syntax, pasted with '#' unescaped.
	{raw: "srt://h:1?streamid=#!::r=live/KEYKEY,m=publish", want: Target{Host: "h", Port: 1, StreamID: "#!::r=live/KEYKEY,m=publish"}},
	{raw: "srt://h:1?streamid=%23!%3A%3Ar%3Dlive%2FKEYKEY%2Cm%3Dpublish", want: Target{Host: "h", Port: 1, StreamID: "#!::r=live/KEYKEY,m=publish"}},
	{raw: "SRT://[::1]:7000?mode=caller&transtype=live&pkt_size=1316&pbkeylen=32&passphrase=0123456789&conntimeo=1500&peeridletimeo=2500",
		want: Target{Host: "::1", Port: 7000, Passphrase: "0123456789", PBKeyLen: 32, ConnectTimeout: 1500 * time.Millisecond, PeerIdleTimeout: 2500 * time.Millisecond}},
	{raw: "srt://h:1?latency=120000000", err: "looks like microseconds"},
	{raw: "srt://h:1?latency=-5", err: "want milliseconds"},
	{raw: "srt://h:1?passphrase=short", err: "10..79 characters"},
	{raw: "srt://h:1?passphrase=secretsecret&passphrase=secretsecret", err: "given twice"},
	{raw: "srt://h:1?pbkeylen=20&passphrase=0123456789", err: "want 16, 24 or 32"},
	{raw: "srt://h:1?pbkeylen=16", err: "without passphrase"},
	{raw: "srt://h:1?mode=listener", err: "mode=caller"},
	{raw: "srt://h:1?pasphrase=secretsecret", err: `unknown parameter "pasphrase"`},
	{raw: "srt://h:1?pkt_size=1456", err: "1316-byte"},
	{raw: "srt://h?streamid=KEYKEY", err: "missing port"},
	{raw: "srt://:9000", err: "missing host"},
	{raw: "srt://h:99999", err: "bad port"},
	{raw: "srt://h:1/live/KEYKEY", err: "no path"},
	{raw: "srt://user:pw@h:1", err: "user@"},
	{raw: "rtmp://h:1/app/KEYKEY", err: "unsupported scheme"},
	{raw: "h:1", err: "scheme"},
	{raw: "", err: "scheme"},
}

func TestParseURL(t *testing.T) {
	for _, tc := range urlCases {
		got, err := ParseURL(tc.raw)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.Is(err, publish.ErrBadURL) {
				t.Errorf("ParseURL(%q) = %v, want ErrBadURL with %q", tc.raw, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseURL(%q) = %+v, %v; want %+v", tc.raw, got, err, tc.want)
		}
		if s := got.String(); strings.Contains(s, "KEYKEY") || strings.Contains(s, "secretsecret") || strings.Contains(s, "0123456789") {
			t.Errorf("String() = %q shows a secret", s)
		}
	}
}

// FuzzParseURL: no panic, and no error (nor String) shows the stream id
// or the passphrase.
func FuzzParseURL(f *testing.F) {
	for _, tc := range urlCases {
		f.Add(tc.raw)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		tg, err := ParseURL("srt://h:1?streamid=SECRETSTREAM&passphrase=SECRETPASS&" + raw)
		if err != nil {
			if strings.Contains(err.Error(), "SECRET") {
				t.Fatalf("error shows a secret: %v", err)
			}
			return
		}
		if strings.Contains(tg.String(), "SECRET") {
			t.Fatalf("String() = %q shows a secret", tg.String())
		}
		ParseURL(raw)
	})
}

func TestRejectReason(t *testing.T) {
	for _, tc := range []struct {
		msg    string
		reason int
		ok     bool
		is     error
	}{
		{"connection rejected: REJECT (vi)", 10, true, publish.ErrUnauthorized}, // 1010: BADSECRET, as libsrt 1.5.1 sends it
		{"connection rejected: REJECT (vj)", 11, true, publish.ErrUnauthorized}, // UNSECURE
		{"connection rejected: REJECT (2b1)", 1401, true, publish.ErrUnauthorized},
		{"connection rejected: REJECT (2b9)", 1409, true, publish.ErrBusy},
		{"connection rejected: REJECT (vd)", 5, true, publish.ErrConnect}, // BACKLOG
		{"connection timeout. server didn't respond", 0, false, publish.ErrConnect},
		{"connection rejected: REJECT (zz", 0, false, publish.ErrConnect},
	} {
		reason, ok := rejectReason(errors.New(tc.msg))
		if reason != tc.reason || ok != tc.ok {
			t.Errorf("rejectReason(%q) = %d, %v; want %d, %v", tc.msg, reason, ok, tc.reason, tc.ok)
		}
		if err := dialError(Target{Host: "h", Port: 1}, errors.New(tc.msg)); !errors.Is(err, tc.is) {
			t.Errorf("dialError(%q) = %v, want %v", tc.msg, err, tc.is)
		}
	}
}
