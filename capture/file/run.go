package file

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"time"

	"github.com/asticode/go-astiav"

	"github.com/golive/golive/media"
	"github.com/golive/golive/media/avframe"
)

const (
	// maxLate is how far behind the clock playback may fall (a file that
	// cannot be decoded in real time, a stalled disk) before the mapping
	// slips forward instead of emitting ever older timestamps.
	maxLate = time.Second
	// audioResyncGap: a jump in the audio timestamps smaller than this is
	// jitter and ignored (demuxers interpolate timestamps, and some do it
	// badly); larger, it is filled with silence (a gap) or cut (an
	// overlap), so that the audio stays continuous and in sync. It stays
	// below what a viewer notices as lip-sync error (~45 ms).
	audioResyncGap = 40 * time.Millisecond
	// audioResyncExact replaces it for the first audio after a loop point
	// or a format change, where a gap is known to be real (audio shorter
	// than the video, say) and would otherwise add up pass after pass.
	audioResyncExact = time.Millisecond
	// audioMaxFill bounds what a gap or an overlap may insert or cut; past
	// it, the timestamps are broken and the audio simply carries on.
	audioMaxFill = 10 * time.Second
	// discontinuityJump and discontinuityBack: how far a stream's DTS may
	// move ahead of, or back from, where the previous packet ended before
	// fixDiscontinuity takes it for a discontinuity.
	discontinuityJump = 10 * time.Second
	discontinuityBack = 100 * time.Millisecond
)

// player is Run's state.
type player struct {
	start time.Duration // the clock when Run started
	slip  time.Duration // added after falling behind
	timer *time.Timer

	// The file's timeline in this pass (raw file time) and the offset
	// added for the passes before it.
	loopOffset          time.Duration
	loopStart, loopEnd  time.Duration
	loopSeen            bool
	loops               int
	firstSet, inputDone bool
	tsFix               time.Duration // see fixDiscontinuity

	// Video waiting for its turn, in PTS order, PTS in file time.
	vq       []*media.VideoFrame
	vMax     int // past this, video goes out without waiting for audio
	vCap     int // the queue's hard limit (see pull)
	vStarted bool
	vLast    time.Duration // file time of the last frame queued
	seq      uint64

	// Audio: contiguous interleaved samples from sample index aHead (in
	// 1/SampleRate on the file's timeline).
	afifo    []int16
	aHead    int64
	aShift   int64 // accepted timestamp jumps (samples)
	aStarted bool
	aExact   bool // the next audio frame follows a loop point or a format change
	aMax     int  // samples (per channel)
	aframe   media.AudioFrame
	rateTB   astiav.Rational

	endDue time.Duration // pipeline time the last emitted frame ends

	srcFlags  astiav.BuffersrcFlags
	late      rated
	decodeErr rated
	drops     int64
}

// rated rate-limits a repeated warning: one line a second, with a count.
type rated struct {
	last time.Time
	n    int
}

func (r *rated) hit() (log bool, n int) {
	r.n++
	if now := time.Now(); now.Sub(r.last) >= time.Second {
		r.last, n, r.n = now, r.n, 0
		return true, n
	}
	return false, 0
}

// errStop ends Run without an error (ctx is done).
var errStop = errors.New("stop")

// Run plays the file in real time until its end (then it returns nil once
// the last frame's time has passed) or until ctx is done (nil). With Loop
// it never ends by itself. Damaged data is skipped and a read error ends
// the pass, with a warning, as ffmpeg does; Run returns an error when a
// writer fails, a converter fails, or, with Loop, the file cannot be
// sought or a pass yields nothing. Run demuxes, decodes, converts and emits
// from the calling goroutine and starts no other. Call it once.
func (f *File) Run(ctx context.Context) error {
	if f.closed {
		return fmt.Errorf("file: %s: Run after Close", f.cfg.Path)
	}
	if f.ran {
		return fmt.Errorf("file: %s: Run called twice", f.cfg.Path)
	}
	f.ran = true
	// One thread for the demuxer and the decoders: their buffers (a
	// packet of 1.4 MB a frame for raw video) are malloc'ed and freed on
	// it, so glibc hands the block just freed to the next packet from the
	// same arena. Hopping between the runtime's threads spread them over
	// an arena per thread, each keeping freed blocks: some 20 MB more
	// resident on a raw 720p file.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	p := &f.player
	p.init(&f.cfg)
	p.start = f.cfg.Clock.Now()
	defer p.stopTimer()
	defer p.releaseAll()

	for {
		if ctx.Err() != nil {
			return nil
		}
		if kind := f.nextOut(); kind != 0 {
			err := f.emit(ctx, kind)
			if errors.Is(err, errStop) {
				return nil
			}
			if err != nil {
				return err
			}
			continue
		}
		if f.video != nil && f.video.pending {
			// The video graph has more than fitted in the queue.
			if err := f.pull(f.video, true); err != nil {
				return err
			}
			continue
		}
		if p.inputDone {
			if !f.noPace {
				f.cfg.Clock.SleepUntil(ctx, f.player.timer, p.endDue)
			}
			f.log.Info("end of file", "path", f.cfg.Path, "frames", p.seq, "dropped", p.drops)
			return nil
		}
		if err := f.step(); err != nil {
			return err
		}
	}
}

