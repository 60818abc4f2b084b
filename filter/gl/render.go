package gl

import (
	"errors"
	"fmt"
	"image"
	"strings"
	"time"
	"unsafe"

	"github.com/go-gl/gl/v3.1/gles2"

	"github.com/golive/golive/filter/spec"
	"github.com/golive/golive/media"
	"github.com/golive/golive/shaders"
)

// Texture units, one per texture for the life of the context: nothing is
// rebound per frame.
const (
	unitY = iota
	unitU
	unitV
	unitSmooth
	unitRGB
	unitLUT
	unitWatermark
	unitText
	unitLd     // beauty's half-size luma
	unitGuided // beauty's two half-size targets: this unit and the next
	_
	unitPack // bound only so that no other unit's binding is disturbed; never sampled
)

// How long complete waits for the GPU before it gives the frame up.
const fenceTimeout = 5 * time.Second

// renderer holds the GL objects of one Filter. Every method runs on the
// GL thread.
type renderer struct {
	a    *spec.Assets
	w, h int               // output
	pf   media.PixelFormat // output: I420 or NV12
	pool *media.FramePool

	inW, inH int // the size the Y, U, V textures have now

	texY, texU, texV  uint32
	texSmooth, texRGB uint32 // pass targets
	texPack           uint32
	texLUT            uint32
	texWatermark      uint32
	texText           uint32
	fboSmooth         uint32
	fboRGB            uint32
	fboPack           uint32
	progMain          uint32
	// Beauty: guided.frag's passes at half size (hw×hh samples, two rows
	// a texel: hw×ht texels), DOWN into texLd, then the box passes,
	// ping-ponging between texGuided's two targets; beauty_smooth.frag's
	// into texSmooth. progDown and progSmooth: [0] reads an input of the
	// output's size texel by texel, [1] scales it.
	hw, hh, ht int
	texLd      uint32
	texGuided  [2]uint32
	fboLd      uint32
	fboGuided  [2]uint32
	progDown   [2]uint32
	progBox    [len(boxPasses)]uint32
	progSmooth [2]uint32
	// progPack: yuv_pack with LUMA and with CHROMA when split (the width
	// is a multiple of 8 for I420, of 4 for NV12), else the general one
	// alone; each with NV12 defined for NV12.
	progPack  [2]uint32
	packSplit bool
	locChroma int32 // main's uChroma, which follows the input size

	// The packed target: tw×th RGBA8 texels holding the frame's size
	// bytes.
	tw, th, size int

	pbo   [2]uint32
	fence [2]uintptr
	held  [2]heldFrame
	cur   int // the buffer the next frame is read into

	textSec   int64 // the wall-clock second the text was last rendered for
	textShown bool

	maxTex int32

	timing bool // glFinish between stages and add their times to stats
	stats  stats
}

// heldFrame is what a pixel pack buffer holds.
type heldFrame struct {
	busy bool
	pts  time.Duration
	seq  uint64
}

// stats are the stage times of timing mode.
type stats struct {
	frames                   int
	upload, passes, readback time.Duration
}

// boxPasses are guided.frag's box passes in order, each with the
// texGuided target it draws into. The first reads texLd, each other the
// target of the one before; beauty_smooth.frag reads the last's.
var boxPasses = [...]struct {
	def    string
	target int
}{{"MQ_H", 0}, {"COEF", 1}, {"AB_H", 0}, {"AB_V", 1}}

