import AttnEngine

/// How to run one simulated attention.
public struct TileOptions: Sendable {
    public var algorithm: TileAlgorithm
    /// SRAM capacity M in elements.
    public var sramElements: Int
    /// Element size for bytes (the simulator computes in fp32; this is what a kernel would move).
    public var dtype: DType = .fp32
    /// Explicit blocks (`--br/--bc`); nil for the defaults.
    public var blocks: BlockSizes? = nil
    /// Pick the fitting blocks with the least HBM traffic (`--fit-sram`).
    public var fitSram = false
    public var backward = false
    public var recordSteps = false
    /// The query row (of head 0) whose online-softmax state each step records.
    public var watchRow: Int? = nil
    /// Off only for benchmarking the bookkeeping.
    public var counting = true
    /// Check against the float64 reference.
    public var check = true
    /// Independent copies of the problem (a batch: `--batch`). One copy is simulated and checked; the
    /// counts are for all of them.
    public var batch = 1

    public init(algorithm: TileAlgorithm, sramElements: Int) {
        self.algorithm = algorithm
        self.sramElements = sramElements
    }
}

/// Where a run's blocks came from; the raw value is what traces and `--json` print.
public enum BlockSource: String, Sendable {
    /// The algorithm's default blocks (FlashAttention's published `Bc = ⌈M/4d⌉, Br = min(Bc, d)`).
    case `default` = "default"
    /// Given with `--br/--bc`.
    case given = "given"
    /// The least HBM traffic whose working set fits in M (`--fit-sram`).
    case fit = "fit"
}

/// Everything one simulated run measured.
public struct TileResult: Sendable {
    public let algorithm: TileAlgorithm
    public let n: Int
    public let d: Int
    public let layout: AttentionLayout
    public let causal: Bool
    public let sramElements: Int
    public let dtype: DType
    public let blocks: BlockSizes
    public let blockSource: BlockSource
    /// Independent copies of the problem the counts are for; the steps, O and gradients are one copy's.
    public let batch: Int
    public let forward: PassCounts
    public let backward: PassCounts?
    public let steps: [TileStep]
    public let o: [Float]
    /// Largest |O − O_ref| over the checked rows; nil when not checked.
    public let maxAbsError: Double?
    /// Query positions per head compared with the reference.
    public let checkedRows: Int
    /// Largest |grad − grad_ref| over dQ, dK, dV; nil without --backward or when too large to check.
    public let maxAbsGradError: Double?
    public let dq: [Float]?
    public let dk: [Float]?
    public let dv: [Float]?
    public let watchRow: Int?
    /// The watched row's true max and sum of exp(s − max), from the reference.
    public let watchTrueMax: Double?
    public let watchTrueSum: Double?

    public var hbmReads: Int { forward.hbmReads + (backward?.hbmReads ?? 0) }
    public var hbmWrites: Int { forward.hbmWrites + (backward?.hbmWrites ?? 0) }
    public var hbmAccesses: Int { hbmReads + hbmWrites }
    public var hbmBytes: Int { hbmAccesses * dtype.bits / 8 }
    public var peakSram: Int { max(forward.peakSram, backward?.peakSram ?? 0) }
    public var flops: FlopCount { forward.flops + (backward?.flops ?? FlopCount()) }
    public var exceedsSram: Bool { peakSram > sramElements }
    /// Query rows per K/V head.
    public var rows: Int { layout.groupSize * n }

    /// The closed form (docs/io-model.md) of one pass's HBM traffic over all K/V heads (and copies), and whether
    /// the simulator counted exactly that. nil for causal runs (the closed forms are for full
    /// attention) and for `.backward` when the run had no backward pass.
    public func closedForm(_ pass: TilePass) -> ClosedFormCheck? {
        let counted: PassCounts?
        switch pass {
        case .forward: counted = forward
        case .backward: counted = backward
        }
        guard !causal, let counted else { return nil }
        let perHead = algorithm.traffic(pass, R: rows, C: n, d: d, blocks: blocks, sramElements: sramElements)
        let reads = perHead.reads * layout.kvHeads * batch, writes = perHead.writes * layout.kvHeads * batch
        return ClosedFormCheck(reads: reads, writes: writes, equalsCount: reads == counted.hbmReads && writes == counted.hbmWrites)
    }
}

