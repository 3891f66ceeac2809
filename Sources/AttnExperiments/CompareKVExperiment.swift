import AttnEngine
import AttnFigures
import AttnTrace

/// Every way to shrink a KV cache measured on one model and one text (`attnlab compare-kv`): K/V
/// sharing retrofits, quantized codes, eviction under a budget, a latent, and combinations — each
/// point's bytes from the engine's own count and its perplexity from a real run.
public struct CompareKVExperiment: Experiment {
    public var model = ModelSpec()
    public var eval = EvalSpec()
    /// Points such as `mqa`, `cla:2`, `int4`, `h2o:128`, `sinks:128`, `latent:256`, `cla:2+int8`.
    public var points: [String] = []
    public var seed: UInt64 = 1

    /// The points measured when none is given; the ones a model cannot take (MQA of an MQA model)
    /// are left out.
    public static let defaultPoints = [
        "mqa", "cla:2", "int8", "int4", "int2", "int4+pre-rope",
        "window:128", "sinks:128", "h2o:128", "latent:320", "latent:256", "mqa+int4",
    ]

    public init() {}

    public init(_ r: inout FlagReader) throws(ConfigError) {
        model = try ModelSpec(&r)
        eval = try EvalSpec(&r)
        points = try r.string(.variants).map { $0.split(separator: " ").map(String.init) } ?? []
        seed = try r.uint64(.seed) ?? seed
    }

    /// One point: a retrofitted layout (`RetrofitExperiment.config`'s parts) and a cache technique.
    public struct Point: Sendable {
        public let name: String
        public let config: DecoderConfig
        public let technique: KVTechniqueSpec
    }

    /// Reads `spec`: parts joined by `+`, each a retrofit (`mqa`, `gqa:G`, `cla:S`, a pattern) or a
    /// technique (`int8`, `int4`, `int2`, `pre-rope`, `window:B`, `sinks:B`, `h2o:B`, `latent:R`).
    public static func point(_ spec: String, base: DecoderConfig) throws(ConfigError) -> Point {
        var technique = KVTechniqueSpec(), layout: [String] = []
        for part in spec.lowercased().split(separator: "+", omittingEmptySubsequences: false).map(String.init) {
            let (name, number) = (part.split(separator: ":").first.map(String.init) ?? part, part.split(separator: ":").dropFirst().first.flatMap { Int($0) })
            if let quant = KVTechniqueSpec.Quant(rawValue: part) {
                technique.quant = quant
            } else if part == "pre-rope" {
                technique.preRoPE = true
            } else if let evict = KVTechniqueSpec.Evict(rawValue: name) {
                guard let number else { throw ConfigError(.variants, "'\(part)' in '\(spec)': expected \(name):B with B the token budget") }
                (technique.evict, technique.budget) = (evict, number)
            } else if name == "latent" {
                guard let number else { throw ConfigError(.variants, "'\(part)' in '\(spec)': expected latent:R with R the latent's rank") }
                technique.latentRank = number
            } else {
                layout.append(part)
            }
        }
        let config = layout.isEmpty ? base : try RetrofitExperiment.config(layout.joined(separator: "+"), base: base)
        do { try technique.check(config) } catch { throw ConfigError(.variants, "'\(spec)': \(error.reason)") }
        return Point(name: spec, config: config, technique: technique)
    }

    public func validate() throws {
        try eval.check()
        let base = try model.decoderConfig()
        for spec in points { _ = try Self.point(spec, base: base) }
    }

    public func run() throws(ConfigError) -> CompareKVOutput {
        try eval.check()
        let base = try model.decoderConfig()
        var chosen: [Point] = []
        if points.isEmpty {
            for spec in Self.defaultPoints {
                if let p = try? Self.point(spec, base: base), p.config != base || !p.technique.isEmpty { chosen.append(p) }
            }
        } else {
            chosen = try points.map { spec throws(ConfigError) in try Self.point(spec, base: base) }
        }
        let loaded = try model.load(seed: seed, tokens: eval.windowTokens)
        let tokens = try eval.tokens(loaded.vocabulary)
        try eval.checkBudget(base, tokens: tokens.count, models: chosen.count + 1)
        var rows = [try measure("original", base, base, loaded.weights, KVTechniqueSpec(), tokens)]
        for p in chosen {
            let weights = p.config == base ? loaded.weights : Retrofit.weights(loaded.weights, from: base, to: p.config)
            rows.append(try measure(p.name, p.config, base, weights, p.technique, tokens))
        }
        return CompareKVOutput(experiment: self, rows: rows, textTokens: tokens.count)
    }

    private func measure(_ name: String, _ config: DecoderConfig, _ base: DecoderConfig, _ weights: DecoderWeights, _ spec: KVTechniqueSpec, _ tokens: [Int]) throws(ConfigError) -> CompareKVRow {
        let technique = try spec.technique(config, weights)
        let row = try eval.measure(name, config, weights, tokens: tokens, modelFields: model.sizeFields, technique: technique)
        let held = technique.retention(config).heldTokens(context: eval.windowTokens)
        let perLayer = technique.storage.bytes(tokens: held, layout: config.attention, dtype: eval.dtype)
        return CompareKVRow(row: row, technique: technique.label(config), family: Self.family(config, base: base, spec),
                            windowCacheBytes: config.kvMap.kvLayers * perLayer, bytesReadPerStep: config.layers * perLayer)
    }