// newRenderer builds everything for a, to write frames of format pf (I420
// or NV12). It always returns a renderer, for free to undo whatever was
// made before an error.
func newRenderer(a *spec.Assets, pf media.PixelFormat) (*renderer, error) {
	r := &renderer{a: a, w: a.Width, h: a.Height, pf: pf, pool: media.NewFramePoolOf(pf, a.Width, a.Height)}
	r.hw, r.hh = (r.w+1)/2, (r.h+1)/2
	r.ht = (r.hh + 1) / 2
	var major int32
	gles2.GetIntegerv(gles2.MAJOR_VERSION, &major)
	if major < 3 {
		return r, fmt.Errorf("OpenGL ES 3 needed, the context is %q", glString(gles2.VERSION))
	}
	gles2.GetIntegerv(gles2.MAX_TEXTURE_SIZE, &r.maxTex)
	// Dithering is on by default and would perturb the exact code values
	// the passes write.
	gles2.Disable(gles2.DITHER)
	gles2.PixelStorei(gles2.UNPACK_ALIGNMENT, 1)
	gles2.PixelStorei(gles2.PACK_ALIGNMENT, 4)

	// I420 and NV12 have the same number of bytes; NV12's chroma rows are
	// twice as long, so that whole texels cover them at half I420's width.
	r.tw = (r.w + 3) / 4
	cw, ch := (r.w+1)/2, (r.h+1)/2
	r.size = r.w*r.h + 2*cw*ch
	r.th = (r.size + 4*r.tw - 1) / (4 * r.tw)
	r.packSplit = r.w%8 == 0 || pf == media.PixelFormatNV12 && r.w%4 == 0
	if int32(max(r.w, r.h, r.th)) > r.maxTex {
		return r, fmt.Errorf("%dx%d is larger than the GPU's textures (%d)", r.w, r.h, r.maxTex)
	}

	if err := r.programs(); err != nil {
		return r, err
	}

	r.texY = newTexture(unitY, gles2.LINEAR)
	r.texU = newTexture(unitU, gles2.LINEAR)
	r.texV = newTexture(unitV, gles2.LINEAR)
	var err error
	if a.Beauty > 0 {
		if r.texLd, r.fboLd, err = newTarget(unitLd, gles2.RG32UI, r.hw, r.ht); err != nil {
			return r, fmt.Errorf("beauty target: %w", err)
		}
		for i := range r.texGuided {
			if r.texGuided[i], r.fboGuided[i], err = newTarget(unitGuided+i, gles2.RGBA32UI, r.hw, r.ht); err != nil {
				return r, fmt.Errorf("beauty target: %w", err)
			}
		}
		if r.texSmooth, r.fboSmooth, err = newTarget(unitSmooth, gles2.RG32UI, r.w, (r.h+1)/2); err != nil {
			return r, fmt.Errorf("beauty target: %w", err)
		}
	}
	if r.texRGB, r.fboRGB, err = newTarget(unitRGB, gles2.RGB10_A2, r.w, r.h); err != nil {
		return r, fmt.Errorf("RGB target: %w", err)
	}
	if r.texPack, r.fboPack, err = newTarget(unitPack, gles2.RGBA8, r.tw, r.th); err != nil {
		return r, fmt.Errorf("%v target: %w", pf, err)
	}
	if a.LUT != nil {
		if err := r.lut(a.LUT); err != nil {
			return r, err
		}
	}
	if a.Watermark != nil {
		if sz := a.Watermark.Rect.Size(); int32(max(sz.X, sz.Y)) > r.maxTex {
			return r, fmt.Errorf("the watermark, %dx%d, is larger than the GPU's textures (%d): lower --watermark-scale", sz.X, sz.Y, r.maxTex)
		}
		r.texWatermark = newImage(unitWatermark, a.Watermark)
	}
	if a.Text != nil {
		sz := a.Text.Size()
		r.texText = newImage(unitText, image.NewNRGBA(image.Rect(0, 0, sz.X, sz.Y)))
	}

	gles2.GenBuffers(2, &r.pbo[0])
	for _, b := range r.pbo {
		gles2.BindBuffer(gles2.PIXEL_PACK_BUFFER, b)
		gles2.BufferData(gles2.PIXEL_PACK_BUFFER, 4*r.tw*r.th, nil, gles2.STREAM_READ)
	}
	gles2.BindBuffer(gles2.PIXEL_PACK_BUFFER, 0)
	gles2.ActiveTexture(gles2.TEXTURE0)
	if err := glError(); err != nil {
		return r, fmt.Errorf("setup: %w", err)
	}
	return r, nil
}

