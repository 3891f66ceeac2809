import AttnEngine

/// FlashAttention, Algorithm 1 (forward) and Algorithm 4 (backward) of Dao, Fu, Ermon, Rudra, Ré,
/// "FlashAttention: Fast and Memory-Efficient Exact Attention with IO-Awareness", arXiv 2205.14135.
///
/// As printed: the outer loop runs over K/V blocks j, the inner over Q blocks i, and every inner step
/// reads O_i, l_i, m_i from HBM and writes them back (the first pass reads the initial zeros too).
/// HBM traffic per K/V head with R query rows and C key rows:
/// reads `2Cd + Tc·(2Rd + 2R)`, writes `Tc·(Rd + 2R)`.
enum FlashAttention1: TiledAlgorithm {
    static let title = "FlashAttention (Algorithm 1)"

    /// The forward pass leaves each row's sum l and max m in HBM.
    struct Saved {
        let l: [Float]                                              // [q_heads × N]
        let m: [Float]                                              // [q_heads × N]
    }

    static func forward(_ p: TileProblem, blocks: BlockSizes, memory mem: MemoryHierarchy, watchRow: Int?) -> ForwardPass<Saved> {
        let d = p.d, R = p.rows, C = p.n, br = blocks.br, bc = blocks.bc
        let Tr = (R + br - 1) / br, Tc = (C + bc - 1) / bc
        let queryRows = p.layout.qHeads * p.n
        var ws = Workspace()
        defer { ws.deallocate() }
        let qAll = ws.copy(p.q), kAll = ws.copy(p.k), vAll = ws.copy(p.v)                    // HBM [heads × N × d]
        let oAll = ws.filled(queryRows * d)                                                  // line 2: O = 0 in HBM
        let lAll = ws.filled(queryRows)                                                      //         l = 0
        let mAll = ws.filled(queryRows, with: -.infinity)                                    //         m = −∞
        // The watched row's state after each column block j.
        var watchedAfter = [WatchedRow?](repeating: nil, count: Tc)
        // The arithmetic. A row block's O_i, l_i, m_i depend only on its own rows and on the column
        // blocks in order j = 0, 1, …: each row block runs through all j on its own, on any core,
        // and every value comes out as in the printed loop order.
        watchedAfter.withUnsafeMutableBufferPointer { watchedAfter in
            TileParts.forEach(p.layout.kvHeads * Tr) { t in
                let g = t / Tr, i = t % Tr
                let q = qAll + g * R * d, k = kAll + g * C * d, v = vAll + g * C * d
                let o = oAll + g * R * d, l = lAll + g * R, m = mAll + g * R
                let chip = BlockScratch(blocks)                                               // on chip
                defer { chip.deallocate() }
                let s = chip.s, visible = chip.visible, add = chip.factor
                let rows = (i * br)..<min(R, (i + 1) * br), nr = rows.count
                for j in 0..<Tc {                                                             // line 5
                    let cols = (j * bc)..<min(C, (j + 1) * bc), nc = cols.count
                    let causal = p.causalState(rows: rows, cols: cols)
                    if causal.skip { continue }
                    // line 9: S_ij = τ Q_i K_jᵀ; scores past a row's position are masked (−∞), their P̃ exactly 0
                    TileKernels.visibleKeys(p, rows: rows, cols: cols, mask: causal.mask, into: visible)
                    TileKernels.scores(p, q: q, k: k + cols.lowerBound * d, rows: rows, cols: cols, mask: causal.mask, visible: visible, into: s)
                    for a in 0..<nr {
                        // line 10: m̃ = rowmax(S), P̃ = exp(S − m̃), l̃ = rowsum(P̃)
                        let srow = s + a * nc
                        chip.m[a] = TileKernels.rowMax(srow, nc, from: -.infinity)
                        if visible[a] > 0 { Kernels.expShifted(srow, visible[a], shift: chip.m[a]) }
                        for b in visible[a]..<nc { srow[b] = 0 }
                    }
                    TileKernels.rowSums(s, rows: nr, stride: nc, counts: visible, into: chip.rowSum)
                    for a in 0..<nr {
                        let r = rows.lowerBound + a, mTilde = chip.m[a], lTilde = chip.rowSum[a]
                        // line 11: m_new = max(m_i, m̃), l_new = e^(m_i − m_new) l_i + e^(m̃ − m_new) l̃
                        let mOld = m[r], lOld = l[r]
                        let mNew = Swift.max(mOld, mTilde)
                        let alpha = TileKernels.expShifted(mOld, mNew), beta = TileKernels.expShifted(mTilde, mNew)
                        let lNew = alpha * lOld + beta * lTilde
                        // line 12: O_i ← diag(l_new)⁻¹ (diag(l_i) e^(m_i − m_new) O_i + e^(m̃ − m_new) P̃_ij V_j)
                        let orow = o + r * d
                        if lNew > 0 {
                            let keep = lOld * alpha / lNew
                            add[a] = beta / lNew
                            for e in 0..<d { orow[e] *= keep }
                        }
                        chip.l[a] = lNew
                        // line 13: l_i ← l_new, m_i ← m_new
                        l[r] = lNew
                        m[r] = mNew
                        if r == watchRow && g == 0 { watchedAfter[j] = WatchedRow(row: r, m: mNew, l: lNew, rescale: alpha) }
                    }
                    // line 12, + e^(m̃ − m_new) P̃_ij V_j / l_new, for each run of rows that saw a key
                    var a = 0
                    while a < nr {
                        guard chip.l[a] > 0 else { a += 1; continue }
                        var end = a + 1
                        while end < nr && chip.l[end] > 0 { end += 1 }
                        TileKernels.accumulate(s + a * nc, rows: end - a, count: nc, stride: nc, scale: add + a, scaleStride: 1,
                                               v + cols.lowerBound * d, d: d, into: o + (rows.lowerBound + a) * d)
                        a = end
                    }
                }
            }
        }
        // The memory model, in the printed loop order: K/V blocks j outside, Q blocks i inside.
        var flops = FlopCount()
        for g in 0..<p.layout.kvHeads {
            for j in 0..<Tc {                                                                 // line 5
                let cols = (j * bc)..<min(C, (j + 1) * bc), nc = cols.count
                var kvLoaded = false
                for i in 0..<Tr {                                                             // line 7
                    let rows = (i * br)..<min(R, (i + 1) * br), nr = rows.count
                    let causal = p.causalState(rows: rows, cols: cols)
                    if causal.skip { continue }
                    mem.beginStep(.forward, kvHead: g, i: i, j: j, rows: rows, cols: cols, masked: causal.mask)
                    if !kvLoaded {                                                            // line 6: K_j, V_j to SRAM
                        mem.load(.K, nc * d, j: j)
                        mem.load(.V, nc * d, j: j)
                        kvLoaded = true
                    }
                    mem.load(.Q, nr * d, i: i)                                                // line 8
                    mem.load(.O, nr * d, i: i)
                    mem.load(.l, nr, i: i)
                    mem.load(.m, nr, i: i)
                    mem.allocate(nr * nc + 4 * nr)                                            // S̃_ij/P̃_ij, m̃, l̃, m_new, l_new
                    TileKernels.accumulateFlops(&flops, nr: nr, nc: nc, d: d)                 // lines 9–12
                    flops.other += 3 * nr * d + 4 * nr                                       // rescale O, l_new
                    flops.exp += 2 * nr
                    flops.div += nr
                    mem.store(.O, nr * d, i: i)                                               // lines 12–13: write back
                    mem.store(.l, nr, i: i)
                    mem.store(.m, nr, i: i)
                    mem.free(2 * nr * d + 2 * nr + nr * nc + 4 * nr)
                    let watched = g == 0 && watchRow.map { rows.contains($0) } == true ? watchedAfter[j] : nil
                    mem.endStep(watch: watched)
                }
                if kvLoaded { mem.free(2 * nc * d) }
            }
        }
        return ForwardPass(o: ws.array(oAll, queryRows * d), saved: Saved(l: ws.array(lAll, queryRows), m: ws.array(mAll, queryRows)),
                           flops: flops)
    }

