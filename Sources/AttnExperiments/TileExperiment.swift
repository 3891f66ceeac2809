import AttnEngine
import AttnTiling
import AttnTrace

/// One simulated attention problem and its memory: shared by `tile`, `tile sweep`, `draw tiles` and
/// `draw io-chart`.
public struct TileSpec: Sendable, Hashable {
    /// Sequence length N (query and key positions); nil for `defaultN`. Kept optional so a sweep over N
    /// can refuse an N it would ignore.
    public var n: Int?
    public static let defaultN = 256
    /// N as the run uses it.
    public var sequenceLength: Int { n ?? Self.defaultN }
    /// Head dimension d.
    public var d = 64
    /// SRAM capacity M in elements (`sram-elements`), or as a size (`sram`, e.g. 96KiB); at most one.
    public var sramElements: Int?
    public var sram: String?
    /// Element type for bytes (the simulator computes in fp32).
    public var dtype: DType = .fp32
    public var causal = false
    public var qHeads = 1
    /// K/V heads (GQA); nil for q-heads.
    public var kvHeads: Int?
    /// Seed of Q, K, V and dO.
    public var seed: UInt64 = 1

    /// M when neither flag is given: 16,384 elements = 64 KiB of fp32.
    public static let defaultSramElements = 16_384

    public init() {}

    public init(_ r: inout FlagReader) throws(ConfigError) {
        n = try r.int(.n)
        d = try r.int(.d) ?? d
        sramElements = try r.int(.sramElements)
        sram = try r.string(.sram)
        dtype = try r.choice(.dtype) ?? dtype
        causal = try r.flag(.causal)
        qHeads = try r.int(.qHeads) ?? qHeads
        kvHeads = try r.int(.kvHeads)
        seed = try r.uint64(.seed) ?? seed
    }

    /// M in elements.
    public func sramElementCount() throws(ConfigError) -> Int {
        switch (sramElements, sram) {
        case (_?, _?): throw ConfigError(.sram, "give either --sram or --sram-elements, not both")
        case (let m?, nil):
            try Limits.require(m, .sramElements)
            return m
        case (nil, let size?):
            let (bits, overflow) = try Self.parseSize(size).multipliedReportingOverflow(by: 8)
            let elements = overflow ? Int.max : bits / dtype.bits
            guard elements > 0 else { throw ConfigError(.sram, "\(size) holds no \(dtype.rawValue) element") }
            guard elements <= Limits.maxSramElements else {
                throw ConfigError(.sram, "\(size) is above AttnLab's limit of \(Limits.maxSramElements) \(dtype.rawValue) elements")
            }
            return elements
        case (nil, nil): return Self.defaultSramElements
        }
    }

    public func problem() throws(ConfigError) -> TileProblem { try problem(n: sequenceLength) }

    /// The problem with another sequence length (for sweeps over N).
    public func problem(n: Int) throws(ConfigError) -> TileProblem {
        try TileProblem(n: n, d: d, qHeads: qHeads, kvHeads: kvHeads ?? qHeads, causal: causal, seed: seed)
    }

    /// "96KiB" → 98304, "192KB" → 192000, "4096" → 4096 bytes; Int.max for a size past Int (the
    /// caller's range check refuses it).
    static func parseSize(_ text: String) throws(ConfigError) -> Int {
        let units: [(String, Int)] = [("kib", 1024), ("mib", 1 << 20), ("kb", 1000), ("mb", 1_000_000), ("b", 1)]
        let t = text.lowercased().filter { $0 != " " }
        for (suffix, scale) in units where t.hasSuffix(suffix) {
            guard let value = Int(t.dropLast(suffix.count)), value > 0 else { break }
            let (bytes, overflow) = value.multipliedReportingOverflow(by: scale)
            return overflow ? Int.max : bytes
        }
        if let value = Int(t), value > 0 { return value }
        throw ConfigError(.sram, "'\(text)' is not a size (examples: 96KiB, 192KB, 65536)")
    }
}

