import AttnEngine

/// What a sweep varies: the SRAM size M, the sequence length N, or the block size Bc.
public enum SweepAxis: String, CaseIterable, Sendable {
    case sram, n, bc

    public var defaultValues: [Int] {
        switch self {
        case .sram: [2048, 4096, 8192, 16384]
        case .n: [256, 512, 1024, 2048]
        case .bc: [16, 32, 64, 128, 256]
        }
    }
}

/// One algorithm at one value of the swept variable.
public struct SweepPoint: Sendable {
    public let value: Int
    public let result: TileResult
}

/// Runs naive, fa1 and fa2 over a range of one variable, counting only (no float64 check), and
/// fits the scaling exponent of their HBM traffic.
public enum Sweep {
    /// - Parameters:
    ///   - problem: the attention problem for a sequence length (the sweep varies N over `.n`).
    ///   - sramElements: M when it is not the swept variable.
    public static func run(over axis: SweepAxis, values: [Int], sramElements: Int, dtype: DType, backward: Bool,
                           problem: (Int) throws(ConfigError) -> TileProblem, n: Int) throws(ConfigError) -> [SweepPoint] {
        guard Set(values).count == values.count else { throw ConfigError(.values, "\(values.map(String.init).joined(separator: ",")) repeats a value") }
        guard values.count >= 2 else { throw ConfigError(.values, "a sweep needs at least two values") }
        let field: Field = switch axis {
        case .sram: .sramElements
        case .n: .n
        case .bc: .bc
        }
        for value in values { try Limits.require(value, field, reportedAs: .values) }
        if axis == .bc, let big = values.first(where: { $0 > n }) {
            throw ConfigError(.values, "block size \(big) exceeds N = \(n)")
        }
        var points: [SweepPoint] = []
        for value in values {
            let p = try problem(axis == .n ? value : n)
            for algo in TileAlgorithm.allCases {
                var M = axis == .sram ? value : sramElements
                var blocks: BlockSizes? = nil
                if axis == .bc {
                    // Br = min(Bc, d) as published; M = the smallest SRAM holding FlashAttention's
                    // working set at these blocks, so only the block size changes along the sweep.
                    let b = BlockSizes(br: min(value, p.d, p.rows), bc: min(value, p.n))
                    M = [TileAlgorithm.fa1, .fa2].map { a in
                        a.workingSet(backward: backward, R: p.rows, C: p.n, d: p.d, blocks: b, sramElements: 0)
                    }.max()!
                    if algo != .naive { blocks = b }
                }
                var options = TileOptions(algorithm: algo, sramElements: M)
                options.blocks = blocks
                options.backward = backward
                options.dtype = dtype
                options.check = false
                points.append(SweepPoint(value: value, result: try TiledAttention.run(p, options)))
            }
        }
        return points
    }

    /// Least-squares slope of log(HBM accesses) on log(value) for one algorithm.
    public static func exponent(_ points: [SweepPoint], _ algo: TileAlgorithm) -> Double {
        let mine = points.filter { $0.result.algorithm == algo }
        let xs = mine.map { DetMath.log(Double($0.value)) }, ys = mine.map { DetMath.log(Double($0.result.hbmAccesses)) }
        let mx = xs.reduce(0, +) / Double(xs.count), my = ys.reduce(0, +) / Double(ys.count)
        let sxy = zip(xs, ys).reduce(0.0) { $0 + ($1.0 - mx) * ($1.1 - my) }
        let sxx = xs.reduce(0.0) { $0 + ($1 - mx) * ($1 - mx) }
        return sxy / sxx
    }
}
