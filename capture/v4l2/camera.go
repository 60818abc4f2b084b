// Package v4l2 is the `--source camera --camera /dev/videoN` capture source:
// a V4L2 camera (USB UVC webcams, the Raspberry Pi camera through
// bcm2835-v4l2), read with mmap streaming I/O and delivered as I420 frames
// of exactly the preset's size, stamped on the pipeline clock.
//
// # Negotiation
//
// Open enumerates the camera's formats, sizes and frame rates and picks the
// mode that serves the preset best (Choose): a raw YUV format at the
// preset's size and rate when the camera has one, else Motion-JPEG, which is
// how most USB webcams deliver 720p30 and 1080p30 (their YUYV runs at
// 5–10 fps at those sizes). The picture is then converted (Motion-JPEG
// decoded with libavcodec; cropped to the preset's aspect ratio, scaled, and
// converted from full to limited range with libswscale) into pooled frames.
//
// # Time
//
// Frames carry the driver's capture timestamp mapped onto the pipeline
// clock (see TimestampMapper), strictly increasing; Seq follows the
// driver's sequence numbers, so gaps show the frames the driver dropped.
//
// # Failure
//
// Open fails with ErrNotFound (no such camera; the message lists those that
// exist), ErrBusy (another program has it) or ErrUnsupported (nothing near
// the preset; the message says what the camera can do). Run fails with
// ErrDeviceGone when the camera is unplugged, errors, or delivers no frame
// for StallTimeout.
package v4l2

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	go4vl "github.com/vladimirvivien/go4vl/v4l2"
	"golang.org/x/sys/unix"

	"github.com/golive/golive/media"
)

// StallTimeout is how long Run waits for a frame before it gives up on the
// camera with ErrDeviceGone. The first frame after Run starts gets
// FirstFrameTimeout: some cameras take more than a second to start
// streaming (exposure settling, USB bandwidth negotiation).
const (
	StallTimeout      = 2 * time.Second
	FirstFrameTimeout = 4 * time.Second
)

// numBuffers is the number of driver buffers: a slow conversion never
// stalls the driver for long; what it cannot keep up with the driver drops
// (and Stats.DriverDropped counts).
const numBuffers = 6

// pollInterval bounds how long Run waits in poll(2) before it looks at ctx
// again: Run returns at most this long after ctx is done.
const pollInterval = 100 * time.Millisecond

// Config configures a camera.
type Config struct {
	// Device is the camera's node, e.g. /dev/video0. Empty means the first
	// capture-capable /dev/video*.
	Device string
	// Width, Height, FPS: what the preset wants. Output frames are always
	// I420 (limited range) of exactly Width x Height (even, 16..7680 x
	// 16..4320); FPS (1..120) is the rate asked of the camera.
	Width, Height, FPS int
	// Controls are V4L2 controls to set, "name=value" (brightness=120,
	// exposure_auto=1, focus_absolute=0 ...), applied in order. Names are as
	// `v4l2-ctl -l` prints them (lowercase, underscores) or as the driver
	// names them, matched case-insensitively.
	Controls []string
	// Clock is the pipeline clock frames are stamped on. Required.
	Clock *media.Clock
	// Video receives every frame; ownership passes with the call (the
	// receiver calls Release). It must return at once (queue or drop).
	// Required.
	Video media.VideoWriter
	// Logger logs what was negotiated and rate-limited warnings; nil means
	// slog.Default(). The camera adds component=capture.v4l2.
	Logger *slog.Logger
}

