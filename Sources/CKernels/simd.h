// What every kernel file shares: the vector type, contraction off, and the macro that compiles a
// kernel body once per instruction set and dispatches on the level chosen at run time.
#ifndef ATTNLAB_SIMD_H
#define ATTNLAB_SIMD_H

#include "CKernels.h"
#include <string.h>

// a·b + c must round twice on every path: a fused multiply-add on one CPU and not on another
// would change the bits.
#pragma clang fp contract(off)
// The 16-lane helpers below are always inlined, so no vector ever crosses a call boundary whose ABI
// would differ between the builds; clang warns about their signatures all the same.
#pragma clang diagnostic ignored "-Wpsabi"

/// Sixteen floats, loaded and stored unaligned (element alignment only).
typedef float v16f __attribute__((vector_size(64), aligned(4)));

#define ATTN_INLINE static inline __attribute__((always_inline))

/// Sixteen 32-bit integers: comparison masks and bit patterns of `v16f`.
typedef int32_t v16i __attribute__((vector_size(64), aligned(4)));

/// Loads 16 floats from p (any alignment).
ATTN_INLINE v16f load16(const float *p) { v16f v; memcpy(&v, p, sizeof v); return v; }
/// Stores 16 floats to p (any alignment).
ATTN_INLINE void store16(float *p, v16f v) { memcpy(p, &v, sizeof v); }
/// v broadcast to 16 lanes.
ATTN_INLINE v16f splat16(float x) { return (v16f){x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x}; }

/// Lane by lane: `yes` where `mask` is set (all bits), else `no`.
ATTN_INLINE v16f select16(v16i mask, v16f yes, v16f no) {
    return (v16f)((mask & (v16i)yes) | (~mask & (v16i)no));
}

/// Sum of 16 lanes by halving: (0..7 + 8..15), then 4, 2, 1 — a fixed tree.
ATTN_INLINE float reduce16(v16f v) {
    typedef float v8f __attribute__((vector_size(32), aligned(4)));
    typedef float v4f __attribute__((vector_size(16), aligned(4)));
    v8f v8 = __builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7) + __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15);
    v4f v4 = __builtin_shufflevector(v8, v8, 0, 1, 2, 3) + __builtin_shufflevector(v8, v8, 4, 5, 6, 7);
    float v2a = v4[0] + v4[2], v2b = v4[1] + v4[3];
    return v2a + v2b;
}

/// Eight floats: the halves of a `v16f`.
typedef float v8f __attribute__((vector_size(32), aligned(4)));

/// reduce16's first step, 16 lanes → 8: (0..7) + (8..15), the two halves of the vector.
ATTN_INLINE v8f halves_sum(v16f v) {
    return __builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7) + __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15);
}

/// The rest of `reduce16` for sixteen scores at once: lane e of the result is the sum of v[e]'s
/// eight lanes by reduce16's tree (8 → 4 → 2 → 1). Each step adds, lane by lane, the pairs the tree
/// adds, packed from two inputs into one vector.
ATTN_INLINE v16f reduce8x16(const v8f *v) {
    v8f x[8], y[4], z[2];
    for (int j = 0; j < 8; j++)   // 8 → 4 lanes per score, two scores per vector
        x[j] = __builtin_shufflevector(v[2 * j], v[2 * j + 1], 0, 1, 2, 3, 8, 9, 10, 11)
             + __builtin_shufflevector(v[2 * j], v[2 * j + 1], 4, 5, 6, 7, 12, 13, 14, 15);
    for (int j = 0; j < 4; j++)   // 4 → 2: (v4[0] + v4[2], v4[1] + v4[3]), four scores per vector
        y[j] = __builtin_shufflevector(x[2 * j], x[2 * j + 1], 0, 1, 4, 5, 8, 9, 12, 13)
             + __builtin_shufflevector(x[2 * j], x[2 * j + 1], 2, 3, 6, 7, 10, 11, 14, 15);
    for (int j = 0; j < 2; j++)   // 2 → 1: v2a + v2b, eight scores per vector
        z[j] = __builtin_shufflevector(y[2 * j], y[2 * j + 1], 0, 2, 4, 6, 8, 10, 12, 14)
             + __builtin_shufflevector(y[2 * j], y[2 * j + 1], 1, 3, 5, 7, 9, 11, 13, 15);
    return __builtin_shufflevector(z[0], z[1], 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
}

/// The level kernels dispatch on (set once by `attn_simd_best`'s first caller, or by `attn_simd_use`).
extern attn_simd_level attn_level;

#if defined(__x86_64__)
#define ATTN_AVX2 __attribute__((target("avx2")))
#define ATTN_AVX512 __attribute__((target("avx2,avx512f,avx512bw,avx512dq,avx512vl")))
/// Defines `ret name(params)` from `name##_body`: a portable, an AVX2 and an AVX-512 build of the
/// same body, and the public function choosing between them by the current level.
#define ATTN_DISPATCH(ret, name, params, args)                                  \
    static ret name##_portable params { return name##_body args; }             \
    ATTN_AVX2 static ret name##_avx2 params { return name##_body args; }       \
    ATTN_AVX512 static ret name##_avx512 params { return name##_body args; }   \
    ret name params {                                                           \
        switch (attn_level) {                                                   \
        case attn_simd_avx512: return name##_avx512 args;                       \
        case attn_simd_avx2: return name##_avx2 args;                           \
        default: return name##_portable args;                                   \
        }                                                                       \
    }
#else
#define ATTN_DISPATCH(ret, name, params, args) \
    ret name params { return name##_body args; }
#endif

#endif
