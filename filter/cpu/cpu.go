// Package cpu is the filter stage's CPU backend: the passes of
// filter/spec as one libavfilter graph, for machines without a usable GPU,
// after the beauty pass, which is C of our own (beauty.c): libavfilter has
// no guided filter, and its bilateral costs five times as much.
//
// # The graph
//
// Built once in Open for an input of the output's size (and again, the
// same way, when the input's size changes), fed and drained once per
// frame. With every filter asked for (spec order, see filter/spec):
//
//	[in]  buffer (yuv420p, BT.709 limited range: the frames)
//	      scale=W:H                      only when the input is not W×H
//	      (beauty: spec.Beauty on Y — see below)
//	      lutyuv=y='…':u='…':v='…'       colour: brightness, contrast, saturation
//	      scale=…,format=gbrpf32le,lut3d=…:interp=trilinear,scale=…,format=yuv420p
//	                                     the 3D LUT, in full-range RGB
//	[m][wm]  overlay (eof_action=repeat) the watermark
//	[t][txt] overlay                     the text box
//	      format=yuv420p|nv12 [out] buffersink
//	                                     the format Open is asked for
//
// [wm] is a buffer source given the logo once, converted to yuva420p in Go
// (media/yuv's maths), then ended: the overlay repeats it for ever. [txt]
// is a buffer source given the text box with every frame, by reference:
// the box is converted to yuva420p only when its text changes. The passes
// follow spec.Reference to a code value or two.
//
// Beauty runs between the scale and the rest: on a frame of the output's
// size it writes the graph's input frame's Y (copying U and V) straight
// from the frame given; on a frame of another size, a graph of its own
// ([in]scale=W:H,format=yuv420p[out]) scales it first, and beauty writes
// the main graph's input from that one's output. Graph is the main
// graph's description either way.
//
// A frame is copied twice: into the graph's input frame (from a buffer
// pool of our own, so that steady state allocates nothing; with beauty,
// beauty writes its Y) and out of the sink's frame into one of the
// Filter's pooled media.VideoFrames, of the format the sink gives. For
// NV12, the swscale lavfi puts before the last format filter interleaves
// U and V (its unscaled yuv420p to nv12 path, a copy); where that filter
// follows the scale of an input of another size, the scale writes NV12
// itself, rounding within a code value of what it writes as yuv420p. The
// graphs are synchronous: each Filter call writes its frame before it
// returns, and Flush has nothing to do.
package cpu

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"time"

	"github.com/asticode/go-astiav"

	"github.com/golive/golive/filter/spec"
	"github.com/golive/golive/media"
	"github.com/golive/golive/media/avframe"
)

// Filter runs the passes on frames; it implements spec.Backend. Not safe
// for concurrent use.
type Filter struct {
	a    *spec.Assets
	out  media.VideoWriter
	pf   media.PixelFormat  // the output's: I420 or NV12
	avPF astiav.PixelFormat // the same, as the sink gives it
	pool *media.FramePool

	graph              *astiav.FilterGraph
	src, wmSrc, txtSrc *astiav.FilterContext
	sink               *astiav.FilterContext
	desc               string // the graph's description
	inW, inH           int    // the input size the graph is built for
	inPool             *bufferPool

	// Beauty (nil: none): on the frame given, or, for an input of
	// another size, on the scale graph's output (scaled), into a frame
	// of bPool for the main graph.
	beauty              *beauty
	scaleGraph          *astiav.FilterGraph
	scaleSrc, scaleSink *astiav.FilterContext
	scaled              *astiav.Frame
	bPool               *bufferPool

	inFrame, outFrame *astiav.Frame
	wmFrame, txtFrame *astiav.Frame
	keepRef, noFlags  astiav.BuffersrcFlags
	textDrawn         bool
	textLast          string         // the text txtFrame shows
	textUnix          int64          // the second Render was last asked about
	textLoc           *time.Location // and its zone
	n                 int64          // the graph's timestamps: frames fed
	stamps            [stampRing]stamp
	closed            bool
}

