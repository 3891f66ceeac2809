import ArgumentParser
import AttnEngine
import AttnExperiments
import AttnFigures
import AttnRender
import AttnTrace

extension AttnLab {
    struct CompareKV: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "compare-kv",
            abstract: "Every KV-cache technique on one model and text: bytes per token, perplexity, bytes read per step, one chart.",
            discussion: """
                Each --to is a point, parts joined by +: a retrofit (mqa, gqa:G, cla:S, keep-ends, …) \
                and/or a technique: int8, int4, int2 (KIVI-style codes, groups of 32), pre-rope (keys \
                quantized before RoPE), window:B, sinks:B (4 sinks), h2o:B (budget B tokens), latent:R \
                (rank-R latent by truncated SVD). Bytes per token: the cache after one scoring window \
                divided by its tokens, so an evicting cache counts what it holds.

                Example:
                  attnlab compare-kv --model smollm2-135m --text README.md -o output/compare-kv.png
                  attnlab compare-kv --model smollm2-135m --text README.md --to int4 --to h2o:64 --to cla:2+int8
                """)

        @OptionGroup var model: ModelOptions
        @OptionGroup var eval: EvalFlags
        @Option(name: .customLong("to"), help: "A point: a retrofit and/or a technique joined by +, e.g. int4, h2o:128, latent:256, cla:2+int8. Repeat for more. (default: \(CompareKVExperiment.defaultPoints.joined(separator: ", ")))")
        var points: [String] = []
        @Option(parsing: .unconditional, help: "Seed of random weights (models without --model).")
        var seed: UInt64 = 1
        @Option(name: [.customShort("o"), .customLong("output")], help: "Also draw the chart (.png, .svg or .pdf).")
        var output: String?
        @Flag(help: "Print the table as JSON.")
        var json = false

        var experiment: CompareKVExperiment {
            var e = CompareKVExperiment()
            (e.model, e.eval, e.seed) = (model.spec, eval.spec, seed)
            e.points = points.flatMap { $0.split(separator: " ").map(String.init) }
            return e
        }

        func run() throws {
            if let output { try checkFigureOutput(output) }
            let result = try experiment.run()
            if json { return say(result.json.serialized()) }
            let rows = result.rows, base = rows[0], w = eval.spec.windowTokens
            var out = "Shrinking the KV cache of \(result.modelName), measured\n"
            out += "text       \(eval.spec.describe(base.row.result, textTokens: result.textTokens)); cache in \(eval.dtype.rawValue)\n\n"
            let table = rows.map { r -> [String] in
                [r.row.name, r.row.config.layoutName, r.technique,
                 Format.grouped(r.bytesPerToken(windowTokens: w)), Format.percent(Double(r.windowCacheBytes) / Double(base.windowCacheBytes), 1),
                 Format.grouped(r.bytesReadPerStep),
                 Format.fixed(r.row.result.perplexity, 2), "×" + Format.fixed(r.row.result.perplexity / base.row.result.perplexity, 3)]
            }
            out += Format.table(["point", "layout", "technique", "KV B/token", "of original", "read/step B", "perplexity", "vs original"],
                                table, rightAligned: [3, 4, 5, 6, 7])
            out += "\nKV B/token: the cache after a \(w)-token window ÷ \(w) (an evicting cache holds its budget); read/step: what one\n"
            out += "decode step at the end of the window reads, every layer reading its source's rows. No point was retrained.\n"
            if let output {
                try Renderer.write(try result.figure(style: Style()), to: output)
                out += "figure     \(output)\n"
            }
            say(String(out.dropLast()))
        }
    }
}
