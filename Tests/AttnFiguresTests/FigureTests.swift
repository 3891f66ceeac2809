import AttnEngine
import AttnFigures
import AttnRender
import AttnTiling
import AttnTrace
import Foundation
import Testing

// Display lists checked against the engine's own numbers and closed forms; no Cairo.

func llama3() -> DecoderConfig { Presets.named("llama-3-8b")!.decoder! }

@Suite("Heads diagram")
struct HeadsDiagramTests {
    @Test("Llama 3 8B: 32 query-head boxes in 8 groups of 4, each coloured by the K/V head it reads and connected to it")
    func llama3Groups() throws {
        let config = llama3()
        let q = config.attention.qHeads, kv = config.attention.kvHeads
        #expect(q == 32 && kv == 8)  // Llama 3 8B: 32 query heads share 8 K/V heads
        var style = Style()
        style.width = 2400  // wide enough for every head to get its own box (no "…")
        let page = try HeadsDiagram.figure(config, dtype: .bf16, style: style).pages[0]
        let labels = texts(page)
        let panels = rects(page, nil).filter { $0.fill == Theme.light.panel }.map(\.rect)
        #expect(panels.count == 3)
        // Panel by panel: MHA (head h reads K/V head h), GQA-8 (h / 4), MQA (0).
        for (title, kvHeads) in [("MHA", q), ("GQA-8", kv), ("MQA", 1)] {
            let at = try #require(labels.first { $0.text == title }).at
            let panel = try #require(panels.first { contains($0, at) })
            func inPanel(_ r: Rect) -> Bool { contains(panel, Point(r.midX, r.midY)) }
            let qBoxes = rects(page, "q-head").filter { inPanel($0.rect) }.sorted { $0.rect.x < $1.rect.x }
            let kvBoxes = rects(page, "kv-head").filter { inPanel($0.rect) }.sorted { $0.rect.x < $1.rect.x }
            #expect(qBoxes.count == q && kvBoxes.count == kvHeads, "\(title)")
            #expect(Set(qBoxes.compactMap(\.fill)).count == min(kvHeads, Theme.light.palette.count), "\(title)")
            for (g, box) in kvBoxes.enumerated() { #expect(box.fill == Theme.light.group(g), "\(title) K/V head \(g)") }
            let connectors = page.items.compactMap { item -> [Point]? in
                guard item.role == "connector", case .line(let points, _, _, _, _) = item.shape, contains(panel, points[0]) else { return nil }
                return points
            }
            #expect(connectors.count == q, "\(title)")
            for (h, box) in qBoxes.enumerated() {
                let g = h / (q / kvHeads)
                #expect(box.fill == Theme.light.group(g), "\(title) query head \(h)")
                // The head's connector leaves its box and ends at K/V head g's box.
                let line = try #require(connectors.first { abs($0[0].x - box.rect.midX) < 1e-9 })
                #expect(abs(line.last!.x - kvBoxes[g].rect.midX) < 1e-9, "\(title) query head \(h)")
            }
            // Bytes per token: 2 (K and V) × 32 layers × K/V heads × 128 × 2 bytes (bf16).
            let bytes = 2 * config.layers * kvHeads * config.attention.headDim * 2
            #expect(labels.contains { $0.text == "\(Format.grouped(bytes)) B / token" && contains(panel, $0.at) }, "\(title)")
        }
    }
}

@Suite("Layers diagram")
struct LayersDiagramTests {
    /// The layer number a box's label names ("layer 4 · W_K, W_V", "layer 5 · reads 4").
    private func layerLabel(_ box: Rect, _ labels: [(text: String, at: Point, size: Double, anchor: TextAnchor, rotation: Double)]) -> [String]? {
        labels.first { $0.text.hasPrefix("layer ") && contains(box, $0.at) }?.text.split(separator: " ").map(String.init)
    }

