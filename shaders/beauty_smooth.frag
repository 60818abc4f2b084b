#version 300 es
// Beauty, first half (spec.Beauty's S): an edge-preserving average of
// normalised luma over the 17 taps of spec.BeautyTaps, at the output size.
// Rows run top-down here as in the frame: texture row 0 is the frame's top
// row and so is framebuffer row 0, so no flip is needed anywhere.
precision highp float;

uniform highp sampler2D uY; // input luma, R8, linear filtering, clamped to edge
uniform vec2 uOut;          // output size in pixels
uniform vec2 uTap[17];      // tap offsets in output pixels
uniform float uWeight[17];  // spatial weights
uniform float uK;           // -1/(2·σr²)

out vec4 oS;

// Bilinear: the same sample spec.Beauty takes (pixel centres at +0.5, edges
// clamped). When the input is not the output size, this resamples it too.
float luma(vec2 p) {
	return (texture(uY, p / uOut).r * 255.0 - 16.0) / 219.0;
}

void main() {
	vec2 p = gl_FragCoord.xy;
	float c = luma(p);
	float num = 0.0;
	float den = 0.0;
	for (int i = 0; i < 17; i++) {
		float v = luma(p + uTap[i]);
		float d = v - c;
		float g = uWeight[i] * exp(uK * d * d);
		num += g * v;
		den += g;
	}
	float s = num / den;
	// RGBA8 everywhere can be rendered to (float targets need an extension
	// on ES 3.0/3.1): S, which may leave 0..1 a little (luma below 16 or over
	// 235), as 16-bit fixed point over -0.25..1.25, high byte in R, low in G.
	// The +0.25 keeps each byte exact whether the unorm conversion rounds or
	// truncates.
	float q = floor(clamp((s + 0.25) / 1.5, 0.0, 1.0) * 65535.0 + 0.5);
	float hi = floor(q / 256.0);
	oS = vec4(hi + 0.25, q - hi * 256.0 + 0.25, 0.0, 255.0) / 255.0;
}
