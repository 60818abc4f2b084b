// Package mux writes media.Packets into a container with libavformat:
// MP4, Matroska, FLV or MPEG-TS, to a file (Create) or to an io.Writer
// (New). It is the one owner of the libavformat output context; the
// recording (publish/record) and the SRT sender use it.
//
// H.264 goes in as the packets carry it (AVCC, parameter sets in
// VideoConfig.Record), except in MPEG-TS, which wants Annex B: there every
// access unit gets start codes and an access unit delimiter, and every
// keyframe the SPS and PPS in band, from the keyframe's own Config. A
// keyframe whose Config differs from the one in the header (the encoder
// was reopened at another size) carries its SPS and PPS in band in the
// other formats too, which FFmpeg and browsers decode; a recording starts a
// new file there instead.
package mux

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/asticode/go-astiav"

	"github.com/golive/golive/media"
	"github.com/golive/golive/media/h264"
)

// ErrUnsupported: the container cannot carry what Config asks for (Opus
// in FLV, an unknown format, a codec other than H.264 for video), or
// libavformat refused the header or an option.
var ErrUnsupported = errors.New("unsupported by the container")

// Formats are the libavformat muxers Config.Format may name.
var Formats = []string{"mp4", "matroska", "flv", "mpegts"}

// Config describes the container and its streams.
type Config struct {
	// Format is the libavformat muxer: "mp4", "matroska", "flv" or "mpegts".
	Format string
	Video  media.VideoConfig  // H.264
	Audio  *media.AudioConfig // AAC, or Opus (not in FLV); nil: no audio
	// TimeOffset is added to every timestamp (pass AudioConfig.Delay) so
	// that none is negative.
	TimeOffset time.Duration
	// Options are the muxer's options (movflags for MP4, …) and the
	// format context's (flush_packets, max_interleave_delta). An option
	// that neither knows is an error.
	Options map[string]string
}

// ChunkSize is the size of New's writes: seven 188-byte MPEG-TS packets,
// the payload SRT carries in one datagram.
const ChunkSize = 7 * 188

// fileBuffer is Create's I/O buffer: big enough that writes to the file
// are few, small enough that Flush writes little more than what came.
const fileBuffer = 64 << 10

// padding is libavcodec's AV_INPUT_BUFFER_PADDING_SIZE: packet data is
// followed by this many zeros, which parsers may read.
const padding = 64

// FragmentedMP4 are the movflags that make an MP4 written to a pipe, or
// one cut short by a crash, playable: a moov without samples, then one
// moof+mdat per keyframe (at most one GOP). delay_moov holds the moov back
// until the first fragment: without it a track that does not start at
// zero (the offset, the second file of a recording) has its first sample
// moved to zero, a gap after it (FFmpeg 5.1).
const FragmentedMP4 = "frag_keyframe+empty_moov+default_base_moof+delay_moov"

// interleaveDelta bounds how long libavformat holds packets of one stream
// waiting for the other (its default is 10 s): what a crash can lose, and
// what Flush cannot push out.
const interleaveDelta = "500000" // µs

var nanoseconds = astiav.NewRational(1, int(time.Second))

// Muxer writes packets into one container. It is not safe for concurrent
// use, except Bytes.
type Muxer struct {
	cfg Config
	out *output
	fc  *astiav.FormatContext
	ioc *astiav.IOContext
	pkt *astiav.Packet

	video, audio stream
	annexB       bool   // MPEG-TS: H.264 in Annex B
	record       []byte // the avcC the header has, or the last keyframe's
	params       []byte // SPS and PPS to put in band before a keyframe (nil: none)
	buf          []byte // the packet being built, with its padding
	header       bool   // the header was written: the trailer is due
	closed       bool
	err          error // sticky: the first failure
}

type stream struct {
	index    int
	tb       astiav.Rational
	duration int64 // of one packet, in tb (0: unknown)
	lastDTS  int64
	started  bool
}

// Create makes (or truncates) the file at path and writes the header. The
// file is written through a 64 KiB buffer; Flush pushes it out and Sync
// makes it durable.
func Create(path string, cfg Config) (*Muxer, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("mux: %w", err)
	}
	m, err := open(&output{w: f, f: f}, fileBuffer, cfg)
	if err != nil {
		f.Close()
		os.Remove(path)
		return nil, err
	}
	return m, nil
}

