// Passes 1 and 3 of one query head's attention (see `Attention.attend`): the scores of a run of keys
// and the weighted sum of their value rows, in one call each instead of one per key.
#include "simd.h"

ATTN_INLINE void attn_scores_f32_body(const float *q, const float *keys, ptrdiff_t stride, ptrdiff_t count,
                                      ptrdiff_t d, float scale, float *s) {
    for (ptrdiff_t j = 0; j < count; j++) s[j] = attn_dot_f32(q, keys + j * stride, d) * scale;
}

ATTN_DISPATCH(void, attn_scores_f32,
              (const float *q, const float *keys, ptrdiff_t stride, ptrdiff_t count, ptrdiff_t d, float scale, float *s),
              (q, keys, stride, count, d, scale, s))

ATTN_INLINE void attn_accumulate_f32_body(const float *p, const float *values, ptrdiff_t stride, ptrdiff_t count,
                                          ptrdiff_t d, float *out) {
    ptrdiff_t e = 0;
    // 64 elements of o stay in registers across every key; each element's sum is still
    // o + v_0·p_0 + v_1·p_1 + … in key order.
    for (; e + 64 <= d; e += 64) {
        v16f o0 = load16(out + e), o1 = load16(out + e + 16), o2 = load16(out + e + 32), o3 = load16(out + e + 48);
        for (ptrdiff_t j = 0; j < count; j++) {
            const float *v = values + j * stride + e;
            v16f w = splat16(p[j]);
            o0 += load16(v) * w;
            o1 += load16(v + 16) * w;
            o2 += load16(v + 32) * w;
            o3 += load16(v + 48) * w;
        }
        store16(out + e, o0);
        store16(out + e + 16, o1);
        store16(out + e + 32, o2);
        store16(out + e + 48, o3);
    }
    for (; e + 16 <= d; e += 16) {
        v16f o = load16(out + e);
        for (ptrdiff_t j = 0; j < count; j++) o += load16(values + j * stride + e) * splat16(p[j]);
        store16(out + e, o);
    }
    for (; e < d; e++) {
        float o = out[e];
        for (ptrdiff_t j = 0; j < count; j++) o += values[j * stride + e] * p[j];
        out[e] = o;
    }
}

ATTN_DISPATCH(void, attn_accumulate_f32,
              (const float *p, const float *values, ptrdiff_t stride, ptrdiff_t count, ptrdiff_t d, float *out),
              (p, values, stride, count, d, out))
