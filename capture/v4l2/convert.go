package v4l2

import (
	"errors"
	"fmt"
	"unsafe"

	"github.com/asticode/go-astiav"

	"github.com/golive/golive/media"
)

// inputFormat describes the buffers a camera delivers.
type inputFormat struct {
	FourCC        string
	Width, Height int
	// BytesPerLine of the first plane; 0 means tightly packed.
	BytesPerLine int
	// FullRange: the raw YUV samples use the full 0..255 range (V4L2
	// quantization FULL_RANGE, or the JPEG colorspace, as bcm2835-v4l2
	// reports). MJPEG is full range by definition, whatever this says.
	FullRange bool
	// MaxBytes is the largest buffer the driver may fill (sizeimage); it
	// sizes the MJPEG packet buffers (they grow if a frame is larger).
	MaxBytes int
}

// rawLayout is where the planes of a raw format lie in a buffer, offset to
// a crop region.
type rawLayout struct {
	pf     astiav.PixelFormat
	offset [3]int // byte offset of each plane's first sample (Y, Cb, Cr order for libswscale)
	stride [3]int
	size   int // bytes a whole frame occupies
}

// layoutOf is the layout of a w×h picture of fourcc with first-plane line
// size bpl (0: packed), cropped to r (even offsets).
func layoutOf(fourcc string, w, h, bpl int, r rect) (rawLayout, error) {
	ch := (h + 1) / 2
	var l rawLayout
	switch fourcc {
	case "YUYV", "UYVY", "YVYU":
		l.pf = map[string]astiav.PixelFormat{"YUYV": astiav.PixelFormatYuyv422,
			"UYVY": astiav.PixelFormatUyvy422, "YVYU": astiav.PixelFormatYvyu422}[fourcc]
		if bpl == 0 {
			bpl = 2 * w
		}
		l.stride[0], l.offset[0], l.size = bpl, r.y*bpl+r.x*2, bpl*h
	case "YU12", "YV12":
		l.pf = astiav.PixelFormatYuv420P
		if bpl == 0 {
			bpl = w
		}
		cs := bpl / 2
		cb, cr := bpl*h, bpl*h+cs*ch
		if fourcc == "YV12" {
			cb, cr = cr, bpl*h
		}
		l.stride = [3]int{bpl, cs, cs}
		l.offset = [3]int{r.y*bpl + r.x, cb + r.y/2*cs + r.x/2, cr + r.y/2*cs + r.x/2}
		l.size = bpl*h + 2*cs*ch
	case "NV12", "NV21":
		l.pf = astiav.PixelFormatNv12
		if fourcc == "NV21" {
			l.pf = astiav.PixelFormatNv21
		}
		if bpl == 0 {
			bpl = w
		}
		l.stride = [3]int{bpl, bpl}
		l.offset = [3]int{r.y*bpl + r.x, bpl*h + r.y/2*bpl + r.x}
		l.size = bpl*h + bpl*ch
	default:
		return l, fmt.Errorf("no raw layout for %s", fourcc)
	}
	if bpl < minLine(fourcc, w) {
		return l, fmt.Errorf("%s %dx%d: %d bytes per line is too short", fourcc, w, h, bpl)
	}
	return l, nil
}

func minLine(fourcc string, w int) int {
	switch fourcc {
	case "YUYV", "UYVY", "YVYU":
		return 2 * w
	}
	return w
}

// converter turns camera buffers into I420 frames of the output size:
// copying, or converting, cropping and scaling with libswscale, after
// decoding with libavcodec for MJPEG. Everything it needs is allocated
// once (MJPEG: at the first frame, and again only if the decoded format
// changes), and freed by close. It is not safe for concurrent use.
type converter struct {
	in         inputFormat
	outW, outH int

	// Raw formats.
	layout   rawLayout
	crop     rect
	copyI420 bool   // the buffer is the output already: copy its planes
	staging  []byte // a padded copy of the buffer when reading it in place is not safe

	// MJPEG.
	dec    *mjpegDecoder
	decKey decodedKey

	sws *scaler
	// scratch is C memory the scaler writes into, with padded lines, when
	// the output frame's lines are not a multiple of 64 bytes (the SIMD
	// code stores whole vectors); it is then copied into the frame.
	scratch       [3]unsafe.Pointer
	scratchStride [3]int
}

// decodedKey identifies the decoded picture format the scaler was made for.
type decodedKey struct {
	pf   astiav.PixelFormat
	w, h int
	full bool
}

var errNoPicture = errors.New("no picture decoded")