// New writes the container to w, which must not block for long. For
// MPEG-TS, w receives whole chunks of ChunkSize bytes (seven TS packets:
// one SRT datagram each), except at Flush and Close, which write what is
// buffered: a multiple of 188 bytes. The other muxers also flush at the
// end of each MP4 fragment or Matroska cluster. The slice passed to w is
// its own: w may keep it. w cannot seek, so an MP4 is fragmented
// (movflags FragmentedMP4 unless Options set
// movflags) and Matroska and FLV go without index and duration.
func New(w io.Writer, cfg Config) (*Muxer, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if cfg.Format == "mp4" {
		if _, ok := cfg.Options["movflags"]; !ok {
			cfg.Options = withOption(cfg.Options, "movflags", FragmentedMP4)
		}
	}
	return open(&output{w: w}, ChunkSize, cfg)
}

func withOption(opts map[string]string, k, v string) map[string]string {
	o := make(map[string]string, len(opts)+1)
	for k, v := range opts {
		o[k] = v
	}
	o[k] = v
	return o
}

func (cfg *Config) check() error {
	switch cfg.Format {
	case "mp4", "matroska", "flv", "mpegts":
	default:
		return fmt.Errorf("mux: format %q: %w (want one of %v)", cfg.Format, ErrUnsupported, Formats)
	}
	if c := cfg.Video.Codec; c != 0 && c != media.CodecH264 {
		return fmt.Errorf("mux: video codec %s: %w", c, ErrUnsupported)
	}
	if _, _, err := h264.ParseConfigRecord(cfg.Video.Record); err != nil {
		return fmt.Errorf("mux: video config: %w", err)
	}
	if a := cfg.Audio; a != nil {
		switch {
		case a.Codec != media.CodecAAC && a.Codec != media.CodecOpus:
			return fmt.Errorf("mux: audio codec %s: %w", a.Codec, ErrUnsupported)
		case a.Codec == media.CodecOpus && cfg.Format == "flv":
			return fmt.Errorf("mux: opus in flv: %w (flv carries AAC only)", ErrUnsupported)
		case a.Codec == media.CodecOpus && a.SampleRate != 48000:
			return fmt.Errorf("mux: opus at %d Hz: %w", a.SampleRate, ErrUnsupported)
		case a.Codec == media.CodecAAC && len(a.ASC) < 2:
			return errors.New("mux: aac without AudioSpecificConfig")
		case a.SampleRate <= 0 || a.Channels < 1 || a.Channels > 2:
			return fmt.Errorf("mux: audio %d Hz, %d channels: %w", a.SampleRate, a.Channels, ErrUnsupported)
		}
	}
	return nil
}

// open sets up the output context on out and writes the header.
func open(out *output, bufSize int, cfg Config) (_ *Muxer, err error) {
	m := &Muxer{cfg: cfg, out: out, annexB: cfg.Format == "mpegts", record: cfg.Video.Record}
	defer func() {
		if err != nil {
			m.free()
		}
	}()
	if m.fc, err = astiav.AllocOutputFormatContext(nil, cfg.Format, ""); err != nil {
		return nil, fmt.Errorf("mux: %s: %w: %w", cfg.Format, ErrUnsupported, err)
	}
	var seek astiav.IOContextSeekFunc
	if out.f != nil {
		seek = out.seek
	}
	// go-astiav keeps the callbacks in a map for ever (v0.16 never deletes
	// them): they hold out, which Close empties, and nothing bigger.
	if m.ioc, err = astiav.AllocIOContext(bufSize, true, nil, seek, out.write); err != nil {
		return nil, fmt.Errorf("mux: %w", err)
	}
	m.fc.SetPb(m.ioc)
	m.pkt = astiav.AllocPacket()
	if err := m.addVideo(); err != nil {
		return nil, err
	}
	if cfg.Audio != nil {
		if err := m.addAudio(*cfg.Audio); err != nil {
			return nil, err
		}
	}
	if err := m.writeHeader(); err != nil {
		return nil, err
	}
	m.video.tb = m.fc.Streams()[m.video.index].TimeBase()
	if cfg.Audio != nil {
		m.audio.tb = m.fc.Streams()[m.audio.index].TimeBase()
	}
	if fps := cfg.Video.FrameRate; fps > 0 {
		m.video.duration = m.ts(time.Duration(float64(time.Second)/fps), m.video.tb) - m.ts(0, m.video.tb)
	}
	if a := cfg.Audio; a != nil {
		samples := 1024 // AAC-LC
		if a.Codec == media.CodecOpus {
			samples = 960 // libopus's 20 ms
		}
		m.audio.duration = astiav.RescaleQ(int64(samples), astiav.NewRational(1, a.SampleRate), m.audio.tb)
	}
	return m, nil
}

