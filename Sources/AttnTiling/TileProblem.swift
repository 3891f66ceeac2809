import AttnEngine

/// Attention inputs for the simulator: Q `[q_heads × N × d]`, K and V `[kv_heads × N × d]`, and an
/// upstream gradient dO for the backward pass, all N(0, 1) from a seeded stream.
///
/// GQA is handled the way FlashAttention-2 kernels pack it: the `G = q_heads / kv_heads` query
/// heads of a group are stacked into `G·N` rows that share one K/V head, so a K/V block loaded
/// once serves the whole group. Row `r` of a group is query head `r / N` of the group at position
/// `r mod N`.
public struct TileProblem: Sendable {
    public let n: Int
    public let d: Int
    public let layout: AttentionLayout
    public let causal: Bool
    public let seed: UInt64
    public let q: [Float]                                           // [q_heads × N × d]
    public let k: [Float]                                           // [kv_heads × N × d]
    public let v: [Float]                                           // [kv_heads × N × d]
    public let dO: [Float]                                          // [q_heads × N × d]

    public init(n: Int, d: Int, qHeads: Int = 1, kvHeads: Int = 1, causal: Bool = false, seed: UInt64 = 1) throws(ConfigError) {
        try Limits.require(n, .n)
        try Limits.require(d, .d)
        try ConfigError.requireSize(qHeads, atMost: 256, .qHeads)
        layout = try AttentionLayout(qHeads: qHeads, kvHeads: kvHeads, headDim: d)
        // Q, K, V, dO and O live in memory; the products take N²·d multiply-adds per head.
        guard qHeads * n * d <= Self.maxElements else {
            throw ConfigError(.n, "\(qHeads) heads × N \(n) × d \(d) = \(qHeads * n * d) values per tensor, above the simulator's limit of \(Self.maxElements)")
        }
        let work = qHeads * n * n * d
        guard work <= Self.maxMultiplyAdds else {
            throw ConfigError(.n, "N² · d · heads = \(work) multiply-adds per product, above the simulator's limit of \(Self.maxMultiplyAdds) (about a minute); use a smaller --n or --d")
        }
        self.n = n
        self.d = d
        self.causal = causal
        self.seed = seed
        func normal(_ name: String, _ count: Int) -> [Float] {
            var rng = SplitMix64(seed: seed, stream: "tile.\(name)")
            var x = [Float](repeating: 0, count: count)
            rng.fillNormal(&x, std: 1)
            return x
        }
        q = normal("q", qHeads * n * d)
        k = normal("k", kvHeads * n * d)
        v = normal("v", kvHeads * n * d)
        dO = normal("dO", qHeads * n * d)
    }

    /// Values one of Q, K, V, dO may hold (256 MiB of fp32 each).
    public static let maxElements = 1 << 26
    /// Multiply-adds one product Q·Kᵀ may take.
    public static let maxMultiplyAdds = 1 << 36

    /// Softmax scale τ = 1/√d.
    public var scale: Float { 1 / Float(d).squareRoot() }

    /// Query rows per K/V head: `G·N`.
    public var rows: Int { layout.groupSize * n }

    /// The key position of stacked row `r`.
    @inline(__always)
    public func position(ofRow r: Int) -> Int { r % n }

    /// Largest and smallest position among rows `r0..<r1` (for causal block skipping and masking).
    func positions(_ rows: Range<Int>) -> (min: Int, max: Int) {
        let first = rows.lowerBound, last = rows.upperBound - 1
        return first / n == last / n ? (first % n, last % n) : (0, n - 1)
    }

    /// Whether the block rows × cols lies wholly above the causal diagonal (skipped), or partly
    /// (masked).
    func causalState(rows: Range<Int>, cols: Range<Int>) -> (skip: Bool, mask: Bool) {
        guard causal else { return (false, false) }
        let p = positions(rows)
        return (cols.lowerBound > p.max, cols.upperBound - 1 > p.min)
    }
}

/// Block sizes: `br` query rows by `bc` key columns.
public struct BlockSizes: Equatable, Sendable, CustomStringConvertible {
    public let br: Int
    public let bc: Int

    public init(br: Int, bc: Int) {
        self.br = br
        self.bc = bc
    }

    /// FlashAttention Algorithm 1, line 1: `Bc = ⌈M/(4d)⌉`, `Br = min(⌈M/(4d)⌉, d)`.
    public static func published(sramElements M: Int, d: Int) -> BlockSizes {
        let bc = (M + 4 * d - 1) / (4 * d)
        return BlockSizes(br: min(bc, d), bc: bc)
    }

    public var description: String { "Br = \(br), Bc = \(bc)" }
}

/// FLOPs by kind: matrix products count 2 per multiply-add; exp, max, division one each per element;
/// `other` is scaling, sums and rescales.
public struct FlopCount: Equatable, Sendable {
    public var matmul = 0, exp = 0, max = 0, div = 0, other = 0
    public var total: Int { matmul + exp + max + div + other }

    public static func + (a: FlopCount, b: FlopCount) -> FlopCount {
        FlopCount(matmul: a.matmul + b.matmul, exp: a.exp + b.exp, max: a.max + b.max, div: a.div + b.div, other: a.other + b.other)
    }

    /// The FLOPs of `copies` independent runs of the same problem.
    public static func * (a: FlopCount, copies: Int) -> FlopCount {
        FlopCount(matmul: a.matmul * copies, exp: a.exp * copies, max: a.max * copies, div: a.div * copies, other: a.other * copies)
    }
}

/// HBM traffic, SRAM peak and FLOPs of one pass (forward or backward).
public struct PassCounts: Sendable {
    /// Elements read from HBM, per tensor (indexed by `TileTensor.rawValue`).
    public let reads: [Int]
    public let writes: [Int]
    public let peakSram: Int
    public let flops: FlopCount

    public var hbmReads: Int { reads.reduce(0, +) }
    public var hbmWrites: Int { writes.reduce(0, +) }
    public var hbmAccesses: Int { hbmReads + hbmWrites }
    public func reads(_ t: TileTensor) -> Int { reads[t.rawValue] }
    public func writes(_ t: TileTensor) -> Int { writes[t.rawValue] }

    /// One pass of `copies` independent problems (a batch), counted from one of them: a problem's
    /// traffic does not depend on its values, so every copy moves the same elements. They run one
    /// after another (or each on its own SM), so the SRAM peak is one copy's.
    init(_ memory: MemoryHierarchy, flops: FlopCount, copies: Int = 1) {
        reads = memory.reads.map { $0 * copies }
        writes = memory.writes.map { $0 * copies }
        peakSram = memory.peak
        self.flops = flops * copies
    }
}