    @Test("CLA3 on 10 layers: exactly layers 0, 1, 4, 7 produce (the first group is the short one); each consumer reads its group's producer")
    func cla3() throws {
        let L = 10, S = 3
        let config = try DecoderConfig(layers: L, dModel: 64, attention: AttentionLayout(qHeads: 4, kvHeads: 1, headDim: 16), ffn: 64, vocab: 10,
                                       kvMap: KVPattern.cla(S).map(layers: L))
        // Closed form of the CLA paper's convention: ⌈L/S⌉ groups, the first one L − S·(⌈L/S⌉ − 1) layers long.
        let groups = (L + S - 1) / S, first = L - S * (groups - 1)
        let producers = [0] + Array(stride(from: first, to: L, by: S))
        #expect(producers == [0, 1, 4, 7])
        let page = try LayersDiagram.figure(config, dtype: .bf16, style: Style()).pages[0]
        let labels = texts(page)
        let drawnProducers = try rects(page, "producer-layer").map { box in try #require(layerLabel(box.rect, labels)) }
        #expect(drawnProducers.map { Int($0[1])! }.sorted() == producers)
        #expect(drawnProducers.allSatisfy { $0.suffix(2) == ["W_K,", "W_V"] })
        let consumers = try rects(page, "consumer-layer").map { box in try #require(layerLabel(box.rect, labels)) }
        #expect(consumers.map { Int($0[1])! }.sorted() == Array(Set(0..<L).subtracting(producers)).sorted())
        for words in consumers {
            let l = Int(words[1])!
            #expect(words[3] == "reads" && Int(words[4]) == producers.last { $0 <= l }, "layer \(l)")
        }
        #expect(page.count(role: "cache-slot") == producers.count)
    }
}

@Suite("Charts")
struct ChartTests {
    /// Every data coordinate lies between the first tick less one tick spacing and the last tick
    /// plus one: the labelled ticks reach across the data.
    private func covers(_ ticks: [Double], _ data: [Double]) -> Bool {
        let t = ticks.sorted()
        guard t.count >= 2, let lo = data.min(), let hi = data.max() else { return false }
        return t[0] - (t[1] - t[0]) <= lo && hi <= t[t.count - 1] + (t[t.count - 1] - t[t.count - 2])
    }

    /// The value at canvas height `y`, read off the two y ticks with the largest values (the ones
    /// whose labels carry the most digits).
    private func read(_ y: Double, _ ticks: [(at: Double, value: Double?)], log: Bool) -> Double {
        let t = ticks.compactMap { t in t.value.map { (at: t.at, value: $0) } }.sorted { $0.value < $1.value }.suffix(2)
        let (a, b) = (t.first!, t.last!)
        let f = (y - a.at) / (b.at - a.at)
        return log ? Foundation.exp(Foundation.log(a.value) + f * (Foundation.log(b.value) - Foundation.log(a.value))) : a.value + f * (b.value - a.value)
    }

    @Test("KV chart, linear and log: the ticks cover every point, and each point read off the y ticks is 2 × layers × kv_heads × head_dim × 2 B × tokens", arguments: [false, true])
    func kvChart(logY: Bool) throws {
        let config = llama3(), contexts = [1024, 8192, 32768, 131072]
        let series = Charts.kvSeries(for: config, name: "Llama 3 8B", dtype: .bf16)
        let page = try Charts.kvChart(series, contexts: contexts, logY: logY, subtitle: "", style: Style()).pages[0]
        let points = circles(page, "point")
        #expect(points.count == series.count * contexts.count)
        let ticks = gridTicks(page, theme: .light, parse: Double.init)
        #expect(ticks.x.count >= 2 && ticks.y.count >= 2)
        #expect(covers(ticks.x.map(\.at), points.map(\.x)))
        // Log or linear, the ticks reach across every point (a log axis keeps 0.01 and 0.1 GB).
        #expect(covers(ticks.y.map(\.at), points.map(\.y)))
        // The model's own series comes first; its points are in context order.
        let a = config.attention
        for (c, p) in zip(contexts, points.prefix(contexts.count)) {
            let gb = Double(2 * config.layers * a.kvHeads * a.headDim * 2 * c) / 1e9
            #expect(abs(read(p.y, ticks.y, log: logY) / gb - 1) < 1e-3, "\(c) tokens")
        }
    }

    @Test("I/O chart (log-log): the ticks cover every point, and each point read off the y ticks is the run's HBM accesses")
    func ioChart() throws {
        let sweep = try Sweep.run(over: .sram, values: [1024, 4096, 16384], sramElements: 0, dtype: .fp32, backward: false,
                                  problem: { n throws(ConfigError) in try TileProblem(n: n, d: 32) }, n: 512)
        let page = try Charts.ioChart(sweep, over: .sram, subtitle: "", style: Style()).pages[0]
        let points = circles(page, "point")
        #expect(points.count == sweep.count)
        let ticks = gridTicks(page, theme: .light) { label in
            let scale = ["k": 1e3, "M": 1e6, "G": 1e9][String(label.suffix(1))]
            return scale.map { s in Double(label.dropLast()).map { $0 * s } } ?? Double(label.replacing(",", with: ""))
        }
        #expect(covers(ticks.x.map(\.at), points.map(\.x)))
        #expect(covers(ticks.y.map(\.at), points.map(\.y)))
        // Points are drawn algorithm by algorithm in TileAlgorithm order, each by increasing M.
        let runs = TileAlgorithm.allCases.flatMap { algo in sweep.filter { $0.result.algorithm == algo }.sorted { $0.value < $1.value } }
        for (run, p) in zip(runs, points) {
            #expect(abs(read(p.y, ticks.y, log: true) / Double(run.result.hbmAccesses) - 1) < 2e-2, "\(run.result.algorithm) M = \(run.value)")
        }
    }
}

@Suite("Every figure")
struct PageTests {
    /// One figure of each kind drawn from small real runs.
    private func figures() throws -> [(String, Figure)] {
        let small = try DecoderConfig(layers: 4, dModel: 64, attention: AttentionLayout(qHeads: 4, kvHeads: 2, headDim: 16), ffn: 192,
                                      vocab: CharVocabulary.count, kvMap: KVPattern.cla(2).map(layers: 4))
        let prompt = try CharVocabulary.encode("the cat", vocab: small.vocab)
        let decoder = Decoder(config: small, weights: DecoderWeights(config: small, seed: 1), capacityTokens: prompt.count + 4)
        var sampler = Sampler(temperature: 0, seed: 1)
        let run = DecodeRun(config: small, seed: 1, temperature: 0, cacheDType: .fp32, detail: .full,
                            result: decoder.generate(prompt: prompt, tokens: 4, sampler: &sampler, detail: .full), maxAbsDiff: nil)
        var tileOptions = TileOptions(algorithm: .fa1, sramElements: 2048)
        tileOptions.recordSteps = true
        let tiles = try TiledAttention.run(try TileProblem(n: 64, d: 16, causal: true), tileOptions)
        let io = try Sweep.run(over: .sram, values: [1024, 4096], sramElements: 0, dtype: .fp32, backward: false,
                               problem: { n throws(ConfigError) in try TileProblem(n: n, d: 32) }, n: 256)
        let style = Style()
        return [
            ("heads", try HeadsDiagram.figure(llama3(), dtype: .bf16, style: style)),
            ("layers", try LayersDiagram.figure(small, dtype: .bf16, style: style)),
            ("tiles", try TilesDiagram.figure(tiles, steps: true, style: style)),
            ("cache", try CacheDiagram.figure(run, step: 5, style: style)),
            ("attention", try AttentionDiagram.figure(run, layer: 3, style: style)),
            ("kv-chart", try Charts.kvChart(Charts.kvSeries(for: llama3(), name: "Llama 3 8B", dtype: .bf16), contexts: [1024, 8192],
                                            logY: true, subtitle: "", style: style)),
            ("io-chart", try Charts.ioChart(io, over: .sram, subtitle: "", style: style)),
            ("tradeoff", try Charts.tradeoff(Presets.all.filter { $0.name.hasPrefix("cla1b-") }, style: style)),
        ]
    }

    @Test("text never starts outside the page (the start of its first glyph, anchor and rotation applied)")
    func textStartsOnThePage() throws {
        for (name, figure) in try figures() {
            for (p, page) in figure.pages.enumerated() {
                for t in texts(page) {
                    let w = Renderer.metrics.width(t.text, t.size, .regular)
                    let dx = t.anchor == .start ? 0 : t.anchor == .middle ? -w / 2 : -w
                    let x = t.at.x + dx * Foundation.cos(t.rotation), y = t.at.y + dx * Foundation.sin(t.rotation)
                    #expect(x >= 0 && x <= figure.width && y >= 0 && y <= figure.height, "\(name) page \(p): '\(t.text)' starts at (\(x), \(y))")
                }
            }
        }
    }
}