func (m *Muxer) addVideo() error {
	s := m.fc.NewStream(nil)
	if s == nil {
		return errors.New("mux: cannot add the video stream")
	}
	m.video.index = s.Index()
	s.SetTimeBase(astiav.NewRational(1, 90000))
	if fps := m.cfg.Video.FrameRate; fps > 0 {
		r := astiav.NewRational(int(math.Round(fps*1000)), 1000)
		s.SetAvgFrameRate(r)
		s.SetRFrameRate(r)
	}
	p := s.CodecParameters()
	p.SetCodecType(astiav.MediaTypeVideo)
	p.SetCodecID(astiav.CodecIDH264)
	p.SetWidth(m.cfg.Video.Width)
	p.SetHeight(m.cfg.Video.Height)
	p.SetPixelFormat(astiav.PixelFormatYuv420P)
	extra := m.cfg.Video.Record
	if m.annexB {
		var err error
		if extra, err = annexBParams(nil, extra); err != nil {
			return fmt.Errorf("mux: video config: %w", err)
		}
		m.params = extra
	}
	if err := p.SetExtraData(extra); err != nil {
		return fmt.Errorf("mux: video extradata: %w", err)
	}
	return nil
}

func (m *Muxer) addAudio(a media.AudioConfig) error {
	s := m.fc.NewStream(nil)
	if s == nil {
		return errors.New("mux: cannot add the audio stream")
	}
	m.audio.index = s.Index()
	s.SetTimeBase(astiav.NewRational(1, a.SampleRate))
	p := s.CodecParameters()
	p.SetCodecType(astiav.MediaTypeAudio)
	p.SetSampleRate(a.SampleRate)
	p.SetChannels(a.Channels)
	if a.Channels == 1 {
		p.SetChannelLayout(astiav.ChannelLayoutMono)
	} else {
		p.SetChannelLayout(astiav.ChannelLayoutStereo)
	}
	p.SetSampleFormat(astiav.SampleFormatFltp)
	extra := a.ASC
	if a.Codec == media.CodecOpus {
		p.SetCodecID(astiav.CodecIDOpus)
		p.SetFrameSize(960)
		extra = OpusHead(a.Channels, a.Delay)
	} else {
		p.SetCodecID(astiav.CodecIDAac)
		p.SetFrameSize(1024)
	}
	if err := p.SetExtraData(extra); err != nil {
		return fmt.Errorf("mux: audio extradata: %w", err)
	}
	return nil
}

func (m *Muxer) writeHeader() error {
	opts := map[string]string{
		// Whole buffers only: ChunkSize writes for New, few for Create.
		"flush_packets":        "0",
		"max_interleave_delta": interleaveDelta,
	}
	for k, v := range m.cfg.Options {
		opts[k] = v
	}
	d := astiav.NewDictionary()
	defer d.Free()
	for k, v := range opts {
		if err := d.Set(k, v, 0); err != nil {
			return fmt.Errorf("mux: option %s: %w", k, err)
		}
	}
	if err := m.fc.WriteHeader(d); err != nil {
		return m.fail("write header", fmt.Errorf("%w: %w", ErrUnsupported, err))
	}
	m.header = true
	var unknown []string
	all := astiav.NewDictionaryFlags(astiav.DictionaryFlagIgnoreSuffix)
	for e := d.Get("", nil, all); e != nil; e = d.Get("", e, all) {
		unknown = append(unknown, e.Key())
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return fmt.Errorf("mux: %s: unknown options %v: %w", m.cfg.Format, unknown, ErrUnsupported)
	}
	return m.err
}

// OpusHead is the identification header of an Opus stream (RFC 7845 5.1),
// the extradata the muxers want: channel mapping family 0 (mono or
// stereo), pre-skip = the encoder's delay at 48 kHz.
func OpusHead(channels int, delay time.Duration) []byte {
	b := make([]byte, 0, 19)
	b = append(b, "OpusHead"...)
	b = append(b, 1, byte(channels))
	b = binary.LittleEndian.AppendUint16(b, uint16(delay*48000/time.Second))
	b = binary.LittleEndian.AppendUint32(b, 48000) // input sample rate (informational)
	b = binary.LittleEndian.AppendUint16(b, 0)     // output gain
	return append(b, 0)                            // mapping family
}

