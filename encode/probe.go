package encode

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/asticode/go-astiav"

	"github.com/golive/golive/media"
	"github.com/golive/golive/media/h264"
)

// ProbeTimeout bounds the whole probe of the hardware encoders: a driver
// can hang on open or on its first frame.
const ProbeTimeout = 2 * time.Second

// Result is what happened when one encoder was tried (golive devices).
type Result struct {
	Name      string `json:"name"`
	Codec     string `json:"codec"`
	Device    string `json:"device"`
	Available bool   `json:"available"`
	// Reason: why it cannot be used; empty when it can.
	Reason string `json:"reason"`
	// Took: how long the open and the first frame took.
	Took time.Duration `json:"-"`
	// TookMS is Took for scripts.
	TookMS float64 `json:"took_ms"`

	sps, pps [][]byte // what the first frame gave
}

// Probe tries the candidates in order: each hardware encoder is opened
// with cfg's settings and must encode a first frame into an IDR with its
// parameter sets, all of them within timeout together (ProbeTimeout when
// zero); one that overruns is skipped and never used by this process.
// libx264 is not probed. With all, every candidate is tried (golive
// devices); otherwise the probe stops at the first that works. It returns
// the index of the first that works (-1: none) and a result for each
// candidate tried.
func Probe(cfg VideoConfig, cands []Backend, timeout time.Duration, all bool) (int, []Result) {
	cfg = cfg.withDefaults()
	if timeout <= 0 {
		timeout = ProbeTimeout
	}
	deadline := time.Now().Add(timeout)
	chosen := -1
	var results []Result
	for i, b := range cands {
		if chosen >= 0 && !all {
			break
		}
		r := Result{Name: b.Name, Codec: b.Codec, Device: b.Device}
		start := time.Now()
		switch {
		case b.Unavailable != "":
			r.Reason = b.Unavailable
		case b.Software():
			r.Available = true
		default:
			left := time.Until(deadline)
			if left <= 0 {
				r.Reason = fmt.Sprintf("not tried: the probe's %v were spent", timeout)
				break
			}
			var err error
			said := ffmpegSays(func() { r.sps, r.pps, err = probeOne(b, cfg, left) })
			if errors.Is(err, errHung) {
				r.Reason = fmt.Sprintf("no answer within %v (%v): skipped, never used", left.Round(time.Millisecond), err)
			} else if err != nil {
				r.Reason = oneLine(err)
				if said != "" {
					r.Reason += " (FFmpeg: " + said + ")"
				}
			} else {
				r.Available = true
			}
		}
		r.Took = time.Since(start)
		r.TookMS = float64(r.Took.Microseconds()) / 1000
		if r.Available && chosen < 0 {
			chosen = i
		}
		results = append(results, r)
	}
	return chosen, results
}

// probeOne opens b and encodes one black frame, within timeout.
func probeOne(b Backend, cfg VideoConfig, timeout time.Duration) (sps, pps [][]byte, err error) {
	deadline := time.Now().Add(timeout)
	cfg.Bitrate = max(cfg.Bitrate, b.MinBitrate) // as the stream will open it
	s, err := openSession(b, cfg, timeout, 0)
	if err != nil {
		return nil, nil, err
	}
	// Closing is not the first frame: a driver slow to let go is not
	// skipped for it, and the close may take a little past the budget.
	defer s.close(max(time.Until(deadline), 500*time.Millisecond))
	f := media.NewFramePoolOf(b.format(cfg.Format), cfg.Width, cfg.Height).Get()
	fill(f, 16, 128)
	if err := s.codec.Load(f); err != nil {
		return nil, nil, err
	}
	left := func() time.Duration { return max(time.Until(deadline), time.Millisecond) }
	out, err := s.do(request{op: opEncode, key: true}, left())
	if err != nil {
		return nil, nil, fmt.Errorf("first frame: %w", err)
	}
	aus := append([]au(nil), out.aus...) // the session reuses its buffer
	more, err := s.flush(left())
	if err != nil {
		return nil, nil, fmt.Errorf("first frame: %w", err)
	}
	sps, pps = h264.ParameterSets(s.codec.ExtraData())
	idr := false
	for _, a := range append(aus, more...) {
		if len(a.SPS) > 0 && len(a.PPS) > 0 {
			sps, pps = a.SPS, a.PPS
		}
		idr = idr || a.IDR
	}
	switch {
	case !idr:
		return nil, nil, errors.New("first frame: no IDR picture came out")
	case len(sps) == 0 || len(pps) == 0:
		return nil, nil, errors.New("first frame: no SPS/PPS, neither at open nor in band")
	}
	return sps, pps, nil
}

// ffmpegSays runs fn and returns what FFmpeg logged meanwhile (at the
// level set with astiav.SetLogLevel), on one line: the words of a driver
// that refused ("Cannot load libcuda.so.1") rather than an errno. Nothing
// else runs FFmpeg while the encoders are probed, before going live.
func ffmpegSays(fn func()) string {
	var (
		mu   sync.Mutex
		msgs []string
	)
	astiav.SetLogCallback(func(_ astiav.Classer, _ astiav.LogLevel, _, msg string) {
		if m := strings.Join(strings.Fields(msg), " "); m != "" {
			mu.Lock()
			if !slices.Contains(msgs, m) {
				msgs = append(msgs, m)
			}
			mu.Unlock()
		}
	})
	fn()
	astiav.ResetLogCallback()
	mu.Lock()
	defer mu.Unlock()
	return strings.Join(msgs, "; ")
}

// fill paints f one colour.
func fill(f *media.VideoFrame, y, c byte) {
	for i := range f.Format.Planes() {
		v := c
		if i == 0 {
			v = y
		}
		for j := range f.Planes[i] {
			f.Planes[i][j] = v
		}
	}
}
