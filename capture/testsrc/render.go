package testsrc

import (
	"math"
	"time"

	"github.com/golive/golive/media"
)

// yuv is one BT.709 limited-range colour.
type yuv struct{ y, u, v byte }

var (
	black = yuv{16, 128, 128}
	white = yuv{235, 128, 128}
	grey  = yuv{126, 128, 128}
	red   = rgb(1, 0, 0) // the per-frame bar
)

// bars are the 75% colour bars, left to right.
var bars = [...]yuv{
	rgb(.75, .75, .75), // white
	rgb(.75, .75, 0),   // yellow
	rgb(0, .75, .75),   // cyan
	rgb(0, .75, 0),     // green
	rgb(.75, 0, .75),   // magenta
	rgb(.75, 0, 0),     // red
	rgb(0, 0, .75),     // blue
}

// rgb converts gamma-encoded R'G'B' in 0..1 to BT.709 limited range Y'CbCr.
func rgb(r, g, b float64) yuv {
	y := 0.2126*r + 0.7152*g + 0.0722*b
	return yuv{
		y: clampByte(16+219*y, 16, 235),
		u: clampByte(128+224*(b-y)/1.8556, 16, 240),
		v: clampByte(128+224*(r-y)/1.5748, 16, 240),
	}
}

func clampByte(x float64, lo, hi byte) byte {
	return byte(min(max(math.Round(x), float64(lo)), float64(hi)))
}

// picture is what RenderFrame precomputes once: the background and the
// layout of what it draws on top.
type picture struct {
	w, h int
	bg   [3][]byte // background planes, strides w, w/2, w/2

	// snow: a field of noise, larger than the patch it fills by snowSlack
	// both ways; each frame copies it from another offset.
	snow                   []byte
	snowX, snowY           int // the patch, bottom right
	snowW, snowH, snowSpan int

	boxY, boxSize int // the sweeping box
	barW          int // the stepping bar
	scale         int // font pixel size
	textY         int // top of the text box
	showText      bool
}

// Font: 5x7 cells, one byte per row, bit 4 is the leftmost pixel.
const (
	glyphW, glyphH = 5, 7
	advance        = glyphW + 1 // cell width with the gap, in font pixels
	pad            = 2          // text box margin, in font pixels
	lineGap        = 2          // between the two text lines, in font pixels
	layoutChars    = 12         // "HH:MM:SS.mmm": the line the layout fits
)

var font = [...][glyphH]byte{
	{0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E}, // 0
	{0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E}, // 1
	{0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F}, // 2
	{0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E}, // 3
	{0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02}, // 4
	{0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E}, // 5
	{0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E}, // 6
	{0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08}, // 7
	{0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E}, // 8
	{0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C}, // 9
	{0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x0C, 0x00}, // :
	{0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C}, // .
}

// glyph returns the bitmap of c; characters without one are blank.
func glyph(c byte) *[glyphH]byte {
	switch {
	case c >= '0' && c <= '9':
		return &font[c-'0']
	case c == ':':
		return &font[10]
	case c == '.':
		return &font[11]
	}
	return &blankGlyph
}

var blankGlyph [glyphH]byte

func even(x int) int { return x &^ 1 }

// init builds the picture once, on first use.
func (s *Source) init() {
	s.once.Do(func() { s.pic = newPicture(s.Width, s.Height) })
}

