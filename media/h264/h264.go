// Package h264 converts between the two byte layouts of H.264: Annex B
// (start codes, what encoders emit) and AVCC (length prefixes, what
// media.Packet carries; see package media), and builds the
// AVCDecoderConfigurationRecord from SPS/PPS.
package h264

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// NAL unit types used here.
const (
	NALSlice    = 1
	NALIDR      = 5
	NALSEI      = 6
	NALSPS      = 7
	NALPPS      = 8
	NALAUD      = 9
	nalTypeMask = 0x1f
)

// NALType is the type of a NAL unit (its first byte's low 5 bits).
func NALType(nal []byte) int {
	if len(nal) == 0 {
		return -1
	}
	return int(nal[0] & nalTypeMask)
}

// SplitAnnexB returns the NAL units of an Annex B byte stream (without
// their start codes). The returned slices alias b.
func SplitAnnexB(b []byte) [][]byte {
	var nals [][]byte
	start := -1
	i := 0
	for i+2 < len(b) {
		// A start code is 00 00 01 (a 4-byte one is a zero byte before it).
		if b[i] == 0 && b[i+1] == 0 && b[i+2] == 1 {
			if start >= 0 {
				end := i
				for end > start && b[end-1] == 0 { // trailing zero of 00 00 00 01
					end--
				}
				nals = append(nals, b[start:end])
			}
			i += 3
			start = i
			continue
		}
		i++
	}
	if start >= 0 && start < len(b) {
		nals = append(nals, b[start:])
	}
	return nals
}

// AnnexBToAVCC converts an Annex B access unit to AVCC with 4-byte lengths,
// dropping SPS, PPS and AUD units (they travel out of band). It allocates
// the result once.
func AnnexBToAVCC(b []byte) []byte {
	nals := SplitAnnexB(b)
	n := 0
	for _, nal := range nals {
		if keepInBand(nal) {
			n += 4 + len(nal)
		}
	}
	out := make([]byte, 0, n)
	for _, nal := range nals {
		if keepInBand(nal) {
			out = binary.BigEndian.AppendUint32(out, uint32(len(nal)))
			out = append(out, nal...)
		}
	}
	return out
}

func keepInBand(nal []byte) bool {
	switch NALType(nal) {
	case NALSPS, NALPPS, NALAUD, -1:
		return false
	}
	return true
}

// SplitAVCC returns the NAL units of an AVCC access unit (4-byte lengths).
func SplitAVCC(b []byte) ([][]byte, error) {
	var nals [][]byte
	for len(b) > 0 {
		if len(b) < 4 {
			return nil, errors.New("h264: truncated AVCC length")
		}
		n := int(binary.BigEndian.Uint32(b))
		b = b[4:]
		if n > len(b) {
			return nil, fmt.Errorf("h264: AVCC NAL of %d bytes, %d left", n, len(b))
		}
		nals = append(nals, b[:n])
		b = b[n:]
	}
	return nals, nil
}

// IsKeyframe reports whether an AVCC access unit holds an IDR slice.
func IsKeyframe(avcc []byte) bool {
	nals, err := SplitAVCC(avcc)
	if err != nil {
		return false
	}
	for _, nal := range nals {
		if NALType(nal) == NALIDR {
			return true
		}
	}
	return false
}

// ParameterSets finds the SPS and PPS in Annex B data (an encoder's
// extradata or an access unit).
func ParameterSets(annexB []byte) (sps, pps [][]byte) {
	for _, nal := range SplitAnnexB(annexB) {
		switch NALType(nal) {
		case NALSPS:
			sps = append(sps, nal)
		case NALPPS:
			pps = append(pps, nal)
		}
	}
	return sps, pps
}

