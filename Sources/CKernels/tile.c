// The tiled attention simulator's block kernels (see attn_tile.h): same additions in the same
// order per element as the Swift loops they replace, many elements at a time.
#include "simd.h"

// MARK: - Scores

/// The 16-lane sum `attn_dot_f32` reduces, for q against one key. Lanes start from the first
/// product instead of 0 + product: that differs only where a lane is −0 (0 + −0 = +0), and the
/// caller's one final `+ 0` after the reduction maps exactly those results back (a sum of values
/// none of which is −0 is never −0).
ATTN_INLINE v16f score_lanes(const float *q, const float *k, ptrdiff_t d) {
    v16f a0, a1, a2, a3;
    ptrdiff_t i = 0;
    if (d >= 64) {
        a0 = load16(q) * load16(k); a1 = load16(q + 16) * load16(k + 16);
        a2 = load16(q + 32) * load16(k + 32); a3 = load16(q + 48) * load16(k + 48);
        for (i = 64; i + 64 <= d; i += 64) {
            a0 += load16(q + i) * load16(k + i); a1 += load16(q + i + 16) * load16(k + i + 16);
            a2 += load16(q + i + 32) * load16(k + i + 32); a3 += load16(q + i + 48) * load16(k + i + 48);
        }
    } else {
        a0 = a1 = a2 = a3 = splat16(0);
    }
    for (; i + 16 <= d; i += 16) a0 += load16(q + i) * load16(k + i);
    return (a0 + a1) + (a2 + a3);
}

/// Scores of one row against a group of at most 16 keys. Inlined with a constant d for the common
/// head sizes, so the row of q stays in registers while the keys stream by.
ATTN_INLINE void scores_group(const float *q, const float *k, ptrdiff_t ldk, ptrdiff_t nb, ptrdiff_t d, float tau, float *s) {
    ptrdiff_t tail = d & ~(ptrdiff_t)15;   // attn_dot_f32 adds elements from here on one by one
    v8f lanes[16];
    for (ptrdiff_t b = 0; b < nb; b++) lanes[b] = halves_sum(score_lanes(q, k + b * ldk, d));
    for (ptrdiff_t b = nb; b < 16; b++) lanes[b] = (v8f){0};   // past the last key: not stored
    v16f sums = reduce8x16(lanes) + splat16(0);
    if (tail == d && nb == 16) {
        store16(s, sums * splat16(tau));
        return;
    }
    for (ptrdiff_t b = 0; b < nb; b++) {
        const float *kb = k + b * ldk;
        float sum = sums[b];
        for (ptrdiff_t i = tail; i < d; i++) sum += q[i] * kb[i];
        s[b] = sum * tau;
    }
}

ATTN_INLINE void attn_tile_scores_body(const float *q, ptrdiff_t ldq, ptrdiff_t rows, const float *k, ptrdiff_t ldk, ptrdiff_t cols,
                                       ptrdiff_t d, float tau, const ptrdiff_t *visible, float *s, ptrdiff_t lds) {
    // Keys outside, rows inside: a group's 16 keys stay in L1 while every row of q meets them (a
    // whole K block does not fit).
    for (ptrdiff_t b0 = 0; b0 < cols; b0 += 16) {
        ptrdiff_t nb = cols - b0 < 16 ? cols - b0 : 16;
        const float *kg = k + b0 * ldk;
        for (ptrdiff_t a = 0; a < rows; a++) {
            const float *qa = q + a * ldq;
            float *sa = s + a * lds + b0;
            if (d == 64) scores_group(qa, kg, ldk, nb, 64, tau, sa);
            else if (d == 128) scores_group(qa, kg, ldk, nb, 128, tau, sa);
            else scores_group(qa, kg, ldk, nb, d, tau, sa);
        }
    }
    if (visible)
        for (ptrdiff_t a = 0; a < rows; a++)
            for (ptrdiff_t b = visible[a]; b < cols; b++) s[a * lds + b] = -__builtin_inff();
}

ATTN_DISPATCH(void, attn_tile_scores,
              (const float *q, ptrdiff_t ldq, ptrdiff_t rows, const float *k, ptrdiff_t ldk, ptrdiff_t cols,
               ptrdiff_t d, float tau, const ptrdiff_t *visible, float *s, ptrdiff_t lds),
              (q, ldq, rows, k, ldk, cols, d, tau, visible, s, lds))

// MARK: - P·V

/// Columns of w (rows of v) one pass takes: 64 rows of v at d = 64 are 16 KB, which stay in L1
/// while every group of rows meets them.
enum { ACCUMULATE_CHUNK = 64 };

/// Rows 0..group−1 (`group` a constant once inlined) over columns 0..<cn (cn ≤ ACCUMULATE_CHUNK): the
/// scaled weights w·scale are formed once (the same products the Swift loop forms for every
/// element), then each block of 16 output elements of every row stays in registers while the rows
/// of v stream by, c in order.
ATTN_INLINE void accumulate_rows(const float *w, ptrdiff_t ldw, ptrdiff_t cn, const float *scale, ptrdiff_t scale_step,
                                 const float *v, ptrdiff_t ldv, ptrdiff_t d, float *o, ptrdiff_t ldo, int group) {
    float ws[4][ACCUMULATE_CHUNK];
    for (int r = 0; r < group; r++) {
        float sr = scale[r * scale_step];
        for (ptrdiff_t c = 0; c < cn; c++) ws[r][c] = w[r * ldw + c] * sr;
    }
    ptrdiff_t e = 0;
    for (; e + 16 <= d; e += 16) {
        v16f acc[4];
        for (int r = 0; r < group; r++) acc[r] = load16(o + r * ldo + e);
        for (ptrdiff_t c = 0; c < cn; c++) {
            v16f vc = load16(v + c * ldv + e);
            for (int r = 0; r < group; r++) acc[r] += vc * splat16(ws[r][c]);
        }
        for (int r = 0; r < group; r++) store16(o + r * ldo + e, acc[r]);
    }
    for (; e < d; e++) {
        for (int r = 0; r < group; r++) {
            float acc = o[r * ldo + e];
            for (ptrdiff_t c = 0; c < cn; c++) acc += v[c * ldv + e] * ws[r][c];
            o[r * ldo + e] = acc;
        }
    }
}

