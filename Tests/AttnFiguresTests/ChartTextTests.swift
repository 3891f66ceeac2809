import AttnEngine
import AttnFigures
import AttnRender
import AttnTiling
import AttnTrace
import Foundation
import Testing

// Ticks, label placement, series colours and the Japanese of the charts, tiles and attention
// figures, each checked against values worked out by hand or against the figure's own geometry.

@Suite("Nice ticks")
struct NiceTickTests {
    /// Each case worked by hand: raw step = span / 8; the smallest of 1, 2, 2.5, 5 × 10ᵏ at or above
    /// it that leaves at most 8 multiples in the range.
    @Test("linear: the smallest 1-2-2.5-5 step with at most 8 ticks, and the decimals that step needs", arguments: [
        (0.0, 15.3, [0.0, 2, 4, 6, 8, 10, 12, 14], 0),            // step 2 (1 gives 16 ticks)
        (0.0, 17.6, [0.0, 2.5, 5, 7.5, 10, 12.5, 15, 17.5], 1),   // step 2.5 (2 gives 9): "0.0, 2.5, … 17.5"
        (13.05, 14.47, [13.2, 13.4, 13.6, 13.8, 14.0, 14.2, 14.4], 1),  // step 0.2 (0.1 gives 14)
        (0.0, 0.9, [0.0, 0.2, 0.4, 0.6, 0.8], 1),                 // step 0.2 (0.1 gives 10)
        (0.0, 2.4, [0.0, 0.5, 1, 1.5, 2], 1),                     // step 0.5 (0.25 gives 10)
        (0.0, 73.5, [0.0, 10, 20, 30, 40, 50, 60, 70], 0),        // step 10 (5 gives 15)
        (100.0, 1000.0, [200.0, 400, 600, 800, 1000], 0),         // 100 would give 10, 200 five (the first is 200)
    ])
    func linear(lo: Double, hi: Double, expected: [Double], decimals: Int) {
        let (values, d) = NiceTicks.linear(lo, hi)
        #expect(values.count == expected.count && zip(values, expected).allSatisfy { abs($0 - $1) < 1e-9 }, "\(lo)…\(hi): \(values)")
        #expect(d == decimals, "\(lo)…\(hi)")
    }

    @Test("log: powers of ten, with 2 and 5 between them when that makes at most 9 ticks")
    func log() {
        // 0.003…70: 1-2-5 would be 13 ticks (0.005 … 50), so only the decades.
        #expect(NiceTicks.log(0.003, 70) == [0.01, 0.1, 1, 10])
        // 1,500…230,000: 2k, 5k, 10k, 20k, 50k, 100k, 200k are 7.
        #expect(NiceTicks.log(1500, 230_000) == [2000, 5000, 10_000, 20_000, 50_000, 100_000, 200_000])
        // 3…8: only 5 lies inside; the axis then falls back to linear ticks.
        #expect(NiceTicks.log(3, 8) == [5])
    }

    /// The decimals of a label ("2.5" → 1, "14" → 0, "100k" → 0).
    private func decimals(_ label: String) -> Int {
        guard let dot = label.firstIndex(of: ".") else { return 0 }
        return label[label.index(after: dot)...].prefix { $0.isNumber }.count
    }

    @Test("every linear y axis writes its ticks with one count of decimals, and has at least four ticks")
    func oneDecimalCount() throws {
        let kv = try Charts.kvChart(Charts.kvSeries(for: llama3(), name: "Llama 3 8B", dtype: .bf16), contexts: [1024, 8192, 131072],
                                    logY: false, subtitle: "", style: Style()).pages[0]
        let tradeoff = try Charts.tradeoff(Presets.all.filter { $0.name.hasPrefix("cla1b-") }, style: Style()).pages[0]
        for (name, page) in [("kv-chart", kv), ("tradeoff", tradeoff)] {
            let labels = texts(page).filter { $0.anchor == .end && $0.text.first?.isNumber == true }.map(\.text)
            let ys = gridTicks(page, theme: .light) { Double($0.replacing(",", with: "")) }.y
            #expect(ys.count >= 4, "\(name): \(ys.count) y ticks")
            #expect(Set(labels.map(decimals)).count == 1, "\(name): \(labels)")
        }
    }
}

