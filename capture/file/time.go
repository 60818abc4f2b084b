package file

import (
	"time"

	"github.com/asticode/go-astiav"
)

// tsToDur converts ts ticks of tb to a duration, rounding down (so that a
// 1/FPS time base gives exactly floor(n*1s/FPS), like testsrc's grid).
func tsToDur(ts int64, tb astiav.Rational) time.Duration {
	return time.Duration(mulDivFloor(ts*int64(tb.Num()), int64(time.Second), int64(tb.Den())))
}

// durToTS converts d to ticks of tb, rounding to nearest.
func durToTS(d time.Duration, tb astiav.Rational) int64 {
	return mulDivRound(int64(d), int64(tb.Den()), int64(tb.Num())*int64(time.Second))
}

// rescale converts ts from one time base to another, rounding to nearest.
func rescale(ts int64, from, to astiav.Rational) int64 {
	if from.Num() == to.Num() && from.Den() == to.Den() {
		return ts
	}
	return mulDivRound(ts, int64(from.Num())*int64(to.Den()), int64(from.Den())*int64(to.Num()))
}

// mulDivFloor is floor(a*b/c) for c > 0, b >= 0, without overflowing for
// any a when (c-1)*b fits in an int64.
func mulDivFloor(a, b, c int64) int64 {
	q, r := a/c, a%c
	if r < 0 {
		q, r = q-1, r+c
	}
	return q*b + r*b/c
}

// mulDivRound is a*b/c for c > 0, b >= 0, rounded to nearest (halves away
// from minus infinity), with mulDivFloor's range.
func mulDivRound(a, b, c int64) int64 {
	q, r := a/c, a%c
	if r < 0 {
		q, r = q-1, r+c
	}
	return q*b + (r*b+c/2)/c
}
