import AttnEngine
import AttnFigures
import AttnRender
import AttnTrace
import Foundation
import FoundationXML
import Testing

/// A real decode over the built-in characters, recorded with `detail`.
func attentionRun(q: Int, kv: Int, layers: Int = 2, cla: Int? = nil, prompt: String = "the cat sat", tokens: Int = 6,
                  detail: RecordDetail = .full) throws -> DecodeRun {
    let config = try DecoderConfig(layers: layers, dModel: q * 8, attention: AttentionLayout(qHeads: q, kvHeads: kv, headDim: 8), ffn: 64,
                                   vocab: CharVocabulary.count, kvMap: cla.map { try KVPattern.cla($0).map(layers: layers) } ?? .unshared(layers: layers))
    let ids = try CharVocabulary.encode(prompt, vocab: config.vocab)
    let decoder = Decoder(config: config, weights: DecoderWeights(config: config, seed: 7), capacityTokens: ids.count + tokens)
    var sampler = Sampler(temperature: 0, seed: 7)
    return DecodeRun(config: config, seed: 7, temperature: 0, cacheDType: .fp32, detail: detail,
                     result: decoder.generate(prompt: ids, tokens: tokens, sampler: &sampler, detail: detail), maxAbsDiff: nil)
}

/// The rects of `role` on `page`, with their fill and stroke.
private func rects(_ page: Page, _ role: String) -> [(rect: Rect, fill: Color?, stroke: Color?)] {
    page.items.compactMap { item in
        guard item.role == role, case .rect(let r, let fill, let stroke, _, _) = item.shape else { return nil }
        return (r, fill, stroke)
    }
}

private func texts(_ page: Page) -> [(text: String, at: Point)] {
    page.items.compactMap { item in
        if case .text(let s, let at, _, _, _, _, _) = item.shape { (s, at) } else { nil }
    }
}

private func contains(_ r: Rect, _ p: Point) -> Bool { p.x >= r.x && p.x <= r.maxX && p.y >= r.y && p.y <= r.maxY }

/// Each query-head chip with the head it names (its text "q<h>").
private func headChips(_ page: Page) -> [(head: Int, rect: Rect, fill: Color)] {
    let labels = texts(page)
    return rects(page, "q-head").map { chip in
        let name = labels.first { $0.text.hasPrefix("q") && contains(chip.rect, $0.at) }!.text
        return (Int(name.dropFirst())!, chip.rect, chip.fill!)
    }
}

@Suite("Attention diagram")
struct AttentionDiagramTests {
    @Test("every cell is the run's weight at its query and key position; none above the diagonal; the left column sums the keys before the window")
    func cellsAreTheRunsWeights() throws {
        // 31 prompt characters + 8 tokens: 38 positions, more than a heatmap shows.
        let run = try attentionRun(q: 8, kv: 2, prompt: "the cat sat on the mat and then", tokens: 8)
        let layer = 1, T = run.result.steps.count
        let page = try AttentionDiagram.figure(run, layer: layer, style: Style()).pages[0]
        let heats = rects(page, "heatmap").map(\.rect)
        let cells = rects(page, "weight-cell"), earlier = rects(page, "earlier-cell")
        let chips = headChips(page)
        #expect(Set(chips.map(\.head)) == Set(0..<8))
        let cell = cells[0].rect.w
        var drawn = 0
        for (h, chip, _) in chips {
            // The heatmap a chip labels: the one it sits in (in the masked corner) or just above.
            let heat = try #require(heats.first { $0.x <= chip.midX && chip.midX <= $0.maxX && chip.midY <= $0.maxY && chip.midY >= $0.y - 30 })
            let shown = Int((heat.w / cell).rounded()), first = T - shown
            #expect(shown <= AttentionDiagram.maxPositions && first > 0)
            let mine = cells.filter { contains(heat, Point($0.rect.midX, $0.rect.midY)) }
            drawn += mine.count
            for r in 0..<shown {
                let t = first + r
                let weights = run.result.steps[t].record.layers[layer].attention!        // [q_heads × (t + 1)]
                let row = mine.filter { Int((($0.rect.y - heat.y) / cell).rounded()) == r }
                #expect(row.count == r + 1, "head \(h), position \(t)")
                for c in row {
                    let k = Int(((c.rect.x - heat.x) / cell).rounded())
                    #expect(k <= r, "head \(h): a coloured cell above the diagonal at row \(r), column \(k)")
                    #expect(c.fill == AttentionDiagram.color(weight: weights[h * (t + 1) + first + k], theme: .light))
                }
                let sum = weights[(h * (t + 1))..<(h * (t + 1) + first)].reduce(0, +)
                let left = earlier.filter { abs($0.rect.y - (heat.y + Double(r) * cell)) < 0.5 && $0.rect.maxX <= heat.x && $0.rect.x >= heat.x - 2 * cell }
                #expect(left.count == 1 && left.first?.fill == AttentionDiagram.color(weight: sum, theme: .light))
            }
        }
        #expect(drawn == cells.count)   // every cell belongs to a labelled heatmap
    }

