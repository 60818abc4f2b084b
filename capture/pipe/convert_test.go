package pipe

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/golive/golive/media"
)

// picture is a reference I420 picture, tightly packed.
type picture struct {
	w, h    int
	y, u, v []byte
}

func newPicture(w, h int, seed uint64) *picture {
	r := rand.New(rand.NewPCG(seed, 7))
	p := &picture{w: w, h: h, y: make([]byte, w*h), u: make([]byte, w*h/4), v: make([]byte, w*h/4)}
	for _, pl := range [][]byte{p.y, p.u, p.v} {
		for i := range pl {
			pl[i] = byte(16 + r.IntN(224))
		}
	}
	return p
}

// encode writes the picture as the pipe carries format.
func (p *picture) encode(format string) []byte {
	w, h, cw := p.w, p.h, p.w/2
	var b []byte
	switch format {
	case FormatI420:
		b = append(append(append(b, p.y...), p.u...), p.v...)
	case FormatNV12:
		b = append(b, p.y...)
		for i := range p.u {
			b = append(b, p.u[i], p.v[i])
		}
	case FormatYUYV:
		for y := range h {
			for x := 0; x < w; x += 2 {
				c := y/2*cw + x/2
				b = append(b, p.y[y*w+x], p.u[c], p.y[y*w+x+1], p.v[c])
			}
		}
	}
	return b
}

// same compares f's planes with the picture.
func (p *picture) same(f *media.VideoFrame) error {
	cw, ch := p.w/2, p.h/2
	for i, want := range [][]byte{p.y, p.u, p.v} {
		w, h := p.w, p.h
		if i > 0 {
			w, h = cw, ch
		}
		for row := range h {
			got := f.Planes[i][row*f.Strides[i] : row*f.Strides[i]+w]
			if !bytes.Equal(got, want[row*w:row*w+w]) {
				return fmt.Errorf("plane %d row %d differs", i, row)
			}
		}
	}
	return nil
}

// looseFrame is an I420 frame whose planes are apart and padded, as a
// pool other than media.FramePool might make them.
func looseFrame(w, h int) *media.VideoFrame {
	f := &media.VideoFrame{Format: media.PixelFormatI420, Width: w, Height: h, Strides: [3]int{w + 16, w/2 + 8, w/2 + 8}}
	f.Planes[0] = make([]byte, f.Strides[0]*h)
	f.Planes[1] = make([]byte, f.Strides[1]*h/2)
	f.Planes[2] = make([]byte, f.Strides[2]*h/2)
	return f
}

// TestConvert: every format comes out as the same I420 picture, read in
// place into a pooled frame or through the staging buffer into any frame.
func TestConvert(t *testing.T) {
	const w, h = 64, 36
	pic := newPicture(w, h, 1)
	for _, format := range Formats {
		for _, kind := range []string{"pooled", "loose"} {
			t.Run(format+"/"+kind, func(t *testing.T) {
				sp := Spec{format, w, h, 30}
				c := newConverter(sp)
				f := media.NewFramePool(w, h).Get()
				if kind == "loose" {
					f = looseFrame(w, h)
				}
				dst := c.target(f)
				if len(dst) != sp.FrameSize() {
					t.Fatalf("target of %d bytes, want %d", len(dst), sp.FrameSize())
				}
				inPlace := &dst[0] == &f.Planes[0][0]
				if wantInPlace := kind == "pooled" && format != FormatYUYV; inPlace != wantInPlace {
					t.Fatalf("read in place: %v, want %v", inPlace, wantInPlace)
				}
				copy(dst, pic.encode(format))
				c.convert(dst, f)
				if err := pic.same(f); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

// TestYUYVChroma: 4:2:2 chroma is averaged over the two lines a 4:2:0
// sample stands for, rounding half up.
func TestYUYVChroma(t *testing.T) {
	const w, h = 16, 16
	src := make([]byte, 2*w*h)
	for y := range h {
		for x := 0; x < 2*w; x += 4 {
			u, v := byte(100), byte(200)
			if y%2 == 1 {
				u, v = 103, 50
			}
			copy(src[y*2*w+x:], []byte{16, u, 235, v})
		}
	}
	f := media.NewFramePool(w, h).Get()
	yuyvToI420(f, src, w, h)
	if f.Planes[0][0] != 16 || f.Planes[0][1] != 235 || f.Planes[1][0] != 102 || f.Planes[2][0] != 125 {
		t.Fatalf("Y %d %d U %d V %d, want 16 235 102 125", f.Planes[0][0], f.Planes[0][1], f.Planes[1][0], f.Planes[2][0])
	}
}
