import AttnEngine
import AttnFigures
import AttnRender
import AttnTiling
import AttnTrace
import Foundation
import FoundationXML
import Testing

func folder() throws -> String {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("attnlab-render-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url.path
}

func llama3() -> DecoderConfig { Presets.named("llama-3-8b")!.decoder! }

func tileRun(causal: Bool = true) throws -> TileResult {
    var o = TileOptions(algorithm: .fa1, sramElements: 8192)
    o.recordSteps = true
    o.watchRow = 255
    return try TiledAttention.run(try TileProblem(n: 256, d: 64, causal: causal), o)
}

/// Every figure kind, for the checks that apply to all of them.
func allFigures(_ style: Style = Style()) throws -> [(String, Figure)] {
    let small = try DecoderConfig(layers: 4, dModel: 64, attention: AttentionLayout(qHeads: 4, kvHeads: 2, headDim: 16), ffn: 192,
                                  vocab: CharVocabulary.count, kvMap: KVPattern.cla(2).map(layers: 4))
    let prompt = try CharVocabulary.encode("the cat", vocab: small.vocab)
    let decoder = Decoder(config: small, weights: DecoderWeights(config: small, seed: 1), capacityTokens: prompt.count + 3)
    var sampler = Sampler(temperature: 0, seed: 1)
    let run = DecodeRun(config: small, seed: 1, temperature: 0, cacheDType: .fp32, detail: .summary,
                        result: decoder.generate(prompt: prompt, tokens: 4, sampler: &sampler), maxAbsDiff: nil)
    let io = try Sweep.run(over: .sram, values: [2048, 8192], sramElements: 0, dtype: .fp32, backward: false,
                           problem: { n throws(ConfigError) in try TileProblem(n: n, d: 32) }, n: 256)
    return [
        ("heads", try HeadsDiagram.figure(llama3(), dtype: .bf16, style: style)),
        ("layers", try LayersDiagram.figure(small, dtype: .bf16, style: style)),
        ("tiles", try TilesDiagram.figure(try tileRun(), steps: true, style: style)),
        ("cache", try CacheDiagram.figure(run, step: 5, style: style)),
        ("kv-chart", try Charts.kvChart(Charts.kvSeries(for: llama3(), name: "Llama 3 8B", dtype: .bf16), contexts: [1024, 4096, 16384],
                                        logY: false, subtitle: "", style: style)),
        ("io-chart", try Charts.ioChart(io, over: .sram, subtitle: "", style: style)),
        ("tradeoff", try Charts.tradeoff(Presets.all.filter { $0.name.hasPrefix("cla1b-") }, style: style)),
        ("attention", try AttentionDiagram.figure(try fullRun(small, prompt), layer: 3, style: style)),
        ("retrofit", try Charts.tradeoff([TradeoffPoint(name: "original", bytesPerToken: 23040, perplexity: 12.5, family: 0),
                                          TradeoffPoint(name: "mqa", bytesPerToken: 7680, perplexity: 900, family: 0),
                                          TradeoffPoint(name: "cla:2", bytesPerToken: 11520, perplexity: 4000, family: 1)],
                                         title: "Retrofit", subtitle: "", yLabel: "perplexity", footnote: "",
                                         guess: ("uniform guess", 49152), style: style)),
    ]
}

/// A decode that recorded every head's attention weights.
private func fullRun(_ config: DecoderConfig, _ prompt: [Int]) throws -> DecodeRun {
    let decoder = Decoder(config: config, weights: DecoderWeights(config: config, seed: 1), capacityTokens: prompt.count + 3)
    var sampler = Sampler(temperature: 0, seed: 1)
    return DecodeRun(config: config, seed: 1, temperature: 0, cacheDType: .fp32, detail: .full,
                     result: decoder.generate(prompt: prompt, tokens: 4, sampler: &sampler, detail: .full), maxAbsDiff: nil)
}

@Suite("Figures as display lists")
struct FigureTests {
    @Test("head grouping: one box per query head and per K/V head in each panel, coloured by group")
    func heads() throws {
        let config = try DecoderConfig(layers: 2, dModel: 64, attention: AttentionLayout(qHeads: 8, kvHeads: 2, headDim: 8), ffn: 64, vocab: 10)
        let page = try HeadsDiagram.figure(config, dtype: .bf16, style: Style()).pages[0]
        #expect(page.count(role: "q-head") == 3 * 8)            // MHA, GQA-2, MQA panels
        #expect(page.count(role: "kv-head") == 8 + 2 + 1)
        #expect(page.count(role: "connector") == 3 * 8)
        let colours = page.items.compactMap { item -> Color? in
            if item.role == "q-head", case .rect(_, let fill, _, _, _) = item.shape { return fill } else { return nil }
        }
        // The GQA panel: heads 0–3 in group 0's colour, 4–7 in group 1's.
        #expect(Array(colours[8..<16]) == Array(repeating: Theme.light.group(0), count: 4) + Array(repeating: Theme.light.group(1), count: 4))
    }

    @Test("128 heads are elided with every K/V head still connected")
    func manyHeads() throws {
        let config = try DecoderConfig(layers: 2, dModel: 8192, attention: AttentionLayout(qHeads: 128, kvHeads: 8, headDim: 64), ffn: 64, vocab: 10)
        let page = try HeadsDiagram.figure(config, dtype: .bf16, style: Style()).pages[0]
        #expect(page.count(role: "q-head") < 3 * 128)
        #expect(page.count(role: "kv-head") > 8)
        #expect(page.items.contains { if case .text("…", _, _, _, _, _, _) = $0.shape { true } else { false } })
    }

    @Test("layer sharing: producers and consumers follow the CLA map; ALBERT keeps a cache per layer")
    func layers() throws {
        let config = try DecoderConfig(layers: 10, dModel: 64, attention: AttentionLayout(qHeads: 4, kvHeads: 1, headDim: 16), ffn: 64, vocab: 10,
                                       kvMap: KVPattern.cla(3).map(layers: 10))
        let page = try LayersDiagram.figure(config, dtype: .bf16, style: Style()).pages[0]
        #expect(page.count(role: "producer-layer") == 4)
        #expect(page.count(role: "consumer-layer") == 6)
        #expect(page.count(role: "cache-slot") == 4)
        #expect(page.count(role: "reads") == 6)
        #expect(page.count(role: "albert-cache-slot") == 10)
    }

    @Test("tile traversal: causal FA1 with Br = Bc computes T(T+1)/2 tiles; one page per step plus the overview")
    func tiles() throws {
        let r = try tileRun()
        let T = 256 / r.blocks.bc
        let figure = try TilesDiagram.figure(r, steps: true, style: Style())
        #expect(figure.pages[0].count(role: "tile") == T * (T + 1) / 2)
        #expect(figure.pages[0].count(role: "skipped-tile") == T * (T - 1) / 2)
        #expect(figure.pages.count == 1 + T * (T + 1) / 2)
        // Every tile on the diagonal has a masked staircase; with Bc > Br some tiles below it do too.
        #expect(figure.pages[0].count(role: "masked") == T)
        var wide = TileOptions(algorithm: .fa2, sramElements: 512)
        wide.blocks = BlockSizes(br: 4, bc: 16)
        wide.recordSteps = true
        let wideRun = try TiledAttention.run(try TileProblem(n: 48, d: 8, causal: true), wide)
        // Tiles holding a cell above the diagonal (last column > first row) that are not skipped
        // (first column ≤ last row).
        var masked = 0
        for i in 0..<12 {
            for j in 0..<3 {
                let firstRow = i * 4, lastRow = firstRow + 3, firstCol = j * 16, lastCol = firstCol + 15
                if lastCol > firstRow && firstCol <= lastRow { masked += 1 }
            }
        }
        #expect(try TilesDiagram.figure(wideRun, steps: false, style: Style()).pages[0].count(role: "masked") == masked)
        let full = try TilesDiagram.figure(try tileRun(causal: false), steps: false, style: Style())
        #expect(full.pages.count == 1 && full.pages[0].count(role: "tile") == T * T)
    }

    @Test("cache contents: one cell per stored value shown, the new row outlined in each heatmap")
    func cache() throws {
        let page = try allFigures()[3].1.pages[0]
        // 2 producers × (K, V) × 6 tokens × 32 values.
        #expect(page.count(role: "cache-cell") == 2 * 2 * 6 * 32)
        #expect(page.count(role: "new-row") == 4)
        // Every layer points at the cache it reads: 4 layers, CLA2.
        #expect(page.count(role: "reader") == 4)
    }

    @Test("tradeoff: every Table 1 row is a point; the frontier runs through the models nothing dominates")
    func tradeoff() throws {
        let page = try allFigures()[6].1.pages[0]
        #expect(page.count(role: "model") == 20)
        #expect(page.count(role: "frontier") == 1)
        #expect(page.count(role: "model-label") >= 18)
    }

    @Test("a canvas too small to read is refused, naming --size")
    func tooSmall() throws {
        var style = Style()
        style.width = 400
        style.height = 240
        #expect(throws: FigureError.self) { try HeadsDiagram.figure(llama3(), dtype: .bf16, style: style) }
        let deep = try DecoderConfig(layers: 80, dModel: 64, attention: AttentionLayout(qHeads: 4, kvHeads: 1, headDim: 16), ffn: 64, vocab: 10)
        do {
            _ = try LayersDiagram.figure(deep, dtype: .bf16, style: Style())
            Issue.record("80 layers at 900 px should be refused")
        } catch {
            #expect(error.subject == .fields([.size]) && error.reason.contains("try --size"))
        }
    }
}

@Suite("Cairo output")
struct CairoOutputTests {
    @Test("PNG: signature, requested size, background and group colours where the figure put them")
    func png() throws {
        let dir = try folder()
        let figure = try HeadsDiagram.figure(llama3(), dtype: .bf16, style: Style())
        try Renderer.write(figure, to: dir + "/h.png", scale: 2)
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: dir + "/h.png")))
        #expect(Array(bytes[0..<8]) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        func be32(_ at: Int) -> Int { bytes[at..<(at + 4)].reduce(0) { $0 << 8 | Int($1) } }
        #expect(be32(16) == 3200 && be32(20) == 1800)
        // Read back the file that was written (at scale 2, so canvas points double).
        let image = try Renderer.pixels(ofPNG: dir + "/h.png")
        #expect(image.width == 3200 && image.height == 1800)
        func pixel(_ p: Point) -> UInt32 { image.argb[Int(p.y * 2) * image.width + Int(p.x * 2)] }
        func argb(_ c: Color) -> UInt32 {
            0xff00_0000 | UInt32((c.r * 255).rounded()) << 16 | UInt32((c.g * 255).rounded()) << 8 | UInt32((c.b * 255).rounded())
        }
        #expect(pixel(Point(3, 3)) == argb(Theme.light.background))
        var checked = 0
        for item in figure.pages[0].items where item.role == "kv-head" {
            guard case .rect(let r, let fill?, _, _, _) = item.shape else { continue }
            #expect(pixel(Point(r.x + 6, r.y + 6)) == argb(fill))
            checked += 1
        }
        #expect(checked == figure.pages[0].count(role: "kv-head") && checked > 0)
        var dark = Style()
        dark.theme = .dark
        let darkImage = try Renderer.pixels(try HeadsDiagram.figure(llama3(), dtype: .bf16, style: dark))
        #expect(darkImage.argb[0] == argb(Theme.dark.background))
    }

    @Test("SVG: well-formed XML, one filled rect per K/V-head box of a colour, every label a real <text> in its font")
    func svg() throws {
        let dir = try folder()
        let config = try DecoderConfig(layers: 2, dModel: 64, attention: AttentionLayout(qHeads: 8, kvHeads: 2, headDim: 8), ffn: 64, vocab: 10)
        var style = Style()
        style.language = .ja
        let figure = try HeadsDiagram.figure(config, dtype: .bf16, style: style)
        try Renderer.write(figure, to: dir + "/h.svg")
        let text = try String(contentsOfFile: dir + "/h.svg", encoding: .utf8)
        let parser = XMLParser(data: Data(text.utf8))
        #expect(parser.parse())
        // Group 1's colour fills exactly the opaque boxes the display list gave it.
        let c = Theme.light.group(1)
        func hex(_ v: Double) -> String { String(Int((v * 255).rounded()), radix: 16).count == 1 ? "0" + String(Int((v * 255).rounded()), radix: 16) : String(Int((v * 255).rounded()), radix: 16) }
        let needle = "fill=\"#\(hex(c.r))\(hex(c.g))\(hex(c.b))\"/>"
        let expected = figure.pages[0].items.filter { item in
            if case .rect(_, let fill?, nil, _, _) = item.shape { fill == c } else { false }
        }.count
        #expect(expected >= 2)
        #expect(text.components(separatedBy: "<rect").filter { $0.contains(needle) }.count == expected, "\(needle)")
        // Each text item is one <text> element holding its words, set in the font the PNG uses.
        let labels = figure.pages[0].items.compactMap { item -> String? in if case .text(let s, _, _, _, _, _, _) = item.shape { s } else { nil } }
        #expect(text.components(separatedBy: "<text ").count - 1 == labels.count)
        // A Japanese run is a <tspan> in the CJK font inside a Latin text, or the other way round.
        let flat = text.replacing(/<tspan font-family="[^"]*">/, with: "").replacing("</tspan>", with: "")
        for label in labels {
            let escaped = label.replacing("&", with: "&amp;").replacing("<", with: "&lt;").replacing(">", with: "&gt;")
            #expect(flat.contains(try Regex("<text [^>]*font-family=\"(DejaVu Sans|Noto Sans CJK JP)\"[^>]*>\(NSRegularExpression.escapedPattern(for: escaped))</text>")), "\(label)")
        }
        #expect(text.contains("font-family=\"Noto Sans CJK JP\"") && text.contains("font-family=\"DejaVu Sans\""))
    }

    @Test("PDF: one page per tile step plus the overview")
    func pdf() throws {
        let dir = try folder()
        let figure = try TilesDiagram.figure(try tileRun(), steps: true, style: Style())
        try Renderer.write(figure, to: dir + "/t.pdf")
        let text = String(decoding: try Data(contentsOf: URL(fileURLWithPath: dir + "/t.pdf")), as: UTF8.self)
        #expect(text.hasPrefix("%PDF-"))
        #expect(text.matches(of: /\/Type\s*\/Page[^s]/).count == figure.pages.count)
        #expect(text.contains("2024"))
    }

    @Test("every figure, every format: byte-identical when drawn twice in one process, other figures between")
    func determinism() throws {
        let dir = try folder()
        let figures = try allFigures()
        for ext in ["png", "svg", "pdf"] {
            for (name, figure) in figures {
                try Renderer.write(figure, to: "\(dir)/\(name)-a.\(ext)")
            }
            for (name, figure) in figures.reversed() {
                try Renderer.write(figure, to: "\(dir)/\(name)-b.\(ext)")
            }
            for (name, _) in figures {
                let a = try Data(contentsOf: URL(fileURLWithPath: "\(dir)/\(name)-a.\(ext)"))
                let b = try Data(contentsOf: URL(fileURLWithPath: "\(dir)/\(name)-b.\(ext)"))
                #expect(a == b, "\(name).\(ext)")
            }
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).allSatisfy { !$0.hasPrefix(".") })
    }

    @Test("Japanese labels render with the CJK font")
    func japanese() throws {
        var style = Style()
        style.title = "クエリヘッドとKVヘッドの共有"
        let dir = try folder()
        try Renderer.write(try HeadsDiagram.figure(llama3(), dtype: .bf16, style: style), to: dir + "/ja.png")
        #expect(FileManager.default.fileExists(atPath: dir + "/ja.png"))
    }

    @Test("bad output paths: unknown extension, missing folder — nothing written")
    func badPaths() throws {
        let dir = try folder()
        let figure = try HeadsDiagram.figure(llama3(), dtype: .bf16, style: Style())
        #expect(throws: RenderError.self) { try Renderer.write(figure, to: dir + "/h.gif") }
        #expect(throws: RenderError.self) { try Renderer.write(figure, to: dir + "/missing/h.png") }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty)
    }
}