@Suite("Chart labels and series")
struct ChartLabelTests {
    /// A compare-kv chart's points: SmolLM2's retrofits and techniques, clustered as measured ones
    /// are (several at equal sizes, two past the ceiling).
    static func compareKVPoints() -> [TradeoffPoint] {
        let rows: [(String, Int, Double, Int, SeriesKind)] = [
            ("original H64-GQA3", 23040, 11.9, 0, .gqa), ("H64-MQA", 7680, 19.4, 1, .mqa), ("H64-GQA3-CLA2", 11520, 15.2, 1, .gqa),
            ("H64-MQA-CLA2", 3840, 160, 1, .mqa), ("int8, groups of 32", 6480, 11.95, 2, .quantized), ("int4, groups of 32", 3600, 12.6, 2, .quantized),
            ("int4, groups of 64", 3240, 12.9, 2, .quantized), ("window, budget 128", 5760, 13.4, 3, .eviction), ("sinks, budget 128", 5760, 12.8, 3, .eviction),
            ("h2o, budget 128", 5760, 12.5, 3, .eviction), ("latent, rank 96", 11520, 12.2, 4, .latent), ("latent, rank 48", 5760, 14.1, 4, .latent),
            ("H64-MQA + int4", 1200, 400, 5, .mqa), ("H64-GQA3-CLA2 + int8", 3240, 15.6, 5, .gqa),
        ]
        return rows.map { TradeoffPoint(name: $0.0, bytesPerToken: $0.1, perplexity: $0.2, family: $0.3, kind: $0.4) }
    }

    static let families = ["original", "K/V sharing (retrofit)", "quantized K/V", "eviction", "latent (SVD)", "sharing + a technique"]

    static func charts(_ style: Style) throws -> [(String, Page, Int)] {
        [("tradeoff", try Charts.tradeoff(Presets.all.filter { $0.name.hasPrefix("cla1b-") }, style: style).pages[0], 20),
         ("compare-kv", try Charts.tradeoff(compareKVPoints(), title: "t", subtitle: "s", yLabel: "y", footnote: "f", legend: families,
                                           ceiling: 10 * 11.9, style: style).pages[0], compareKVPoints().count)]
    }

