package rtmp

import (
	"bytes"
	"testing"
)

// TestChunkRoundTrip: what the writer frames, the reader (and so any RTMP
// server) reassembles, for small, exactly-one-chunk, multi-chunk and
// extended-timestamp messages.
func TestChunkRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		size int
		ts   uint32
		n    int
	}{
		{"small", 128, 0, 10},
		{"exactly one chunk", 128, 40, 128},
		{"three chunks", 128, 1000, 300},
		{"big chunk size", 4096, 33, 100000},
		{"extended timestamp", 128, 0x1000000, 300},
		{"extended, big", 4096, 0xfffffffe, 9000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			payload := make([]byte, tc.n)
			for i := range payload {
				payload[i] = byte(i * 7)
			}
			w := chunkWriter{size: tc.size}
			var wire bytes.Buffer
			wire.Write(w.frame(csidVideo, typeVideo, 1, tc.ts, videoHeader(nil, true, avcNALU, 0), payload))
			wire.Write(w.frame(csidAudio, typeAudio, 1, tc.ts+21, audioHeader(nil, aacRaw), payload[:tc.n/2]))
			r := newChunkReader(&wire)
			r.size = tc.size
			m, err := r.next()
			if err != nil {
				t.Fatal(err)
			}
			if m.typ != typeVideo || m.streamID != 1 || m.ts != tc.ts || !bytes.Equal(m.payload[5:], payload) {
				t.Fatalf("video: type %d stream %d ts %d len %d", m.typ, m.streamID, m.ts, len(m.payload))
			}
			m, err = r.next()
			if err != nil {
				t.Fatal(err)
			}
			if m.typ != typeAudio || m.ts != tc.ts+21 || !bytes.Equal(m.payload[2:], payload[:tc.n/2]) {
				t.Fatalf("audio: type %d ts %d len %d", m.typ, m.ts, len(m.payload))
			}
		})
	}
}

// TestFLVHeaders pins the FLV tag header bytes (spec E.4.2, E.4.3).
func TestFLVHeaders(t *testing.T) {
	for _, tc := range []struct {
		got, want []byte
	}{
		{videoHeader(nil, true, avcSeqHeader, 0), []byte{0x17, 0, 0, 0, 0}},
		{videoHeader(nil, false, avcNALU, 66), []byte{0x27, 1, 0, 0, 66}},
		{videoHeader(nil, true, avcNALU, -33), []byte{0x17, 1, 0xff, 0xff, 0xdf}},
		{audioHeader(nil, aacSeqHeader), []byte{0xaf, 0}},
		{audioHeader(nil, aacRaw), []byte{0xaf, 1}},
		// Sequence headers as sent: AVC with its record, AAC with its ASC.
		{append(videoHeader(nil, true, avcSeqHeader, 0), 1, 0x64, 0, 0x1f), []byte{0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f}},
		{append(audioHeader(nil, aacSeqHeader), 0x11, 0x90), []byte{0xaf, 0, 0x11, 0x90}},
	} {
		if !bytes.Equal(tc.got, tc.want) {
			t.Errorf("% x, want % x", tc.got, tc.want)
		}
	}
}

func BenchmarkChunkFrame(b *testing.B) {
	w := chunkWriter{size: 4096}
	payload := make([]byte, 12000) // a 720p P-frame at 2.5 Mbit/s
	hdr := make([]byte, 0, 5)
	b.ReportAllocs()
	b.SetBytes(int64(len(payload)))
	for n := 0; n < b.N; n++ {
		w.frame(csidVideo, typeVideo, 1, uint32(n), videoHeader(hdr[:0], false, avcNALU, 0), payload)
	}
}