func (p *player) init(cfg *Config) {
	p.vMax = max(2, cfg.FPS/2)
	p.vCap = 2 * p.vMax
	p.aMax = cfg.SampleRate
	p.afifo = make([]int16, 0, 2*cfg.SampleRate*cfg.Channels)
	p.vq = make([]*media.VideoFrame, 0, p.vCap+1)
	p.aframe = media.AudioFrame{SampleRate: cfg.SampleRate, Channels: cfg.Channels,
		Samples: make([]int16, AudioFrameSamples*cfg.Channels)}
	p.rateTB = astiav.NewRational(1, cfg.SampleRate)
	p.srcFlags = astiav.NewBuffersrcFlags()
	p.timer = time.NewTimer(time.Hour)
	p.timer.Stop()
}

func (p *player) stopTimer() {
	if p.timer != nil {
		p.timer.Stop()
	}
}

// releaseAll hands the queued frames back to their pool.
func (p *player) releaseAll() {
	for i, vf := range p.vq {
		vf.Release()
		p.vq[i] = nil
	}
	p.vq = p.vq[:0]
}

// step reads one packet and decodes and converts it; at the end of the file
// it drains everything, and loops or finishes.
func (f *File) step() error {
	if err := f.fc.ReadFrame(f.pkt); err != nil {
		if !errors.Is(err, astiav.ErrEof) {
			f.log.Warn("read error: taking it as the end of the file", "path", f.cfg.Path, "err", err)
		}
		return f.endOfFile()
	}
	defer f.pkt.Unref()
	var s *stream
	switch i := f.pkt.StreamIndex(); {
	case f.video != nil && i == f.video.index:
		s = f.video
	case f.audio != nil && i == f.audio.index:
		s = f.audio
	default:
		return nil
	}
	if f.discont {
		f.fixDiscontinuity(s)
	}
	return f.decode(s, f.pkt)
}

// fixDiscontinuity makes the timestamps of formats that allow them to jump
// (MPEG-TS: recordings cut and joined, a muxer restarted) continue instead,
// as ffmpeg does (its -dts_delta_threshold): a stream's DTS that moves back,
// or more than discontinuityJump ahead, sets a correction for every stream.
func (f *File) fixDiscontinuity(s *stream) {
	p, pkt := &f.player, f.pkt
	dts := pkt.Dts()
	if dts == astiav.NoPtsValue {
		return
	}
	t := tsToDur(dts, s.tb) + p.tsFix
	if s.dtsSeen {
		if delta := t - s.nextDTS; delta > discontinuityJump || delta < -discontinuityBack {
			p.tsFix -= delta
			t -= delta
			f.log.Info("timestamp discontinuity: carrying on", "stream", s.kind.String(), "jump", delta)
		}
	}
	s.dtsSeen, s.nextDTS = true, t+tsToDur(pkt.Duration(), s.tb)
	if p.tsFix != 0 {
		fix := durToTS(p.tsFix, s.tb)
		pkt.SetDts(dts + fix)
		if pts := pkt.Pts(); pts != astiav.NoPtsValue {
			pkt.SetPts(pts + fix)
		}
	}
}

