import AttnEngine
import AttnExperiments
import AttnFigures
import AttnRender
import AttnTrace
import Testing

// The KV toolbox's figures (`draw kv-evict`, `kv-quant`, `paged`): what they draw and the numbers in
// their captions, each checked against a count or bound computed here from first principles.

/// A small GQA model with random weights: 3 layers, 4 query heads sharing 2 K/V heads of 16.
private let model: KeyValuePairs<String, String?> = ["layers": "3", "q-heads": "4", "kv-heads": "2", "d-model": "64"]

private func flags(_ extra: KeyValuePairs<String, String?>) -> Flags {
    Flags((Array(model) + Array(extra)).map { Flags.Flag($0.key, $0.value) })
}

private func draw(_ kind: FigureKind, _ extra: KeyValuePairs<String, String?>, runs: Runs = Runs()) throws -> Figure {
    let figure = try kind.figure(flags(extra))
    try figure.validate()
    return try figure.draw(Style(), allPages: false, runs: runs)
}

private func texts(_ figure: Figure) -> [(text: String, at: Point, size: Double, anchor: TextAnchor, rotation: Double)] {
    figure.pages[0].items.compactMap { item in
        if case .text(let s, let at, let size, _, let anchor, _, let rotation) = item.shape { (s, at, size, anchor, rotation) } else { nil }
    }
}

/// The width the renderer sets `s` in.
private func textWidth(_ s: String, size: Double) -> Double { Renderer.metrics.width(s, size, .regular) }

/// Every horizontal text lies inside the canvas, by the renderer's font widths.
private func expectTextInside(_ figure: Figure, _ name: String) {
    for t in texts(figure) where t.rotation == 0 {
        let w = Renderer.metrics.width(t.text, t.size, .regular)
        let left = t.anchor == .start ? t.at.x : t.anchor == .middle ? t.at.x - w / 2 : t.at.x - w
        #expect(left >= 0 && left + w <= figure.width, "\(name): '\(t.text)' runs off the canvas")
    }
}

/// The field an error names, or nil when nothing was thrown.
private func subject(_ body: () throws -> Void) -> Subject? {
    do { try body() } catch let error as any AttnLabError { return error.subject } catch { return .named("\(error)") }
    return nil
}