// annexBParams appends the SPS and PPS of an avcC record to dst, each
// after a 4-byte start code.
func annexBParams(dst, record []byte) ([]byte, error) {
	sps, pps, err := h264.ParseConfigRecord(record)
	if err != nil {
		return nil, err
	}
	for _, nal := range append(sps, pps...) {
		dst = append(dst, 0, 0, 0, 1)
		dst = append(dst, nal...)
	}
	return dst, nil
}

// avccParams appends the SPS and PPS of an avcC record to dst as AVCC NAL
// units (4-byte lengths).
func avccParams(dst, record []byte) ([]byte, error) {
	sps, pps, err := h264.ParseConfigRecord(record)
	if err != nil {
		return nil, err
	}
	for _, nal := range append(sps, pps...) {
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(nal)))
		dst = append(dst, nal...)
	}
	return dst, nil
}

// aud is an access unit delimiter (primary_pic_type 7: any slice type),
// which MPEG-TS wants first in every access unit.
var aud = []byte{0, 0, 0, 1, h264.NALAUD, 0xf0}

// WritePacket converts pkt for the container and hands it to libavformat,
// which interleaves the streams (holding a packet at most 0.5 s). Audio
// packets are dropped when Config has no audio. A DTS that does not move
// forward is moved one tick past the last one. After a failure every call
// returns the first error.
func (m *Muxer) WritePacket(pkt *media.Packet) error {
	if m.err != nil {
		return m.err
	}
	if m.closed {
		return errors.New("mux: closed")
	}
	var s *stream
	switch pkt.Kind {
	case media.KindVideo:
		s = &m.video
		if err := m.buildVideo(pkt); err != nil {
			return err
		}
	case media.KindAudio:
		if m.cfg.Audio == nil {
			return nil
		}
		s = &m.audio
		m.buf = append(m.buf[:0], pkt.Data...)
	default:
		return nil
	}
	n := len(m.buf)
	m.buf = append(m.buf, make([]byte, padding)...)
	if err := m.pkt.FromData(m.buf); err != nil {
		return m.fail("packet", err)
	}
	m.pkt.SetSize(n)
	dts, pts := m.ts(pkt.DTS, s.tb), m.ts(pkt.PTS, s.tb)
	if s.started && dts <= s.lastDTS {
		dts = s.lastDTS + 1
	}
	s.started, s.lastDTS = true, dts
	m.pkt.SetDts(dts)
	m.pkt.SetPts(max(pts, dts))
	m.pkt.SetDuration(s.duration)
	m.pkt.SetStreamIndex(s.index)
	if pkt.Keyframe {
		m.pkt.SetFlags(astiav.NewPacketFlags(astiav.PacketFlagKey))
	}
	err := m.fc.WriteInterleavedFrame(m.pkt) // takes the reference, even on failure
	m.pkt.Unref()
	if err != nil {
		return m.fail("write", err)
	}
	return m.out.failed()
}

// buildVideo puts pkt's data, as the container wants it, in m.buf.
func (m *Muxer) buildVideo(pkt *media.Packet) error {
	if pkt.Keyframe && pkt.Config != nil && !bytes.Equal(pkt.Config.Record, m.record) {
		var err error
		if m.annexB {
			m.params, err = annexBParams(m.params[:0], pkt.Config.Record)
		} else {
			m.params, err = avccParams(m.params[:0], pkt.Config.Record)
		}
		if err != nil {
			return fmt.Errorf("mux: keyframe config: %w", err)
		}
		m.record = pkt.Config.Record
	}
	m.buf = m.buf[:0]
	if !m.annexB {
		if pkt.Keyframe {
			m.buf = append(m.buf, m.params...)
		}
		m.buf = append(m.buf, pkt.Data...)
		return nil
	}
	m.buf = append(m.buf, aud...)
	if pkt.Keyframe {
		m.buf = append(m.buf, m.params...)
	}
	for b := pkt.Data; len(b) > 0; {
		if len(b) < 4 {
			return errors.New("mux: truncated AVCC length")
		}
		l := int(binary.BigEndian.Uint32(b))
		if l > len(b)-4 {
			return fmt.Errorf("mux: AVCC NAL of %d bytes, %d left", l, len(b)-4)
		}
		m.buf = append(m.buf, 0, 0, 0, 1)
		m.buf = append(m.buf, b[4:4+l]...)
		b = b[4+l:]
	}
	return nil
}

// ts converts a pipeline time to tb, with the offset.
func (m *Muxer) ts(d time.Duration, tb astiav.Rational) int64 {
	return astiav.RescaleQ(int64(d+m.cfg.TimeOffset), nanoseconds, tb)
}

