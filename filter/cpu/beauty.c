// spec.Beauty on a luma plane: a fast (subsampled) self-guided filter, the
// sharpening and the brightening, in plain C that the compiler vectorises
// (amd64 and arm64 alike; on amd64 compiled twice, for SSE2 and for AVX2,
// picked at run time). See beauty.go.

// Comparisons that cannot trap (nothing here looks at FP exceptions): the
// clamps are if-converted, and the loops holding them vectorised.
#pragma GCC optimize("no-trapping-math")

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "beauty.h"

#define INLINE static inline __attribute__((always_inline))

// Fixed point of a and b before their box: 1/2^14 of a normalised luma
// unit, 1/75 of a code value.
#define ABITS 14
#define AONE (1 << ABITS)

INLINE int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

// The scratch, in 4-byte words: four half-size integer planes (the 2×2
// sums of Y and their squares, their box sums; then a and b, and theirs),
// two half-size float planes (A and B), two half-width rows of column
// sums, two of A and B blended vertically, and three full-width rows of S.
size_t golive_beauty_scratch(int w, int h) {
	size_t hw = (size_t)(w + 1) / 2, hh = (size_t)(h + 1) / 2;
	return 4 * (6 * hw * hh + 4 * hw + 3 * (size_t)w);
}

// hbox2 writes the sums of c and d (n words each) over the 2r+1 around
// each, edges clamped, into o and p: running sums (two at once, for the
// CPU to overlap), with no clamping in the long middle.
INLINE void hbox2(uint32_t *restrict o, const uint32_t *restrict c, uint32_t *restrict p, const uint32_t *restrict d,
                  int n, int r) {
	uint32_t s = 0, t = 0;
	for (int k = -r; k <= r; k++) {
		s += c[clampi(k, 0, n - 1)];
		t += d[clampi(k, 0, n - 1)];
	}
	o[0] = s;
	p[0] = t;
	int x = 1, e1 = r + 1 < n ? r + 1 : n, e2 = n - r;
	for (; x < e1; x++) { // x − r − 1 < 0
		int i = x + r < n - 1 ? x + r : n - 1;
		s += c[i] - c[0];
		t += d[i] - d[0];
		o[x] = s;
		p[x] = t;
	}
	for (; x < e2; x++) {
		s += c[x + r] - c[x - r - 1];
		t += d[x + r] - d[x - r - 1];
		o[x] = s;
		p[x] = t;
	}
	for (; x < n; x++) { // x + r ≥ n
		s += c[n - 1] - c[x - r - 1];
		t += d[n - 1] - d[x - r - 1];
		o[x] = s;
		p[x] = t;
	}
}

// box2 writes the sums of p and q (hw×hh each) over the (2r+1)² window
// around each sample, edges clamped, into po and qo; col is 2·hw words.
// In uint32: the sums wrap, but come out exact (of int32 samples too, as
// two's complement) as long as they fit in 32 bits.
INLINE void box2(uint32_t *restrict po, const uint32_t *restrict p, uint32_t *restrict qo, const uint32_t *restrict q,
                 int hw, int hh, int r, uint32_t *restrict col) {
	uint32_t *cp = col, *cq = col + hw;
	memset(col, 0, 2 * sizeof(uint32_t) * hw);
	for (int k = -r; k <= r; k++) {
		size_t o = (size_t)clampi(k, 0, hh - 1) * hw;
		for (int x = 0; x < hw; x++) {
			cp[x] += p[o + x];
			cq[x] += q[o + x];
		}
	}
	hbox2(po, cp, qo, cq, hw, r);
	for (int y = 1; y < hh; y++) {
		size_t add = (size_t)clampi(y + r, 0, hh - 1) * hw, sub = (size_t)clampi(y - r - 1, 0, hh - 1) * hw;
		for (int x = 0; x < hw; x++) {
			cp[x] += p[add + x] - p[sub + x];
			cq[x] += q[add + x] - q[sub + x];
		}
		hbox2(po + (size_t)y * hw, cp, qo + (size_t)y * hw, cq, hw, r);
	}
}

