package h264

import (
	"bytes"
	"testing"
)

var (
	sps = []byte{0x67, 0x64, 0x00, 0x1f, 0xac, 0xd9}
	pps = []byte{0x68, 0xeb, 0xe3, 0xcb}
	sei = []byte{0x06, 0x05, 0x01, 0x80}
	idr = []byte{0x65, 0x88, 0x84, 0x00, 0x00, 0x03, 0x00, 0x10}
	sli = []byte{0x41, 0x9a, 0x02}
)

func annexB(long bool, nals ...[]byte) []byte {
	var b []byte
	for i, n := range nals {
		if long || i == 0 {
			b = append(b, 0, 0, 0, 1)
		} else {
			b = append(b, 0, 0, 1)
		}
		b = append(b, n...)
	}
	return b
}

func TestAnnexBToAVCC(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
		want [][]byte
		key  bool
	}{
		{"keyframe with headers, 4-byte codes", annexB(true, sps, pps, sei, idr), [][]byte{sei, idr}, true},
		{"keyframe, mixed 3/4-byte codes", annexB(false, sps, pps, idr), [][]byte{idr}, true},
		{"p slice", annexB(false, sli), [][]byte{sli}, false},
		{"aud dropped", annexB(false, []byte{0x09, 0xf0}, sli), [][]byte{sli}, false},
		{"empty", nil, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := AnnexBToAVCC(tc.in)
			got, err := SplitAVCC(out)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d NALs, want %d", len(got), len(tc.want))
			}
			for i := range got {
				if !bytes.Equal(got[i], tc.want[i]) {
					t.Errorf("NAL %d = %x, want %x", i, got[i], tc.want[i])
				}
			}
			if IsKeyframe(out) != tc.key {
				t.Errorf("IsKeyframe = %v, want %v", !tc.key, tc.key)
			}
		})
	}
}

func TestConfigRecordRoundTrip(t *testing.T) {
	s, p := ParameterSets(annexB(true, sps, pps, idr))
	rec, err := ConfigRecord(s, p)
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{1, 0x64, 0x00, 0x1f, 0xff, 0xe1, 0, 6}
	if !bytes.HasPrefix(rec, want) {
		t.Fatalf("record starts % x, want % x", rec[:8], want)
	}
	s2, p2, err := ParseConfigRecord(rec)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(s2[0], sps) || !bytes.Equal(p2[0], pps) {
		t.Fatalf("round trip: sps %x pps %x", s2[0], p2[0])
	}
	if _, err := ConfigRecord(nil, p); err == nil {
		t.Error("ConfigRecord without SPS: no error")
	}
}

func FuzzSplit(f *testing.F) {
	f.Add(annexB(true, sps, pps, idr))
	f.Add([]byte{0, 0, 1})
	f.Add([]byte{0, 0, 0, 9, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = AnnexBToAVCC(b)
		_, _ = SplitAVCC(b)
		_, _, _ = ParseConfigRecord(b)
	})
}
