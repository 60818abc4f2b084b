// Package audio is the microphone source (`--mic default|NAME|none`):
// capture with miniaudio (malgo) through PulseAudio (PipeWire too, through
// its PulseAudio server) or ALSA, and frames of FrameSamples S16 samples
// stamped on the pipeline clock.
//
// # Threads
//
// miniaudio calls back from a thread of its own. That callback only copies
// the samples, with their arrival time on the pipeline clock, into a ring
// and signals Run's goroutine, which maps the channels, corrects the
// timing (DriftCorrector) and calls Config.Audio.WriteAudio. Nothing is
// allocated per callback in the steady state; Run starts no goroutine.
//
// # Time
//
// PTS come from the sample count, anchored to the pipeline clock at the
// first callback and resampled to follow drift between the sound card's
// clock and the system's: see DriftCorrector. They stand for the moment a
// sample reached the process, less the callback's duration; the backend's
// own latency before that is not known, and not subtracted. The first
// 0.5 s a device delivers are dropped (its latency is still settling) and
// the first frame comes 0.2 s after that (the anchor is refined
// meanwhile): frames start about 0.7 s after Run, stamped with their true
// capture time.
//
// # Device names
//
// miniaudio names a PulseAudio source by its description and identifies it
// by its source name: the monitor of a null sink "golive_sink" is Name
// "Monitor of Null Output" (or whatever the sink's device.description
// says), ID "golive_sink.monitor". Config.Device matches either (see Open).
package audio

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/gen2brain/malgo"
	"github.com/golive/golive/media"
)

// Special values of Config.Device.
const (
	DeviceDefault = "default"
	DeviceNone    = "none"
)

// Timing of the device watchdog and of the callbacks.
const (
	// NoDataTimeout: a device that has delivered no sample for this long is
	// gone (PulseAudio gone, USB microphone unplugged: miniaudio does not
	// always notice).
	NoDataTimeout = 2 * time.Second
	// FirstDataTimeout replaces NoDataTimeout before the first callback:
	// an idle PulseAudio null sink, for one, starts its monitor only at its
	// next 2 s tick.
	FirstDataTimeout = 5 * time.Second
	// stopGrace: after miniaudio reports the device stopped, data must
	// come back within this (PulseAudio reports a suspended source as
	// stopped, and a resumed one as started again).
	stopGrace = 500 * time.Millisecond
	// periodMs is the callback period asked of miniaudio.
	periodMs = 10
	// ringSeconds of audio fit between the callback and Run.
	ringSeconds = 2
	// ringChunks is the most callbacks the ring holds.
	ringChunks = 1024
)

// Errors callers act on.
var (
	// ErrNoMicrophone: Device "default", and no backend has a capture
	// device (PulseAudio monitor sources do not count). The pipeline warns
	// and streams silence.
	ErrNoMicrophone = errors.New("no microphone")
	// ErrNotFound: Device names no capture device (or several). The error
	// lists the microphones that exist.
	ErrNotFound = errors.New("no such microphone")
	// ErrDeviceGone: the device stopped delivering while running (Run).
	ErrDeviceGone = errors.New("microphone gone")
	// ErrDisabled: Device "none". The caller captures no audio and need
	// not warn.
	ErrDisabled = errors.New("microphone disabled")
)

// Config configures a Mic.
type Config struct {
	// Device is "default" (or empty), a device's name or ID, or a unique
	// case-insensitive substring of one, or "none" (ErrDisabled).
	Device string
	// SampleRate (8000..192000) and Channels (1 or 2) of the frames: what
	// the encoder wants. The backend resamples to SampleRate if the device
	// runs at another rate; a mono device feeds both channels of stereo,
	// stereo (or more) becomes mono by averaging, and of more than two
	// channels stereo keeps the first two.
	SampleRate, Channels int
	// Backends are tried in order: BackendPulseAudio, BackendALSA; empty
	// means DefaultBackends.
	Backends []string
	// Clock is the pipeline clock. Required.
	Clock *media.Clock
	// Audio receives frames of FrameSamples samples. It must return at once
	// and must not keep the frame. Required.
	Audio media.AudioWriter
	// Logger gets the component "capture.audio"; nil means slog.Default().
	Logger *slog.Logger
}

