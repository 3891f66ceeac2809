import AttnEngine
import CKernels

/// Standard attention, Algorithm 0 of the FlashAttention paper, run honestly within SRAM of M
/// elements: every N×N intermediate goes to HBM and comes back.
///
///     1. Load Q, K by blocks, compute S = τQKᵀ, write S.      (Q_i kept while K_j stream by)
///     2. Read S, compute P = softmax(S), write P.             (rows in chunks that fit; a row longer
///                                                               than SRAM takes three passes)
///     3. Load P and V by blocks, compute O = PV, write O.     (O_i accumulates on chip)
///
/// Causal attention materializes the whole S and masks it in the softmax, as a framework does.
/// The backward pass is the standard one (FlashAttention paper, Algorithm 3): it reads the stored P.
enum NaiveAttention: TiledAlgorithm {
    static let title = "standard attention (Algorithm 0)"

    /// The forward pass leaves P in HBM.
    struct Saved {
        let P: [Float]                                              // [kv_heads × G·N × N]
    }

    /// Rows of S that one softmax chunk holds with their (m, l): `⌊M / (C + 2)⌋`; 0 means a single row
    /// does not fit and the softmax runs in three passes (max, sum, write) over segments of M − 2.
    static func softmaxRowsPerChunk(sramElements M: Int, cols C: Int) -> Int { M / (C + 2) }

    static func forward(_ p: TileProblem, blocks: BlockSizes, memory mem: MemoryHierarchy, watchRow: Int?) -> ForwardPass<Saved> {
        let d = p.d, R = p.rows, C = p.n, kvHeads = p.layout.kvHeads
        var ws = Workspace()
        defer { ws.deallocate() }
        let Q = ws.copy(p.q), K = ws.copy(p.k), V = ws.copy(p.v)                             // HBM [heads × N × d]
        let O = ws.filled(p.q.count)                                                         // HBM [q_heads × N × d]
        // HBM [kv_heads × G·N × N]. Each head's S is computed in its slot of P and turned into P
        // there: the memory model counts S and P as the two tensors they are, the host keeps one.
        // Step 1 writes every element, so P starts uninitialized (its pages are first touched by the
        // parts of step 1, on every core, and are huge pages where the system allows).
        var flops = FlopCount()
        let P = [Float](unsafeUninitializedCapacity: kvHeads * R * C) { P, initialized in
            attn_advise_huge_pages(P.baseAddress!, P.count * MemoryLayout<Float>.size)
            for g in 0..<kvHeads {
                let rowsAt = g * R * d, colsAt = g * C * d, Pg = P.baseAddress! + g * R * C
                blockedOuter(.scores, p, g: g, blocks: blocks, memory: mem, flops: &flops,  // 1. S = τQKᵀ
                             rowOperand: (.Q, Q + rowsAt), colOperand: (.K, K + colsAt), out: (.S, Pg), scale: p.scale)
                softmax(p, Pg, g: g, memory: mem, watchRow: g == 0 ? watchRow : nil, flops: &flops)  // 2. P = softmax(S)
                blockedProduct(.output, p, g: g, blocks: blocks, memory: mem, flops: &flops, // 3. O = PV
                               matrix: (.P, UnsafePointer(Pg)), outerIsRows: true, operand: (.V, V + colsAt), out: (.O, O + rowsAt), scale: 1)
            }
            initialized = kvHeads * R * C
        }
        return ForwardPass(o: ws.array(O, p.q.count), saved: Saved(P: P), flops: flops)
    }

    /// M = scale · X Yᵀ into an HBM matrix `[R × C]`, block by block: X_i (a row block) stays on chip
    /// while the Y_j stream by, and each block M_ij is written out. (S = τQKᵀ, dP = dO Vᵀ.) Each row
    /// block writes its own rows of M: the row blocks are parts run across the cores.
    private static func blockedOuter(_ phase: TilePhase, _ p: TileProblem, g: Int, blocks: BlockSizes, memory: MemoryHierarchy,
                                     flops: inout FlopCount, rowOperand x: (TileTensor, UnsafePointer<Float>),
                                     colOperand y: (TileTensor, UnsafePointer<Float>), out: (TileTensor, UnsafeMutablePointer<Float>), scale: Float) {
        let d = p.d, R = p.rows, C = p.n, br = blocks.br, bc = blocks.bc
        let Tr = (R + br - 1) / br, Tc = (C + bc - 1) / bc
        let xs = x.1, ys = y.1, m = out.1
        flops = TileParts.map(Tr, memory: memory) { i, mem in
            var flops = FlopCount()
            let rows = (i * br)..<min(R, (i + 1) * br), nr = rows.count
            for j in 0..<Tc {
                let cols = (j * bc)..<min(C, (j + 1) * bc), nc = cols.count
                mem.beginStep(phase, kvHead: g, i: i, j: j, rows: rows, cols: cols)
                if j == 0 { mem.load(x.0, nr * d, i: i) }
                mem.load(y.0, nc * d, j: j)
                mem.allocate(nr * nc)
                TileKernels.product(xs + rows.lowerBound * d, rows: nr, ys + cols.lowerBound * d, cols: nc, d: d, scale: scale,
                                    visible: nil, into: m + rows.lowerBound * C + cols.lowerBound, stride: C)
                flops.matmul += 2 * nr * nc * d
                flops.other += scale == 1 ? 0 : nr * nc
                mem.store(out.0, nr * nc, i: i, j: j)
                mem.free(nc * d + nr * nc)
                if j == Tc - 1 { mem.free(nr * d) }
                mem.endStep()
            }
            return flops
        }.reduce(flops, +)
    }