// programs compiles and links the passes a asks for and sets their
// uniforms, all but the input size's.
func (r *renderer) programs() error {
	a := r.a
	var err error
	if a.Beauty > 0 {
		if err := r.beautyPrograms(); err != nil {
			return err
		}
	}

	var defs []string
	if a.Beauty > 0 {
		defs = append(defs, "BEAUTY")
	}
	if a.Colour() {
		defs = append(defs, "COLOUR")
	}
	if a.LUT != nil {
		defs = append(defs, "LUT")
	}
	if a.Watermark != nil {
		defs = append(defs, "WATERMARK")
	}
	if a.Text != nil {
		defs = append(defs, "TEXT")
	}
	if r.progMain, err = program("main", shaders.Main, defs); err != nil {
		return err
	}
	p := r.progMain
	gles2.UseProgram(p)
	setInt(p, "uY", unitY)
	setInt(p, "uU", unitU)
	setInt(p, "uV", unitV)
	gles2.Uniform2f(loc(p, "uOut"), float32(r.w), float32(r.h))
	r.locChroma = loc(p, "uChroma")
	if a.Beauty > 0 {
		setInt(p, "uS", unitSmooth)
		gles2.Uniform1f(loc(p, "uBeauty"), float32(a.Beauty))
	}
	if a.Colour() {
		gles2.Uniform1f(loc(p, "uBrightness"), float32(a.Brightness))
		gles2.Uniform1f(loc(p, "uContrast"), float32(a.Contrast))
		gles2.Uniform1f(loc(p, "uSaturation"), float32(a.Saturation))
	}
	if l := a.LUT; l != nil {
		setInt(p, "uLUT", unitLUT)
		gles2.Uniform3f(loc(p, "uLUTMin"), float32(l.Min[0]), float32(l.Min[1]), float32(l.Min[2]))
		gles2.Uniform3f(loc(p, "uLUTScale"),
			float32(1/(l.Max[0]-l.Min[0])), float32(1/(l.Max[1]-l.Min[1])), float32(1/(l.Max[2]-l.Min[2])))
		gles2.Uniform1f(loc(p, "uLUTSize"), float32(l.Size))
	}
	if a.Watermark != nil {
		setInt(p, "uWatermark", unitWatermark)
		gles2.Uniform2i(loc(p, "uWatermarkAt"), int32(a.WatermarkAt.X), int32(a.WatermarkAt.Y))
	}
	if a.Text != nil {
		setInt(p, "uText", unitText)
		at := a.Text.At()
		gles2.Uniform2i(loc(p, "uTextAt"), int32(at.X), int32(at.Y))
	}

	variants := [][]string{nil}
	if r.packSplit {
		variants = [][]string{{"LUMA"}, {"CHROMA"}}
	}
	for i, defs := range variants {
		if r.pf == media.PixelFormatNV12 {
			defs = append(defs, "NV12")
		}
		if r.progPack[i], err = program("yuv_pack", shaders.YUVPack, defs); err != nil {
			return err
		}
		p := r.progPack[i]
		gles2.UseProgram(p)
		setInt(p, "uRGB", unitRGB)
		gles2.Uniform2i(loc(p, "uSize"), int32(r.w), int32(r.h))
		gles2.Uniform1i(loc(p, "uWidth"), int32(r.tw))
	}
	return nil
}