// check validates cfg and fills defaults.
func (cfg *Config) check() error {
	if cfg.Width < 16 || cfg.Width > 7680 || cfg.Height < 16 || cfg.Height > 4320 ||
		cfg.Width%2 != 0 || cfg.Height%2 != 0 {
		return fmt.Errorf("v4l2: size %dx%d: width and height must be even, within 16x16..7680x4320", cfg.Width, cfg.Height)
	}
	if cfg.FPS < 1 || cfg.FPS > 120 {
		return fmt.Errorf("v4l2: frame rate %d: must be 1..120", cfg.FPS)
	}
	if cfg.Clock == nil {
		return errors.New("v4l2: no Clock")
	}
	if cfg.Video == nil {
		return errors.New("v4l2: no Video writer")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return nil
}

// Camera is an open, configured camera. Call Run once to stream, and Close
// when done.
type Camera struct {
	cfg    Config
	log    *slog.Logger
	dev    *device
	bufs   [][]byte
	choice Choice
	cap    *capturer
	stats  Stats

	running   atomic.Bool
	stop      chan struct{} // closed by Close: Run returns
	runDone   chan struct{} // closed when Run returns
	closeOnce sync.Once
}

// Open opens the camera, negotiates the capture mode closest to the preset,
// applies the controls and allocates the buffers; streaming starts in Run.
func Open(cfg Config) (cam *Camera, err error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	log := cfg.Logger.With("component", "capture.v4l2")

	path := cfg.Device
	if path == "" {
		if path, err = firstCamera(); err != nil {
			return nil, err
		}
	}
	dev, err := openDevice(path)
	if err != nil {
		switch {
		case isNotExist(err):
			return nil, fmt.Errorf("v4l2: %s: %w; %s", path, ErrNotFound, cameraList())
		case errors.Is(err, errNotV4L2):
			return nil, fmt.Errorf("v4l2: %s: %w: %w; %s", path, err, ErrNotFound, cameraList())
		case isBusy(err):
			return nil, fmt.Errorf("v4l2: %s: %w: another program is using it", path, ErrBusy)
		case errors.Is(err, unix.EACCES):
			return nil, fmt.Errorf("v4l2: %s: permission denied (is the user in the 'video' group?): %w", path, err)
		}
		return nil, fmt.Errorf("v4l2: %s: %w", path, err)
	}
	log = log.With("device", path)
	c := &Camera{cfg: cfg, log: log, dev: dev, stop: make(chan struct{}), runDone: make(chan struct{})}
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	name := fmt.Sprintf("%s (%s)", path, dev.caps.Card)
	if !dev.isCamera() {
		return nil, fmt.Errorf("v4l2: %s: not a video capture device with streaming I/O (a metadata or output node?): %w; %s",
			name, ErrNotFound, cameraList())
	}
	fail := func(what string, err error) error {
		if isBusy(err) {
			return fmt.Errorf("v4l2: %s: %s: %w: another program is using it", name, what, ErrBusy)
		}
		if isNotExist(err) {
			return fmt.Errorf("v4l2: %s: %s: %w", name, what, ErrDeviceGone)
		}
		return fmt.Errorf("v4l2: %s: %s: %w", name, what, err)
	}

	formats, err := dev.formats(cfg.Width, cfg.Height, cfg.FPS)
	if err != nil {
		return nil, fail("list formats", err)
	}
	ch, err := Choose(formats, cfg.Width, cfg.Height, cfg.FPS)
	if err != nil {
		return nil, fmt.Errorf("v4l2: %s: %w", name, err)
	}
	pf, err := dev.setFormat(ch)
	if err != nil {
		return nil, fail("set format", err)
	}
	if got := fourccString(pf.PixelFormat); got != ch.FourCC {
		return nil, fmt.Errorf("v4l2: %s: asked for %s, the driver set %s: %w", name, ch, got, ErrUnsupported)
	}
	if int(pf.Width) != ch.Width || int(pf.Height) != ch.Height {
		log.Warn("the driver adjusted the size", "asked", fmt.Sprintf("%dx%d", ch.Width, ch.Height),
			"got", fmt.Sprintf("%dx%d", pf.Width, pf.Height))
		ch.Width, ch.Height = int(pf.Width), int(pf.Height)
	}
	if pf.Field != go4vl.FieldNone && pf.Field != go4vl.FieldAny {
		log.Warn("the camera delivers interlaced fields; frames are passed on as they come", "field", pf.Field)
	}
	if fps, err := dev.setFrameRate(ch.FPS); err != nil {
		return nil, fail("set frame rate", err)
	} else if fps > 0 && fps != ch.FPS {
		log.Warn("the driver adjusted the frame rate", "asked", ch.FPS, "got", fps)
		ch.FPS = fps
	}
	c.choice = ch

	if len(cfg.Controls) > 0 {
		avail, err := queryControls(dev.fd)
		if err != nil {
			return nil, fail("list controls", err)
		}
		sets, err := resolveControls(cfg.Controls, avail)
		if err != nil {
			return nil, fmt.Errorf("v4l2: %s: %w", name, err)
		}
		for _, s := range sets {
			if err := setControl(dev.fd, s); err != nil {
				return nil, fail("controls", err)
			}
			log.Info("control set", "control", ctrlVarName(s.ctrl.Name), "value", s.value)
		}
	}

	in := inputFormat{FourCC: ch.FourCC, Width: ch.Width, Height: ch.Height,
		BytesPerLine: int(pf.BytesPerLine), FullRange: fullRange(pf), MaxBytes: int(pf.SizeImage)}
	conv, err := newConverter(in, cfg.Width, cfg.Height)
	if err != nil {
		return nil, fmt.Errorf("v4l2: %s: %w", name, err)
	}
	c.cap = &capturer{conv: conv, ts: NewTimestampMapper(cfg.Clock),
		pool: media.NewFramePool(cfg.Width, cfg.Height), video: cfg.Video, log: log, stats: &c.stats}
	if c.bufs, err = dev.mapBuffers(numBuffers); err != nil {
		return nil, fail("buffers", err)
	}
	log.Info("camera opened", "card", dev.caps.Card, "driver", dev.caps.Driver, "bus", dev.caps.BusInfo,
		"fourcc", ch.FourCC, "size", fmt.Sprintf("%dx%d", ch.Width, ch.Height), "fps", ch.FPS,
		"output", fmt.Sprintf("%dx%d", cfg.Width, cfg.Height), "conversion", conv.describe(),
		"buffers", len(c.bufs))
	return c, nil
}

// Format is the capture mode that was negotiated (after the driver's
// adjustments), for logs.
func (c *Camera) Format() Choice { return c.choice }

// Stats are the camera's live counters.
func (c *Camera) Stats() *Stats { return &c.stats }

// Run streams until ctx is done (it returns nil at most pollInterval
// later), Close is called (nil), the writer fails (its error), or the
// camera fails, disappears or delivers no frame for StallTimeout (an error
// wrapping ErrDeviceGone). Run may be called once; it starts no goroutine.
func (c *Camera) Run(ctx context.Context) (err error) {
	if !c.running.CompareAndSwap(false, true) {
		return errors.New("v4l2: Run called twice")
	}
	defer close(c.runDone)
	select {
	case <-c.stop:
		return errors.New("v4l2: Run after Close")
	default:
	}
	d := c.dev
	gone := func(what string, err error) error {
		return fmt.Errorf("v4l2: %s: %s: %w (%w)", d.path, what, ErrDeviceGone, err)
	}
	for i := range c.bufs {
		if err := d.queue(uint32(i)); err != nil {
			return gone("queue buffer", err)
		}
	}
	if err := d.streamOn(); err != nil {
		if isBusy(err) {
			return fmt.Errorf("v4l2: %s: stream on: %w", d.path, ErrBusy)
		}
		return gone("stream on", err)
	}
	defer func() {
		if e := d.streamOff(); e != nil && err == nil && ctx.Err() == nil {
			c.log.Warn("stream off failed", "err", e)
		}
	}()

	clock := c.cfg.Clock
	last, timeout := clock.Now(), FirstFrameTimeout
	fds := []unix.PollFd{{Fd: int32(d.fd), Events: unix.POLLIN}}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-c.stop:
			return nil
		default:
		}
		idle := clock.Now() - last
		if idle >= timeout {
			return fmt.Errorf("v4l2: %s: no frame for %v: %w", d.path, idle.Round(time.Millisecond), ErrDeviceGone)
		}
		wait := min(pollInterval, timeout-idle)
		fds[0].Revents = 0
		n, err := unix.Poll(fds, int((wait+time.Millisecond-1)/time.Millisecond))
		if errors.Is(err, unix.EINTR) || (err == nil && n == 0) {
			continue
		}
		if err != nil {
			return gone("poll", err)
		}
		buf, err := go4vl.DequeueBuffer(uintptr(d.fd), go4vl.IOTypeMMAP, go4vl.BufTypeVideoCapture)
		if err != nil {
			if errors.Is(err, unix.EAGAIN) && fds[0].Revents&(unix.POLLERR|unix.POLLHUP|unix.POLLNVAL) == 0 {
				continue
			}
			// ENODEV (unplugged), EIO, or poll reporting an error with no
			// buffer to dequeue: the camera is gone.
			return gone("dequeue", err)
		}
		now := clock.Now()
		if int(buf.Index) >= len(c.bufs) {
			return gone("dequeue", fmt.Errorf("buffer index %d out of %d", buf.Index, len(c.bufs)))
		}
		data := c.bufs[buf.Index]
		data = data[:min(int(buf.BytesUsed), len(data))]
		werr := c.cap.frame(data, buf.Sequence, buf.Flags, timevalDuration(buf.Timestamp), now)
		if err := d.queue(buf.Index); err != nil {
			return gone("queue buffer", err)
		}
		if werr != nil {
			return werr
		}
		last, timeout = now, StallTimeout
	}
}

