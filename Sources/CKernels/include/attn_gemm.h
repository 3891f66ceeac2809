// The three matrix products of training (AttnTraining's `Gemm`), row-major Float32, each output
// element a sum in one fixed order whatever the SIMD level, the blocking or the thread count. Each
// call computes a range of output rows, so callers split the rows between threads and every element
// is still computed whole by one of them.
#ifndef ATTNLAB_ATTN_GEMM_H
#define ATTNLAB_ATTN_GEMM_H

#include <stddef.h>

/// Y[i·m + j] = s, or Y[i·m + j] + s with `accumulate`, where s = attn_dot_f32(X + i·k, W + j·k, k)
/// bit for bit, for rows i in first..<end and j < m: Y = X·Wᵀ (X is n × k, W is m × k). The order of
/// s is attn_dot_f32's: four 16-lane partial sums over p ≡ lane + 16q (mod 64) for the whole blocks
/// of 64, blocks of 16 left over into the first, (a0 + a1) + (a2 + a3), the halving tree
/// 16 → 8 → 4 → 2 → 1, then the last k mod 16 products one by one. Three rows of X meet three rows of
/// W at a time (two and two on 16 registers), one of the four partial sums at a time; a block of W's
/// rows stays in L2 while the rows of X go by.
void attn_gemm_nt(const float *X, const float *W, float *Y, ptrdiff_t first, ptrdiff_t end, ptrdiff_t m, ptrdiff_t k,
                  int accumulate);

/// dX[i·k + p] = s, or dX[i·k + p] + s with `accumulate`, where s = ((0 + dY[i,0]·W[0,p]) +
/// dY[i,1]·W[1,p]) + … over j = 0, 1, …, m − 1 in order, for rows i in first..<end and p < k:
/// dX = dY·W (dY is n × m, W is m × k). Sixteen values of p per vector, up to 6 rows × 64 columns in
/// registers, j in chunks whose partial sums wait in a scratch buffer (exact: the order is unchanged).
void attn_gemm_nn(const float *dY, const float *W, float *dX, ptrdiff_t first, ptrdiff_t end, ptrdiff_t m, ptrdiff_t k,
                  int accumulate);

/// dW[j·k + p] += s, where s = ((0 + dY[0,j]·X[0,p]) + dY[1,j]·X[1,p]) + … over i = 0, 1, …, n − 1
/// in order, for rows j in first..<end and p < k: dW += dYᵀ·X (dY is n × m, X is n × k). The same
/// blocking as `attn_gemm_nn`, with rows of dYᵀ read down the columns of dY.
void attn_gemm_tn(const float *dY, const float *X, float *dW, ptrdiff_t first, ptrdiff_t end, ptrdiff_t n, ptrdiff_t m,
                  ptrdiff_t k);

#endif