// beautyPrograms compiles and links beauty's passes and sets their
// uniforms.
func (r *renderer) beautyPrograms() error {
	var err error
	for scaled, defs := range [][]string{nil, {"SCALE"}} {
		if r.progDown[scaled], err = program("guided", shaders.Guided, append([]string{"DOWN"}, defs...)); err != nil {
			return err
		}
		if r.progSmooth[scaled], err = program("beauty_smooth", shaders.BeautySmooth, defs); err != nil {
			return err
		}
		for _, p := range []uint32{r.progDown[scaled], r.progSmooth[scaled]} {
			gles2.UseProgram(p)
			setInt(p, "uY", unitY)
			gles2.Uniform2f(loc(p, "uOut"), float32(r.w), float32(r.h))
			setInt(p, "uRows", int32(r.hh))
		}
		setInt(r.progSmooth[scaled], "uAB", int32(unitGuided+boxPasses[len(boxPasses)-1].target))
	}
	radius := fmt.Sprintf("R %d", spec.BeautyRadius(r.a.Beauty))
	for i, bp := range boxPasses {
		if r.progBox[i], err = program("guided", shaders.Guided, []string{bp.def, radius}); err != nil {
			return err
		}
		p := r.progBox[i]
		gles2.UseProgram(p)
		setInt(p, "uRows", int32(r.hh))
		if i == 0 {
			setInt(p, "uIn", unitLd)
		} else {
			setInt(p, "uIn", int32(unitGuided+boxPasses[i-1].target))
		}
		if bp.def == "COEF" {
			gles2.Uniform1f(loc(p, "uEps"), float32(spec.BeautyEps(r.a.Beauty)))
		}
	}
	return nil
}

// lut uploads the LUT as a 3D texture: RGB16F because entries may leave
// 0..1 and 8 bits would cost a code value; half floats filter linearly
// everywhere (32-bit floats need OES_texture_float_linear).
func (r *renderer) lut(l *spec.LUT) error {
	var max3D int32
	gles2.GetIntegerv(gles2.MAX_3D_TEXTURE_SIZE, &max3D)
	if int32(l.Size) > max3D {
		return fmt.Errorf("LUT of size %d is larger than the GPU's 3D textures (%d)", l.Size, max3D)
	}
	gles2.GenTextures(1, &r.texLUT)
	gles2.ActiveTexture(gles2.TEXTURE0 + unitLUT)
	gles2.BindTexture(gles2.TEXTURE_3D, r.texLUT)
	for _, p := range [][2]uint32{
		{gles2.TEXTURE_MIN_FILTER, gles2.LINEAR}, {gles2.TEXTURE_MAG_FILTER, gles2.LINEAR},
		{gles2.TEXTURE_WRAP_S, gles2.CLAMP_TO_EDGE}, {gles2.TEXTURE_WRAP_T, gles2.CLAMP_TO_EDGE},
		{gles2.TEXTURE_WRAP_R, gles2.CLAMP_TO_EDGE},
	} {
		gles2.TexParameteri(gles2.TEXTURE_3D, p[0], int32(p[1]))
	}
	n := int32(l.Size)
	gles2.TexImage3D(gles2.TEXTURE_3D, 0, gles2.RGB16F, n, n, n, 0, gles2.RGB, gles2.FLOAT, unsafe.Pointer(&l.Data[0]))
	if err := glError(); err != nil {
		return fmt.Errorf("LUT upload: %w", err)
	}
	return nil
}

// free deletes every object r made, each once.
func (r *renderer) free() {
	// A program in use or a bound object is only marked for deletion.
	gles2.UseProgram(0)
	gles2.BindFramebuffer(gles2.FRAMEBUFFER, 0)
	gles2.BindBuffer(gles2.PIXEL_PACK_BUFFER, 0)
	for i := range r.fence {
		if r.fence[i] != 0 {
			gles2.DeleteSync(r.fence[i])
			r.fence[i] = 0
		}
		r.held[i].busy = false
	}
	if r.pbo[0] != 0 {
		gles2.DeleteBuffers(2, &r.pbo[0])
		r.pbo = [2]uint32{}
	}
	for _, fb := range []*uint32{&r.fboLd, &r.fboGuided[0], &r.fboGuided[1], &r.fboSmooth, &r.fboRGB, &r.fboPack} {
		if *fb != 0 {
			gles2.DeleteFramebuffers(1, fb)
			*fb = 0
		}
	}
	for _, t := range []*uint32{&r.texY, &r.texU, &r.texV, &r.texLd, &r.texGuided[0], &r.texGuided[1],
		&r.texSmooth, &r.texRGB, &r.texPack, &r.texLUT, &r.texWatermark, &r.texText} {
		if *t != 0 {
			gles2.DeleteTextures(1, t)
			*t = 0
		}
	}
	progs := []*uint32{&r.progMain, &r.progPack[0], &r.progPack[1],
		&r.progDown[0], &r.progDown[1], &r.progSmooth[0], &r.progSmooth[1]}
	for i := range r.progBox {
		progs = append(progs, &r.progBox[i])
	}
	for _, p := range progs {
		if *p != 0 {
			gles2.DeleteProgram(*p)
			*p = 0
		}
	}
}

