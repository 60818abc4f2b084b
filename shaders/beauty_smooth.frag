#version 300 es
// Beauty's smoothing S (spec.GuidedSmooth), at the output size: the
// guided filter's coefficients A and B (guided.frag's last pass, at half
// size) upsampled bilinearly, S = A·L + B. Rows run top-down here as in
// the frame: texture row 0 is the frame's top row and so is framebuffer
// row 0, so no flip is needed anywhere.
//
// Two rows a texel, as in guided.frag: texel (x, t) holds S of pixels
// (x, 2t) and (x, 2t+1) (at an odd height the last texel's second is the
// last row again), which share their half-size row and so most of their
// reads of A and B.
precision highp float;
precision highp int;

uniform highp sampler2D uY;    // input luma, R8, linear filtering, clamped to edge
uniform highp usampler2D uAB;  // A, B as float bits, RGBA32UI, half size, two rows a texel (guided.frag)
uniform int uRows;             // the half-size height
uniform vec2 uOut;             // output size in pixels

out uvec4 oS; // S of the two rows as float bits, RG32UI

// rows3 is A, B at column x of half-size rows m-1, m and m+1, edges
// clamped: two texels.
void rows3(int x, int m, out vec2 ra, out vec2 rb, out vec2 rc) {
	int a = max(m - 1, 0);
	int c = min(m + 1, uRows - 1);
	vec4 lo = uintBitsToFloat(texelFetch(uAB, ivec2(x, a / 2), 0));
	vec4 hi = uintBitsToFloat(texelFetch(uAB, ivec2(x, c / 2), 0));
	vec4 mid = m / 2 == a / 2 ? lo : hi;
	ra = a % 2 == 0 ? lo.xy : lo.zw;
	rb = m % 2 == 0 ? mid.xy : mid.zw;
	rc = c % 2 == 0 ? hi.xy : hi.zw;
}

// Normalised luma, as guided.frag's DOWN takes it.
float luma(ivec2 p) {
#ifdef SCALE
	return (texture(uY, (vec2(p) + 0.5) / uOut).r * 255.0 - 16.0) / 219.0;
#else
	return (texelFetch(uY, p, 0).r * 255.0 - 16.0) / 219.0;
#endif
}

void main() {
	ivec2 f = ivec2(gl_FragCoord.xy);
	int m = f.y; // the half-size row of both pixels
	int y0 = 2 * m;
	int y1 = min(y0 + 1, int(uOut.y) - 1);
	// Pixel centre x+0.5 is at half-size coordinate (x+0.5)/2: between
	// column x/2 (weight 3/4) and its neighbour on x's side (1/4), left for
	// even x, right for odd, edges clamped; the same down the rows: a GPU's
	// linear sampling of a half-size texture, done by hand (integer
	// textures do not filter). Row y0 is between half rows m and m-1, y1
	// between m and m+1.
	int qx = f.x / 2;
	int ox = clamp(qx + 2 * (f.x - 2 * qx) - 1, 0, textureSize(uAB, 0).x - 1);
	vec2 a0, b0, c0, a1, b1, c1;
	rows3(qx, m, a0, b0, c0);
	rows3(ox, m, a1, b1, c1);
	vec2 mid = 0.75 * b0 + 0.25 * b1;
	vec2 ab0 = 0.75 * mid + 0.25 * (0.75 * a0 + 0.25 * a1);
	vec2 ab1 = 0.75 * mid + 0.25 * (0.75 * c0 + 0.25 * c1);
	float s0 = ab0.x * luma(ivec2(f.x, y0)) + ab0.y;
	float s1 = ab1.x * luma(ivec2(f.x, y1)) + ab1.y;
	if (y1 == y0) {
		s1 = s0; // past an odd height: the last row again
	}
	oS = uvec4(floatBitsToUint(vec2(s0, s1)), 0u, 0u);
}