func newPicture(w, h int) *picture {
	p := &picture{w: w, h: h}
	cw, ch := (w+1)/2, (h+1)/2
	p.bg = [3][]byte{make([]byte, w*h), make([]byte, cw*ch), make([]byte, cw*ch)}

	// Top two thirds: colour bars. Bottom third: a luma ramp, black to white.
	barsH := even(h * 2 / 3)
	for y := 0; y < h; y++ {
		row := p.bg[0][y*w : (y+1)*w]
		for x := range row {
			if y < barsH {
				row[x] = bars[x*len(bars)/w].y
			} else {
				row[x] = byte(16 + x*219/max(w-1, 1))
			}
		}
	}
	for y := 0; y < ch; y++ {
		for x := 0; x < cw; x++ {
			u, v := byte(128), byte(128)
			if 2*y < barsH {
				c := bars[2*x*len(bars)/w]
				u, v = c.u, c.v
			}
			p.bg[1][y*cw+x], p.bg[2][y*cw+x] = u, v
		}
	}
	// A grid of 2-pixel grey lines, square cells.
	bg := &media.VideoFrame{Format: media.PixelFormatI420, Width: w, Height: h,
		Planes: p.bg, Strides: [3]int{w, cw, cw}}
	cell := max(even(h/9), 8)
	for x := cell / 2; x < w; x += cell {
		fillRect(bg, even(x), 0, 2, h, grey)
	}
	for y := cell / 2; y < h; y += cell {
		fillRect(bg, 0, even(y), w, 2, grey)
	}

	// Snow over the right half of the ramp: noise that moves every frame
	// cannot be predicted, so the encoder spends the bitrate it is given,
	// as it would on a real camera's picture (and as on ffmpeg's testsrc2).
	p.snowX, p.snowY = even(w/2), barsH
	p.snowW, p.snowH = w-p.snowX, h-barsH
	p.snowSpan = p.snowW + snowSlack
	p.snow = make([]byte, p.snowSpan*(p.snowH+snowSlack))
	rng := uint64(0x9e3779b97f4a7c15)
	for i := range p.snow {
		rng = splitmix(rng)
		p.snow[i] = byte(64 + rng>>57) // 64..191: grey ±64
	}

	p.boxSize = max(even(h/6), 2)
	p.boxY = even(h / 16)
	p.barW = max(even(w/80), 2)
	// Digits about h/40 per font pixel, but the clock line must fit in 90%
	// of the width.
	p.scale = max(min(h/40, w*9/10/(layoutChars*advance+2*pad)), 1)
	// Below about 76x20 the text cannot fit: leave it out.
	p.showText = (layoutChars*advance-1+2*pad)*p.scale <= w && p.textBoxH() <= h
	p.textY = even((h - p.textBoxH()) / 2)
	if p.textY < p.boxY+p.boxSize && p.boxY+p.boxSize+p.textBoxH() <= h {
		p.textY = even(p.boxY + p.boxSize + 1) // keep the sweeping box in view
	}
	return p
}

// textBoxH is the height of the black box behind the two lines of text.
func (p *picture) textBoxH() int {
	return (2*glyphH + lineGap + 2*pad) * p.scale
}

// RenderFrame draws frame n into f, which must be a Width x Height I420
// frame (as from media.NewFramePool), and sets f.Seq = n and f.PTS =
// n*1s/FPS. It is what Run uses; tests and benchmarks call it to render
// without pacing. It allocates nothing after the first call, and may be
// called concurrently on distinct frames.
func (s *Source) RenderFrame(f *media.VideoFrame, n uint64) {
	s.init()
	p := s.pic
	fps := uint64(max(s.FPS, 1))
	pts := gridTime(n, fps)
	f.Seq, f.PTS = n, pts

	if s.Sync && n%fps == 0 {
		fillRect(f, 0, 0, p.w, p.h, white) // the sync flash
		return
	}

	// One copy of the background.
	for i := range f.Planes {
		copyPlane(f, i, p.bg[i], planeW(p.w, i), planeW(p.h, i))
	}

	// Snow, from a different place in the field every frame.
	if p.snowW > 0 && p.snowH > 0 {
		r := splitmix(n)
		ox, oy := int(r%snowSlack), int(r>>32%snowSlack)
		for y := 0; y < p.snowH; y++ {
			src := p.snow[(y+oy)*p.snowSpan+ox:]
			dst := f.Planes[0][(p.snowY+y)*f.Strides[0]+p.snowX:]
			copy(dst[:p.snowW], src[:p.snowW])
		}
	}

	// A red bar stepping one bar width per frame, so every frame differs
	// and drops show as jumps.
	steps := uint64(max(p.w/p.barW, 1))
	fillRect(f, int(n%steps)*p.barW, 0, p.barW, p.h, red)

	// A white box sweeping left to right once per second.
	phase := int(n % fps)
	x := 0
	if fps > 1 {
		x = even(phase * (p.w - p.boxSize) / int(fps-1))
	}
	fillRect(f, x, p.boxY, p.boxSize, p.boxSize, white)

	// The frame counter and the clock, white on black.
	if !p.showText {
		return
	}
	var counter, clock [24]byte
	line1 := appendPadded(counter[:0], n, 6)
	line2 := appendClock(clock[:0], pts)
	sc := p.scale
	chars := max(len(line1), len(line2))
	boxW := even((chars*advance-1+2*pad)*sc + 1)
	fillRect(f, even((p.w-boxW)/2), p.textY, boxW, p.textBoxH(), black)
	y := p.textY + pad*sc
	p.drawText(f, line1, y)
	p.drawText(f, line2, y+(glyphH+lineGap)*sc)
}