    /// Out += scale · A·B (`outerIsRows`: output row r += Σ_c A[r,c]·B_c, as in O = PV, dQ = τ dS K) or
    /// scale · Aᵀ·B (output row c += Σ_r A[r,c]·B_r, as in dV = Pᵀ dO, dK = τ dSᵀ Q), block by block:
    /// the output block accumulates on chip over the inner loop and is written once. Each outer
    /// block writes its own output rows: the outer blocks are parts run across the cores.
    private static func blockedProduct(_ phase: TilePhase, _ p: TileProblem, g: Int, blocks: BlockSizes, memory: MemoryHierarchy,
                                       flops: inout FlopCount, matrix A: (TileTensor, UnsafePointer<Float>), outerIsRows: Bool,
                                       operand B: (TileTensor, UnsafePointer<Float>), out: (TileTensor, UnsafeMutablePointer<Float>), scale: Float) {
        let d = p.d, R = p.rows, C = p.n, br = blocks.br, bc = blocks.bc
        let Tr = (R + br - 1) / br, Tc = (C + bc - 1) / bc
        let (outer, inner) = outerIsRows ? (Tr, Tc) : (Tc, Tr)
        let a = A.1, b = B.1, o = out.1
        flops = TileParts.map(outer, memory: memory) { u, mem in
            var flops = FlopCount(), scale = scale
            for w in 0..<inner {
                let (i, j) = outerIsRows ? (u, w) : (w, u)
                let rows = (i * br)..<min(R, (i + 1) * br), cols = (j * bc)..<min(C, (j + 1) * bc)
                let outBlock = outerIsRows ? rows.count : cols.count, operandRows = outerIsRows ? cols.count : rows.count
                mem.beginStep(phase, kvHead: g, i: i, j: j, rows: rows, cols: cols)
                if w == 0 { mem.allocate(outBlock * d) }
                mem.load(A.0, rows.count * cols.count, i: i, j: j)
                if outerIsRows { mem.load(B.0, operandRows * d, j: j) } else { mem.load(B.0, operandRows * d, i: i) }
                if outerIsRows {
                    TileKernels.accumulate(a + rows.lowerBound * C + cols.lowerBound, rows: rows.count, count: cols.count, stride: C,
                                           scale: &scale, scaleStride: 0, b + cols.lowerBound * d, d: d, into: o + rows.lowerBound * d)
                } else {
                    for r in rows {
                        for c in cols where a[r * C + c] != 0 { Kernels.axpy(a[r * C + c] * scale, b + r * d, o + c * d, d) }
                    }
                }
                flops.matmul += 2 * rows.count * cols.count * d
                mem.free(rows.count * cols.count + operandRows * d)
                if w == inner - 1 {
                    if outerIsRows { mem.store(out.0, outBlock * d, i: i) } else { mem.store(out.0, outBlock * d, j: j) }
                    mem.free(outBlock * d)
                }
                mem.endStep()
            }
            return flops
        }.reduce(flops, +)
    }

