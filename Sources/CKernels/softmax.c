// AttnLab's exponential (`DetMath.exp`) in vector lanes, and the two decoder kernels built on it:
// the attention softmax and SwiGLU's gate. `DetMath.exp` uses only IEEE +, −, × and exact scaling
// by powers of two, so doing the same operations in the same order in float64 lanes gives the same
// bits as the scalar Swift function, and these kernels the same bits as the Swift loops they replace.
#include "simd.h"

typedef double v8d __attribute__((vector_size(64), aligned(8)));
typedef int64_t v8l __attribute__((vector_size(64), aligned(8)));

/// e^x for x in [−110, 100], as `DetMath.exp(_: Double)` computes it: k = x/ln 2 rounded to nearest
/// even (adding and subtracting 1.5·2^52 does that rounding exactly for |x/ln 2| < 2^51, and leaves k
/// in the sum's low bits), r = (x − k·ln2Hi) − k·ln2Lo, the degree-14 Taylor series of e^r by
/// Horner's rule, times 2^k built from its bits (k stays inside the normal exponents here, so
/// `DetMath.scale` multiplies once by the same power of two).
ATTN_INLINE v8d exp8(v8d x) {
    const double ln2Hi = 6.93147180369123816490e-01, ln2Lo = 1.90821492927058770002e-10, invLn2 = 1.44269504088896338700e+00;
    const double magic = 6755399441055744.0;  // 1.5·2^52
    v8d shifted = x * invLn2 + magic;
    v8d k = shifted - magic;
    v8l kBits = (v8l)shifted - (v8l)((v8d){0, 0, 0, 0, 0, 0, 0, 0} + magic);
    v8d r = (x - k * ln2Hi) - k * ln2Lo;
    v8d p = 1.0 + r * (1.0 + r * (1 / 2.0 + r * (1 / 6.0 + r * (
        1 / 24.0 + r * (1 / 120.0 + r * (1 / 720.0 + r * (1 / 5040.0 + r * (
        1 / 40320.0 + r * (1 / 362880.0 + r * (1 / 3628800.0 + r * (1 / 39916800.0 + r * (
        1 / 479001600.0 + r * (1 / 6227020800.0 + r * (1 / 87178291200.0))))))))))))));
    return p * (v8d)((kBits + 1023) << 52);
}

/// Float(e^Double(x)) lane by lane, as `DetMath.exp(_: Float)`. Outside [−110, 100] the Float32
/// answer is fixed whatever the float64 one: 0 below (e^−110 < 2^−150, under half the smallest
/// subnormal), +∞ above (e^100 > the largest Float32), NaN for NaN.
ATTN_INLINE v16f exp16(v16f x) {
    v16f clamped = x;
    v16i low = x < -110.0f, high = x > 100.0f, nan = x != x;
    clamped = (v16f)(((v16i)clamped & ~(low | high | nan)) | ((v16i)splat16(-110.0f) & low) | ((v16i)splat16(100.0f) & high));
    typedef float v8f __attribute__((vector_size(32), aligned(4)));
    v8d lo = __builtin_convertvector(__builtin_shufflevector(clamped, clamped, 0, 1, 2, 3, 4, 5, 6, 7), v8d);
    v8d hi = __builtin_convertvector(__builtin_shufflevector(clamped, clamped, 8, 9, 10, 11, 12, 13, 14, 15), v8d);
    v8f elo = __builtin_convertvector(exp8(lo), v8f), ehi = __builtin_convertvector(exp8(hi), v8f);
    v16f e = __builtin_shufflevector(elo, ehi, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    v16i bits = ((v16i)e & ~(low | high | nan)) | ((v16i)splat16(__builtin_inff()) & high) | ((v16i)x & nan);
    return (v16f)bits;
}

/// Sixteen lanes from p[0..<count] (count < 16), the rest 0.
ATTN_INLINE v16f load_partial(const float *p, ptrdiff_t count) {
    float lanes[16] = {0};
    memcpy(lanes, p, (size_t)count * sizeof(float));
    return load16(lanes);
}

ATTN_INLINE void store_partial(float *p, v16f v, ptrdiff_t count) {
    float lanes[16];
    store16(lanes, v);
    memcpy(p, lanes, (size_t)count * sizeof(float));
}

ATTN_INLINE void attn_exp_f32_body(float *x, ptrdiff_t n) {
    ptrdiff_t i = 0;
    for (; i + 16 <= n; i += 16) store16(x + i, exp16(load16(x + i)));
    if (i < n) store_partial(x + i, exp16(load_partial(x + i, n - i)), n - i);
}

ATTN_DISPATCH(void, attn_exp_f32, (float *x, ptrdiff_t n), (x, n))

ATTN_INLINE void attn_softmax_f32_body(float *s, ptrdiff_t n, float *max, float *sum) {
    // Swift's max(m, s): the later value on ties, NaNs passed over.
    float m = -__builtin_inff();
    for (ptrdiff_t i = 0; i < n; i++) m = s[i] >= m ? s[i] : m;
    v16f shift = splat16(m);
    float l = 0;
    ptrdiff_t i = 0;
    for (; i + 16 <= n; i += 16) {
        v16f e = exp16(load16(s + i) - shift);
        store16(s + i, e);
        for (int k = 0; k < 16; k++) l += e[k];
    }
    if (i < n) {
        v16f e = exp16(load_partial(s + i, n - i) - shift);
        store_partial(s + i, e, n - i);
        for (ptrdiff_t k = 0; k < n - i; k++) l += e[k];
    }
    float inv = 1 / l;
    v16f scale = splat16(inv);
    for (i = 0; i + 16 <= n; i += 16) store16(s + i, load16(s + i) * scale);
    for (; i < n; i++) s[i] *= inv;
    *max = m;
    *sum = l;
}

ATTN_DISPATCH(void, attn_softmax_f32, (float *s, ptrdiff_t n, float *max, float *sum), (s, n, max, sum))

ATTN_INLINE void attn_swiglu_f32_body(float *a, const float *b, ptrdiff_t n) {
    ptrdiff_t i = 0;
    for (; i + 16 <= n; i += 16) {
        v16f x = load16(a + i);
        store16(a + i, x / (1 + exp16(-x)) * load16(b + i));
    }
    if (i < n) {
        v16f x = load_partial(a + i, n - i);
        store_partial(a + i, x / (1 + exp16(-x)) * load_partial(b + i, n - i), n - i);
    }
}

ATTN_DISPATCH(void, attn_swiglu_f32, (float *a, const float *b, ptrdiff_t n), (a, b, n))
