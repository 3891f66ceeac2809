// x ← e^(x − shift) sixteen lanes at a time with AttnLab's own polynomial (see CKernels.h): the
// softmax of the tile simulator and of perplexity.
#include "simd.h"

/// e^x lane by lane with IEEE +, −, ×, min and max only, so it vectorizes and rounds the same everywhere.
ATTN_INLINE v16f exp16(v16f x) {
    v16f low = splat16(-87.0f), high = splat16(88.0f);
    v16f xc = select16((v16i)(x < low), low, x);
    xc = select16((v16i)(xc > high), high, xc);
    // k = round(x / ln 2): adding and subtracting 1.5·2^23 rounds to the nearest integer.
    v16f magic = splat16(12582912.0f);
    v16f k = (xc * splat16(1.44269504f) + magic) - magic;
    v16f r = (xc - k * splat16(0.693145751953125f)) - k * splat16(1.428606765330187e-06f);
    v16f p = splat16(1.0f / 5040.0f);
    p = p * r + splat16(1.0f / 720.0f);
    p = p * r + splat16(1.0f / 120.0f);
    p = p * r + splat16(1.0f / 24.0f);
    p = p * r + splat16(1.0f / 6.0f);
    p = p * r + splat16(0.5f);
    p = p * r + splat16(1.0f);
    p = p * r + splat16(1.0f);
    // 2^k from the exponent bits: k + 127 + 2^23 is exact and its low bits are k + 127.
    v16i biased = (v16i)(k + splat16(127.0f + 8388608.0f));
    return p * (v16f)(biased << 23);
}

ATTN_INLINE void attn_exp_shifted_body(float *x, ptrdiff_t n, float shift) {
    v16f m = splat16(shift);
    ptrdiff_t i = 0;
    for (; i + 16 <= n; i += 16) store16(x + i, exp16(load16(x + i) - m));
    if (i < n) {
        // The tail goes through the same lanes, padded with zeros.
        float pad[16] = {0};
        memcpy(pad, x + i, (size_t)(n - i) * sizeof(float));
        store16(pad, exp16(load16(pad) - m));
        memcpy(x + i, pad, (size_t)(n - i) * sizeof(float));
    }
}

ATTN_DISPATCH(void, attn_exp_shifted, (float *x, ptrdiff_t n, float shift), (x, n, shift))