@Suite("Renderer: failed writes")
struct RenderWriteTests {
    @Test("a figure onto /dev/full (through a link): the flag, the user's path and the reason; the link stays", arguments: ["png", "svg", "pdf"])
    func devFull(ext: String) throws {
        let dir = try folder()
        let link = "\(dir)/full.\(ext)"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: "/dev/full")
        let figure = try HeadsDiagram.figure(llama3(), dtype: .bf16, style: Style())
        do {
            try Renderer.write(figure, to: link)
            Issue.record("writing onto /dev/full succeeded")
        } catch {
            #expect(error.subject == .fields([.output]))
            #expect(error.reason == "\(link): cannot write (No space left on device)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["full.\(ext)"])
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: link) == "/dev/full")
    }

    @Test("a PNG scale under one pixel or over Cairo's limit is a --scale error with the range that works")
    func pngScale() throws {
        for scale in [1e-9, 0.0005, 21, .infinity, .nan] {
            #expect(throws: RenderError.self, "\(scale)") { try Renderer.checkPNGScale(width: 1600, height: 900, scale: scale) }
        }
        try Renderer.checkPNGScale(width: 1600, height: 900, scale: 0.0006)
        try Renderer.checkPNGScale(width: 1600, height: 900, scale: 20)
        do { try Renderer.checkPNGScale(width: 1600, height: 900, scale: 1e-9) } catch {
            #expect(error.subject == .fields([.scale]))
            #expect(error.reason.hasSuffix("use a scale in [0.0006, 20.4793]"), "\(error.reason)")
        }
    }
}
