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

/// The flat buffers of one pass, each allocated once when the pass starts and all freed when it ends
/// (llm.c's malloc at the top and free at the bottom): hot loops index plain pointers computed at the
/// top of their body instead of nesting a `withUnsafe…` closure per array. Inputs are copied in;
/// results are copied out with `array`.
struct Workspace {
    private var buffers: [UnsafeMutableBufferPointer<Float>] = []

    /// A read-only buffer holding a copy of `values` (an input of the pass).
    mutating func copy(_ values: [Float]) -> UnsafePointer<Float> {
        let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: values.count)
        _ = buffer.initialize(from: values)
        buffers.append(buffer)
        return UnsafePointer(buffer.baseAddress!)
    }

    /// A buffer of `count` elements, each `value`.
    mutating func filled(_ count: Int, with value: Float = 0) -> UnsafeMutablePointer<Float> {
        let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: count)
        buffer.initialize(repeating: value)
        buffers.append(buffer)
        return buffer.baseAddress!
    }

    /// The first `count` elements of a buffer, as an array that outlives the workspace.
    func array(_ buffer: UnsafePointer<Float>, _ count: Int) -> [Float] {
        Array(UnsafeBufferPointer(start: buffer, count: count))
    }

    func deallocate() {
        for buffer in buffers { buffer.deallocate() }
    }
}
