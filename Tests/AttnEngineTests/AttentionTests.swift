import AttnEngine
import Foundation
import Testing

@Suite("Attention: the mask, the routine, the cache it reads")
struct AttentionTests {
    @Test("causal: query p sees keys 0...p of those available, never a later one")
    func causalRanges() {
        for available in 1...6 {
            for p in 0..<available {
                let visible = AttentionMask.causal.visibleKeys(query: p, keys: available)
                #expect(Array(visible) == Array(0...p))
                #expect(visible.count == p + 1)
            }
        }
        // A decoder block has written rows past the query; they stay invisible.
        #expect(Array(AttentionMask.causal.visibleKeys(query: 3, keys: 8)) == [0, 1, 2, 3])
    }

    @Test("none: every query sees every key")
    func noMask() {
        for p in 0..<5 { #expect(Array(AttentionMask.none.visibleKeys(query: p, keys: 5)) == [0, 1, 2, 3, 4]) }
    }

    @Test("two key ranges are walked in order across the gap (sinks + window)")
    func twoRanges() {
        #expect(Array(KeyRanges(0..<2, 5..<8)) == [0, 1, 5, 6, 7])
        #expect(Array(KeyRanges(0..<0, 3..<5)) == [3, 4])
        #expect(Array(KeyRanges(2..<4, 4..<6)) == [2, 3, 4, 5])
        #expect(KeyRanges(0..<2, 5..<8).count == 5)
    }

    @Test("Attention.attend equals softmax(q·Kᵀ/√d)·V written out in float64, over the visible keys only")
    func attendMatchesDirectFormula() {
        let d = 8, n = 6, stride = 3 * d                       // token-major rows with other heads between
        var rng = SplitMix64(seed: 5, stream: "attention-test")
        var q = [Float](repeating: 0, count: d), k = [Float](repeating: 0, count: n * stride), v = k
        rng.fillNormal(&q, std: 1)
        rng.fillNormal(&k, std: 1)
        rng.fillNormal(&v, std: 1)
        let visible = KeyRanges(1..<4)
        var s = [Float](repeating: 0, count: n), o = [Float](repeating: 0, count: d)
        k.withUnsafeBufferPointer { kb in
            v.withUnsafeBufferPointer { vb in
                _ = Attention.attend(Float32Attention(headDim: d), q: q, keys: KVRows(base: kb.baseAddress! + d, stride: stride),
                                     values: KVRows(base: vb.baseAddress! + d, stride: stride),
                                     visible: visible, headDim: d, scores: &s, out: &o)
            }
        }
        let row = { (x: [Float], j: Int) in (0..<d).map { Double(x[j * stride + d + $0]) } }
        let scores = visible.map { j in zip(q, row(k, j)).reduce(0.0) { $0 + Double($1.0) * $1.1 } / Double(d).squareRoot() }
        let w = scores.map { Foundation.exp($0 - scores.max()!) }   // the platform's exp, not DetMath
        let p = w.map { $0 / w.reduce(0, +) }
        for (i, weight) in p.enumerated() { #expect(abs(Double(s[i]) - weight) <= 1e-6) }
        for e in 0..<d {
            let expected = zip(visible, p).reduce(0.0) { $0 + $1.1 * row(v, $1.0)[e] }
            #expect(abs(Double(o[e]) - expected) <= 1e-5)
        }
    }

    @Test("a block of tokens gives the same bits as stepping them one by one (the mask hides later rows)")
    func blockEqualsSteps() throws {
        let config = try smallConfig(kvHeads: 2, pattern: .cla(2))
        let w = DecoderWeights(config: config, seed: 3)
        let tokens = try CharVocabulary.encode("the cat sat", vocab: config.vocab)
        let stepped = Decoder(config: config, weights: w, capacityTokens: tokens.count, blockTokens: 1).forward(tokens, detail: .full)
        let blocked = Decoder(config: config, weights: w, capacityTokens: tokens.count, blockTokens: 4).forward(tokens, detail: .full)
        for (a, b) in zip(stepped, blocked) {
            #expect(a.logits == b.logits)
            #expect(a.layers == b.layers)
        }
    }

    @Test("a copy of the cache keeps its rows when the decoder writes on")
    func cacheIsAValue() throws {
        let config = try smallConfig()
        let decoder = Decoder(config: config, weights: DecoderWeights(config: config, seed: 2), capacityTokens: 4)
        _ = decoder.step(token: 1)
        let copy = decoder.cache
        _ = decoder.step(token: 2)
        #expect(copy.tokens == 1)
        #expect(copy.row(.k, layer: 0, kvHead: 0, position: 1).allSatisfy { $0 == 0 })
        #expect(decoder.cache.row(.k, layer: 0, kvHead: 0, position: 1).contains { $0 != 0 })
        #expect(copy.row(.v, layer: 0, kvHead: 0, position: 0) == decoder.cache.row(.v, layer: 0, kvHead: 0, position: 0))
    }
}
