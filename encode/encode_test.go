package encode

import (
	"bytes"
	"log/slog"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/asticode/go-astiav"

	"github.com/golive/golive/media"
	"github.com/golive/golive/media/h264"
)

func TestMain(m *testing.M) {
	astiav.SetLogLevel(astiav.LogLevelError)
	m.Run()
}

var quiet = slog.New(slog.DiscardHandler)

type collect []*media.Packet

func (c *collect) WritePacket(p *media.Packet) error { *c = append(*c, p); return nil }

// noisyFrame fills f with moving noise so that the encoder has bits to spend.
func noisyFrame(f *media.VideoFrame, n int, rng *rand.Rand) {
	for i := range f.Planes[0] {
		f.Planes[0][i] = byte(16 + (i+n*7)%200 + rng.IntN(20))
	}
	for p := 1; p < 3; p++ {
		for i := range f.Planes[p] {
			f.Planes[p][i] = byte(128 + rng.IntN(16))
		}
	}
}

// encodeNoisy encodes frame n (30 fps) of noise from rng.
func encodeNoisy(t *testing.T, v *Video, pool *media.FramePool, rng *rand.Rand, n int) {
	t.Helper()
	f := pool.Get()
	defer f.Release()
	noisyFrame(f, n, rng)
	f.PTS = time.Duration(n) * time.Second / 30
	if err := v.Encode(f); err != nil {
		t.Fatal(err)
	}
}

// ccOf is the libavcodec context of v's current codec (its worker is
// idle between calls).
func ccOf(v *Video) *astiav.CodecContext { return v.cur.codec.(*avCodec).cc }

func openTestVideo(t *testing.T, out media.PacketWriter) *Video {
	t.Helper()
	v, err := OpenVideo(VideoConfig{Width: 320, Height: 180, FPS: 30, Bitrate: 1_000_000, KeyframeInterval: 2 * time.Second, Preset: "ultrafast", Encoder: X264, Logger: quiet}, out)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	return v
}

func TestCodecContextPointer(t *testing.T) {
	var out collect
	v := openTestVideo(t, &out)
	ccOf(v).SetBitRate(1234000)
	if got := ccOf(v).BitRate(); got != 1234000 {
		t.Fatalf("BitRate = %d", got)
	}
	setRateControl(ccOf(v), 777000, 888000, 999000)
	if ccOf(v).BitRate() != 777000 || rcMaxRate(ccOf(v)) != 888000 {
		t.Fatalf("shim wrote to the wrong struct: bit_rate %d, rc_max_rate %d", ccOf(v).BitRate(), rcMaxRate(ccOf(v)))
	}
}

// TestKeyframeCadence: keyframes exactly every 2 s, also when frames are
// dropped before the encoder, and never anywhere else.
func TestKeyframeCadence(t *testing.T) {
	for _, tc := range []struct {
		name string
		drop func(n int) bool
	}{
		{"no drops", func(int) bool { return false }},
		{"every 7th dropped", func(n int) bool { return n%7 == 3 }},
		{"burst of 20 dropped", func(n int) bool { return n >= 50 && n < 70 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out collect
			v := openTestVideo(t, &out)
			pool := media.NewFramePool(320, 180)
			rng := rand.New(rand.NewPCG(1, 2))
			// want: the first frame sent at or after each multiple of 2 s.
			var want []time.Duration
			for n := 0; n < 30*7; n++ { // 7 s
				if tc.drop(n) {
					continue
				}
				if pts := time.Duration(n) * time.Second / 30; pts >= time.Duration(len(want))*2*time.Second-time.Millisecond {
					want = append(want, pts)
				}
				encodeNoisy(t, v, pool, rng, n)
			}
			if err := v.Flush(); err != nil {
				t.Fatal(err)
			}
			var keys []time.Duration
			for _, p := range out {
				if p.Keyframe != h264.IsKeyframe(p.Data) {
					t.Fatalf("packet at %v: flag %v, IDR in data %v", p.PTS, p.Keyframe, !p.Keyframe)
				}
				if p.DTS != p.PTS {
					t.Fatalf("B-frames: pts %v dts %v", p.PTS, p.DTS)
				}
				if p.Keyframe {
					keys = append(keys, p.PTS)
				}
			}
			if len(want) != 4 {
				t.Fatalf("test bug: %d expected keyframes", len(want))
			}
			if len(keys) != len(want) {
				t.Fatalf("keyframes at %v, want %v", keys, want)
			}
			for i := range keys {
				if keys[i] != want[i] {
					t.Fatalf("keyframes at %v, want %v", keys, want)
				}
			}
		})
	}
}