    /// The legend group: 0 the original, 1 K/V sharing, 2 quantization, 3 eviction, 4 latent,
    /// 5 sharing together with a technique.
    static func family(_ config: DecoderConfig, base: DecoderConfig, _ spec: KVTechniqueSpec) -> Int {
        if spec.isEmpty { return config == base ? 0 : 1 }
        if config != base { return 5 }
        return spec.quant != nil ? 2 : spec.evict != nil ? 3 : 4
    }

    /// `family`'s names, in order.
    static func families(_ l: Language) -> [String] {
        [l.en("original", ja: "元のモデル"), l.en("K/V sharing (retrofit)", ja: "K/V共有(後付け)"), l.en("quantized K/V", ja: "量子化K/V"),
         l.en("eviction", ja: "追い出し"), l.en("latent (SVD)", ja: "潜在(SVD)"), l.en("sharing + a technique", ja: "共有+手法")]
    }
}

/// One measured point.
public struct CompareKVRow: Sendable {
    public let row: EvalRow
    /// "int4, groups of 32", "h2o, budget 128", "plain".
    public let technique: String
    public let family: Int
    /// Bytes held after one scoring window, over every producer layer.
    public let windowCacheBytes: Int
    /// Bytes one decode step reads at the end of a window: every layer reads its source's held rows.
    public let bytesReadPerStep: Int

    /// Bytes per token of the window: what the cache costs a token of context, on average.
    public func bytesPerToken(windowTokens: Int) -> Int { windowCacheBytes / windowTokens }
}

public struct CompareKVOutput: ExperimentOutput {
    public let experiment: CompareKVExperiment
    /// The original model first, then each point.
    public let rows: [CompareKVRow]
    public let textTokens: Int

    public var modelName: String { experiment.model.pretrained ?? "random weights (seed \(experiment.seed))" }

    public static let valueNames = ValueNames(numbers: ["text_tokens", "window_tokens"], texts: ["model", "text", "cache_dtype"])
        + ValueNames(numbers: ["kv_bytes_per_token", "kv_cache_bytes_per_window", "bytes_read_per_step", "perplexity", "mean_nll",
                               "kv_bytes_vs_original", "perplexity_vs_original"],
                     texts: ["name", "layout", "technique"]).prefixed("points.#")

    public var json: JSON {
        let e = experiment, w = e.eval.windowTokens, base = rows[0]
        return .object([
            ("model", .string(e.model.pretrained ?? "random seed \(e.seed)")), ("text", .string(e.eval.text)),
            ("text_tokens", .int(textTokens)), ("window_tokens", .int(w)), ("cache_dtype", .string(e.eval.dtype.rawValue)),
            ("points", .array(rows.map { r in
                .object([
                    ("name", .string(r.row.name)), ("layout", .string(r.row.config.layoutName)), ("technique", .string(r.technique)),
                    ("kv_bytes_per_token", .int(r.bytesPerToken(windowTokens: w))), ("kv_cache_bytes_per_window", .int(r.windowCacheBytes)),
                    ("bytes_read_per_step", .int(r.bytesReadPerStep)),
                    ("perplexity", .double(r.row.result.perplexity)), ("mean_nll", .double(r.row.result.meanNLL)),
                    ("kv_bytes_vs_original", .double(Double(r.windowCacheBytes) / Double(base.windowCacheBytes))),
                    ("perplexity_vs_original", .double(r.row.result.perplexity / base.row.result.perplexity)),
                ])
            })),
        ])
    }

    /// Cache size against perplexity, every point measured by this run.
    public func figure(style: Style) throws -> Figure {
        let e = experiment, w = e.eval.windowTokens, base = rows[0]
        return try Charts.tradeoff(
            rows.map { r in
                TradeoffPoint(name: r.row.name == "original" ? style.en("original \(r.row.config.layoutName)", ja: "元の\(r.row.config.layoutName)") : r.row.name,
                              bytesPerToken: r.bytesPerToken(windowTokens: w), perplexity: r.row.result.perplexity, family: r.family,
                              kind: r.family == 2 ? .quantized : r.family == 3 ? .eviction : r.family == 4 ? .latent : SeriesKind(r.row.config.attention))
            },
            title: style.en("Shrinking \(modelName)'s KV cache: every technique, measured", ja: "\(modelName)のKVキャッシュを縮める:全手法を測定"),
            subtitle: style.en("perplexity on ", ja: "パープレキシティ ") + e.eval.describe(base.row.result, textTokens: textTokens, language: style.language)
                + style.en("; bytes per token = cache after a \(w)-token window ÷ \(w)", ja: "。1トークンあたりのバイト数 = \(w)トークンのウィンドウ後のキャッシュ ÷ \(w)"),
            yLabel: style.en("perplexity (lower is better)", ja: "パープレキシティ(低いほど良い)"),
            footnote: style.en("No point retrained. ↑: above the axis (value shown). Every point measured by attnlab.",
                               ja: "どの点も再学習なし。↑:軸の上(値を表示)。どの点もattnlabで測定。"),
            legend: CompareKVExperiment.families(style.language), ceiling: 10 * base.row.result.perplexity, style: style)
    }
}
