import ArgumentParser
import AttnEngine
import AttnFigures
import AttnRender
import AttnTiling
import AttnTrace
import Foundation

/// Output, size and look of a figure, shared by every `draw` verb.
struct FigureOptions: ParsableArguments {
    @Option(name: [.customShort("o"), .customLong("output")], help: "The file to write: .png, .svg or .pdf.")
    var output: String

    @Option(help: "Canvas size in px, WxH. (default: 1600x900, a 16:9 slide)")
    var size = "1600x900"

    @Option(parsing: .unconditional, help: "PNG pixels per canvas px (2 for a sharp 3200×1800 slide).")
    var scale = 1.0

    @Option(help: "light or dark.")
    var theme = "light"

    @Option(help: "Replace the figure's title.")
    var title: String?

    func style() throws(ConfigError) -> Style {
        var style = Style()
        let parts = size.lowercased().split(separator: "x")
        guard parts.count == 2, let w = Int(parts[0]), let h = Int(parts[1]), w > 0, h > 0, w <= 10_000, h <= 10_000 else {
            throw ConfigError("--size", "'\(size)' is not WxH in whole pixels up to 10000x10000 (e.g. 1600x900)")
        }
        guard let t = Theme.named(theme) else { throw ConfigError("--theme", "unknown theme '\(theme)' (expected light or dark)") }
        guard scale > 0, scale <= 8 else { throw ConfigError("--scale", "must be in (0, 8], got \(scale)") }
        // Cairo's image surfaces stop at 32767 pixels a side.
        guard Double(max(w, h)) * scale <= 32_767 || !output.lowercased().hasSuffix(".png") else {
            throw ConfigError("--scale", "\(w)x\(h) at scale \(scale) is over 32767 pixels a side, Cairo's limit for PNG")
        }
        style.width = Double(w)
        style.height = Double(h)
        style.theme = t
        style.title = title
        return style
    }

    /// Checks the output before any work: known extension, writable folder.
    func checkOutput() throws {
        do { _ = try Renderer.kind(of: output) } catch { throw ConfigError("-o", error.reason) }
        do { try AtomicFile.checkWritable(output) } catch { throw ConfigError("-o", error.description) }
    }

    func write(_ figure: Figure) throws {
        try Renderer.write(figure, to: output, scale: scale)
        say("wrote \(output) (\(figure.pages.count == 1 || !output.hasSuffix(".pdf") ? "1 page" : "\(figure.pages.count) pages"), \(Int(figure.width))×\(Int(figure.height)))")
    }
}

/// A `draw` verb: it makes a figure from its flags; `run()` checks the output path first, then
/// writes. Lessons call `makeFigure()` and render it themselves.
protocol FigureCommand: ParsableCommand {
    var figure: FigureOptions { get }
    func makeFigure() throws -> Figure
}

extension FigureCommand {
    func run() throws {
        try figure.checkOutput()
        try figure.write(try makeFigure())
    }
}

/// A `draw` verb whose figure is a function of the model flags alone.
protocol ModelFigureCommand: FigureCommand {
    static var diagram: @Sendable (DecoderConfig, DType, Style) throws(FigureError) -> Figure { get }
    var model: ModelOptions { get }
    var dtype: DType { get }
}

