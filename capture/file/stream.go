package file

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/asticode/go-astiav"

	"github.com/golive/golive/media"
)

// stream is one played stream: its decoder and its conversion graph
// (buffer → filters → buffersink). It owns every astiav object in it.
type stream struct {
	kind  media.Kind
	index int
	st    *astiav.Stream
	tb    astiav.Rational // the stream's (and the buffer source's) time base

	dec   *astiav.CodecContext
	frame *astiav.Frame // decoded
	out   *astiav.Frame // converted

	graph     *astiav.FilterGraph
	src, sink *astiav.FilterContext
	sinkTB    astiav.Rational
	vkey      videoKey // what the graph was built for (video)
	akey      audioKey // (audio)
	rotation  int      // clockwise degrees (0, 90, 180, 270) from the display matrix

	// Per pass through the file: the next frame's expected timestamp (raw,
	// in tb), to stamp frames that have none and to close the graph.
	nextTS int64
	// offTS is the loop offset in tb, added to every raw timestamp.
	offTS int64
	// nextDTS: where the last packet ended (for fixDiscontinuity).
	nextDTS time.Duration
	dtsSeen bool
	// done: the graph has been closed at the end of the file; pending: it
	// may hold frames pull left there (video only).
	done, pending bool
}

func kindOf(t astiav.MediaType) media.Kind {
	if t == astiav.MediaTypeVideo {
		return media.KindVideo
	}
	return media.KindAudio
}

// openDecoder opens the stream's decoder (all cores: frame threads).
func (s *stream) openDecoder() error {
	cp := s.st.CodecParameters()
	if cp.CodecID() == astiav.CodecIDNone {
		return fmt.Errorf("%s stream %d: unknown codec (tag %q): FFmpeg cannot decode it", s.kind, s.index, tagString(uint32(cp.CodecTag())))
	}
	codec := astiav.FindDecoder(cp.CodecID())
	if codec == nil {
		return fmt.Errorf("%s stream %d: no decoder for codec %q in this FFmpeg build", s.kind, s.index, cp.CodecID().Name())
	}
	if s.dec = astiav.AllocCodecContext(codec); s.dec == nil {
		return errors.New("cannot allocate a codec context")
	}
	if err := cp.ToCodecContext(s.dec); err != nil {
		return fmt.Errorf("%s stream %d (%s): %w", s.kind, s.index, cp.CodecID().Name(), err)
	}
	setPktTimeBase(s.dec, s.tb)
	s.dec.SetThreadCount(0) // auto, like the ffmpeg command line
	if err := s.dec.Open(codec, nil); err != nil {
		return fmt.Errorf("%s stream %d: cannot open the %s decoder: %w", s.kind, s.index, codec.Name(), err)
	}
	s.frame, s.out = astiav.AllocFrame(), astiav.AllocFrame()
	if s.frame == nil || s.out == nil {
		return errors.New("cannot allocate frames")
	}
	s.nextTS = astiav.NoPtsValue
	if s.kind == media.KindVideo {
		s.rotation = rotationOf(s.st)
	}
	return nil
}

// tagString shows a FourCC.
func tagString(tag uint32) string {
	b := []byte{byte(tag), byte(tag >> 8), byte(tag >> 16), byte(tag >> 24)}
	for i, c := range b {
		if c < ' ' || c > '~' {
			b[i] = '.'
		}
	}
	return string(b)
}

// rotationOf is the clockwise rotation the file asks for (phones record
// portrait video as rotated landscape), rounded to a quarter turn.
func rotationOf(st *astiav.Stream) int {
	b := st.SideData(astiav.PacketSideDataTypeDisplaymatrix)
	if len(b) < 36 {
		return 0
	}
	m, err := astiav.NewDisplayMatrixFromBytes(b)
	if err != nil {
		return 0
	}
	r := math.Mod(math.Round(m.Rotation()), 360)
	if r < 0 {
		r += 360
	}
	switch {
	case math.Abs(r-90) < 1:
		return 90
	case math.Abs(r-180) < 1:
		return 180
	case math.Abs(r-270) < 1:
		return 270
	}
	return 0
}

// videoKey is what a video graph's input is built for.
type videoKey struct {
	w, h int
	fmt  astiav.PixelFormat
	full bool // full-range YUV
	sar  astiav.Rational
}

func (k videoKey) valid() bool { return k.w > 0 && k.h > 0 && k.fmt != astiav.PixelFormatNone }

func isFullRange(pf astiav.PixelFormat, r astiav.ColorRange) bool {
	switch pf {
	case astiav.PixelFormatYuvj420P, astiav.PixelFormatYuvj422P, astiav.PixelFormatYuvj444P,
		astiav.PixelFormatYuvj440P, astiav.PixelFormatYuvj411P:
		return true
	}
	return r == astiav.ColorRangeJpeg
}

func normSAR(r astiav.Rational) astiav.Rational {
	if r.Num() <= 0 || r.Den() <= 0 {
		return astiav.NewRational(1, 1)
	}
	return r
}

