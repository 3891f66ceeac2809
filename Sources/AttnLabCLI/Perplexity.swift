import ArgumentParser
import AttnEngine
import AttnExperiments
import AttnFigures
import AttnModels
import AttnRender
import AttnTrace
import Foundation

/// The text a perplexity is measured on, and how it is cut into windows.
struct EvalFlags: ParsableArguments {
    @Option(help: "UTF-8 text to score, e.g. README.md (the project's own writing: no outside corpus needed).")
    var text: String

    @Option(name: .customLong("eval-window"), parsing: .unconditional,
            help: "Tokens per scoring window; each starts with an empty cache and its first token is context only. (Not --window, the sliding-window attention.)")
    var evalWindow = 512

    @Option(name: .customLong("max-tokens"), parsing: .unconditional, help: "Use at most this many tokens from the start of the text (0 = all).")
    var maxTokens = 1024

    @Option(help: "Element type the cache stores K/V in while scoring, and the unit of bytes/token: fp32, bf16, fp16.")
    var dtype: DType = .bf16

    @OptionGroup var budget: BudgetOption

    var spec: EvalSpec {
        var e = EvalSpec()
        (e.text, e.windowTokens, e.maxTokens, e.dtype, e.budget) = (text, evalWindow, maxTokens, dtype, budget.budget)
        return e
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
        @OptionGroup var kv: KVTechniqueOptions
        @Option(parsing: .unconditional, help: "Seed of random weights (models without --model).")
        var seed: UInt64 = 1
        @Flag(help: "Print the result as JSON.")
        var json = false

        var experiment: PerplexityExperiment {
            var e = PerplexityExperiment()
            (e.model, e.eval, e.seed, e.kv) = (model.spec, eval.spec, seed, kv.spec)
            return e
        }

        func run() throws {
            let output = try experiment.run()
            if json { return say(output.json.serialized()) }
            let row = output.row, r = row.result
            say("""
                \(row.name), \(row.config.layoutName): perplexity \(Format.fixed(r.perplexity, 2)) (mean NLL \(Format.fixed(r.meanNLL, 4)) nats/token)
                text       \(output.eval.describe(r, textTokens: output.textTokens))
                KV cache   \(Format.grouped(row.bytesPerToken)) B per token (\(eval.dtype.rawValue), \(row.config.kvMap.kvLayers) KV layers × \(row.config.attention.kvHeads) KV heads)
                """)
            if let t = row.technique {
                let plain = row.bytesPerToken * output.eval.windowTokens
                say("technique  \(t.label): \(Format.grouped(t.windowCacheBytes)) B held after a \(Format.grouped(output.eval.windowTokens))-token window (plain: \(Format.grouped(plain)) B, \(Format.percent(Double(t.windowCacheBytes) / Double(plain))))")
            }
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
                  attnlab retrofit --model smollm2-135m --text README.md --to mqa --to cla:2 --max-tokens 512 -o output/retrofit.png
                """)

        @OptionGroup var model: ModelOptions
        @OptionGroup var eval: EvalFlags
        @Option(name: .customLong("to"), help: "A variant: mqa, gqa:G, cla:S, keep-ends, dense-front, dense-back, or X+Y. Repeat (or separate by spaces) for more. (default: mqa, cla:2, cla:3, mqa+cla:2)")
        var variants: [String] = []
        @Option(parsing: .unconditional, help: "Seed of random weights (models without --model).")
        var seed: UInt64 = 1
        @Option(name: [.customShort("o"), .customLong("output")], help: "Also draw the trade-off figure (.png, .svg or .pdf).")
        var output: String?
        @Flag(help: "Print the table as JSON.")
        var json = false

        var experiment: RetrofitExperiment {
            var e = RetrofitExperiment()
            // `--to "mqa cla:2"` (as lesson reports print it) is two variants, like `--to mqa --to cla:2`.
            (e.model, e.eval, e.seed) = (model.spec, eval.spec, seed)
            e.variants = variants.flatMap { $0.split(separator: " ").map(String.init) }
            return e
        }

        func run() throws {
            if let output { try checkFigureOutput(output) }
            let result = try experiment.run()
            if json { return say(result.json.serialized()) }
            let (rows, textTokens) = (result.rows, result.textTokens)
            let base = rows[0]
            let name = result.modelName
            var out = "Retrofitting K/V sharing onto \(name) without training\n"
            out += "text       \(eval.spec.describe(base.result, textTokens: textTokens)); cache in \(eval.dtype.rawValue)\n\n"
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
                try Renderer.write(try result.figure(style: Style()), to: output)
                out += "figure     \(output)\n"
            }
            say(String(out.dropLast()))
        }
    }
}