extension ModelFigureCommand {
    func makeFigure() throws -> Figure { try Self.diagram(try model.decoderConfig(), dtype, try figure.style()) }
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
            subcommands: [DrawHeads.self, DrawLayers.self, DrawTiles.self, DrawCache.self, DrawAttention.self, DrawKVChart.self, DrawIOChart.self, DrawTradeoff.self]
        )
    }

    struct DrawHeads: ModelFigureCommand {
        static let configuration = CommandConfiguration(commandName: "heads", abstract: "Query heads grouped onto K/V heads: MHA, GQA, MQA side by side.")
        static let diagram = HeadsDiagram.figure
        @OptionGroup var model: ModelOptions
        @OptionGroup var figure: FigureOptions
        @Option(help: "Element type of the cache, for bytes per token.")
        var dtype: DType = .bf16
    }

    struct DrawLayers: ModelFigureCommand {
        static let configuration = CommandConfiguration(commandName: "layers", abstract: "The layer stack's K/V cache slots (CLA) beside ALBERT's shared weights.")
        static let diagram = LayersDiagram.figure
        @OptionGroup var model: ModelOptions
        @OptionGroup var figure: FigureOptions
        @Option(help: "Element type of the cache, for bytes per token.")
        var dtype: DType = .bf16
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
        @Option(help: "Also write one PNG per step into this folder (frame-0001.png …).")
        var frames: String?
        @OptionGroup var figure: FigureOptions

        func run() throws {
            try figure.checkOutput()
            if let frames {
                var isDirectory: ObjCBool = false
                if FileManager.default.fileExists(atPath: frames, isDirectory: &isDirectory), !isDirectory.boolValue {
                    throw ConfigError("--frames", "\(frames) is a file, not a folder")
                }
                let parent = URL(fileURLWithPath: frames).deletingLastPathComponent().path
                guard FileManager.default.fileExists(atPath: parent, isDirectory: &isDirectory), isDirectory.boolValue else {
                    throw ConfigError("--frames", "folder \(parent) does not exist")
                }
            }
            let fig = try makeFigure()
            try figure.write(fig)
            if let frames {
                try Renderer.writeFrames(fig, to: frames, scale: figure.scale)
                say("wrote \(fig.pages.count) frames to \(frames)")
            }
        }

        /// The overview, plus a page per step when the output is a PDF or frames are asked for.
        func makeFigure() throws -> Figure {
            let problem = try flags.problem()
            var options = TileOptions(algorithm: algo, sramElements: try flags.sramElementCount())
            if br != nil || bc != nil {
                let defaults = algo.defaultBlocks(R: problem.rows, C: problem.n, d: problem.d, sramElements: options.sramElements)
                options.blocks = BlockSizes(br: br ?? defaults.br, bc: bc ?? defaults.bc)
            }
            options.recordSteps = true
            options.watchRow = problem.n - 1
            options.dtype = flags.dtype
            let result = try TiledAttention.run(problem, options)
            let steps = figure.output.lowercased().hasSuffix(".pdf") || frames != nil
            return try TilesDiagram.figure(result, steps: steps, style: try figure.style())
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

        func makeFigure() throws -> Figure {
            let (run, _) = try decoding.decode(model, detail: .summary)
            return try CacheDiagram.figure(run, step: step ?? run.result.steps.count - 1, style: try figure.style())
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

        func makeFigure() throws -> Figure {
            let (run, _) = try decoding.decode(model, detail: .full)
            return try AttentionDiagram.figure(run, layer: layer ?? run.config.layers - 1, style: try figure.style())
        }
    }

    struct DrawKVChart: FigureCommand {
        static let configuration = CommandConfiguration(
            commandName: "kv-chart", abstract: "KV-cache bytes against context length for the model's layout, MHA, MQA and CLA2.")
        @OptionGroup var model: ModelOptions
        @Option(help: "Element type of the cache.")
        var dtype: DType = .bf16
        @Option(help: "Context lengths in tokens.")
        var contexts = "1024,2048,4096,8192,16384,32768,65536,131072"
        @Flag(name: .customLong("log"), help: "Logarithmic bytes axis.")
        var logY = false
        @OptionGroup var figure: FigureOptions

        func makeFigure() throws -> Figure {
            let config = try model.decoderConfig()
            let list = try parseList(contexts, field: "--contexts", minimum: 2)
            let name = model.preset ?? "this model"
            let subtitle = "\(name): \(config.layers) layers, \(config.attention.qHeads) query heads × \(config.attention.headDim), \(dtype.rawValue), batch 1"
            return try Charts.kvChart(Charts.kvSeries(for: config, name: name, dtype: dtype), contexts: list, logY: logY,
                                                subtitle: subtitle, style: try figure.style())
        }
    }

    struct DrawIOChart: FigureCommand {
        static let configuration = CommandConfiguration(
            commandName: "io-chart", abstract: "HBM accesses of naive, fa1 and fa2 against SRAM size, N or block size, from real simulator runs.")
        @OptionGroup var flags: TileFlags
        @Option(help: "What to vary: sram, n or bc.")
        var over: SweepAxis = .sram
        @Option(help: "Comma-separated values. (default: as `tile sweep`)")
        var values: String?
        @OptionGroup var figure: FigureOptions

        func makeFigure() throws -> Figure {
            let list = try values.map { try parseList($0, field: "--values", minimum: 2) } ?? over.defaultValues
            if over == .sram && (flags.sramElements != nil || flags.sram != nil) {
                throw ConfigError("--sram-elements", "the SRAM size is what --over sram varies; give the sizes with --values")
            }
            let points = try Sweep.run(over: over, values: list, sramElements: try flags.sramElementCount(), dtype: flags.dtype,
                                       backward: false, problem: flags.problem(n:), n: flags.n)
            let fixed = over == .n ? "d = \(flags.d)" : "N = \(flags.n), d = \(flags.d)"
            return try Charts.ioChart(points, over: over, subtitle: "\(fixed)\(flags.causal ? ", causal" : ""), forward pass; every count from a real run",
                                                style: try figure.style())
        }
    }

    struct DrawTradeoff: FigureCommand {
        static let configuration = CommandConfiguration(
            commandName: "tradeoff", abstract: "The CLA paper's Table 1: KV bytes per token against validation perplexity, with the Pareto frontier.")
        @OptionGroup var figure: FigureOptions

        func makeFigure() throws -> Figure {
            return try Charts.tradeoff(Presets.all.filter { $0.name.hasPrefix("cla1b-") }, style: try figure.style())
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
        var theme = "light"

        func run() throws {
            guard let t = Theme.named(theme) else { throw ConfigError("--theme", "unknown theme '\(theme)' (expected light or dark)") }
            do { try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true) } catch {
                throw ConfigError("--out", "cannot create \(out) (\(error.localizedDescription))")
            }
            var style = Style()
            style.theme = t
            let llama3 = Presets.named("llama-3-8b")!.decoder!
            let cla3 = try DecoderConfig(layers: 10, dModel: 512, attention: AttentionLayout(qHeads: 8, kvHeads: 2, headDim: 64), ffn: 1376,
                                         vocab: 32000, kvMap: KVPattern.cla(3).map(layers: 10))
            let small = try DecoderConfig(layers: 4, dModel: 64, attention: AttentionLayout(qHeads: 4, kvHeads: 2, headDim: 16), ffn: 192,
                                          vocab: CharVocabulary.count, kvMap: KVPattern.cla(2).map(layers: 4))
            let prompt = try CharVocabulary.encode("the cat sat on the mat", vocab: small.vocab)
            let decoder = Decoder(config: small, weights: DecoderWeights(config: small, seed: 1), capacityTokens: prompt.count + 5)
            var sampler = Sampler(temperature: 0, seed: 1)
            // Full detail keeps the attention weights for the attention figure; the cache figure ignores them.
            let decode = DecodeRun(config: small, seed: 1, temperature: 0, cacheDType: .fp32, detail: .full,
                                   result: decoder.generate(prompt: prompt, tokens: 6, sampler: &sampler, detail: .full), maxAbsDiff: nil)
            var tileOptions = TileOptions(algorithm: .fa2, sramElements: 8192)
            tileOptions.recordSteps = true
            tileOptions.watchRow = 255
            let tiles = try TiledAttention.run(try TileProblem(n: 256, d: 64, causal: true), tileOptions)
            let ioRuns = try Sweep.run(over: .sram, values: SweepAxis.sram.defaultValues, sramElements: 0, dtype: .fp32, backward: false,
                                       problem: { n throws(ConfigError) in try TileProblem(n: n, d: 64) }, n: 1024)
            let figures: [(String, Figure)] = [
                ("heads", try HeadsDiagram.figure(llama3, dtype: .bf16, style: style)),
                ("layers", try LayersDiagram.figure(cla3, dtype: .bf16, style: style)),
                ("tiles", try TilesDiagram.figure(tiles, steps: false, style: style)),
                ("cache", try CacheDiagram.figure(decode, step: decode.result.steps.count - 1, style: style)),
                ("attention", try AttentionDiagram.figure(decode, layer: small.layers - 1, style: style)),
                ("kv-chart", try Charts.kvChart(Charts.kvSeries(for: llama3, name: "Llama 3 8B", dtype: .bf16), contexts: [1024, 8192, 32768, 65536, 131072],
                                                logY: false, subtitle: "Llama 3 8B: 32 layers, 32 query heads × 128, bf16, batch 1", style: style)),
                ("io-chart", try Charts.ioChart(ioRuns, over: .sram, subtitle: "N = 1024, d = 64, forward pass; every count from a real run", style: style)),
                ("tradeoff", try Charts.tradeoff(Presets.all.filter { $0.name.hasPrefix("cla1b-") }, style: style)),
            ]
            for (name, figure) in figures {
                for ext in ["png", "svg"] { try Renderer.write(figure, to: "\(out)/\(name).\(ext)") }
            }
            try Renderer.write(try TilesDiagram.figure(tiles, steps: true, style: style), to: "\(out)/tiles-steps.pdf")
            say("wrote \(figures.count) figures × PNG, SVG and tiles-steps.pdf to \(out)")
        }
    }
}