func TestRequestKeyframe(t *testing.T) {
	var out collect
	v := openTestVideo(t, &out)
	pool := media.NewFramePool(320, 180)
	rng := rand.New(rand.NewPCG(1, 2))
	for n := 0; n < 20; n++ {
		if n == 10 {
			v.RequestKeyframe()
		}
		encodeNoisy(t, v, pool, rng, n)
	}
	if len(out) != 20 {
		t.Fatalf("%d packets for 20 frames: the encoder delays (zerolatency off?)", len(out))
	}
	for n, p := range out {
		if want := n == 0 || n == 10; p.Keyframe != want {
			t.Errorf("frame %d keyframe=%v, want %v", n, p.Keyframe, want)
		}
	}
}

// TestSetBitrateLive: lowering the bitrate mid-stream shrinks the output
// without reopening (same SPS, no new keyframe needed).
func TestSetBitrateLive(t *testing.T) {
	var out collect
	v := openTestVideo(t, &out)
	rec := append([]byte(nil), v.Config().Record...)
	pool := media.NewFramePool(320, 180)
	rng := rand.New(rand.NewPCG(3, 4))
	bytesIn := func(from, to int) (n int) {
		for _, p := range out {
			if p.PTS >= time.Duration(from)*time.Second/30 && p.PTS < time.Duration(to)*time.Second/30 {
				n += len(p.Data)
			}
		}
		return n
	}
	for n := 0; n < 240; n++ {
		if n == 120 {
			v.SetBitrate(250_000)
		}
		encodeNoisy(t, v, pool, rng, n)
	}
	high, low := bytesIn(30, 120)*8/3, bytesIn(150, 240)*8/3 // bit/s over 3 s
	t.Logf("before %d kbit/s, after %d kbit/s", high/1000, low/1000)
	if low*2 > high || low > 400_000 {
		t.Fatalf("bitrate did not follow: %d → %d bit/s after SetBitrate(250k)", high, low)
	}
	if rcMaxRate(ccOf(v)) != 250_000 {
		t.Fatalf("VBV max rate %d, want 250000", rcMaxRate(ccOf(v)))
	}
	if _, _, moves := v.Stats(); moves != 1 {
		t.Fatalf("%d bitrate changes counted, want 1", moves)
	}
	if !bytes.Equal(rec, v.Config().Record) {
		t.Fatal("codec config changed: the encoder was reopened")
	}
}

func TestAudioAAC(t *testing.T) {
	var out collect
	a, err := OpenAudio(AudioConfig{SampleRate: 48000, Channels: 2, Bitrate: 128000, Logger: quiet}, &out)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	// AAC-LC (2), 48 kHz (index 3), 2 channels: 00010 0011 0010 000.
	if asc := a.Config().ASC; !bytes.Equal(asc[:2], []byte{0x11, 0x90}) {
		t.Fatalf("AudioSpecificConfig % x, want 11 90", asc)
	}
	encodeTone(t, a, 500*time.Millisecond)
	if n := len(out); n < 47 || n > 50 {
		t.Fatalf("%d AAC packets for 1 s, want about 48", n)
	}
	delay := a.Config().Delay
	if delay != 1024*time.Second/48000 {
		t.Fatalf("priming delay %v, want 1024 samples", delay)
	}
	if got, want := out[0].PTS, 500*time.Millisecond-delay; absDur(got-want) > time.Microsecond {
		t.Fatalf("first packet PTS %v, want %v (first sample's PTS minus priming)", got, want)
	}
	for i := 1; i < len(out); i++ {
		if d := out[i].PTS - out[i-1].PTS; absDur(d-1024*time.Second/48000) > time.Microsecond {
			t.Fatalf("packet %d: PTS step %v, want 21.333ms", i, d)
		}
	}
}

func TestTimeBase(t *testing.T) {
	tb := astiav.NewRational(1, 90000)
	for _, tc := range []struct {
		d    time.Duration
		want int64
	}{
		{0, 0}, {time.Second, 90000}, {time.Second / 30, 3000}, {-time.Second / 30, -3000}, {11 * time.Microsecond, 1},
	} {
		if got := toTimeBase(tc.d, tb); got != tc.want {
			t.Errorf("toTimeBase(%v) = %d, want %d", tc.d, got, tc.want)
		}
	}
	if got := fromTimeBase(3000, tb); got != time.Second/30 {
		t.Errorf("fromTimeBase(3000) = %v", got)
	}
}