// decode sends pkt (nil: drain) to s's decoder and converts what comes out.
// A damaged packet is skipped with a warning, as ffmpeg does.
func (f *File) decode(s *stream, pkt *astiav.Packet) error {
	if err := s.dec.SendPacket(pkt); err != nil && !errors.Is(err, astiav.ErrEof) {
		f.warnDecode(s, err)
		if !errors.Is(err, astiav.ErrEagain) {
			return nil
		}
	}
	for {
		switch ret := receiveFrame(s.dec, s.frame); {
		case ret == again || ret == eof:
			return nil
		case ret < 0:
			f.warnDecode(s, astiav.Error(ret))
			return nil
		}
		if err := f.convert(s); err != nil {
			return err
		}
	}
}

func (f *File) warnDecode(s *stream, err error) {
	if ok, n := f.player.decodeErr.hit(); ok {
		f.log.Warn("decode error: skipping damaged data", "stream", s.kind.String(), "err", err, "count", n)
	}
}

// convert stamps the decoded frame with its time on the looped timeline and
// feeds it to the conversion graph (rebuilt if the frame's format changed),
// then takes what the graph gives.
func (f *File) convert(s *stream) error {
	p, fr := &f.player, s.frame
	defer fr.Unref()
	ts := bestEffortTS(fr)
	if ts == astiav.NoPtsValue {
		if ts = s.nextTS; ts == astiav.NoPtsValue {
			ts = 0
		}
	}
	dur := s.frameDuration(fr)
	s.nextTS = ts + dur
	start, end := tsToDur(ts, s.tb), tsToDur(ts+dur, s.tb)
	if !p.loopSeen || start < p.loopStart {
		p.loopStart = start
	}
	if !p.loopSeen || end > p.loopEnd {
		p.loopEnd = end
	}
	p.loopSeen = true
	if !f.firstKnown && !p.firstSet {
		f.firstTS, p.firstSet = start, true
	}

	if err := f.checkGraph(s, ts); err != nil {
		return err
	}
	fr.SetPts(ts + s.offTS)
	if err := s.src.BuffersrcAddFrame(fr, p.srcFlags); err != nil {
		return fmt.Errorf("file: %s: %s converter: %w", f.cfg.Path, s.kind, err)
	}
	return f.pull(s, true)
}

// checkGraph rebuilds s's graph when the decoded frame does not match what
// it was built for (a file that changes resolution or sample rate midway),
// after draining the old one.
func (f *File) checkGraph(s *stream, ts int64) error {
	var build func() error
	if s.kind == media.KindVideo {
		k := frameVideoKey(f.fc, s, s.frame)
		if s.graph != nil && k.same(s.vkey) {
			return nil
		}
		build = func() error { return s.buildVideoGraph(&f.cfg, k) }
	} else {
		k := frameAudioKey(s.frame)
		if s.graph != nil && k == s.akey {
			return nil
		}
		build = func() error { return s.buildAudioGraph(&f.cfg, k) }
	}
	if s.graph != nil {
		f.log.Info("stream format changed: rebuilding the converter", "stream", s.kind.String())
		if err := closeBuffersrc(s.src, ts+s.offTS); err != nil {
			return fmt.Errorf("file: %s: %s converter: %w", f.cfg.Path, s.kind, err)
		}
		if err := f.pull(s, false); err != nil {
			return err
		}
	}
	if s.kind == media.KindAudio {
		f.player.aExact = true
	}
	if err := build(); err != nil {
		return fmt.Errorf("file: %s: %s converter: %w", f.cfg.Path, s.kind, err)
	}
	if s.graph == nil {
		return fmt.Errorf("file: %s: %s frames of unknown format", f.cfg.Path, s.kind)
	}
	return nil
}

// pull takes every frame the graph has ready; with capped, only until the
// video queue holds vCap frames (s.pending then says there may be more).
// The fps filter makes its frames on demand, so a jump ahead in the
// timestamps (a frame repeated for an hour) costs no memory.
func (f *File) pull(s *stream, capped bool) error {
	s.pending = false
	for {
		if capped && s.kind == media.KindVideo && len(f.player.vq) >= f.player.vCap {
			s.pending = true
			return nil
		}
		switch ret := sinkGetFrame(s.sink, s.out); {
		case ret == again || ret == eof:
			return nil
		case ret < 0:
			return fmt.Errorf("file: %s: %s converter: %w", f.cfg.Path, s.kind, astiav.Error(ret))
		}
		var err error
		if s.kind == media.KindVideo {
			err = f.takeVideo(s)
		} else {
			f.takeAudio(s)
		}
		s.out.Unref()
		if err != nil {
			return err
		}
	}
}

