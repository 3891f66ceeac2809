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
        let s = ws.filled(br * bc)                                                           // on chip [Br × Bc]
        var flops = FlopCount()
        for g in 0..<p.layout.kvHeads {
            let q = qAll + g * R * d, k = kAll + g * C * d, v = vAll + g * C * d
            let o = oAll + g * R * d, l = lAll + g * R, m = mAll + g * R
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
                    // line 9: S_ij = τ Q_i K_jᵀ
                    TileKernels.scores(p, q: q, k: k + cols.lowerBound * d, rows: rows, cols: cols, mask: causal.mask, into: s)
                    var watched: WatchedRow? = nil
                    for a in 0..<nr {
                        let r = rows.lowerBound + a, srow = s + a * nc
                        // line 10: m̃ = rowmax(S), P̃ = exp(S − m̃), l̃ = rowsum(P̃)
                        var mTilde = -Float.infinity
                        for b in 0..<nc { mTilde = Swift.max(mTilde, srow[b]) }
                        var lTilde: Float = 0
                        // Scores past the row's position are masked (−∞): their P̃ is exactly 0.
                        let visible = causal.mask ? max(0, min(nc, p.position(ofRow: r) - cols.lowerBound + 1)) : nc
                        if visible > 0 { Kernels.expShifted(srow, visible, shift: mTilde) }
                        for b in visible..<nc { srow[b] = 0 }
                        for b in 0..<visible { lTilde += srow[b] }
                        // line 11: m_new = max(m_i, m̃), l_new = e^(m_i − m_new) l_i + e^(m̃ − m_new) l̃
                        let mOld = m[r], lOld = l[r]
                        let mNew = Swift.max(mOld, mTilde)
                        let alpha = TileKernels.expShifted(mOld, mNew), beta = TileKernels.expShifted(mTilde, mNew)
                        let lNew = alpha * lOld + beta * lTilde
                        // line 12: O_i ← diag(l_new)⁻¹ (diag(l_i) e^(m_i − m_new) O_i + e^(m̃ − m_new) P̃_ij V_j)
                        let orow = o + r * d
                        if lNew > 0 {
                            let keep = lOld * alpha / lNew, add = beta / lNew
                            for e in 0..<d { orow[e] *= keep }
                            Kernels.accumulateRows(srow, nc, v + cols.lowerBound * d, d, scale: add, into: orow)
                        }
                        // line 13: l_i ← l_new, m_i ← m_new
                        l[r] = lNew
                        m[r] = mNew
                        if r == watchRow { watched = WatchedRow(row: r, m: mNew, l: lNew, rescale: alpha) }
                    }
                    TileKernels.accumulateFlops(&flops, nr: nr, nc: nc, d: d)
                    flops.other += 3 * nr * d + 4 * nr                                       // rescale O, l_new
                    flops.exp += 2 * nr
                    flops.div += nr
                    mem.store(.O, nr * d, i: i)                                               // lines 12–13: write back
                    mem.store(.l, nr, i: i)
                    mem.store(.m, nr, i: i)
                    mem.free(2 * nr * d + 2 * nr + nr * nc + 4 * nr)
                    mem.endStep(watch: g == 0 ? watched : nil)
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