// filter renders in, starts reading it back into the free buffer and
// returns the frame before it, if one was held back.
func (r *renderer) filter(in *media.VideoFrame, now time.Time) (*media.VideoFrame, error) {
	t0 := time.Now()
	err := r.upload(in)
	pts, seq := in.PTS, in.Seq
	// The planes have been copied by the driver by now (glTexSubImage2D
	// from client memory returns only after taking the data).
	in.Release()
	if err != nil {
		return nil, err
	}
	r.text(now)
	t1 := r.mark(&r.stats.upload, t0)

	if r.a.Beauty > 0 {
		scaled := 0
		if r.inW != r.w || r.inH != r.h {
			scaled = 1
		}
		r.pass(r.fboLd, r.progDown[scaled], 0, r.hw, r.ht)
		for i, bp := range boxPasses {
			r.pass(r.fboGuided[bp.target], r.progBox[i], 0, r.hw, r.ht)
		}
		r.pass(r.fboSmooth, r.progSmooth[scaled], 0, r.w, (r.h+1)/2)
	}
	r.pass(r.fboRGB, r.progMain, 0, r.w, r.h)
	if r.packSplit {
		r.pass(r.fboPack, r.progPack[0], 0, r.tw, r.h)
		r.pass(r.fboPack, r.progPack[1], r.h, r.tw, r.th-r.h)
	} else {
		r.pass(r.fboPack, r.progPack[0], 0, r.tw, r.th)
	}
	t2 := r.mark(&r.stats.passes, t1)

	i := r.cur
	gles2.BindBuffer(gles2.PIXEL_PACK_BUFFER, r.pbo[i])
	gles2.ReadPixels(0, 0, int32(r.tw), int32(r.th), gles2.RGBA, gles2.UNSIGNED_BYTE, nil)
	gles2.BindBuffer(gles2.PIXEL_PACK_BUFFER, 0)
	r.fence[i] = gles2.FenceSync(gles2.SYNC_GPU_COMMANDS_COMPLETE, 0)
	// Submit now, so that the GPU works on this frame while the CPU
	// collects the one before.
	gles2.Flush()
	r.held[i] = heldFrame{busy: true, pts: pts, seq: seq}
	r.cur ^= 1
	if err := glError(); err != nil {
		return nil, fmt.Errorf("render: %w", err)
	}
	if r.timing {
		gles2.Finish()
	}

	var out *media.VideoFrame
	if r.held[r.cur].busy {
		out, err = r.complete(r.cur)
	}
	r.mark(&r.stats.readback, t2)
	r.stats.frames++
	return out, err
}

// flush returns the frame held back, if any.
func (r *renderer) flush() (*media.VideoFrame, error) {
	if !r.held[r.cur^1].busy {
		return nil, nil
	}
	t := time.Now()
	out, err := r.complete(r.cur ^ 1)
	r.mark(&r.stats.readback, t)
	return out, err
}

// mark adds the time since t to d in timing mode, after letting the GPU
// finish, and returns the new start.
func (r *renderer) mark(d *time.Duration, t time.Time) time.Time {
	if !r.timing {
		return t
	}
	gles2.Finish()
	now := time.Now()
	*d += now.Sub(t)
	return now
}

// pass draws prog over rows y..y+h-1 of fbo, w wide.
func (r *renderer) pass(fbo, prog uint32, y, w, h int) {
	gles2.BindFramebuffer(gles2.FRAMEBUFFER, fbo)
	gles2.Viewport(0, int32(y), int32(w), int32(h))
	gles2.UseProgram(prog)
	gles2.DrawArrays(gles2.TRIANGLES, 0, 3)
}

