#version 300 es
// Beauty, first half, at half size: spec.GuidedSmooth's self-guided
// filter up to its coefficients A and B, one pass per #define (the Go side
// prepends it and R, the box radius spec.BeautyRadius):
//
//   DOWN    Ld: the 2×2 box mean of normalised luma at the output size
//           (SCALE: of an input of another size, resampled)
//   MQ_H    Ld, Ld² averaged over a row of 2R+1 (box, horizontal half)
//   COEF    m, q averaged over a column of 2R+1: var = q − m²,
//           a = var/(var+eps), b = m − a·m
//   AB_H    a, b averaged over a row of 2R+1
//   AB_V    A, B: a, b averaged over a column of 2R+1
//
// Every target is an integer one (R32UI, RG32UI) holding floats bit for
// bit: colour-renderable in core OpenGL ES 3.0, where float targets need
// an extension, and exact, which the cancellation in q − m² (the variance
// of fine noise is ~1e-3) needs. Integer textures are read with texelFetch
// only; edges clamp, as spec's box does.
precision highp float;
precision highp int;

#ifdef DOWN

uniform highp sampler2D uY; // input luma, R8, linear filtering, clamped to edge
uniform vec2 uOut;          // output size in pixels
out uvec4 oV;

// Normalised luma at output pixel p, as beauty_smooth.frag takes it: the
// input's pixel, or with SCALE (an input of another size) the input
// sampled bilinearly at the pixel's centre.
float luma(ivec2 p) {
	p = min(p, ivec2(uOut) - 1); // odd sizes: the last column/row clamps
#ifdef SCALE
	return (texture(uY, (vec2(p) + 0.5) / uOut).r * 255.0 - 16.0) / 219.0;
#else
	return (texelFetch(uY, p, 0).r * 255.0 - 16.0) / 219.0;
#endif
}

void main() {
	ivec2 p = 2 * ivec2(gl_FragCoord.xy);
	float ld = (luma(p) + luma(p + ivec2(1, 0)) + luma(p + ivec2(0, 1)) + luma(p + ivec2(1, 1))) * 0.25;
	oV = uvec4(floatBitsToUint(ld), 0u, 0u, 0u);
}

#else

uniform highp usampler2D uIn; // the pass before's target
out uvec4 oV;

const float N = 1.0 / float(2 * R + 1);

#if defined(MQ_H) || defined(AB_H)
const ivec2 STEP = ivec2(1, 0);
#else
const ivec2 STEP = ivec2(0, 1);
#endif

vec2 fetch(ivec2 p, ivec2 hi) {
	return uintBitsToFloat(texelFetch(uIn, clamp(p, ivec2(0), hi), 0).rg);
}

#ifdef COEF
uniform float uEps;
#endif

void main() {
	ivec2 p = ivec2(gl_FragCoord.xy);
	ivec2 hi = textureSize(uIn, 0) - 1;
	vec2 sum = vec2(0.0);
	for (int k = -R; k <= R; k++) {
		vec2 v = fetch(p + k * STEP, hi);
#ifdef MQ_H
		v.y = v.x * v.x;
#endif
		sum += v;
	}
	sum *= N;
#ifdef COEF
	float m = sum.x;
	float v = max(sum.y - m * m, 0.0);
	float a = v / (v + uEps);
	sum = vec2(a, m - a * m);
#endif
	oV = uvec4(floatBitsToUint(sum), 0u, 0u);
}

#endif
