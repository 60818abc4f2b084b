package testutil

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os/exec"
	"strconv"
	"strings"
)

// Luma is one decoded frame's time (s) and mean luma (0..255).
type Luma struct{ T, Y float64 }

// LumaMeans decodes the video of path and returns every frame's mean luma.
func LumaMeans(path string) ([]Luma, error) {
	// -copyts: absolute times, as ffprobe reports them (ffmpeg otherwise
	// shifts everything by the file's start time).
	cmd := exec.Command("ffmpeg", "-v", "error", "-copyts", "-i", path, "-map", "0:v:0",
		"-vf", "signalstats,metadata=print:key=lavfi.signalstats.YAVG:file=-", "-f", "null", "-")
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("testutil: ffmpeg signalstats %s: %w", path, err)
	}
	var frames []Luma
	var t float64
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if i := strings.Index(line, "pts_time:"); i >= 0 {
			t, _ = strconv.ParseFloat(strings.Fields(line[i+len("pts_time:"):])[0], 64)
			continue
		}
		if v, ok := strings.CutPrefix(line, "lavfi.signalstats.YAVG="); ok {
			y, _ := strconv.ParseFloat(v, 64)
			frames = append(frames, Luma{t, y})
		}
	}
	return frames, nil
}

// Flashes returns the times (s) of the frames of path whose mean luma is
// above threshold (0..255), the first frame of each run of bright frames.
func Flashes(path string, threshold float64) ([]float64, error) {
	frames, err := LumaMeans(path)
	if err != nil {
		return nil, err
	}
	var times []float64
	prevBright := false
	for _, f := range frames {
		bright := f.Y > threshold
		if bright && !prevBright {
			times = append(times, f.T)
		}
		prevBright = bright
	}
	return times, nil
}

// BeepOnsets returns the times (s) at which the audio of path goes from
// silence (at least minGap s) to sound above level (0..1 of full scale),
// to the sample. The decoded audio's first sample is at the first audio
// packet's PTS.
func BeepOnsets(path string, level, minGap float64) ([]float64, error) {
	pk, err := Packets(path, "a")
	if err != nil || len(pk) == 0 {
		return nil, fmt.Errorf("testutil: audio packets of %s: %v", path, err)
	}
	start := pk[0].PTS
	const rate = 48000
	out, err := exec.Command("ffmpeg", "-v", "error", "-i", path, "-map", "0:a:0",
		"-ac", "1", "-ar", strconv.Itoa(rate), "-f", "s16le", "-").Output()
	if err != nil {
		return nil, fmt.Errorf("testutil: decode audio of %s: %w", path, err)
	}
	n := len(out) / 2
	thr := level * math.MaxInt16
	var onsets []float64
	quiet := 0
	for i := 0; i < n; i++ {
		v := math.Abs(float64(int16(binary.LittleEndian.Uint16(out[2*i:]))))
		if v < thr {
			quiet++
			continue
		}
		if float64(quiet) >= minGap*rate {
			onsets = append(onsets, start+float64(i)/rate)
		}
		quiet = 0
	}
	return onsets, nil
}

// AVPair is one flash and the offset of the nearest beep onset (beep −
// flash, s).
type AVPair struct{ Flash, Offset float64 }

// AVOffsets measures A/V sync in a recording of the sync signal (a white
// flash and a beep starting together once a second): each flash paired
// with the nearest beep onset. Flashes less than a second after the audio
// starts are left out: a beep needs silence before it to be seen starting.
func AVOffsets(path string) ([]AVPair, error) {
	flashes, err := Flashes(path, 200)
	if err != nil {
		return nil, err
	}
	const minGap = 0.5
	beeps, err := BeepOnsets(path, 0.05, minGap)
	if err != nil {
		return nil, err
	}
	apk, err := Packets(path, "a")
	if err != nil || len(apk) == 0 {
		return nil, fmt.Errorf("testutil: no audio in %s: %v", path, err)
	}
	var pairs []AVPair
	for _, f := range flashes {
		if f < apk[0].PTS+1 {
			continue
		}
		best := math.Inf(1)
		for _, b := range beeps {
			if math.Abs(b-f) < math.Abs(best) {
				best = b - f
			}
		}
		pairs = append(pairs, AVPair{f, best})
	}
	return pairs, nil
}