// BenchmarkVideoEncode720p is the encoder's per-frame cost at the 720p30
// preset's settings: the bar the test source and the publisher must stay
// far below.
func BenchmarkVideoEncode720p(b *testing.B) {
	var out collect
	v, err := OpenVideo(VideoConfig{Width: 1280, Height: 720, FPS: 30, Bitrate: 2_500_000, KeyframeInterval: 2 * time.Second, Logger: quiet}, media.PacketWriterFunc(func(p *media.Packet) error { out = out[:0]; return nil }))
	if err != nil {
		b.Fatal(err)
	}
	defer v.Close()
	pool := media.NewFramePool(1280, 720)
	rng := rand.New(rand.NewPCG(5, 6))
	frames := make([]*media.VideoFrame, 8)
	for i := range frames {
		frames[i] = pool.Get()
		noisyFrame(frames[i], i, rng)
	}
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		f := frames[n%len(frames)]
		f.PTS = time.Duration(n) * time.Second / 30
		if err := v.Encode(f); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/frame")
}

// TestThreadsAuto: Threads 0 means "auto", as on the ffmpeg command line,
// not libavcodec's default of one thread.
func TestThreadsAuto(t *testing.T) {
	var out collect
	v := openTestVideo(t, &out)
	if n := ccOf(v).ThreadCount(); n == 1 {
		t.Fatalf("thread count %d: libavcodec's default of one thread, not auto", n)
	}
}