// upload copies the planes into the Y, U, V textures, resizing them to a
// new input size first.
func (r *renderer) upload(in *media.VideoFrame) error {
	w, h := in.Width, in.Height
	cw, ch := (w+1)/2, (h+1)/2
	if in.Format != media.PixelFormatI420 || w <= 0 || h <= 0 {
		return fmt.Errorf("input: want I420 with a size, got format %d %dx%d", in.Format, w, h)
	}
	for p, sz := range [3][2]int{{w, h}, {cw, ch}, {cw, ch}} {
		s := in.Strides[p]
		if s < sz[0] || len(in.Planes[p]) < (sz[1]-1)*s+sz[0] {
			return fmt.Errorf("input: plane %d too short for %dx%d (stride %d, %d bytes)", p, w, h, s, len(in.Planes[p]))
		}
	}
	if w != r.inW || h != r.inH {
		if int32(max(w, h)) > r.maxTex {
			return fmt.Errorf("input: %dx%d is larger than the GPU's textures (%d)", w, h, r.maxTex)
		}
		for _, t := range [3]struct {
			unit, w, h int
		}{{unitY, w, h}, {unitU, cw, ch}, {unitV, cw, ch}} {
			gles2.ActiveTexture(gles2.TEXTURE0 + uint32(t.unit))
			gles2.TexImage2D(gles2.TEXTURE_2D, 0, gles2.R8, int32(t.w), int32(t.h), 0, gles2.RED, gles2.UNSIGNED_BYTE, nil)
		}
		gles2.UseProgram(r.progMain)
		gles2.Uniform2f(r.locChroma, float32(w)/float32(2*cw), float32(h)/float32(2*ch))
		r.inW, r.inH = w, h
	}
	uploadPlane(unitY, in.Planes[0], in.Strides[0], w, h)
	uploadPlane(unitU, in.Planes[1], in.Strides[1], cw, ch)
	uploadPlane(unitV, in.Planes[2], in.Strides[2], cw, ch)
	gles2.PixelStorei(gles2.UNPACK_ROW_LENGTH, 0)
	return nil
}

func uploadPlane(unit int, p []byte, stride, w, h int) {
	gles2.ActiveTexture(gles2.TEXTURE0 + uint32(unit))
	gles2.PixelStorei(gles2.UNPACK_ROW_LENGTH, int32(stride))
	gles2.TexSubImage2D(gles2.TEXTURE_2D, 0, 0, 0, int32(w), int32(h), gles2.RED, gles2.UNSIGNED_BYTE, unsafe.Pointer(&p[0]))
}

// text re-uploads the text box when its string changes. Render is asked
// once per wall-clock second only: no strftime conversion changes faster,
// and Render formats (and allocates) on every call.
func (r *renderer) text(now time.Time) {
	if r.a.Text == nil {
		return
	}
	sec := now.Unix()
	if r.textShown && sec == r.textSec {
		return
	}
	// The first time, upload whatever Render says: it may have been
	// called before the Filter was opened.
	first := !r.textShown
	r.textSec, r.textShown = sec, true
	img, changed := r.a.Text.Render(now)
	if !changed && !first {
		return
	}
	gles2.ActiveTexture(gles2.TEXTURE0 + unitText)
	gles2.PixelStorei(gles2.UNPACK_ROW_LENGTH, int32(img.Stride/4))
	gles2.TexSubImage2D(gles2.TEXTURE_2D, 0, 0, 0, int32(img.Rect.Dx()), int32(img.Rect.Dy()),
		gles2.RGBA, gles2.UNSIGNED_BYTE, unsafe.Pointer(&img.Pix[0]))
	gles2.PixelStorei(gles2.UNPACK_ROW_LENGTH, 0)
}

