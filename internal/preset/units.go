package preset

import (
	"fmt"
	"strconv"
	"strings"
)

// Limits shared by parsing and validation.
const (
	maxBitrate = 100_000_000 // bit/s; anything above is a typo, not a live stream

	minWidth, maxWidth   = 16, 7680
	minHeight, maxHeight = 16, 4320
)

// ParseBitrate parses a bitrate in bit/s: a plain integer ("2500000") or a
// number with a k (×1000) or M (×1,000,000) suffix, either case ("2500k",
// "128K", "2.5M", "6m"). The result must be a whole number of bit/s in
// 1..100M; negative, zero, malformed and absurdly large values are errors.
func ParseBitrate(s string) (int, error) {
	n, err := parseBitrate(s)
	if err != nil {
		return 0, fmt.Errorf("preset: bitrate %w", err)
	}
	return n, nil
}

// parseBitrate is ParseBitrate without the "preset: " prefix, for callers
// that add their own context.
func parseBitrate(s string) (int, error) {
	bad := func(why string) error { return fmt.Errorf("%q: %s", s, why) }
	const want = `want bit/s like "2500000", "2500k" or "2.5M"`

	num := strings.TrimSpace(s)
	mult := int64(1)
	if num != "" {
		switch num[len(num)-1] {
		case 'k', 'K':
			mult = 1_000
		case 'm', 'M':
			mult = 1_000_000
		}
		if mult != 1 {
			num = strings.TrimSpace(num[:len(num)-1])
		}
	}
	if num == "" {
		return 0, bad("empty; " + want)
	}
	if num[0] == '-' {
		return 0, bad("must be positive")
	}
	intPart, frac, hasDot := strings.Cut(num, ".")
	if intPart == "" || !allDigits(intPart) || !allDigits(frac) || (hasDot && frac == "") {
		return 0, bad(want)
	}

	intPart = strings.TrimLeft(intPart, "0")
	if len(intPart) > 10 { // > 9,999,999,999: far beyond the limit whatever the unit
		return 0, bad("too large (at most 100M)")
	}
	total := int64(0)
	if intPart != "" {
		n, err := strconv.ParseInt(intPart, 10, 64)
		if err != nil { // unreachable: at most 10 digits
			return 0, bad(want)
		}
		total = n * mult // at most ~1e16: no overflow
	}

	if frac = strings.TrimRight(frac, "0"); frac != "" {
		// The fraction must come to whole bit/s: 2.5k is fine, 2.0005k is not.
		if len(frac) > 6 {
			return 0, bad("not a whole number of bit/s")
		}
		f, _ := strconv.ParseInt(frac, 10, 64) // at most 6 digits
		pow := int64(1)
		for range frac {
			pow *= 10
		}
		if f*mult%pow != 0 {
			return 0, bad("not a whole number of bit/s")
		}
		total += f * mult / pow
	}

	switch {
	case total == 0:
		return 0, bad("must be positive")
	case total > maxBitrate:
		return 0, bad("too large (at most 100M)")
	}
	return int(total), nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// formatBitrate is the inverse of ParseBitrate, used by String: bit/s as
// kbit/s with a "k" suffix ("2500k", "1333.2k"), or plain bit/s when below
// 1k.
func formatBitrate(bps int) string {
	if bps < 1000 {
		return strconv.Itoa(bps)
	}
	return strconv.FormatFloat(float64(bps)/1000, 'f', -1, 64) + "k"
}

// ParseSize parses a frame size "WIDTHxHEIGHT" such as "1280x720" (an upper
// case X works too). Both dimensions must be even (4:2:0 chroma needs it),
// the width in 16..7680 and the height in 16..4320.
func ParseSize(s string) (w, h int, err error) {
	w, h, err = parseSize(s)
	if err != nil {
		return 0, 0, fmt.Errorf("preset: size %w", err)
	}
	return w, h, nil
}

func parseSize(s string) (w, h int, err error) {
	ws, hs, ok := strings.Cut(strings.ToLower(strings.TrimSpace(s)), "x")
	if !ok || ws == "" || hs == "" || !allDigits(ws) || !allDigits(hs) || len(ws) > 6 || len(hs) > 6 {
		return 0, 0, fmt.Errorf(`%q: want WIDTHxHEIGHT like "1280x720"`, s)
	}
	w, _ = strconv.Atoi(ws) // digits only, at most 6: cannot fail
	h, _ = strconv.Atoi(hs)
	if err := checkDim(w, minWidth, maxWidth); err != nil {
		return 0, 0, fmt.Errorf("%q: width %w", s, err)
	}
	if err := checkDim(h, minHeight, maxHeight); err != nil {
		return 0, 0, fmt.Errorf("%q: height %w", s, err)
	}
	return w, h, nil
}

// checkDim checks one frame dimension: in [lo, hi] and even.
func checkDim(v, lo, hi int) error {
	if v < lo || v > hi {
		return fmt.Errorf("%d out of range %d..%d", v, lo, hi)
	}
	if v%2 != 0 {
		return fmt.Errorf("%d must be even", v)
	}
	return nil
}