    @Test("trade-off and compare-kv charts, 1600×900 and 960×540, both languages: every point labelled, no two label boxes (real font widths) intersect, none leaves the plot",
          arguments: [(1600.0, 900.0), (960, 540)], [Language.en, .ja])
    func labelsNeverOverlap(size: (Double, Double), language: Language) throws {
        var style = Style()
        (style.width, style.height, style.language) = (size.0, size.1, language)
        for (name, page, count) in try Self.charts(style) {
            let frame = try #require(plotFrame(page, theme: style.theme))
            let boxes = texts(page).enumerated().filter { i, _ in page.items.filter { if case .text = $0.shape { true } else { false } }[i].role == "model-label" }
                .map { _, t in (t.text, textBox(t.text, at: t.at, size: t.size, anchor: t.anchor)) }
            #expect(boxes.count == count, "\(name) \(size): \(boxes.count) of \(count) points labelled")
            for (i, a) in boxes.enumerated() {
                #expect(a.1.x >= frame.x - 1e-6 && a.1.maxX <= frame.maxX + 1e-6 && a.1.y >= frame.y - 1e-6 && a.1.maxY <= frame.maxY + 1e-6,
                        "\(name) \(size): '\(a.0)' leaves the plot")
                for b in boxes[(i + 1)...] {
                    let overlap = a.1.x < b.1.maxX && b.1.x < a.1.maxX && a.1.y < b.1.maxY && b.1.y < a.1.maxY
                    #expect(!overlap, "\(name) \(size): '\(a.0)' and '\(b.0)' overlap")
                }
            }
        }
    }

    /// The fill of the shape of `role` nearest `p`.
    private func fills(_ page: Page, _ role: String) -> [Color] {
        page.items.compactMap { item in
            guard item.role == role else { return nil }
            switch item.shape {
            case .circle(_, _, let fill, _, _): return fill
            case .polygon(_, let fill): return fill
            case .line(_, let color, _, _, _): return color
            default: return nil
            }
        }
    }

    @Test("a series keeps its colour across charts: MHA, GQA and MQA lines of the KV chart are the trade-off's MHA, GQA and MQA points")
    func seriesColours() throws {
        let theme = Theme.light
        let series = Charts.kvSeries(for: [(llama3(), "Llama 3 8B"), (Presets.named("llama-2-7b")!.decoder!, "Llama 2 7B")], dtype: .bf16)
        let kv = try Charts.kvChart(series, contexts: [1024, 4096], logY: false, subtitle: "", style: Style()).pages[0]
        let lines = fills(kv, "series")
        #expect(lines.count == series.count)
        for (s, color) in zip(series, lines) {
            let a = s.budget.layout
            let expected: SeriesKind = a.kvHeads == a.qHeads ? .mha : a.kvHeads == 1 ? .mqa : .gqa
            #expect(color == theme.series(expected), "\(s.name)")
        }
        // A layout both models share is one line: Llama 2 7B's MHA is Llama 3 8B's MHA alternative.
        #expect(series.filter { $0.budget.layout.kvHeads == 32 && $0.budget.kvLayers == 32 }.count == 1)
        let points = Presets.all.filter { $0.name.hasPrefix("cla1b-") }.compactMap(\.decoder)
        let page = try Charts.tradeoff(Presets.all.filter { $0.name.hasPrefix("cla1b-") }, style: Style()).pages[0]
        let colours = fills(page, "model")
        // Points are drawn by increasing size; each one's colour is its head sharing's.
        let sorted = points.sorted { KVBudget(layout: $0.attention, kvMap: $0.kvMap, dtype: .bf16).bytesPerToken < KVBudget(layout: $1.attention, kvMap: $1.kvMap, dtype: .bf16).bytesPerToken }
        #expect(Set(colours).isSubset(of: [theme.series(.mha), theme.series(.gqa), theme.series(.mqa)]))
        #expect(colours.count == sorted.count)
        #expect(colours.filter { $0 == theme.series(.mha) }.count == sorted.filter { $0.attention.kvHeads == $0.attention.qHeads }.count)
        // Kinds never share a colour on one chart.
        let kinds: [SeriesKind] = [.mha, .gqa, .mqa, .latent, .quantized, .eviction]
        #expect(Set(kinds.map(\.paletteIndex)).count == kinds.count)
        #expect(Set(TileAlgorithm.allCases.map { SeriesKind.algorithm($0).paletteIndex }).count == 3)
    }

    @Test("tiles at N = 1024 with small blocks: tiles grouped into blocks, each shaded later than the one before in visit order, and the caption says so")
    func tilesAggregate() throws {
        var options = TileOptions(algorithm: .fa2, sramElements: 4096)
        options.recordSteps = true
        let r = try TiledAttention.run(try TileProblem(n: 1024, d: 64), options)      // Br = Bc = 16: 64 × 64 tiles
        let page = try TilesDiagram.figure(r, steps: false, style: Style()).pages[0]
        #expect(page.count(role: "tile") == 0)
        let blocks = rects(page, "tile-block")
        // 64 × 64 tiles of 16 positions on a ~620-unit grid are ~9.7 units: 2 × 2 tiles to a block.
        #expect(blocks.count == 32 * 32)
        // FA2 visits row block by row block: down the rows the shade darkens (each colour channel falls).
        let firstColumn = blocks.filter { abs($0.rect.x - blocks[0].rect.x) < 1e-9 }.map { $0.fill! }
        #expect(zip(firstColumn, firstColumn.dropFirst()).allSatisfy { $0.r >= $1.r && $0.g >= $1.g && $0.b >= $1.b && $0 != $1 })
        let caption = texts(page).map(\.text).joined(separator: " ")
        #expect(caption.contains("each block groups 2 × 2 tiles"))
        #expect(!caption.contains("Numbers and shade"))
    }
}