func videoKeyOf(fc *astiav.FormatContext, s *stream) videoKey {
	cc := s.dec
	return videoKey{w: cc.Width(), h: cc.Height(), fmt: cc.PixelFormat(),
		full: isFullRange(cc.PixelFormat(), cc.ColorRange()), sar: normSAR(fc.GuessSampleAspectRatio(s.st, nil))}
}

func frameVideoKey(fc *astiav.FormatContext, s *stream, f *astiav.Frame) videoKey {
	return videoKey{w: f.Width(), h: f.Height(), fmt: f.PixelFormat(),
		full: isFullRange(f.PixelFormat(), f.ColorRange()), sar: normSAR(fc.GuessSampleAspectRatio(s.st, f))}
}

func (k videoKey) same(o videoKey) bool {
	return k.w == o.w && k.h == o.h && k.fmt == o.fmt && k.full == o.full &&
		k.sar.Num()*o.sar.Den() == o.sar.Num()*k.sar.Den()
}

// audioKey is what an audio graph's input is built for.
type audioKey struct {
	rate     int
	fmt      astiav.SampleFormat
	channels int
}

func (k audioKey) valid() bool {
	return k.rate > 0 && k.channels > 0 && k.fmt != astiav.SampleFormatNone
}

func audioKeyOf(cc *astiav.CodecContext) audioKey {
	return audioKey{rate: cc.SampleRate(), fmt: cc.SampleFormat(), channels: decoderChannels(cc)}
}

func frameAudioKey(f *astiav.Frame) audioKey {
	return audioKey{rate: f.SampleRate(), fmt: f.SampleFormat(), channels: frameChannels(f)}
}

// fitSize is the largest even size with the picture's display aspect
// ratio (w*sar : h) that fits in W x H.
func fitSize(w, h int, sar astiav.Rational, W, H int) (int, int) {
	dw := float64(w) * float64(sar.Num()) / float64(sar.Den()) // display width
	dh := float64(h)
	even := func(v float64) int { return max(2, 2*int(math.Round(v/2))) }
	if dw*float64(H) >= float64(W)*dh { // wider than the frame: bars above and below
		return W, min(H, even(float64(W)*dh/dw))
	}
	return min(W, even(float64(H)*dw/dh)), H
}

// videoFilters is the conversion chain for input k: rotate, scale into
// W x H keeping the aspect ratio, pad with black, I420 BT.709 limited
// range, constant FPS. The fps filter goes first when it drops frames (less
// to scale), last when it repeats them.
func videoFilters(cfg *Config, k videoKey, rotation int, srcRate astiav.Rational) string {
	w, h, sar := k.w, k.h, k.sar
	var chain string
	switch rotation {
	case 90:
		chain = "transpose=clock,"
	case 180:
		chain = "hflip,vflip,"
	case 270:
		chain = "transpose=cclock,"
	}
	if rotation == 90 || rotation == 270 {
		w, h, sar = h, w, astiav.NewRational(sar.Den(), sar.Num())
	}
	sw, sh := fitSize(w, h, sar, cfg.Width, cfg.Height)
	chain += "scale=" + strconv.Itoa(sw) + ":" + strconv.Itoa(sh)
	switch {
	case isRGB(k.fmt):
		chain += ":out_color_matrix=bt709:out_range=tv"
	case k.full:
		chain += ":out_range=tv"
	}
	// (YUV to YUV needs no matrix: swscale copies the samples. Without
	// options, a picture already in the output's size and format passes
	// through without a copy.)
	chain += ",format=yuv420p,setsar=1"
	if sw != cfg.Width || sh != cfg.Height {
		chain += ",pad=" + strconv.Itoa(cfg.Width) + ":" + strconv.Itoa(cfg.Height) + ":(ow-iw)/2:(oh-ih)/2:black"
	}
	fps := "fps=" + strconv.Itoa(cfg.FPS)
	if srcRate.Num() > 0 && srcRate.Den() > 0 && srcRate.Float64() > float64(cfg.FPS)+0.01 {
		return fps + "," + chain
	}
	return chain + "," + fps
}

func audioFilters(cfg *Config) string {
	layout := "stereo"
	if cfg.Channels == 1 {
		layout = "mono"
	}
	return "aresample=" + strconv.Itoa(cfg.SampleRate) + ",aformat=sample_fmts=s16:channel_layouts=" + layout
}