// complete waits for buffer i's read to land and copies it into a frame
// from the pool.
func (r *renderer) complete(i int) (*media.VideoFrame, error) {
	held := r.held[i]
	r.held[i].busy = false
	err := waitFence(r.fence[i])
	gles2.DeleteSync(r.fence[i])
	r.fence[i] = 0
	if err != nil {
		return nil, err
	}
	gles2.BindBuffer(gles2.PIXEL_PACK_BUFFER, r.pbo[i])
	defer gles2.BindBuffer(gles2.PIXEL_PACK_BUFFER, 0)
	p := gles2.MapBufferRange(gles2.PIXEL_PACK_BUFFER, 0, r.size, gles2.MAP_READ_BIT)
	if p == nil {
		return nil, fmt.Errorf("readback: glMapBufferRange failed (%v)", glError())
	}
	src := unsafe.Slice((*byte)(p), r.size)
	f := r.pool.Get()
	// The pool's planes are tightly packed (strides w, cw, cw for I420;
	// w, 2·cw for NV12): the target's bytes go over as a run a plane.
	for i := range r.pf.Planes() {
		src = src[copy(f.Planes[i], src):]
	}
	f.PTS, f.Seq = held.pts, held.seq
	if !gles2.UnmapBuffer(gles2.PIXEL_PACK_BUFFER) {
		// The buffer's contents were lost while mapped (a mode switch,
		// a GPU reset): the copy may be garbage.
		f.Release()
		return nil, errors.New("readback: buffer contents lost while mapped")
	}
	return f, nil
}

func waitFence(s uintptr) error {
	deadline := time.Now().Add(fenceTimeout)
	for {
		switch gles2.ClientWaitSync(s, gles2.SYNC_FLUSH_COMMANDS_BIT, uint64(100*time.Millisecond)) {
		case gles2.ALREADY_SIGNALED, gles2.CONDITION_SATISFIED:
			return nil
		case gles2.TIMEOUT_EXPIRED:
			if time.Now().After(deadline) {
				return fmt.Errorf("readback: the GPU did not finish a frame in %v", fenceTimeout)
			}
		default:
			return fmt.Errorf("readback: glClientWaitSync failed (%v)", glError())
		}
	}
}

func newTexture(unit int, filter int32) uint32 {
	var t uint32
	gles2.GenTextures(1, &t)
	gles2.ActiveTexture(gles2.TEXTURE0 + uint32(unit))
	gles2.BindTexture(gles2.TEXTURE_2D, t)
	// Every texture needs a non-mipmap minifying filter to be complete,
	// also the ones only texelFetch reads.
	gles2.TexParameteri(gles2.TEXTURE_2D, gles2.TEXTURE_MIN_FILTER, filter)
	gles2.TexParameteri(gles2.TEXTURE_2D, gles2.TEXTURE_MAG_FILTER, filter)
	gles2.TexParameteri(gles2.TEXTURE_2D, gles2.TEXTURE_WRAP_S, gles2.CLAMP_TO_EDGE)
	gles2.TexParameteri(gles2.TEXTURE_2D, gles2.TEXTURE_WRAP_T, gles2.CLAMP_TO_EDGE)
	return t
}

// newTarget makes a w×h texture of the given format on unit and a
// framebuffer that renders into it.
func newTarget(unit int, format uint32, w, h int) (tex, fbo uint32, err error) {
	tex = newTexture(unit, gles2.NEAREST)
	gles2.TexStorage2D(gles2.TEXTURE_2D, 1, format, int32(w), int32(h))
	gles2.GenFramebuffers(1, &fbo)
	gles2.BindFramebuffer(gles2.FRAMEBUFFER, fbo)
	gles2.FramebufferTexture2D(gles2.FRAMEBUFFER, gles2.COLOR_ATTACHMENT0, gles2.TEXTURE_2D, tex, 0)
	if s := gles2.CheckFramebufferStatus(gles2.FRAMEBUFFER); s != gles2.FRAMEBUFFER_COMPLETE {
		err = fmt.Errorf("framebuffer incomplete (0x%x)", s)
	}
	gles2.BindFramebuffer(gles2.FRAMEBUFFER, 0)
	return tex, fbo, err
}

