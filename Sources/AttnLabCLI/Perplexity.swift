import ArgumentParser
import AttnEngine
import AttnFigures
import AttnModels
import AttnRender
import AttnTrace
import Foundation

/// The text a perplexity is measured on, and how it is cut into windows.
struct EvalFlags: ParsableArguments {
    @Option(help: "UTF-8 text to score, e.g. README.md (the project's own writing: no outside corpus needed).")
    var text: String

    @Option(parsing: .unconditional, help: "Tokens per window; each window starts with an empty cache and its first token is context only.")
    var window = 512

    @Option(name: .customLong("max-tokens"), parsing: .unconditional, help: "Use at most this many tokens from the start of the text (0 = all).")
    var maxTokens = 1024

    @Option(help: "Element type the cache stores K/V in while scoring, and the unit of bytes/token: fp32, bf16, fp16.")
    var dtype: DType = .bf16

    func check() throws(ConfigError) {
        guard window >= 2 && window <= Limits.maxTokens else { throw ConfigError("--window", "must be in 2...\(Limits.maxTokens), got \(window)") }
        guard maxTokens >= 0 else { throw ConfigError("--max-tokens", "must be 0 (all) or positive, got \(maxTokens)") }
        guard dtype.isStorableByDecoder else { throw ConfigError("--dtype", "the decoder stores K/V as fp32, bf16 or fp16, not \(dtype.rawValue)") }
    }

    /// The text's tokens (at most `maxTokens`).
    func tokens(_ vocabulary: any Vocabulary) throws(ConfigError) -> [Int] {
        guard let data = FileManager.default.contents(atPath: text) else { throw ConfigError("--text", "cannot read \(text)") }
        guard let string = String(data: data, encoding: .utf8) else { throw ConfigError("--text", "\(text) is not UTF-8 text") }
        var ids = try vocabulary.encode(string, field: "--text \(text)")
        if maxTokens > 0 && ids.count > maxTokens { ids = Array(ids.prefix(maxTokens)) }
        guard ids.count >= 2 else { throw ConfigError("--text", "\(text) has \(ids.count) token(s); perplexity needs at least 2") }
        return ids
    }

    /// "README.md: 2,048 tokens in 4 windows of 512".
    func describe(_ r: PerplexityResult, textTokens: Int) -> String {
        "\(text): \(Format.grouped(textTokens)) tokens in \(Format.plural(r.windows, "window")) of ≤ \(r.windowTokens), \(Format.grouped(r.scoredTokens)) predicted"
    }
}

/// One measured model: its layout, cache size and perplexity.
struct EvalRow {
    let name: String
    let config: DecoderConfig
    let bytesPerToken: Int
    let result: PerplexityResult

    func json(base: EvalRow?) -> JSON {
        var fields: [(String, JSON)] = [
            ("name", .string(name)), ("layout", .string(config.layoutName)),
            ("kv_heads", .int(config.attention.kvHeads)), ("kv_layers", .int(config.kvMap.kvLayers)),
            ("kv_map", .ints(config.kvMap.source)), ("kv_bytes_per_token", .int(bytesPerToken)),
            ("scored_tokens", .int(result.scoredTokens)), ("windows", .int(result.windows)),
            ("mean_nll", .double(result.meanNLL)), ("perplexity", .double(result.perplexity)),
        ]
        if let base {
            fields.append(("kv_bytes_vs_original", .double(Double(bytesPerToken) / Double(base.bytesPerToken))))
            fields.append(("perplexity_vs_original", .double(result.perplexity / base.result.perplexity)))
        }
        return .object(fields)
    }
}

