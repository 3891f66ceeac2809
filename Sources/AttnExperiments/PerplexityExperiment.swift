import AttnEngine
import AttnFigures
import AttnTrace
import Foundation

/// The text a perplexity is measured on, and how it is cut into windows.
public struct EvalSpec: Sendable, Hashable {
    /// The UTF-8 text file to score.
    public var text = ""
    /// Tokens per window; each window starts with an empty cache and its first token is context only.
    public var windowTokens = 512
    /// At most this many tokens from the start of the text (0 = all).
    public var maxTokens = 1024
    /// The type the cache stores K/V in while scoring, and the unit of bytes per token.
    public var dtype: DType = .bf16
    /// How long scoring may be estimated to take.
    public var budget = WorkBudget()

    public init() {}

    public init(_ r: inout FlagReader) throws(ConfigError) {
        text = try r.string(.text) ?? ""
        windowTokens = try r.int(.evalWindow) ?? windowTokens
        maxTokens = try r.int(.maxTokens) ?? maxTokens
        dtype = try r.choice(.dtype) ?? dtype
        budget = try WorkBudget(&r)
    }

    public func check() throws(ConfigError) {
        guard !text.isEmpty else { throw ConfigError(.text, "is missing; give a UTF-8 text file to score") }
        guard windowTokens >= 2 && windowTokens <= Limits.maxTokens else { throw ConfigError(.evalWindow, "must be in 2...\(Limits.maxTokens), got \(windowTokens)") }
        guard maxTokens >= 0 else { throw ConfigError(.maxTokens, "must be 0 (all) or positive, got \(maxTokens)") }
        guard dtype.isStorableByDecoder else { throw ConfigError(.dtype, "the decoder stores K/V as fp32, bf16 or fp16, not \(dtype.rawValue)") }
    }

    /// The text's tokens (at most `maxTokens`).
    public func tokens(_ vocabulary: any Vocabulary) throws(ConfigError) -> [Int] {
        guard let data = FileManager.default.contents(atPath: text) else { throw ConfigError(.text, "cannot read \(text)") }
        guard let string = String(data: data, encoding: .utf8) else { throw ConfigError(.text, "\(text) is not UTF-8 text") }
        var ids: [Int]
        do { ids = try vocabulary.encode(string, field: .text) } catch {
            let hint = vocabulary is CharVocabulary ? "; a pretrained --model reads any UTF-8 text" : ""
            throw ConfigError(.text, "\(text): \(error.reason)\(hint)")
        }
        if maxTokens > 0 && ids.count > maxTokens { ids = Array(ids.prefix(maxTokens)) }
        guard ids.count >= 2 else { throw ConfigError(.text, "\(text) has \(ids.count) token(s); perplexity needs at least 2") }
        return ids
    }

    /// "README.md: 2,048 tokens in 4 windows of 512".
    public func describe(_ r: PerplexityResult, textTokens: Int, language: Language = .en) -> String {
        language.en("\(text): \(Format.grouped(textTokens)) tokens in \(Format.plural(r.windows, "window")) of ≤ \(r.windowTokens), \(Format.grouped(r.scoredTokens)) predicted",
                    ja: "\(text):\(Format.grouped(textTokens))トークンを≤ \(r.windowTokens)のウィンドウ\(r.windows)個で、予測\(Format.grouped(r.scoredTokens))トークン")
    }

