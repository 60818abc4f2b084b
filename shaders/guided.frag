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
// Every target is an integer one (RG32UI, RGBA32UI) holding floats bit for
// bit: colour-renderable in core OpenGL ES 3.0, where float targets need
// an extension, and exact, which the cancellation in q − m² (the variance
// of fine noise is ~1e-3) needs. Integer textures are read with texelFetch
// only.
//
// Two rows a texel: texel (x, t) holds half-size rows 2t and 2t+1 of
// column x (DOWN: Ld, Ld; the others: two pairs), so that each fragment
// does two samples' work and the vertical boxes share their reads: a
// column of 2R+2 samples is R+1 or R+2 texels. At an odd half height the
// last texel's second row repeats the last row (each pass writes it so),
// which with the edge rule below makes every read clamp to the edge, as
// spec's box does.
precision highp float;
precision highp int;

uniform int uRows; // the half-size height (rows, not texels)

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

float ld(ivec2 q) {
	ivec2 p = 2 * q;
	return (luma(p) + luma(p + ivec2(1, 0)) + luma(p + ivec2(0, 1)) + luma(p + ivec2(1, 1))) * 0.25;
}

void main() {
	ivec2 t = ivec2(gl_FragCoord.xy);
	int y = 2 * t.y;
	oV = uvec4(floatBitsToUint(vec2(ld(ivec2(t.x, y)), ld(ivec2(t.x, min(y + 1, uRows - 1))))), 0u, 0u);
}

#else

uniform highp usampler2D uIn; // the pass before's target
out uvec4 oV;

const float N = 1.0 / float(2 * R + 1);

vec4 fetch(ivec2 t) {
	return uintBitsToFloat(texelFetch(uIn, t, 0));
}

#if defined(MQ_H) || defined(AB_H)

void main() {
	ivec2 t = ivec2(gl_FragCoord.xy);
	int hi = textureSize(uIn, 0).x - 1;
	vec4 sum = vec4(0.0);
	for (int k = -R; k <= R; k++) {
		vec4 v = fetch(ivec2(clamp(t.x + k, 0, hi), t.y));
#ifdef MQ_H
		v = vec4(v.x, v.x * v.x, v.y, v.y * v.y);
#endif
		sum += v;
	}
	oV = floatBitsToUint(sum * N);
}

#else // COEF, AB_V

#ifdef COEF
uniform float uEps;

// a, b of m, q.
vec2 coef(vec2 mq) {
	float v = max(mq.y - mq.x * mq.x, 0.0);
	float a = v / (v + uEps);
	return vec2(a, mq.x - a * mq.x);
}
#endif

const int K = (R + 1) / 2; // texels either side: rows 2t−2K .. 2t+2K+1

void main() {
	ivec2 t = ivec2(gl_FragCoord.xy);
	int last = textureSize(uIn, 0).y - 1;
	vec2 s0 = vec2(0.0); // rows 2t−R .. 2t+R
	vec2 s1 = vec2(0.0); // rows 2t+1−R .. 2t+1+R
	for (int k = -K; k <= K; k++) {
		int u = t.y + k;
		vec4 v = fetch(ivec2(t.x, clamp(u, 0, last)));
		// Above the top: the first row; below the bottom: the last (the
		// last texel's second row, a repeat at an odd height).
		v = u < 0 ? v.xyxy : (u > last ? v.zwzw : v);
		int d = 2 * k; // v.xy is row 2t+d, v.zw row 2t+d+1
		if (d >= -R && d <= R) {
			s0 += v.xy;
		}
		if (d + 1 >= -R && d + 1 <= R) {
			s0 += v.zw;
		}
		if (d >= 1 - R && d <= 1 + R) {
			s1 += v.xy;
		}
		if (d + 1 >= 1 - R && d + 1 <= 1 + R) {
			s1 += v.zw;
		}
	}
	s0 *= N;
	s1 *= N;
	if (2 * t.y + 1 >= uRows) {
		s1 = s0; // past an odd height: the last row again
	}
#ifdef COEF
	oV = floatBitsToUint(vec4(coef(s0), coef(s1)));
#else
	oV = floatBitsToUint(vec4(s0, s1));
#endif
}

#endif

#endif
