package main

import (
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/golive/golive/capture/testsrc"
	"github.com/golive/golive/encode"
	"github.com/golive/golive/internal/preset"
	"github.com/golive/golive/media"
)

// encFrames: how many frames each encoder run encodes (10 s at 30 fps),
// from a loop of encLoop distinct frames of golive's test pattern.
const (
	encFrames = 300
	encLoop   = 30
)

// encRun is one encoder's figures at one size.
type encRun struct {
	cpuPerFrame  time.Duration // user+sys per frame, the whole process
	p50, p99     time.Duration // frame in → its packet out
	kbps         float64
	ffmpegCPU    time.Duration // the ffmpeg command line, same frames and settings (0: not run)
	ffmpegFrames int
}

// encoderRounds measures every encoder that opens here, at 720p30 and
// 1080p30, against the ffmpeg command line with the same frames and
// settings, and the cost of a switch to a reopened encoder. It returns the
// report's section.
func encoderRounds(rounds int) (string, error) {
	cands, err := encode.Candidates(encode.Auto)
	if err != nil {
		return "", err
	}
	_, results := encode.Probe(encode.VideoConfig{Width: 1280, Height: 720, FPS: 30, Bitrate: 2_500_000,
		KeyframeInterval: 2 * time.Second}, cands, 0, true)
	var b strings.Builder
	fmt.Fprintf(&b, "## Encoders: CPU per frame and latency, golive vs the ffmpeg command line\n\n")
	fmt.Fprintf(&b, "The probe on this machine (`golive devices`):\n\n| encoder | codec | available | why not |\n|---|---|---|---|\n")
	var open []string
	var x264at720 time.Duration
	for _, r := range results {
		fmt.Fprintf(&b, "| %s | %s | %v | %s |\n", r.Name, r.Codec, r.Available, strings.ReplaceAll(r.Reason, "|", "/"))
		if r.Available {
			open = append(open, r.Name)
		}
	}
	fmt.Fprintf(&b, "\nEach encoder that opens encodes %d frames of golive's test pattern (a loop of %d, encoded as fast as it goes,\n", encFrames, encLoop)
	fmt.Fprintf(&b, "in-process through `encode.Video`, the preset's bitrate, keyframes every 2 s); CPU = user+sys of the process per frame;\n")
	fmt.Fprintf(&b, "latency = a frame handed to the encoder → its packet out. ffmpeg: the same frames as rawvideo, the same settings,\n")
	fmt.Fprintf(&b, "`-f null`. Median of %d rounds.\n\n", rounds)
	fmt.Fprintf(&b, "| encoder | preset | golive CPU/frame | ffmpeg CPU/frame | ratio | latency p50 / p99 | kbit/s |\n|---|---|---|---|---|---|---|\n")
	dir, err := os.MkdirTemp("", "golive-bench-enc-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	for _, name := range []string{"720p30", "1080p30"} {
		p, err := preset.Load(name)
		if err != nil {
			return "", err
		}
		frames, raw, err := benchFrames(p, dir)
		if err != nil {
			return "", err
		}
		for _, enc := range open {
			var runs []encRun
			for range rounds {
				r, err := encodeRun(enc, p, frames)
				if err != nil {
					return "", fmt.Errorf("%s %s: %w", enc, name, err)
				}
				if enc == encode.X264 {
					if r.ffmpegCPU, r.ffmpegFrames, err = ffmpegEncode(p, raw); err != nil {
						return "", err
					}
				}
				runs = append(runs, r)
				fmt.Printf("%s %s: cpu %v/frame, latency p50 %v p99 %v, %.0f kbit/s; ffmpeg %v/frame\n", enc, name,
					r.cpuPerFrame, r.p50, r.p99, r.kbps, r.ffmpegCPU)
			}
			m := medianRun(runs)
			ff, ratio := "—", "—"
			if m.ffmpegCPU > 0 {
				ff, ratio = ms(m.ffmpegCPU), fmt.Sprintf("%.2f", float64(m.cpuPerFrame)/float64(m.ffmpegCPU))
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s / %s | %.0f |\n", enc, name, ms(m.cpuPerFrame), ff, ratio, ms(m.p50), ms(m.p99), m.kbps)
			if enc == encode.X264 && name == "720p30" {
				x264at720 = m.cpuPerFrame
			}
		}
		for _, f := range frames {
			f.Release()
		}
	}
	sw, err := switchCost(rounds)
	if err != nil {
		return "", err
	}
	b.WriteString(sw)
	b.WriteString(paperEstimate(x264at720))
	return b.String(), nil
}

// paperEstimate: what a Raspberry Pi would spend, from this machine's
// libx264 figure and stated ratios — an estimate, not a measurement.
func paperEstimate(x264 time.Duration) string {
	var b strings.Builder
	core := func(d time.Duration) float64 { return float64(d) / 1e6 * 30 / 10 } // % of one core at 30 fps
	fmt.Fprintf(&b, "\n### Paper estimate: a Raspberry Pi at 720p30 (not measured: no Pi here)\n\n")
	fmt.Fprintf(&b, "Basis: libx264 veryfast at 720p30 costs %s of CPU per frame here (above). Assumed speed of libx264 per core\n", ms(x264))
	fmt.Fprintf(&b, "against this machine's: a Pi 4 (Cortex-A72, 1.8 GHz) 8× slower (6–12: about 5× in single-core benchmarks, and\n")
	fmt.Fprintf(&b, "x264's 128-bit NEON against AVX2); a Pi 5 (Cortex-A76, 2.4 GHz) 3× slower (2.5–4: 2–3× a Pi 4 by the Raspberry\n")
	fmt.Fprintf(&b, "Pi's own figures). With v4l2m2m the VideoCore encodes; the CPU copies each NV12 frame into the driver's buffer\n")
	fmt.Fprintf(&b, "(1.4 MB at 720p, ~0.5 ms at a Pi 4's ~3 GB/s memcpy) and makes a few ioctls: about 1 ms a frame (0.5–2).\n\n")
	fmt.Fprintf(&b, "| machine | encoder | CPU per frame | one core's share at 30 fps |\n|---|---|---|---|\n")
	for _, r := range []struct {
		machine, enc string
		d, lo, hi    time.Duration
	}{
		{"Pi 4", "v4l2m2m", time.Millisecond, time.Millisecond / 2, 2 * time.Millisecond},
		{"Pi 4", "libx264 (for comparison)", x264 * 8, x264 * 6, x264 * 12},
		{"Pi 5", "libx264", x264 * 3, x264 * 5 / 2, x264 * 4},
	} {
		fmt.Fprintf(&b, "| %s | %s | ~%s (%s–%s) | ~%.0f%% (%.0f–%.0f%%) |\n", r.machine, r.enc, ms(r.d), ms(r.lo), ms(r.hi),
			core(r.d), core(r.lo), core(r.hi))
	}
	fmt.Fprintf(&b, "\nOn a Pi 4, libx264 alone would take %.1f of its four cores (%.1f–%.1f), with capture, filters and the network on\n",
		core(x264*8)/100, core(x264*6)/100, core(x264*12)/100)
	fmt.Fprintf(&b, "top and the Pi 4 throttling under sustained load; v4l2m2m leaves the CPU nearly idle. A Pi 5 has no H.264 block;\n")
	fmt.Fprintf(&b, "libx264 takes %.1f of its four cores there.\n", core(x264*3)/100)
	return b.String()
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/1e6) }

