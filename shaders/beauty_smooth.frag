#version 300 es
// Beauty's smoothing S (spec.GuidedSmooth), at the output size: the
// guided filter's coefficients A and B (guided.frag's last pass, at half
// size) upsampled bilinearly, S = A·L + B. Rows run top-down here as in
// the frame: texture row 0 is the frame's top row and so is framebuffer
// row 0, so no flip is needed anywhere.
precision highp float;
precision highp int;

uniform highp sampler2D uY;    // input luma, R8, linear filtering, clamped to edge
uniform highp usampler2D uAB;  // A, B as float bits, RG32UI, half size
uniform vec2 uOut;             // output size in pixels (used with SCALE: an input of another size)

out uvec4 oS; // S as float bits, R32UI

vec2 ab(ivec2 q, ivec2 hi) {
	return uintBitsToFloat(texelFetch(uAB, clamp(q, ivec2(0), hi), 0).rg);
}

void main() {
	ivec2 p = ivec2(gl_FragCoord.xy);
	ivec2 hi = textureSize(uAB, 0) - 1;
	// Pixel centre x+0.5 is at half-size coordinate (x+0.5)/2: between
	// texel x/2 (weight 3/4) and its neighbour on x's side (1/4), left for
	// even x, right for odd, edges clamped: a GPU's linear sampling of the
	// half-size texture, done by hand (integer textures do not filter).
	ivec2 q = p / 2;
	ivec2 o = 2 * (p - 2 * q) - 1; // -1 even, +1 odd
	vec2 t = 0.75 * ab(q, hi) + 0.25 * ab(q + ivec2(o.x, 0), hi);
	vec2 b = 0.75 * ab(q + ivec2(0, o.y), hi) + 0.25 * ab(q + o, hi);
	vec2 c = 0.75 * t + 0.25 * b;
	// Normalised luma, as guided.frag's DOWN takes it.
#ifdef SCALE
	float l = (texture(uY, (vec2(p) + 0.5) / uOut).r * 255.0 - 16.0) / 219.0;
#else
	float l = (texelFetch(uY, p, 0).r * 255.0 - 16.0) / 219.0;
#endif
	oS = uvec4(floatBitsToUint(c.x * l + c.y), 0u, 0u, 0u);
}
