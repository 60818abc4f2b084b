// Package shaders embeds the GLSL ES 3.00 sources the GL filter backend
// (filter/gl) runs:
//
//   - quad.vert: one viewport-covering triangle, shared by every pass
//   - guided.frag: beauty's edge-preserving smoothing (a self-guided
//     filter) at half size, up to its coefficients A and B, one pass per
//     #define
//   - beauty_smooth.frag: beauty's smoothed luma S = A·L + B at full size
//   - main.frag: beauty's sharpen and brighten, YUV to RGB, colour, the 3D
//     LUT, the watermark and the text, each compiled in by a #define
//   - yuv_pack.frag: RGB to I420 or NV12, packed into an RGBA8 target so
//     that one read returns the frame's bytes in order
//
// The maths is filter/spec's; the files say where each step comes from.
package shaders

import _ "embed"

var (
	//go:embed quad.vert
	Quad string
	//go:embed guided.frag
	Guided string
	//go:embed beauty_smooth.frag
	BeautySmooth string
	//go:embed main.frag
	Main string
	//go:embed yuv_pack.frag
	YUVPack string
)
