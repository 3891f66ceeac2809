import AttnEngine

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
enum NaiveAttention {
    /// Rows of S that one softmax chunk holds with their (m, l): `⌊M / (C + 2)⌋`; 0 means a single row
    /// does not fit and the softmax runs in three passes (max, sum, write) over segments of M − 2.
    static func softmaxRowsPerChunk(sramElements M: Int, cols C: Int) -> Int { M / (C + 2) }

    static func forward(_ p: TileProblem, blocks: BlockSizes, memory mem: MemoryHierarchy, watchRow: Int?) -> ForwardOutput {
        let d = p.d, R = p.rows, C = p.n, br = blocks.br, bc = blocks.bc
        let Tr = (R + br - 1) / br, Tc = (C + bc - 1) / bc
        var out = ForwardOutput(o: [Float](repeating: 0, count: p.layout.qHeads * p.n * d))
        var flops = FlopCount()
        for g in 0..<p.layout.kvHeads {
            var S = [Float](repeating: 0, count: R * C)                                       // HBM [G·N × N]
            var block = [Float](repeating: 0, count: br * bc)
            p.q.withUnsafeBufferPointer { qAll in p.k.withUnsafeBufferPointer { kAll in
            S.withUnsafeMutableBufferPointer { Sb in block.withUnsafeMutableBufferPointer { s in
                let q = qAll.baseAddress! + g * R * d, k = kAll.baseAddress! + g * C * d
                for i in 0..<Tr {                                                             // 1. S = τQKᵀ
                    let rows = (i * br)..<min(R, (i + 1) * br), nr = rows.count
                    for j in 0..<Tc {
                        let cols = (j * bc)..<min(C, (j + 1) * bc), nc = cols.count
                        mem.beginStep("S = QKᵀ", kvHead: g, i: i, j: j, rows: rows, cols: cols)
                        if j == 0 { mem.load(.Q, nr * d, i: i) }
                        mem.load(.K, nc * d, j: j)
                        mem.allocate(nr * nc)
                        TileKernels.scores(p, q: q, k: k + cols.lowerBound * d, rows: rows, cols: cols, mask: false, into: s.baseAddress!)
                        for a in 0..<nr {
                            for b in 0..<nc { Sb[(rows.lowerBound + a) * C + cols.lowerBound + b] = s[a * nc + b] }
                        }
                        flops.matmul += 2 * nr * nc * d
                        flops.other += nr * nc
                        mem.store(.S, nr * nc, i: i, j: j)
                        mem.free(nc * d + nr * nc)
                        if j == Tc - 1 { mem.free(nr * d) }
                        mem.endStep()
                    }
                }
            } } } }
            var P = softmax(p, S: S, g: g, memory: mem, watchRow: g == 0 ? watchRow : nil, flops: &flops)
            S = []
            p.v.withUnsafeBufferPointer { vAll in out.o.withUnsafeMutableBufferPointer { oAll in
            P.withUnsafeMutableBufferPointer { Pb in block.withUnsafeMutableBufferPointer { s in
                let v = vAll.baseAddress! + g * C * d, o = oAll.baseAddress! + g * R * d
                for i in 0..<Tr {                                                             // 3. O = PV
                    let rows = (i * br)..<min(R, (i + 1) * br), nr = rows.count
                    for j in 0..<Tc {
                        let cols = (j * bc)..<min(C, (j + 1) * bc), nc = cols.count
                        mem.beginStep("O = PV", kvHead: g, i: i, j: j, rows: rows, cols: cols)
                        if j == 0 { mem.allocate(nr * d) }                                    // O_i accumulator
                        mem.load(.P, nr * nc, i: i, j: j)
                        mem.load(.V, nc * d, j: j)
                        for a in 0..<nr {
                            for b in 0..<nc { s[a * nc + b] = Pb[(rows.lowerBound + a) * C + cols.lowerBound + b] }
                        }
                        TileKernels.accumulate(s.baseAddress!, nr: nr, nc: nc, v: v + cols.lowerBound * d, d: d, into: o + rows.lowerBound * d)
                        flops.matmul += 2 * nr * nc * d
                        mem.free(nr * nc + nc * d)
                        if j == Tc - 1 {
                            mem.store(.O, nr * d, i: i)
                            mem.free(nr * d)
                        }
                        mem.endStep()
                    }
                }
            } } } }
            out.P.append(P)
        }
        out.flops = flops
        return out
    }