// Mic is an open capture device. Run it once; Close it.
type Mic struct {
	cfg   Config
	log   *slog.Logger
	info  DeviceInfo // what was opened
	devCh int        // channels the device delivers

	bc  *backendContext
	dev *malgo.Device

	now      func() time.Duration // the pipeline clock (a fake in tests)
	ring     ring
	stopping atomic.Bool   // we are stopping the device: ignore its stop notification
	stopped  chan struct{} // miniaudio's stop notification (cap 1)

	mu      sync.Mutex // guards dev against Close while Run uses it
	closed  bool
	done    chan struct{} // closed by Close
	closeMu sync.Once
	running atomic.Bool

	// Run's state, reused: no allocation per callback.
	dc       *DriftCorrector
	scratch  []int16
	mapped   []int16
	chunkBuf []chunk
}

// Open checks cfg, finds the device and opens it (without starting it).
//
// Device "default" takes the default capture device of the first backend
// (of cfg.Backends) that has a microphone, and ErrNoMicrophone when none
// has one: PulseAudio monitor sources (what an output plays) are not
// microphones, and ALSA's plugins into sound servers and pseudo-devices
// ("null") are left out. Any other name is looked for in each backend in
// turn: first an exact ID, then an exact Name, then a unique substring of
// either, all case-insensitive; ErrNotFound, with the list of the devices,
// when nothing matches or a substring matches several. Device "none" gives
// ErrDisabled.
func Open(cfg Config) (*Mic, error) {
	if cfg.Device == "" {
		cfg.Device = DeviceDefault
	}
	if cfg.Device == DeviceNone {
		return nil, fmt.Errorf("audio: --mic none: %w", ErrDisabled)
	}
	if cfg.SampleRate < 8000 || cfg.SampleRate > 192000 {
		return nil, fmt.Errorf("audio: sample rate %d: must be 8000..192000", cfg.SampleRate)
	}
	if cfg.Channels != 1 && cfg.Channels != 2 {
		return nil, fmt.Errorf("audio: %d channels: must be 1 or 2", cfg.Channels)
	}
	if cfg.Clock == nil {
		return nil, errors.New("audio: no Clock")
	}
	if cfg.Audio == nil {
		return nil, errors.New("audio: no Audio writer")
	}
	if len(cfg.Backends) == 0 {
		cfg.Backends = DefaultBackends
	}
	for _, b := range cfg.Backends {
		if _, err := backendOf(b); err != nil {
			return nil, err
		}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("component", "capture.audio")

	m := &Mic{cfg: cfg, log: log, now: cfg.Clock.Now, stopped: make(chan struct{}, 1), done: make(chan struct{})}
	bc, id, err := m.find()
	if err != nil {
		return nil, err
	}
	m.bc = bc
	if err := m.initDevice(id); err != nil {
		bc.close()
		return nil, err
	}
	log.Info("microphone opened", "name", m.info.Name, "id", m.info.ID, "backend", m.info.Backend,
		"device_channels", m.devCh, "sample_rate", cfg.SampleRate, "channels", cfg.Channels)
	return m, nil
}

// find picks the backend and the device; id nil means the backend's
// default device.
func (m *Mic) find() (*backendContext, *malgo.DeviceID, error) {
	var seen []DeviceInfo
	var errs []error
	for _, name := range m.cfg.Backends {
		bc, err := openBackend(name, false, m.log)
		if err != nil {
			m.log.Debug("backend unavailable", "backend", name, "error", err)
			errs = append(errs, err)
			continue
		}
		seen = append(seen, bc.devices...)
		if m.cfg.Device == DeviceDefault {
			def := -1
			for i, d := range bc.devices {
				if d.monitor() {
					continue
				}
				if def < 0 || d.Default {
					def = i
				}
			}
			if def >= 0 {
				m.info = bc.devices[def]
				if m.info.Default {
					return bc, nil, nil // the backend's default: it may follow changes
				}
				// The backend's default is a monitor (or unknown): name
				// the microphone.
				id := bc.ids[def]
				return bc, &id, nil
			}
		} else {
			i, err := match(bc.devices, m.cfg.Device)
			if err != nil {
				bc.close()
				return nil, nil, err
			}
			if i >= 0 {
				m.info = bc.devices[i]
				id := bc.ids[i]
				return bc, &id, nil
			}
		}
		bc.close()
	}
	if m.cfg.Device == DeviceDefault {
		if len(errs) == len(m.cfg.Backends) {
			return nil, nil, fmt.Errorf("audio: default microphone: %w: no sound server or card reachable: %w",
				ErrNoMicrophone, errors.Join(errs...))
		}
		mon := ""
		if len(seen) > 0 {
			mon = " (only monitors of outputs, which are not taken by default: " + names(seen) + ")"
		}
		return nil, nil, fmt.Errorf("audio: default microphone: %w on %v%s", ErrNoMicrophone, m.cfg.Backends, mon)
	}
	return nil, nil, fmt.Errorf("audio: microphone %q: %w on %v; %s", m.cfg.Device, ErrNotFound, m.cfg.Backends, describe(seen))
}

// initDevice opens the capture device id (nil: the default) as S16 at the
// configured rate in the device's own channel count.
func (m *Mic) initDevice(id *malgo.DeviceID) error {
	dc := malgo.DefaultDeviceConfig(malgo.Capture)
	dc.SampleRate = uint32(m.cfg.SampleRate)
	dc.PeriodSizeInMilliseconds = periodMs
	dc.Capture.Format = malgo.FormatS16
	dc.Capture.Channels = 0 // native: the mapping is ours
	dc.Pulse.StreamNameCapture = "golive"
	if id != nil {
		// miniaudio copies the ID during init; pinned, it may be passed
		// inside the config.
		var pin runtime.Pinner
		pin.Pin(id)
		defer pin.Unpin()
		dc.Capture.DeviceID = unsafe.Pointer(id)
	}
	dev, err := malgo.InitDevice(m.bc.ctx.Context, dc, malgo.DeviceCallbacks{
		Data: m.onData,
		Stop: m.onStop,
	})
	if err != nil {
		if m.cfg.Device == DeviceDefault && errors.Is(err, malgo.ErrNoDevice) {
			return fmt.Errorf("audio: open %s: %w: %w", m.info, ErrNoMicrophone, err)
		}
		return fmt.Errorf("audio: open %s: %w", m.info, err)
	}
	m.dev = dev
	m.devCh = int(dev.CaptureChannels())
	if got := int(dev.SampleRate()); got != m.cfg.SampleRate || dev.CaptureFormat() != malgo.FormatS16 ||
		m.devCh < 1 {
		dev.Uninit()
		m.dev = nil
		return fmt.Errorf("audio: open %s: got %d Hz, %d channels, format %d; want %d Hz S16",
			m.info, got, m.devCh, dev.CaptureFormat(), m.cfg.SampleRate)
	}
	m.initRing()
	return nil
}

// initRing sizes the ring and Run's buffers for the device's channels.
func (m *Mic) initRing() {
	n := ringSeconds * m.cfg.SampleRate * m.devCh
	m.ring.init(n, ringChunks)
	m.scratch = make([]int16, n)
	m.mapped = make([]int16, 0, n/m.devCh*m.cfg.Channels)
	m.chunkBuf = make([]chunk, ringChunks)
}

// Device describes the device that was opened.
func (m *Mic) Device() DeviceInfo { return m.info }

// onData is miniaudio's data callback, on its thread: copy and signal.
func (m *Mic) onData(_, in []byte, frames uint32) {
	if len(in) < 2 {
		return
	}
	at := m.now()
	// S16 in the machine's byte order, as miniaudio delivers it.
	samples := unsafe.Slice((*int16)(unsafe.Pointer(&in[0])), len(in)/2)
	m.ring.push(samples, int(frames), at)
}

// onStop is miniaudio's stop notification.
func (m *Mic) onStop() {
	if m.stopping.Load() {
		return
	}
	select {
	case m.stopped <- struct{}{}:
	default:
	}
}

// Run starts the device and delivers frames to Config.Audio until ctx ends
// or Close is called (nil), the device is lost (an error wrapping
// ErrDeviceGone: miniaudio reported it stopped, or no sample came for
// NoDataTimeout, FirstDataTimeout before the first) or Audio fails (its
// error, wrapped). It stops the device before it returns. Run may be called
// once; to retry after ErrDeviceGone, Close and Open again.
func (m *Mic) Run(ctx context.Context) error {
	if !m.running.CompareAndSwap(false, true) {
		return errors.New("audio: Run called twice")
	}
	dc, err := NewDriftCorrector(m.cfg.SampleRate, m.cfg.Channels, m.cfg.Audio)
	if err != nil {
		return err
	}
	m.dc = dc
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return errors.New("audio: Run after Close")
	}
	m.stopping.Store(false)
	err = m.dev.Start()
	m.mu.Unlock()
	if err != nil {
		return fmt.Errorf("audio: start %s: %w", m.info, err)
	}
	defer m.stopDevice()
	return m.loop(ctx)
}