    /// One model's perplexity on these tokens, with its cache size.
    /// - Throws: `ConfigError` naming `modelFields` when the log-likelihood is not finite (a model file
    ///   with NaN weights), rather than reporting a perplexity of nan.
    func measure(_ name: String, _ config: DecoderConfig, _ weights: DecoderWeights, tokens: [Int], modelFields: [Field],
                 technique: KVTechnique = KVTechnique()) throws(ConfigError) -> EvalRow {
        let progress = ProgressLine("\(name): token", total: tokens.count)
        defer { progress.clear() }
        let result = Perplexity.evaluate(config: config, weights: weights, tokens: tokens, windowTokens: windowTokens, cacheDType: dtype,
                                         technique: technique, progress: { progress.update($0) })
        guard result.totalNLL.isFinite else {
            throw ConfigError(.fields(modelFields), "\(name): the log-likelihood is \(result.totalNLL), not a number; the model's logits are not finite (broken weights or metadata)")
        }
        let windowCacheBytes = config.kvMap.kvLayers
            * technique.storage.bytes(tokens: technique.retention(config).heldTokens(context: windowTokens), layout: config.attention, dtype: dtype)
        return EvalRow(name: name, config: config, bytesPerToken: KVBudget(layout: config.attention, kvMap: config.kvMap, dtype: dtype).bytesPerToken,
                       result: result, technique: technique.storage == .plain && technique.eviction == .none && config.slidingWindow == nil ? nil
                           : EvalRow.Technique(label: technique.label(config), windowCacheBytes: windowCacheBytes))
    }
}

/// One measured model: its layout, cache size and perplexity.
public struct EvalRow: Sendable {
    public let name: String
    public let config: DecoderConfig
    public let bytesPerToken: Int
    public let result: PerplexityResult
    /// How the cache was kept, when not plain and complete.
    public var technique: Technique? = nil

    /// A cache that compresses or evicts: what it is, and the bytes it holds for one scoring window.
    public struct Technique: Sendable {
        public let label: String
        /// Bytes over every producer layer after a whole window (`KVStorage.bytes` of the tokens held).
        public let windowCacheBytes: Int
    }

    /// The names of `json(base:)`'s fields; the last two only with a base to compare with.
    static func valueNames(compared: Bool) -> ValueNames {
        ValueNames(numbers: ["kv_heads", "kv_layers", "kv_map.#", "kv_bytes_per_token", "scored_tokens", "windows", "mean_nll", "perplexity"]
                       + (compared ? ["kv_bytes_vs_original", "perplexity_vs_original"] : []),
                   texts: ["name", "layout"])
    }

    public func json(base: EvalRow?) -> JSON {
        var fields: [(String, JSON)] = [
            ("name", .string(name)), ("layout", .string(config.layoutName)),
            ("kv_heads", .int(config.attention.kvHeads)), ("kv_layers", .int(config.kvMap.kvLayers)),
            ("kv_map", .ints(config.kvMap.source)), ("kv_bytes_per_token", .int(bytesPerToken)),
            ("scored_tokens", .int(result.scoredTokens)), ("windows", .int(result.windows)),
            ("mean_nll", .double(result.meanNLL)), ("perplexity", .double(result.perplexity)),
        ]
        if let technique {
            fields.append(("kv_technique", .string(technique.label)))
            fields.append(("kv_cache_bytes_per_window", .int(technique.windowCacheBytes)))
        }
        if let base {
            fields.append(("kv_bytes_vs_original", .double(Double(bytesPerToken) / Double(base.bytesPerToken))))
            fields.append(("perplexity_vs_original", .double(result.perplexity / base.result.perplexity)))
        }
        return .object(fields)
    }
}

/// A model's perplexity on a text: exp of the mean negative log-likelihood of each next token (`attnlab ppl`).
public struct PerplexityExperiment: Experiment {
    public var model = ModelSpec()
    public var eval = EvalSpec()
    /// Seed of random weights (models without `model`).
    public var seed: UInt64 = 1
    /// Quantized, latent or evicting cache.
    public var kv = KVTechniqueSpec()

    public init() {}

    public init(_ r: inout FlagReader) throws(ConfigError) {
        model = try ModelSpec(&r)
        eval = try EvalSpec(&r)
        seed = try r.uint64(.seed) ?? seed
        kv = try KVTechniqueSpec(&r)
    }

    public func validate() throws {
        try eval.check()
        try kv.check(try model.decoderConfig())
    }

