package main

//#cgo pkg-config: libavcodec libavformat libavfilter libavdevice libswscale libswresample libavutil
//#include <libavcodec/avcodec.h>
//#include <libavformat/avformat.h>
//#include <libavfilter/avfilter.h>
//#include <libavdevice/avdevice.h>
//#include <libswscale/swscale.h>
//#include <libswresample/swresample.h>
//#include <libavutil/avutil.h>
import "C"

import "fmt"

func libavcodecVersion() string { return versionString(uint(C.avcodec_version())) }

// ffmpegVersions names the FFmpeg libraries golive runs with and their
// versions (as loaded, which may differ from the headers it was built with).
func ffmpegVersions() [][2]string {
	return [][2]string{
		{"libavcodec", versionString(uint(C.avcodec_version()))},
		{"libavformat", versionString(uint(C.avformat_version()))},
		{"libavfilter", versionString(uint(C.avfilter_version()))},
		{"libavdevice", versionString(uint(C.avdevice_version()))},
		{"libswscale", versionString(uint(C.swscale_version()))},
		{"libswresample", versionString(uint(C.swresample_version()))},
		{"libavutil", versionString(uint(C.avutil_version()))},
	}
}

func versionString(v uint) string { return fmt.Sprintf("%d.%d.%d", v>>16, v>>8&0xff, v&0xff) }
