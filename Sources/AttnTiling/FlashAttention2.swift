import AttnEngine

/// FlashAttention-2 (Dao, "FlashAttention-2: Faster Attention with Better Parallelism and Work
/// Partitioning", arXiv 2307.08691), Algorithm 1 (forward) and Algorithm 2 (backward).
///
/// The loops are swapped: the outer loop runs over Q blocks i, so O_i, l_i, m_i live on chip for the
/// whole inner loop over K/V blocks; O_i stays unnormalized until the end and is written once, with
/// the logsumexp L_i = m_i + log l_i instead of l and m. (The printed rescale in Algorithm 1 line 8
/// carries a spurious ⁻¹: the old output is scaled by diag(e^(m_old − m_new)), not its inverse.)
/// Per K/V head: reads `Rd + Tr·2Cd`, writes `Rd + R`.
enum FlashAttention2: TiledAlgorithm {
    static let title = "FlashAttention-2"

    /// The forward pass leaves each row's logsumexp L = m + log l in HBM.
    struct Saved {
        let L: [Float]                                              // [q_heads × N]
    }

    static func forward(_ p: TileProblem, blocks: BlockSizes, memory: MemoryHierarchy, watchRow: Int?) -> ForwardPass<Saved> {
        let d = p.d, R = p.rows, C = p.n, br = blocks.br, bc = blocks.bc
        let Tr = (R + br - 1) / br, Tc = (C + bc - 1) / bc
        let queryRows = p.layout.qHeads * p.n
        var ws = Workspace()
        defer { ws.deallocate() }
        let qAll = ws.copy(p.q), kAll = ws.copy(p.k), vAll = ws.copy(p.v)                     // HBM [heads × N × d]
        let oAll = ws.filled(queryRows * d)                                                   // HBM [q_heads × N × d]
        let LAll = ws.filled(queryRows)                                                       // HBM [q_heads × N]
        // Each row block i of each K/V head is a part of its own (the outer loop, line 3): it reads
        // Q_i and all of K, V and writes only O_i and L_i, so the parts run across the cores.
        let flops = TileParts.map(p.layout.kvHeads * Tr, memory: memory) { t, mem in
            let g = t / Tr, i = t % Tr
            let q = qAll + g * R * d, k = kAll + g * C * d, v = vAll + g * C * d
            let o = oAll + g * R * d, L = LAll + g * R
            let chip = BlockScratch(blocks)                                                   // on chip
            defer { chip.deallocate() }
            let s = chip.s, m = chip.m, l = chip.l, alpha = chip.alpha, visible = chip.visible
            var flops = FlopCount()
            var one: Float = 1
            let rows = (i * br)..<min(R, (i + 1) * br), nr = rows.count                       // line 3
            let orows = o + rows.lowerBound * d
            // Causal: K/V blocks past the rows' last position are never visited.
            let lastJ = p.causal ? min(Tc - 1, p.positions(rows).max / bc) : Tc - 1
            for a in 0..<nr { m[a] = -.infinity; l[a] = 0 }                                   // line 5: O = 0, l = 0, m = −∞
            for e in 0..<(nr * d) { orows[e] = 0 }
            for j in 0...lastJ {                                                              // line 6
                let cols = (j * bc)..<min(C, (j + 1) * bc), nc = cols.count
                let causal = p.causalState(rows: rows, cols: cols)
                mem.beginStep(.forward, kvHead: g, i: i, j: j, rows: rows, cols: cols, masked: causal.mask)
                if j == 0 {
                    mem.load(.Q, nr * d, i: i)                                                // line 4
                    mem.allocate(nr * d + 2 * nr)                                             // O_i, l_i, m_i on chip
                }
                mem.load(.K, nc * d, j: j)                                                    // line 7
                mem.load(.V, nc * d, j: j)
                mem.allocate(nr * nc + nr)                                                    // S_ij/P̃_ij, m_new
                // Scores past a row's position are masked (−∞): their P̃ is exactly 0.
                TileKernels.visibleKeys(p, rows: rows, cols: cols, mask: causal.mask, into: visible)
                TileKernels.scores(p, q: q, k: k + cols.lowerBound * d, rows: rows, cols: cols, mask: causal.mask, visible: visible, into: s)
                for a in 0..<nr {                                                             // line 8
                    let srow = s + a * nc
                    let mNew = TileKernels.rowMax(srow, nc, from: m[a])
                    alpha[a] = TileKernels.expShifted(m[a], mNew)                             // e^(m_old − m_new)
                    if visible[a] > 0 { Kernels.expShifted(srow, visible[a], shift: mNew) }
                    for b in visible[a]..<nc { srow[b] = 0 }
                    m[a] = mNew
                }
                TileKernels.rowSums(s, rows: nr, stride: nc, counts: visible, into: chip.rowSum)
                var watched: WatchedRow? = nil
                for a in 0..<nr {
                    let r = rows.lowerBound + a, orow = o + r * d
                    l[a] = alpha[a] * l[a] + chip.rowSum[a]
                    if alpha[a] != 1 { for e in 0..<d { orow[e] *= alpha[a] } }               // line 9: diag(e^(m_old − m_new)) O
                    if r == watchRow && g == 0 { watched = WatchedRow(row: r, m: m[a], l: l[a], rescale: alpha[a]) }
                }
                TileKernels.accumulate(s, rows: nr, count: nc, stride: nc, scale: &one, scaleStride: 0,   //        + P̃_ij V_j
                                       v + cols.lowerBound * d, d: d, into: orows)
                TileKernels.accumulateFlops(&flops, nr: nr, nc: nc, d: d)
                flops.exp += nr
                flops.other += nr * d + 2 * nr
                mem.free(2 * nc * d + nr * nc + nr)
                if j == lastJ {
                    for a in 0..<nr {                                                         // lines 10–12
                        let r = rows.lowerBound + a, orow = o + r * d
                        let inv = 1 / l[a]
                        for e in 0..<d { orow[e] *= inv }
                        L[r] = m[a] + Float(DetMath.log(Double(l[a])))
                    }
                    flops.div += nr
                    flops.other += nr * d + 2 * nr
                    mem.store(.O, nr * d, i: i)                                               // lines 13–14
                    mem.store(.L, nr, i: i)
                    mem.free(2 * nr * d + 2 * nr)                                             // Q_i, O_i, l_i, m_i
                }
                mem.endStep(watch: watched)
            }
            return flops
        }.reduce(FlopCount(), +)
        return ForwardPass(o: ws.array(oAll, queryRows * d), saved: Saved(L: ws.array(LAll, queryRows)), flops: flops)
    }

