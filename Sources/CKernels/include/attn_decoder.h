// The decoder's kernels: products with weight matrices kept in their stored (ggml) type, and the
// softmax and SwiGLU gate with AttnLab's deterministic exponential. Same bits on every path.
#ifndef ATTNLAB_DECODER_H
#define ATTNLAB_DECODER_H

#include <stddef.h>
#include <stdint.h>

/// How a weight matrix's rows are stored: ggml's type ids (ggml-common.h). The quantized types are
/// blocks of 32 values: Q8_0 (34 bytes) = fp16 d, 32 × int8 q, x = q·d; Q4_0 (18 bytes) = fp16 d,
/// 16 bytes of two 4-bit q, x = (q − 8)·d; Q4_1 (20 bytes) = fp16 d, fp16 m, 16 bytes of 4-bit q,
/// x = q·d + m. In the 4-bit types byte j holds value j in its low nibble and j + 16 in its high one.
typedef enum {
    attn_weight_f32 = 0,
    attn_weight_f16 = 1,
    attn_weight_q4_0 = 2,
    attn_weight_q4_1 = 3,
    attn_weight_q8_0 = 8,
    attn_weight_bf16 = 30,
} attn_weight_type;

/// Writes the n values of one row stored as `type` at `row`, as Float32: q·d and (q − 8)·d exactly,
/// q·d + m as a product then a sum (never fused), fp16 and bf16 widened exactly.
void attn_dequantize_row(attn_weight_type type, const void *row, float *out, ptrdiff_t n);

/// Σ w[i]·x[i] over one row of n values stored as `type`, each w[i] dequantized as
/// `attn_dequantize_row` does, summed in `attn_dot_f32`'s order: bit for bit the dequantized row
/// dotted with x.
float attn_dot_row(attn_weight_type type, const void *row, const float *x, ptrdiff_t n);

/// Y[b·ldy + r] = Σ_c W[r, c]·X[b·cols + c] for rows r in first..<end and tokens b in 0..<count, each
/// output the same bits as `attn_dot_row(W row r, X row b)`. W holds rows of `cols` values stored as
/// `type`, `rowBytes` apart. One token streams the stored rows; several dequantize two rows at a
/// time once and reuse them for every token, four tokens at once in registers.
void attn_matmul_rows(attn_weight_type type, const void *W, ptrdiff_t rowBytes, ptrdiff_t cols,
                      ptrdiff_t first, ptrdiff_t end, const float *X, ptrdiff_t count, float *Y, ptrdiff_t ldy);

/// x[i] ← Float(e^Double(x[i])) with AttnLab's `DetMath.exp` (Cody–Waite reduction, degree-14 Taylor
/// series in float64), eight lanes at a time: the same bits as the scalar Swift function.
void attn_exp_f32(float *x, ptrdiff_t n);

/// In-place softmax in `Kernels.softmax`'s order: m = max left to right, s[i] ← e^(s[i] − m) by
/// `attn_exp_f32`, ℓ = Σ s[i] left to right, s[i] ← s[i]·(1/ℓ). Writes m and ℓ.
void attn_softmax_f32(float *s, ptrdiff_t n, float *max, float *sum);

/// SwiGLU's gate in place: a[i] ← a[i] / (1 + e^(−a[i])) · b[i], the exponential by `attn_exp_f32`.
void attn_swiglu_f32(float *a, const float *b, ptrdiff_t n);

#endif
