import AttnEngine
import CKernels

/// Block products shared by the three algorithms, on raw buffers. Rows are stacked query rows of one
/// K/V group (`[G·N × d]`), columns are key positions (`[N × d]`). The arithmetic runs in CKernels
/// (`attn_tile.h`), element for element in the order of the Swift loops it replaced (`Kernels.dot`
/// per score, a plain loop per output element of P·V), so runs keep their bits.
enum TileKernels {
    /// How many keys each row of the block rows × cols sees: all of them, or under the causal `mask`
    /// those up to the row's position. Written to `visible[a]` for a in 0..<rows.count.
    static func visibleKeys(_ p: TileProblem, rows: Range<Int>, cols: Range<Int>, mask: Bool, into visible: UnsafeMutablePointer<Int>) {
        let nc = cols.count
        for (a, r) in rows.enumerated() {
            visible[a] = mask ? max(0, min(nc, p.position(ofRow: r) - cols.lowerBound + 1)) : nc
        }
    }

    /// S[a, b] = τ · q_r · k_c for the block rows × cols (row-major `[rows × cols]`), with −∞ past
    /// `visible[a]` when `mask` is set. `q` points at the group's row 0, `k` at the block's first key
    /// (column `cols.lowerBound`).
    static func scores(_ p: TileProblem, q: UnsafePointer<Float>, k: UnsafePointer<Float>, rows: Range<Int>, cols: Range<Int>,
                       mask: Bool, visible: UnsafePointer<Int>, into s: UnsafeMutablePointer<Float>) {
        product(q + rows.lowerBound * p.d, rows: rows.count, k, cols: cols.count, d: p.d, scale: p.scale,
                visible: mask ? visible : nil, into: s, stride: cols.count)
    }

    /// out[a·stride + b] = scale · x_a · y_b (`Kernels.dot` each) for a < rows, b < cols, −∞ at
    /// b ≥ visible[a] when given. x and y are rows of d elements.
    static func product(_ x: UnsafePointer<Float>, rows: Int, _ y: UnsafePointer<Float>, cols: Int, d: Int, scale: Float,
                        visible: UnsafePointer<Int>?, into out: UnsafeMutablePointer<Float>, stride: Int) {
        attn_tile_scores(x, d, rows, y, d, cols, d, scale, visible, out, stride)
    }

    /// o_a += Σ_c (w[a·wStride + c] · scale[a·scaleStride]) · v_c for a < rows, c < count in order
    /// (`scaleStride` 0: one scale for all rows). Rows of v and of o are d apart.
    static func accumulate(_ w: UnsafePointer<Float>, rows: Int, count: Int, stride wStride: Int, scale: UnsafePointer<Float>,
                           scaleStride: Int, _ v: UnsafePointer<Float>, d: Int, into o: UnsafeMutablePointer<Float>) {
        attn_tile_accumulate(w, wStride, rows, count, scale, scaleStride, v, d, d, o, d)
    }

    /// The running max `start` updated with x[0..<n] (`m = max(m, x_b)` in order; same value).
    @inline(__always)
    static func rowMax(_ x: UnsafePointer<Float>, _ n: Int, from start: Float) -> Float {
        attn_row_max(x, n, start)
    }

    /// sums[a] = Σ_b x[a·stride + b] over b < counts[a], left to right, for a < rows.
    static func rowSums(_ x: UnsafePointer<Float>, rows: Int, stride: Int, counts: UnsafePointer<Int>, into sums: UnsafeMutablePointer<Float>) {
        attn_row_sums(x, stride, rows, counts, sums)
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

/// The on-chip buffers of one block step, for one part of a pass (each core has its own):
/// S_ij/P̃_ij and per-row values.
struct BlockScratch {
    /// S_ij, then P̃_ij.                                                 // [Br × Bc]
    let s: UnsafeMutablePointer<Float>
    /// Per row of the block, [Br] each: the statistics kept on chip (FA2: the running m and l; FA1:
    /// m̃ and l_new), the rescale e^(m_old − m_new), the block's row sums, and FA1's weight of P̃V,
    /// e^(m̃ − m_new) / l_new.
    let m, l, alpha, rowSum, factor: UnsafeMutablePointer<Float>
    /// Keys each row of the block sees.                                 // [Br]
    let visible: UnsafeMutablePointer<Int>

    init(_ blocks: BlockSizes) {
        let br = blocks.br
        s = .allocate(capacity: br * blocks.bc)
        s.initialize(repeating: 0, count: br * blocks.bc)
        let rowValues = UnsafeMutablePointer<Float>.allocate(capacity: 5 * br)
        rowValues.initialize(repeating: 0, count: 5 * br)
        (m, l, alpha, rowSum, factor) = (rowValues, rowValues + br, rowValues + 2 * br, rowValues + 3 * br, rowValues + 4 * br)
        visible = .allocate(capacity: br)
        visible.initialize(repeating: 0, count: br)
    }

    func deallocate() {
        s.deallocate()
        m.deallocate()
        visible.deallocate()
    }
}

/// The flat buffers of one pass, each allocated once when the pass starts and all freed when it ends
/// (llm.c's malloc at the top and free at the bottom): hot loops index plain pointers computed at the
/// top of their body instead of nesting a `withUnsafe…` closure per array. Inputs are copied in;
/// results are copied out with `array`. Large buffers are backed by huge pages where the system
/// allows (`attn_advise_huge_pages`).
struct Workspace {
    private var buffers: [UnsafeMutableBufferPointer<Float>] = []

    /// A read-only buffer holding a copy of `values` (an input of the pass).
    mutating func copy(_ values: [Float]) -> UnsafePointer<Float> {
        let buffer = allocate(values.count)
        _ = buffer.initialize(from: values)
        return UnsafePointer(buffer.baseAddress!)
    }

    /// A buffer of `count` elements, each `value`.
    mutating func filled(_ count: Int, with value: Float = 0) -> UnsafeMutablePointer<Float> {
        let buffer = allocate(count)
        buffer.initialize(repeating: value)
        return buffer.baseAddress!
    }

    private mutating func allocate(_ count: Int) -> UnsafeMutableBufferPointer<Float> {
        let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: count)
        attn_advise_huge_pages(buffer.baseAddress!, count * MemoryLayout<Float>.size)
        buffers.append(buffer)
        return buffer
    }

    /// The first `count` elements of a buffer, as an array that outlives the workspace.
    func array(_ buffer: UnsafePointer<Float>, _ count: Int) -> [Float] {
        Array(UnsafeBufferPointer(start: buffer, count: count))
    }

    func deallocate() {
        for buffer in buffers { buffer.deallocate() }
    }
}