// stamp is what an input frame's output takes over: the graph keeps only
// its own timestamp (n), which indexes them.
type stamp struct {
	pts time.Duration
	seq uint64
}

// A synchronous graph gives a frame back for each one fed, so one slot
// would do; a few more cost nothing.
const stampRing = 8

var _ spec.Backend = (*Filter)(nil)

// Open builds the graph for a (its Width and Height are the output size;
// a.LUT, when set, is written to a temporary .cube file for lut3d, which
// reads it while the graph is built). Frames of format pf (the zero value:
// I420; or NV12) go to out. A graph that cannot be built (a broken LUT, an
// option lavfi rejects) is an error wrapping spec.ErrBadOption.
func Open(a *spec.Assets, pf media.PixelFormat, out media.VideoWriter) (*Filter, error) {
	if a.Width <= 0 || a.Height <= 0 {
		return nil, fmt.Errorf("%w: cpu: output size %dx%d", spec.ErrBadOption, a.Width, a.Height)
	}
	pf, err := spec.OutputFormat(pf)
	if err != nil {
		return nil, fmt.Errorf("cpu: %w", err)
	}
	avPF := astiav.PixelFormatYuv420P
	if pf == media.PixelFormatNV12 {
		avPF = astiav.PixelFormatNv12
	}
	if a.LUT == nil && a.Options.LUT != "" {
		// Assets not from spec.Load: read the file now, so that a missing
		// or broken one fails here.
		l, err := spec.LoadCube(a.Options.LUT)
		if err != nil {
			return nil, fmt.Errorf("cpu: %w", err)
		}
		b := *a
		b.LUT = l
		a = &b
	}
	if a.LUT != nil {
		if err := checkLUT(a.LUT); err != nil {
			return nil, fmt.Errorf("cpu: %w", err)
		}
	}
	f := &Filter{
		a: a, out: out, pf: pf, avPF: avPF, pool: media.NewFramePoolOf(pf, a.Width, a.Height),
		keepRef: astiav.NewBuffersrcFlags(astiav.BuffersrcFlagKeepRef),
		noFlags: astiav.NewBuffersrcFlags(),
	}
	if err := f.open(); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

func (f *Filter) open() error {
	f.inFrame, f.outFrame = astiav.AllocFrame(), astiav.AllocFrame()
	if f.inFrame == nil || f.outFrame == nil {
		return errors.New("cpu: cannot allocate frames")
	}
	if f.a.Watermark != nil {
		f.wmFrame = astiav.AllocFrame()
		if f.wmFrame == nil {
			return errors.New("cpu: cannot allocate frames")
		}
		if err := fillNRGBA(f.wmFrame, f.a.Watermark); err != nil {
			return fmt.Errorf("cpu: watermark: %w", err)
		}
	}
	if f.a.Text != nil {
		if f.txtFrame = astiav.AllocFrame(); f.txtFrame == nil {
			return errors.New("cpu: cannot allocate frames")
		}
	}
	if f.a.Beauty > 0 && !legacyBeauty {
		f.beauty = newBeauty(f.a.Beauty, f.a.Width, f.a.Height)
		if f.scaled = astiav.AllocFrame(); f.scaled == nil {
			return errors.New("cpu: cannot allocate frames")
		}
	}
	if err := f.build(f.a.Width, f.a.Height); err != nil {
		return fmt.Errorf("%w: %v", spec.ErrBadOption, err)
	}
	return nil
}

// Name is the backend's name.
func (f *Filter) Name() string { return "cpu: libavfilter" }

// Graph is the description the graph was last built from.
func (f *Filter) Graph() string { return f.desc }

// build (re)builds the graph for an inW×inH input.
func (f *Filter) build(inW, inH int) error {
	f.freeGraph()
	lutPath := ""
	if f.a.LUT != nil {
		tmp, err := os.CreateTemp("", "golive-lut-*.cube")
		if err != nil {
			return fmt.Errorf("cpu: --lut: %w", err)
		}
		lutPath = tmp.Name()
		tmp.Close()
		defer os.Remove(lutPath)
		if err := writeCube(lutPath, f.a.LUT); err != nil {
			return fmt.Errorf("cpu: --lut: %w", err)
		}
	}
	// With beauty, the main graph takes frames of the output size: a
	// frame of another size goes through the scale graph first.
	mainW, mainH := inW, inH
	if f.beauty != nil {
		mainW, mainH = f.a.Width, f.a.Height
		if inW != mainW || inH != mainH {
			desc := scaleDesc(f.a.Width, f.a.Height)
			if err := f.buildScaleGraph(desc, inW, inH); err != nil {
				f.freeGraph()
				return fmt.Errorf("cpu: graph %q: %w", desc, err)
			}
			if f.bPool == nil {
				if f.bPool = newBufferPool(mainW, mainH, false); f.bPool == nil {
					return errors.New("cpu: cannot allocate a buffer pool")
				}
			}
		}
	}
	desc := describe(f.a, f.pf, mainW, mainH, lutPath)
	if err := f.buildGraph(desc, mainW, mainH); err != nil {
		f.freeGraph()
		return fmt.Errorf("cpu: graph %q: %w", desc, err)
	}
	f.desc, f.inW, f.inH = desc, inW, inH
	if f.inPool == nil || f.inPool.w != inW || f.inPool.h != inH {
		f.inPool.free()
		if f.inPool = newBufferPool(inW, inH, false); f.inPool == nil {
			return errors.New("cpu: cannot allocate a buffer pool")
		}
	}
	if f.wmSrc != nil {
		// Given once, then ended: overlay's eof_action=repeat keeps it.
		// The Filter keeps its reference for the next rebuild.
		f.wmFrame.SetPts(0)
		if ret := srcAdd(f.wmSrc, f.wmFrame, f.keepRef); ret < 0 {
			return fmt.Errorf("cpu: watermark: %w", astiav.Error(ret))
		}
		if ret := srcEOF(f.wmSrc); ret < 0 {
			return fmt.Errorf("cpu: watermark: %w", astiav.Error(ret))
		}
	}
	return nil
}

func (f *Filter) buildGraph(desc string, inW, inH int) error {
	if f.graph = astiav.AllocFilterGraph(); f.graph == nil {
		return errors.New("cannot allocate a filter graph")
	}
	ins := []graphIn{{padIn, inW, inH, astiav.PixelFormatYuv420P, &f.src}}
	if f.a.Watermark != nil {
		w, h := overlaySize(f.a.Watermark.Rect.Dx(), f.a.Watermark.Rect.Dy())
		ins = append(ins, graphIn{padWM, w, h, astiav.PixelFormatYuva420P, &f.wmSrc})
	}
	if f.a.Text != nil {
		w, h := overlaySize(f.a.Text.Size().X, f.a.Text.Size().Y)
		ins = append(ins, graphIn{padText, w, h, astiav.PixelFormatYuva420P, &f.txtSrc})
	}
	return parseGraph(f.graph, desc, ins, &f.sink)
}

// buildScaleGraph builds the scale graph, desc, for an inW×inH input.
func (f *Filter) buildScaleGraph(desc string, inW, inH int) error {
	if f.scaleGraph = astiav.AllocFilterGraph(); f.scaleGraph == nil {
		return errors.New("cannot allocate a filter graph")
	}
	return parseGraph(f.scaleGraph, desc, []graphIn{{padIn, inW, inH, astiav.PixelFormatYuv420P, &f.scaleSrc}}, &f.scaleSink)
}

// graphIn is one buffer source of a graph: its pad name, its frames' size
// and format, and where its context goes (freeGraph frees it).
type graphIn struct {
	name string
	w, h int
	pf   astiav.PixelFormat
	ctx  **astiav.FilterContext
}

// parseGraph makes in g a buffer source for each of ins and a buffersink
// (into *sink), parses desc between them — the sources' outputs are the
// description's open inputs of their names, [out] its open output — and
// configures g.
func parseGraph(g *astiav.FilterGraph, desc string, ins []graphIn, sink **astiav.FilterContext) error {
	bufF, sinkF := astiav.FindFilterByName("buffer"), astiav.FindFilterByName("buffersink")
	if bufF == nil || sinkF == nil {
		return errors.New("filters buffer/buffersink missing from this FFmpeg build")
	}
	var err error
	for _, in := range ins {
		args := astiav.FilterArgs{
			"video_size":   fmt.Sprintf("%dx%d", in.w, in.h),
			"pix_fmt":      fmt.Sprint(int(in.pf)),
			"time_base":    "1/30",
			"pixel_aspect": "1/1",
		}
		if *in.ctx, err = g.NewFilterContext(bufF, in.name, args); err != nil {
			return fmt.Errorf("buffer %s: %w", args, err)
		}
	}
	if *sink, err = g.NewFilterContext(sinkF, padOut, nil); err != nil {
		return fmt.Errorf("buffersink: %w", err)
	}

	// The sources' outputs are the description's open inputs, and the
	// other way round.
	var outputs *astiav.FilterInOut
	inputs := astiav.AllocFilterInOut()
	defer func() {
		if outputs != nil {
			outputs.Free()
		}
		if inputs != nil {
			inputs.Free()
		}
	}()
	if inputs == nil {
		return errors.New("cannot allocate filter in/outs")
	}
	inputs.SetName(padOut)
	inputs.SetFilterContext(*sink)
	inputs.SetPadIdx(0)
	inputs.SetNext(nil)
	for i := len(ins) - 1; i >= 0; i-- {
		o := astiav.AllocFilterInOut()
		if o == nil {
			return errors.New("cannot allocate filter in/outs")
		}
		o.SetName(ins[i].name)
		o.SetFilterContext(*ins[i].ctx)
		o.SetPadIdx(0)
		o.SetNext(outputs)
		outputs = o
	}
	if err := g.Parse(desc, inputs, outputs); err != nil {
		// A failed parse frees every filter of the graph, ours too:
		// freeing them again would be a double free. (astiav's registry
		// of them keeps stale entries.)
		for _, in := range ins {
			*in.ctx = nil
		}
		*sink = nil
		return err
	}
	return g.Configure()
}

// Filter runs the graph on in (Released once copied in) and writes the
// result, now showing in the text.
func (f *Filter) Filter(in *media.VideoFrame, now time.Time) error {
	if f.closed {
		in.Release()
		return errors.New("cpu: Filter after Close")
	}
	if in.Format != media.PixelFormatI420 || in.Width <= 0 || in.Height <= 0 {
		in.Release()
		return fmt.Errorf("cpu: frame %dx%d of format %d: want I420", in.Width, in.Height, in.Format)
	}
	if f.graph == nil || in.Width != f.inW || in.Height != f.inH {
		// (No graph: the last rebuild failed.) Any frames still in the
		// old graph are lost with it; a synchronous graph holds none.
		if err := f.build(in.Width, in.Height); err != nil {
			in.Release()
			return err
		}
	}
	n := f.n
	f.n++
	f.stamps[n%stampRing] = stamp{in.PTS, in.Seq}
	if err := f.input(in); err != nil {
		return err
	}
	f.inFrame.SetPts(n)

	if f.txtSrc != nil {
		if err := f.updateText(now); err != nil {
			f.inFrame.Unref()
			return err
		}
		f.txtFrame.SetPts(n)
		if ret := srcAdd(f.txtSrc, f.txtFrame, f.keepRef); ret < 0 {
			f.inFrame.Unref()
			return fmt.Errorf("cpu: text: %w", astiav.Error(ret))
		}
	}
	// The source takes the frame's reference (and the pool buffer with
	// it): inFrame is empty again afterwards.
	if ret := srcAdd(f.src, f.inFrame, f.noFlags); ret < 0 {
		f.inFrame.Unref()
		return fmt.Errorf("cpu: feeding the graph: %w", astiav.Error(ret))
	}
	return f.drain()
}

// input fills inFrame, for the main graph, from in (Released): a copy,
// or beauty's output (after the scale graph, for an input of another
// size).
func (f *Filter) input(in *media.VideoFrame) error {
	defer in.Release()
	switch {
	case f.beauty == nil:
		if ret := f.inPool.get(f.inFrame); ret < 0 {
			return fmt.Errorf("cpu: input frame: %w", astiav.Error(ret))
		}
		f.copyIn(in)
	case f.scaleGraph == nil:
		if ret := f.inPool.get(f.inFrame); ret < 0 {
			return fmt.Errorf("cpu: input frame: %w", astiav.Error(ret))
		}
		f.beautyIn(in.Planes, in.Strides)
		runtime.KeepAlive(in) // (Released, deferred, anyway)
	default:
		// Scaled first: in into inFrame, through the scale graph into
		// scaled, and beauty from there into a frame of bPool.
		if ret := f.inPool.get(f.inFrame); ret < 0 {
			return fmt.Errorf("cpu: input frame: %w", astiav.Error(ret))
		}
		f.copyIn(in)
		if ret := srcAdd(f.scaleSrc, f.inFrame, f.noFlags); ret < 0 {
			f.inFrame.Unref()
			return fmt.Errorf("cpu: feeding the scale graph: %w", astiav.Error(ret))
		}
		if ret := sinkGet(f.scaleSink, f.scaled); ret < 0 {
			return fmt.Errorf("cpu: scale graph: %w", astiav.Error(ret))
		}
		defer f.scaled.Unref()
		if pf, w, h := f.scaled.PixelFormat(), f.scaled.Width(), f.scaled.Height(); pf != astiav.PixelFormatYuv420P || w != f.a.Width || h != f.a.Height {
			return fmt.Errorf("cpu: scale graph gave a %dx%d %s frame, want %dx%d yuv420p", w, h, pf, f.a.Width, f.a.Height)
		}
		if ret := f.bPool.get(f.inFrame); ret < 0 {
			return fmt.Errorf("cpu: input frame: %w", astiav.Error(ret))
		}
		var planes [3][]byte
		var strides [3]int
		for p := range 3 {
			_, h := media.PlaneSize(f.a.Width, f.a.Height, p)
			planes[p], strides[p] = avframe.Plane(f.scaled, p, h)
		}
		f.beautyIn(planes, strides)
	}
	return nil
}

// beautyIn writes inFrame (of the output size) from an I420 picture of
// that size: Y through beauty, U and V copied.
func (f *Filter) beautyIn(planes [3][]byte, strides [3]int) {
	for p := range 3 {
		w, h := media.PlaneSize(f.a.Width, f.a.Height, p)
		dst, ls := avframe.Plane(f.inFrame, p, h)
		if p == 0 {
			f.beauty.run(dst, ls, planes[0], strides[0])
			continue
		}
		media.CopyPlane(dst, ls, planes[p], strides[p], w, h)
	}
}

// drain writes every frame the sink has.
func (f *Filter) drain() error {
	for {
		switch ret := sinkGet(f.sink, f.outFrame); {
		case ret == again:
			return nil
		case ret < 0:
			return fmt.Errorf("cpu: graph: %w", astiav.Error(ret))
		}
		// The graph ends in a format filter at the output size: a frame
		// of another layout would be read past its planes.
		pf, w, h := f.outFrame.PixelFormat(), f.outFrame.Width(), f.outFrame.Height()
		if pf != f.avPF || w != f.a.Width || h != f.a.Height {
			f.outFrame.Unref()
			return fmt.Errorf("cpu: graph gave a %dx%d %s frame, want %dx%d %s", w, h, pf, f.a.Width, f.a.Height, f.avPF)
		}
		o := f.pool.Get()
		f.copyOut(o)
		st := f.stamps[uint64(f.outFrame.Pts())%stampRing]
		f.outFrame.Unref()
		o.PTS, o.Seq = st.pts, st.seq
		if err := f.out.WriteVideo(o); err != nil {
			return err
		}
	}
}

// copyIn copies in's planes into inFrame.
func (f *Filter) copyIn(in *media.VideoFrame) {
	for p := range 3 {
		w, h := media.PlaneSize(in.Width, in.Height, p)
		dst, ls := avframe.Plane(f.inFrame, p, h)
		media.CopyPlane(dst, ls, in.Planes[p], in.Strides[p], w, h)
	}
}

// copyOut copies the sink's frame, of o's format and size, into o.
func (f *Filter) copyOut(o *media.VideoFrame) {
	for p := range o.Format.Planes() {
		_, rows := media.PlaneSize(o.Width, o.Height, p)
		src, ls := avframe.Plane(f.outFrame, p, rows)
		media.CopyPlane(o.Planes[p], o.Strides[p], src, ls, media.PlaneStride(o.Format, o.Width, p), rows)
	}
}

// updateText converts the text box into txtFrame when its text changed.
// Text.Render's own change flag is not enough: whoever else renders the
// same Text (a reference, a second backend) consumes it.
//
// Every conversion strftime knows counts whole seconds at most, so within
// the second last asked about the text cannot have changed: Render, which
// allocates to expand the template, runs once a second, not per frame.
func (f *Filter) updateText(now time.Time) error {
	sec, loc := now.Unix(), now.Location()
	if f.textDrawn && sec == f.textUnix && loc == f.textLoc {
		return nil
	}
	f.textUnix, f.textLoc = sec, loc
	img, changed := f.a.Text.Render(now)
	if !changed && f.textDrawn && f.a.Text.Last() == f.textLast {
		return nil
	}
	// The overlay may still hold the last box: write into a buffer of
	// our own.
	w, h := overlaySize(img.Rect.Dx(), img.Rect.Dy())
	if err := writeYUVA(f.txtFrame, w, h); err != nil {
		return fmt.Errorf("cpu: text: %w", err)
	}
	nrgbaToYUVA(f.txtFrame, img)
	f.textDrawn, f.textLast = true, f.a.Text.Last()
	return nil
}

// Flush has nothing to do: the graph holds no frame back.
func (f *Filter) Flush() error { return nil }

func (f *Filter) freeGraph() {
	// The contexts first: astiav registers them (for its log callback)
	// and only their own Free unregisters them; the graph frees the rest.
	for _, c := range []**astiav.FilterContext{&f.src, &f.wmSrc, &f.txtSrc, &f.sink} {
		if *c != nil {
			(*c).Free()
			*c = nil
		}
	}
	if f.graph != nil {
		f.graph.Free()
		f.graph = nil
	}
	for _, c := range []**astiav.FilterContext{&f.scaleSrc, &f.scaleSink} {
		if *c != nil {
			(*c).Free()
			*c = nil
		}
	}
	if f.scaleGraph != nil {
		f.scaleGraph.Free()
		f.scaleGraph = nil
	}
}

// Close frees the graph and every frame; idempotent.
func (f *Filter) Close() {
	if f.closed {
		return
	}
	f.closed = true
	f.freeGraph()
	for _, fr := range []**astiav.Frame{&f.inFrame, &f.outFrame, &f.wmFrame, &f.txtFrame, &f.scaled} {
		if *fr != nil {
			(*fr).Free()
			*fr = nil
		}
	}
	f.inPool.free()
	f.inPool = nil
	f.bPool.free()
	f.bPool = nil
}