    /// Algorithm 2: D = rowsum(dO ∘ O) first, in its own pass; then outer loop over K/V blocks with
    /// dK_j, dV_j on chip, inner loop over Q blocks rebuilding P_ij = exp(S_ij − L_i); dQ_i is read
    /// and written in HBM every pass (atomic adds on a GPU). Per K/V head: reads
    /// `2Rd + 2Cd + Tc·(3Rd + 2R)`, writes `R + Tc·Rd + 2Cd`.
    static func backward(_ p: TileProblem, blocks: BlockSizes, memory mem: MemoryHierarchy, forward f: ForwardPass<Saved>) -> Gradients {
        let d = p.d, R = p.rows, br = blocks.br
        let Tr = (R + br - 1) / br
        var ws = Workspace()
        defer { ws.deallocate() }
        let buffers = BackwardBuffers(p, in: &ws)
        let O = ws.copy(f.o)                                                                  // HBM [q_heads × N × d]
        let D = ws.filled(p.layout.qHeads * p.n)                                              // HBM [q_heads × N]
        var flops = FlopCount()
        for g in 0..<p.layout.kvHeads {
            for i in 0..<Tr {                                                                 // preprocessing: D_i
                let rows = (i * br)..<min(R, (i + 1) * br), nr = rows.count
                mem.beginStep(.rowDot, kvHead: g, i: i, j: nil, rows: rows, cols: 0..<0)
                mem.load(.O, nr * d, i: i)
                mem.load(.dO, nr * d, i: i)
                mem.allocate(nr)
                for r in rows { D[g * R + r] = Kernels.dot(O + (g * R + r) * d, buffers.dO + (g * R + r) * d, d) }
                flops.other += 2 * nr * d
                mem.store(.D, nr, i: i)
                mem.free(2 * nr * d + nr)
                mem.endStep()
            }
        }
        // Per Q block: Q_i, dO_i, dQ_i, L_i, D_i from HBM; P_ij = exp(S_ij − L_i).
        BackwardBlock.sweep(p, blocks: blocks, memory: mem, buffers: buffers, flops: &flops,
                            rowLoads: [(.Q, d), (.dO, d), (.dQ, d), (.L, 1), (.D, 1)], onChipPerRow: 0,
                            extraFlops: { _, _ in FlopCount() },
                            probability: { g, r, s in DetMath.exp(s - f.saved.L[g * R + r]) },
                            rowD: { g, r in D[g * R + r] })
        return buffers.gradients(p, in: ws, flops: flops)
    }

    // MARK: - Closed forms (docs/io-model.md)

    /// Forward: Q once, K and V once per row block i, O and L written once. Backward: the D pass
    /// reads O, dO and writes D; then K, V once and Q, dO, dQ, L, D read and dQ written once per
    /// column block; dK, dV once.
    static func traffic(_ pass: TilePass, R: Int, C: Int, d: Int, blocks b: BlockSizes, sramElements M: Int) -> (reads: Int, writes: Int) {
        let Tr = (R + b.br - 1) / b.br, Tc = (C + b.bc - 1) / b.bc
        switch pass {
        case .forward: return (R * d + Tr * 2 * C * d, R * d + R)
        case .backward: return (2 * R * d + 2 * C * d + Tc * (3 * R * d + 2 * R), R + Tc * R * d + 2 * C * d)
        }
    }

    /// Forward: Q_i, O_i, l_i, m_i, K_j, V_j, S_ij and m_new. Backward: the larger of the D pass and
    /// the block loop (K_j, V_j, dK_j, dV_j, three row blocks, P_ij, dP_ij, L_i, D_i).
    static func peakSram(_ pass: TilePass, R: Int, C: Int, d: Int, blocks b: BlockSizes, sramElements M: Int) -> Int {
        let br = b.br, bc = b.bc
        switch pass {
        case .forward: return 2 * bc * d + 2 * br * d + br * bc + 3 * br
        case .backward: return max(2 * br * d + br, 4 * bc * d + 3 * br * d + 2 * br * bc + 2 * br)
        }
    }
}