    @Test("heads are framed by the K/V head they read, in that K/V head's colour", arguments: [(4, 4), (8, 2), (8, 1), (9, 3), (64, 8)])
    func grouping(q: Int, kv: Int) throws {
        let run = try attentionRun(q: q, kv: kv)
        let a = run.config.attention
        let page = try AttentionDiagram.figure(run, layer: 0, style: Style()).pages[0]
        let frames = rects(page, "group"), tabs = rects(page, "kv-head"), chips = headChips(page)
        let labels = texts(page)
        // Every K/V head keeps its frame, even when some of its query heads are left out.
        #expect(frames.count == kv && tabs.count == kv)
        var seen = Set<Int>()
        for frame in frames {
            let tab = try #require(tabs.first { contains(frame.rect.inset(-20), Point($0.rect.midX, $0.rect.midY)) })
            let name = try #require(labels.first { $0.text.hasPrefix("KV head ") && contains(tab.rect, $0.at) }).text
            let g = Int(name.dropFirst("KV head ".count).prefix { $0.isNumber })!
            #expect(frame.stroke == Theme.light.group(g) && tab.fill == Theme.light.group(g))
            let inside = chips.filter { contains(frame.rect, Point($0.rect.midX, $0.rect.midY)) }
            #expect(!inside.isEmpty)
            for chip in inside {
                #expect(a.kvHead(forQueryHead: chip.head) == g, "q\(chip.head) drawn in the frame of KV head \(g)")
                #expect(chip.fill == Theme.light.group(g))
            }
            seen.formUnion(inside.map(\.head))
        }
        #expect(seen.count == chips.count)   // no head outside a frame, none twice
        if seen.count < q {
            #expect(labels.contains { $0.text == "…" })
            #expect(labels.contains { $0.text.contains("\(seen.count) of \(q) query heads shown") })
        }
    }

    @Test("a CLA consumer says whose cache it read; a producer reads its own")
    func cacheSource() throws {
        let run = try attentionRun(q: 4, kv: 2, layers: 4, cla: 2)
        let consumer = texts(try AttentionDiagram.figure(run, layer: 3, style: Style()).pages[0]).map(\.text)
        #expect(run.result.steps[0].record.layers[3].sourceLayer == 2)
        #expect(consumer.contains { $0.hasPrefix("layer 2's (CLA)") })
        let producer = texts(try AttentionDiagram.figure(run, layer: 2, style: Style()).pages[0]).map(\.text)
        #expect(producer.contains { $0.hasPrefix("layer 2's own") })
    }

    @Test("a summary-detail run and a layer the model lacks are refused, naming the flag")
    func errors() throws {
        let summary = try attentionRun(q: 4, kv: 2, detail: .summary)
        let detail = #expect(throws: FigureError.self) { try AttentionDiagram.figure(summary, layer: 0, style: Style()) }
        #expect(detail?.subject == .fields([.traceDetail]))
        let full = try attentionRun(q: 4, kv: 2)
        for layer in [-1, 2] {
            let error = #expect(throws: FigureError.self) { try AttentionDiagram.figure(full, layer: layer, style: Style()) }
            #expect(error?.subject == .fields([.layer]))
        }
    }

    @Test("one position and one head still make a figure")
    func smallest() throws {
        let run = try attentionRun(q: 1, kv: 1, layers: 1, prompt: "a", tokens: 1)
        let page = try AttentionDiagram.figure(run, layer: 0, style: Style()).pages[0]
        #expect(page.count(role: "weight-cell") == 1 && page.count(role: "q-head") == 1)
    }

    @Test("token labels: line breaks and tabs visible, spaces as ␣, long tokens cut")
    func labels() {
        #expect(AttentionDiagram.label("\n") == "↵")
        #expect(AttentionDiagram.label("a\r\nb\t") == "a↵b⇥")
        #expect(AttentionDiagram.label(" ") == "␣")
        #expect(AttentionDiagram.label(" the") == " the")
        #expect(AttentionDiagram.label("internationalization") == "interna…")
        #expect(AttentionDiagram.label("internationalization").count == AttentionDiagram.maxLabelCharacters)
    }

    @Test("SVG: well-formed, byte-identical when drawn twice with another figure between")
    func deterministicSVG() throws {
        let dir = try folder()
        let figure = try AttentionDiagram.figure(try attentionRun(q: 9, kv: 3), layer: 1, style: Style())
        try Renderer.write(figure, to: dir + "/a.svg")
        try Renderer.write(try AttentionDiagram.figure(try attentionRun(q: 8, kv: 1), layer: 0, style: Style()), to: dir + "/other.svg")
        try Renderer.write(figure, to: dir + "/b.svg")
        let a = try Data(contentsOf: URL(fileURLWithPath: dir + "/a.svg")), b = try Data(contentsOf: URL(fileURLWithPath: dir + "/b.svg"))
        #expect(a == b)
        #expect(XMLParser(data: a).parse())
    }
}
