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

func TestParseAccessUnit(t *testing.T) {
	for _, tc := range []struct {
		name          string
		in            []byte
		want          [][]byte
		sps, pps      int
		picture, idr_ bool
	}{
		{"keyframe with headers in band (nvenc, qsv, vaapi)", annexB(true, sps, pps, sei, idr), [][]byte{sei, idr}, 1, 1, true, true},
		{"headers alone (v4l2m2m's first packet)", annexB(true, sps, pps), nil, 1, 1, false, false},
		{"p slice", annexB(false, []byte{0x09, 0xf0}, sli), [][]byte{sli}, 0, 0, true, false},
		{"an I slice that is not IDR", annexB(false, sps, pps, []byte{0x21, 0x88}), [][]byte{{0x21, 0x88}}, 1, 1, true, false},
		{"empty", nil, nil, 0, 0, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := bytes.Clone(tc.in)
			au := ParseAccessUnit(in)
			clear(in) // a driver reuses its buffer: what was kept must be copies
			got, err := SplitAVCC(au.AVCC)
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
			if len(au.SPS) != tc.sps || len(au.PPS) != tc.pps || au.Picture != tc.picture || au.IDR != tc.idr_ {
				t.Errorf("sps %d pps %d picture %v idr %v; want %d %d %v %v", len(au.SPS), len(au.PPS), au.Picture, au.IDR, tc.sps, tc.pps, tc.picture, tc.idr_)
			}
			if tc.sps > 0 && (!bytes.Equal(au.SPS[0], sps) || !bytes.Equal(au.PPS[0], pps)) {
				t.Errorf("parameter sets %x %x, want %x %x", au.SPS[0], au.PPS[0], sps, pps)
			}
		})
	}
}
