package audio

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/gen2brain/malgo"
)

// Backend names, for Config.Backends.
const (
	BackendPulseAudio = "pulseaudio"
	BackendALSA       = "alsa"
)

// DefaultBackends is the order tried when Config.Backends is empty:
// PulseAudio (also PipeWire, through its PulseAudio server), then ALSA.
var DefaultBackends = []string{BackendPulseAudio, BackendALSA}

// DeviceInfo describes a capture device, for `golive devices` and for
// error messages.
type DeviceInfo struct {
	// Name is the human name miniaudio reports: PulseAudio's description
	// ("Monitor of Null Output", "Built-in Audio Analog Stereo"), ALSA's
	// hint description.
	Name string
	// ID is what identifies the device to its backend: the PulseAudio source
	// name ("golive_sink.monitor", "alsa_input.pci-0000_00_1f.3.analog-stereo")
	// or the ALSA PCM name ("hw:1,0").
	ID string
	// Backend is BackendPulseAudio or BackendALSA.
	Backend string
	// Channels and Rates are the native formats the backend reports, when
	// it reports them (ALSA devices that are busy report none).
	Channels []int
	Rates    []int
	// Default marks the backend's default capture device.
	Default bool
}

// String is "NAME (ID, BACKEND)".
func (d DeviceInfo) String() string {
	return fmt.Sprintf("%q (%s, %s)", d.Name, d.ID, d.Backend)
}

// monitor reports whether the device is a PulseAudio monitor source (what
// a sink plays), rather than a microphone.
func (d DeviceInfo) monitor() bool {
	return d.Backend == BackendPulseAudio && strings.HasSuffix(d.ID, ".monitor")
}

// alsaPseudo are ALSA PCMs from the configuration of alsa-lib and its
// plugins that miniaudio lists as capture devices but that are no
// microphone: "null" records zeros, the others are converters or bridges to
// other sound servers (tried as backends of their own), and probing them
// makes alsa-lib and JACK print errors on stderr.
var alsaPseudo = map[string]bool{
	"null": true, "lavrate": true, "samplerate": true, "speexrate": true, "speex": true,
	"jack": true, "oss": true, "pulse": true, "pipewire": true, "upmix": true, "vdownmix": true,
}

// bridge reports whether an ALSA device is alsa-lib's plugin into a sound
// server ("default" is, where PulseAudio or PipeWire is installed:
// "Playback/recording through the PulseAudio sound server"): the server is
// a backend of its own, tried first, and the bridge would only repeat its
// default source, a monitor included.
func bridge(d DeviceInfo) bool {
	if d.Backend != BackendALSA {
		return false
	}
	n := strings.ToLower(d.Name)
	return strings.Contains(n, "pulseaudio") || strings.Contains(n, "pipewire")
}

// backendOf maps a backend name to miniaudio's.
func backendOf(name string) (malgo.Backend, error) {
	switch strings.ToLower(name) {
	case BackendPulseAudio, "pulse", "pipewire":
		return malgo.BackendPulseaudio, nil
	case BackendALSA:
		return malgo.BackendAlsa, nil
	}
	return 0, fmt.Errorf("audio: backend %q: want %q or %q", name, BackendPulseAudio, BackendALSA)
}

// backendContext is a miniaudio context on one backend, with its devices.
type backendContext struct {
	name    string
	ctx     *malgo.AllocatedContext
	devices []DeviceInfo
	ids     []malgo.DeviceID // beside devices
}

