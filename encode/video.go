// Package encode turns raw frames into packets with FFmpeg's libraries
// (through go-astiav): H.264 with the machine's hardware encoder or
// libx264, AAC and Opus. Conversion between the pipeline clock and codec
// time bases happens here and nowhere else.
package encode

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/asticode/go-astiav"

	"github.com/golive/golive/media"
	"github.com/golive/golive/media/avframe"
	"github.com/golive/golive/media/h264"
)

// videoTimeBase is the codec time base: 1/90000, fine enough for any
// camera's timestamps and the unit RTP uses.
var videoTimeBase = astiav.NewRational(1, 90000)

// StallTimeout: a hardware encoder that gives no packet for this long
// while frames go in is taken for hung and replaced by libx264.
const StallTimeout = time.Second

// VideoConfig configures the H.264 encoder.
type VideoConfig struct {
	Width, Height, FPS int
	// Bitrate is the target in bit/s; the VBV (max rate and buffer) follows
	// it so that the output is CBR-like, as streaming platforms want.
	Bitrate int
	// KeyframeInterval is the exact spacing of keyframes in time.
	KeyframeInterval time.Duration
	// Preset is x264's speed preset (veryfast when empty); Profile the
	// H.264 profile (high when empty).
	Preset, Profile string
	// BFrames: 0 (the default) for live; WHIP requires 0.
	BFrames int
	// Threads: 0 (auto) lets libavcodec/x264 choose from the cores.
	Threads int
	// VBV is the rate control's buffer in time (1 s when zero): how far
	// the encoder may run over its bitrate for a while, a keyframe's size.
	VBV time.Duration
	// Encoder: auto ("" too), x264, v4l2m2m, vaapi, nvenc or qsv (see
	// Candidates). A named one that does not work is ErrUnavailable.
	Encoder string
	// Backends, when set, replace the machine's candidates (tests).
	Backends []Backend
	// ProbeTimeout bounds the probe (ProbeTimeout when zero); StallTimeout
	// the wait for a hardware encoder's packet (StallTimeout when zero).
	ProbeTimeout, StallTimeout time.Duration
	// Format is the pixel format frames come in (I420 when zero); see
	// Video.Format for the one to give.
	Format media.PixelFormat
	Logger *slog.Logger

	lowPower bool // VAAPI: the low-power entrypoint
}