// Flush makes the muxer write what it has buffered — the MP4 fragment so
// far, the Matroska cluster, partial TS packets — and pushes the I/O buffer
// to the file or writer. Packets held for interleaving stay (at most 0.5 s
// of one stream). A recording calls it before each keyframe, so that what
// is on disk ends with a whole GOP.
func (m *Muxer) Flush() error {
	if m.err != nil || m.closed {
		return m.err
	}
	if err := m.fc.WriteFrame(nil); err != nil {
		return m.fail("flush", err)
	}
	m.ioc.Flush()
	return m.out.failed()
}

// Sync commits the file to stable storage (fsync); nothing for a writer.
// It is slow on some disks (tens of ms): call it every few seconds, not
// per packet.
func (m *Muxer) Sync() error {
	if m.err != nil || m.closed || m.out.f == nil {
		return m.err
	}
	if err := m.out.f.Sync(); err != nil {
		return m.fail("sync", err)
	}
	return nil
}

// Bytes is how many bytes went to the file or writer so far (a file's
// size until the trailer, which may go back to patch the header). Safe
// for concurrent use.
func (m *Muxer) Bytes() int64 { return m.out.n.Load() }

// Err is the first failure, or nil.
func (m *Muxer) Err() error { return m.err }

// Close writes the trailer (an index, durations: without it an MP4 is
// still playable, being fragmented), syncs and closes the file, and frees
// everything. It returns the first failure of the muxer's life. Idempotent.
func (m *Muxer) Close() error {
	if m.closed {
		return m.err
	}
	m.closed = true
	if m.header && m.err == nil {
		if err := m.fc.WriteTrailer(); err != nil {
			m.fail("write trailer", err)
		} else if err := m.out.failed(); err != nil {
			m.err = err
		}
	}
	if f := m.out.f; f != nil {
		if m.err == nil {
			if err := f.Sync(); err != nil {
				m.fail("sync", err)
			}
		}
		if err := f.Close(); err != nil && m.err == nil {
			m.fail("close", err)
		}
	}
	m.free()
	return m.err
}

// free frees the astiav objects, each once.
func (m *Muxer) free() {
	if m.fc != nil {
		m.fc.Free()
		m.fc = nil
	}
	if m.ioc != nil {
		m.ioc.Free()
		m.ioc = nil
	}
	if m.pkt != nil {
		m.pkt.Free()
		m.pkt = nil
	}
	m.out.release()
}

// fail records the first failure, preferring the writer's own error (an
// *os.PathError with ENOSPC, …) to libavformat's copy of it.
func (m *Muxer) fail(op string, err error) error {
	if m.err == nil {
		if werr := m.out.failed(); werr != nil {
			err = werr
		}
		m.err = fmt.Errorf("mux: %s %s: %w", m.cfg.Format, op, err)
	}
	return m.err
}

// output is the Go side of the AVIOContext: libavformat's writes (and a
// file's seeks) land here.
type output struct {
	w   io.Writer
	f   *os.File // Create: seekable, synced
	n   atomic.Int64
	err error // the first write error, as the writer gave it
}

func (o *output) write(b []byte) (int, error) {
	if o.err != nil {
		return 0, averror(o.err)
	}
	if o.w == nil {
		return 0, astiav.ErrEio
	}
	n, err := o.w.Write(b)
	o.n.Add(int64(n))
	if err == nil && n < len(b) {
		err = io.ErrShortWrite
	}
	if err != nil {
		o.err = err
		return n, averror(err)
	}
	return n, nil
}

// libavformat's whence flags (avio.h).
const (
	avseekSize  = 0x10000
	avseekForce = 0x20000
)

func (o *output) seek(offset int64, whence int) (int64, error) {
	if o.f == nil {
		return 0, astiav.ErrEio
	}
	if whence&avseekSize != 0 {
		st, err := o.f.Stat()
		if err != nil {
			return 0, averror(err)
		}
		return st.Size(), nil
	}
	n, err := o.f.Seek(offset, whence&^avseekForce)
	if err != nil {
		return 0, averror(err)
	}
	return n, nil
}

func (o *output) failed() error {
	if o.err != nil {
		return o.err
	}
	return nil
}

// release drops the writer: the callbacks that go-astiav keeps then hold
// nothing.
func (o *output) release() { o.w, o.f = nil, nil }

// averror is err as libavformat's AVERROR(errno).
func averror(err error) error {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return astiav.Error(-int(errno))
	}
	return astiav.ErrEio
}