@Suite("KV toolbox figures")
struct KVFigureTests {
    @Test("kv-evict: window and sinks read min(step + 1, budget) positions — sinks the first s and the latest, a window the latest — at every layer and head")
    func positionPolicies() throws {
        let budget = 6, sinks = 2
        for evict in ["window", "sinks"] {
            let extra: KeyValuePairs<String, String?> = evict == "sinks"
                ? ["tokens": "12", "evict": "sinks", "kv-budget": "\(budget)", "sinks": "\(sinks)"]
                : ["tokens": "12", "evict": "window", "kv-budget": "\(budget)"]
            var decode = DecodeExperiment()
            var reader = try FlagReader(flags(extra))
            decode.model = try ModelSpec(&reader)
            decode.decoding = try DecodeSpec(&reader)
            let run = try decode.run().run
            let T = run.result.steps.count
            for layer in 0..<3 {
                for g in 0..<2 {
                    let map = try EvictionDiagram.cells(run, layer: layer, kvHead: g)
                    for t in 0..<T {
                        let read = Set((0..<T).filter { map[t][$0] == .recent || map[t][$0] == .kept })
                        #expect(read.count == min(t + 1, budget), "\(evict) layer \(layer) step \(t)")
                        let latest = Set(max(0, t + 1 - (evict == "sinks" ? budget - sinks : budget))...t)
                        let expected = evict == "sinks" && t + 1 > budget ? latest.union(0..<sinks) : t + 1 > budget ? latest : Set(0...t)
                        #expect(read == expected, "\(evict) layer \(layer) step \(t)")
                        #expect((0..<T).allSatisfy { j in (map[t][j] == .unwritten) == (j > t) })
                        if evict == "sinks" { #expect((0..<min(sinks, t + 1)).allSatisfy { map[t][$0] == .kept }) }
                    }
                }
            }
            // The caption: tokens held and bytes, against 2 × kv_heads × head_dim × 4 B (fp32) per token and layer.
            let figure = try draw(.kvEvict, extra)
            let title = try #require(texts(figure).first { $0.text.contains("held per layer") }).text
            #expect(title.contains("\(min(T, budget)) tokens of \(T) held per layer"))
            let perToken = 3 * 2 * 2 * 16 * 4
            #expect(texts(figure).contains { $0.text.contains("\(Format.grouped(min(T, budget) * perToken)) B held after step \(T - 1) vs \(Format.grouped(T * perToken)) B keeping every token") })
            // Heads and layers read alike: one panel per layer, the first, middle and last.
            #expect(texts(figure).filter { $0.text.hasSuffix("every K/V head") }.map(\.text) == ["layer 0, every K/V head", "layer 1, every K/V head", "layer 2, every K/V head"])
            expectTextInside(figure, evict)
        }
    }

    @Test("kv-evict under H2O: each head reads min(step + 1, budget + 1) positions, the recent ones always, and ends holding what the cache holds")
    func heavyHitters() throws {
        let budget = 6, recent = KVEviction.h2oRecent(budget: budget)
        let figureFlags: KeyValuePairs<String, String?> = ["tokens": "14", "evict": "h2o", "kv-budget": "\(budget)"]
        let runs = Runs()
        let figure = try draw(.kvEvict, figureFlags, runs: runs)
        var reader = try FlagReader(flags(figureFlags))
        var decode = DecodeExperiment()
        decode.model = try ModelSpec(&reader)
        decode.decoding = try DecodeSpec(&reader)
        decode.detail = .full
        let run = try decode.run().run
        let T = run.result.steps.count
        for layer in 0..<3 {
            for g in 0..<2 {
                let map = try EvictionDiagram.cells(run, layer: layer, kvHead: g)
                for t in 0..<T {
                    let read = (0..<T).filter { map[t][$0] == .recent || map[t][$0] == .kept }
                    #expect(read.count == min(t + 1, budget + 1), "layer \(layer) head \(g) step \(t)")
                    #expect((max(0, t + 1 - recent)...t).allSatisfy { map[t][$0] == .recent })
                    #expect((0..<T).filter { map[t][$0] == .kept }.allSatisfy { $0 <= t - recent })
                }
                // After the last step the cache holds what that step read, less the one it evicted.
                let evicted = run.result.steps[T - 1].record.layers[layer].evicted?[g] ?? []
                let lastRead = Set((0..<T).filter { map[T - 1][$0] != .evicted && map[T - 1][$0] != .unwritten })
                #expect(Set(run.result.cache.heldPositions(layer: layer, kvHead: g)) == lastRead.subtracting(evicted))
            }
        }
        let title = try #require(texts(figure).first { $0.text.hasPrefix("H2O eviction, budget \(budget)") }).text
        #expect(title.hasSuffix("\(budget) tokens of \(T) held per layer"))
        expectTextInside(figure, "h2o")
    }

    @Test("kv-quant: codes decode to min + code·scale within ±scale/2 of the original; a key's channel scale covers its group's tokens; the caption's errors are the row's")
    func quantizedRow() throws {
        let group = 8
        let extra: KeyValuePairs<String, String?> = ["tokens": "20", "kv-quant": "int4", "kv-group": "\(group)"]
        let figure = try draw(.kvQuant, extra)
        var reader = try FlagReader(flags(extra))
        var decode = DecodeExperiment()
        decode.model = try ModelSpec(&reader)
        decode.decoding = try DecodeSpec(&reader)
        let run = try decode.run().run
        let T = run.result.steps.count, p = T / group * group - 1
        let token = AttentionDiagram.label(run.vocabulary.text(of: run.result.processedTokens[p]))
        #expect(texts(figure).contains { $0.text.hasSuffix("layer 0, K/V head 0, position \(p) (\"\(token)\")") })
        // The originals: layer 0's K and V of a token depend on that token alone, so a plain decode of
        // the same tokens has them.
        var plain = decode
        plain.decoding = DecodeSpec()
        plain.decoding.promptIds = run.result.processedTokens.map(String.init).joined(separator: ",")
        plain.decoding.tokens = 1
        let original = try plain.run().run.result.cache
        let subtitle = try #require(texts(figure).first { $0.text.contains("max |error|") }).text
        for (which, name) in [(KVCache.KV.k, "K"), (.v, "V")] {
            let row = try #require(run.result.cache.quantizedRow(which, layer: 0, kvHead: 0, position: p))
            let x = original.row(which, layer: 0, kvHead: 0, position: p)
            var maxError: Float = 0, maxHalf: Float = 0
            for i in 0..<16 {
                let s = which == .k ? row.scales[i] : row.scales[i / group]
                #expect(row.codes[i] <= 15)
                #expect(row.decoded[i] == s.min + Float(row.codes[i]) * s.scale)
                #expect(abs(row.decoded[i] - x[i]) <= s.scale / 2 * (1 + 1e-5), "\(name)[\(i)]")
                maxError = max(maxError, abs(row.decoded[i] - x[i]))
                maxHalf = max(maxHalf, s.scale / 2)
                if which == .k {
                    // Channel i's scale and minimum span every token of the group.
                    for t in (p + 1 - group)...p {
                        let v = original.row(.k, layer: 0, kvHead: 0, position: t)[i]
                        #expect(s.min <= v && v <= s.min + 15 * s.scale, "channel \(i) token \(t)")
                    }
                }
            }
            #expect(row.scales.count == (which == .k ? 16 : 16 / group))
            #expect(subtitle.contains("\(name) max |error| \(QuantizedRowDiagram.short(maxError)), each within its ±scale/2 (up to \(QuantizedRowDiagram.short(maxHalf)))"))
        }
        // One code cell per element of K and of V.
        #expect(figure.pages[0].count(role: "code") == 32)
        expectTextInside(figure, "kv-quant")
    }

    @Test("paged: one table entry per block, Σ⌈len/B⌉; empty slots Σ(B − len mod B) mod B and the contiguous waste in the caption")
    func paged() throws {
        let lengths = [300, 1000, 700], B = 64, context = 2048
        let figure = try draw(.paged, ["page-tokens": "\(B)", "requests": "300,1000,700", "context": "\(context)"])
        let blocks = lengths.reduce(0) { $0 + ($1 + B - 1) / B }
        let empty = lengths.reduce(0) { $0 + (B - $1 % B) % B }
        // bf16: 2 B × 2 (K and V) × 3 layers × 2 K/V heads × 16.
        let perSlot = 2 * 2 * 3 * 2 * 16
        let reserved = lengths.count * context * perSlot, used = lengths.reduce(0, +) * perSlot
        #expect(figure.pages[0].count(role: "table-entry") == blocks)
        #expect(figure.pages[0].count(role: "pool-block") == blocks)
        let subtitle = try #require(texts(figure).first { $0.text.contains("blocks hold") }).text
        #expect(subtitle.contains("\(blocks) blocks hold \(Format.grouped(lengths.reduce(0, +))) tokens, \(empty) slots empty (\(Format.grouped(empty * perSlot)) B"))
        #expect(subtitle.contains("contiguous: \(Format.grouped(lengths.count * context)) slots reserved, \(Format.grouped(reserved - used)) B unused"))
        expectTextInside(figure, "paged")
    }

    @Test("in a lesson step, each figure draws from its action's run (kv-quant adds only the plain decode of its originals)")
    func sharedRuns() throws {
        let runs = Runs()
        let window: KeyValuePairs<String, String?> = ["tokens": "8", "evict": "window", "kv-budget": "4"]
        _ = try runs.output(of: try ActionKind.decode.experiment(flags(window)))
        _ = try draw(.kvEvict, window, runs: runs)
        #expect(runs.count == 1)
        let quant: KeyValuePairs<String, String?> = ["tokens": "20", "kv-quant": "int4", "kv-group": "8"]
        _ = try runs.output(of: try ActionKind.decode.experiment(flags(quant)))
        _ = try draw(.kvQuant, quant, runs: runs)
        #expect(runs.count == 3)
        let paged: KeyValuePairs<String, String?> = ["page-tokens": "64", "requests": "300,1000,700", "context": "2048"]
        _ = try runs.output(of: try ActionKind.kv.experiment(flags(paged)))
        _ = try draw(.paged, paged, runs: runs)
        #expect(runs.count == 4)
    }

    @Test("bad input: one error naming the flag at fault")
    func badInput() {
        let cases: [(FigureKind, KeyValuePairs<String, String?>, Field)] = [
            (.kvEvict, ["tokens": "4"], .evict),
            (.kvEvict, ["tokens": "4", "evict": "window", "kv-budget": "2", "layer": "3"], .layer),
            (.kvEvict, ["tokens": "4", "evict": "window", "kv-budget": "2", "layer": "0,x"], .layer),
            (.kvEvict, ["tokens": "4", "evict": "h2o"], .evict),
            (.kvQuant, ["tokens": "4"], .kvQuant),
            (.kvQuant, ["tokens": "4", "kv-quant": "int4", "kv-group": "16"], .tokens),
            (.kvQuant, ["tokens": "20", "kv-quant": "int4", "kv-group": "8", "step": "40"], .step),
            (.kvQuant, ["tokens": "20", "kv-quant": "int4", "kv-group": "8", "kv-quant-pre-rope": nil], .kvQuantPreRope),
            (.kvQuant, ["tokens": "20", "kv-quant": "int4", "kv-group": "8", "layer": "7"], .layer),
            (.paged, ["requests": "300"], .pageTokens),
            (.paged, ["page-tokens": "16", "requests": "1,2,3,4,5,6,7,8,9"], .requests),
            (.paged, ["page-tokens": "1", "requests": "4000,4000,4000", "context": "4000"], .pageTokens),
        ]
        for (kind, extra, field) in cases {
            #expect(subject { _ = try draw(kind, extra) } == .fields([field]), "\(kind.rawValue) \(extra)")
        }
    }
}
