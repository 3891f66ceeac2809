import ArgumentParser
import AttnEngine
import AttnExperiments
import AttnFigures
import AttnRender
import AttnTiling
import AttnTrace
import Foundation

/// Output, size and look of a figure, shared by every `draw` verb.
struct FigureOptions: ParsableArguments {
    @Option(name: [.customShort("o"), .customLong("output")], help: "The file to write: .png, .svg or .pdf.")
    var output: String

    @Option(parsing: .unconditional, help: "Canvas size in px, WxH. (default: 1600x900, a 16:9 slide)")
    var size = "1600x900"

    @Option(parsing: .unconditional, help: "PNG pixels per canvas px (2 for a sharp 3200×1800 slide).")
    var scale = 1.0

    @Option(help: "light or dark.")
    var theme: ThemeName = .light

    @Option(help: "Replace the figure's title.")
    var title: String?

    @Option(help: "The language of the figure's words: en or ja (symbols and units stay as they are).")
    var lang: Language = .en

    func style() throws(ConfigError) -> Style {
        var style = Style()
        let (w, h) = try canvas()
        guard scale > 0, scale <= 8 else { throw ConfigError(.scale, "must be in (0, 8], got \(scale)") }
        if output.lowercased().hasSuffix(".png") { try checkPNGScale() }
        style.width = Double(w)
        style.height = Double(h)
        style.theme = theme.theme
        style.title = title
        style.language = lang
        return style
    }

    /// The canvas size from `--size`.
    private func canvas() throws(ConfigError) -> (width: Int, height: Int) {
        let parts = size.lowercased().split(separator: "x")
        guard parts.count == 2, let w = Int(parts[0]), let h = Int(parts[1]), w > 0, h > 0, w <= 10_000, h <= 10_000 else {
            throw ConfigError(.size, "'\(size)' is not WxH in whole pixels up to 10000x10000 (e.g. 1600x900)")
        }
        return (w, h)
    }

    /// A PNG (the output or `--frames`) must come out 1 to 32767 pixels a side at this scale.
    func checkPNGScale() throws(ConfigError) {
        let (w, h) = try canvas()
        do { try Renderer.checkPNGScale(width: Double(w), height: Double(h), scale: scale, atMost: 8) } catch { throw ConfigError(.scale, error.reason) }
    }

    /// Checks the output before any work (`checkFigureOutput`).
    func checkOutput() throws { try checkFigureOutput(output) }

    func write(_ figure: Figure) throws {
        try Renderer.write(figure, to: output, scale: scale)
        // Written to standard output, the figure's bytes are all that goes there.
        guard !AtomicFile.isStandardOutput(output) else { return }
        say("wrote \(output) (\(figure.pages.count == 1 || !output.hasSuffix(".pdf") ? "1 page" : "\(figure.pages.count) pages"), \(Int(figure.width))×\(Int(figure.height)))")
    }
}

/// A `draw` verb: a figure experiment built from its flags; `run()` checks the output path first,
/// then draws and writes.
protocol FigureCommand: ParsableCommand {
    associatedtype Experiment: FigureExperiment
    var figure: FigureOptions { get }
    var experiment: Experiment { get throws }
    /// Flags this figure honours every time they are given (kv-chart: `--preset`).
    static var repeatable: Set<String> { get }
}

extension FigureCommand {
    static var repeatable: Set<String> { [] }

    func run() throws {
        try Self.refuseRepeatedFlags()
        try figure.checkOutput()
        try figure.write(try makeFigure())
    }

    /// Refuses a flag given twice that the figure cannot honour: ArgumentParser would silently keep
    /// the last one.
    static func refuseRepeatedFlags() throws(ConfigError) {
        try refuseRepeated(in: Array(CommandLine.arguments.dropFirst()), repeatable: repeatable)
    }

    /// The figure, with a page per step when the output is a PDF.
    func makeFigure(allPages: Bool? = nil) throws -> Figure {
        try experiment.draw(try figure.style(), allPages: allPages ?? figure.output.lowercased().hasSuffix(".pdf"), runs: Runs())
    }
}