// openBackend initialises a miniaudio context on one backend and lists its
// capture devices (pseudo-devices left out). With probe, it also asks each
// device for its native formats. miniaudio's log goes to log at debug level.
func openBackend(name string, probe bool, log *slog.Logger) (*backendContext, error) {
	b, err := backendOf(name)
	if err != nil {
		return nil, err
	}
	ctx, err := malgo.InitContext([]malgo.Backend{b}, malgo.ContextConfig{}, func(msg string) {
		log.Debug("miniaudio", "backend", name, "msg", strings.TrimSpace(msg))
	})
	if err != nil {
		return nil, fmt.Errorf("audio: %s: %w", name, err)
	}
	bc := &backendContext{name: name, ctx: ctx}
	devs, err := ctx.Devices(malgo.Capture)
	if err != nil {
		bc.close()
		return nil, fmt.Errorf("audio: %s: list capture devices: %w", name, err)
	}
	for _, d := range devs {
		info := DeviceInfo{Name: d.Name(), ID: cString(d.ID[:]), Backend: name, Default: d.IsDefault != 0}
		if b == malgo.BackendAlsa && alsaPseudo[info.ID] || bridge(info) {
			continue
		}
		if probe {
			if full, err := ctx.DeviceInfo(malgo.Capture, d.ID, malgo.Shared); err == nil {
				for _, f := range full.Formats {
					if f.Channels > 0 && !slices.Contains(info.Channels, int(f.Channels)) {
						info.Channels = append(info.Channels, int(f.Channels))
					}
					if f.SampleRate > 0 && !slices.Contains(info.Rates, int(f.SampleRate)) {
						info.Rates = append(info.Rates, int(f.SampleRate))
					}
				}
				slices.Sort(info.Channels)
				slices.Sort(info.Rates)
			}
		}
		bc.devices = append(bc.devices, info)
		bc.ids = append(bc.ids, d.ID)
	}
	return bc, nil
}

func (bc *backendContext) close() {
	if bc == nil || bc.ctx == nil {
		return
	}
	_ = bc.ctx.Uninit()
	bc.ctx.Free()
	bc.ctx = nil
}

// cString is the text of a NUL-terminated byte array (miniaudio's device IDs
// on Linux: PulseAudio and ALSA names).
func cString(b []byte) string {
	if i := slices.Index(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// List returns the capture devices of every backend of DefaultBackends
// that can be reached, in that order: an empty list, not an error, when
// there are none. PulseAudio monitor sources (ID "….monitor": what a sink
// plays) are listed, since they can be captured by name, although Open
// never takes one as "default". An error is returned only when no backend
// could be initialised at all.
func List() ([]DeviceInfo, error) {
	log := slog.New(slog.DiscardHandler)
	var all []DeviceInfo
	var errs []error
	reached := false
	for _, name := range DefaultBackends {
		bc, err := openBackend(name, true, log)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		reached = true
		all = append(all, bc.devices...)
		bc.close()
	}
	if !reached {
		return nil, fmt.Errorf("audio: list devices: %w", errors.Join(errs...))
	}
	if all == nil {
		all = []DeviceInfo{}
	}
	return all, nil
}

// match finds the device that name designates among devs: the one whose ID
// or Name equals name, or else the only one that contains it, all
// case-insensitively. It returns -1 when none does, and an error naming
// the candidates when several do.
func match(devs []DeviceInfo, name string) (int, error) {
	low := strings.ToLower(name)
	for _, exact := range []func(DeviceInfo) bool{
		func(d DeviceInfo) bool { return strings.ToLower(d.ID) == low },
		func(d DeviceInfo) bool { return strings.ToLower(d.Name) == low },
	} {
		if i := slices.IndexFunc(devs, exact); i >= 0 {
			return i, nil
		}
	}
	var hits []int
	for i, d := range devs {
		if strings.Contains(strings.ToLower(d.ID), low) || strings.Contains(strings.ToLower(d.Name), low) {
			hits = append(hits, i)
		}
	}
	switch len(hits) {
	case 0:
		return -1, nil
	case 1:
		return hits[0], nil
	}
	found := make([]DeviceInfo, len(hits))
	for k, i := range hits {
		found[k] = devs[i]
	}
	return -1, fmt.Errorf("audio: microphone %q: %w: it matches %d devices: %s; give more of the name, or the ID",
		name, ErrNotFound, len(hits), names(found))
}

// describe lists devices for an error message.
func describe(devs []DeviceInfo) string {
	if len(devs) == 0 {
		return "there are none"
	}
	return "the microphones are: " + names(devs)
}

// names is the devices' String()s, comma-separated.
func names(devs []DeviceInfo) string {
	s := make([]string, len(devs))
	for i, d := range devs {
		s[i] = d.String()
	}
	return strings.Join(s, ", ")
}
