package rtmp

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Chunk stream IDs: one per kind of message, as ffmpeg and OBS use them.
const (
	csidControl = 2
	csidCommand = 3
	csidAudio   = 4
	csidData    = 5
	csidVideo   = 6
)

// Message type IDs (RTMP spec 5.4, 7.1).
const (
	typeSetChunkSize  = 1
	typeAbort         = 2
	typeAck           = 3
	typeUserControl   = 4
	typeWindowAckSize = 5
	typeSetPeerBW     = 6
	typeAudio         = 8
	typeVideo         = 9
	typeDataAMF0      = 18
	typeCommandAMF0   = 20
)

const extendedTimestamp = 0xffffff

// chunkWriter frames messages into chunks. Each message is built whole in
// one reused buffer and handed to the socket with a single Write, so that
// "Write returned" means "the last byte is in the kernel".
type chunkWriter struct {
	size int // outgoing chunk size
	buf  []byte
}

// frame appends the chunks of one message to w.buf (reset first) and
// returns them. The first chunk has a type-0 header (absolute timestamp):
// always valid, and only 11 bytes per message.
func (w *chunkWriter) frame(csid int, typ byte, streamID uint32, ts uint32, parts ...[]byte) []byte {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	b := w.buf[:0]
	b = appendBasicHeader(b, 0, csid)
	tsField := ts
	if ts >= extendedTimestamp {
		tsField = extendedTimestamp
	}
	b = append(b, byte(tsField>>16), byte(tsField>>8), byte(tsField))
	b = append(b, byte(n>>16), byte(n>>8), byte(n))
	b = append(b, typ)
	b = binary.LittleEndian.AppendUint32(b, streamID)
	if ts >= extendedTimestamp {
		b = binary.BigEndian.AppendUint32(b, ts)
	}
	left := w.size
	for _, p := range parts {
		for len(p) > 0 {
			if left == 0 {
				// Continuation: type 3, repeating the extended timestamp
				// as FFmpeg, librtmp and nginx-rtmp expect.
				b = appendBasicHeader(b, 3, csid)
				if ts >= extendedTimestamp {
					b = binary.BigEndian.AppendUint32(b, ts)
				}
				left = w.size
			}
			k := min(left, len(p))
			b = append(b, p[:k]...)
			p, left = p[k:], left-k
		}
	}
	w.buf = b
	return b
}

func appendBasicHeader(b []byte, fmt byte, csid int) []byte {
	switch {
	case csid < 64:
		return append(b, fmt<<6|byte(csid))
	case csid < 320:
		return append(b, fmt<<6, byte(csid-64))
	default:
		return append(b, fmt<<6|1, byte(csid-64), byte((csid-64)>>8))
	}
}

// message is one reassembled message from the server.
type message struct {
	typ      byte
	streamID uint32
	ts       uint32
	payload  []byte
}

type chunkState struct {
	ts, delta uint32
	length    int
	typ       byte
	streamID  uint32
	extended  bool
	buf       []byte
}

// chunkReader reassembles the server's chunks into messages.
type chunkReader struct {
	r      *bufio.Reader
	size   int // incoming chunk size (the server's)
	states map[int]*chunkState
	read   int64 // bytes read, for acknowledgements
}

func newChunkReader(r io.Reader) *chunkReader {
	cr := &chunkReader{size: 128, states: map[int]*chunkState{}}
	cr.r = bufio.NewReaderSize(countingReader{r, &cr.read}, 4096)
	return cr
}

type countingReader struct {
	r io.Reader
	n *int64
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	*c.n += int64(n)
	return n, err
}

const maxMessage = 16 << 20 // no server sends us anything near this

// next reads chunks until a message is complete.
func (cr *chunkReader) next() (message, error) {
	var hdr [11]byte
	for {
		b0, err := cr.r.ReadByte()
		if err != nil {
			return message{}, err
		}
		fmtType := b0 >> 6
		csid := int(b0 & 0x3f)
		switch csid {
		case 0:
			c, err := cr.r.ReadByte()
			if err != nil {
				return message{}, err
			}
			csid = 64 + int(c)
		case 1:
			if _, err := io.ReadFull(cr.r, hdr[:2]); err != nil {
				return message{}, err
			}
			csid = 64 + int(hdr[0]) + int(hdr[1])<<8
		}
		st := cr.states[csid]
		if st == nil {
			if fmtType != 0 {
				return message{}, fmt.Errorf("rtmp: chunk stream %d starts with a type-%d header", csid, fmtType)
			}
			if len(cr.states) >= 64 {
				return message{}, errors.New("rtmp: too many chunk streams")
			}
			st = &chunkState{}
			cr.states[csid] = st
		}
		hlen := [4]int{11, 7, 3, 0}[fmtType]
		if _, err := io.ReadFull(cr.r, hdr[:hlen]); err != nil {
			return message{}, err
		}
		if fmtType < 3 {
			t := uint32(hdr[0])<<16 | uint32(hdr[1])<<8 | uint32(hdr[2])
			st.extended = t == extendedTimestamp
			if fmtType < 2 {
				st.length = int(hdr[3])<<16 | int(hdr[4])<<8 | int(hdr[5])
				st.typ = hdr[6]
				if st.length > maxMessage {
					return message{}, fmt.Errorf("rtmp: server message of %d bytes", st.length)
				}
			}
			if fmtType == 0 {
				st.streamID = binary.LittleEndian.Uint32(hdr[7:11])
			}
			if st.extended {
				if _, err := io.ReadFull(cr.r, hdr[:4]); err != nil {
					return message{}, err
				}
				t = binary.BigEndian.Uint32(hdr[:4])
			}
			if fmtType == 0 {
				st.ts, st.delta = t, 0
			} else {
				st.delta = t
			}
		} else if st.extended {
			if _, err := io.ReadFull(cr.r, hdr[:4]); err != nil {
				return message{}, err
			}
		}
		if len(st.buf) == 0 && fmtType != 0 {
			st.ts += st.delta // a new message with a delta header
		}
		k := min(cr.size, st.length-len(st.buf))
		start := len(st.buf)
		st.buf = append(st.buf, make([]byte, k)...)
		if _, err := io.ReadFull(cr.r, st.buf[start:]); err != nil {
			return message{}, err
		}
		if len(st.buf) < st.length {
			continue
		}
		m := message{typ: st.typ, streamID: st.streamID, ts: st.ts, payload: st.buf}
		st.buf = nil
		if m.typ == typeSetChunkSize {
			if len(m.payload) < 4 {
				return message{}, errors.New("rtmp: short Set Chunk Size")
			}
			n := int(binary.BigEndian.Uint32(m.payload) & 0x7fffffff)
			if n < 1 || n > maxMessage {
				return message{}, fmt.Errorf("rtmp: server chunk size %d", n)
			}
			cr.size = n
		}
		return m, nil
	}
}