extension AttnLab {
    struct Draw: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Draw a figure from a real model or run as PNG, SVG or PDF.",
            discussion: """
                Examples:
                  attnlab draw heads --q-heads 32 --kv-heads 8 -o output/heads.svg
                  attnlab draw layers --layers 10 --cla 3 -o output/layers.png
                  attnlab draw tiles --algo fa2 --n 256 --d 64 --sram-elements 8192 -o output/tiles.pdf
                  attnlab draw attention --q-heads 8 --kv-heads 2 --prompt "the cat sat on the mat" -o output/attention.png
                """,
            subcommands: [DrawHeads.self, DrawLayers.self, DrawTiles.self, DrawCache.self, DrawAttention.self, DrawKVChart.self, DrawIOChart.self, DrawTradeoff.self, DrawLossCurve.self,
                          DrawKVEvict.self, DrawKVQuant.self, DrawPaged.self]
        )
    }

    struct DrawHeads: FigureCommand {
        static let configuration = CommandConfiguration(commandName: "heads", abstract: "Query heads grouped onto K/V heads: MHA, GQA, MQA side by side.")
        @OptionGroup var model: ModelOptions
        @OptionGroup var figure: FigureOptions
        @Option(help: "Element type of the cache, for bytes per token.")
        var dtype: DType = .bf16

        var experiment: HeadsFigure {
            var e = HeadsFigure()
            (e.model, e.dtype) = (model.spec, dtype)
            return e
        }
    }

    struct DrawLayers: FigureCommand {
        static let configuration = CommandConfiguration(commandName: "layers", abstract: "The layer stack's K/V cache slots (CLA) beside ALBERT's shared weights.")
        @OptionGroup var model: ModelOptions
        @OptionGroup var figure: FigureOptions
        @Option(help: "Element type of the cache, for bytes per token.")
        var dtype: DType = .bf16

        var experiment: LayersFigure {
            var e = LayersFigure()
            (e.model, e.dtype) = (model.spec, dtype)
            return e
        }
    }

    struct DrawTiles: FigureCommand {
        static let configuration = CommandConfiguration(
            commandName: "tiles",
            abstract: "The score matrix as tiles in visit order; a PDF (or --frames DIR of PNGs) adds one page per step.")
        @Option(help: "naive, fa1 or fa2.")
        var algo: TileAlgorithm = .fa2
        @OptionGroup var flags: TileFlags
        @Option(parsing: .unconditional, help: "Query rows per block (Br).")
        var br: Int?
        @Option(parsing: .unconditional, help: "Key columns per block (Bc).")
        var bc: Int?
        @Flag(name: .customLong("fit-sram"), help: "Use the blocks with the least HBM traffic whose working set fits in M.")
        var fitSram = false
        @Option(help: "Also write one PNG per step into this folder (frame-0001.png …).")
        var frames: String?
        @OptionGroup var figure: FigureOptions

        func run() throws {
            try Self.refuseRepeatedFlags()
            try figure.checkOutput()
            if let frames {
                try figure.checkPNGScale()
                var isDirectory: ObjCBool = false
                if FileManager.default.fileExists(atPath: frames, isDirectory: &isDirectory), !isDirectory.boolValue {
                    throw ConfigError(.frames, "\(frames) is a file, not a folder")
                }
                let parent = URL(fileURLWithPath: frames).deletingLastPathComponent().path
                guard FileManager.default.fileExists(atPath: parent, isDirectory: &isDirectory), isDirectory.boolValue else {
                    throw ConfigError(.frames, "folder \(parent) does not exist")
                }
            }
            let fig = try makeFigure(allPages: figure.output.lowercased().hasSuffix(".pdf") || frames != nil)
            try figure.write(fig)
            if let frames {
                try Renderer.writeFrames(fig, to: frames, scale: figure.scale)
                say("wrote \(fig.pages.count) frames to \(frames)")
            }
        }

        var experiment: TilesFigure {
            var t = TileExperiment()
            (t.algorithm, t.tile, t.br, t.bc, t.fitSram) = (algo, flags.spec, br, bc, fitSram)
            return TilesFigure(t)
        }
    }

    struct DrawCache: FigureCommand {
        static let configuration = CommandConfiguration(
            commandName: "cache", abstract: "Heatmaps of every producer layer's K and V cache at a decode step, the new row outlined.")
        @OptionGroup var model: ModelOptions
        @OptionGroup var decoding: DecodeFlags
        @Option(parsing: .unconditional, help: "The decode step to show. (default: the last)")
        var step: Int?
        @OptionGroup var figure: FigureOptions

        var experiment: CacheFigure {
            var d = DecodeExperiment()
            (d.model, d.decoding) = (model.spec, decoding.spec)
            return CacheFigure(d, step: step)
        }
    }

    struct DrawAttention: FigureCommand {
        static let configuration = CommandConfiguration(
            commandName: "attention",
            abstract: "Every query head's causal attention weights at one layer of a decode, grouped by the K/V head they share.",
            discussion: """
                Decodes with full detail and draws, per query head, the weights of each query position (row) over \
                the key positions (columns) it can see, framed by the K/V head it reads: the last \
                \(AttentionDiagram.maxPositions) positions at most (24 or 16 when many heads must fit), and for many \
                heads the first and last of each group.
                Example: attnlab draw attention --q-heads 9 --kv-heads 3 --d-model 72 --layer 1 -o output/attention.png
                """)
        @OptionGroup var model: ModelOptions
        @OptionGroup var decoding: DecodeFlags
        @Option(parsing: .unconditional, help: "The layer to show, 0-based. (default: the last)")
        var layer: Int?
        @OptionGroup var figure: FigureOptions

        var experiment: AttentionFigure {
            var d = DecodeExperiment()
            (d.model, d.decoding) = (model.spec, decoding.spec)
            return AttentionFigure(d, layer: layer)
        }
    }

    struct DrawKVChart: FigureCommand {
        static let configuration = CommandConfiguration(
            commandName: "kv-chart", abstract: "KV-cache bytes against context length for the model's layout, MHA, MQA and CLA2; --preset once per model to compare several.",
            discussion: "Example: attnlab draw kv-chart --preset llama-2-7b --preset llama-3-8b -o output/kv-chart.png (other model flags apply to every preset)")
        static var repeatable: Set<String> { ["--preset"] }
        @OptionGroup var model: ModelOptions
        @Option(help: "Element type of the cache.")
        var dtype: DType = .bf16
        @Option(parsing: .unconditional, help: "Context lengths in tokens.")
        var contexts = "1024,2048,4096,8192,16384,32768,65536,131072"
        @Flag(name: .customLong("log"), help: "Logarithmic bytes axis.")
        var logY = false
        @OptionGroup var figure: FigureOptions

        var experiment: KVChartFigure {
            get throws {
                var e = KVChartFigure()
                (e.dtype, e.logY) = (dtype, logY)
                // One model per --preset, every other model flag applied to each.
                let spec = model.spec
                e.models = model.preset.count <= 1 ? [spec] : model.preset.map { name in
                    var m = spec
                    m.preset = name
                    return m
                }
                e.contexts = try parseList(contexts, field: .contexts, minimum: 2)
                return e
            }
        }
    }

    struct DrawIOChart: FigureCommand {
        static let configuration = CommandConfiguration(
            commandName: "io-chart", abstract: "HBM accesses of naive, fa1 and fa2 against SRAM size, N or block size, from real simulator runs.")
        @OptionGroup var flags: TileFlags
        @Option(help: "What to vary: sram, n or bc.")
        var over: SweepAxis = .sram
        @Option(parsing: .unconditional, help: "Comma-separated values. (default: as `tile sweep`)")
        var values: String?
        @OptionGroup var figure: FigureOptions

        var experiment: IOChartFigure {
            get throws {
                var e = SweepExperiment()
                (e.axis, e.tile) = (over, flags.spec)
                e.values = try values.map { text throws(ConfigError) in try parseList(text, field: .values, minimum: 2) }
                return IOChartFigure(e)
            }
        }
    }

    struct DrawTradeoff: FigureCommand {
        static let configuration = CommandConfiguration(
            commandName: "tradeoff", abstract: "The CLA paper's Table 1: KV bytes per token against validation perplexity, with the Pareto frontier.")
        @OptionGroup var figure: FigureOptions

        var experiment: TradeoffFigure { TradeoffFigure() }
    }

    struct DrawLossCurve: FigureCommand {
        static let configuration = CommandConfiguration(
            commandName: "loss-curve", abstract: "Train a model and draw its loss against tokens, with the validations and the corpus's unigram entropy.",
            discussion: "Example: attnlab draw loss-curve --preset mini-mqa-cla2 --steps 200 -o output/loss.png (train --plot draws the same beside a run)")
        @OptionGroup var train: TrainFlags
        @OptionGroup var figure: FigureOptions

        var experiment: LossCurveFigure {
            get throws {
                guard let rate = Double(train.lr) else { throw ConfigError(.lr, "'\(train.lr)' is not one number (a sweep is `attnlab train --lr A,B --plot FILE`)") }
                return LossCurveFigure(train.experiment(lr: rate))
            }
        }
    }
}

