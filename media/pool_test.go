package media

import (
	"testing"
	"time"
)

func TestFramePoolNV12(t *testing.T) {
	f := NewFramePoolOf(PixelFormatNV12, 6, 4).Get()
	if f.Format != PixelFormatNV12 || f.Strides != [3]int{6, 6, 0} || len(f.Planes[0]) != 24 || len(f.Planes[1]) != 12 || f.Planes[2] != nil {
		t.Fatalf("NV12 6x4: strides %v, planes %d %d %v", f.Strides, len(f.Planes[0]), len(f.Planes[1]), f.Planes[2])
	}
	g := NewFramePool(5, 3).Get() // odd sizes: chroma rounds up
	if g.Strides != [3]int{5, 3, 3} || len(g.Planes[1]) != 6 || len(g.Planes[2]) != 6 {
		t.Fatalf("I420 5x3: strides %v, planes %d %d", g.Strides, len(g.Planes[1]), len(g.Planes[2]))
	}
}

func TestInterleaveUV(t *testing.T) {
	u := []byte{1, 2, 0, 3, 4, 0} // stride 3, 2×2 samples
	v := []byte{5, 6, 7, 8}       // stride 2
	dst := make([]byte, 2*5)
	InterleaveUV(dst, 5, u, 3, v, 2, 2, 2)
	want := []byte{1, 5, 2, 6, 0, 3, 7, 4, 8, 0}
	if string(dst) != string(want) {
		t.Fatalf("got %v, want %v", dst, want)
	}
}

func TestOncePerSecond(t *testing.T) {
	var r OncePerSecond
	var allowed []time.Duration
	for ms := 0; ms <= 2500; ms += 100 {
		now := time.Duration(ms) * time.Millisecond
		if r.Allow(now) {
			allowed = append(allowed, now)
		}
	}
	if len(allowed) != 3 || allowed[1] != time.Second || allowed[2] != 2*time.Second {
		t.Errorf("allowed at %v, want 0s 1s 2s", allowed)
	}
}
