// The three matrix products of training (see attn_gemm.h): each output element's additions in one
// fixed order, whatever the blocking, so the register and cache blocks below (chosen per SIMD level)
// change only the speed.
#include "simd.h"
#include <stdlib.h>

/// Whether the wide register file is there: 32 registers of 16 lanes on AVX-512, against 16 of 8
/// lanes on AVX2 (and 16 of 4 on the baseline). Only the block sizes depend on it, never a sum.
ATTN_INLINE int wide_registers(void) { return attn_level == attn_simd_avx512; }

// MARK: - Y = X·Wᵀ

/// The outputs of R rows of X (`x`, k apart) against C rows of W (`w`, k apart) into y (rows `ldy`
/// apart), R, C ≤ 3, each `attn_dot_f32(x_r, w_c, k)` bit for bit. The four partial sums of every
/// pair are formed one after another (the q-th over offsets 16q + 64t, the first also over the blocks
/// of 16 after the last whole 64), so only R·C accumulators are live at a time, besides the sums
/// a0 + a1 and a2 (then a2 + a3).
ATTN_INLINE void nt_block(const float *x, const float *w, ptrdiff_t k, float *y, ptrdiff_t ldy, int R, int C,
                          int accumulate) {
    ptrdiff_t whole = k & ~(ptrdiff_t)63, sixteens = k & ~(ptrdiff_t)15;
    // (a0 + a1) + (a2 + a3) as the sweeps finish: a0 + a1 after the second, a2 + a3 after the fourth.
    v16f first2[3][3], last2[3][3];
    for (int q = 0; q < 4; q++) {
        v16f acc[3][3];
        for (int r = 0; r < R; r++)
            for (int c = 0; c < C; c++) acc[r][c] = splat16(0);
        for (ptrdiff_t i = 16 * q; i < whole; i += 64)
            for (int r = 0; r < R; r++) {
                v16f xr = load16(x + r * k + i);
                for (int c = 0; c < C; c++) acc[r][c] += xr * load16(w + c * k + i);
            }
        if (q == 0)
            for (ptrdiff_t i = whole; i < sixteens; i += 16)
                for (int r = 0; r < R; r++) {
                    v16f xr = load16(x + r * k + i);
                    for (int c = 0; c < C; c++) acc[r][c] += xr * load16(w + c * k + i);
                }
        for (int r = 0; r < R; r++)
            for (int c = 0; c < C; c++) {
                if (q == 0) first2[r][c] = acc[r][c];
                else if (q == 1) first2[r][c] = first2[r][c] + acc[r][c];
                else if (q == 2) last2[r][c] = acc[r][c];
                else last2[r][c] = last2[r][c] + acc[r][c];
            }
    }
    v8f halves[16];
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < 4; c++)
            halves[r * 4 + c] = r < R && c < C ? halves_sum(first2[r][c] + last2[r][c]) : (v8f){0};
    v16f sums = reduce8x16(halves);
    for (int r = 0; r < R; r++)
        for (int c = 0; c < C; c++) {
            float s = sums[r * 4 + c];
            for (ptrdiff_t i = sixteens; i < k; i++) s += x[r * k + i] * w[c * k + i];
            float *out = y + r * ldy + c;
            *out = accumulate ? *out + s : s;
        }
}

ATTN_INLINE void attn_gemm_nt_body(const float *X, const float *W, float *Y, ptrdiff_t first, ptrdiff_t end,
                                   ptrdiff_t m, ptrdiff_t k, int accumulate) {
    // 3 × 3 pairs (27 vectors of sums) where there are 32 registers, 2 × 2 where there are 16: measured
    // faster than 4 × 4 with the partial sums kept in memory, and than 4 × 2 or 2 × 4.
    const int RB = wide_registers() ? 3 : 2, CB = RB;
    // A block of W's rows of about 256 KB stays in L2 while the rows of X in range meet it, RB at a
    // time (those stay in L1).
    ptrdiff_t rowsPerBlock = ((ptrdiff_t)65536 / (k > 0 ? k : 1)) / 6 * 6;   // whole blocks of 2 and of 3
    if (rowsPerBlock < 6) rowsPerBlock = 6;
    for (ptrdiff_t j0 = 0; j0 < m; j0 += rowsPerBlock) {
        ptrdiff_t j1 = j0 + rowsPerBlock < m ? j0 + rowsPerBlock : m;
        for (ptrdiff_t i = first; i < end; i += RB) {
            int R = end - i < RB ? (int)(end - i) : RB;
            const float *x = X + i * k;
            for (ptrdiff_t j = j0; j < j1; j += CB) {
                int C = j1 - j < CB ? (int)(j1 - j) : CB;
                float *y = Y + i * m + j;
                // Every shape of block its own code with constant bounds, so its sums stay in registers.
                switch (R * 8 + C) {
#define NT_CASE(r, c) \
    case r * 8 + c: nt_block(x, W + j * k, k, y, m, r, c, accumulate); break;
#define NT_ROW(r) NT_CASE(r, 1) NT_CASE(r, 2) NT_CASE(r, 3)
                    NT_ROW(1) NT_ROW(2) NT_ROW(3)
#undef NT_ROW
#undef NT_CASE
                default: break;
                }
            }
        }
    }
}