func (c VideoConfig) withDefaults() VideoConfig {
	if c.Preset == "" {
		c.Preset = "veryfast"
	}
	if c.Profile == "" {
		c.Profile = "high"
	}
	if c.Encoder == "" {
		c.Encoder = Auto
	}
	if c.StallTimeout <= 0 {
		c.StallTimeout = StallTimeout
	}
	if c.Format == 0 {
		c.Format = media.PixelFormatI420
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Video is the H.264 encoder stage. It runs one Codec at a time: the
// hardware encoder the probe chose, or libx264. A bitrate or size the
// codec cannot follow live is reached by opening a second codec in the
// background and switching to it at a keyframe; a hardware codec that
// fails or stalls is replaced by libx264 at once, with a keyframe and no
// gap. Encode and Flush are called from one goroutine; SetBitrate,
// SetSize, RequestKeyframe and the getters from any.
type Video struct {
	cfg  VideoConfig // the current codec's settings (size, bitrate)
	out  media.PacketWriter
	log  *slog.Logger
	cur  *session
	name atomic.Pointer[string] // the current encoder's name

	// next is a codec being opened in the background, to switch to.
	next *reopen

	// Frames come in at inW×inH; SetSize makes the encoder encode at
	// another size, with a scaler in front.
	inW, inH int
	size     atomic.Uint64 // wanted size, w<<32 | h
	scaler   *scaler

	// After a failed reopen (hardware), the next try waits until retryAt.
	retryAt time.Time
	backoff time.Duration

	bitrate atomic.Int64 // wanted
	floor   atomic.Int64 // the current encoder's MinBitrate
	applied int64        // what the current codec has
	rateAt  time.Time    // when it was last changed live

	sps, pps [][]byte
	record   *media.VideoConfig // the stream's configuration, which keyframe packets point to

	forceKey atomic.Bool
	nextKey  time.Duration // PTS at or after which the next keyframe is due
	started  bool
	lastPTS  int64
	lastDTS  int64

	frames, keyframes, bitrateMoves, switches, fallbacks media.Counter
	closed                                               bool
}

// reopen is a codec opening in the background at another bitrate or size.
type reopen struct {
	w, h, bitrate int
	done          chan struct{}
	s             *session
	err           error
}

// OpenVideo chooses the encoder (cfg.Encoder; auto probes the machine's
// hardware encoders, then takes libx264) and opens it; packets go to out.
func OpenVideo(cfg VideoConfig, out media.PacketWriter) (*Video, error) {
	if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width%2 != 0 || cfg.Height%2 != 0 {
		return nil, fmt.Errorf("encode: video size %dx%d: must be positive and even", cfg.Width, cfg.Height)
	}
	if cfg.FPS <= 0 || cfg.Bitrate <= 0 || cfg.KeyframeInterval <= 0 {
		return nil, fmt.Errorf("encode: fps %d, bitrate %d, keyframe interval %v: must be positive", cfg.FPS, cfg.Bitrate, cfg.KeyframeInterval)
	}
	cfg = cfg.withDefaults()
	log := cfg.Logger.With("component", "encode.video")
	cands := cfg.Backends
	if cands == nil {
		var err error
		if cands, err = Candidates(cfg.Encoder); err != nil {
			return nil, fmt.Errorf("encode: %w", err)
		}
	}
	start := time.Now()
	v := &Video{cfg: cfg, out: out, log: log, inW: cfg.Width, inH: cfg.Height}
	v.size.Store(uint64(cfg.Width)<<32 | uint64(cfg.Height))
	var why []string
	for len(cands) > 0 {
		i, results := Probe(cfg, cands, cfg.ProbeTimeout, false)
		for _, r := range results {
			if !r.Available {
				log.Info("encoder skipped", "encoder", r.Name, "codec", r.Codec, "device", r.Device, "reason", r.Reason,
					"took_ms", r.Took.Milliseconds())
				why = append(why, r.Name+": "+r.Reason)
			}
		}
		if i < 0 {
			break
		}
		b := cands[i]
		v.sps, v.pps = results[i].sps, results[i].pps
		v.bitrate.Store(int64(max(cfg.Bitrate, b.MinBitrate)))
		v.cfg.Bitrate = int(v.bitrate.Load())
		s, err := v.open(b, v.cfg, 0)
		if err != nil {
			// It passed the probe and then would not open (a driver that
			// hung on the probe's close, a session taken meanwhile): the
			// next candidate.
			log.Info("encoder skipped", "encoder", b.Name, "codec", b.Codec, "device", b.Device, "reason", "probed, then: "+oneLine(err))
			why = append(why, b.Name+": probed, then: "+oneLine(err))
			cands = cands[i+1:]
			continue
		}
		v.use(s)
		log.Info("encoder open", "encoder", b.Name, "codec", b.Codec, "device", b.Device, "format", b.format(cfg.Format).String(),
			"size", fmt.Sprintf("%dx%d", cfg.Width, cfg.Height), "fps", cfg.FPS, "bitrate_kbps", v.cfg.Bitrate/1000,
			"preset", cfg.Preset, "probe_ms", time.Since(start).Milliseconds())
		return v, nil
	}
	return nil, fmt.Errorf("encode: --encoder %s: %w: %s", cfg.Encoder, ErrUnavailable, strings.Join(why, "; "))
}

// open opens b at cfg on a session of its own, within timeout (0: no bound).
func (v *Video) open(b Backend, cfg VideoConfig, timeout time.Duration) (*session, error) {
	stall := time.Duration(0)
	if !b.Software() {
		stall = v.cfg.StallTimeout
		if timeout == 0 {
			timeout = ProbeTimeout
		}
	}
	return openSession(b, cfg, timeout, stall)
}

// use makes s the current codec, and its parameter sets the stream's.
func (v *Video) use(s *session) {
	v.cur = s
	v.name.Store(&s.b.Name)
	v.floor.Store(int64(s.b.MinBitrate))
	v.applied = int64(v.cfg.Bitrate)
	v.rateAt = time.Now()
	if sps, pps := h264.ParameterSets(s.codec.ExtraData()); len(sps) > 0 && len(pps) > 0 {
		v.sps, v.pps = sps, pps
	}
	v.setRecord()
}

// setRecord makes the stream's configuration from the parameter sets:
// a new one when they or the size change.
func (v *Video) setRecord() {
	rec, err := h264.ConfigRecord(v.sps, v.pps)
	if err != nil {
		return // not known yet: the first keyframe brings them
	}
	if r := v.record; r != nil && bytes.Equal(r.Record, rec) && r.Width == v.cfg.Width && r.Height == v.cfg.Height {
		return
	}
	v.record = &media.VideoConfig{
		Codec: media.CodecH264, Width: v.cfg.Width, Height: v.cfg.Height,
		FrameRate: float64(v.cfg.FPS), Bitrate: v.cfg.Bitrate, Record: rec,
	}
}

// vbv is the CBR-like VBV for a target: max rate = target, buffer d
// (one second by default: what YouTube, Twitch and OBS's CBR mode use).
func vbv(bitrate int, d time.Duration) (maxrate, bufsize int) {
	if d <= 0 {
		d = time.Second
	}
	return bitrate, int(int64(bitrate) * int64(d) / int64(time.Second))
}

// Config describes the stream this encoder makes (with the SPS/PPS
// record; empty when the encoder gives its parameter sets only with its
// first keyframe).
func (v *Video) Config() media.VideoConfig {
	if v.record == nil {
		return media.VideoConfig{Codec: media.CodecH264, Width: v.cfg.Width, Height: v.cfg.Height, FrameRate: float64(v.cfg.FPS), Bitrate: v.cfg.Bitrate}
	}
	return *v.record
}

// Format is the pixel format the encoder takes: frames in it are copied
// straight in, others are converted once, as they are copied.
func (v *Video) Format() media.PixelFormat { return v.cur.b.format(v.cfg.Format) }

// Encoder names the encoder running now (x264, vaapi, …).
func (v *Video) Encoder() string { return *v.name.Load() }

// SetBitrate changes the target bitrate. An encoder that follows it live
// applies it from the next frame; another is reopened at the new rate in
// the background and switched to at a keyframe.
func (v *Video) SetBitrate(bps int) {
	if bps > 0 {
		v.bitrate.Store(max(int64(bps), v.floor.Load()))
	}
}

// SetSize asks for another picture size (the adaptive bitrate's ladder):
// a codec at w×h is opened in the background and switched to at the next
// frame after, which is a keyframe whose Config carries the new parameter
// sets. Frames still come in at the size the encoder was opened with.
// Safe from any goroutine.
func (v *Video) SetSize(w, h int) {
	if w > 0 && h > 0 && w%2 == 0 && h%2 == 0 {
		v.size.Store(uint64(w)<<32 | uint64(h))
	}
}

// Size is the size the encoder encodes at (or will, once it has switched).
func (v *Video) Size() (w, h int) {
	s := v.size.Load()
	return int(s >> 32), int(s & 0xffffffff)
}

// Bitrate is the current target in bit/s.
func (v *Video) Bitrate() int { return int(v.bitrate.Load()) }

// RequestKeyframe makes the next encoded frame a keyframe.
func (v *Video) RequestKeyframe() { v.forceKey.Store(true) }

// Stats: frames encoded, keyframes made, bitrate changes applied.
func (v *Video) Stats() (frames, keyframes, bitrateChanges int64) {
	return v.frames.Load(), v.keyframes.Load(), v.bitrateMoves.Load()
}

// Fallbacks counts the encoders replaced by libx264 after failing live.
func (v *Video) Fallbacks() int64 { return v.fallbacks.Load() }

// Switches counts the switches to a codec reopened at another bitrate or size.
func (v *Video) Switches() int64 { return v.switches.Load() }

// Encode encodes one frame and writes the packets it yields. It does not
// release f (the caller owns it).
func (v *Video) Encode(f *media.VideoFrame) error {
	if f.Width != v.inW || f.Height != v.inH || (f.Format != media.PixelFormatI420 && f.Format != media.PixelFormatNV12) {
		return fmt.Errorf("encode: frame %dx%d %s, encoder %dx%d", f.Width, f.Height, f.Format, v.inW, v.inH)
	}
	pts := toTimeBase(f.PTS, videoTimeBase)
	if v.started && pts <= v.lastPTS {
		// A source that repeats or goes back in time: encoders reject it.
		return nil
	}
	key := v.keyDue(f.PTS)
	err := v.maybeSwitch(key)
	if err == nil && v.cur.b.LiveBitrate {
		var idr bool
		if idr, err = v.applyLive(); idr {
			// The encoder makes this frame an IDR: say so, and count the
			// next 2 s from it, as for a requested keyframe.
			key = true
			v.nextKey = f.PTS + v.cfg.KeyframeInterval
		}
	}
	if err == nil {
		if !v.started {
			key = true
			v.nextKey = f.PTS + v.cfg.KeyframeInterval
		}
		v.started = true
		v.lastPTS = pts
		err = v.encodeOn(f, pts, key)
	}
	if err == nil || v.cur.b.Software() {
		if err == nil {
			v.frames.Add(1)
		}
		return err
	}
	// Never off air: libx264 takes over at this very frame, as a keyframe
	// (also when a hardware encoder could not be reopened at a new rate).
	v.started, v.lastPTS = true, pts
	if err := v.fallback(err, f, pts); err != nil {
		return err
	}
	v.frames.Add(1)
	return nil
}

// keyDue: keyframes follow the clock, not a frame count, so the cadence
// stays exact when frames are dropped before the encoder. A requested
// keyframe restarts the cadence.
func (v *Video) keyDue(pts time.Duration) bool {
	switch {
	case v.forceKey.Swap(false):
		v.nextKey = pts + v.cfg.KeyframeInterval
		return true
	case v.started && pts >= v.nextKey-halfFrame(v.cfg.FPS):
		v.nextKey += v.cfg.KeyframeInterval
		if v.nextKey <= pts { // stalled for longer than an interval
			v.nextKey = pts + v.cfg.KeyframeInterval
		}
		return true
	}
	return false
}

// maybeSwitch starts a reopen when the wanted size or bitrate needs one,
// and switches to a reopened codec when it is ready: a new size or a cut
// of a fifth or more at once (the new codec's first frame is an IDR, and
// the cadence restarts from it), a climb or a smaller cut at the next
// scheduled keyframe, so that it costs no extra keyframe.
func (v *Video) maybeSwitch(keyDue bool) error {
	w, h := v.Size()
	b := int(v.bitrate.Load())
	if n := v.next; n != nil && n.w == w && n.h == h && b < n.bitrate && int64(b) < v.applied {
		// A cut while a climb was opening: the cut goes first.
		go discard(n)
		v.next = nil
	}
	if v.next == nil {
		if time.Now().Before(v.retryAt) {
			return nil
		}
		if w != v.cfg.Width || h != v.cfg.Height || (int64(b) != v.applied && !v.cur.b.LiveBitrate) {
			v.startReopen(w, h, b)
		}
		return nil
	}
	select {
	case <-v.next.done:
	default:
		return nil
	}
	n := v.next
	if n.err != nil {
		v.next = nil
		err := fmt.Errorf("encode: reopen %dx%d at %dk: %w", n.w, n.h, n.bitrate/1000, n.err)
		if v.cur.b.Software() {
			return err
		}
		// The encoder that runs is fine: keep it, and try again later
		// (a driver short of sessions or memory for a second instance).
		v.backoff = min(max(2*v.backoff, time.Second), 30*time.Second)
		v.retryAt = time.Now().Add(v.backoff)
		v.log.Warn("encoder reopen failed: going on as it is", "encoder", v.cur.b.Name, "error", oneLine(err),
			"retry_in", v.backoff)
		return nil
	}
	resize := n.w != v.cfg.Width || n.h != v.cfg.Height
	deepCut := float64(n.bitrate) < 0.8*float64(v.applied)
	if !resize && !keyDue && !deepCut {
		// A climb, or a cut of less than a fifth, waits for the next
		// scheduled keyframe: an extra IDR costs more than it saves, and
		// an adaptive bitrate that moves in small steps would make many.
		return nil
	}
	v.backoff = 0
	return v.switchTo(n)
}

// startReopen opens the current backend at w×h and bitrate b in the background.
func (v *Video) startReopen(w, h, b int) {
	cfg := v.cfg
	cfg.Width, cfg.Height, cfg.Bitrate = w, h, b
	n := &reopen{w: w, h: h, bitrate: b, done: make(chan struct{})}
	v.next = n
	backend := v.cur.b
	go func() {
		defer close(n.done)
		n.s, n.err = v.open(backend, cfg, 0)
	}()
}

// switchTo ends the current codec (its last frames flushed out first, so
// none is lost or repeated) and continues on n's from the next frame,
// which Encode makes a keyframe. What can fail is done before anything is
// changed: on an error the current codec goes on as it was.
func (v *Video) switchTo(n *reopen) error {
	start := time.Now()
	v.next = nil
	var sc *scaler
	if n.w != v.inW || n.h != v.inH {
		var err error
		if sc, err = newScaler(v.cfg.Format, v.inW, v.inH, n.w, n.h); err != nil {
			n.s.close(time.Second)
			return err
		}
	}
	old := v.cur
	aus, err := old.flush(old.stall)
	if err != nil && old.b.Software() {
		n.s.close(time.Second)
		if sc != nil {
			sc.free()
		}
		return fmt.Errorf("encode: flush: %w", err)
	}
	if err != nil {
		// Its last frames are lost with it; the new one goes on.
		v.log.Warn("encoder flush failed at a switch", "encoder", old.b.Name, "error", oneLine(err))
	}
	old.close(old.stall)
	if v.scaler != nil {
		v.scaler.free()
	}
	v.scaler = sc
	from := fmt.Sprintf("%dx%d %dk", v.cfg.Width, v.cfg.Height, v.applied/1000)
	resize := n.w != v.cfg.Width || n.h != v.cfg.Height
	if int64(n.bitrate) != v.applied {
		v.bitrateMoves.Add(1)
	}
	v.cfg.Width, v.cfg.Height, v.cfg.Bitrate = n.w, n.h, n.bitrate
	v.use(n.s)
	v.started = false // the next frame is a keyframe
	v.switches.Add(1)
	to := fmt.Sprintf("%dx%d %dk", n.w, n.h, n.bitrate/1000)
	if resize {
		v.log.Info("picture size changed", "from", from, "to", to, "switch_ms", time.Since(start).Milliseconds())
	} else {
		v.log.Info("bitrate changed", "from", from, "to", to, "how", "reopened, switched at a keyframe",
			"switch_ms", time.Since(start).Milliseconds())
	}
	return v.emit(aus)
}

// applyLive gives a live-capable codec the wanted bitrate, at most every
// RateEvery (NVENC resets its rate control at each change), and says
// whether that makes the next frame an IDR. An encoder that hangs on it
// has failed.
func (v *Video) applyLive() (idr bool, err error) {
	b := v.bitrate.Load()
	if b == v.applied || time.Since(v.rateAt) < v.cur.b.RateEvery {
		return false, nil
	}
	applied, err := v.cur.setRate(int(b), v.cfg.VBV, v.cur.stall)
	if err != nil {
		return false, fmt.Errorf("encode: %s: set bitrate: %w", v.cur.b.Name, err)
	}
	if !applied {
		return false, nil
	}
	v.log.Info("bitrate changed", "from_kbps", v.applied/1000, "to_kbps", b/1000)
	v.applied, v.rateAt = b, time.Now()
	v.cfg.Bitrate = int(b)
	v.bitrateMoves.Add(1)
	return v.cur.b.RateIDR, nil
}

// encodeOn encodes f on the current codec.
func (v *Video) encodeOn(f *media.VideoFrame, pts int64, key bool) error {
	if v.scaler != nil {
		var err error
		if f, err = v.scaler.scale(f); err != nil {
			return err
		}
	}
	if v.cur.closed {
		return fmt.Errorf("encode: %s: encoder closed", v.cur.b.Name)
	}
	if err := v.cur.codec.Load(f); err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	aus, err := v.cur.encode(pts, key)
	if err != nil {
		return fmt.Errorf("encode: %s: %w", v.cur.b.Name, err)
	}
	return v.emit(aus)
}

// fallback replaces the failed hardware codec by libx264, which encodes f
// as a keyframe: the stream goes on, without a reconnect.
func (v *Video) fallback(cause error, f *media.VideoFrame, pts int64) error {
	start := time.Now()
	failed := v.cur
	failed.close(100 * time.Millisecond)
	if v.next != nil {
		go discard(v.next)
		v.next = nil
	}
	cfg := v.cfg
	cfg.Format = failed.b.format(v.cfg.Format) // libx264 takes the frames as they come
	s, err := v.open(x264Backend(), cfg, 0)
	if err != nil {
		return fmt.Errorf("%w; libx264 failed too: %v", cause, err)
	}
	v.cfg.Format = cfg.Format
	v.use(s)
	v.fallbacks.Add(1)
	v.log.Error("encoder failed: libx264 took over", "from", failed.b.Name, "error", oneLine(cause),
		"switch_ms", time.Since(start).Milliseconds())
	v.nextKey = f.PTS + v.cfg.KeyframeInterval
	return v.encodeOn(f, pts, true)
}

// discard closes a reopened codec that will not be used.
func discard(n *reopen) {
	<-n.done
	if n.s != nil {
		n.s.close(time.Second)
	}
}

// emit writes the codec's packets: parameter sets are taken from wherever
// the encoder gives them (extradata, a packet of their own, or in band
// before an IDR) and travel in Config on every keyframe; a packet without
// a picture is not written.
func (v *Video) emit(aus []au) error {
	for _, a := range aus {
		if len(a.SPS) > 0 && len(a.PPS) > 0 {
			v.sps, v.pps = a.SPS, a.PPS
			v.setRecord()
		}
		if !a.Picture {
			continue
		}
		if a.IDR && v.record == nil {
			return errors.New("encode: a keyframe without SPS/PPS")
		}
		// Timestamps never go back, whatever the codec: without B-frames
		// DTS is PTS, and a codec that switched in must not reorder.
		if v.lastDTS != 0 && a.dts <= v.lastDTS {
			a.dts = v.lastDTS + 1
		}
		v.lastDTS = a.dts
		p := &media.Packet{
			Kind:     media.KindVideo,
			Codec:    media.CodecH264,
			Data:     a.AVCC,
			PTS:      fromTimeBase(max(a.pts, a.dts), videoTimeBase),
			DTS:      fromTimeBase(a.dts, videoTimeBase),
			Keyframe: a.IDR,
		}
		if p.Keyframe {
			v.keyframes.Add(1)
			p.Config = v.record
		}
		if err := v.out.WritePacket(p); err != nil {
			return err
		}
	}
	return nil
}

func halfFrame(fps int) time.Duration { return time.Second / time.Duration(2*fps) }

// Flush drains the encoder at the end of the stream.
func (v *Video) Flush() error {
	if v.cur == nil || v.cur.closed {
		return nil
	}
	aus, err := v.cur.flush(v.cur.stall)
	if err != nil && !v.cur.b.Software() {
		// The end of the stream: what the hardware still held is lost,
		// the stop is clean all the same.
		v.log.Warn("encoder flush failed at the end", "encoder", v.cur.b.Name, "error", oneLine(err))
		return v.emit(aus)
	}
	if err != nil {
		return fmt.Errorf("encode: flush: %w", err)
	}
	return v.emit(aus)
}

// Close frees the encoder. Idempotent.
func (v *Video) Close() {
	if v.closed {
		return
	}
	v.closed = true
	if v.next != nil {
		discard(v.next)
		v.next = nil
	}
	if v.cur != nil {
		v.cur.close(time.Second)
	}
	if v.scaler != nil {
		v.scaler.free()
		v.scaler = nil
	}
}

// scaler resizes frames (libswscale, bilinear) for the ladder of
// --abr-scale; capture and filters keep the full size.
type scaler struct {
	sws      *astiav.SoftwareScaleContext
	src, dst *astiav.Frame
	pf       media.PixelFormat
	out      media.VideoFrame
}

func newScaler(pf media.PixelFormat, inW, inH, w, h int) (*scaler, error) {
	s := &scaler{pf: pf, out: media.VideoFrame{Format: pf, Width: w, Height: h}}
	var err error
	s.sws, err = astiav.CreateSoftwareScaleContext(inW, inH, avFormat(pf), w, h, avFormat(pf),
		astiav.NewSoftwareScaleContextFlags(astiav.SoftwareScaleContextFlagBilinear))
	if err != nil {
		return nil, fmt.Errorf("encode: scaler %dx%d → %dx%d: %w", inW, inH, w, h, err)
	}
	for _, f := range []struct {
		p    **astiav.Frame
		w, h int
	}{{&s.src, inW, inH}, {&s.dst, w, h}} {
		*f.p = astiav.AllocFrame()
		(*f.p).SetWidth(f.w)
		(*f.p).SetHeight(f.h)
		(*f.p).SetPixelFormat(avFormat(pf))
		if err := (*f.p).AllocBuffer(0); err != nil {
			s.free()
			return nil, fmt.Errorf("encode: frame buffer: %w", err)
		}
	}
	return s, nil
}

// scale returns f at the scaler's size (valid until the next call).
func (s *scaler) scale(f *media.VideoFrame) (*media.VideoFrame, error) {
	if err := loadFrame(s.src, s.pf, f); err != nil {
		return nil, err
	}
	if err := s.sws.ScaleFrame(s.src, s.dst); err != nil {
		return nil, fmt.Errorf("encode: scale: %w", err)
	}
	s.out.PTS = f.PTS
	for i := range s.pf.Planes() {
		_, rows := media.PlaneSize(s.out.Width, s.out.Height, i)
		s.out.Planes[i], s.out.Strides[i] = avframe.Plane(s.dst, i, rows)
	}
	return &s.out, nil
}

func (s *scaler) free() {
	if s.sws != nil {
		s.sws.Free()
	}
	for _, f := range []*astiav.Frame{s.src, s.dst} {
		if f != nil {
			f.Free()
		}
	}
}

// oneLine is an error's text on one line (FFmpeg's can span several).
func oneLine(err error) string { return strings.Join(strings.Fields(err.Error()), " ") }

// toTimeBase converts a pipeline time to ticks of tb, rounding to nearest.
func toTimeBase(d time.Duration, tb astiav.Rational) int64 {
	num, den := int64(tb.Num()), int64(tb.Den())
	// d[ns] * den / (num * 1e9)
	q := num * int64(time.Second)
	n := int64(d) * den
	if n >= 0 {
		return (n + q/2) / q
	}
	return -((-n + q/2) / q)
}

// fromTimeBase converts ticks of tb to a pipeline time.
func fromTimeBase(ts int64, tb astiav.Rational) time.Duration {
	return time.Duration(ts * int64(tb.Num()) * int64(time.Second) / int64(tb.Den()))
}
