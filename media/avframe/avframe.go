// Package avframe reaches the pixels of an astiav.Frame, which go-astiav
// v0.16.0 exposes only by copying: every stage that fills or reads an
// AVFrame in place (encode, capture/file, filter/cpu) shares this.
package avframe

// #cgo pkg-config: libavutil
// #include <libavutil/frame.h>
import "C"

import (
	"unsafe"

	"github.com/asticode/go-astiav"
)

// Plane returns plane i of a video frame (rows lines) and its line size;
// nil and 0 when the frame has no such plane.
func Plane(f *astiav.Frame, i, rows int) ([]byte, int) {
	c := (*C.AVFrame)(f.UnsafePointer())
	ls := int(c.linesize[i])
	if c.data[i] == nil || ls <= 0 {
		return nil, 0
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(c.data[i])), ls*rows), ls
}