// newConverter prepares the conversion of in to outW×outH I420.
func newConverter(in inputFormat, outW, outH int) (*converter, error) {
	if in.Width <= 0 || in.Height <= 0 || outW <= 0 || outH <= 0 || outW%2 != 0 || outH%2 != 0 {
		return nil, fmt.Errorf("convert %s %dx%d to %dx%d: invalid size", in.FourCC, in.Width, in.Height, outW, outH)
	}
	c := &converter{in: in, outW: outW, outH: outH}
	ok := false
	defer func() {
		if !ok {
			c.close()
		}
	}()
	if outW%64 != 0 {
		cw := (outW + 1) / 2
		c.scratchStride = [3]int{align(outW, 64), align(cw, 64), align(cw, 64)}
		for i, rows := range [3]int{outH, outH / 2, outH / 2} {
			if c.scratch[i] = cAlloc(c.scratchStride[i]*rows + 64); c.scratch[i] == nil {
				return nil, errors.New("out of memory")
			}
		}
	}
	switch in.FourCC {
	case "MJPG", "JPEG":
		dec, err := newMJPEGDecoder(max(in.MaxBytes, in.Width*in.Height))
		if err != nil {
			return nil, err
		}
		c.dec = dec
	default:
		c.crop = cropToAspect(in.Width, in.Height, outW, outH)
		l, err := layoutOf(in.FourCC, in.Width, in.Height, in.BytesPerLine, c.crop)
		if err != nil {
			return nil, err
		}
		c.layout = l
		c.copyI420 = in.FourCC == "YU12" && !in.FullRange && in.Width == outW && in.Height == outH
		if !c.copyI420 {
			if c.sws, err = newScaler(c.crop.w, c.crop.h, l.pf, in.FullRange, outW, outH); err != nil {
				return nil, err
			}
			// libswscale's SIMD input code reads whole vectors of up to 32
			// pixels: at the end of a line whose width is not a multiple
			// of that it reads past the line, which past the buffer's end
			// could fault. Such frames go through a padded copy.
			if c.crop.w%32 != 0 {
				c.staging = make([]byte, l.size+64)
			}
		}
	}
	ok = true
	return c, nil
}

func align(n, a int) int { return (n + a - 1) / a * a }

// describe says what the conversion does, for the logs.
func (c *converter) describe() string {
	switch {
	case c.dec != nil:
		return fmt.Sprintf("decode MJPEG %dx%d, crop to the aspect ratio and scale to %dx%d with libswscale (full range to limited)",
			c.in.Width, c.in.Height, c.outW, c.outH)
	case c.copyI420:
		return "none (I420 at the output size: plane copy)"
	}
	s := fmt.Sprintf("%s to I420 with libswscale", c.in.FourCC)
	if c.crop.w != c.in.Width || c.crop.h != c.in.Height {
		s += fmt.Sprintf(", crop %dx%d to %dx%d", c.in.Width, c.in.Height, c.crop.w, c.crop.h)
	}
	if c.crop.w != c.outW || c.crop.h != c.outH {
		s += fmt.Sprintf(", scale %dx%d to %dx%d", c.crop.w, c.crop.h, c.outW, c.outH)
	}
	if c.in.FullRange {
		s += ", full range to limited"
	}
	return s
}

// convert fills dst (an I420 frame of the output size) from one buffer.
func (c *converter) convert(data []byte, dst *media.VideoFrame) error {
	if dst.Format != media.PixelFormatI420 || dst.Width != c.outW || dst.Height != c.outH {
		return fmt.Errorf("convert: output frame is %dx%d, want I420 %dx%d", dst.Width, dst.Height, c.outW, c.outH)
	}
	if c.dec != nil {
		return c.convertMJPEG(data, dst)
	}
	return c.convertRaw(data, dst)
}

func (c *converter) convertRaw(data []byte, dst *media.VideoFrame) error {
	l := c.layout
	if len(data) < l.size {
		return fmt.Errorf("%s frame of %d bytes, want %d", c.in.FourCC, len(data), l.size)
	}
	if c.copyI420 {
		for i := range 3 {
			w, h := media.PlaneSize(c.outW, c.outH, i)
			media.CopyPlane(dst.Planes[i], dst.Strides[i], data[l.offset[i]:], l.stride[i], w, h)
		}
		return nil
	}
	buf := data
	if c.staging != nil {
		copy(c.staging, data[:l.size])
		buf = c.staging
	}
	var src [3]unsafe.Pointer
	for i := range 3 {
		if l.stride[i] != 0 {
			src[i] = unsafe.Pointer(&buf[l.offset[i]])
		}
	}
	return c.scaleInto(src, l.stride, dst)
}

func (c *converter) convertMJPEG(data []byte, dst *media.VideoFrame) error {
	f, err := c.dec.decode(data)
	if err != nil {
		return err
	}
	defer f.Unref()
	pf, w, h, full := frameFormat(f)
	if k := (decodedKey{pf, w, h, full}); k != c.decKey || c.sws == nil {
		c.sws.free()
		c.sws = nil
		c.crop = cropToAspect(w, h, c.outW, c.outH)
		if c.sws, err = newScaler(c.crop.w, c.crop.h, pf, full, c.outW, c.outH); err != nil {
			return err
		}
		c.decKey = k
	}
	src, stride, err := framePlanes(f, c.crop)
	if err != nil {
		return err
	}
	return c.scaleInto(src, stride, dst)
}