// takeVideo copies a converted frame into a pooled VideoFrame and queues it.
func (f *File) takeVideo(s *stream) error {
	p, out := &f.player, s.out
	if out.Width() != f.cfg.Width || out.Height() != f.cfg.Height || out.PixelFormat() != astiav.PixelFormatYuv420P {
		return fmt.Errorf("file: %s: converter gave %dx%d %s, want %dx%d yuv420p", f.cfg.Path,
			out.Width(), out.Height(), out.PixelFormat(), f.cfg.Width, f.cfg.Height)
	}
	t := tsToDur(out.Pts(), s.sinkTB)
	if p.vStarted && t <= p.vLast {
		p.drops++ // not after the last one (a rebuilt graph, broken timestamps)
		return nil
	}
	p.vStarted, p.vLast = true, t
	vf := f.pool.Get()
	for i := range 3 {
		w, h := media.PlaneSize(f.cfg.Width, f.cfg.Height, i)
		src, stride := avframe.Plane(out, i, h)
		if src == nil {
			vf.Release()
			return fmt.Errorf("file: %s: converter gave a frame without plane %d", f.cfg.Path, i)
		}
		media.CopyPlane(vf.Planes[i], vf.Strides[i], src, stride, w, h)
	}
	vf.PTS = t // file time until emitted
	p.vq = append(p.vq, vf)
	return nil
}

// takeAudio appends converted samples to the FIFO, keeping it contiguous on
// the sample grid (see audioResyncGap).
func (f *File) takeAudio(s *stream) {
	p, out, ch := &f.player, s.out, f.cfg.Channels
	data := samplesS16(out, ch)
	if len(data) == 0 || frameChannels(out) != ch {
		return
	}
	expected := p.aHead + int64(len(p.afifo)/ch) + p.aShift
	at := expected
	if pts := out.Pts(); pts != astiav.NoPtsValue {
		at = rescale(pts, s.sinkTB, p.rateTB)
	}
	if !p.aStarted {
		p.aHead, p.aStarted, expected = at, true, at
	}
	tol := durToTS(audioResyncGap, p.rateTB)
	if p.aExact {
		tol, p.aExact = durToTS(audioResyncExact, p.rateTB), false
	}
	maxFill := durToTS(audioMaxFill, p.rateTB)
	switch d := at - expected; {
	case d > maxFill || d < -maxFill:
		p.aShift += d
		f.log.Warn("audio timestamps jumped: carrying on", "by", tsToDur(d, p.rateTB))
	case d > tol: // a gap: silence
		for range d * int64(ch) {
			p.afifo = append(p.afifo, 0)
		}
	case d < -tol: // an overlap: cut
		cut := int(-d) * ch
		if cut >= len(data) {
			return
		}
		data = data[cut:]
	}
	p.afifo = append(p.afifo, data...)
}

// audioReady: a whole audio frame is queued, or the rest at the end.
func (f *File) audioReady() bool {
	n := len(f.player.afifo)
	return n >= AudioFrameSamples*f.cfg.Channels || (n > 0 && f.audio != nil && f.audio.done)
}

// nextOut decides what to emit next: the earlier of the two queue heads
// once both streams have one (or a stream has ended, or a queue is full,
// the file being badly interleaved); 0 means read on.
func (f *File) nextOut() media.Kind {
	p := &f.player
	vReady, aReady := len(p.vq) > 0, f.audioReady()
	vOpen := f.video != nil && (!f.video.done || f.video.pending)
	aOpen := f.audio != nil && !f.audio.done
	switch {
	case vReady && aReady:
		if p.vq[0].PTS <= tsToDur(p.aHead, p.rateTB) {
			return media.KindVideo
		}
		return media.KindAudio
	case vReady && (!aOpen || len(p.vq) >= p.vMax):
		return media.KindVideo
	case aReady && (!vOpen || len(p.afifo)/f.cfg.Channels >= p.aMax):
		return media.KindAudio
	}
	return 0
}

