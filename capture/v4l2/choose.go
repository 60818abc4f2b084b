package v4l2

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
)

// DeviceInfo describes one capture-capable V4L2 device, for `golive devices`.
type DeviceInfo struct {
	// Path is the device node, e.g. /dev/video0.
	Path string
	// Card, Driver and BusInfo are what VIDIOC_QUERYCAP reports
	// ("HD Pro Webcam C920", "uvcvideo", "usb-0000:00:14.0-1").
	Card, Driver, BusInfo string
	// Formats are the pixel formats the device delivers, in the driver's order.
	Formats []FormatInfo
}

// FormatInfo is one pixel format a camera delivers and the sizes and rates
// it offers in it.
type FormatInfo struct {
	// FourCC is the V4L2 pixel format code as text: "YUYV", "MJPG", "NV12",
	// "YU12" (I420), "H264" ...
	FourCC string
	// Description is the driver's name for it ("YUYV 4:2:2", "Motion-JPEG").
	Description string
	// Sizes are the discrete frame sizes (V4L2_FRMSIZE_TYPE_DISCRETE).
	Sizes []SizeInfo
	// Stepwise is set instead of Sizes when the driver offers any size in a
	// range (V4L2_FRMSIZE_TYPE_STEPWISE or _CONTINUOUS), as the Raspberry Pi
	// camera (bcm2835-v4l2) does: Choose then asks for the preset's size
	// itself, clamped into the range.
	Stepwise *SizeRange `json:",omitempty"`
}

// SizeInfo is one discrete frame size and the frame rates offered at it.
type SizeInfo struct {
	Width, Height int
	// FPS lists the frame rates, highest first as drivers usually list them.
	// A driver that reports a continuous range of intervals is listed as the
	// range's bounds plus the common rates (and the preset's) within it.
	FPS []float64
}

// SizeRange is a stepwise or continuous range of frame sizes.
type SizeRange struct {
	MinWidth, MaxWidth, StepWidth    int
	MinHeight, MaxHeight, StepHeight int
	// FPS lists the frame rates offered (enumerated at the preset's size when
	// one is known, else at the largest size), as in SizeInfo.
	FPS []float64
}

// Choice is a capture mode: what the camera is asked to deliver.
type Choice struct {
	FourCC        string
	Width, Height int
	FPS           float64
	// Score ranks the modes Choose considered: lower is better. 0 is the
	// preset exactly, in I420, which is copied as is; converting from another
	// raw format costs ~1, decoding MJPEG 10, and a missing frame rate,
	// upscaling or cropping much more (see Choose).
	Score float64
}

// String formats the choice as "MJPG 1280x720@30".
func (c Choice) String() string {
	return fmt.Sprintf("%s %dx%d@%s", c.FourCC, c.Width, c.Height, fpsString(c.FPS))
}

func fpsString(fps float64) string {
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.3f", fps), "0"), ".")
}

// formatCost is the cost of each format the pipeline can convert to I420:
// I420 itself is a copy, the other raw layouts a cheap libswscale pass (YUYV
// also needs twice the bus bandwidth of 4:2:0), MJPEG a JPEG decode per frame
// and a little quality. A format not listed here (H264, Bayer, RGB ...) is
// not usable.
var formatCost = map[string]float64{
	"YU12": 0,   // I420
	"NV12": 0.5, // Y + interleaved CbCr, 4:2:0
	"YV12": 0.5, // I420 with Cr before Cb
	"NV21": 0.5, // Y + interleaved CrCb
	"YUYV": 1,   // packed 4:2:2
	"UYVY": 1,
	"YVYU": 1,
	"MJPG": 10, // Motion-JPEG: decoded with libavcodec
	"JPEG": 10, // what some drivers (bcm2835-v4l2) call the same
}

// Weights of Choose's score. A frame rate below the preset's is the worst
// thing a live picture can have (it stutters), then upscaling (it blurs);
// cropping to the preset's aspect ratio loses some field of view; decoding
// MJPEG costs CPU; downscaling and a higher frame rate than needed waste a
// little bandwidth and CPU.
const (
	costRateDeficit = 500 // × the fraction of the preset's rate missing
	costRateExcess  = 8   // × the fraction of the preset's rate in excess
	costUpscale     = 150 // × (scale factor − 1)
	costCrop        = 50  // × the fraction of the picture cropped away
	costDownscale   = 4   // × log2(downscale factor)
)