@Suite("Japanese figures")
struct JapaneseFigureTests {
    static func figures(_ style: Style) throws -> [(String, Figure)] {
        let small = try DecoderConfig(layers: 4, dModel: 64, attention: AttentionLayout(qHeads: 4, kvHeads: 2, headDim: 16), ffn: 192,
                                      vocab: CharVocabulary.count, kvMap: KVPattern.cla(2).map(layers: 4))
        // A prompt of no English words: token labels and the quoted prompt are the user's text.
        let prompt = try CharVocabulary.encode("12 34", vocab: small.vocab)
        let decoder = Decoder(config: small, weights: DecoderWeights(config: small, seed: 1), capacityTokens: prompt.count + 4)
        var sampler = Sampler(temperature: 0, seed: 1)
        let run = DecodeRun(config: small, seed: 1, temperature: 0, cacheDType: .fp32, detail: .full,
                            result: decoder.generate(prompt: prompt, tokens: 4, sampler: &sampler, detail: .full), maxAbsDiff: nil)
        var tileOptions = TileOptions(algorithm: .fa2, sramElements: 2048)
        tileOptions.recordSteps = true
        let tiles = try TiledAttention.run(try TileProblem(n: 64, d: 16, causal: true), tileOptions)
        var fa1Options = TileOptions(algorithm: .fa1, sramElements: 2048)
        fa1Options.recordSteps = true
        let fa1 = try TiledAttention.run(try TileProblem(n: 64, d: 16), fa1Options)
        let io = try Sweep.run(over: .sram, values: [1024, 4096], sramElements: 0, dtype: .fp32, backward: false,
                               problem: { n throws(ConfigError) in try TileProblem(n: n, d: 32) }, n: 256)
        let loss = LossSeries(name: "H16-GQA2", train: (1...20).map { ($0 * 100, 4.0 - Double($0) * 0.1) }, validation: [(1000, 3.2), (2000, 2.3)], kind: .gqa)
        let models = [(llama3(), "Llama 3 8B"), (Presets.named("mistral-7b")!.decoder!, "Mistral 7B")]
        return [
            ("tiles", try TilesDiagram.figure(tiles, steps: true, style: style)),
            ("tiles fa1", try TilesDiagram.figure(fa1, steps: true, style: style)),
            ("attention", try AttentionDiagram.figure(run, layer: 3, style: style)),
            ("kv-chart", try Charts.kvChart(Charts.kvSeries(for: models, dtype: .bf16, language: style.language), contexts: [1024, 8192],
                                            logY: true, subtitle: "", style: style)),
            ("io-chart", try Charts.ioChart(io, over: .sram, subtitle: "", style: style)),
            ("tradeoff", try Charts.tradeoff(Presets.all.filter { $0.name.hasPrefix("cla1b-") }, style: style)),
            ("loss-curve", try Charts.lossCurve([loss], title: "学習", subtitle: "", reference: ("ユニグラム", 2.0), footnote: "", style: style)),
            ("heads", try HeadsDiagram.figure(llama3(), dtype: .bf16, style: style)),
            ("layers", try LayersDiagram.figure(try DecoderConfig(layers: 10, dModel: 64, attention: AttentionLayout(qHeads: 4, kvHeads: 1, headDim: 16), ffn: 64,
                                                                  vocab: 10, kvMap: KVPattern.cla(3).map(layers: 10)), dtype: .bf16, style: style)),
            ("slides", Slides.deck(id: "99-kv", title: "テスト", summary: "要約", steps: [
                Slides.StepSlide(title: "手順", takeaway: "要点", figure: nil, figureSize: (1600, 900), numbers: [("バイト", "1,024")],
                                 paragraphs: ["本文"], checks: [("a == b", true), ("c == d", false)])], style: style)),
        ]
    }

    @Test("drawn with .ja, no text item of the charts, tiles (every step page) or attention figure has an English word beyond the documented symbols")
    func noEnglish() throws {
        var style = Style()
        style.language = .ja
        for (name, figure) in try Self.figures(style) {
            for (p, page) in figure.pages.enumerated() {
                #expect(englishWords(in: page).isEmpty, "\(name) page \(p): \(Set(englishWords(in: page)).sorted())")
            }
        }
    }

    @Test("the check finds English: the same figures in .en have words it reports")
    func englishIsFound() throws {
        for (name, figure) in try Self.figures(Style()) {
            #expect(!englishWords(in: figure.pages[0]).isEmpty, "\(name)")
        }
    }
}