// medianRun is the run with the median CPU per frame.
func medianRun(rs []encRun) encRun {
	slices.SortFunc(rs, func(a, b encRun) int { return int(a.cpuPerFrame - b.cpuPerFrame) })
	m := rs[len(rs)/2]
	ff := make([]time.Duration, len(rs))
	for i, r := range rs {
		ff[i] = r.ffmpegCPU
	}
	slices.Sort(ff)
	m.ffmpegCPU = ff[len(ff)/2]
	return m
}

// benchFrames renders encLoop frames of the test pattern at p's size and
// writes them as raw I420 for ffmpeg.
func benchFrames(p preset.Preset, dir string) ([]*media.VideoFrame, string, error) {
	w, h := p.Video.Width, p.Video.Height
	src := &testsrc.Source{Width: w, Height: h, FPS: p.Video.FPS}
	pool := media.NewFramePool(w, h)
	raw := filepath.Join(dir, fmt.Sprintf("%dx%d.yuv", w, h))
	f, err := os.Create(raw)
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	var frames []*media.VideoFrame
	for n := range encLoop {
		fr := pool.Get()
		src.RenderFrame(fr, uint64(n))
		frames = append(frames, fr)
		for i := range 3 {
			if _, err := f.Write(fr.Planes[i]); err != nil { // the pool's planes are packed
				return nil, "", err
			}
		}
	}
	return frames, raw, f.Close()
}

// encodeRun encodes encFrames frames with encoder enc at p's settings.
func encodeRun(enc string, p preset.Preset, frames []*media.VideoFrame) (encRun, error) {
	var (
		mu    sync.Mutex
		in    = map[time.Duration]time.Time{}
		lat   []time.Duration
		bytes int
	)
	out := media.PacketWriterFunc(func(pkt *media.Packet) error {
		mu.Lock()
		defer mu.Unlock()
		if t, ok := in[pkt.PTS]; ok {
			lat = append(lat, time.Since(t))
			delete(in, pkt.PTS)
		}
		bytes += len(pkt.Data)
		return nil
	})
	v, err := encode.OpenVideo(encode.VideoConfig{Width: p.Video.Width, Height: p.Video.Height, FPS: p.Video.FPS,
		Bitrate: p.Video.Bitrate, KeyframeInterval: p.Video.KeyframeInterval, Preset: p.Video.X264Preset,
		Profile: p.Video.Profile, Encoder: enc, Logger: slog.New(slog.DiscardHandler)}, out)
	if err != nil {
		return encRun{}, err
	}
	defer v.Close()
	before := selfCPU()
	for n := range encFrames {
		f := frames[n%len(frames)]
		f.PTS = time.Duration(n) * time.Second / time.Duration(p.Video.FPS)
		mu.Lock()
		in[f.PTS] = time.Now()
		mu.Unlock()
		if err := v.Encode(f); err != nil {
			return encRun{}, err
		}
	}
	if err := v.Flush(); err != nil {
		return encRun{}, err
	}
	cpu := selfCPU() - before
	slices.Sort(lat)
	if len(lat) == 0 {
		return encRun{}, fmt.Errorf("no packets")
	}
	return encRun{
		cpuPerFrame: cpu / encFrames,
		p50:         lat[len(lat)/2], p99: lat[len(lat)*99/100],
		kbps: float64(bytes) * 8 / (float64(encFrames) / float64(p.Video.FPS)) / 1000,
	}, nil
}

