import AttnEngine

/// Block products shared by the three algorithms, on raw buffers. Rows are stacked query rows of one
/// K/V group (`[G·N × d]`), columns are key positions (`[N × d]`).
enum TileKernels {
    /// S[r, c] = τ · q_r · k_c for the block rows × cols (row-major `[rows × cols]`), with −∞ above
    /// the causal diagonal when `mask` is set. `q` points at the group's row 0, `k` at the block's
    /// first key (column `cols.lowerBound`).
    static func scores(_ p: TileProblem, q: UnsafePointer<Float>, k: UnsafePointer<Float>,
                       rows: Range<Int>, cols: Range<Int>, mask: Bool, into s: UnsafeMutablePointer<Float>) {
        let d = p.d, nc = cols.count, tau = p.scale
        for (a, r) in rows.enumerated() {
            let qr = q + r * d, out = s + a * nc
            let limit = mask ? p.position(ofRow: r) : Int.max
            for (b, c) in cols.enumerated() {
                out[b] = c <= limit ? Kernels.dot(qr, k + b * d, d) * tau : -.infinity
            }
        }
    }

    /// FLOPs of one forward block: S = τQKᵀ (matmul + scale), rowmax, exp, rowsum, P̃V.
    static func accumulateFlops(_ f: inout FlopCount, nr: Int, nc: Int, d: Int) {
        f.matmul += 4 * nr * nc * d
        f.other += 2 * nr * nc
        f.max += nr * nc
        f.exp += nr * nc
    }

    /// e^(x − m), with e^(−∞ − (−∞)) taken as 0: a row whose entries are all masked contributes nothing.
    @inline(__always)
    static func expShifted(_ x: Float, _ m: Float) -> Float {
        x == -.infinity ? 0 : DetMath.exp(x - m)
    }
}