// ConfigRecord builds an AVCDecoderConfigurationRecord (ISO/IEC 14496-15
// 5.2.4.1) with 4-byte NAL lengths from the SPS and PPS.
func ConfigRecord(sps, pps [][]byte) ([]byte, error) {
	if len(sps) == 0 || len(pps) == 0 {
		return nil, errors.New("h264: config record needs an SPS and a PPS")
	}
	if len(sps[0]) < 4 {
		return nil, errors.New("h264: SPS too short")
	}
	if len(sps) > 31 || len(pps) > 255 {
		return nil, errors.New("h264: too many parameter sets")
	}
	rec := []byte{
		1,         // configurationVersion
		sps[0][1], // AVCProfileIndication
		sps[0][2], // profile_compatibility
		sps[0][3], // AVCLevelIndication
		0xff,      // reserved (6 bits) + lengthSizeMinusOne = 3
		0xe0 | byte(len(sps)),
	}
	for _, s := range sps {
		rec = binary.BigEndian.AppendUint16(rec, uint16(len(s)))
		rec = append(rec, s...)
	}
	rec = append(rec, byte(len(pps)))
	for _, p := range pps {
		rec = binary.BigEndian.AppendUint16(rec, uint16(len(p)))
		rec = append(rec, p...)
	}
	// High profiles (100, 110, 122, 144) carry chroma format and bit depths;
	// decoders accept the record without them, and FFmpeg's own muxers omit
	// them too, so we do the same.
	return rec, nil
}

// ParseConfigRecord returns the SPS and PPS of an AVCDecoderConfigurationRecord.
func ParseConfigRecord(rec []byte) (sps, pps [][]byte, err error) {
	if len(rec) < 7 || rec[0] != 1 {
		return nil, nil, errors.New("h264: bad AVCDecoderConfigurationRecord")
	}
	b := rec[5:]
	n := int(b[0] & 0x1f)
	b = b[1:]
	read := func() ([]byte, error) {
		if len(b) < 2 {
			return nil, errors.New("h264: truncated config record")
		}
		l := int(binary.BigEndian.Uint16(b))
		if len(b) < 2+l {
			return nil, errors.New("h264: truncated config record")
		}
		p := b[2 : 2+l]
		b = b[2+l:]
		return p, nil
	}
	for i := 0; i < n; i++ {
		p, err := read()
		if err != nil {
			return nil, nil, err
		}
		sps = append(sps, p)
	}
	if len(b) < 1 {
		return nil, nil, errors.New("h264: truncated config record")
	}
	n = int(b[0])
	b = b[1:]
	for i := 0; i < n; i++ {
		p, err := read()
		if err != nil {
			return nil, nil, err
		}
		pps = append(pps, p)
	}
	return sps, pps, nil
}

// AccessUnit is what an encoder's Annex B output holds, sorted the way
// media.Packet wants it: the pictures' NAL units as AVCC, and the
// parameter sets apart (hardware encoders put them in band, or in a
// packet of their own, rather than in extradata).
type AccessUnit struct {
	// AVCC: every NAL unit but SPS, PPS and AUD, with 4-byte lengths.
	AVCC []byte
	// SPS and PPS found in band (copies: the input may be a driver's buffer).
	SPS, PPS [][]byte
	// Picture: a slice is there (a packet of parameter sets alone has none).
	Picture bool
	// IDR: an IDR slice is there, a picture a decoder can start from.
	IDR bool
}

// ParseAccessUnit sorts one Annex B access unit. It copies what it keeps,
// so b may be reused as soon as it returns.
func ParseAccessUnit(b []byte) AccessUnit {
	var au AccessUnit
	nals := SplitAnnexB(b)
	n := 0
	for _, nal := range nals {
		switch t := NALType(nal); t {
		case NALSPS:
			au.SPS = append(au.SPS, append([]byte(nil), nal...))
		case NALPPS:
			au.PPS = append(au.PPS, append([]byte(nil), nal...))
		default:
			if keepInBand(nal) {
				n += 4 + len(nal)
			}
			if t >= NALSlice && t <= NALIDR {
				au.Picture = true
			}
			au.IDR = au.IDR || t == NALIDR
		}
	}
	if n > 0 {
		au.AVCC = make([]byte, 0, n)
		for _, nal := range nals {
			if keepInBand(nal) {
				au.AVCC = binary.BigEndian.AppendUint32(au.AVCC, uint32(len(nal)))
				au.AVCC = append(au.AVCC, nal...)
			}
		}
	}
	return au
}