/// One algorithm run through the memory model, every element it moved counted (`attnlab tile`).
public struct TileExperiment: Experiment {
    public var algorithm: TileAlgorithm = .fa2
    public var tile = TileSpec()
    /// Also run the backward pass.
    public var backward = false
    /// Independent copies of the problem (batch elements): one is simulated, the counts are for all.
    public var batch = 1
    /// Explicit block sizes (Br, Bc); nil for the published defaults.
    public var br: Int?
    public var bc: Int?
    /// Pick the fitting blocks with the least HBM traffic.
    public var fitSram = false
    /// The query row (of head 0) whose online softmax the steps record; nil for N − 1.
    public var watchRow: Int?
    /// Record every step (for traces and the tiles figure).
    public var recordSteps = false

    /// The largest errors against the float64 reference the run accepts, for O and for the gradients.
    public static let tolerance = (output: 1e-5, gradients: 1e-4)

    public init() {}

    /// Reads the flags; a run read from flags (a lesson's) records its steps, so its trace is kept.
    public init(_ r: inout FlagReader) throws(ConfigError) {
        algorithm = try r.choice(.algorithm) ?? algorithm
        tile = try TileSpec(&r)
        backward = try r.flag(.backward)
        batch = try r.int(.batch) ?? batch
        br = try r.int(.br)
        bc = try r.int(.bc)
        fitSram = try r.flag(.fitSram)
        watchRow = try r.int(.watchRow)
        recordSteps = true
    }

    public func validate() throws { _ = try tile.sramElementCount() }

    public func run() throws(ConfigError) -> TileOutput {
        let problem = try tile.problem()
        var options = TileOptions(algorithm: algorithm, sramElements: try tile.sramElementCount())
        options.dtype = tile.dtype
        options.backward = backward
        options.batch = batch
        options.fitSram = fitSram
        if br != nil || bc != nil {
            guard !fitSram else { throw ConfigError(.fitSram, "chooses the blocks itself; drop --br/--bc") }
            let defaults = algorithm.defaultBlocks(R: problem.rows, C: problem.n, d: problem.d, sramElements: options.sramElements)
            options.blocks = BlockSizes(br: br ?? defaults.br, bc: bc ?? defaults.bc)
        }
        options.watchRow = watchRow ?? problem.n - 1
        options.recordSteps = recordSteps
        return TileOutput(result: try TiledAttention.run(problem, options))
    }
}

public struct TileOutput: ExperimentOutput {
    public let result: TileResult

    public var json: JSON { TileTrace.summary(result) }
    /// `TileTrace.summary`'s fields; `backward` and its error only with `--backward`.
    public static let valueNames: ValueNames = {
        let pass = ValueNames(numbers: ["hbm_reads", "hbm_writes", "peak_sram", "flops", "reads.*", "writes.*"], texts: [])
        return ValueNames(
            numbers: ["n", "d", "q_heads", "kv_heads", "batch", "causal", "sram_elements", "block_rows", "block_cols", "hbm_reads", "hbm_writes",
                      "hbm_accesses", "hbm_bytes", "peak_sram", "exceeds_sram", "flops", "flops_by_kind.matmul", "flops_by_kind.exp",
                      "flops_by_kind.max", "flops_by_kind.div", "flops_by_kind.other", "max_abs_error", "checked_rows", "max_abs_grad_error"],
            texts: ["algo", "block_source", "dtype"]) + pass.prefixed("forward") + pass.prefixed("backward")
    }()
    public var trace: EngineTrace? {
        result.steps.isEmpty ? nil : EngineTrace(jsonl: TileTrace.jsonl(result), text: TileTrace.text(result))
    }
    /// Whether O (and the gradients) agree with the float64 reference within `TileExperiment.tolerance`.
    public var checked: Bool {
        let t = TileExperiment.tolerance
        return (result.maxAbsError.map { $0 <= t.output } ?? true) && (result.maxAbsGradError.map { $0 <= t.gradients } ?? true)
    }
}
