#version 300 es
// RGB to I420 or (with NV12 defined) NV12, packed: the RGBA8 target is the
// frame as one run of bytes (Y rows, then U then V, or the UV rows, no
// padding), four bytes a texel, so one glReadPixels returns the frame
// ready to copy.
//
// When a texel never straddles two rows of a plane (I420: the width is a
// multiple of 8; NV12: of 4), the target is w/4 texels wide: rows 0..h-1
// hold the Y rows, four pixels a texel, and the rows after them the
// chroma: for I420, U then V, four 2×2 blocks of one chroma row a texel;
// for NV12 one UV row a target row, two blocks (U, V, U, V) a texel. The Go
// side then draws the two parts with LUMA and with CHROMA defined:
// straight-line shaders, which matter where branches cost both sides
// (llvmpipe). Any other width takes the general shader, which works out
// plane and position byte by byte.
precision highp float;
precision highp int;

const vec3 K = vec3(0.2126, 0.7152, 0.0722);

uniform highp sampler2D uRGB; // the main pass's output
uniform ivec2 uSize;          // the frame's width and height
uniform int uWidth;           // this target's width in texels

out vec4 oBytes;

vec3 rgb(ivec2 p) {
	return texelFetch(uRGB, min(p, uSize - 1), 0).rgb * 3.0 - 1.0; // main.frag stores −1..2 as 0..1
}

float luma(ivec2 p) {
	return 16.0 + 219.0 * dot(rgb(p), K);
}

// uv is U and V of the 2×2 block at q. U and V are linear in RGB, so
// averaging RGB over the block gives spec.Reference's average of U and V
// (edges clamped as there).
vec2 uv(ivec2 q) {
	vec3 c = (rgb(q) + rgb(q + ivec2(1, 0)) + rgb(q + ivec2(0, 1)) + rgb(q + ivec2(1, 1))) * 0.25;
	float l = dot(c, K);
	return 128.0 + 224.0 * vec2((c.b - l) / (2.0 * (1.0 - K.b)), (c.r - l) / (2.0 * (1.0 - K.r)));
}

// chroma is U, or V when v, of the 2×2 block at q.
float chroma(ivec2 q, bool v) {
	vec2 c = uv(q);
	return v ? c.y : c.x;
}

// bytesOf rounds as yuv.Byte does; +0.25 makes the unorm conversion land on
// that byte whether it rounds or truncates.
vec4 bytesOf(vec4 x) {
	return (clamp(floor(x + 0.5), 0.0, 255.0) + 0.25) / 255.0;
}

#if defined(LUMA)

void main() {
	ivec2 p = ivec2(gl_FragCoord.xy) * ivec2(4, 1);
	oBytes = bytesOf(vec4(luma(p), luma(p + ivec2(1, 0)), luma(p + ivec2(2, 0)), luma(p + ivec2(3, 0))));
}

#elif defined(CHROMA) && defined(NV12)

void main() {
	ivec2 t = ivec2(gl_FragCoord.xy);
	ivec2 q = ivec2(4 * t.x, 2 * (t.y - uSize.y)); // the first of the texel's two blocks
	oBytes = bytesOf(vec4(uv(q), uv(q + ivec2(2, 0))));
}

#elif defined(CHROMA)

void main() {
	ivec2 t = ivec2(gl_FragCoord.xy);
	int i = ((t.y - uSize.y) * uWidth + t.x) * 4; // byte in the U, V run
	int cw = uSize.x / 2;
	int cs = cw * ((uSize.y + 1) / 2);
	bool v = i >= cs;
	i -= v ? cs : 0;
	ivec2 q = 2 * ivec2(i % cw, i / cw);
	oBytes = bytesOf(vec4(chroma(q, v), chroma(q + ivec2(2, 0), v), chroma(q + ivec2(4, 0), v), chroma(q + ivec2(6, 0), v)));
}

#else

// code is byte off of the frame as an unrounded code value.
float code(int off) {
	int w = uSize.x;
	int h = uSize.y;
	if (off < w * h) {
		return luma(ivec2(off % w, off / w));
	}
	off -= w * h;
	int cw = (w + 1) / 2;
	int ch = (h + 1) / 2;
#if defined(NV12)
	// Rows of 2·cw bytes, U and V of one block after the other.
	int row = off / (2 * cw);
	if (row >= ch) {
		return 0.0; // past the frame: the target's last row may be partly spare
	}
	int col = off % (2 * cw);
	return chroma(2 * ivec2(col / 2, row), col % 2 == 1);
#else
	int cs = cw * ch;
	bool v = off >= cs;
	if (v) {
		off -= cs;
	}
	if (off >= cs) {
		return 0.0; // past the frame: the target's last row may be partly spare
	}
	return chroma(2 * ivec2(off % cw, off / cw), v);
#endif
}

void main() {
	ivec2 t = ivec2(gl_FragCoord.xy);
	int off = (t.y * uWidth + t.x) * 4;
	oBytes = bytesOf(vec4(code(off), code(off + 1), code(off + 2), code(off + 3)));
}

#endif
