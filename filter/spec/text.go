package spec

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"strings"
	"time"

	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/gomedium"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
)

// Text is the --text overlay: a strftime template drawn white with a dark
// outline (legible on any picture) into a box of fixed size, rasterised on
// the CPU only when the expanded string changes.
type Text struct {
	template string
	face     font.Face
	outline  int
	right    bool
	img      *image.NRGBA
	at       image.Point
	last     string
	lastSec  int64 // the wall-clock second last expanded: no conversion is finer
	rendered bool
}

// NewText lays a text box out for a fw×fh frame. The box is sized for the
// template expanded now, with room to grow by a quarter (a clock's digits
// change, its length barely does); a longer string is clipped.
func NewText(template string, size int, pos Position, margin, fw, fh int, now time.Time) (*Text, error) {
	if size <= 0 {
		size = max(fh/18, 8)
	}
	ft, err := opentype.Parse(gomedium.TTF)
	if err != nil {
		return nil, fmt.Errorf("filter: text font: %w", err)
	}
	face, err := opentype.NewFace(ft, &opentype.FaceOptions{Size: float64(size), DPI: 72, Hinting: font.HintingFull})
	if err != nil {
		return nil, fmt.Errorf("filter: text font: %w", err)
	}
	t := &Text{template: template, face: face, outline: max(1, size/16), right: pos.Right()}
	m := face.Metrics()
	h := (m.Ascent + m.Descent).Ceil() + 2*t.outline
	w := font.MeasureString(face, Strftime(template, now)).Ceil()*5/4 + size + 2*t.outline
	w = min(w, fw-2*margin)
	h = min(h, fh)
	if w <= 0 || h <= 0 {
		return nil, fmt.Errorf("%w: --text does not fit a %dx%d frame", ErrBadOption, fw, fh)
	}
	// Even sizes and positions keep the box on whole chroma samples.
	w, h = w&^1, h&^1
	t.img = image.NewNRGBA(image.Rect(0, 0, w, h))
	at := pos.Place(w, h, fw, fh, margin)
	t.at = image.Pt(at.X&^1, at.Y&^1)
	return t, nil
}

// At is the box's top-left pixel in the frame.
func (t *Text) At() image.Point { return t.at }

// Size is the box's size (fixed for the life of the Text).
func (t *Text) Size() image.Point { return t.img.Rect.Size() }

// Render returns the box for wall-clock time now, and whether it differs
// from the last call's. The image is reused: it is valid until the next
// Render that reports a change.
func (t *Text) Render(now time.Time) (img *image.NRGBA, changed bool) {
	if t.rendered && now.Unix() == t.lastSec {
		return t.img, false // within the second: nothing to expand (and no allocation)
	}
	t.lastSec = now.Unix()
	s := Strftime(t.template, now)
	if t.rendered && s == t.last {
		return t.img, false
	}
	t.last, t.rendered = s, true
	clear(t.img.Pix)
	m := t.face.Metrics()
	w := font.MeasureString(t.face, s)
	x := fixed.I(t.outline)
	if t.right {
		x = fixed.I(t.img.Rect.Dx()-t.outline) - w
	}
	base := fixed.Point26_6{X: x, Y: fixed.I(t.outline) + m.Ascent}
	d := &font.Drawer{Dst: t.img, Face: t.face}
	d.Src = image.NewUniform(color.NRGBA{0, 0, 0, 200})
	o := fixed.I(t.outline)
	for _, off := range [8][2]fixed.Int26_6{{-o, 0}, {o, 0}, {0, -o}, {0, o}, {-o, -o}, {o, o}, {-o, o}, {o, -o}} {
		d.Dot = fixed.Point26_6{X: base.X + off[0], Y: base.Y + off[1]}
		d.DrawString(s)
	}
	d.Src = image.White
	d.Dot = base
	d.DrawString(s)
	return t.img, true
}

// Last is the string the last Render drew.
func (t *Text) Last() string { return t.last }

var _ draw.Image = (*image.NRGBA)(nil)

// strftimeLayouts are the conversions Go's time layout says directly.
var strftimeLayouts = map[byte]string{
	'Y': "2006", 'y': "06", 'm': "01", 'd': "02", 'e': "_2", 'H': "15", 'I': "03", 'M': "04", 'S': "05",
	'p': "PM", 'j': "002", 'a': "Mon", 'A': "Monday", 'b': "Jan", 'h': "Jan", 'B': "January",
	'Z': "MST", 'z': "-0700", 'F': "2006-01-02", 'T': "15:04:05", 'D': "01/02/06", 'R': "15:04",
}

// Strftime expands the C strftime conversions a caption uses: %Y %y %m %d
// %e %H %I %M %S %p %j %a %A %b %B %Z %z %F %T %D %R %s %n %t %%. An
// unknown conversion is kept as written.
func Strftime(layout string, t time.Time) string {
	if !strings.Contains(layout, "%") {
		return layout
	}
	var b strings.Builder
	for i := 0; i < len(layout); i++ {
		c := layout[i]
		if c != '%' || i+1 == len(layout) {
			b.WriteByte(c)
			continue
		}
		i++
		if l, ok := strftimeLayouts[layout[i]]; ok {
			b.WriteString(t.Format(l))
			continue
		}
		switch layout[i] {
		case 's':
			fmt.Fprintf(&b, "%d", t.Unix())
		case 'n':
			b.WriteByte(' ') // one line only
		case 't':
			b.WriteByte(' ')
		case '%':
			b.WriteByte('%')
		default:
			b.WriteByte('%')
			b.WriteByte(layout[i])
		}
	}
	return b.String()
}
