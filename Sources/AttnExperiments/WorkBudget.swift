import AttnEngine
import AttnTrace
import Foundation

/// How long a run may take: every verb that can run for minutes estimates its work first and
/// refuses what exceeds the budget, with the estimate and the flag that raises it, instead of
/// running for half an hour (a 65,536-token decode) or forever (`bench --repeat` near Int.max).
public struct WorkBudget: Sendable, Hashable {
    /// Seconds a run may be estimated to take (`max-seconds`).
    public var maxSeconds = WorkBudget.defaultSeconds

    /// About a minute, like the tiling simulator's own limit (`TileProblem.maxMultiplyAdds`).
    public static let defaultSeconds = 60.0

    public init() {}

    public init(_ r: inout FlagReader) throws(ConfigError) {
        maxSeconds = try r.double(.maxSeconds) ?? maxSeconds
    }

    /// Throws unless `estimate` fits the budget.
    /// - Throws: a `ConfigError` naming the inputs that set the amount of work and `maxSeconds`,
    ///   with the estimate and the budget that would run it.
    public func check(_ estimate: WorkEstimate) throws(ConfigError) {
        guard maxSeconds > 0, maxSeconds.isFinite else {
            throw ConfigError(.maxSeconds, "must be a positive number of seconds, got \(maxSeconds)")
        }
        guard estimate.seconds <= maxSeconds else {
            let fields = estimate.fields + [.maxSeconds]
            guard estimate.seconds < Self.lifetime else {
                throw ConfigError(.fields(fields), "\(estimate.what) would take more than 30 years on this machine; ask for less")
            }
            // Rounded up to the next 10 s, so that the suggested budget really runs it.
            let enough = Int((estimate.seconds / 10).rounded(.up)) * 10
            throw ConfigError(.fields(fields),
                              "\(estimate.what) would take about \(Self.spelled(estimate.seconds)) on this machine, above the budget of \(Self.spelled(maxSeconds)); ask for less, or raise the budget to \(Format.grouped(enough)) seconds to run it anyway")
        }
    }

    /// Estimates beyond this (about 30 years) get no budget that would run them.
    static let lifetime = 1e9

    /// "45 s", "25 min", "3.2 h", "12 days".
    static func spelled(_ seconds: Double) -> String {
        switch seconds {
        case ..<120: "\(Format.fixed(seconds, seconds < 10 ? 1 : 0)) s"
        case ..<7_200: "\(Format.fixed(seconds / 60, 0)) min"
        case ..<172_800: "\(Format.fixed(seconds / 3_600, 1)) h"
        default: "\(Format.grouped(Int(Swift.min(seconds, lifetime) / 86_400))) days"
        }
    }
}

/// A run's work in seconds on this machine, from what it computes: multiply-adds times the seconds
/// one takes, measured on the 2-core machine AttnLab is developed on (a release build, one core
/// busy). The constants err towards more time, so a refused run really is long.
public struct WorkEstimate: Sendable {
    /// What is estimated, for the message: "decoding 16,384 tokens".
    public let what: String
    public let seconds: Double
    /// The inputs that set the amount of work.
    public let fields: [Field]

    public init(what: String, seconds: Double, fields: [Field]) {
        self.what = what
        self.seconds = seconds
        self.fields = fields
    }

    /// Seconds per weight multiply-add when tokens go through one at a time (a decode step: matrix ×
    /// vector) and in blocks (prefill and perplexity windows: matrix × matrix). Measured on SmolLM2-135M
    /// on this project's 2-core machine (`bench --model`: 108 decoded and 262 prompt tokens/s, i.e.
    /// 6.9e-11 and 2.8e-11 s), with some to spare.
    static let secondsPerWeightMultiplyAdd = (oneAtATime: 9e-11, inBlocks: 4e-11)
    /// Seconds per (query, key) pair of one head: its q·k, its exp in the softmax and its p·v, whose
    /// cost hardly depends on head_dim at these sizes. One token at a time with the per-step
    /// bookkeeping (the default model decoding 8,000 tokens: 3.3 s, 6.5e-9 s a pair), and in blocks
    /// (one 8,192-token perplexity window of the default model: 2.6 s, 4.9e-9 s a pair).
    static let secondsPerAttentionPair = (oneAtATime: 1e-8, inBlocks: 7e-9)
    /// Seconds per multiply-add of the tiling simulator's products (`TiledAttention.run`).
    static let secondsPerTiledMultiplyAdd = 5e-10
    /// Seconds to map and check a pretrained model, per parameter (SmolLM2-135M: 0.06 s).
    static let secondsPerLoadedParameter = 1e-9

