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

    @Option(help: "PNG pixels per canvas px (2 for a sharp 3200×1800 slide).")
    var scale = 1.0

    @Option(help: "light or dark.")
    var theme = "light"

    @Option(help: "Replace the figure's title.")
    var title: String?

    func style() throws(ConfigError) -> Style {
        var style = Style()
        let parts = size.lowercased().split(separator: "x")
        guard parts.count == 2, let w = Double(parts[0]), let h = Double(parts[1]), w >= 320, h >= 180, w <= 10_000, h <= 10_000 else {
            throw ConfigError("--size", "'\(size)' is not WxH between 320x180 and 10000x10000 (e.g. 1600x900)")
        }
        guard let t = Theme.named(theme) else { throw ConfigError("--theme", "unknown theme '\(theme)' (expected light or dark)") }
        guard scale > 0, scale <= 8 else { throw ConfigError("--scale", "must be in (0, 8], got \(scale)") }
        style.width = w
        style.height = h
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

extension AttnLab {
    struct Draw: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Draw a figure from a real model or run as PNG, SVG or PDF.",
            discussion: """
                Examples:
                  attnlab draw heads --q-heads 32 --kv-heads 8 -o output/heads.svg
                  attnlab draw layers --layers 10 --cla 3 -o output/layers.png
                  attnlab draw tiles --algo fa2 --n 256 --d 64 --sram-elements 8192 -o output/tiles.pdf
                """,
            subcommands: [DrawHeads.self, DrawLayers.self]
        )
    }

    struct DrawHeads: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "heads", abstract: "Query heads grouped onto K/V heads: MHA, GQA, MQA side by side.")
        @OptionGroup var model: ModelOptions
        @OptionGroup var figure: FigureOptions
        @Option(help: "Element type of the cache, for bytes per token.")
        var dtype: DType = .bf16

        func run() throws {
            try figure.checkOutput()
            try figure.write(try HeadsDiagram.figure(try model.decoderConfig(), dtype: dtype, style: try figure.style()))
        }
    }

    struct DrawLayers: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "layers", abstract: "The layer stack's K/V cache slots (CLA) beside ALBERT's shared weights.")
        @OptionGroup var model: ModelOptions
        @OptionGroup var figure: FigureOptions
        @Option(help: "Element type of the cache, for bytes per token.")
        var dtype: DType = .bf16

        func run() throws {
            try figure.checkOutput()
            try figure.write(try LayersDiagram.figure(try model.decoderConfig(), dtype: dtype, style: try figure.style()))
        }
    }
}