    /// Step 2: P = softmax(S) row by row, in place (S in, P out), masked above the diagonal for causal
    /// attention: entries there become 0.
    private static func softmax(_ p: TileProblem, _ P: UnsafeMutablePointer<Float>, g: Int, memory: MemoryHierarchy,
                                watchRow: Int?, flops: inout FlopCount) {
        let R = p.rows, C = p.n, M = memory.sramElements
        let chunk = softmaxRowsPerChunk(sramElements: M, cols: C)
        let segment = max(1, M - 2)
        let chunks = rowChunks(R, chunk)
        // Each chunk of rows is a part of its own, run across the cores.
        flops = TileParts.map(chunks.count, memory: memory) { t, mem in
            var flops = FlopCount()
            let rows = chunks[t]
            mem.beginStep(.softmax, kvHead: g, i: nil, j: nil, rows: rows, cols: 0..<C)
            if chunk >= 1 {
                mem.load(.S, rows.count * C)
                mem.allocate(2 * rows.count)
            } else {
                // A row longer than SRAM: pass 1 (max) and pass 2 (sum) read it in segments; pass 3
                // reads it again and writes P.
                mem.allocate(2)
                for _ in 0..<3 {
                    for c in stride(from: 0, to: C, by: segment) {
                        mem.load(.S, min(segment, C - c))
                        mem.free(min(segment, C - c))
                    }
                }
            }
            let visible = UnsafeMutablePointer<Int>.allocate(capacity: rows.count), l = UnsafeMutablePointer<Float>.allocate(capacity: rows.count)
            defer { visible.deallocate(); l.deallocate() }
            var watched: WatchedRow? = nil, maxes: [Float] = []
            for (a, r) in rows.enumerated() {
                let prow = P + r * C
                visible[a] = (p.causal ? p.position(ofRow: r) : C - 1) + 1
                let m = TileKernels.rowMax(prow, visible[a], from: -.infinity)
                Kernels.expShifted(prow, visible[a], shift: m)
                for c in visible[a]..<C { prow[c] = 0 }
                maxes.append(m)
            }
            TileKernels.rowSums(P + rows.lowerBound * C, rows: rows.count, stride: C, counts: visible, into: l)
            for (a, r) in rows.enumerated() {
                let inv = 1 / l[a], prow = P + r * C
                for c in 0..<visible[a] { prow[c] *= inv }
                if r == watchRow { watched = WatchedRow(row: r, m: maxes[a], l: l[a], rescale: 1) }
                flops.max += visible[a]
                flops.exp += visible[a]
                flops.other += 2 * visible[a]
                flops.div += 1
            }
            mem.store(.P, rows.count * C)
            mem.free(chunk >= 1 ? rows.count * C + 2 * rows.count : 2)
            mem.endStep(watch: watched)
            return flops
        }.reduce(flops, +)
    }

    /// The standard backward pass (FlashAttention paper, Algorithm 3), each product blocked like the
    /// forward ones:
    ///
    ///     1. dV = Pᵀ dO        (dV_j on chip, P_ij and dO_i stream by)
    ///     2. dP = dO Vᵀ        (write dP)
    ///     3. dS = P ∘ (dP − rowsum(P ∘ dP))   (read P and dP row by row, write dS)
    ///     4. dQ = τ dS K       (dQ_i on chip)
    ///     5. dK = τ dSᵀ Q      (dK_j on chip)
    static func backward(_ p: TileProblem, blocks: BlockSizes, memory mem: MemoryHierarchy, forward f: ForwardPass<Saved>) -> Gradients {
        let R = p.rows, C = p.n, tau = p.scale
        var ws = Workspace()
        defer { ws.deallocate() }
        let b = BackwardBuffers(p, in: &ws)
        let PAll = ws.copy(f.saved.P)                                                        // HBM [kv_heads × G·N × N]
        let dP = ws.filled(R * C), dS = ws.filled(R * C)                                     // HBM [G·N × N], one K/V head at a time
        var flops = FlopCount()
        for g in 0..<p.layout.kvHeads {
            let P = PAll + g * R * C
            let rowsAt = g * R * p.d, colsAt = g * C * p.d
            blockedProduct(.dV, p, g: g, blocks: blocks, memory: mem, flops: &flops,        // 1. dV = Pᵀ dO
                           matrix: (.P, P), outerIsRows: false, operand: (.dO, b.dO + rowsAt), out: (.dV, b.dv + colsAt), scale: 1)
            blockedOuter(.dP, p, g: g, blocks: blocks, memory: mem, flops: &flops,          // 2. dP = dO Vᵀ
                         rowOperand: (.dO, b.dO + rowsAt), colOperand: (.V, b.v + colsAt), out: (.dP, dP), scale: 1)
            // 3. dS = P ∘ (dP − D), D_r = Σ_c P_rc dP_rc (= rowsum(dO ∘ O))
            let chunk = dSRowsPerChunk(sramElements: mem.sramElements, cols: C)
            for rows in rowChunks(R, chunk) {
                mem.beginStep(.dS, kvHead: g, i: nil, j: nil, rows: rows, cols: 0..<C)
                if chunk >= 1 {
                    mem.load(.P, rows.count * C)
                    mem.load(.dP, rows.count * C)
                    mem.allocate(rows.count)
                    mem.free(2 * rows.count * C)
                } else {
                    // One row of P and dP does not fit: D takes a first pass over both in segments,
                    // dS a second.
                    let segment = max(1, (mem.sramElements - 1) / 2)
                    mem.allocate(rows.count)
                    for _ in 0..<2 {
                        for c in stride(from: 0, to: C, by: segment) {
                            let e = min(segment, C - c)
                            mem.load(.P, e)
                            mem.load(.dP, e)
                            mem.free(2 * e)
                        }
                    }
                }
                for r in rows {
                    var D: Float = 0
                    for c in 0..<C { D += P[r * C + c] * dP[r * C + c] }
                    for c in 0..<C { dS[r * C + c] = P[r * C + c] * (dP[r * C + c] - D) }
                }
                flops.other += 4 * rows.count * C
                mem.store(.dS, rows.count * C)
                mem.free(rows.count)
                mem.endStep()
            }
            blockedProduct(.dQ, p, g: g, blocks: blocks, memory: mem, flops: &flops,        // 4. dQ = τ dS K
                           matrix: (.dS, UnsafePointer(dS)), outerIsRows: true, operand: (.K, b.k + colsAt), out: (.dQ, b.dq + rowsAt), scale: tau)
            blockedProduct(.dK, p, g: g, blocks: blocks, memory: mem, flops: &flops,        // 5. dK = τ dSᵀ Q
                           matrix: (.dS, UnsafePointer(dS)), outerIsRows: false, operand: (.Q, b.q + rowsAt), out: (.dK, b.dk + colsAt), scale: tau)
        }
        return b.gradients(p, in: ws, flops: flops)
    }

