package main

//#cgo pkg-config: libavcodec
//#include <libavcodec/avcodec.h>
import "C"

import "fmt"

func libavcodecVersion() string {
	v := uint(C.avcodec_version())
	return fmt.Sprintf("%d.%d.%d", v>>16, v>>8&0xff, v&0xff)
}
