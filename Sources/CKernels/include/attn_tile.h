// The block products and softmax pieces of the tiled attention simulator (AttnTiling): each gives
// every output element exactly the additions, in exactly the order, of the Swift loop it replaces
// (`Kernels.dot` per score, a plain loop per output element of P·V), so the
// simulated O, every trace and every figure keep their bits; they only do the work of many elements
// at once.
#ifndef ATTNLAB_ATTN_TILE_H
#define ATTNLAB_ATTN_TILE_H

#include <stddef.h>

/// s[a·lds + b] = attn_dot_f32(q + a·ldq, k + b·ldk, d) · tau for a < rows, b < cols; then −∞ at
/// b ≥ visible[a] when `visible` is not NULL (the causal mask: row a sees its first visible[a] keys).
/// Also the decoder's pass 1 (one row of scores over a run of cached keys).
///
/// Scores are computed sixteen at a time (16 keys, which stay in L1 while every row meets them): each
/// score's 16-lane sum is the one `attn_dot_f32` forms, its two halves are added (reduce16's first
/// step), and the sixteen remaining halving trees run side by side in the lanes of three vector
/// additions (8 → 4 → 2 → 1 lanes per score), each lane adding the same two numbers `reduce16` adds.
void attn_tile_scores(const float *q, ptrdiff_t ldq, ptrdiff_t rows, const float *k, ptrdiff_t ldk, ptrdiff_t cols,
                      ptrdiff_t d, float tau, const ptrdiff_t *visible, float *s, ptrdiff_t lds);

/// o[a·ldo + e] += Σ_c v[c·ldv + e] · (w[a·ldw + c] · scale[a·scale_step]) for a < rows, e < d, with
/// c = 0, 1, …, count − 1 in order for every element (scale_step 0 gives every row scale[0]): each
/// element is o + v_0·p_0 + v_1·p_1 + … as a plain loop adds it. Columns go in chunks of 64 (their
/// rows of v stay in L1), and four output rows share each loaded row of v. Also the decoder's pass 3
/// (one row, scale 1, v rows `ldv` apart in the KV cache).
void attn_tile_accumulate(const float *w, ptrdiff_t ldw, ptrdiff_t rows, ptrdiff_t count, const float *scale,
                          ptrdiff_t scale_step, const float *v, ptrdiff_t ldv, ptrdiff_t d, float *o, ptrdiff_t ldo);

/// The value of `m = start; for i < n { m = max(m, x[i]) }` with Swift's `max(a, b) = b >= a ? b : a`.
/// Computed in lanes; when the answer could depend on the order (a zero, whose sign does, or a NaN
/// anywhere) the sequential loop gives it.
float attn_row_max(const float *x, ptrdiff_t n, float start);

/// sums[a] = ((0 + x[a·ldx]) + x[a·ldx + 1]) + … over the first counts[a] entries of row a, for
/// a < rows: left to right as a scalar loop adds them, up to eight rows interleaved so the additions of
/// different rows overlap.
void attn_row_sums(const float *x, ptrdiff_t ldx, ptrdiff_t rows, const ptrdiff_t *counts, float *sums);

/// Asks the operating system to back the whole 2 MiB pages inside [p, p + bytes) with huge pages
/// (Linux transparent huge pages; elsewhere nothing), before the buffer is first touched: 64 MiB then
/// take 32 page faults instead of 16,384. A hint only: no value depends on it. (NumPy does the same
/// for its arrays of 4 MiB and more.)
void attn_advise_huge_pages(void *p, size_t bytes);

#endif
