package v4l2

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	go4vl "github.com/vladimirvivien/go4vl/v4l2"
	"golang.org/x/sys/unix"
)

// errNotV4L2: the node answers no V4L2 ioctl.
var errNotV4L2 = errors.New("not a V4L2 device")

// device is an open V4L2 capture node: the thin layer over the ioctls.
type device struct {
	fd   int
	path string
	caps go4vl.Capability
}

// openDevice opens path (O_RDWR|O_NONBLOCK) and checks that it is a
// single-planar video capture node with streaming I/O.
func openDevice(path string) (*device, error) {
	fd, err := go4vl.OpenDevice(path, unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	d := &device{fd: int(fd), path: path}
	if d.caps, err = go4vl.GetCapability(fd); err != nil {
		d.close()
		if errors.Is(err, go4vl.ErrorUnsupported) { // ENOTTY
			return nil, errNotV4L2
		}
		return nil, fmt.Errorf("VIDIOC_QUERYCAP: %w", err)
	}
	return d, nil
}

// isCamera tells whether the node captures video with streaming I/O (the
// node's own capabilities: a UVC camera's second node, for metadata, has
// the device's capture capability but not the node's).
func (d *device) isCamera() bool {
	c := d.caps.GetCapabilities()
	return c&go4vl.CapVideoCapture != 0 && c&go4vl.CapStreaming != 0
}

func (d *device) close() {
	if d.fd >= 0 {
		unix.Close(d.fd)
		d.fd = -1
	}
}

// commonRates are offered within a continuous range of frame intervals.
var commonRates = []float64{120, 90, 60, 50, 48, 30, 25, 24, 20, 15, 10, 5}

// formats enumerates the pixel formats, frame sizes and frame rates. For
// stepwise sizes the rates are enumerated at the preset's size (fitted into
// the range) when hintW×hintH is given, else at the largest size; hintFPS
// is added to continuous rate ranges that hold it.
func (d *device) formats(hintW, hintH, hintFPS int) ([]FormatInfo, error) {
	descs, err := go4vl.GetAllFormatDescriptions(uintptr(d.fd))
	if err != nil && len(descs) == 0 {
		return nil, fmt.Errorf("VIDIOC_ENUM_FMT: %w", err)
	}
	out := make([]FormatInfo, 0, len(descs))
	for _, desc := range descs {
		fi := FormatInfo{FourCC: fourccString(desc.PixelFormat), Description: desc.Description}
		sizes, err := go4vl.GetFormatFrameSizes(uintptr(d.fd), desc.PixelFormat)
		if err != nil || len(sizes) == 0 {
			out = append(out, fi) // no sizes enumerated: listed, not usable
			continue
		}
		if sizes[0].Type == go4vl.FrameSizeTypeDiscrete {
			for _, s := range sizes {
				w, h := int(s.Size.MinWidth), int(s.Size.MinHeight)
				fi.Sizes = append(fi.Sizes, SizeInfo{Width: w, Height: h,
					FPS: d.frameRates(desc.PixelFormat, w, h, hintFPS)})
			}
		} else {
			s := sizes[0].Size
			r := SizeRange{
				MinWidth: int(s.MinWidth), MaxWidth: int(s.MaxWidth), StepWidth: max(int(s.StepWidth), 1),
				MinHeight: int(s.MinHeight), MaxHeight: int(s.MaxHeight), StepHeight: max(int(s.StepHeight), 1),
			}
			w, h := r.MaxWidth, r.MaxHeight
			if hintW > 0 && hintH > 0 {
				w, h = fitRange(r, hintW, hintH)
			}
			r.FPS = d.frameRates(desc.PixelFormat, w, h, hintFPS)
			fi.Stepwise = &r
		}
		out = append(out, fi)
	}
	return out, nil
}

// frameRates enumerates the frame rates of a format at a size
// (VIDIOC_ENUM_FRAMEINTERVALS), highest first. A driver that does not
// enumerate them is taken to run at its current rate (VIDIOC_G_PARM).
func (d *device) frameRates(pixfmt uint32, w, h, hintFPS int) []float64 {
	var rates []float64
	for i := uint32(0); ; i++ {
		e := frmivalEnum{Index: i, PixelFormat: pixfmt, Width: uint32(w), Height: uint32(h)}
		if ioctl(d.fd, vidiocEnumFrameIntervals, unsafe.Pointer(&e)) != nil {
			break
		}
		if e.Type == frmivalDiscrete {
			if r := intervalFPS(e.Min); r > 0 {
				rates = append(rates, r)
			}
			continue
		}
		// A range: Min is the shortest interval (the highest rate).
		rates = expandRange(intervalFPS(e.Max), intervalFPS(e.Min), hintFPS)
		break
	}
	if len(rates) == 0 {
		if p, err := go4vl.GetStreamParam(uintptr(d.fd), go4vl.BufTypeVideoCapture); err == nil {
			if r := intervalFPS(fract(p.Capture.TimePerFrame)); r > 0 {
				rates = []float64{r}
			}
		}
	}
	slices.SortFunc(rates, func(a, b float64) int { return -cmpFloat(a, b) })
	return slices.Compact(rates)
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// expandRange lists a continuous range of rates lo..hi as its bounds, the
// common rates within it and hint when within it.
func expandRange(lo, hi float64, hint int) []float64 {
	if lo <= 0 || hi < lo {
		return nil
	}
	out := []float64{hi, lo}
	for _, r := range commonRates {
		if r > lo && r < hi {
			out = append(out, r)
		}
	}
	if f := float64(hint); f > lo && f < hi && !slices.Contains(out, f) {
		out = append(out, f)
	}
	return out
}

// intervalFPS is the frame rate of a frame interval, rounded to 1/1000.
func intervalFPS(f fract) float64 {
	if f.Numerator == 0 || f.Denominator == 0 {
		return 0
	}
	return math.Round(float64(f.Denominator)/float64(f.Numerator)*1000) / 1000
}

// fpsInterval is the frame interval for a rate: 1/n for whole rates, else
// the reduced fraction of 1000/(fps×1000) (7.5 → 2/15).
func fpsInterval(fps float64) go4vl.Fract {
	if r := math.Round(fps); math.Abs(fps-r) < 1e-3 && r >= 1 {
		return go4vl.Fract{Numerator: 1, Denominator: uint32(r)}
	}
	n, d := uint32(1000), uint32(math.Round(fps*1000))
	g := gcd(n, d)
	return go4vl.Fract{Numerator: n / g, Denominator: d / g}
}

func gcd(a, b uint32) uint32 {
	for b != 0 {
		a, b = b, a%b
	}
	return max(a, 1)
}

// setFormat asks for a format and size (VIDIOC_S_FMT) and returns what the
// driver set (VIDIOC_G_FMT).
func (d *device) setFormat(ch Choice) (go4vl.PixFormat, error) {
	want := go4vl.PixFormat{Width: uint32(ch.Width), Height: uint32(ch.Height),
		PixelFormat: fourccCode(ch.FourCC), Field: go4vl.FieldNone}
	if err := go4vl.SetPixFormat(uintptr(d.fd), want); err != nil {
		return go4vl.PixFormat{}, fmt.Errorf("VIDIOC_S_FMT %s: %w", ch, err)
	}
	got, err := go4vl.GetPixFormat(uintptr(d.fd))
	if err != nil {
		return got, fmt.Errorf("VIDIOC_G_FMT: %w", err)
	}
	return got, nil
}

// setFrameRate asks for a frame rate (VIDIOC_S_PARM) and returns the rate
// the driver set; 0 when the driver has no frame-rate control.
func (d *device) setFrameRate(fps float64) (float64, error) {
	p, err := go4vl.GetStreamParam(uintptr(d.fd), go4vl.BufTypeVideoCapture)
	if err != nil {
		if errors.Is(err, go4vl.ErrorUnsupported) || errors.Is(err, go4vl.ErrorBadArgument) {
			return 0, nil
		}
		return 0, fmt.Errorf("VIDIOC_G_PARM: %w", err)
	}
	if p.Capture.Capability&go4vl.StreamParamTimePerFrame == 0 {
		return 0, nil
	}
	p.Capture.TimePerFrame = fpsInterval(fps)
	if err := go4vl.SetStreamParam(uintptr(d.fd), go4vl.BufTypeVideoCapture, p); err != nil {
		return 0, fmt.Errorf("VIDIOC_S_PARM %s fps: %w", fpsString(fps), err)
	}
	if p, err = go4vl.GetStreamParam(uintptr(d.fd), go4vl.BufTypeVideoCapture); err != nil {
		return 0, fmt.Errorf("VIDIOC_G_PARM: %w", err)
	}
	return intervalFPS(fract(p.Capture.TimePerFrame)), nil
}

// fullRange tells whether a raw YUV format's samples use the full range:
// V4L2_QUANTIZATION_FULL_RANGE, or the default quantization of the JPEG
// colorspace (V4L2_MAP_QUANTIZATION_DEFAULT in videodev2.h).
func fullRange(pf go4vl.PixFormat) bool {
	switch pf.Quantization {
	case go4vl.QuantizationFullRange:
		return true
	case go4vl.QuantizationLimitedRange:
		return false
	}
	return pf.Colorspace == go4vl.ColorspaceJPEG
}

// streamDev adapts a file descriptor to go4vl's v4l2.StreamingDevice, which
// its buffer functions (VIDIOC_REQBUFS, VIDIOC_QUERYBUF, VIDIOC_STREAMON/OFF)
// take; they use Fd, BufferType, MemIOType and BufferCount only.
type streamDev struct {
	fd    int
	count uint32
}

func (s streamDev) Name() string                    { return "" }
func (s streamDev) Fd() uintptr                     { return uintptr(s.fd) }
func (s streamDev) Capability() go4vl.Capability    { return go4vl.Capability{} }
func (s streamDev) MemIOType() go4vl.IOType         { return go4vl.IOTypeMMAP }
func (s streamDev) GetOutput() <-chan []byte        { return nil }
func (s streamDev) SetInput(<-chan []byte)          {}
func (s streamDev) Close() error                    { return nil }
func (s streamDev) Buffers() [][]byte               { return nil }
func (s streamDev) BufferType() go4vl.BufType       { return go4vl.BufTypeVideoCapture }
func (s streamDev) BufferCount() uint32             { return s.count }
func (s streamDev) Start(ctx context.Context) error { return errors.ErrUnsupported }
func (s streamDev) Stop() error                     { return nil }
func (d *device) stream(count uint32) streamDev     { return streamDev{fd: d.fd, count: count} }
func (d *device) streamOn() error                   { return go4vl.StreamOn(d.stream(0)) }
func (d *device) streamOff() error                  { return go4vl.StreamOff(d.stream(0)) }
func (d *device) queue(index uint32) error {
	_, err := go4vl.QueueBuffer(uintptr(d.fd), go4vl.IOTypeMMAP, go4vl.BufTypeVideoCapture, index)
	return err
}

// mapBuffers allocates n driver buffers (VIDIOC_REQBUFS; the driver may
// give more or fewer) and maps them read-only.
func (d *device) mapBuffers(n uint32) ([][]byte, error) {
	req, err := go4vl.InitBuffers(d.stream(n))
	if err != nil {
		return nil, fmt.Errorf("VIDIOC_REQBUFS: %w", err)
	}
	if req.Count < 2 {
		return nil, fmt.Errorf("VIDIOC_REQBUFS: the driver gave %d buffers", req.Count)
	}
	bufs := make([][]byte, 0, req.Count)
	for i := range req.Count {
		b, err := go4vl.GetBuffer(d.stream(req.Count), i)
		if err == nil {
			var m []byte
			if m, err = unix.Mmap(d.fd, int64(b.Info.Offset), int(b.Length), unix.PROT_READ, unix.MAP_SHARED); err == nil {
				bufs = append(bufs, m)
				continue
			}
		}
		unmapBuffers(bufs)
		return nil, fmt.Errorf("map buffer %d: %w", i, err)
	}
	return bufs, nil
}

func unmapBuffers(bufs [][]byte) {
	for _, b := range bufs {
		unix.Munmap(b)
	}
}

// fourccString is a V4L2 pixel format code as text ("YUYV"); the
// big-endian flag (bit 31) shows as a "-BE" suffix.
func fourccString(code uint32) string {
	be := code&(1<<31) != 0
	code &^= 1 << 31
	b := []byte{byte(code), byte(code >> 8), byte(code >> 16), byte(code >> 24)}
	s := strings.TrimRight(string(b), " \x00")
	if be {
		s += "-BE"
	}
	return s
}

// fourccCode is the inverse of fourccString.
func fourccCode(s string) uint32 {
	var b [4]byte
	copy(b[:], s+"    ")
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

// videoNodes lists /dev/video*, in numeric order.
func videoNodes() ([]string, error) {
	paths, err := filepath.Glob("/dev/video*")
	if err != nil {
		return nil, err
	}
	num := func(p string) int {
		n, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(p), "video"))
		if err != nil {
			return math.MaxInt
		}
		return n
	}
	slices.SortFunc(paths, func(a, b string) int { return num(a) - num(b) })
	return paths, nil
}

// isBusy tells whether err means another program holds the device.
func isBusy(err error) bool { return errors.Is(err, syscall.EBUSY) }

// isNotExist tells whether err means there is no such device node.
func isNotExist(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENODEV) || errors.Is(err, syscall.ENXIO)
}
