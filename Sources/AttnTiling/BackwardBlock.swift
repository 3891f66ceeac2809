import AttnEngine

/// One block of the recomputing backward pass, shared by FlashAttention 1 and 2 (they differ only in
/// how P is rebuilt from the saved statistics and in loop bookkeeping):
///
///     S_ij = τ Q_i K_jᵀ;  P_ij = probability(S_ij);  dV_j += P_ijᵀ dO_i;  dP_ij = dO_i V_jᵀ
///     dS_ij = P_ij ∘ (dP_ij − D_i);  dQ_i += τ dS_ij K_j;  dK_j += τ dS_ijᵀ Q_i
///
/// (FA1 Algorithm 4, lines 11–20; FA2 Algorithm 2.) Gradients accumulate straight into the
/// `BackwardBuffers` in the order the algorithm visits blocks.
enum BackwardBlock {
    /// The loops both recomputing backward passes share: outer over K/V blocks j (K_j, V_j loaded
    /// once; dK_j, dV_j accumulate on chip and are written after the column's last block), inner over
    /// Q blocks i (each loads `rowLoads` — tensor and elements per row — and `onChipPerRow` scratch),
    /// skipping blocks above the causal diagonal; dQ_i is written back every pass.
    static func sweep(_ p: TileProblem, blocks: BlockSizes, memory mem: MemoryHierarchy, buffers: BackwardBuffers, flops: inout FlopCount,
                      rowLoads: [(TileTensor, Int)], onChipPerRow: Int, extraFlops: (_ rows: Int, _ cols: Int) -> FlopCount,
                      probability: (_ g: Int, _ row: Int, _ score: Float) -> Float, rowD: (_ g: Int, _ row: Int) -> Float) {
        let d = p.d, R = p.rows, C = p.n, br = blocks.br, bc = blocks.bc
        let Tr = (R + br - 1) / br, Tc = (C + bc - 1) / bc
        var ws = Workspace()
        defer { ws.deallocate() }
        let P = ws.filled(br * bc), dP = ws.filled(br * bc)                                   // on chip [Br × Bc]
        let perRow = rowLoads.reduce(0) { $0 + $1.1 } + onChipPerRow
        for g in 0..<p.layout.kvHeads {
            for j in 0..<Tc {
                let cols = (j * bc)..<min(C, (j + 1) * bc), nc = cols.count
                var loaded = false
                for i in 0..<Tr {
                    let rows = (i * br)..<min(R, (i + 1) * br), nr = rows.count
                    // The last row block always holds the last positions, so it is never skipped.
                    let causal = p.causalState(rows: rows, cols: cols)
                    if causal.skip { continue }
                    mem.beginStep(.backward, kvHead: g, i: i, j: j, rows: rows, cols: cols, masked: causal.mask)
                    if !loaded {
                        mem.load(.K, nc * d, j: j)
                        mem.load(.V, nc * d, j: j)
                        mem.allocate(2 * nc * d)                                              // dK_j, dV_j = 0 on chip
                        loaded = true
                    }
                    for (tensor, elements) in rowLoads { mem.load(tensor, nr * elements, i: i) }
                    mem.allocate(2 * nr * nc + nr * onChipPerRow)                             // P_ij, dP_ij (dS_ij in place), scratch
                    run(p, g: g, rows: rows, cols: cols, mask: causal.mask, buffers: buffers, P: P, dP: dP, flops: &flops,
                        probability: { probability(g, $0, $1) }, rowD: { rowD(g, $0) })
                    flops = flops + extraFlops(nr, nc)
                    mem.store(.dQ, nr * d, i: i)
                    mem.free(nr * perRow + 2 * nr * nc)
                    if i == Tr - 1 {                                                          // the column's last block
                        mem.store(.dK, nc * d, j: j)
                        mem.store(.dV, nc * d, j: j)
                        mem.free(4 * nc * d)
                    }
                    mem.endStep()
                }
            }
        }
    }

    /// One block (i, j) of K/V group `g`: P_ij and dS_ij in `P` and `dP`, gradients into `buffers`.
    static func run(_ p: TileProblem, g: Int, rows: Range<Int>, cols: Range<Int>, mask: Bool, buffers: BackwardBuffers,
                    P s: UnsafeMutablePointer<Float>, dP ds: UnsafeMutablePointer<Float>, flops: inout FlopCount,
                    probability: (_ row: Int, _ score: Float) -> Float, rowD: (_ row: Int) -> Float) {
        let d = p.d, R = p.rows, C = p.n, nr = rows.count, nc = cols.count, tau = p.scale
        let q = buffers.q + g * R * d, dO = buffers.dO + g * R * d, dq = buffers.dq + g * R * d            // [G·N × d]
        let k = buffers.k + g * C * d, v = buffers.v + g * C * d                              // [N × d]
        let dk = buffers.dk + g * C * d, dv = buffers.dv + g * C * d
        withUnsafeTemporaryAllocation(of: Int.self, capacity: nr) { visible in
            TileKernels.visibleKeys(p, rows: rows, cols: cols, mask: mask, into: visible.baseAddress!)
            TileKernels.scores(p, q: q, k: k + cols.lowerBound * d, rows: rows, cols: cols, mask: mask, visible: visible.baseAddress!, into: s)
        }
        for a in 0..<nr {
            let r = rows.lowerBound + a
            let D = rowD(r)
            for b in 0..<nc {
                let c = cols.lowerBound + b
                let pij = s[a * nc + b] == -.infinity ? 0 : probability(r, s[a * nc + b])
                s[a * nc + b] = pij
                if pij != 0 { Kernels.axpy(pij, dO + r * d, dv + c * d, d) }                  // dV_j += P_ijᵀ dO_i
                let dpij = Kernels.dot(dO + r * d, v + c * d, d)                              // dP_ij = dO_i V_jᵀ
                ds[a * nc + b] = pij * (dpij - D)                                              // dS_ij
            }
        }
        for a in 0..<nr {
            let r = rows.lowerBound + a
            for b in 0..<nc where ds[a * nc + b] != 0 {
                let c = cols.lowerBound + b, w = ds[a * nc + b] * tau
                Kernels.axpy(w, k + c * d, dq + r * d, d)                                     // dQ_i += τ dS_ij K_j
                Kernels.axpy(w, q + r * d, dk + c * d, d)                                     // dK_j += τ dS_ijᵀ Q_i
            }
        }
        flops.matmul += 10 * nr * nc * d
        flops.exp += nr * nc
        flops.other += 3 * nr * nc
    }
}