// Close stops Run if it is running (and waits for it to return), then frees
// everything: buffers, decoder, scaler, the device. It may be called more
// than once, and whether or not Run ran.
func (c *Camera) Close() {
	c.closeOnce.Do(func() {
		close(c.stop)
		if c.running.Load() {
			<-c.runDone
		}
		unmapBuffers(c.bufs)
		c.bufs = nil
		if c.cap != nil {
			c.cap.conv.close()
		}
		if c.dev != nil {
			c.dev.close()
		}
	})
}

// List describes every capture-capable /dev/video*, for `golive devices`.
// It returns an empty list, not an error, when there are none; devices that
// cannot be opened (busy, no permission) are listed with what could be read.
func List() ([]DeviceInfo, error) {
	paths, err := videoNodes()
	if err != nil {
		return nil, fmt.Errorf("v4l2: list /dev/video*: %w", err)
	}
	out := []DeviceInfo{}
	for _, p := range paths {
		d, err := openDevice(p)
		if err != nil {
			continue
		}
		if d.isCamera() {
			info := DeviceInfo{Path: p, Card: d.caps.Card, Driver: d.caps.Driver, BusInfo: d.caps.BusInfo}
			info.Formats, _ = d.formats(0, 0, 0)
			out = append(out, info)
		}
		d.close()
	}
	return out, nil
}

// firstCamera is the first capture-capable /dev/video*.
func firstCamera() (string, error) {
	cams := cameras()
	if len(cams) == 0 {
		return "", fmt.Errorf("v4l2: %w: no capture-capable /dev/video* device", ErrNotFound)
	}
	return cams[0][0], nil
}

// cameras lists the capture-capable nodes as [path, card] pairs.
func cameras() [][2]string {
	paths, _ := videoNodes()
	var out [][2]string
	for _, p := range paths {
		d, err := openDevice(p)
		if err != nil {
			continue
		}
		if d.isCamera() {
			out = append(out, [2]string{p, d.caps.Card})
		}
		d.close()
	}
	return out
}

// cameraList says which cameras exist, for ErrNotFound's message.
func cameraList() string {
	cams := cameras()
	if len(cams) == 0 {
		return "no cameras found"
	}
	s := make([]string, len(cams))
	for i, c := range cams {
		s[i] = fmt.Sprintf("%s (%s)", c[0], c[1])
	}
	return "cameras: " + strings.Join(s, ", ")
}