// buildVideoGraph (re)builds the video conversion graph for input k.
func (s *stream) buildVideoGraph(cfg *Config, k videoKey) error {
	if !k.valid() {
		return nil // unknown until the first frame
	}
	args := astiav.FilterArgs{
		"video_size":   strconv.Itoa(k.w) + "x" + strconv.Itoa(k.h),
		"pix_fmt":      strconv.Itoa(int(k.fmt)),
		"time_base":    s.tb.String(),
		"pixel_aspect": k.sar.String(),
	}
	rate := s.st.AvgFrameRate()
	if rate.Num() <= 0 || rate.Den() <= 0 {
		rate = s.st.RFrameRate()
	}
	if rate.Num() > 0 && rate.Den() > 0 {
		args["frame_rate"] = rate.String()
	}
	desc := videoFilters(cfg, k, s.rotation, rate)
	if err := s.buildGraph("buffer", "buffersink", args, desc); err != nil {
		return fmt.Errorf("%q: %w", desc, err)
	}
	s.vkey = k
	return nil
}

// buildAudioGraph (re)builds the audio conversion graph for input k.
func (s *stream) buildAudioGraph(cfg *Config, k audioKey) error {
	if !k.valid() {
		return nil
	}
	layout := layoutName(s.dec)
	if layout == "" {
		return fmt.Errorf("%d channels: no channel layout", k.channels)
	}
	args := astiav.FilterArgs{
		"sample_rate":    strconv.Itoa(k.rate),
		"sample_fmt":     k.fmt.Name(),
		"channel_layout": layout,
		"time_base":      s.tb.String(),
	}
	desc := audioFilters(cfg)
	if err := s.buildGraph("abuffer", "abuffersink", args, desc); err != nil {
		return fmt.Errorf("%q: %w", desc, err)
	}
	s.akey = k
	return nil
}

// buildGraph makes src → desc → sink, replacing the current graph.
func (s *stream) buildGraph(srcName, sinkName string, args astiav.FilterArgs, desc string) error {
	s.freeGraph()
	if s.graph = astiav.AllocFilterGraph(); s.graph == nil {
		return errors.New("cannot allocate a filter graph")
	}
	srcF, sinkF := astiav.FindFilterByName(srcName), astiav.FindFilterByName(sinkName)
	if srcF == nil || sinkF == nil {
		return fmt.Errorf("filters %s/%s missing from this FFmpeg build", srcName, sinkName)
	}
	var err error
	if s.src, err = s.graph.NewFilterContext(srcF, "in", args); err != nil {
		return fmt.Errorf("%s %s: %w", srcName, args, err)
	}
	if s.sink, err = s.graph.NewFilterContext(sinkF, "out", nil); err != nil {
		return fmt.Errorf("%s: %w", sinkName, err)
	}
	outputs, inputs := astiav.AllocFilterInOut(), astiav.AllocFilterInOut()
	defer func() {
		if outputs != nil {
			outputs.Free()
		}
		if inputs != nil {
			inputs.Free()
		}
	}()
	if outputs == nil || inputs == nil {
		return errors.New("cannot allocate filter in/outs")
	}
	outputs.SetName("in")
	outputs.SetFilterContext(s.src)
	outputs.SetPadIdx(0)
	outputs.SetNext(nil)
	inputs.SetName("out")
	inputs.SetFilterContext(s.sink)
	inputs.SetPadIdx(0)
	inputs.SetNext(nil)
	if err := s.graph.Parse(desc, inputs, outputs); err != nil {
		// A failed parse frees every filter of the graph, src and sink
		// too: freeing them again would be a double free.
		s.src, s.sink = nil, nil
		return err
	}
	if err := s.graph.Configure(); err != nil {
		return err
	}
	links := s.sink.Inputs()
	if len(links) == 0 {
		return errors.New("buffersink has no input")
	}
	s.sinkTB = links[0].TimeBase()
	s.done = false
	return nil
}

func (s *stream) freeGraph() {
	// src and sink first: astiav registers them (for its log callback)
	// and only their own Free unregisters them; the graph frees the rest.
	if s.src != nil {
		s.src.Free()
	}
	if s.sink != nil {
		s.sink.Free()
	}
	if s.graph != nil {
		s.graph.Free()
	}
	s.graph, s.src, s.sink = nil, nil, nil
}

// free releases every astiav object of the stream. Idempotent.
func (s *stream) free() {
	s.freeGraph()
	if s.frame != nil {
		s.frame.Free()
		s.frame = nil
	}
	if s.out != nil {
		s.out.Free()
		s.out = nil
	}
	if s.dec != nil {
		s.dec.Free()
		s.dec = nil
	}
}

// frameDuration is how long the decoded frame f lasts, in tb (0 when
// unknown).
func (s *stream) frameDuration(f *astiav.Frame) int64 {
	if s.kind == media.KindAudio {
		if r := f.SampleRate(); r > 0 {
			return rescale(int64(f.NbSamples()), astiav.NewRational(1, r), s.tb)
		}
		return 0
	}
	if d := pktDuration(f); d > 0 {
		return d
	}
	r := s.st.AvgFrameRate()
	if r.Num() <= 0 || r.Den() <= 0 {
		r = s.st.RFrameRate()
	}
	if r.Num() > 0 && r.Den() > 0 {
		return rescale(1, astiav.NewRational(r.Den(), r.Num()), s.tb)
	}
	return 0
}
