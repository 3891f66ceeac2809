// Products with weight matrices in their stored type (see attn_decoder.h): every weight is dequantized in
// registers, sixteen at a time, to exactly the Float32 that `GGMLType.dequantize` writes, and fed to
// the same lanes, accumulators and reduction tree as `attn_dot_f32`. So a quantized product is bit
// for bit the dequantized matrix times x, without the Float32 copy of the matrix ever existing.
#include "simd.h"
#include <stdlib.h>

typedef float v8f __attribute__((vector_size(32), aligned(4)));
typedef uint8_t v16u8 __attribute__((vector_size(16), aligned(1)));
typedef int8_t v16i8 __attribute__((vector_size(16), aligned(1)));
typedef uint16_t v16u16 __attribute__((vector_size(32), aligned(2)));
typedef uint32_t v16u32 __attribute__((vector_size(64), aligned(4)));

ATTN_INLINE v8f load8(const float *p) { v8f v; memcpy(&v, p, sizeof v); return v; }
ATTN_INLINE void store8(float *p, v8f v) { memcpy(p, &v, sizeof v); }

// MARK: - fp16 and bf16

/// fp16 → Float32, exact: the exponent and mantissa shifted into place and scaled by 2^(127 − 15)
/// (a power of two, so exact for normal and subnormal halves alike); infinities and NaNs, whose
/// scaled exponent field is then 0x8f, get the all-ones one; the sign goes back on last, so −0 stays
/// −0.
ATTN_INLINE float f16_convert(uint16_t h) {
    uint32_t em = h & 0x7fffu, shifted = em << 13, bits;
    float unit, scaled;
    memcpy(&unit, &shifted, 4);
    scaled = unit * 0x1p112f;
    memcpy(&bits, &scaled, 4);
    bits |= (0u - (uint32_t)(em >= 0x7c00u)) & 0x7f800000u;
    bits |= (uint32_t)(h & 0x8000u) << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

/// `f16_convert` of every half, filled before main: a block's scale in the hot loop is one load
/// (the scales of one matrix share a few exponents, so the entries used stay in cache).
static float f16_table[65536];

__attribute__((constructor)) static void f16_table_fill(void) {
    for (uint32_t h = 0; h < 65536; h++) f16_table[h] = f16_convert((uint16_t)h);
}

/// The fp16 at p as Float32.
ATTN_INLINE float f16(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return f16_table[h];
}

/// Sixteen fp16 values → Float32, lane by lane as `f16`.
ATTN_INLINE v16f f16x16(const uint8_t *p) {
    v16u16 h;
    memcpy(&h, p, sizeof h);
    v16u32 w = __builtin_convertvector(h, v16u32);
    v16u32 em = w & 0x7fffu;
    v16u32 scaled = (v16u32)((v16f)(em << 13) * splat16(0x1p112f));
    v16u32 special = (v16u32)(em >= 0x7c00u) & 0x7f800000u;
    return (v16f)(scaled | special | ((w & 0x8000u) << 16));
}

/// bf16 is the top half of a Float32.
ATTN_INLINE float bf16(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

ATTN_INLINE v16f bf16x16(const uint8_t *p) {
    v16u16 h;
    memcpy(&h, p, sizeof h);
    return (v16f)(__builtin_convertvector(h, v16u32) << 16);
}

// MARK: - Dequantizing loads

/// Values i..<i+16 of a row (i a multiple of 16), dequantized. In the 32-value blocks, i % 32 = 0 is
/// the block's low nibbles (or first 16 int8), 16 its high nibbles (or last 16).
ATTN_INLINE v16f load_weights16(attn_weight_type type, const uint8_t *row, ptrdiff_t i) {
    switch (type) {
    case attn_weight_f32: return load16((const float *)row + i);
    case attn_weight_f16: return f16x16(row + 2 * i);
    case attn_weight_bf16: return bf16x16(row + 2 * i);
    case attn_weight_q8_0: {
        const uint8_t *block = row + 34 * (i / 32);
        v16i8 q;
        memcpy(&q, block + 2 + i % 32, sizeof q);
        return __builtin_convertvector(q, v16f) * splat16(f16(block));
    }
    case attn_weight_q4_0: {
        const uint8_t *block = row + 18 * (i / 32);
        v16u8 bytes;
        memcpy(&bytes, block + 2, sizeof bytes);
        v16u8 q = i % 32 == 0 ? bytes & 0x0f : bytes >> 4;
        return __builtin_convertvector(__builtin_convertvector(q, v16i) - 8, v16f) * splat16(f16(block));
    }
    case attn_weight_q4_1: {
        const uint8_t *block = row + 20 * (i / 32);
        v16u8 bytes;
        memcpy(&bytes, block + 4, sizeof bytes);
        v16u8 q = i % 32 == 0 ? bytes & 0x0f : bytes >> 4;
        return __builtin_convertvector(q, v16f) * splat16(f16(block)) + splat16(f16(block + 2));
    }
    }
    return splat16(0);
}

/// Value i of a row (the tail after the last 16; only the plain float types have one).
ATTN_INLINE float load_weight(attn_weight_type type, const uint8_t *row, ptrdiff_t i) {
    switch (type) {
    case attn_weight_f32: return ((const float *)row)[i];
    case attn_weight_f16: return f16(row + 2 * i);
    case attn_weight_bf16: return bf16(row + 2 * i);
    case attn_weight_q8_0: {
        const uint8_t *block = row + 34 * (i / 32);
        return (float)(int8_t)block[2 + i % 32] * f16(block);
    }
    case attn_weight_q4_0: {
        const uint8_t *block = row + 18 * (i / 32);
        uint8_t byte = block[2 + i % 16];
        return (float)((i % 32 < 16 ? byte & 0x0f : byte >> 4) - 8) * f16(block);
    }
    case attn_weight_q4_1: {
        const uint8_t *block = row + 20 * (i / 32);
        uint8_t byte = block[4 + i % 16];
        return (float)(i % 32 < 16 ? byte & 0x0f : byte >> 4) * f16(block) + f16(block + 2);
    }
    }
    return 0;
}

// MARK: - Kernels

ATTN_INLINE void attn_dequantize_row_body(attn_weight_type type, const void *row, float *out, ptrdiff_t n) {
    ptrdiff_t i = 0;
    for (; i + 16 <= n; i += 16) store16(out + i, load_weights16(type, row, i));
    for (; i < n; i++) out[i] = load_weight(type, row, i);
}

ATTN_DISPATCH(void, attn_dequantize_row, (attn_weight_type type, const void *row, float *out, ptrdiff_t n), (type, row, out, n))

/// The 32 values of block b of a quantized row: `lo` values 0..<16, `hi` 16..<32, each block's
/// scale (and minimum) converted once — what `load_weights16` gives at 32·b and 32·b + 16.
ATTN_INLINE void load_block(attn_weight_type type, const uint8_t *row, ptrdiff_t b, v16f *lo, v16f *hi) {
    switch (type) {
    case attn_weight_q8_0: {
        const uint8_t *block = row + 34 * b;
        v16i8 q0, q1;
        memcpy(&q0, block + 2, sizeof q0);
        memcpy(&q1, block + 18, sizeof q1);
        v16f d = splat16(f16(block));
        *lo = __builtin_convertvector(q0, v16f) * d;
        *hi = __builtin_convertvector(q1, v16f) * d;
        return;
    }
    case attn_weight_q4_0: {
        const uint8_t *block = row + 18 * b;
        v16u8 bytes;
        memcpy(&bytes, block + 2, sizeof bytes);
        v16f d = splat16(f16(block));
        *lo = __builtin_convertvector(__builtin_convertvector(bytes & 0x0f, v16i) - 8, v16f) * d;
        *hi = __builtin_convertvector(__builtin_convertvector(bytes >> 4, v16i) - 8, v16f) * d;
        return;
    }
    case attn_weight_q4_1: {
        const uint8_t *block = row + 20 * b;
        v16u8 bytes;
        memcpy(&bytes, block + 4, sizeof bytes);
        // Widened to 32 bits first, then split into nibbles: fewer shuffles than splitting bytes.
        v16i q = __builtin_convertvector(bytes, v16i);
        v16f d = splat16(f16(block)), m = splat16(f16(block + 2));
        *lo = __builtin_convertvector(q & 0x0f, v16f) * d + m;
        *hi = __builtin_convertvector(q >> 4, v16f) * d + m;
        return;
    }
    default:
        *lo = load_weights16(type, row, 32 * b);
        *hi = load_weights16(type, row, 32 * b + 16);
        return;
    }
}

/// `attn_dot_f32_body` with the row dequantized as it is read. `type` is a constant at every call
/// site, so each instance keeps only its own loads.
ATTN_INLINE float dot_row(attn_weight_type type, const uint8_t *w, const float *x, ptrdiff_t n) {
    v16f acc0 = splat16(0), acc1 = splat16(0), acc2 = splat16(0), acc3 = splat16(0);
    ptrdiff_t i = 0;
    if (type == attn_weight_q8_0 || type == attn_weight_q4_0 || type == attn_weight_q4_1) {
        // Rows are whole blocks (n a multiple of 32): a 64-chunk is two blocks, and what is left
        // after the last one is at most one block, its two halves added to acc0 in turn.
        for (; i + 64 <= n; i += 64) {
            v16f w0, w1, w2, w3;
            load_block(type, w, i / 32, &w0, &w1);
            load_block(type, w, i / 32 + 1, &w2, &w3);
            acc0 += w0 * load16(x + i);
            acc1 += w1 * load16(x + i + 16);
            acc2 += w2 * load16(x + i + 32);
            acc3 += w3 * load16(x + i + 48);
        }
        if (i < n) {
            v16f w0, w1;
            load_block(type, w, i / 32, &w0, &w1);
            acc0 += w0 * load16(x + i);
            acc0 += w1 * load16(x + i + 16);
        }
        return reduce16((acc0 + acc1) + (acc2 + acc3));
    }
    for (; i + 64 <= n; i += 64) {
        acc0 += load_weights16(type, w, i) * load16(x + i);
        acc1 += load_weights16(type, w, i + 16) * load16(x + i + 16);
        acc2 += load_weights16(type, w, i + 32) * load16(x + i + 32);
        acc3 += load_weights16(type, w, i + 48) * load16(x + i + 48);
    }
    for (; i + 16 <= n; i += 16) acc0 += load_weights16(type, w, i) * load16(x + i);
    float sum = reduce16((acc0 + acc1) + (acc2 + acc3));
    for (; i < n; i++) sum += load_weight(type, w, i) * x[i];
    return sum;
}

/// y[r] = row r · x for rows first..<end, the rows read once each, as stored.
ATTN_INLINE void matvec_rows(attn_weight_type type, const uint8_t *W, ptrdiff_t rowBytes, ptrdiff_t cols,
                             ptrdiff_t first, ptrdiff_t end, const float *x, float *y) {
    for (ptrdiff_t r = first; r < end; r++) y[r] = dot_row(type, W + r * rowBytes, x, cols);
}

/// Y[t·ldy + r] = a[r]·x[t] for R ≤ 2 Float32 rows and T ≤ 4 tokens, each the bits of
/// `attn_dot_f32(a[r], x[t], n)`.
///
/// That dot's 64 accumulator lanes (4 accumulators × 16) are independent running sums, so they can
/// be computed eight at a time: for each group of 8 lanes, all R·T partial sums stay in registers
/// while the group's elements of every 64-chunk (and, for acc0's two groups, of every later
/// 16-chunk) are added in order — each weight vector is loaded once for T tokens, each token
/// vector once for R rows. The 64 lanes then go through the same tree and tail as the dot.
ATTN_INLINE void tile(const int R, const int T, const float *const *a, const float *x, ptrdiff_t n,
                      float *y, ptrdiff_t ldy) {
    float lanes[2][4][64];
    ptrdiff_t n64 = n / 64 * 64, n16 = n / 16 * 16;
    for (ptrdiff_t g = 0; g < 64; g += 8) {
        v8f acc[2][4];
        for (int r = 0; r < R; r++)
            for (int t = 0; t < T; t++) acc[r][t] = (v8f){0, 0, 0, 0, 0, 0, 0, 0};
        for (ptrdiff_t c = g; c < n64; c += 64) {
            v8f w[2];
            for (int r = 0; r < R; r++) w[r] = load8(a[r] + c);
            for (int t = 0; t < T; t++) {
                v8f v = load8(x + t * n + c);
                for (int r = 0; r < R; r++) acc[r][t] += w[r] * v;
            }
        }
        if (g < 16) {
            for (ptrdiff_t c = n64 + g; c + 8 <= n16; c += 16) {
                v8f w[2];
                for (int r = 0; r < R; r++) w[r] = load8(a[r] + c);
                for (int t = 0; t < T; t++) {
                    v8f v = load8(x + t * n + c);
                    for (int r = 0; r < R; r++) acc[r][t] += w[r] * v;
                }
            }
        }
        for (int r = 0; r < R; r++)
            for (int t = 0; t < T; t++) store8(lanes[r][t] + g, acc[r][t]);
    }
    for (int r = 0; r < R; r++) {
        for (int t = 0; t < T; t++) {
            const float *l = lanes[r][t];
            float sum = reduce16((load16(l) + load16(l + 16)) + (load16(l + 32) + load16(l + 48)));
            for (ptrdiff_t i = n16; i < n; i++) sum += a[r][i] * x[t * n + i];
            y[t * ldy + r] = sum;
        }
    }
}

/// Tokens processed per pass over the rows: their activations (32 × cols floats) stay in L2 while
/// every pair of rows is dequantized once for all of them.
enum { tokens_per_pass = 32 };

ATTN_INLINE void attn_matmul_rows_body(attn_weight_type type, const void *W, ptrdiff_t rowBytes, ptrdiff_t cols,
                                       ptrdiff_t first, ptrdiff_t end, const float *X, ptrdiff_t count,
                                       float *Y, ptrdiff_t ldy) {
    if (count == 1) {
        switch (type) {
        case attn_weight_f32: matvec_rows(attn_weight_f32, W, rowBytes, cols, first, end, X, Y); return;
        case attn_weight_f16: matvec_rows(attn_weight_f16, W, rowBytes, cols, first, end, X, Y); return;
        case attn_weight_bf16: matvec_rows(attn_weight_bf16, W, rowBytes, cols, first, end, X, Y); return;
        case attn_weight_q8_0: matvec_rows(attn_weight_q8_0, W, rowBytes, cols, first, end, X, Y); return;
        case attn_weight_q4_0: matvec_rows(attn_weight_q4_0, W, rowBytes, cols, first, end, X, Y); return;
        case attn_weight_q4_1: matvec_rows(attn_weight_q4_1, W, rowBytes, cols, first, end, X, Y); return;
        }
    }
    // Two rows dequantized (Float32 rows are used in place).
    float *unpacked = type == attn_weight_f32 ? NULL : malloc(2 * (size_t)cols * sizeof(float));
    for (ptrdiff_t b0 = 0; b0 < count; b0 += tokens_per_pass) {
        ptrdiff_t b1 = b0 + tokens_per_pass < count ? b0 + tokens_per_pass : count;
        for (ptrdiff_t r = first; r < end; r += 2) {
            int R = end - r >= 2 ? 2 : 1;
            const float *a[2];
            for (int k = 0; k < R; k++) {
                const uint8_t *row = (const uint8_t *)W + (r + k) * rowBytes;
                if (unpacked) {
                    attn_dequantize_row_body(type, row, unpacked + k * cols, cols);
                    a[k] = unpacked + k * cols;
                } else {
                    a[k] = (const float *)row;
                }
            }
            for (ptrdiff_t b = b0; b < b1; b += 4) {
                int T = b1 - b >= 4 ? 4 : (int)(b1 - b);
                const float *x = X + b * cols;
                float *y = Y + b * ldy + r;
                // Constant tile shapes, so each instance keeps its sums in registers.
                switch (R * 8 + T) {
                case 8 + 1: tile(1, 1, a, x, cols, y, ldy); break;
                case 8 + 2: tile(1, 2, a, x, cols, y, ldy); break;
                case 8 + 3: tile(1, 3, a, x, cols, y, ldy); break;
                case 8 + 4: tile(1, 4, a, x, cols, y, ldy); break;
                case 16 + 1: tile(2, 1, a, x, cols, y, ldy); break;
                case 16 + 2: tile(2, 2, a, x, cols, y, ldy); break;
                case 16 + 3: tile(2, 3, a, x, cols, y, ldy); break;
                default: tile(2, 4, a, x, cols, y, ldy); break;
                }
            }
        }
    }
    free(unpacked);
}

ATTN_DISPATCH(void, attn_matmul_rows,
              (attn_weight_type type, const void *W, ptrdiff_t rowBytes, ptrdiff_t cols, ptrdiff_t first, ptrdiff_t end,
               const float *X, ptrdiff_t count, float *Y, ptrdiff_t ldy),
              (type, W, rowBytes, cols, first, end, X, count, Y, ldy))

ATTN_INLINE float attn_dot_row_body(attn_weight_type type, const void *row, const float *x, ptrdiff_t n) {
    float y;
    attn_matmul_rows_body(type, row, 0, n, 0, 1, x, 1, &y, 1);
    return y;
}

ATTN_DISPATCH(float, attn_dot_row, (attn_weight_type type, const void *row, const float *x, ptrdiff_t n), (type, row, x, n))