// smoothRow computes row y of S = A·Y + B (code values) into s: A and B
// blended vertically into the half-width rows ah and bh, then across,
// full-size x at half-size x/2 − 1/4, edges clamped.
INLINE void smoothRow(float *restrict s, const uint8_t *restrict l, const float *A, const float *B, int w, int hw,
                      int hh, int y, float *restrict ah, float *restrict bh) {
	int k = y >> 1, k0, k1;
	float f0, f1;
	if (y & 1)
		k0 = k, k1 = k + 1, f0 = 0.75f, f1 = 0.25f;
	else
		k0 = k - 1, k1 = k, f0 = 0.25f, f1 = 0.75f;
	k0 = clampi(k0, 0, hh - 1);
	k1 = clampi(k1, 0, hh - 1);
	const float *a0 = A + (size_t)k0 * hw, *a1 = A + (size_t)k1 * hw;
	const float *b0 = B + (size_t)k0 * hw, *b1 = B + (size_t)k1 * hw;
	for (int x = 0; x < hw; x++) {
		ah[x] = f0 * a0[x] + f1 * a1[x];
		bh[x] = f0 * b0[x] + f1 * b1[x];
	}
	if (hw == 1) {
		for (int x = 0; x < w; x++)
			s[x] = ah[0] * (float)l[x] + bh[0];
		return;
	}
	s[0] = ah[0] * (float)l[0] + bh[0];
	s[1] = (0.75f * ah[0] + 0.25f * ah[1]) * (float)l[1] + (0.75f * bh[0] + 0.25f * bh[1]);
	for (int j = 1; j < hw - 1; j++) {
		float ae = 0.25f * ah[j - 1] + 0.75f * ah[j], ao = 0.75f * ah[j] + 0.25f * ah[j + 1];
		float be = 0.25f * bh[j - 1] + 0.75f * bh[j], bo = 0.75f * bh[j] + 0.25f * bh[j + 1];
		s[2 * j] = ae * (float)l[2 * j] + be;
		s[2 * j + 1] = ao * (float)l[2 * j + 1] + bo;
	}
	int j = hw - 1;
	s[2 * j] = (0.25f * ah[j - 1] + 0.75f * ah[j]) * (float)l[2 * j] + (0.25f * bh[j - 1] + 0.75f * bh[j]);
	if (2 * j + 1 < w)
		s[2 * j + 1] = ah[j] * (float)l[2 * j + 1] + bh[j];
}

// finish is the sharpening and the brightening of one pixel, S s with its
// 4 neighbours, in code values, rounded.
INLINE uint8_t finish(float s, float left, float right, float up, float down, float ks, float kb) {
	float t = s + ks * (s - 0.25f * (left + right + up + down));
	t = t > 16.0f ? t : 16.0f;
	t = t < 235.0f ? t : 235.0f;
	return (uint8_t)(int)(t + kb * (t - 16.0f) * (235.0f - t) + 0.5f);
}