    /// Step 2: P = softmax(S) row by row, masked above the diagonal for causal attention.
    private static func softmax(_ p: TileProblem, S: [Float], g: Int, memory mem: MemoryHierarchy, watchRow: Int?,
                                flops: inout FlopCount) -> [Float] {
        let R = p.rows, C = p.n, M = mem.sramElements
        var P = [Float](repeating: 0, count: R * C)                                           // HBM [G·N × N]
        let chunk = softmaxRowsPerChunk(sramElements: M, cols: C)
        let segment = max(1, M - 2)
        var start = 0
        while start < R {
            let rows = start..<min(R, start + max(1, chunk))
            mem.beginStep("softmax", kvHead: g, i: nil, j: nil, rows: rows, cols: 0..<C)
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
            var watched: WatchedRow? = nil
            for r in rows {
                let limit = p.causal ? p.position(ofRow: r) : C - 1
                var m = -Float.infinity
                for c in 0...limit { m = max(m, S[r * C + c]) }
                var l: Float = 0
                for c in 0...limit {
                    let e = DetMath.exp(S[r * C + c] - m)
                    P[r * C + c] = e
                    l += e
                }
                let inv = 1 / l
                for c in 0...limit { P[r * C + c] *= inv }
                if r == watchRow { watched = WatchedRow(row: r, m: m, l: l, rescale: 1) }
                flops.max += limit + 1
                flops.exp += limit + 1
                flops.other += 2 * (limit + 1)
                flops.div += 1
            }
            mem.store(.P, rows.count * C)
            mem.free(chunk >= 1 ? rows.count * C + 2 * rows.count : 2)
            mem.endStep(watch: watched)
            start = rows.upperBound
        }
        return P
    }