// ffmpegEncode encodes the same frames with the ffmpeg command line and
// libx264 at the same settings; it returns the CPU per frame.
func ffmpegEncode(p preset.Preset, raw string) (time.Duration, int, error) {
	v := p.Video
	rate := fmt.Sprintf("%dk", v.Bitrate/1000)
	keyint := fmt.Sprint(p.KeyframeFrames())
	cmd := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-stream_loop", fmt.Sprint(encFrames/encLoop-1),
		"-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", fmt.Sprintf("%dx%d", v.Width, v.Height), "-r", fmt.Sprint(v.FPS), "-i", raw,
		"-c:v", "libx264", "-preset", v.X264Preset, "-tune", "zerolatency", "-profile:v", v.Profile,
		"-b:v", rate, "-maxrate", rate, "-bufsize", rate, "-g", keyint, "-keyint_min", keyint, "-sc_threshold", "0", "-bf", "0",
		"-f", "null", "-")
	if out, err := cmd.CombinedOutput(); err != nil {
		return 0, 0, fmt.Errorf("ffmpeg: %w\n%s", err, out)
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	return time.Duration(ru.Utime.Nano()+ru.Stime.Nano()) / encFrames, encFrames, nil
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// switchCost measures a switch to a reopened encoder (libx264 in reopen
// mode, as VAAPI, QSV and v4l2m2m behave) at 720p30: how many frames
// the background open takes, what the switching frame costs on the
// encoder's goroutine, and the keyframe it makes.
func switchCost(rounds int) (string, error) {
	p, err := preset.Load("720p30")
	if err != nil {
		return "", err
	}
	frames, _, err := benchFrames(p, os.TempDir())
	if err != nil {
		return "", err
	}
	os.Remove(filepath.Join(os.TempDir(), "1280x720.yuv"))
	defer func() {
		for _, f := range frames {
			f.Release()
		}
	}()
	var b strings.Builder
	fmt.Fprintf(&b, "\n### A switch to a reopened encoder (720p30)\n\n")
	fmt.Fprintf(&b, "libx264 in reopen mode (`--encoder test:reopen`: how VAAPI, QSV and v4l2m2m change bitrate), paced at 30 fps,\n")
	fmt.Fprintf(&b, "2500k → 1250k at frame 45. \"frames until\": frames encoded at the old rate while the new encoder opened in the\n")
	fmt.Fprintf(&b, "background; \"switch frame\": the Encode call that drains the old encoder and encodes on the new one, against the\n")
	fmt.Fprintf(&b, "median call; keyframe: the IDR the switch makes against the median P-frame.\n\n")
	fmt.Fprintf(&b, "| round | frames until | switch frame | median frame | switch keyframe | median P-frame |\n|---|---|---|---|---|---|\n")
	for r := range rounds {
		var sizes []int
		out := media.PacketWriterFunc(func(pkt *media.Packet) error { sizes = append(sizes, len(pkt.Data)); return nil })
		v, err := encode.OpenVideo(encode.VideoConfig{Width: 1280, Height: 720, FPS: 30, Bitrate: p.Video.Bitrate,
			KeyframeInterval: 2 * time.Second, Preset: p.Video.X264Preset, Encoder: "test:reopen",
			Logger: slog.New(slog.DiscardHandler)}, out)
		if err != nil {
			return "", err
		}
		var calls []time.Duration
		switchAt, switchCall, keySize := -1, time.Duration(0), 0
		start := time.Now()
		for n := range 120 {
			time.Sleep(time.Until(start.Add(time.Duration(n) * time.Second / 30)))
			if n == 45 {
				v.SetBitrate(p.Video.Bitrate / 2)
			}
			f := frames[n%len(frames)]
			f.PTS = time.Duration(n) * time.Second / 30
			sw, before := v.Switches(), len(sizes)
			t := time.Now()
			if err := v.Encode(f); err != nil {
				v.Close()
				return "", err
			}
			d := time.Since(t)
			if v.Switches() > sw {
				switchAt, switchCall, keySize = n, d, sizes[len(sizes)-1]
				_ = before
			} else {
				calls = append(calls, d)
			}
		}
		v.Close()
		slices.Sort(calls)
		p := append([]int(nil), sizes[1:]...)
		slices.Sort(p)
		fmt.Fprintf(&b, "| %d | %d | %s | %s | %d kB | %d kB |\n", r+1, switchAt-45, ms(switchCall), ms(calls[len(calls)/2]),
			keySize/1000, p[len(p)/2]/1000)
	}
	return b.String(), nil
}
