package encode

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golive/golive/media"
)

// The test encoders: libx264 behaving as a hardware encoder would, for
// the end-to-end tests of what only real hardware does otherwise. Hidden
// --encoder values (not in the usage text):
//
//	test:reopen      follows no bitrate live: every change reopens it
//	test:fail=DUR    fails DUR of media time after its first frame
//	test:hang=DUR    hangs (a driver that never returns) after DUR
//
// Each is "hardware" to the pipeline: it takes NV12, is watched for
// stalls, and is replaced by libx264 when it fails.
func testBackend(name string) (Backend, bool) {
	kind, arg, _ := strings.Cut(strings.TrimPrefix(name, "test:"), "=")
	if !strings.HasPrefix(name, "test:") {
		return Backend{}, false
	}
	b := x264Backend()
	// NV12 in, as the hardware encoders take it: the filter stage writes
	// it, and libx264 after a fallback goes on with it.
	b.Name, b.LiveBitrate, b.Format = name, false, media.PixelFormatNV12
	switch kind {
	case "reopen":
		if arg != "" {
			return Backend{}, false
		}
		return b, true
	case "fail", "hang":
		d, err := time.ParseDuration(arg)
		if err != nil || d < 0 {
			return Backend{}, false
		}
		open := b.Open
		b.Open = func(cfg VideoConfig) (Codec, error) {
			c, err := open(cfg)
			if err != nil {
				return nil, err
			}
			return &faultCodec{Codec: c, after: toTimeBase(d, videoTimeBase), hang: kind == "hang"}, nil
		}
		return b, true
	}
	return Backend{}, false
}

// faultCodec fails (or hangs, until release is closed) from after ticks
// past its first frame on.
type faultCodec struct {
	Codec
	after   int64
	hang    bool
	release chan struct{} // nil: hang for ever
	first   int64
	started bool
}

var errTestFault = errors.New("test encoder: failing as asked")

func (f *faultCodec) Send(pts int64, key bool) error {
	if !f.started {
		f.first, f.started = pts, true
	}
	if pts-f.first >= f.after {
		if f.hang {
			<-f.release
		}
		return fmt.Errorf("%w at %v", errTestFault, fromTimeBase(pts-f.first, videoTimeBase))
	}
	return f.Codec.Send(pts, key)
}