    /// Row ranges of `chunk` rows (one row when not even one fits, for the multi-pass cases).
    private static func rowChunks(_ rows: Int, _ chunk: Int) -> [Range<Int>] {
        stride(from: 0, to: rows, by: max(1, chunk)).map { $0..<min(rows, $0 + max(1, chunk)) }
    }

    /// Rows of P and dP (with D) one dS chunk holds: `⌊M / (2C + 1)⌋`; 0 means two passes.
    static func dSRowsPerChunk(sramElements M: Int, cols C: Int) -> Int { M / (2 * C + 1) }

    // MARK: - Closed forms (docs/io-model.md)

    /// Forward: Q once and K once per row block for S; S read (three times when a row outgrows SRAM)
    /// and P written; P once and V once per row block for O. Backward: each product likewise, plus
    /// the dS pass reading P and dP (twice each when a row outgrows SRAM).
    static func traffic(_ pass: TilePass, R: Int, C: Int, d: Int, blocks b: BlockSizes, sramElements M: Int) -> (reads: Int, writes: Int) {
        let Tr = (R + b.br - 1) / b.br, Tc = (C + b.bc - 1) / b.bc
        switch pass {
        case .forward:
            let softmaxReads = softmaxRowsPerChunk(sramElements: M, cols: C) >= 1 ? R * C : 3 * R * C
            return (R * d + Tr * C * d + softmaxReads + R * C + Tr * C * d, 2 * R * C + R * d)
        case .backward:
            let dSReads = dSRowsPerChunk(sramElements: M, cols: C) >= 1 ? 2 * R * C : 4 * R * C
            let reads = (R * C + Tc * R * d) + (R * d + Tr * C * d) + dSReads + (R * C + Tr * C * d) + (R * C + Tc * R * d)
            return (reads, C * d + R * C + R * C + R * d + C * d)
        }
    }

    /// The larger of a blocked product's `Br·d + Bc·d + Br·Bc` and the row pass's chunk (softmax
    /// forward, dS backward).
    static func peakSram(_ pass: TilePass, R: Int, C: Int, d: Int, blocks b: BlockSizes, sramElements M: Int) -> Int {
        let product = b.br * d + b.bc * d + b.br * b.bc
        switch pass {
        case .forward:
            let rows = softmaxRowsPerChunk(sramElements: M, cols: C)
            return max(product, rows >= 1 ? min(rows, R) * (C + 2) : 2 + min(C, max(1, M - 2)))
        case .backward:
            let rows = dSRowsPerChunk(sramElements: M, cols: C)
            return max(product, rows >= 1 ? min(rows, R) * (2 * C + 1) : 1 + 2 * min(C, max(1, (M - 1) / 2)))
        }
    }

    /// FlashAttention's Bc = ⌈M/4d⌉ and the largest Br whose product working set fits.
    static func defaultBlocks(R: Int, C: Int, d: Int, sramElements M: Int) -> BlockSizes {
        let bc = min(BlockSizes.published(sramElements: M, d: d).bc, C)
        return BlockSizes(br: max(1, min(R, (M - bc * d) / (d + bc))), bc: bc)
    }
}
