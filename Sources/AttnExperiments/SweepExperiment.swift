import AttnEngine
import AttnTiling
import AttnTrace

/// Naive, fa1 and fa2 over a range of SRAM sizes, sequence lengths or block sizes, with the fitted
/// exponents of their HBM traffic (`attnlab tile sweep`).
public struct SweepExperiment: Experiment {
    public var axis: SweepAxis = .sram
    /// The values swept; nil for the axis's defaults.
    public var values: [Int]?
    public var tile = TileSpec()
    /// Count the backward pass too.
    public var backward = false

    public init() {}

    public init(_ r: inout FlagReader) throws(ConfigError) {
        axis = try r.choice(.sweepAxis) ?? axis
        values = try r.string(.values).map { text throws(ConfigError) in try parseList(text, field: .values, minimum: 2) }
        tile = try TileSpec(&r)
        backward = try r.flag(.backward)
    }

    public func validate() throws {}

    public func run() throws(ConfigError) -> SweepOutput {
        if axis == .sram && (tile.sramElements != nil || tile.sram != nil) {
            throw ConfigError(.sramElements, "the SRAM size is what --over sram varies; give the sizes with --values")
        }
        if axis == .n && tile.n != nil {
            throw ConfigError(.n, "N is what --over n varies; give the lengths with --values")
        }
        let rows = try Sweep.run(over: axis, values: values ?? axis.defaultValues, sramElements: try tile.sramElementCount(), dtype: tile.dtype,
                                 backward: backward, problem: tile.problem(n:), n: tile.sequenceLength)
        return SweepOutput(experiment: self, rows: rows, exponents: TileAlgorithm.allCases.map { ($0, Sweep.exponent(rows, $0)) })
    }
}

public struct SweepOutput: ExperimentOutput {
    public let experiment: SweepExperiment
    public let rows: [SweepPoint]
    /// The least-squares slope of log(accesses) on log(value), per algorithm.
    public let exponents: [(algorithm: TileAlgorithm, exponent: Double)]

    public static let valueNames = ValueNames(
        numbers: ["n", "d", "causal", "backward", "rows.#.value", "rows.#.block_rows", "rows.#.block_cols", "rows.#.sram_elements",
                  "rows.#.hbm_reads", "rows.#.hbm_writes", "rows.#.hbm_accesses", "rows.#.peak_sram", "rows.#.flops", "exponents.*"],
        texts: ["over", "rows.#.algo"])

    public var json: JSON {
        let e = experiment
        return .object([
            ("over", .string(e.axis.rawValue)), ("n", .int(e.tile.sequenceLength)), ("d", .int(e.tile.d)), ("causal", .bool(e.tile.causal)), ("backward", .bool(e.backward)),
            ("rows", .array(rows.map { row in
                let r = row.result
                return .object([("value", .int(row.value)), ("algo", .string(r.algorithm.rawValue)), ("block_rows", .int(r.blocks.br)),
                                ("block_cols", .int(r.blocks.bc)), ("sram_elements", .int(r.sramElements)), ("hbm_reads", .int(r.hbmReads)),
                                ("hbm_writes", .int(r.hbmWrites)), ("hbm_accesses", .int(r.hbmAccesses)), ("peak_sram", .int(r.peakSram)),
                                ("flops", .int(r.flops.total))])
            })),
            ("exponents", .object(exponents.map { ($0.algorithm.rawValue, .double(($0.exponent * 1000).rounded() / 1000)) })),
        ])
    }
}