ATTN_DISPATCH(void, attn_gemm_nt,
              (const float *X, const float *W, float *Y, ptrdiff_t first, ptrdiff_t end, ptrdiff_t m, ptrdiff_t k, int accumulate),
              (X, W, Y, first, end, m, k, accumulate))

// MARK: - dX = dY·W and dW += dYᵀ·X

/// How a block's sums leave the registers after a chunk of the reduction.
typedef enum {
    /// More chunks follow: into the scratch buffer, which the next chunk starts from.
    OUTER_PARTIAL,
    /// The last chunk: out = s.
    OUTER_STORE,
    /// The last chunk: out = out + s.
    OUTER_ADD,
} outer_finish;

/// Sums of R output rows × 16V columns over l in 0..<L in order: s[r][e] += a[r·ars + l·aes] ·
/// b[l·ldb + e], starting from 0 (`fresh`) or from the scratch rows `part` (64 apart), leaving by
/// `finish` into `part` or `out` (rows `ldo` apart). One row of b (V vectors) is loaded per l and
/// met by the R broadcast values of a.
ATTN_INLINE void outer_block(const float *a, ptrdiff_t ars, ptrdiff_t aes, const float *b, ptrdiff_t ldb, ptrdiff_t L,
                             float *part, int fresh, outer_finish finish, float *out, ptrdiff_t ldo, int R, int V) {
    v16f acc[6][4];
    for (int r = 0; r < R; r++)
        for (int v = 0; v < V; v++) acc[r][v] = fresh ? splat16(0) : load16(part + r * 64 + 16 * v);
    for (ptrdiff_t l = 0; l < L; l++) {
        v16f bl[4];
        for (int v = 0; v < V; v++) bl[v] = load16(b + l * ldb + 16 * v);
        for (int r = 0; r < R; r++) {
            v16f ar = splat16(a[r * ars + l * aes]);
            for (int v = 0; v < V; v++) acc[r][v] += ar * bl[v];
        }
    }
    for (int r = 0; r < R; r++)
        for (int v = 0; v < V; v++) {
            float *o = out + r * ldo + 16 * v;
            if (finish == OUTER_PARTIAL) store16(part + r * 64 + 16 * v, acc[r][v]);
            else store16(o, finish == OUTER_ADD ? load16(o) + acc[r][v] : acc[r][v]);
        }
}

/// `outer_block` for columns past the last whole vector (cols < 16), one at a time, same order.
ATTN_INLINE void outer_columns(const float *a, ptrdiff_t ars, ptrdiff_t aes, const float *b, ptrdiff_t ldb, ptrdiff_t L,
                               float *part, int fresh, outer_finish finish, float *out, ptrdiff_t ldo, int R, int cols) {
    for (int r = 0; r < R; r++)
        for (int e = 0; e < cols; e++) {
            float s = fresh ? 0 : part[r * 64 + e];
            for (ptrdiff_t l = 0; l < L; l++) s += a[r * ars + l * aes] * b[l * ldb + e];
            float *o = out + r * ldo + e;
            if (finish == OUTER_PARTIAL) part[r * 64 + e] = s;
            else *o = finish == OUTER_ADD ? *o + s : s;
        }
}

/// Chunks of the reduction: 512 rows of b's 64-column panel (128 KB) stay in L2 while every block
/// of output rows meets them.
enum { OUTER_CHUNK = 512 };