// ErrUnsupported's companions: the limits below which a mode is not usable.
const (
	minRateFraction  = 0.5  // at least half the preset's frame rate
	minPixelFraction = 0.25 // at least a quarter of the preset's pixels
)

// Choose picks the capture mode that serves a width×height@fps preset best
// among formats, or fails with an error wrapping ErrUnsupported that lists
// what the camera can do.
//
// Each (format, size, rate) the camera offers is scored, lower is better:
//
//   - frame rate: the nearest rate at or above the preset's costs nothing
//     but a little for the excess; a lower rate costs 500 × the fraction
//     missing (25 instead of 30 fps: 83), and less than half the rate is
//     not usable at all;
//   - size: the picture is centre-cropped to the preset's aspect ratio
//     (50 × the fraction lost), then scaled to the preset's size: scaling
//     down costs 4 × log2(factor), scaling up 150 × (factor − 1); less than
//     a quarter of the preset's pixels is not usable;
//   - format: I420 (YU12) 0, NV12/NV21/YV12 0.5, YUYV/UYVY/YVYU 1,
//     MJPEG/JPEG 10 (a decode per frame); anything else is not usable.
//
// So a raw format wins when it offers the preset's size and rate, and MJPEG
// at the right rate beats a raw format at a much lower rate (the usual UVC
// webcam, whose YUYV runs at 5–10 fps at 720p and above). Ties go to the
// cheaper format, then the larger size, then the driver's order.
func Choose(formats []FormatInfo, width, height, fps int) (Choice, error) {
	if width <= 0 || height <= 0 || fps <= 0 {
		return Choice{}, fmt.Errorf("v4l2: choose a format for %dx%d@%d: invalid preset", width, height, fps)
	}
	best := Choice{Score: math.Inf(1)}
	for _, f := range formats {
		fc, ok := formatCost[f.FourCC]
		if !ok {
			continue
		}
		consider := func(w, h int, rate float64) {
			s, ok := score(w, h, rate, width, height, fps)
			if !ok {
				return
			}
			c := Choice{FourCC: f.FourCC, Width: w, Height: h, FPS: rate, Score: s + fc}
			if better(c, best) {
				best = c
			}
		}
		for _, sz := range f.Sizes {
			for _, r := range sz.FPS {
				consider(sz.Width, sz.Height, r)
			}
		}
		if r := f.Stepwise; r != nil {
			w, h := fitRange(*r, width, height)
			for _, rate := range r.FPS {
				consider(w, h, rate)
			}
		}
	}
	if math.IsInf(best.Score, 1) {
		return Choice{}, fmt.Errorf("%w: nothing near %dx%d@%d (need at least %d%% of its pixels and %d%% of its frame rate, raw YUV or MJPEG); the camera offers %s",
			ErrUnsupported, width, height, fps, int(minPixelFraction*100), int(minRateFraction*100), Summarize(formats))
	}
	best.Score = math.Round(best.Score*1000) / 1000
	return best, nil
}

// better orders candidates: lower score, then cheaper format, then more
// pixels; the first one found wins a complete tie.
func better(a, b Choice) bool {
	const eps = 1e-9
	if d := a.Score - b.Score; math.Abs(d) > eps {
		return d < 0
	}
	if fa, fb := formatCost[a.FourCC], formatCost[b.FourCC]; fa != fb {
		return fa < fb
	}
	return a.Width*a.Height > b.Width*b.Height
}

// score is the cost of delivering a w×h@rate mode for a W×H@F preset
// (without the format's cost); ok is false when the mode is not usable.
func score(w, h int, rate float64, W, H, F int) (float64, bool) {
	want := float64(F)
	if w <= 0 || h <= 0 || rate <= 0 || rate < want*minRateFraction ||
		float64(w)*float64(h) < float64(W)*float64(H)*minPixelFraction {
		return 0, false
	}
	var s float64
	if rate < want {
		s += costRateDeficit * (1 - rate/want)
	} else {
		s += costRateExcess * (rate/want - 1)
	}
	cr := cropToAspect(w, h, W, H)
	s += costCrop * (1 - float64(cr.w*cr.h)/float64(w*h))
	if f := float64(cr.w) / float64(W); f >= 1 {
		s += costDownscale * math.Log2(f)
	} else {
		s += costUpscale * (1/f - 1)
	}
	return s, true
}

// rect is a region of a picture.
type rect struct{ x, y, w, h int }