    /// Seconds for `passes` runs of a decoder of `config` over `tokens` tokens with an empty cache:
    /// every token multiplies every weight once (the parameter count) and attends to the tokens
    /// before it and itself (layers × query heads pairs per cached token).
    public static func decoderSeconds(_ config: DecoderConfig, tokens: Int, inBlocks: Bool, passes: Int = 1) -> Double {
        let t = Double(tokens)
        let weights = t * Double(config.paramCount.total)
        let pairs = Double(config.layers * config.attention.qHeads) * t * (t + 1) / 2
        let perWeight = inBlocks ? secondsPerWeightMultiplyAdd.inBlocks : secondsPerWeightMultiplyAdd.oneAtATime
        let perPair = inBlocks ? secondsPerAttentionPair.inBlocks : secondsPerAttentionPair.oneAtATime
        return Double(passes) * (weights * perWeight + pairs * perPair)
    }

    /// Seconds to load a pretrained model of `config` from its file.
    public static func loadSeconds(_ config: DecoderConfig) -> Double {
        Double(config.paramCount.total) * secondsPerLoadedParameter
    }

    /// Seconds for `runs` forward passes of the tiling simulator on an N × d problem: two products
    /// of N²·d multiply-adds each.
    public static func tiledSeconds(n: Int, d: Int, runs: Double) -> Double {
        runs * 2 * Double(n) * Double(n) * Double(d) * secondsPerTiledMultiplyAdd
    }
}

extension DecodeSpec {
    /// Refuses a decode of `promptTokens` + `tokens` over `config` that would exceed the budget;
    /// `passes` counts a verification's uncached recomputation.
    func checkBudget(_ config: DecoderConfig, promptTokens: Int, passes: Int) throws(ConfigError) {
        let seconds = WorkEstimate.decoderSeconds(config, tokens: promptTokens, inBlocks: true, passes: passes)
            + WorkEstimate.decoderSeconds(config, tokens: promptTokens + tokens, inBlocks: false, passes: passes)
            - WorkEstimate.decoderSeconds(config, tokens: promptTokens, inBlocks: false, passes: passes)
        try budget.check(WorkEstimate(what: "decoding \(Format.grouped(tokens)) tokens after a prompt of \(Format.grouped(promptTokens))",
                                      seconds: seconds, fields: [.tokens]))
    }
}

extension EvalSpec {
    /// Refuses scoring `tokens` tokens with `models` models of about `config`'s size that would
    /// exceed the budget.
    func checkBudget(_ config: DecoderConfig, tokens: Int, models: Int) throws(ConfigError) {
        let windows = tokens / windowTokens, rest = tokens % windowTokens
        let seconds = Double(models) * (WorkEstimate.decoderSeconds(config, tokens: windowTokens, inBlocks: true, passes: windows)
            + WorkEstimate.decoderSeconds(config, tokens: rest, inBlocks: true))
        let what = "scoring \(Format.grouped(tokens)) tokens" + (models > 1 ? " with \(models) models" : "")
        try budget.check(WorkEstimate(what: what, seconds: seconds, fields: [.maxTokens, .evalWindow] + (models > 1 ? [.variants] : [])))
    }
}

/// A progress line on standard error for work that takes more than a few seconds: shown only when
/// standard error is a terminal (pipes, files and tests see nothing), after `delay`, at most ten
/// times a second, and erased when the work is done.
public final class ProgressLine {
    private let label: String
    private let total: Int
    private let start = ContinuousClock.now
    private var last = ContinuousClock.now
    private var shown = false
    private let enabled = isatty(STDERR_FILENO) != 0

    /// Work shorter than this never shows a line: 2 s, or the seconds in `ATTNLAB_PROGRESS_AFTER`
    /// (tests set 0 to see the line of a short run without waiting).
    public static let delay: Duration = {
        let text = ProcessInfo.processInfo.environment["ATTNLAB_PROGRESS_AFTER"]
        guard let seconds = text.flatMap(Double.init), seconds.isFinite, seconds >= 0 else { return .seconds(2) }
        return .seconds(seconds)
    }()

    /// - Parameters:
    ///   - label: what is counted, e.g. "decode: token".
    ///   - total: the count when done.
    public init(_ label: String, total: Int) {
        self.label = label
        self.total = total
    }

    /// Shows `done` of `total`, and a note such as a loss and a rate, if the work has run longer than `delay`.
    public func update(_ done: Int, detail: String? = nil) {
        guard enabled else { return }
        let now = ContinuousClock.now
        guard now - start >= Self.delay, !shown || now - last >= .milliseconds(100) || done == total else { return }
        last = now
        shown = true
        let percent = total > 0 ? " (\(100 * done / total)%)" : ""
        FileHandle.standardError.write(Data("\r\u{1B}[K\(label) \(Format.grouped(done))/\(Format.grouped(total))\(percent)\(detail.map { " · \($0)" } ?? "")".utf8))
    }

    /// Erases the line, so that what is printed next starts on a clean line.
    public func clear() {
        guard shown else { return }
        shown = false
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    }

    deinit { clear() }
}