/// A pass's HBM traffic as the closed form predicts it, in elements, checked against the count.
public struct ClosedFormCheck: Sendable, Equatable {
    public let reads: Int
    public let writes: Int
    /// The simulator counted exactly these reads and writes.
    public let equalsCount: Bool
}

/// Runs naive, FlashAttention-1 or FlashAttention-2 attention through the memory model and checks it.
public enum TiledAttention {
    /// The most elements one N×N intermediate of the naive algorithm may have (1 GiB of fp32).
    public static let maxMatrixElements = 1 << 28
    /// Tiles a run may visit (each is counted and may be traced).
    public static let maxTiles = 1 << 22
    /// Float64 reference work allowed for the check, in multiply-adds (beyond it rows are sampled).
    static let referenceBudget = 1 << 26
    /// Copies a batch may have: with `maxTiles` tiles per copy the totals stay far inside 64-bit integers.
    public static let maxBatch = 1 << 16

    /// Runs every part of a pass (row blocks, chunks of rows, reference rows) on the calling thread
    /// instead of across the cores: the results are the same bits either way, and the tests show it.
    @TaskLocal public static var singleThreaded = false

    public static func run(_ p: TileProblem, _ o: TileOptions) throws(ConfigError) -> TileResult {
        let M = o.sramElements, R = p.rows, C = p.n, d = p.d
        try Limits.require(M, .sramElements)
        try ConfigError.requireSize(o.batch, atMost: maxBatch, .batch)
        guard d <= M else { throw ConfigError(.d, "head dimension \(d) exceeds SRAM M = \(M) elements: not even one row of Q fits (FlashAttention assumes d ≤ M)") }
        if o.algorithm == .naive {
            let (size, overflow) = R.multipliedReportingOverflow(by: C)
            guard !overflow, size <= maxMatrixElements else {
                throw ConfigError(.n, "naive attention materializes a \(R)×\(C) matrix, above the simulator's limit of \(maxMatrixElements) elements (1 GiB as fp32); use --algo fa1 or fa2, which never store it")
            }
        }
        if let w = o.watchRow, !(0..<p.n).contains(w) {
            throw ConfigError(.watchRow, "row \(w) is outside 0..<\(p.n)")
        }
        let (blocks, source) = try chooseBlocks(p, o)
        let tiles = ((p.rows + blocks.br - 1) / blocks.br) * ((p.n + blocks.bc - 1) / blocks.bc) * p.layout.kvHeads
        guard tiles <= maxTiles else {
            throw ConfigError(.sramElements, "\(blocks) makes \(tiles) tiles, above the simulator's limit of \(maxTiles); give more SRAM, larger blocks or a smaller --n")
        }

        let forwardMemory = MemoryHierarchy(sramElements: M, recordsSteps: o.recordSteps, counting: o.counting)
        let watch = o.watchRow
        let backwardMemory = o.backward ? MemoryHierarchy(sramElements: M, recordsSteps: o.recordSteps, counting: o.counting) : nil
        let f = passes(o.algorithm.kernel, p, blocks: blocks, forward: forwardMemory, backward: backwardMemory, watchRow: watch)
        let grads = f.grads
        var backwardCounts: PassCounts? = nil
        var steps = forwardMemory.steps
        if let backwardMemory, let grads {
            backwardCounts = PassCounts(backwardMemory, flops: grads.flops, copies: o.batch)
            // One trace for both passes: backward steps continue the numbering and the HBM totals.
            steps += backwardMemory.steps.map { step in
                TileStep(continuing: step, index: steps.count + step.index,
                         reads: forwardMemory.hbmReads, writes: forwardMemory.hbmWrites)
            }
        }

        var maxAbsError: Double? = nil, checkedRows = 0, gradError: Double? = nil
        var trueMax: Double? = nil, trueSum: Double? = nil
        if o.check {
            let perRow = p.n * d * p.layout.qHeads
            let count = min(p.n, max(64, referenceBudget / max(1, perRow)))
            var sample = (0..<count).map { $0 * p.n / count }
            if let w = watch, !sample.contains(w) { sample.append(w) }
            let ref = ReferenceAttention.forward(p, rows: count == p.n ? nil : sample)
            checkedRows = count == p.n ? p.n : sample.count
            var err = 0.0
            for h in 0..<p.layout.qHeads {
                for t in (count == p.n ? Array(0..<p.n) : sample) {
                    for e in 0..<d {
                        let i = (h * p.n + t) * d + e
                        err = max(err, abs(Double(f.o[i]) - ref.o[i]))
                    }
                }
            }
            maxAbsError = err
            if let w = watch {
                trueMax = ref.rowMax[w]
                trueSum = ref.rowSum[w]
            }
            if let g = grads, 3 * p.n * perRow <= 4 * referenceBudget {
                let r = ReferenceAttention.backward(p)
                var e = 0.0
                for (x, y) in zip(g.dq, r.dq) { e = max(e, abs(Double(x) - y)) }
                for (x, y) in zip(g.dk, r.dk) { e = max(e, abs(Double(x) - y)) }
                for (x, y) in zip(g.dv, r.dv) { e = max(e, abs(Double(x) - y)) }
                gradError = e
            }
        }
        return TileResult(
            algorithm: o.algorithm, n: p.n, d: d, layout: p.layout, causal: p.causal, sramElements: M, dtype: o.dtype,
            blocks: blocks, blockSource: source, batch: o.batch, forward: PassCounts(forwardMemory, flops: f.flops, copies: o.batch), backward: backwardCounts,
            steps: steps, o: f.o, maxAbsError: maxAbsError, checkedRows: checkedRows, maxAbsGradError: gradError,
            dq: grads?.dq, dk: grads?.dk, dv: grads?.dv, watchRow: watch, watchTrueMax: trueMax, watchTrueSum: trueSum)
    }