extension AttnLab {
    struct DrawKVEvict: FigureCommand {
        static let configuration = CommandConfiguration(
            commandName: "kv-evict",
            abstract: "Which tokens an evicting cache keeps: per layer (and K/V head, under H2O) a map of decode steps × key positions.",
            discussion: "Example: attnlab draw kv-evict --model smollm2-135m --tokens 40 --evict h2o --kv-budget 12 --layer 0,29 -o output/kv-evict.png")
        @OptionGroup var model: ModelOptions
        @OptionGroup var decoding: DecodeFlags
        @Option(parsing: .unconditional, help: "The layers to show, 0-based, e.g. 0,15,29. (default: the first, middle and last)")
        var layer: String?
        @OptionGroup var figure: FigureOptions

        var experiment: KVEvictFigure {
            get throws {
                var d = DecodeExperiment()
                (d.model, d.decoding) = (model.spec, decoding.spec)
                return KVEvictFigure(d, layers: try layer.map { text throws(ConfigError) in try parseLayers(text) })
            }
        }
    }

    struct DrawKVQuant: FigureCommand {
        static let configuration = CommandConfiguration(
            commandName: "kv-quant",
            abstract: "One quantized cache row taken apart: original K and V, codes, scales, decoded values and the error within ±scale/2.",
            discussion: "Example: attnlab draw kv-quant --model smollm2-135m --tokens 40 --kv-quant int4 --kv-group 32 -o output/kv-quant.png")
        @OptionGroup var model: ModelOptions
        @OptionGroup var decoding: DecodeFlags
        @Option(parsing: .unconditional, help: "The layer whose cache is shown, 0-based.")
        var layer = 0
        @Option(parsing: .unconditional, help: "The position of the row. (default: the last whose key group is quantized)")
        var step: Int?
        @OptionGroup var figure: FigureOptions