extension AttnLab {
    struct Ppl: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "ppl",
            abstract: "Perplexity of a model on a text: exp of the mean negative log-likelihood of each next token.",
            discussion: """
                Example:
                  attnlab ppl --model smollm2-135m --text README.md
                  attnlab ppl --model smollm2-135m --kv-heads 1 --text README.md   # retrofitted to MQA
                """)

        @OptionGroup var model: ModelOptions
        @OptionGroup var eval: EvalFlags
        @Option(parsing: .unconditional, help: "Seed of random weights (models without --model).")
        var seed: UInt64 = 1
        @Flag(help: "Print the result as JSON.")
        var json = false

        func execute() throws -> (row: EvalRow, textTokens: Int) {
            try eval.check()
            let loaded = try model.load(seed: seed, tokens: eval.window)
            let config = loaded.config
            let tokens = try eval.tokens(loaded.vocabulary)
            let result = Perplexity.evaluate(config: config, weights: loaded.weights, tokens: tokens, windowTokens: eval.window, cacheDType: eval.dtype)
            let bytes = KVBudget(layout: config.attention, kvMap: config.kvMap, dtype: eval.dtype).bytesPerToken
            return (EvalRow(name: loaded.name ?? "random seed \(seed)", config: config, bytesPerToken: bytes, result: result), tokens.count)
        }

        func result() throws -> JSON {
            let (row, textTokens) = try execute()
            guard case .object(var fields) = row.json(base: nil) else { return row.json(base: nil) }
            fields += [("text", .string(eval.text)), ("text_tokens", .int(textTokens)), ("window_tokens", .int(eval.window)),
                       ("cache_dtype", .string(eval.dtype.rawValue))]
            return .object(fields)
        }

        func run() throws {
            if json { return say(try result().serialized()) }
            let (row, textTokens) = try execute()
            let r = row.result
            say("""
                \(row.name), \(row.config.layoutName): perplexity \(Format.fixed(r.perplexity, 2)) (mean NLL \(Format.fixed(r.meanNLL, 4)) nats/token)
                text       \(eval.describe(r, textTokens: textTokens))
                KV cache   \(Format.grouped(row.bytesPerToken)) B per token (\(eval.dtype.rawValue), \(row.config.kvMap.kvLayers) KV layers × \(row.config.attention.kvHeads) KV heads)
                """)
        }
    }

    struct RetrofitCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "retrofit",
            abstract: "What K/V sharing costs a trained model without retraining: KV bytes/token and perplexity, original vs retrofitted.",
            discussion: """
                Each --to is a variant: mqa or gqa:G (mean-pool the K/V projection heads into G, as the \
                GQA paper converts a checkpoint before uptraining), cla:S or another K/V pattern \
                (keep-ends, dense-front, dense-back, an explicit list: layers read the cache of the layer \
                the map names and drop their own W_K, W_V), or both joined by + (mqa+cla:2). Every \
                variant runs through the same decoder on the same windows of the same text.

                Example:
                  attnlab retrofit --model smollm2-135m --text README.md --to mqa --to cla:2 -o output/retrofit.png
                """)

        @OptionGroup var model: ModelOptions
        @OptionGroup var eval: EvalFlags
        @Option(name: .customLong("to"), help: "A variant: mqa, gqa:G, cla:S, keep-ends, dense-front, dense-back, or X+Y. Repeat for more. (default: mqa, cla:2, cla:3, mqa+cla:2)")
        var variants: [String] = []
        @Option(parsing: .unconditional, help: "Seed of random weights (models without --model).")
        var seed: UInt64 = 1
        @Option(name: [.customShort("o"), .customLong("output")], help: "Also draw the trade-off figure (.png, .svg or .pdf).")
        var output: String?
        @Flag(help: "Print the table as JSON.")
        var json = false

        /// The config a variant spec names, retrofitted from `base`.
        static func config(_ spec: String, base: DecoderConfig) throws(ConfigError) -> DecoderConfig {
            var kvHeads = base.attention.kvHeads
            var kvMap = base.kvMap
            for part in spec.lowercased().split(separator: "+", omittingEmptySubsequences: false).map(String.init) {
                if part == "mqa" {
                    kvHeads = 1
                } else if part.hasPrefix("gqa:") || part.hasPrefix("gqa") && Int(part.dropFirst(3)) != nil {
                    guard let g = Int(part.drop { !$0.isNumber }), g > 0 else { throw ConfigError("--to", "'\(part)' in '\(spec)': expected gqa:G with G a positive integer") }
                    kvHeads = g
                } else if part == "mha" {
                    throw ConfigError("--to", "mha would need K/V heads the model never trained (it has \(base.attention.kvHeads)); retrofitting can only pool heads")
                } else {
                    kvMap = try KVPattern.parse(part, field: "--to").map(layers: base.layers, field: "--to")
                }
            }
            return try Retrofit.config(base, kvHeads: kvHeads, kvMap: kvMap, field: "--to \(spec)")
        }

        func execute() throws -> (rows: [EvalRow], textTokens: Int) {
            try eval.check()
            if let output {
                do { _ = try Renderer.kind(of: output) } catch { throw ConfigError("-o", error.reason) }
                do { try AtomicFile.checkWritable(output) } catch { throw ConfigError("-o", error.description) }
            }
            let base = try model.decoderConfig()
            let specs = variants.isEmpty ? ["mqa", "cla:2", "cla:3", "mqa+cla:2"] : variants
            let configs = try specs.map { spec throws(ConfigError) in (spec, try Self.config(spec, base: base)) }
            let loaded = try model.load(seed: seed, tokens: eval.window)
            let tokens = try eval.tokens(loaded.vocabulary)
            func measure(_ name: String, _ c: DecoderConfig, _ w: DecoderWeights) -> EvalRow {
                EvalRow(name: name, config: c, bytesPerToken: KVBudget(layout: c.attention, kvMap: c.kvMap, dtype: eval.dtype).bytesPerToken,
                        result: Perplexity.evaluate(config: c, weights: w, tokens: tokens, windowTokens: eval.window, cacheDType: eval.dtype))
            }
            var rows = [measure("original", base, loaded.weights)]
            for (spec, c) in configs {
                rows.append(measure(spec, c, Retrofit.weights(loaded.weights, from: base, to: c)))
            }
            return (rows, tokens.count)
        }

        func result() throws -> JSON {
            let (rows, textTokens) = try execute()
            return .object([
                ("model", .string(model.pretrained ?? "random seed \(seed)")), ("text", .string(eval.text)),
                ("text_tokens", .int(textTokens)), ("window_tokens", .int(eval.window)), ("cache_dtype", .string(eval.dtype.rawValue)),
                ("variants", .array(rows.map { $0.json(base: rows[0]) })),
            ])
        }

        func run() throws {
            if json { return say(try result().serialized()) }
            let (rows, textTokens) = try execute()
            let base = rows[0]
            let name = model.pretrained ?? "random weights (seed \(seed))"
            var out = "Retrofitting K/V sharing onto \(name) without training\n"
            out += "text       \(eval.describe(base.result, textTokens: textTokens)); cache in \(eval.dtype.rawValue)\n\n"
            let table = rows.enumerated().map { i, r -> [String] in
                [r.name, r.config.layoutName, "\(r.config.attention.kvHeads)", "\(r.config.kvMap.kvLayers)/\(r.config.layers)",
                 Format.grouped(r.bytesPerToken), Format.percent(Double(r.bytesPerToken) / Double(base.bytesPerToken), 1),
                 Format.fixed(r.result.perplexity, 2), i == 0 ? "—" : "×" + Format.fixed(r.result.perplexity / base.result.perplexity, 2)]
            }
            out += Format.table(["variant", "layout", "KV heads", "KV layers", "KV B/token", "of original", "perplexity", "vs original"],
                                table, rightAligned: [2, 3, 4, 5, 6, 7])
            out += "\nWithout training, sharing K/V costs quality; the GQA paper uptrains a pooled checkpoint (5% of pre-training),\n"
            out += "and the CLA paper trains its models with sharing from the start.\n"
            if let output {
                let figure = try Charts.tradeoff(
                    rows.enumerated().map { i, r in
                        TradeoffPoint(name: i == 0 ? "original \(r.config.layoutName)" : "\(r.name) (\(r.config.layoutName))",
                                      bytesPerToken: r.bytesPerToken, perplexity: r.result.perplexity, family: Charts.tradeoffFamily(r.config))
                    },
                    title: "Retrofitting K/V sharing onto \(name), no retraining",
                    subtitle: "perplexity on \(eval.describe(base.result, textTokens: textTokens)); \(eval.dtype.rawValue) cache",
                    yLabel: "perplexity (lower is better)",
                    footnote: "K/V heads mean-pooled as in Ainslie et al. 2023 (before uptraining); layers share caches as in Brandon et al. 2024 (who train with it). Every point measured by attnlab.",
                    guess: ("uniform guess over \(Format.grouped(base.config.vocab)) tokens", Double(base.config.vocab)), style: Style())
                try Renderer.write(figure, to: output)
                out += "figure     \(output)\n"
            }
            say(String(out.dropLast()))
        }
    }
}