// scaleInto runs the scaler from src into dst, through scratch if needed.
func (c *converter) scaleInto(src [3]unsafe.Pointer, srcStride [3]int, dst *media.VideoFrame) error {
	if c.scratch[0] == nil {
		out := [3]unsafe.Pointer{unsafe.Pointer(&dst.Planes[0][0]), unsafe.Pointer(&dst.Planes[1][0]),
			unsafe.Pointer(&dst.Planes[2][0])}
		return c.sws.scale(src, srcStride, out, dst.Strides)
	}
	if err := c.sws.scale(src, srcStride, c.scratch, c.scratchStride); err != nil {
		return err
	}
	cw, ch := (c.outW+1)/2, (c.outH+1)/2
	for i, wh := range [3][2]int{{c.outW, c.outH}, {cw, ch}, {cw, ch}} {
		s := unsafe.Slice((*byte)(c.scratch[i]), c.scratchStride[i]*wh[1])
		media.CopyPlane(dst.Planes[i], dst.Strides[i], s, c.scratchStride[i], wh[0], wh[1])
	}
	return nil
}

// close frees everything; the converter is unusable afterwards. It may be
// called more than once.
func (c *converter) close() {
	c.sws.free()
	c.sws = nil
	if c.dec != nil {
		c.dec.free()
		c.dec = nil
	}
	for i, p := range c.scratch {
		if p != nil {
			cFree(p)
			c.scratch[i] = nil
		}
	}
}

// mjpegDecoder decodes Motion-JPEG frames with libavcodec's mjpeg decoder.
// Decoded frames are yuvj422p or yuvj420p (full range) for most cameras.
type mjpegDecoder struct {
	cc    *astiav.CodecContext
	pkt   *astiav.Packet
	frame *astiav.Frame
	pool  *packetPool
}

func newMJPEGDecoder(maxBytes int) (*mjpegDecoder, error) {
	codec := astiav.FindDecoder(astiav.CodecIDMjpeg)
	if codec == nil {
		return nil, errors.New("libavcodec has no MJPEG decoder")
	}
	d := &mjpegDecoder{}
	ok := false
	defer func() {
		if !ok {
			d.free()
		}
	}()
	if d.cc = astiav.AllocCodecContext(codec); d.cc == nil {
		return nil, errors.New("mjpeg: cannot allocate a decoder")
	}
	if err := d.cc.Open(codec, nil); err != nil {
		return nil, fmt.Errorf("mjpeg: open decoder: %w", err)
	}
	if d.pkt = astiav.AllocPacket(); d.pkt == nil {
		return nil, errors.New("mjpeg: cannot allocate a packet")
	}
	if d.frame = astiav.AllocFrame(); d.frame == nil {
		return nil, errors.New("mjpeg: cannot allocate a frame")
	}
	var err error
	if d.pool, err = newPacketPool(maxBytes); err != nil {
		return nil, fmt.Errorf("mjpeg: %w", err)
	}
	ok = true
	return d, nil
}

// decode decodes one JPEG picture. The frame belongs to the decoder; the
// caller unrefs it when done, before the next decode.
func (d *mjpegDecoder) decode(data []byte) (*astiav.Frame, error) {
	if len(data) > d.pool.capacity-64 { // a frame larger than sizeimage said: grow
		p, err := newPacketPool(len(data) * 2)
		if err != nil {
			return nil, fmt.Errorf("mjpeg: %w", err)
		}
		d.pool.free()
		d.pool = p
	}
	if err := d.pool.fill(d.pkt, data); err != nil {
		return nil, fmt.Errorf("mjpeg: %w", err)
	}
	defer d.pkt.Unref()
	for range 2 {
		err := d.cc.SendPacket(d.pkt)
		if err == nil {
			break
		}
		if !errors.Is(err, astiav.ErrEagain) {
			return nil, fmt.Errorf("mjpeg: decode %d bytes: %w", len(data), err)
		}
		// A picture is waiting (cannot happen with one packet per picture,
		// but the API allows it): drop it and send again.
		if err := d.cc.ReceiveFrame(d.frame); err != nil {
			return nil, fmt.Errorf("mjpeg: decode: %w", err)
		}
		d.frame.Unref()
	}
	if err := d.cc.ReceiveFrame(d.frame); err != nil {
		if errors.Is(err, astiav.ErrEagain) {
			return nil, fmt.Errorf("mjpeg: %d bytes: %w", len(data), errNoPicture)
		}
		return nil, fmt.Errorf("mjpeg: decode %d bytes: %w", len(data), err)
	}
	return d.frame, nil
}

func (d *mjpegDecoder) free() {
	if d.frame != nil {
		d.frame.Free()
		d.frame = nil
	}
	if d.pkt != nil {
		d.pkt.Free()
		d.pkt = nil
	}
	if d.cc != nil {
		d.cc.Free()
		d.cc = nil
	}
	d.pool.free()
	d.pool = nil
}