INLINE void beauty(const uint8_t *src, int sstride, uint8_t *dst, int dstride, int w, int h, int r, float eps,
                   float strength, void *scratch) {
	int hw = (w + 1) / 2, hh = (h + 1) / 2;
	size_t n2 = (size_t)hw * hh;
	uint32_t *p0 = scratch;   // the 2×2 sums of Y, then a (fixed point)
	uint32_t *p1 = p0 + n2;   // their squares, then b (fixed point)
	uint32_t *s0 = p1 + n2;   // the box sums of p0
	uint32_t *s1 = s0 + n2;   // of p1
	float *A = (float *)(s1 + n2);
	float *B = A + n2;
	uint32_t *col = (uint32_t *)(B + n2);
	float *ah = (float *)(col + 2 * hw), *bh = ah + hw;
	float *srow[3] = {bh + hw, bh + hw + w, bh + hw + 2 * (size_t)w};

	// 1. The 2×2 sums of Y (4× the half-size mean, in code values) and
	// their squares; at odd sizes the last column/row clamps.
	for (int y = 0; y < hh; y++) {
		const uint8_t *r0 = src + (size_t)(2 * y) * sstride;
		const uint8_t *r1 = src + (size_t)(2 * y + 1 < h ? 2 * y + 1 : 2 * y) * sstride;
		uint32_t *o = p0 + (size_t)y * hw, *o2 = p1 + (size_t)y * hw;
		for (int x = 0; x < w / 2; x++) {
			uint32_t v = (uint32_t)r0[2 * x] + r0[2 * x + 1] + r1[2 * x] + r1[2 * x + 1];
			o[x] = v;
			o2[x] = v * v;
		}
		if (w & 1) {
			uint32_t v = 2 * ((uint32_t)r0[w - 1] + r1[w - 1]);
			o[hw - 1] = v;
			o2[hw - 1] = v * v;
		}
	}

	// 2. Their box sums M and Q (both under 2^31: r ≤ 22), and from them
	// a and b in normalised luma:
	//	var = (Q·n − M²)/(16·n²·219²)   (Q·n − M² exact in double)
	//	m = (M/(4n) − 16)/219
	int n = (2 * r + 1) * (2 * r + 1);
	box2(s0, p0, s1, p1, hw, hh, r, col);
	const float kv = 1.0f / (16.0f * (float)n * (float)n * 219.0f * 219.0f);
	const float km = 1.0f / (4.0f * (float)n * 219.0f), m0 = 16.0f / 219.0f;
	for (size_t i = 0; i < n2; i++) {
		double mm = (double)(int32_t)s0[i];
		double d = (double)(int32_t)s1[i] * n - mm * mm;
		float v = (float)d * kv;
		float a = v / (v + eps);
		float m = (float)(int32_t)s0[i] * km - m0;
		p0[i] = (uint32_t)(int32_t)(a * AONE + 0.5f);
		// b ≥ −16/219: rounded by truncation, offset by 1.
		p1[i] = (uint32_t)((int32_t)((m - a * m + 1.0f) * AONE + 0.5f) - AONE);
	}

	// 3. A and B: the box means of a and b; B in code values less 16·A,
	// so that S = A·Y + B in code values.
	box2(s0, p0, s1, p1, hw, hh, r, col);
	const float kn = 1.0f / ((float)n * AONE);
	for (size_t i = 0; i < n2; i++) {
		float a = (float)(int32_t)s0[i] * kn;
		A[i] = a;
		B[i] = 16.0f + 219.0f * ((float)(int32_t)s1[i] * kn) - 16.0f * a;
	}

	// 4. S at full size, row by row (three rows kept for the sharpening),
	// then the sharpening and the brightening.
	const float ks = 0.6f * strength, kb = 0.12f * strength / 219.0f;
	smoothRow(srow[0], src, A, B, w, hw, hh, 0, ah, bh);
	if (h > 1)
		smoothRow(srow[1], src + sstride, A, B, w, hw, hh, 1, ah, bh);
	for (int y = 0; y < h; y++) {
		const float *cur = srow[y % 3];
		const float *up = y > 0 ? srow[(y + 2) % 3] : cur;
		const float *down = y + 1 < h ? srow[(y + 1) % 3] : cur;
		uint8_t *o = dst + (size_t)y * dstride;
		if (w == 1) {
			o[0] = finish(cur[0], cur[0], cur[0], up[0], down[0], ks, kb);
		} else {
			o[0] = finish(cur[0], cur[0], cur[1], up[0], down[0], ks, kb);
			for (int x = 1; x < w - 1; x++)
				o[x] = finish(cur[x], cur[x - 1], cur[x + 1], up[x], down[x], ks, kb);
			o[w - 1] = finish(cur[w - 1], cur[w - 2], cur[w - 1], up[w - 1], down[w - 1], ks, kb);
		}
		// S's row y+2 only once row y is written: dst may be src.
		if (y + 2 < h)
			smoothRow(srow[(y + 2) % 3], src + (size_t)(y + 2) * sstride, A, B, w, hw, hh, y + 2, ah, bh);
	}
}

static void beautyBase(const uint8_t *src, int sstride, uint8_t *dst, int dstride, int w, int h, int r, float eps,
                       float strength, void *scratch) {
	beauty(src, sstride, dst, dstride, w, h, r, eps, strength, scratch);
}

#if defined(__x86_64__) && defined(__GNUC__)
// The same code for AVX2 (not FMA: the same roundings as SSE2's).
__attribute__((target("avx2"))) static void beautyAVX2(const uint8_t *src, int sstride, uint8_t *dst, int dstride,
                                                       int w, int h, int r, float eps, float strength,
                                                       void *scratch) {
	beauty(src, sstride, dst, dstride, w, h, r, eps, strength, scratch);
}
#endif

int golive_beauty_avx2(void) {
#if defined(__x86_64__) && defined(__GNUC__)
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx2");
#else
	return 0;
#endif
}

void golive_beauty(const uint8_t *src, int sstride, uint8_t *dst, int dstride, int w, int h, int r, float eps,
                   float strength, void *scratch, int avx2) {
#if defined(__x86_64__) && defined(__GNUC__)
	if (avx2) {
		beautyAVX2(src, sstride, dst, dstride, w, h, r, eps, strength, scratch);
		return;
	}
#endif
	(void)avx2;
	beautyBase(src, sstride, dst, dstride, w, h, r, eps, strength, scratch);
}