    public func run() throws(ConfigError) -> PerplexityOutput {
        try eval.check()
        let loaded = try model.load(seed: seed, tokens: eval.windowTokens)
        let tokens = try eval.tokens(loaded.vocabulary)
        try eval.checkBudget(loaded.config, tokens: tokens.count, models: 1)
        let row = try eval.measure(loaded.name ?? "random seed \(seed)", loaded.config, loaded.weights, tokens: tokens, modelFields: model.sizeFields,
                                   technique: try kv.technique(loaded.config, loaded.weights))
        return PerplexityOutput(eval: eval, row: row, textTokens: tokens.count)
    }
}

public struct PerplexityOutput: ExperimentOutput {
    public let eval: EvalSpec
    public let row: EvalRow
    public let textTokens: Int

    public static let valueNames = EvalRow.valueNames(compared: false)
        + ValueNames(numbers: ["text_tokens", "window_tokens", "kv_cache_bytes_per_window"], texts: ["text", "cache_dtype", "kv_technique"])

    public var json: JSON {
        guard case .object(var fields) = row.json(base: nil) else { return row.json(base: nil) }
        fields += [("text", .string(eval.text)), ("text_tokens", .int(textTokens)), ("window_tokens", .int(eval.windowTokens)),
                   ("cache_dtype", .string(eval.dtype.rawValue))]
        return .object(fields)
    }
}

/// What K/V sharing costs a trained model without retraining: each variant's cache size and
/// perplexity against the original's, on the same windows of the same text (`attnlab retrofit`).
public struct RetrofitExperiment: Experiment {
    public var model = ModelSpec()
    public var eval = EvalSpec()
    /// Variants such as `mqa`, `gqa:2`, `cla:2`, `keep-ends`, `mqa+cla:2`.
    public var variants: [String] = []
    public var seed: UInt64 = 1

    /// The variants measured when none is given: those of them that change the model, each once (a
    /// checkpoint trained as MQA or CLA2 already is one, and one trained as CLA2 cannot become CLA3).
    public static let defaultVariants = ["mqa", "cla:2", "cla:3", "mqa+cla:2"]

    public init() {}

    public init(_ r: inout FlagReader) throws(ConfigError) {
        model = try ModelSpec(&r)
        eval = try EvalSpec(&r)
        // A lesson's map holds one `to`: its variants are separated by spaces (explicit maps use commas).
        variants = try r.string(.variants).map { $0.split(separator: " ").map(String.init) } ?? []
        seed = try r.uint64(.seed) ?? seed
    }

    public func validate() throws {
        try eval.check()
        let base = try model.decoderConfig()
        for spec in variants { _ = try Self.config(spec, base: base) }
    }

    /// The config a variant names, retrofitted from `base`: `mqa` or `gqa:G` pool the K/V heads (as the
    /// GQA paper converts a checkpoint before uptraining); a K/V pattern (`cla:S`, `keep-ends`, an
    /// explicit list) makes layers read another layer's cache; `X+Y` does both.
    public static func config(_ spec: String, base: DecoderConfig) throws(ConfigError) -> DecoderConfig {
        var kvHeads = base.attention.kvHeads
        var kvMap = base.kvMap
        for part in spec.lowercased().split(separator: "+", omittingEmptySubsequences: false).map(String.init) {
            if part == "mqa" {
                kvHeads = 1
            } else if part.hasPrefix("gqa:") || part.hasPrefix("gqa") && Int(part.dropFirst(3)) != nil {
                guard let g = Int(part.drop { !$0.isNumber }), g > 0 else { throw ConfigError(.variants, "'\(part)' in '\(spec)': expected gqa:G with G a positive integer") }
                kvHeads = g
            } else if part == "mha" {
                throw ConfigError(.variants, "mha would need K/V heads the model never trained (it has \(base.attention.kvHeads)); retrofitting can only pool heads")
            } else {
                kvMap = try KVPattern.parse(part, field: .variants).map(layers: base.layers, field: .variants)
            }
        }
        do { return try Retrofit.config(base, kvHeads: kvHeads, kvMap: kvMap, field: .variants) } catch {
            throw ConfigError(error.subject, "'\(spec)': \(error.reason)")
        }
    }