/// out[r·ldo + e] = finish(Σ_l a[r·ars + l·aes] · b[l·ldb + e]) for r < rows, e < cols, l in order:
/// dX = dY·W (a = dY's rows, ars = m, aes = 1) and dW += dYᵀ·X (a = dY's columns, ars = 1, aes = m).
/// Panels of 64 columns, the reduction in chunks (partial sums in a scratch buffer: storing and
/// reloading a float changes nothing), output rows 6 at a time (2 on 16 registers).
ATTN_INLINE void attn_gemm_outer_body(const float *a, ptrdiff_t ars, ptrdiff_t aes, const float *b, ptrdiff_t ldb,
                                      ptrdiff_t rows, ptrdiff_t L, ptrdiff_t cols, float *out, ptrdiff_t ldo, int add) {
    const int RB = wide_registers() ? 6 : 2, VB = wide_registers() ? 4 : 2;
    float *scratch = L > OUTER_CHUNK ? malloc(sizeof(float) * 64 * (size_t)rows) : NULL;
    // Without a scratch buffer (none needed, or none to be had) the whole reduction is one chunk.
    ptrdiff_t chunk = scratch ? OUTER_CHUNK : L > 0 ? L : 1;
    for (ptrdiff_t e0 = 0; e0 < cols; e0 += 16 * VB) {
        int width = cols - e0 < 16 * VB ? (int)(cols - e0) : 16 * VB, V = width / 16, tail = width % 16;
        for (ptrdiff_t l0 = 0; l0 < L || l0 == 0; l0 += chunk) {
            ptrdiff_t lc = L - l0 < chunk ? L - l0 : chunk;
            int fresh = l0 == 0;
            outer_finish finish = l0 + lc < L ? OUTER_PARTIAL : add ? OUTER_ADD : OUTER_STORE;
            const float *bl = b + l0 * ldb + e0;
            for (ptrdiff_t r0 = 0; r0 < rows; r0 += RB) {
                int R = rows - r0 < RB ? (int)(rows - r0) : RB;
                const float *ar = a + r0 * ars + l0 * aes;
                float *part = scratch ? scratch + r0 * 64 : NULL, *o = out + r0 * ldo + e0;
                // Every shape of block its own code with constant bounds, so its sums stay in registers.
                switch (R * 8 + V) {
#define OUTER_CASE(r, v) \
    case r * 8 + v: outer_block(ar, ars, aes, bl, ldb, lc, part, fresh, finish, o, ldo, r, v); break;
#define OUTER_ROW(r) OUTER_CASE(r, 1) OUTER_CASE(r, 2) OUTER_CASE(r, 3) OUTER_CASE(r, 4)
                    OUTER_ROW(1) OUTER_ROW(2) OUTER_ROW(3) OUTER_ROW(4) OUTER_ROW(5) OUTER_ROW(6)
#undef OUTER_ROW
#undef OUTER_CASE
                default: break;   // V = 0: only the columns below
                }
                if (tail)
                    outer_columns(ar, ars, aes, bl + 16 * V, ldb, lc, part ? part + 16 * V : NULL, fresh, finish,
                                  o + 16 * V, ldo, R, tail);
            }
        }
    }
    free(scratch);
}

/// The one kernel behind attn_gemm_nn and attn_gemm_tn (not in the header: callers use those two).
void attn_gemm_outer(const float *a, ptrdiff_t ars, ptrdiff_t aes, const float *b, ptrdiff_t ldb, ptrdiff_t rows,
                     ptrdiff_t L, ptrdiff_t cols, float *out, ptrdiff_t ldo, int add);

ATTN_DISPATCH(void, attn_gemm_outer,
              (const float *a, ptrdiff_t ars, ptrdiff_t aes, const float *b, ptrdiff_t ldb, ptrdiff_t rows, ptrdiff_t L,
               ptrdiff_t cols, float *out, ptrdiff_t ldo, int add),
              (a, ars, aes, b, ldb, rows, L, cols, out, ldo, add))

void attn_gemm_nn(const float *dY, const float *W, float *dX, ptrdiff_t first, ptrdiff_t end, ptrdiff_t m, ptrdiff_t k,
                  int accumulate) {
    attn_gemm_outer(dY + first * m, m, 1, W, k, end - first, m, k, dX + first * k, k, accumulate);
}

void attn_gemm_tn(const float *dY, const float *X, float *dW, ptrdiff_t first, ptrdiff_t end, ptrdiff_t n, ptrdiff_t m,
                  ptrdiff_t k) {
    attn_gemm_outer(dY + first, 1, m, X, k, end - first, n, k, dW + first * k, k, 1);
}