// newImage uploads a non-premultiplied RGBA image as a texture on unit.
func newImage(unit int, img *image.NRGBA) uint32 {
	t := newTexture(unit, gles2.NEAREST)
	w, h := img.Rect.Dx(), img.Rect.Dy()
	gles2.TexStorage2D(gles2.TEXTURE_2D, 1, gles2.RGBA8, int32(w), int32(h))
	gles2.PixelStorei(gles2.UNPACK_ROW_LENGTH, int32(img.Stride/4))
	gles2.TexSubImage2D(gles2.TEXTURE_2D, 0, 0, 0, int32(w), int32(h), gles2.RGBA, gles2.UNSIGNED_BYTE, unsafe.Pointer(&img.Pix[0]))
	gles2.PixelStorei(gles2.UNPACK_ROW_LENGTH, 0)
	return t
}

// program compiles quad.vert with frag (after #defines for defs: "NAME",
// defined as 1, or "NAME VALUE") and links them.
func program(name, frag string, defs []string) (uint32, error) {
	if len(defs) > 0 {
		version, rest, _ := strings.Cut(frag, "\n")
		var b strings.Builder
		b.WriteString(version + "\n")
		for _, d := range defs {
			if !strings.Contains(d, " ") {
				d += " 1"
			}
			b.WriteString("#define " + d + "\n")
		}
		// Keep the compiler's line numbers those of the file.
		b.WriteString("#line 2\n")
		b.WriteString(rest)
		frag = b.String()
	}
	vs, err := compile(gles2.VERTEX_SHADER, "quad.vert", shaders.Quad)
	if err != nil {
		return 0, err
	}
	defer gles2.DeleteShader(vs)
	fs, err := compile(gles2.FRAGMENT_SHADER, name+".frag", frag)
	if err != nil {
		return 0, err
	}
	defer gles2.DeleteShader(fs)
	p := gles2.CreateProgram()
	gles2.AttachShader(p, vs)
	gles2.AttachShader(p, fs)
	gles2.LinkProgram(p)
	var ok int32
	gles2.GetProgramiv(p, gles2.LINK_STATUS, &ok)
	if ok == gles2.FALSE {
		var n int32
		gles2.GetProgramiv(p, gles2.INFO_LOG_LENGTH, &n)
		msg := infoLog(n, func(buf *uint8) { gles2.GetProgramInfoLog(p, n, nil, buf) })
		gles2.DeleteProgram(p)
		return 0, fmt.Errorf("shader %s: link: %s", name, msg)
	}
	return p, nil
}

func compile(kind uint32, name, src string) (uint32, error) {
	s := gles2.CreateShader(kind)
	cs, free := gles2.Strs(src + "\x00")
	gles2.ShaderSource(s, 1, cs, nil)
	free()
	gles2.CompileShader(s)
	var ok int32
	gles2.GetShaderiv(s, gles2.COMPILE_STATUS, &ok)
	if ok == gles2.FALSE {
		var n int32
		gles2.GetShaderiv(s, gles2.INFO_LOG_LENGTH, &n)
		msg := infoLog(n, func(buf *uint8) { gles2.GetShaderInfoLog(s, n, nil, buf) })
		gles2.DeleteShader(s)
		return 0, fmt.Errorf("shader %s: %s", name, msg)
	}
	return s, nil
}

// infoLog reads a compiler or linker log as one line.
func infoLog(n int32, get func(*uint8)) string {
	if n <= 1 {
		return "failed, no log"
	}
	buf := make([]uint8, n)
	get(&buf[0])
	s := strings.TrimRight(string(buf), "\x00\n ")
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", "; ")), " ")
}

func loc(p uint32, name string) int32 { return gles2.GetUniformLocation(p, gles2.Str(name+"\x00")) }

func setInt(p uint32, name string, v int32) { gles2.Uniform1i(loc(p, name), v) }

func glError() error {
	var codes []string
	for range 8 {
		e := gles2.GetError()
		if e == gles2.NO_ERROR {
			break
		}
		codes = append(codes, fmt.Sprintf("0x%04x", e))
	}
	if codes == nil {
		return nil
	}
	return fmt.Errorf("GL error %s", strings.Join(codes, ", "))
}
