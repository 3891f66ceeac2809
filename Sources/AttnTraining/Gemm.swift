import AttnEngine
import CKernels

/// The three matrix products of training, row-major, Float32: the forward `Y = X·Wᵀ` and the two
/// products of its backward pass. Every output element is a sum taken in one fixed order (written
/// out on each function), whatever the SIMD level and the thread count, so a step gives the same
/// bits on any machine.
///
/// The C kernels (`attn_gemm_nt`, `attn_gemm_nn`, `attn_gemm_tn`) block for registers and caches;
/// large products split their output rows into `Parallel.parts` fixed ranges shared by the cores,
/// each element computed whole by whichever thread takes its range.
public enum Gemm {
    /// `Y[n×m] = X[n×k] · W[m×k]ᵀ`, or `+=` with `accumulate`.
    ///
    /// Each `Y[i, j]` is `Kernels.dot(X row i, W row j, k)` bit for bit (then added to the old value
    /// with `accumulate`): four 16-lane partial sums over p ≡ lane + 16q (mod 64) across the whole
    /// blocks of 64, the blocks of 16 left over into the first, `(a0 + a1) + (a2 + a3)`, the halving
    /// tree 16 → 8 → 4 → 2 → 1, then the last `k mod 16` products one by one. So the forward pass of
    /// training forms its products exactly as the decoder does with F32 weights.
    public static func nt(_ X: UnsafePointer<Float>, _ W: UnsafePointer<Float>, _ Y: UnsafeMutablePointer<Float>,
                          n: Int, m: Int, k: Int, accumulate: Bool = false) {
        let shared = Shared((X, W, Y))
        split(rows: n, multiplies: n * m * k) { first, end in
            let (X, W, Y) = shared.value
            attn_gemm_nt(X, W, Y, first, end, m, k, accumulate ? 1 : 0)
        }
    }

    /// `dX[n×k] = dY[n×m] · W[m×k]`, or `+=` with `accumulate`: the gradient of `nt`'s input.
    ///
    /// Each `dX[i, p]` is `s = ((0 + dY[i,0]·W[0,p]) + dY[i,1]·W[1,p]) + …` over j in order, then
    /// `dX[i, p] + s` with `accumulate`.
    public static func nn(_ dY: UnsafePointer<Float>, _ W: UnsafePointer<Float>, _ dX: UnsafeMutablePointer<Float>,
                          n: Int, m: Int, k: Int, accumulate: Bool = false) {
        let shared = Shared((dY, W, dX))
        split(rows: n, multiplies: n * m * k) { first, end in
            let (dY, W, dX) = shared.value
            attn_gemm_nn(dY, W, dX, first, end, m, k, accumulate ? 1 : 0)
        }
    }

    /// `dW[m×k] += dY[n×m]ᵀ · X[n×k]`: the gradient of `nt`'s weight.
    ///
    /// Each `dW[j, p]` gains `s = ((0 + dY[0,j]·X[0,p]) + dY[1,j]·X[1,p]) + …` over the n rows in
    /// order, added once at the end.
    public static func tn(_ dY: UnsafePointer<Float>, _ X: UnsafePointer<Float>, _ dW: UnsafeMutablePointer<Float>,
                          n: Int, m: Int, k: Int) {
        let shared = Shared((dY, X, dW))
        split(rows: m, multiplies: n * m * k) { first, end in
            let (dY, X, dW) = shared.value
            attn_gemm_tn(dY, X, dW, first, end, n, m, k)
        }
    }

    /// Multiply-adds above which a product uses every core: below it, handing rows to a second
    /// thread costs about as much as computing them.
    static let parallelMultiplies = 1 << 18

    /// Calls `body(first, end)` for `Parallel.parts` fixed ranges of the output rows (one range for
    /// small products), on all cores.
    private static func split(rows: Int, multiplies: Int, _ body: @Sendable (Int, Int) -> Void) {
        let parts = multiplies >= parallelMultiplies ? min(Parallel.parts, rows) : 1
        Parallel.forEach(parts) { part in body(rows * part / parts, rows * (part + 1) / parts) }
    }

    /// Pointers handed to the threads of one split, each writing its own rows of the output.
    private struct Shared<P>: @unchecked Sendable {
        let value: P
        init(_ value: P) { self.value = value }
    }
}
