/// Closed forms of each algorithm's HBM traffic and SRAM working set (docs/io-model.md), for one
/// K/V head with R query rows (G·N) and C key rows (N), non-causal. The simulator counts; these
/// formulas predict, and choose blocks for `--fit-sram`. Each algorithm's own formulas sit beside its
/// code (`TiledAlgorithm`); these dispatch to them and search over them.
extension TileAlgorithm {
    /// HBM (reads, writes) in elements of one pass for one K/V head.
    public func traffic(_ pass: TilePass, R: Int, C: Int, d: Int, blocks: BlockSizes, sramElements M: Int) -> (reads: Int, writes: Int) {
        kernel.traffic(pass, R: R, C: C, d: d, blocks: blocks, sramElements: M)
    }

    /// The most SRAM elements one pass holds at once with full blocks.
    public func peakSram(_ pass: TilePass, R: Int, C: Int, d: Int, blocks: BlockSizes, sramElements M: Int) -> Int {
        kernel.peakSram(pass, R: R, C: C, d: d, blocks: blocks, sramElements: M)
    }

    /// The SRAM a run needs: the forward pass's peak, or the larger of both passes' with `backward`.
    public func workingSet(backward: Bool, R: Int, C: Int, d: Int, blocks: BlockSizes, sramElements M: Int) -> Int {
        max(peakSram(.forward, R: R, C: C, d: d, blocks: blocks, sramElements: M),
            backward ? peakSram(.backward, R: R, C: C, d: d, blocks: blocks, sramElements: M) : 0)
    }

    /// The default blocks: FlashAttention's published `Bc = ⌈M/4d⌉, Br = min(Bc, d)` for fa1/fa2;
    /// for naive the same Bc and the largest Br whose matmul working set `Br·d + Bc·d + Br·Bc` fits.
    /// Both capped at the matrix size.
    public func defaultBlocks(R: Int, C: Int, d: Int, sramElements M: Int) -> BlockSizes {
        kernel.defaultBlocks(R: R, C: C, d: d, sramElements: M)
    }

    /// The blocks with the least HBM traffic (forward, plus backward when asked) whose working set
    /// fits in M; ties go to the larger block. nil when not even 1 × 1 blocks fit.
    public func fittingBlocks(backward: Bool, R: Int, C: Int, d: Int, sramElements M: Int) -> BlockSizes? {
        func fits(_ b: BlockSizes) -> Bool {
            workingSet(backward: backward, R: R, C: C, d: d, blocks: b, sramElements: M) <= M
        }
        func accesses(_ b: BlockSizes) -> Int {
            let f = traffic(.forward, R: R, C: C, d: d, blocks: b, sramElements: M)
            let g = backward ? traffic(.backward, R: R, C: C, d: d, blocks: b, sramElements: M) : (0, 0)
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
