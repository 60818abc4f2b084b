#version 300 es
// The main pass, at the output size: luma (or beauty's sharpen and
// brighten), colour on Y, U, V, BT.709 limited YUV to RGB, the 3D LUT, the watermark,
// the text — in the order and with the maths of spec.Reference. The Go side
// prepends a #define for each pass the options ask for.
precision highp float;
precision highp int;

const vec3 K = vec3(0.2126, 0.7152, 0.0722); // BT.709 Kr, Kg, Kb

uniform highp sampler2D uY;   // R8, linear
uniform highp sampler2D uU;   // R8, linear
uniform highp sampler2D uV;   // R8, linear
uniform vec2 uOut;            // output size
uniform vec2 uChroma;         // input w/(2·cw), h/(2·ch): turns a luma coordinate into a chroma one

out vec4 oRGB;

#ifdef BEAUTY
uniform highp usampler2D uS;  // beauty_smooth's output: S as float bits, RG32UI, two rows a texel
uniform float uBeauty;        // strength

// S of rows 2t and 2t+1 at column x.
vec2 smoothed(int x, int t) {
	return uintBitsToFloat(texelFetch(uS, ivec2(x, t), 0).rg);
}

// spec.Beauty's second half: light sharpening, then brightening. S at p
// and its 4 neighbours (edges clamped) are 4 texels: p's (with its
// neighbour in the other row of the texel), left, right, and the texel
// above an even row or below an odd one.
float beauty(ivec2 p) {
	ivec2 size = ivec2(uOut);
	int ty = p.y / 2;
	bool odd = p.y % 2 == 1;
	vec2 c = smoothed(p.x, ty);
	vec2 l = smoothed(max(p.x - 1, 0), ty);
	vec2 r = smoothed(min(p.x + 1, size.x - 1), ty);
	vec2 v = smoothed(p.x, odd ? min(ty + 1, (size.y + 1) / 2 - 1) : max(ty - 1, 0));
	float s = odd ? c.y : c.x;
	// Below the last row of an odd height, c.y repeats it.
	float up = odd ? c.x : (p.y == 0 ? s : v.y);
	float down = odd ? (p.y == size.y - 1 ? s : v.x) : c.y;
	float n = ((odd ? l.y : l.x) + (odd ? r.y : r.x) + up + down) / 4.0;
	float t = clamp(s + 0.6 * uBeauty * (s - n), 0.0, 1.0);
	return t + 0.12 * uBeauty * t * (1.0 - t);
}
#endif

#ifdef COLOUR
uniform float uBrightness;
uniform float uContrast;
uniform float uSaturation;
#endif

#ifdef LUT
uniform highp sampler3D uLUT; // RGB16F, linear: trilinear in hardware
uniform vec3 uLUTMin;
uniform vec3 uLUTScale;       // 1/(max-min)
uniform float uLUTSize;
#endif

#if defined(WATERMARK) || defined(TEXT)
// Non-premultiplied RGBA8 at its top-left pixel at, unscaled.
vec3 over(vec3 c, highp sampler2D img, ivec2 at, ivec2 p) {
	ivec2 q = p - at;
	if (any(lessThan(q, ivec2(0))) || any(greaterThanEqual(q, textureSize(img, 0)))) {
		return c;
	}
	vec4 o = texelFetch(img, q, 0);
	return c * (1.0 - o.a) + o.rgb * o.a;
}
#endif
#ifdef WATERMARK
uniform highp sampler2D uWatermark;
uniform ivec2 uWatermarkAt;
#endif
#ifdef TEXT
uniform highp sampler2D uText;
uniform ivec2 uTextAt;
#endif

void main() {
	ivec2 p = ivec2(gl_FragCoord.xy);
	vec2 uv = gl_FragCoord.xy / uOut;
#ifdef BEAUTY
	float l = beauty(p);
#else
	float l = (texture(uY, uv).r * 255.0 - 16.0) / 219.0;
#endif
	// Every pixel of a 2×2 block takes the block's chroma, as yuv.Chroma:
	// sampled at the block's centre, which at the input's size is exactly
	// the centre of its chroma texel (so a frame no pass changes comes back
	// as it went in), and between texels, bilinear, when scaling.
	vec2 cuv = (vec2(p / 2) * 2.0 + 1.0) / uOut * uChroma;
	float uc = texture(uU, cuv).r * 255.0;
	float vc = texture(uV, cuv).r * 255.0;
#ifdef COLOUR
	// spec's ColourYUV: a proc amp on Y, U and V, clamped to the legal range.
	l = clamp((l - 0.5) * uContrast + 0.5 + uBrightness, 0.0, 1.0);
	float k = uContrast * uSaturation;
	uc = clamp(128.0 + (uc - 128.0) * k, 16.0, 240.0);
	vc = clamp(128.0 + (vc - 128.0) * k, 16.0, 240.0);
#endif
	float pb = (uc - 128.0) / 224.0 * (2.0 * (1.0 - K.b));
	float pr = (vc - 128.0) / 224.0 * (2.0 * (1.0 - K.r));
	// Not clamped: YUV → RGB → YUV is affine, so what no pass changes comes
	// back exactly, colours outside the RGB cube included.
	vec3 c;
	c.r = l + pr;
	c.b = l + pb;
	c.g = (l - K.r * c.r - K.b * c.b) / K.g;
#ifdef LUT
	// Texel centres: entry i sits at (i+0.5)/N, so domain 0..1 maps to
	// 0.5/N..(N-0.5)/N, where trilinear filtering matches LUT.Apply.
	vec3 t = clamp((c - uLUTMin) * uLUTScale, 0.0, 1.0);
	c = clamp(texture(uLUT, (t * (uLUTSize - 1.0) + 0.5) / uLUTSize).rgb, 0.0, 1.0);
#endif
#ifdef WATERMARK
	c = over(c, uWatermark, uWatermarkAt, p);
#endif
#ifdef TEXT
	c = over(c, uText, uTextAt, p);
#endif
	// RGB10_A2 holds 0..1: store −1..2 (legal YUV reaches R 1.79, G −0.3),
	// which yuv_pack undoes; 341 steps per unit keep a code value.
	oRGB = vec4((c + 1.0) / 3.0, 1.0);
}