        var experiment: KVQuantFigure {
            var d = DecodeExperiment()
            (d.model, d.decoding) = (model.spec, decoding.spec)
            return KVQuantFigure(d, layer: layer, position: step)
        }
    }

    struct DrawPaged: FigureCommand {
        static let configuration = CommandConfiguration(
            commandName: "paged",
            abstract: "A paged KV cache: the block pool, each request's block table, empty slots hatched, against contiguous reservations.",
            discussion: "Example: attnlab draw paged --model smollm2-135m --page-tokens 64 --requests 300,1000,700 --context 2048 -o output/paged.png")
        @OptionGroup var model: ModelOptions
        @Option(help: "Element type of stored K/V: fp32, bf16, fp16, fp8, int8, int4.")
        var dtype: DType = .bf16
        @Option(parsing: .unconditional, help: "Context length in tokens: what a contiguous cache reserves per request.")
        var context = 4096
        @Option(parsing: .unconditional, help: "Sequences in the batch (the requests when --requests is not given).")
        var batch = 1
        @OptionGroup var techniques: KVTechniqueOptions
        @Option(name: .customLong("page-tokens"), parsing: .unconditional, help: "Token slots per block.")
        var pageTokens: Int?
        @Option(parsing: .unconditional, help: "Lengths in tokens of the requests, e.g. 300,1000,700. (default: --batch requests of --context)")
        var requests: String?
        @OptionGroup var figure: FigureOptions

