package spec

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// LUT is a 3D colour lookup table as a .cube file (Adobe/Resolve) gives
// it: Size³ RGB entries with red changing fastest, over the input domain
// [Min, Max] per channel.
type LUT struct {
	Size     int
	Min, Max [3]float64
	// Data holds Size³ RGB triples: entry (r, g, b) at 3·(r + Size·(g + Size·b)).
	Data []float32
}

// LoadCube reads a .cube file.
func LoadCube(path string) (*LUT, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: --lut: %v", ErrBadOption, err)
	}
	defer f.Close()
	l, err := ParseCube(f)
	if err != nil {
		return nil, fmt.Errorf("%w: --lut %s: %v", ErrBadOption, path, err)
	}
	return l, nil
}

// ParseCube reads a .cube 3D LUT (LUT_3D_SIZE 2..256, optional
// DOMAIN_MIN/DOMAIN_MAX and TITLE, # comments).
func ParseCube(r io.Reader) (*LUT, error) {
	l := &LUT{Max: [3]float64{1, 1, 1}}
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" || s[0] == '#' {
			continue
		}
		fields := strings.Fields(s)
		switch strings.ToUpper(fields[0]) {
		case "TITLE":
			continue
		case "LUT_1D_SIZE", "LUT_1D_INPUT_RANGE":
			return nil, fmt.Errorf("line %d: a 1D LUT; only 3D LUTs (LUT_3D_SIZE) are supported", line)
		case "LUT_3D_SIZE":
			n, err := strconv.Atoi(field(fields, 1))
			if err != nil || n < 2 || n > 256 {
				return nil, fmt.Errorf("line %d: LUT_3D_SIZE %q: want 2..256", line, field(fields, 1))
			}
			l.Size = n
			l.Data = make([]float32, 0, 3*n*n*n)
			continue
		case "DOMAIN_MIN", "DOMAIN_MAX", "LUT_3D_INPUT_RANGE":
			v, err := floats(fields[1:])
			if err != nil || (len(v) != 3 && len(v) != 2) {
				return nil, fmt.Errorf("line %d: %s: want three numbers", line, fields[0])
			}
			if len(v) == 2 { // LUT_3D_INPUT_RANGE min max
				l.Min, l.Max = [3]float64{v[0], v[0], v[0]}, [3]float64{v[1], v[1], v[1]}
			} else if strings.EqualFold(fields[0], "DOMAIN_MIN") {
				l.Min = [3]float64{v[0], v[1], v[2]}
			} else {
				l.Max = [3]float64{v[0], v[1], v[2]}
			}
			continue
		}
		v, err := floats(fields)
		if err != nil || len(v) != 3 {
			return nil, fmt.Errorf("line %d: %q: want a keyword or three numbers", line, s)
		}
		if l.Size == 0 {
			return nil, fmt.Errorf("line %d: entries before LUT_3D_SIZE", line)
		}
		if len(l.Data) == cap(l.Data) {
			return nil, fmt.Errorf("line %d: more than %d³ entries", line, l.Size)
		}
		l.Data = append(l.Data, float32(v[0]), float32(v[1]), float32(v[2]))
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if l.Size == 0 {
		return nil, fmt.Errorf("no LUT_3D_SIZE: not a 3D .cube LUT")
	}
	if len(l.Data) != cap(l.Data) {
		return nil, fmt.Errorf("%d entries, want %d (%d³)", len(l.Data)/3, l.Size*l.Size*l.Size, l.Size)
	}
	for i := range 3 {
		if !(l.Max[i] > l.Min[i]) {
			return nil, fmt.Errorf("DOMAIN_MAX must be above DOMAIN_MIN")
		}
	}
	return l, nil
}

func field(f []string, i int) string {
	if i < len(f) {
		return f[i]
	}
	return ""
}

func floats(f []string) ([]float64, error) {
	v := make([]float64, len(f))
	for i, s := range f {
		x, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, err
		}
		v[i] = x
	}
	return v, nil
}

// Apply looks r, g, b up with trilinear interpolation (what a GL 3D
// texture with linear filtering does, and lut3d=interp=trilinear).
// Inputs outside the domain are clamped to it.
func (l *LUT) Apply(r, g, b float64) (float64, float64, float64) {
	n := l.Size
	pos := func(v float64, i int) (int, float64) {
		t := (v - l.Min[i]) / (l.Max[i] - l.Min[i]) * float64(n-1)
		t = min(max(t, 0), float64(n-1))
		i0 := min(int(t), n-2)
		return i0, t - float64(i0)
	}
	ri, rf := pos(r, 0)
	gi, gf := pos(g, 1)
	bi, bf := pos(b, 2)
	var out [3]float64
	for c := range 3 {
		at := func(dr, dg, db int) float64 {
			return float64(l.Data[3*((ri+dr)+n*((gi+dg)+n*(bi+db)))+c])
		}
		c00 := at(0, 0, 0)*(1-rf) + at(1, 0, 0)*rf
		c10 := at(0, 1, 0)*(1-rf) + at(1, 1, 0)*rf
		c01 := at(0, 0, 1)*(1-rf) + at(1, 0, 1)*rf
		c11 := at(0, 1, 1)*(1-rf) + at(1, 1, 1)*rf
		c0 := c00*(1-gf) + c10*gf
		c1 := c01*(1-gf) + c11*gf
		out[c] = c0*(1-bf) + c1*bf
	}
	return out[0], out[1], out[2]
}