    /// The standard backward pass (FlashAttention paper, Algorithm 3), each product blocked like the
    /// forward ones:
    ///
    ///     1. dV = Pᵀ dO        (dV_j on chip, P_ij and dO_i stream by)
    ///     2. dP = dO Vᵀ        (write dP)
    ///     3. dS = P ∘ (dP − rowsum(P ∘ dP))   (read P and dP row by row, write dS)
    ///     4. dQ = τ dS K       (dQ_i on chip)
    ///     5. dK = τ dSᵀ Q      (dK_j on chip)
    static func backward(_ p: TileProblem, blocks: BlockSizes, memory mem: MemoryHierarchy, forward f: ForwardOutput) -> Gradients {
        let d = p.d, R = p.rows, C = p.n, br = blocks.br, bc = blocks.bc, tau = p.scale
        let Tr = (R + br - 1) / br, Tc = (C + bc - 1) / bc
        var grads = Gradients(dq: [Float](repeating: 0, count: p.q.count), dk: [Float](repeating: 0, count: p.k.count),
                              dv: [Float](repeating: 0, count: p.v.count))
        var flops = FlopCount()
        for g in 0..<p.layout.kvHeads {
            let P = f.P[g]
            let qOff = g * R * d, kvOff = g * C * d
            // 1. dV_j = Σ_i P_ijᵀ dO_i
            for j in 0..<Tc {
                let cols = (j * bc)..<min(C, (j + 1) * bc), nc = cols.count
                for i in 0..<Tr {
                    let rows = (i * br)..<min(R, (i + 1) * br), nr = rows.count
                    mem.beginStep("dV = PᵀdO", kvHead: g, i: i, j: j, rows: rows, cols: cols)
                    if i == 0 { mem.allocate(nc * d) }
                    mem.load(.P, nr * nc, i: i, j: j)
                    mem.load(.dO, nr * d, i: i)
                    for r in rows {
                        for c in cols where P[r * C + c] != 0 { axpy(P[r * C + c], p.dO, qOff + r * d, &grads.dv, kvOff + c * d, d) }
                    }
                    flops.matmul += 2 * nr * nc * d
                    mem.free(nr * nc + nr * d)
                    if i == Tr - 1 { mem.store(.dV, nc * d, j: j); mem.free(nc * d) }
                    mem.endStep()
                }
            }
            // 2. dP = dO Vᵀ
            var dP = [Float](repeating: 0, count: R * C)
            for i in 0..<Tr {
                let rows = (i * br)..<min(R, (i + 1) * br), nr = rows.count
                for j in 0..<Tc {
                    let cols = (j * bc)..<min(C, (j + 1) * bc), nc = cols.count
                    mem.beginStep("dP = dOVᵀ", kvHead: g, i: i, j: j, rows: rows, cols: cols)
                    if j == 0 { mem.load(.dO, nr * d, i: i) }
                    mem.load(.V, nc * d, j: j)
                    mem.allocate(nr * nc)
                    for r in rows { for c in cols { dP[r * C + c] = dot(p.dO, qOff + r * d, p.v, kvOff + c * d, d) } }
                    flops.matmul += 2 * nr * nc * d
                    mem.store(.dP, nr * nc, i: i, j: j)
                    mem.free(nc * d + nr * nc)
                    if j == Tc - 1 { mem.free(nr * d) }
                    mem.endStep()
                }
            }
            // 3. dS = P ∘ (dP − D), D_r = Σ_c P_rc dP_rc (= rowsum(dO ∘ O))
            var dS = [Float](repeating: 0, count: R * C)
            let chunk = dSRowsPerChunk(sramElements: mem.sramElements, cols: C)
            var start = 0
            while start < R {
                let rows = start..<min(R, start + max(1, chunk))
                mem.beginStep("dS = P∘(dP − D)", kvHead: g, i: nil, j: nil, rows: rows, cols: 0..<C)
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
                start = rows.upperBound
            }
            dP = []
            // 4. dQ_i = τ Σ_j dS_ij K_j
            for i in 0..<Tr {
                let rows = (i * br)..<min(R, (i + 1) * br), nr = rows.count
                for j in 0..<Tc {
                    let cols = (j * bc)..<min(C, (j + 1) * bc), nc = cols.count
                    mem.beginStep("dQ = dS K", kvHead: g, i: i, j: j, rows: rows, cols: cols)
                    if j == 0 { mem.allocate(nr * d) }
                    mem.load(.dS, nr * nc, i: i, j: j)
                    mem.load(.K, nc * d, j: j)
                    for r in rows {
                        for c in cols where dS[r * C + c] != 0 { axpy(dS[r * C + c] * tau, p.k, kvOff + c * d, &grads.dq, qOff + r * d, d) }
                    }
                    flops.matmul += 2 * nr * nc * d
                    mem.free(nr * nc + nc * d)
                    if j == Tc - 1 { mem.store(.dQ, nr * d, i: i); mem.free(nr * d) }
                    mem.endStep()
                }
            }
            // 5. dK_j = τ Σ_i dS_ijᵀ Q_i
            for j in 0..<Tc {
                let cols = (j * bc)..<min(C, (j + 1) * bc), nc = cols.count
                for i in 0..<Tr {
                    let rows = (i * br)..<min(R, (i + 1) * br), nr = rows.count
                    mem.beginStep("dK = dSᵀQ", kvHead: g, i: i, j: j, rows: rows, cols: cols)
                    if i == 0 { mem.allocate(nc * d) }
                    mem.load(.dS, nr * nc, i: i, j: j)
                    mem.load(.Q, nr * d, i: i)
                    for r in rows {
                        for c in cols where dS[r * C + c] != 0 { axpy(dS[r * C + c] * tau, p.q, qOff + r * d, &grads.dk, kvOff + c * d, d) }
                    }
                    flops.matmul += 2 * nr * nc * d
                    mem.free(nr * nc + nr * d)
                    if i == Tr - 1 { mem.store(.dK, nc * d, j: j); mem.free(nc * d) }
                    mem.endStep()
                }
            }
        }
        grads.flops = flops
        return grads
    }

    /// Rows of P and dP (with D) one dS chunk holds: `⌊M / (2C + 1)⌋`; 0 means two passes.
    static func dSRowsPerChunk(sramElements M: Int, cols C: Int) -> Int { M / (2 * C + 1) }

    private static func axpy(_ a: Float, _ x: [Float], _ xOff: Int, _ y: inout [Float], _ yOff: Int, _ n: Int) {
        x.withUnsafeBufferPointer { xb in y.withUnsafeMutableBufferPointer { yb in
            Kernels.axpy(a, xb.baseAddress! + xOff, yb.baseAddress! + yOff, n)
        } }
    }

    private static func dot(_ a: [Float], _ aOff: Int, _ b: [Float], _ bOff: Int, _ n: Int) -> Float {
        a.withUnsafeBufferPointer { ab in b.withUnsafeBufferPointer { bb in
            Kernels.dot(ab.baseAddress! + aOff, bb.baseAddress! + bOff, n)
        } }
    }
}