ATTN_INLINE void attn_tile_accumulate_body(const float *w, ptrdiff_t ldw, ptrdiff_t rows, ptrdiff_t count, const float *scale,
                                           ptrdiff_t scale_step, const float *v, ptrdiff_t ldv, ptrdiff_t d, float *o, ptrdiff_t ldo) {
    // Chunks of columns outside, in order (so each element still adds c = 0, 1, … in order); rows
    // inside, four at a time.
    for (ptrdiff_t c0 = 0; c0 < count; c0 += ACCUMULATE_CHUNK) {
        ptrdiff_t cn = count - c0 < ACCUMULATE_CHUNK ? count - c0 : ACCUMULATE_CHUNK;
        const float *vc = v + c0 * ldv;
        ptrdiff_t a = 0;
        for (; a + 4 <= rows; a += 4)
            accumulate_rows(w + a * ldw + c0, ldw, cn, scale + a * scale_step, scale_step, vc, ldv, d, o + a * ldo, ldo, 4);
        for (; a < rows; a++)
            accumulate_rows(w + a * ldw + c0, ldw, cn, scale + a * scale_step, scale_step, vc, ldv, d, o + a * ldo, ldo, 1);
    }
}

ATTN_DISPATCH(void, attn_tile_accumulate,
              (const float *w, ptrdiff_t ldw, ptrdiff_t rows, ptrdiff_t count, const float *scale,
               ptrdiff_t scale_step, const float *v, ptrdiff_t ldv, ptrdiff_t d, float *o, ptrdiff_t ldo),
              (w, ldw, rows, count, scale, scale_step, v, ldv, d, o, ldo))

// MARK: - Softmax pieces

ATTN_INLINE float attn_row_max_body(const float *x, ptrdiff_t n, float start) {
    v16f m = splat16(-__builtin_inff());
    v16i nan = {0};
    ptrdiff_t i = 0;
    for (; i + 16 <= n; i += 16) {
        v16f v = load16(x + i);
        nan |= (v16i)(v != v);
        m = select16((v16i)(v > m), v, m);
    }
    int seenNaN = start != start;
    for (int l = 0; l < 16; l++) seenNaN |= nan[l] != 0;
    float best = start;
    for (int l = 0; l < 16; l++) best = m[l] > best ? m[l] : best;
    for (; i < n; i++) {
        seenNaN |= x[i] != x[i];
        best = x[i] > best ? x[i] : best;
    }
    // Without NaNs the largest value is the same in any order, unless it is a zero: then the sign
    // depends on which zero came last, as the sequential loop sees it.
    if (seenNaN || best == 0) {
        best = start;
        for (i = 0; i < n; i++) best = x[i] >= best ? x[i] : best;
    }
    return best;
}

ATTN_DISPATCH(float, attn_row_max, (const float *x, ptrdiff_t n, float start), (x, n, start))

/// Row sums of `group` rows side by side (a constant once inlined, so the sums stay in registers).
ATTN_INLINE void row_sums_group(const float *x, ptrdiff_t ldx, const ptrdiff_t *counts, float *sums, int group) {
    ptrdiff_t common = counts[0];
    for (int r = 1; r < group; r++) common = counts[r] < common ? counts[r] : common;
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (ptrdiff_t b = 0; b < common; b++)
        for (int r = 0; r < group; r++) acc[r] += x[r * ldx + b];
    for (int r = 0; r < group; r++) {
        for (ptrdiff_t b = common; b < counts[r]; b++) acc[r] += x[r * ldx + b];
        sums[r] = acc[r];
    }
}

ATTN_INLINE void attn_row_sums_body(const float *x, ptrdiff_t ldx, ptrdiff_t rows, const ptrdiff_t *counts, float *sums) {
    ptrdiff_t a = 0;
    for (; a + 8 <= rows; a += 8) row_sums_group(x + a * ldx, ldx, counts + a, sums + a, 8);
    if (a + 4 <= rows) { row_sums_group(x + a * ldx, ldx, counts + a, sums + a, 4); a += 4; }
    if (a + 2 <= rows) { row_sums_group(x + a * ldx, ldx, counts + a, sums + a, 2); a += 2; }
    if (a < rows) row_sums_group(x + a * ldx, ldx, counts + a, sums + a, 1);
}

ATTN_DISPATCH(void, attn_row_sums, (const float *x, ptrdiff_t ldx, ptrdiff_t rows, const ptrdiff_t *counts, float *sums),
              (x, ldx, rows, counts, sums))

// MARK: - Memory

#if defined(__linux__)
#include <sys/mman.h>
#endif

void attn_advise_huge_pages(void *p, size_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    // Only whole 2 MiB pages inside the buffer: the hint must not reach memory the buffer does not own.
    uintptr_t huge = (uintptr_t)2 << 20;
    uintptr_t start = ((uintptr_t)p + huge - 1) & ~(huge - 1), end = ((uintptr_t)p + bytes) & ~(huge - 1);
    if (end > start) madvise((void *)start, end - start, MADV_HUGEPAGE);
#else
    (void)p;
    (void)bytes;
#endif
}