        var experiment: PagedFigure {
            get throws {
                var e = KVExperiment()
                (e.model, e.dtype, e.contextTokens, e.batch) = (model.spec, dtype, context, batch)
                (e.techniques, e.pageTokens) = (techniques.spec, pageTokens)
                e.requests = try requests.map { text throws(ConfigError) in try parseList(text, field: .requests) }
                return PagedFigure(e)
            }
        }
    }
}

extension AttnLab {
    struct Gallery: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Render one of every figure, as PNG and SVG (and the tile steps as PDF), into a folder.",
            discussion: "Example: attnlab gallery --out output/gallery")

        @Option(help: "The folder to write into (created if missing).")
        var out = "output/gallery"

        @Option(help: "light or dark.")
        var theme: ThemeName = .light

        func run() throws {
            guard !out.isEmpty else { throw ConfigError(.out, "is empty; give a folder") }
            do { try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true) } catch {
                throw ConfigError(.out, "cannot create \(out) (\(error.localizedDescription))")
            }
            var style = Style()
            style.theme = theme.theme
            // Each figure is drawn and written by a job of its own, on every core: the I/O chart's
            // sweep (12 tile runs, the longest job) first, the tile steps' PDF last. An error is the
            // one the first failing job in this order gives.
            let names = [.ioChart] + GalleryFigures.Name.allCases.filter { $0 != .ioChart }
            try Workers.inOrder(names.count + 1, job: { [out, style] i in
                guard i < names.count else {
                    return try Renderer.write(try GalleryFigures.tileSteps(style: style), to: "\(out)/tiles-steps.pdf", subject: .fields([.out]))
                }
                let figure = try GalleryFigures.figure(names[i], style: style)
                for ext in ["png", "svg"] { try Renderer.write(figure, to: "\(out)/\(names[i].rawValue).\(ext)", subject: .fields([.out])) }
            }, take: { _, _ in })
            say("wrote \(names.count) figures × PNG, SVG and tiles-steps.pdf to \(out)")
        }
    }
}

extension ThemeName: ExpressibleByArgument {}

/// Refuses the first flag of `arguments` (a command line after the program name) given twice that
/// is not in `repeatable`, in one line naming it; `--output` and `-o` are one flag. A value is never
/// taken for a flag unless it is spelled like one (`--name`), and then only if it repeats a flag.
func refuseRepeated(in arguments: [String], repeatable: Set<String>) throws(ConfigError) {
    var seen = Set<String>()
    for token in arguments {
        guard token.hasPrefix("-o") && token.count == 2 || token.hasPrefix("--") && token.count > 2 else { continue }
        var name = String(token.prefix { $0 != "=" })
        if name == "--output" { name = "-o" }
        guard !repeatable.contains(name) else { continue }
        if !seen.insert(name).inserted {
            throw ConfigError(name == "-o" ? .fields([.output]) : .named(String(name.dropFirst(2))),
                              "is given more than once, and this figure would use only the last; give it once")
        }
    }
}

/// Checks a figure's output path before any work: a known extension, and a path that can be written
/// (`AtomicFile.checkWritable`); `draw`, `retrofit -o` and `compare-kv -o` share it.
func checkFigureOutput(_ output: String) throws {
    do { _ = try Renderer.kind(of: output) } catch { throw ConfigError(.output, error.reason) }
    do { try AtomicFile.checkWritable(output) } catch { throw ConfigError(.output, error.description) }
}