// encodeTone feeds a 1 s of a 1 kHz stereo tone at 48 kHz, in odd-sized
// chunks, starting at PTS start, and flushes.
func encodeTone(t *testing.T, a *Audio, start time.Duration) {
	t.Helper()
	const chunk = 700
	buf := make([]int16, chunk*2)
	for s := 0; s < 48000; s += chunk {
		for i := 0; i < chunk; i++ {
			v := int16(8000 * math.Sin(2*math.Pi*1000*float64(s+i)/48000))
			buf[2*i], buf[2*i+1] = v, v
		}
		f := &media.AudioFrame{SampleRate: 48000, Channels: 2, Samples: buf, PTS: start + time.Duration(s)*time.Second/48000}
		if err := a.Encode(f); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Flush(); err != nil {
		t.Fatal(err)
	}
}

// TestAudioOpus: the WebRTC path's encoder. 20 ms packets at 48 kHz whose
// timestamps count samples, and the tone decodes back through libavcodec's
// own Opus decoder.
func TestAudioOpus(t *testing.T) {
	var out collect
	a, err := OpenAudio(AudioConfig{Codec: media.CodecOpus, SampleRate: 48000, Channels: 2, Bitrate: 96000, Logger: quiet}, &out)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if c := a.Config(); c.Codec != media.CodecOpus || c.ASC != nil {
		t.Fatalf("config %+v: want Opus without an AudioSpecificConfig", c)
	}
	encodeTone(t, a, 0)
	if n := len(out); n < 49 || n > 52 {
		t.Fatalf("%d Opus packets for 1 s, want about 50", n)
	}
	for i := 1; i < len(out); i++ {
		if d := out[i].PTS - out[i-1].PTS; d != 20*time.Millisecond {
			t.Fatalf("packet %d: PTS step %v, want 20ms", i, d)
		}
		if out[i].Codec != media.CodecOpus {
			t.Fatalf("packet %d: codec %v", i, out[i].Codec)
		}
	}
	// Decode and count the tone's zero crossings over the middle half second.
	dec := astiav.FindDecoder(astiav.CodecIDOpus)
	cc := astiav.AllocCodecContext(dec)
	defer cc.Free()
	cc.SetSampleRate(48000)
	cc.SetChannelLayout(astiav.ChannelLayoutStereo)
	if err := cc.Open(dec, nil); err != nil {
		t.Fatal(err)
	}
	pkt, frame := astiav.AllocPacket(), astiav.AllocFrame()
	defer pkt.Free()
	defer frame.Free()
	var pcm []float32
	for _, p := range out {
		if err := pkt.FromData(p.Data); err != nil {
			t.Fatal(err)
		}
		if err := cc.SendPacket(pkt); err != nil {
			t.Fatal(err)
		}
		for cc.ReceiveFrame(frame) == nil {
			if frame.SampleFormat() != astiav.SampleFormatFltp {
				t.Fatalf("decoder gives %v, want fltp", frame.SampleFormat())
			}
			pcm = append(pcm, floatPlane(frame, 0, frame.NbSamples())...) // left
			frame.Unref()
		}
	}
	if len(pcm) < 40000 {
		t.Fatalf("decoded %d samples, want about 48000", len(pcm))
	}
	mid := pcm[12000:36000]
	var cross int
	var energy float64
	for i := 1; i < len(mid); i++ {
		if (mid[i-1] < 0) != (mid[i] < 0) {
			cross++
		}
		energy += float64(mid[i] * mid[i])
	}
	rms := math.Sqrt(energy / float64(len(mid)))
	// 0.5 s of 1 kHz: 1000 crossings; amplitude 8000/32768 → RMS 0.173.
	if cross < 980 || cross > 1020 || rms < 0.14 || rms > 0.21 {
		t.Fatalf("decoded tone: %d zero crossings in 0.5 s (want 1000), RMS %.3f (want 0.173)", cross, rms)
	}
}

// TestSetSize: a codec at the new size opens in the background and takes
// over within a few frames, with a keyframe carrying the new parameter
// sets; frames keep coming in at the original size (scaled); timestamps
// keep going, no frame is lost; and back.
func TestSetSize(t *testing.T) {
	var out collect
	v := openTestVideo(t, &out)
	first := v.Config()
	pool := media.NewFramePool(320, 180)
	rng := rand.New(rand.NewPCG(5, 6))
	n := 0
	encode := func() { encodeNoisy(t, v, pool, rng, n); n++ }
	var switched []int // index in out of the first packet at each new size
	for _, c := range []struct{ at, w, h int }{{40, 160, 90}, {80, 320, 180}} {
		for n < c.at {
			encode()
		}
		v.SetSize(c.w, c.h)
		for tries := 0; ; tries++ {
			// The switch comes at the first frame after the reopen is ready.
			encode()
			if p := out[len(out)-1]; p.Config != nil && p.Config.Width == c.w && p.Config.Height == c.h {
				if !p.Keyframe {
					t.Fatalf("first packet at %dx%d is not a keyframe", c.w, c.h)
				}
				if _, _, err := h264.ParseConfigRecord(p.Config.Record); err != nil {
					t.Fatalf("config record after the change: %v", err)
				}
				switched = append(switched, len(out)-1)
				break
			}
			if tries == 10 {
				t.Fatalf("not switched to %dx%d 10 frames after SetSize", c.w, c.h)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	for n < 120 {
		encode()
	}
	if len(out) != 120 {
		t.Fatalf("%d packets for 120 frames", len(out))
	}
	if w, h := v.Size(); w != 320 || h != 180 {
		t.Errorf("Size() = %dx%d after going back", w, h)
	}
	if r := out[switched[0]].Config.Record; bytes.Equal(r, first.Record) {
		t.Errorf("the 160x90 stream has the 320x180 parameter sets")
	}
	if v.Switches() != 2 {
		t.Errorf("%d switches counted, want 2", v.Switches())
	}
	for i := 1; i < len(out); i++ {
		if out[i].DTS <= out[i-1].DTS {
			t.Fatalf("packet %d: DTS %v after %v", i, out[i].DTS, out[i-1].DTS)
		}
	}
}

// TestWrapNoCopy: libx264 takes pool frames (outside the Go heap) as they
// are, without a copy into a frame of its own, and the stream is byte for
// byte the one from the same pictures copied in (frames on the Go heap);
// the encoder holds no reference to a frame once Encode has returned, so
// scribbling over it afterwards changes nothing.
func TestWrapNoCopy(t *testing.T) {
	var wrapped, copied collect
	vw, vc := openTestVideo(t, &wrapped), openTestVideo(t, &copied)
	pool := media.NewFramePool(320, 180)
	rng := rand.New(rand.NewPCG(3, 4))
	for n := range 75 {
		f := pool.Get()
		if !f.Outside() {
			t.Fatal("a 320×180 pool frame is on the Go heap")
		}
		noisyFrame(f, n, rng)
		f.PTS = time.Duration(n) * time.Second / 30
		h := &media.VideoFrame{Format: f.Format, Width: f.Width, Height: f.Height, Strides: f.Strides, PTS: f.PTS}
		for i := range 3 {
			h.Planes[i] = append([]byte(nil), f.Planes[i]...)
		}
		if err := vw.Encode(f); err != nil {
			t.Fatal(err)
		}
		if held := wrapHeld(vw.cur.codec.(*avCodec).wrap); held != 0 {
			t.Fatalf("frame %d: libx264 holds %d references to it after Encode", n, held)
		}
		clear(f.Planes[0])
		f.Release()
		if err := vc.Encode(h); err != nil {
			t.Fatal(err)
		}
	}
	for _, v := range []*Video{vw, vc} {
		if err := v.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	if c := vw.cur.codec.(*avCodec); c.wrapped != 75 || c.noWrap {
		t.Fatalf("%d of 75 pool frames sent without a copy (noWrap %v)", c.wrapped, c.noWrap)
	}
	if c := vc.cur.codec.(*avCodec); c.wrapped != 0 {
		t.Fatalf("%d Go heap frames wrapped", c.wrapped)
	}
	if len(wrapped) != len(copied) || len(wrapped) < 70 {
		t.Fatalf("%d packets wrapped, %d copied", len(wrapped), len(copied))
	}
	for i := range wrapped {
		if !bytes.Equal(wrapped[i].Data, copied[i].Data) || wrapped[i].PTS != copied[i].PTS {
			t.Fatalf("packet %d differs: %d bytes wrapped, %d copied", i, len(wrapped[i].Data), len(copied[i].Data))
		}
	}
}