// cropToAspect is the centred region of a w×h picture that has the aspect
// ratio of W×H, with even offsets and sizes (so that 4:2:0 chroma planes
// crop along with it). It is the whole picture when the ratios agree to
// within 1%, since such a small difference is better scaled than cropped.
func cropToAspect(w, h, W, H int) rect {
	full := rect{0, 0, w, h}
	src, dst := float64(w)/float64(h), float64(W)/float64(H)
	if math.Abs(src/dst-1) <= 0.01 {
		return full
	}
	if src > dst { // too wide: crop the sides
		cw := int(math.Round(float64(h)*dst)) &^ 1
		return rect{((w - cw) / 2) &^ 1, 0, cw, h}
	}
	ch := int(math.Round(float64(w)/dst)) &^ 1
	return rect{0, ((h - ch) / 2) &^ 1, w, ch}
}

// fitRange is the size to ask of a stepwise range for a W×H preset: the
// preset itself when the range holds it, else the preset shrunk (aspect
// kept) or grown into the range; always on the range's steps.
func fitRange(r SizeRange, W, H int) (int, int) {
	w, h := float64(W), float64(H)
	if f := math.Min(float64(r.MaxWidth)/w, float64(r.MaxHeight)/h); f < 1 {
		w, h = w*f, h*f
	}
	if f := math.Max(float64(r.MinWidth)/w, float64(r.MinHeight)/h); f > 1 {
		w, h = w*f, h*f
	}
	return snap(int(math.Round(w)), r.MinWidth, r.MaxWidth, r.StepWidth),
		snap(int(math.Round(h)), r.MinHeight, r.MaxHeight, r.StepHeight)
}

// snap rounds v down onto min + k×step within [min, max].
func snap(v, lo, hi, step int) int {
	v = min(max(v, lo), hi)
	if step > 1 {
		v = lo + (v-lo)/step*step
	}
	return v
}

// Summarize describes formats briefly, for error messages and logs:
// "YUYV 640x480@30, 1280x720@10, 1920x1080@5; MJPG 640x480@30 ...;
// H264 (not usable)". Each size is shown with its highest rate.
func Summarize(formats []FormatInfo) string {
	if len(formats) == 0 {
		return "no formats"
	}
	const maxSizes = 6
	var parts []string
	for _, f := range formats {
		var b strings.Builder
		b.WriteString(f.FourCC)
		var sizes []SizeInfo
		for _, s := range f.Sizes {
			if len(s.FPS) > 0 {
				sizes = append(sizes, s)
			}
		}
		// Largest sizes last; show the smallest usable few and the largest.
		slices.SortStableFunc(sizes, func(a, b SizeInfo) int {
			return cmp.Compare(a.Width*a.Height, b.Width*b.Height)
		})
		trimmed := len(sizes) > maxSizes
		if trimmed {
			sizes = append(sizes[:maxSizes/2:maxSizes/2], sizes[len(sizes)-maxSizes/2:]...)
		}
		for i, s := range sizes {
			sep := ", "
			if i == 0 {
				sep = " "
			}
			if i == maxSizes/2 && trimmed {
				sep = " … "
			}
			fmt.Fprintf(&b, "%s%dx%d@%s", sep, s.Width, s.Height, fpsString(slices.Max(s.FPS)))
		}
		if r := f.Stepwise; r != nil {
			fmt.Fprintf(&b, " %dx%d–%dx%d", r.MinWidth, r.MinHeight, r.MaxWidth, r.MaxHeight)
			if len(r.FPS) > 0 {
				fmt.Fprintf(&b, "@%s", fpsString(slices.Max(r.FPS)))
			}
		}
		if _, ok := formatCost[f.FourCC]; !ok {
			b.WriteString(" (not usable)")
		}
		parts = append(parts, b.String())
	}
	return strings.Join(parts, "; ")
}

// Sentinel errors, wrapped with context ("v4l2: /dev/video0: ...").
var (
	// ErrNotFound: no such camera. The message lists the cameras that exist,
	// or says that none were found.
	ErrNotFound = errors.New("camera not found")
	// ErrBusy: another program is using the camera (EBUSY).
	ErrBusy = errors.New("camera busy")
	// ErrUnsupported: the camera offers nothing near the preset, or nothing
	// golive can use. The message says what it can do.
	ErrUnsupported = errors.New("camera format not supported")
	// ErrDeviceGone: the camera failed or disappeared while streaming, or
	// delivered no frame for StallTimeout.
	ErrDeviceGone = errors.New("camera gone")
)