// drawText draws text in white, centred horizontally, its top at y.
func (p *picture) drawText(f *media.VideoFrame, text []byte, y int) {
	sc := p.scale
	x0 := (p.w - (len(text)*advance-1)*sc) / 2
	for i, ch := range text {
		x := x0 + i*advance*sc
		for r, bits := range glyph(ch) {
			// Fill each run of set pixels in the row with one rectangle.
			for c := 0; c < glyphW; {
				if bits&(0x10>>c) == 0 {
					c++
					continue
				}
				end := c
				for end < glyphW && bits&(0x10>>end) != 0 {
					end++
				}
				fillPlane(f.Planes[0], f.Strides[0], f.Width, f.Height,
					x+c*sc, y+r*sc, (end-c)*sc, sc, white.y)
				c = end
			}
		}
	}
}

// snowSlack is how far (in pixels, both ways) the snow's window moves.
const snowSlack = 64

// splitmix is SplitMix64's output function: a cheap, well-mixed hash.
func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// appendPadded appends v in decimal, zero-padded to at least width digits.
func appendPadded(b []byte, v uint64, width int) []byte {
	var tmp [20]byte
	i := len(tmp)
	for {
		i--
		tmp[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			break
		}
	}
	for n := len(tmp) - i; n < width; n++ {
		b = append(b, '0')
	}
	return append(b, tmp[i:]...)
}

// appendClock appends d as HH:MM:SS.mmm (the hours grow past 99).
func appendClock(b []byte, d time.Duration) []byte {
	ms := uint64(max(d, 0) / time.Millisecond)
	b = appendPadded(b, ms/3_600_000, 2)
	b = append(b, ':')
	b = appendPadded(b, ms/60_000%60, 2)
	b = append(b, ':')
	b = appendPadded(b, ms/1000%60, 2)
	b = append(b, '.')
	return appendPadded(b, ms%1000, 3)
}

// planeW is the width (or height) of plane i for a luma size of n.
func planeW(n, i int) int {
	if i == 0 {
		return n
	}
	return (n + 1) / 2
}

// copyPlane copies a tightly packed w x h plane into plane i of f, clipped
// to f's size.
func copyPlane(f *media.VideoFrame, i int, src []byte, w, h int) {
	dst, stride := f.Planes[i], f.Strides[i]
	fw, fh := planeW(f.Width, i), planeW(f.Height, i)
	if stride == w && fw == w && fh == h {
		copy(dst, src[:w*h])
		return
	}
	cw := min(w, fw)
	for y := range min(h, fh) {
		copy(dst[y*stride:y*stride+cw], src[y*w:y*w+cw])
	}
}

// fillRect fills a rectangle of f with c, clipped to the frame. x, y, w
// and h should be even so that luma and chroma cover the same area.
func fillRect(f *media.VideoFrame, x, y, w, h int, c yuv) {
	fillPlane(f.Planes[0], f.Strides[0], f.Width, f.Height, x, y, w, h, c.y)
	cw, ch := planeW(f.Width, 1), planeW(f.Height, 1)
	cx, cy := x>>1, y>>1
	cx1, cy1 := (x+w+1)>>1, (y+h+1)>>1
	fillPlane(f.Planes[1], f.Strides[1], cw, ch, cx, cy, cx1-cx, cy1-cy, c.u)
	fillPlane(f.Planes[2], f.Strides[2], cw, ch, cx, cy, cx1-cx, cy1-cy, c.v)
}

// fillPlane sets a w x h rectangle at (x, y) of a pw x ph plane to v,
// clipped to the plane: one row by hand, the others copied from it.
func fillPlane(p []byte, stride, pw, ph, x, y, w, h int, v byte) {
	x0, y0 := max(x, 0), max(y, 0)
	x1, y1 := min(x+w, pw), min(y+h, ph)
	if x0 >= x1 || y0 >= y1 {
		return
	}
	first := p[y0*stride+x0 : y0*stride+x1]
	for i := range first {
		first[i] = v
	}
	for yy := y0 + 1; yy < y1; yy++ {
		copy(p[yy*stride+x0:yy*stride+x1], first)
	}
}
