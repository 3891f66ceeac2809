// Σ a[i]·b[i] in AttnLab's fixed order (see CKernels.h).
#include "simd.h"

ATTN_INLINE float attn_dot_f32_body(const float *a, const float *b, ptrdiff_t n) {
    v16f acc0 = splat16(0), acc1 = splat16(0), acc2 = splat16(0), acc3 = splat16(0);
    ptrdiff_t i = 0;
    for (; i + 64 <= n; i += 64) {
        acc0 += load16(a + i) * load16(b + i);
        acc1 += load16(a + i + 16) * load16(b + i + 16);
        acc2 += load16(a + i + 32) * load16(b + i + 32);
        acc3 += load16(a + i + 48) * load16(b + i + 48);
    }
    for (; i + 16 <= n; i += 16) acc0 += load16(a + i) * load16(b + i);
    float sum = reduce16((acc0 + acc1) + (acc2 + acc3));
    for (; i < n; i++) sum += a[i] * b[i];
    return sum;
}

ATTN_DISPATCH(float, attn_dot_f32, (const float *a, const float *b, ptrdiff_t n), (a, b, n))