    /// Algorithm 4: the backward pass with recomputation. Keeps only O, l, m from the forward pass;
    /// recomputes S_ij and P_ij = diag(l_i)⁻¹ exp(S_ij − m_i) block by block. Outer loop over K/V
    /// blocks (dK_j, dV_j accumulate on chip), inner over Q blocks; dQ_i is read and written in HBM
    /// on every pass. Per K/V head: reads `2Cd + Tc·(4Rd + 2R)`, writes `Tc·Rd + 2Cd`.
    static func backward(_ p: TileProblem, blocks: BlockSizes, memory mem: MemoryHierarchy, forward f: ForwardPass<Saved>) -> Gradients {
        let d = p.d, R = p.rows
        var ws = Workspace()
        defer { ws.deallocate() }
        let buffers = BackwardBuffers(p, in: &ws)
        let O = ws.copy(f.o)                                                                 // HBM [q_heads × N × d]
        var flops = FlopCount()
        // Per Q block: Q_i, O_i, dO_i, dQ_i, l_i, m_i from HBM; D_i = rowsum(dO_i ∘ O_i) on chip.
        BackwardBlock.sweep(p, blocks: blocks, memory: mem, buffers: buffers, flops: &flops,
                            rowLoads: [(.Q, d), (.O, d), (.dO, d), (.dQ, d), (.l, 1), (.m, 1)], onChipPerRow: 1,
                            // P_ij divides by l_i per element; D_i is recomputed for every block.
                            extraFlops: { nr, nc in FlopCount(div: nr * nc, other: 2 * nr * d) },
                            probability: { g, r, s in TileKernels.expShifted(s, f.saved.m[g * R + r]) / f.saved.l[g * R + r] },
                            rowD: { g, r in Kernels.dot(O + (g * R + r) * d, buffers.dO + (g * R + r) * d, d) })
        return buffers.gradients(p, in: ws, flops: flops)
    }

    // MARK: - Closed forms (docs/io-model.md)

    /// Forward: K, V once; Q, O, l, m read and O, l, m written once per column block j.
    /// Backward: K, V once; Q, O, dO, dQ, l, m read and dQ written once per column block; dK, dV once.
    static func traffic(_ pass: TilePass, R: Int, C: Int, d: Int, blocks b: BlockSizes, sramElements M: Int) -> (reads: Int, writes: Int) {
        let Tc = (C + b.bc - 1) / b.bc
        switch pass {
        case .forward: return (2 * C * d + Tc * (2 * R * d + 2 * R), Tc * (R * d + 2 * R))
        case .backward: return (2 * C * d + Tc * (4 * R * d + 2 * R), Tc * R * d + 2 * C * d)
        }
    }

    /// Forward: K_j, V_j, Q_i, O_i, l_i, m_i, S_ij and four row statistics. Backward: K_j, V_j, dK_j,
    /// dV_j, four row blocks, P_ij, dP_ij and three per-row values.
    static func peakSram(_ pass: TilePass, R: Int, C: Int, d: Int, blocks b: BlockSizes, sramElements M: Int) -> Int {
        let br = b.br, bc = b.bc
        switch pass {
        case .forward: return 2 * bc * d + 2 * br * d + br * bc + 6 * br
        case .backward: return 4 * bc * d + 4 * br * d + 2 * br * bc + 3 * br
        }
    }
}
