package cpu

//#cgo CFLAGS: -O3
//#include "beauty.h"
import "C"

import (
	"unsafe"

	"github.com/golive/golive/filter/spec"
)

// beauty runs spec.Beauty on luma planes of one size, in C (beauty.c):
// the fast guided filter on a half-size luma in integer box sums (exact),
// the rest in float, within a code value of spec.Beauty's float64.
// libavfilter has nothing that is this filter, and its bilateral is 5×
// the cost.
type beauty struct {
	w, h    int
	r       int
	eps     float64
	s       float64
	scratch []float32
}

// useAVX2: the AVX2 build of beauty.c runs (amd64 with AVX2).
var useAVX2 = C.golive_beauty_avx2() != 0

// maxBeautyRadius keeps beauty.c's box sums of squares within 31 bits.
const maxBeautyRadius = 22

func newBeauty(s float64, w, h int) *beauty {
	n := int(C.golive_beauty_scratch(C.int(w), C.int(h))) / 4
	return &beauty{w: w, h: h, r: min(spec.BeautyRadius(s), maxBeautyRadius), eps: spec.BeautyEps(s), s: s, scratch: make([]float32, n)}
}

// run writes the beauty pass of src (a w×h luma plane, rows stride
// sstride apart) into dst (dstride); dst may be src. The caller keeps
// what owns the planes alive (a media.VideoFrame of its own mapping is
// unmapped once unreachable, runtime.KeepAlive).
func (b *beauty) run(dst []byte, dstride int, src []byte, sstride int) {
	C.golive_beauty((*C.uint8_t)(unsafe.Pointer(&src[0])), C.int(sstride), (*C.uint8_t)(unsafe.Pointer(&dst[0])), C.int(dstride),
		C.int(b.w), C.int(b.h), C.int(b.r), C.float(b.eps), C.float(b.s), unsafe.Pointer(&b.scratch[0]), cbool(useAVX2))
}