// emit sends the head of the kind's queue when its time comes.
func (f *File) emit(ctx context.Context, kind media.Kind) error {
	p := &f.player
	if kind == media.KindVideo {
		vf := p.vq[0]
		copy(p.vq, p.vq[1:])
		p.vq[len(p.vq)-1] = nil
		p.vq = p.vq[:len(p.vq)-1]
		due, ok := f.pace(ctx, vf.PTS)
		if !ok {
			vf.Release()
			return errStop
		}
		vf.PTS, vf.Seq = due, p.seq
		p.seq++
		p.endDue = max(p.endDue, due+time.Second/time.Duration(f.cfg.FPS))
		if err := f.cfg.Video.WriteVideo(vf); err != nil {
			return fmt.Errorf("file: %s: video frame %d: %w", f.cfg.Path, vf.Seq, err)
		}
		return nil
	}

	n := AudioFrameSamples * f.cfg.Channels
	for len(p.afifo) < n { // the end of the file: pad with silence
		p.afifo = append(p.afifo, 0)
	}
	copy(p.aframe.Samples, p.afifo[:n])
	p.afifo = p.afifo[:copy(p.afifo, p.afifo[n:])]
	t := tsToDur(p.aHead, p.rateTB)
	p.aHead += AudioFrameSamples
	due, ok := f.pace(ctx, t)
	if !ok {
		return errStop
	}
	p.aframe.PTS = due
	p.endDue = max(p.endDue, due+p.aframe.Duration())
	if f.cfg.Audio == nil {
		return nil
	}
	if err := f.cfg.Audio.WriteAudio(&p.aframe); err != nil {
		return fmt.Errorf("file: %s: audio at %v: %w", f.cfg.Path, due, err)
	}
	return nil
}

// pace maps file time t onto the pipeline clock and waits for it. It
// reports false when ctx is done first.
func (f *File) pace(ctx context.Context, t time.Duration) (time.Duration, bool) {
	p := &f.player
	due := p.start + t - f.firstTS + p.slip
	if f.noPace {
		return due, true
	}
	if late := f.cfg.Clock.Now() - due; late > maxLate {
		p.slip += late
		due += late
		if ok, n := p.late.hit(); ok {
			f.log.Warn("playback behind real time: skipping ahead", "path", f.cfg.Path, "late", late, "count", n)
		}
	}
	return due, f.cfg.Clock.SleepUntil(ctx, f.player.timer, due)
}

// endOfFile drains the decoders; then, with Loop, seeks back to the start
// and moves the timeline on by what this pass played, or else drains the
// graphs and marks the input done.
func (f *File) endOfFile() error {
	p := &f.player
	for _, s := range f.streams() {
		if err := f.decode(s, nil); err != nil {
			return err
		}
	}
	if f.cfg.Loop {
		played := p.loopEnd - p.loopStart
		if !p.loopSeen || played <= 0 {
			return fmt.Errorf("file: %s: nothing could be decoded: cannot loop it", f.cfg.Path)
		}
		p.loopOffset += played
		p.loopSeen = false
		p.loops++
		p.aExact = true
		p.tsFix = 0
		for _, s := range f.streams() {
			s.dtsSeen = false
			flushDecoder(s.dec)
			s.offTS = durToTS(p.loopOffset, s.tb)
			s.nextTS = astiav.NoPtsValue
		}
		if err := f.seekStart(); err != nil {
			return err
		}
		if f.log.Enabled(context.Background(), slog.LevelDebug) {
			f.log.Debug("looping", "path", f.cfg.Path, "pass", p.loops+1, "played", played)
		}
		return nil
	}
	for _, s := range f.streams() {
		if s.graph != nil {
			end := int64(astiav.NoPtsValue)
			if s.nextTS != astiav.NoPtsValue {
				end = s.nextTS + s.offTS
			}
			if err := closeBuffersrc(s.src, end); err != nil {
				return fmt.Errorf("file: %s: %s converter: %w", f.cfg.Path, s.kind, err)
			}
			if err := f.pull(s, true); err != nil {
				return err
			}
		}
		s.done = true
	}
	p.inputDone = true
	return nil
}

func (f *File) streams() []*stream { return f.all }

// seekStart goes back to the start of the file.
func (f *File) seekStart() error {
	ts := f.fc.StartTime()
	if ts == astiav.NoPtsValue {
		ts = 0
	}
	err := f.fc.SeekFrame(-1, ts, astiav.NewSeekFlags(astiav.SeekFlagBackward))
	if err != nil {
		err = f.fc.SeekFrame(-1, 0, astiav.NewSeekFlags(astiav.SeekFlagByte))
	}
	if err != nil {
		return fmt.Errorf("file: %s: cannot seek back to the start to loop: %w", f.cfg.Path, err)
	}
	return nil
}