    /// The forward pass of one algorithm, then its backward pass when given a memory for it.
    private static func passes<A: TiledAlgorithm>(_ algorithm: A.Type, _ p: TileProblem, blocks: BlockSizes, forward: MemoryHierarchy,
                                                  backward: MemoryHierarchy?, watchRow: Int?) -> (o: [Float], flops: FlopCount, grads: Gradients?) {
        let f = A.forward(p, blocks: blocks, memory: forward, watchRow: watchRow)
        return (f.o, f.flops, backward.map { A.backward(p, blocks: blocks, memory: $0, forward: f) })
    }

    /// The blocks a run uses and where they came from, or an error when nothing fits.
    public static func chooseBlocks(_ p: TileProblem, _ o: TileOptions) throws(ConfigError) -> (BlockSizes, BlockSource) {
        let M = o.sramElements, R = p.rows, C = p.n, d = p.d, algo = o.algorithm
        let minimal = BlockSizes(br: 1, bc: 1)
        let smallest = algo.workingSet(backward: o.backward, R: R, C: C, d: d, blocks: minimal, sramElements: M)
        guard smallest <= M else {
            throw ConfigError(.sramElements, "M = \(M) is below the smallest working set of \(algo.rawValue)\(o.backward ? " with --backward" : "") (\(smallest) elements with Br = Bc = 1 at d = \(d))")
        }
        if let b = o.blocks {
            guard b.br > 0, b.bc > 0 else { throw ConfigError(.fields([.br, .bc]), "block sizes must be positive, got Br = \(b.br), Bc = \(b.bc)") }
            let given = BlockSizes(br: min(b.br, R), bc: min(b.bc, C))
            let need = algo.workingSet(backward: o.backward, R: R, C: C, d: d, blocks: given, sramElements: M)
            guard need <= M else {
                throw ConfigError(.fields([.br, .bc]), "\(given) needs a working set of \(need) elements, more than SRAM M = \(M); smaller blocks or --fit-sram")
            }
            return (given, .given)
        }
        if o.fitSram {
            return (algo.fittingBlocks(backward: o.backward, R: R, C: C, d: d, sramElements: M)!, .fit)
        }
        return (algo.defaultBlocks(R: R, C: C, d: d, sramElements: M), .default)
    }
}

extension TileStep {
    /// `s` renumbered to `index`, with `reads`/`writes` of earlier passes added to its HBM totals.
    init(continuing s: TileStep, index: Int, reads: Int, writes: Int) {
        self.init(index: index, phase: s.phase, kvHead: s.kvHead, i: s.i, j: s.j, rows: s.rows, cols: s.cols, masked: s.masked)
        loads = s.loads
        stores = s.stores
        sramAfter = s.sramAfter
        sramPeak = s.sramPeak
        hbmReads = reads + s.hbmReads
        hbmWrites = writes + s.hbmWrites
        watch = s.watch
    }
}
