/// Closed forms of each algorithm's HBM traffic and SRAM working set (docs/io-model.md), for one
/// K/V head with R query rows (G·N) and C key rows (N), non-causal. The simulator counts; these
/// formulas predict, and choose blocks for `--fit-sram`.
public enum IOModel {
    /// (reads, writes) in elements for one K/V head.
    public static func forward(_ algo: TileAlgorithm, R: Int, C: Int, d: Int, blocks b: BlockSizes, sramElements M: Int) -> (reads: Int, writes: Int) {
        let Tr = (R + b.br - 1) / b.br, Tc = (C + b.bc - 1) / b.bc
        switch algo {
        case .fa1:
            return (2 * C * d + Tc * (2 * R * d + 2 * R), Tc * (R * d + 2 * R))
        case .fa2:
            return (R * d + Tr * 2 * C * d, R * d + R)
        case .naive:
            let softmaxReads = NaiveAttention.softmaxRowsPerChunk(sramElements: M, cols: C) >= 1 ? R * C : 3 * R * C
            return (R * d + Tr * C * d + softmaxReads + R * C + Tr * C * d, 2 * R * C + R * d)
        }
    }

    public static func backward(_ algo: TileAlgorithm, R: Int, C: Int, d: Int, blocks b: BlockSizes, sramElements M: Int) -> (reads: Int, writes: Int) {
        let Tr = (R + b.br - 1) / b.br, Tc = (C + b.bc - 1) / b.bc
        switch algo {
        case .fa1:
            return (2 * C * d + Tc * (4 * R * d + 2 * R), Tc * R * d + 2 * C * d)
        case .fa2:
            return (2 * R * d + 2 * C * d + Tc * (3 * R * d + 2 * R), R + Tc * R * d + 2 * C * d)
        case .naive:
            let dSReads = NaiveAttention.dSRowsPerChunk(sramElements: M, cols: C) >= 1 ? 2 * R * C : 4 * R * C
            let reads = (R * C + Tc * R * d) + (R * d + Tr * C * d) + dSReads + (R * C + Tr * C * d) + (R * C + Tc * R * d)
            return (reads, C * d + R * C + R * C + R * d + C * d)
        }
    }

    /// The most SRAM elements a pass holds at once with full blocks.
    public static func peakSram(_ algo: TileAlgorithm, backward: Bool, R: Int, C: Int, d: Int, blocks b: BlockSizes, sramElements M: Int) -> Int {
        let br = b.br, bc = b.bc
        switch (algo, backward) {
        case (.fa1, false): return 2 * bc * d + 2 * br * d + br * bc + 6 * br
        case (.fa1, true): return 4 * bc * d + 4 * br * d + 2 * br * bc + 3 * br
        case (.fa2, false): return 2 * bc * d + 2 * br * d + br * bc + 3 * br
        case (.fa2, true): return max(2 * br * d + br, 4 * bc * d + 3 * br * d + 2 * br * bc + 2 * br)
        case (.naive, false):
            let rows = NaiveAttention.softmaxRowsPerChunk(sramElements: M, cols: C)
            let softmax = rows >= 1 ? min(rows, R) * (C + 2) : 2 + min(C, max(1, M - 2))
            return max(br * d + bc * d + br * bc, softmax)
        case (.naive, true):
            let rows = NaiveAttention.dSRowsPerChunk(sramElements: M, cols: C)
            let dS = rows >= 1 ? min(rows, R) * (2 * C + 1) : 1 + 2 * min(C, max(1, (M - 1) / 2))
            return max(br * d + bc * d + br * bc, dS)
        }
    }

    /// The default blocks: FlashAttention's published `Bc = ⌈M/4d⌉, Br = min(Bc, d)` for fa1/fa2;
    /// for naive the same Bc and the largest Br whose matmul working set `Br·d + Bc·d + Br·Bc` fits.
    /// Both capped at the matrix size.
    public static func defaultBlocks(_ algo: TileAlgorithm, R: Int, C: Int, d: Int, sramElements M: Int) -> BlockSizes {
        let published = BlockSizes.published(sramElements: M, d: d)
        let bc = min(published.bc, C)
        switch algo {
        case .fa1, .fa2: return BlockSizes(br: min(published.br, R), bc: bc)
        case .naive: return BlockSizes(br: max(1, min(R, (M - bc * d) / (d + bc))), bc: bc)
        }
    }

    /// The blocks with the least HBM traffic (forward, plus backward when asked) whose working set
    /// fits in M; ties go to the larger block. nil when not even 1 × 1 blocks fit.
    public static func fittingBlocks(_ algo: TileAlgorithm, backward: Bool, R: Int, C: Int, d: Int, sramElements M: Int) -> BlockSizes? {
        func fits(_ b: BlockSizes) -> Bool {
            peakSram(algo, backward: false, R: R, C: C, d: d, blocks: b, sramElements: M) <= M
                && (!backward || peakSram(algo, backward: true, R: R, C: C, d: d, blocks: b, sramElements: M) <= M)
        }
        func accesses(_ b: BlockSizes) -> Int {
            let f = forward(algo, R: R, C: C, d: d, blocks: b, sramElements: M)
            let g = backward ? self.backward(algo, R: R, C: C, d: d, blocks: b, sramElements: M) : (0, 0)
            return f.reads + f.writes + g.0 + g.1
        }
        var best: (BlockSizes, Int)? = nil
        for bc in 1...C {
            guard fits(BlockSizes(br: 1, bc: bc)) else { break }
            // The working set grows with Br, so the largest fitting Br is found by bisection.
            var lo = 1, hi = R
            while lo < hi {
                let mid = (lo + hi + 1) / 2
                if fits(BlockSizes(br: mid, bc: bc)) { lo = mid } else { hi = mid - 1 }
            }
            let b = BlockSizes(br: lo, bc: bc), a = accesses(b)
            if best == nil || a < best!.1 || (a == best!.1 && b.br * b.bc >= best!.0.br * best!.0.bc) { best = (b, a) }
        }
        return best?.0
    }
}