    public func run() throws(ConfigError) -> RetrofitOutput {
        try eval.check()
        let base = try model.decoderConfig()
        var configs: [(String, DecoderConfig)] = []
        if variants.isEmpty {
            for spec in Self.defaultVariants {
                if let c = try? Self.config(spec, base: base), c != base, !configs.contains(where: { $0.1 == c }) { configs.append((spec, c)) }
            }
            guard !configs.isEmpty else {
                throw ConfigError(.variants, "none of the default variants (\(Self.defaultVariants.joined(separator: ", "))) changes this \(base.layoutName) model; name one to try")
            }
        } else {
            configs = try variants.map { spec throws(ConfigError) in (spec, try Self.config(spec, base: base)) }
        }
        let loaded = try model.load(seed: seed, tokens: eval.windowTokens)
        let tokens = try eval.tokens(loaded.vocabulary)
        try eval.checkBudget(base, tokens: tokens.count, models: configs.count + 1)
        var rows = [try eval.measure("original", base, loaded.weights, tokens: tokens, modelFields: model.sizeFields)]
        for (spec, c) in configs {
            rows.append(try eval.measure(spec, c, Retrofit.weights(loaded.weights, from: base, to: c), tokens: tokens, modelFields: model.sizeFields))
        }
        return RetrofitOutput(experiment: self, rows: rows, textTokens: tokens.count)
    }
}

public struct RetrofitOutput: ExperimentOutput {
    public let experiment: RetrofitExperiment
    /// The original model first, then each variant.
    public let rows: [EvalRow]
    public let textTokens: Int

    /// The model in headings: its name, or the seed of its random weights.
    public var modelName: String { experiment.model.pretrained ?? "random weights (seed \(experiment.seed))" }

    public static let valueNames = ValueNames(numbers: ["text_tokens", "window_tokens"], texts: ["model", "text", "cache_dtype"])
        + EvalRow.valueNames(compared: true).prefixed("variants.#")

    public var json: JSON {
        let e = experiment
        return .object([
            ("model", .string(e.model.pretrained ?? "random seed \(e.seed)")), ("text", .string(e.eval.text)),
            ("text_tokens", .int(textTokens)), ("window_tokens", .int(e.eval.windowTokens)), ("cache_dtype", .string(e.eval.dtype.rawValue)),
            ("variants", .array(rows.map { $0.json(base: rows[0]) })),
        ])
    }

    /// Bytes per token against perplexity, every point measured by this run.
    public func figure(style: Style) throws -> Figure {
        let base = rows[0], eval = experiment.eval
        return try Charts.tradeoff(
            rows.enumerated().map { i, r in
                TradeoffPoint(name: i == 0 ? style.en("original \(r.config.layoutName)", ja: "元の\(r.config.layoutName)") : "\(r.name) (\(r.config.layoutName))",
                              bytesPerToken: r.bytesPerToken, perplexity: r.result.perplexity, family: Charts.tradeoffFamily(r.config),
                              kind: SeriesKind(r.config.attention))
            },
            title: style.en("Retrofitting K/V sharing onto \(modelName), no retraining", ja: "\(modelName)にK/V共有を後付け(再学習なし)"),
            subtitle: style.en("perplexity on ", ja: "パープレキシティ ") + eval.describe(base.result, textTokens: textTokens, language: style.language)
                + style.en("; \(eval.dtype.rawValue) cache", ja: "。キャッシュは\(eval.dtype.rawValue)"),
            yLabel: style.en("perplexity (lower is better)", ja: "パープレキシティ(低いほど良い)"),
            footnote: style.en("K/V heads mean-pooled as in Ainslie et al. 2023 (before uptraining); layers share caches as in Brandon et al. 2024 (who train with it). Every point measured by attnlab.",
                               ja: "K/VヘッドはAinslie et al. 2023と同じく平均プーリング(追加学習の前)。層のキャッシュ共有はBrandon et al. 2024と同じ(論文は共有して学習する)。どの点もattnlabで測定。"),
            guess: (style.en("uniform guess over \(Format.grouped(base.config.vocab)) tokens", ja: "\(Format.grouped(base.config.vocab))トークンから一様に当て推量"), Double(base.config.vocab)), style: style)
    }
}