// loop is Run's body: wait for data, process it, watch the device.
func (m *Mic) loop(ctx context.Context) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	start := time.Now()
	var (
		lastData  time.Time // zero until the first data
		stoppedAt time.Time // miniaudio's stop notification, zero if data came after it
		stopPush  int64     // callbacks (ring.pushes) before the stop notification
		warned    time.Time
		reported  = time.Now()
		lastDrops int64
		lastRe    int64
	)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-m.done:
			return nil
		case <-m.stopped:
			if stoppedAt.IsZero() {
				// The callbacks before the notification may still be in
				// the ring: only a later one shows the device is back.
				stoppedAt, stopPush = time.Now(), m.ring.pushes.Load()
				m.log.Debug("miniaudio reports the device stopped", "device", m.info.String())
			}
		case <-m.ring.signal:
		case <-tick.C:
		}
		got, err := m.process()
		if err != nil {
			return err
		}
		now := time.Now()
		if got {
			lastData = now
		}
		if !stoppedAt.IsZero() && m.ring.pushes.Load() > stopPush {
			stoppedAt = time.Time{}
		}
		switch {
		case !stoppedAt.IsZero() && now.Sub(stoppedAt) > stopGrace:
			return fmt.Errorf("audio: %s: %w: the backend stopped it", m.info, ErrDeviceGone)
		case lastData.IsZero() && now.Sub(start) > FirstDataTimeout:
			return fmt.Errorf("audio: %s: %w: no sample within %v of starting", m.info, ErrDeviceGone, FirstDataTimeout)
		case !lastData.IsZero() && now.Sub(lastData) > NoDataTimeout:
			return fmt.Errorf("audio: %s: %w: no sample for %v", m.info, ErrDeviceGone, NoDataTimeout)
		}
		if now.Sub(reported) >= time.Minute {
			st := m.dc.Stats()
			m.log.Debug("audio clock", "drift_ppm", int(st.Drift*1e6), "ratio_ppm", int((st.Ratio-1)*1e6),
				"error_ms", float64(st.Error.Microseconds())/1000)
			reported = now
		}
		// Rate-limited warnings: one line a second at most.
		if now.Sub(warned) >= time.Second {
			st := m.dc.Stats()
			drops := m.ring.dropped.Load()
			if drops > lastDrops || st.Reanchors > lastRe {
				m.log.Warn("audio discontinuity", "dropped_samples", drops-lastDrops,
					"reanchors", st.Reanchors-lastRe, "drift_ppm", int(st.Drift*1e6))
				lastDrops, lastRe, warned = drops, st.Reanchors, now
			}
		}
	}
}

