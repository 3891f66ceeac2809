// AttnLab's SIMD kernels: the same bits on every CPU.
//
// Each kernel is written once with 16-lane vectors (GCC/Clang vector extensions) and compiled
// for the portable baseline (SSE2 on x86-64, NEON on arm64) and, on x86-64, for AVX2 and AVX-512.
// The level is chosen at run time from what the CPU supports, so the binary never dies with SIGILL
// on an older machine. Every build does the same lane-wise IEEE operations in the same order, with
// the same reduction tree and no fused multiply-adds (floating-point contraction is off), so the
// results are bit-identical whichever runs; the tests call each and compare.
#ifndef ATTNLAB_CKERNELS_H
#define ATTNLAB_CKERNELS_H

#include <stddef.h>
#include <stdint.h>

/// The instruction sets a kernel can be compiled for.
typedef enum {
    /// The target's baseline: SSE2 on x86-64, NEON on arm64.
    attn_simd_portable = 0,
    /// x86-64 with AVX2 (256-bit registers). Never FMA: its rounding would differ from the baseline.
    attn_simd_avx2 = 1,
    /// x86-64 with AVX-512 F, BW, DQ and VL: a 16-lane vector is one register.
    attn_simd_avx512 = 2,
} attn_simd_level;

/// The best level this CPU (and operating system) supports.
attn_simd_level attn_simd_best(void);

/// The level the kernels use now: the best one, unless `attn_simd_use` or the environment variable
/// `ATTNLAB_SIMD` (`portable` or `avx2`) chose a lower one.
attn_simd_level attn_simd_current(void);

/// Makes the kernels use `level` (capped at the best the CPU supports). For tests that compare the
/// paths bit for bit, and for showing that they agree.
void attn_simd_use(attn_simd_level level);

/// Σ a[i]·b[i] for i in 0..<n: 16 lanes × 4 accumulators over blocks of 64, one accumulator over
/// the remaining blocks of 16, the fixed halving tree (acc0 + acc1) + (acc2 + acc3) → 8 → 4 → 2 → 1,
/// then the tail left to right.
float attn_dot_f32(const float *a, const float *b, ptrdiff_t n);

/// x[i] ← e^(x[i] − shift) for i < n, sixteen lanes at a time in Float32 with AttnLab's own
/// polynomial (Cody–Waite reduction, degree-7 Taylor series; within 2 ulp), fast and the same on
/// every machine. Arguments are clamped to [−87, 88]: callers pass only scores that are not masked,
/// and e^−87 ≈ 1.6e−38 is as good as zero next to a row's largest term e^0 = 1. The tail goes
/// through the same lanes, padded.
void attn_exp_shifted(float *x, ptrdiff_t n, float shift);

/// The cores this process may run on: its affinity mask on Linux (as `taskset` sets it), else the
/// cores online.
int attn_allowed_cores(void);

/// A hint to the CPU inside a spin-wait loop (`pause` on x86-64, `yield` on arm64): the loop uses
/// less power and leaves the core's other hardware thread its share.
static inline void attn_spin_pause(void) {
#if defined(__x86_64__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield");
#endif
}

#include "attn_decoder.h"
#include "attn_gemm.h"
#include "attn_tile.h"

#endif
