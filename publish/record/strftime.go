package record

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Expand replaces the strftime verbs of pattern with t's values:
//
//	%Y  year, four digits (2026)
//	%m  month, 01..12
//	%d  day of the month, 01..31
//	%H  hour, 00..23
//	%M  minute, 00..59
//	%S  second, 00..60
//	%s  seconds since the Unix epoch
//	%%  a percent sign
//
// Any other verb, or a % at the end, is an error.
func Expand(pattern string, t time.Time) (string, error) {
	if !strings.Contains(pattern, "%") {
		return pattern, nil
	}
	var b strings.Builder
	for i := 0; i < len(pattern); i++ {
		c := pattern[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if i++; i == len(pattern) {
			return "", fmt.Errorf("%q: a %% at the end (%%%% for a percent sign)", pattern)
		}
		switch pattern[i] {
		case 'Y':
			fmt.Fprintf(&b, "%04d", t.Year())
		case 'm':
			fmt.Fprintf(&b, "%02d", int(t.Month()))
		case 'd':
			fmt.Fprintf(&b, "%02d", t.Day())
		case 'H':
			fmt.Fprintf(&b, "%02d", t.Hour())
		case 'M':
			fmt.Fprintf(&b, "%02d", t.Minute())
		case 'S':
			fmt.Fprintf(&b, "%02d", t.Second())
		case 's':
			b.WriteString(strconv.FormatInt(t.Unix(), 10))
		case '%':
			b.WriteByte('%')
		default:
			return "", fmt.Errorf("%q: unknown verb %%%c (want %%Y %%m %%d %%H %%M %%S %%s or %%%%)", pattern, pattern[i])
		}
	}
	return b.String(), nil
}