// process moves what the callback queued through the channel mapping and
// the drift corrector. It reports whether there was any data.
func (m *Mic) process() (bool, error) {
	nc, ns := m.ring.pop(m.chunkBuf, m.scratch)
	off := 0
	for _, c := range m.chunkBuf[:nc] {
		in := m.scratch[off : off+c.n*m.devCh]
		off += c.n * m.devCh
		m.mapped = mapChannels(m.mapped[:0], in, m.devCh, m.cfg.Channels)
		if err := m.dc.Write(m.mapped, c.at); err != nil {
			return true, err
		}
	}
	return ns > 0, nil
}

// stopDevice stops the device (Run's end) unless Close got there first.
func (m *Mic) stopDevice() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return
	}
	m.stopping.Store(true)
	if err := m.dev.Stop(); err != nil {
		m.log.Debug("stop device", "error", err)
	}
}

// Close stops and releases the device. It is idempotent, and safe to call
// while Run is running: Run then returns nil.
func (m *Mic) Close() {
	m.closeMu.Do(func() {
		close(m.done)
		m.mu.Lock()
		defer m.mu.Unlock()
		m.closed = true
		m.stopping.Store(true)
		if m.dev != nil {
			m.dev.Uninit()
			m.dev = nil
		}
		m.bc.close()
	})
}

// mapChannels appends to dst the interleaved samples of src (inCh
// channels) mapped to outCh (1 or 2) channels: copied when they are equal;
// mono to stereo duplicates; to mono averages all channels; more than two
// to stereo keeps the first two.
func mapChannels(dst, src []int16, inCh, outCh int) []int16 {
	switch {
	case inCh == outCh:
		return append(dst, src...)
	case outCh == 1:
		for i := 0; i+inCh <= len(src); i += inCh {
			sum := 0
			for _, v := range src[i : i+inCh] {
				sum += int(v)
			}
			// Round half away from zero.
			if sum >= 0 {
				sum = (2*sum + inCh) / (2 * inCh)
			} else {
				sum = -((-2*sum + inCh) / (2 * inCh))
			}
			dst = append(dst, int16(sum))
		}
	case inCh == 1:
		for _, v := range src {
			dst = append(dst, v, v)
		}
	default: // more than two to stereo
		for i := 0; i+inCh <= len(src); i += inCh {
			dst = append(dst, src[i], src[i+1])
		}
	}
	return dst
}
