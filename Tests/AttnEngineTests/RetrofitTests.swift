import AttnEngine
import Foundation
import Testing

@Suite("Retrofit and perplexity")
struct RetrofitTests {
    @Test("mean-pooling K/V heads that are already equal changes nothing (GQA-4 → GQA-2 → MQA)")
    func poolingEqualHeads() throws {
        let base = try smallConfig(qHeads: 4, kvHeads: 4)
        var w = DecoderWeights(config: base, seed: 3)
        // Make every K/V head of every layer a copy of head 0: pooling any group gives that head back.
        let headElements = base.attention.headDim * base.dModel
        for l in 0..<base.layers {
            var k = w.attention[l].wk!.floats, v = w.attention[l].wv!.floats
            for g in 1..<4 {
                for i in 0..<headElements {
                    k[g * headElements + i] = k[i]
                    v[g * headElements + i] = v[i]
                }
            }
            w.attention[l].wk = WeightMatrix(rows: w.attention[l].wk!.rows, cols: base.dModel, floats: k)
            w.attention[l].wv = WeightMatrix(rows: w.attention[l].wv!.rows, cols: base.dModel, floats: v)
        }
        let tokens = try CharVocabulary.encode("the cat sat on the mat", vocab: base.vocab)
        let original = FullForward.logits(config: base, weights: w, tokens: tokens)
        for kvHeads in [2, 1] {
            let c = try Retrofit.config(base, kvHeads: kvHeads, kvMap: base.kvMap, field: .variants)
            let pooled = Retrofit.weights(w, from: base, to: c)
            #expect(pooled.attention[0].wk!.elements == kvHeads * headElements)
            #expect(maxAbsDiff(FullForward.logits(config: c, weights: pooled, tokens: tokens), original) < 1e-5)
        }
    }

    @Test("a pooled head is the mean of the heads its query group read")
    func poolingIsTheMean() throws {
        let base = try smallConfig(qHeads: 4, kvHeads: 4)
        let w = DecoderWeights(config: base, seed: 5)
        let c = try Retrofit.config(base, kvHeads: 2, kvMap: base.kvMap, field: .variants)
        let pooled = Retrofit.weights(w, from: base, to: c)
        let n = base.attention.headDim * base.dModel
        for l in 0..<base.layers {
            let v = w.attention[l].wv!.floats, pooledV = pooled.attention[l].wv!.floats
            for g in 0..<2 {
                for i in stride(from: 0, to: n, by: 17) {
                    let mean = (Double(v[(2 * g) * n + i]) + Double(v[(2 * g + 1) * n + i])) / 2
                    #expect(abs(Double(pooledV[g * n + i]) - mean) < 1e-6)
                }
            }
        }
    }

    @Test("a CLA retrofit drops the consumers' W_K, W_V and decodes like a model built with that map")
    func claRetrofit() throws {
        let base = try smallConfig(qHeads: 4, kvHeads: 2)
        let w = DecoderWeights(config: base, seed: 9)
        let c = try Retrofit.config(base, kvHeads: 2, kvMap: KVPattern.cla(2).map(layers: 4), field: .variants)
        let r = Retrofit.weights(w, from: base, to: c)
        #expect(r.attention.map { $0.wk != nil } == [true, false, true, false])
        let tokens = try CharVocabulary.encode("the cat", vocab: base.vocab)
        let reference = ReferenceDecoder.logits(config: c, weights: r, tokens: tokens)
        let cached = Decoder(config: c, weights: r, capacityTokens: tokens.count).forward(tokens)
        for (t, record) in cached.enumerated() {
            #expect(zip(record.logits, reference[t]).allSatisfy { abs(Double($0) - $1) < 1e-4 })
        }
    }

    @Test("retrofits that cannot be done are refused, naming the flag")
    func refused() throws {
        let base = try smallConfig(qHeads: 4, kvHeads: 2)
        #expect(throws: ConfigError.self) { try Retrofit.config(base, kvHeads: 4, kvMap: base.kvMap, field: .variants) }
        #expect(throws: ConfigError.self) { try Retrofit.config(base, kvHeads: 3, kvMap: base.kvMap, field: .variants) }
        // A CLA2 model's layer 1 has no W_K, W_V: CLA3 (producers 0, 1) would need them.
        let cla2 = try smallConfig(qHeads: 4, kvHeads: 2, pattern: .cla(2))
        let error = try #require(throws: ConfigError.self) { try Retrofit.config(cla2, kvHeads: 2, kvMap: KVPattern.cla(3).map(layers: 4), field: .cla) }
        #expect(error.subject == .fields([.cla]) && error.reason.contains("layer 1"))
    }

    /// `w` retrofitted from `base` to `kvHeads` and `pattern`.
    private func retrofit(_ w: DecoderWeights, _ base: DecoderConfig, kvHeads: Int, _ pattern: KVPattern) throws -> (DecoderConfig, DecoderWeights) {
        let c = try Retrofit.config(base, kvHeads: kvHeads, kvMap: pattern.map(layers: base.layers), field: .variants)
        return (c, Retrofit.weights(w, from: base, to: c))
    }

    @Test("retrofitting a model that already shares K/V: two steps give what one step gives",
          arguments: [(KVPattern.cla(2), 2, KVPattern.cla(2), 1), (.cla(2), 4, .cla(4), 4), (.cla(2), 2, .cla(4), 1), (.keepEnds, 4, .cla(4), 2)])
    func retrofitTwice(first: KVPattern, firstHeads: Int, second: KVPattern, secondHeads: Int) throws {
        let base = try smallConfig(qHeads: 4, kvHeads: 4)
        let w = DecoderWeights(config: base, seed: 9)
        let (c1, w1) = try retrofit(w, base, kvHeads: firstHeads, first)
        let (c2, w2) = try retrofit(w1, c1, kvHeads: secondHeads, second)
        let (direct, wd) = try retrofit(w, base, kvHeads: secondHeads, second)
        #expect(c2 == direct)
        let tokens = try CharVocabulary.encode("the cat sat on the mat", vocab: base.vocab)
        // Pooling 4 → 2 → 1 sums pairs of pairs instead of four heads in order: equal up to rounding.
        #expect(maxAbsDiff(FullForward.logits(config: c2, weights: w2, tokens: tokens), FullForward.logits(config: direct, weights: wd, tokens: tokens)) < 1e-5)
        for (a, b) in zip(w2.attention, wd.attention) { #expect((a.wk == nil) == (b.wk == nil) && (a.wv == nil) == (b.wv == nil)) }
    }

    @Test("a shared weight set is pooled once and keeps serving every layer", arguments: [WeightSharing.all, .attention, .ffn])
    func retrofitShared(sharing: WeightSharing) throws {
        let base = try smallConfig(qHeads: 4, kvHeads: 4, sharing: sharing)
        let w = DecoderWeights(config: base, seed: 4)
        let (c, r) = try retrofit(w, base, kvHeads: 1, .cla(2))
        #expect(c.weightSharing == sharing && r.attention.count == w.attention.count && r.ffn.count == w.ffn.count)
        for (s, set) in r.attention.enumerated() {
            #expect((set.wk != nil) == c.attentionSetHasKV(s))
            if let wk = set.wk {
                // MQA: the one head is the mean of the four, summed in head order.
                let k = w.attention[s].wk!.floats, n = wk.elements
                #expect(wk.floats == (0..<n).map { i in (k[i] + k[n + i] + k[2 * n + i] + k[3 * n + i]) / 4 })
            }
        }
        let tokens = try CharVocabulary.encode("the cat sat", vocab: base.vocab)
        let cached = Decoder(config: c, weights: r, capacityTokens: tokens.count).forward(tokens).flatMap(\.logits)
        #expect(maxAbsDiff(cached, FullForward.logits(config: c, weights: r, tokens: tokens)) < 1e-4)
    }

    @Test("perplexity equals exp of the mean float64 negative log-likelihood of the recomputed logits")
    func perplexity() throws {
        let c = try smallConfig(layers: 3)
        let w = DecoderWeights(config: c, seed: 11)
        let tokens = try CharVocabulary.encode("a small model reads a small text twice", vocab: c.vocab)
        let r = Perplexity.evaluate(config: c, weights: w, tokens: tokens, windowTokens: 16)
        // Windows of 16, 16 and 7 tokens; the first token of each is context only.
        #expect(r.windows == 3 && r.scoredTokens == tokens.count - 3)
        var nll = 0.0
        for start in stride(from: 0, to: tokens.count, by: 16) {
            let window = Array(tokens[start..<min(tokens.count, start + 16)])
            let logits = ReferenceDecoder.logits(config: c, weights: w, tokens: window)
            for t in 1..<window.count {
                let z = logits[t - 1], m = z.max()!
                nll += m + Foundation.log(z.reduce(0) { $0 + Foundation.exp($1 - m) }) - z[window[t]]
            }
        }
        #expect(abs(r.totalNLL - nll) < 1e-3)
        #expect(abs(r.perplexity - Foundation.exp(nll / Double(r.scoredTokens))) / r.perplexity < 1e-4)
    }

    @Test("a block of tokens gives the same bits as single steps", arguments: [KVPattern.none, .cla(2)])
    func blocks(pattern: KVPattern) throws {
        let c = try smallConfig(qHeads: 4, kvHeads: 2, pattern: pattern)
        let w = DecoderWeights(config: c, seed: 13)
        let tokens = try CharVocabulary.encode("blocks of tokens", vocab: c.vocab)
        let single = Decoder(config: c, weights: w, capacityTokens: tokens.count, blockTokens: 1)
        let stepped = tokens.map { single.step(token: $0, detail: .full) }
        let blocked = Decoder(config: c, weights: w, capacityTokens: tokens.count, blockTokens: 5).forward(tokens, detail: .full)
        #expect(blocked.map(\.logits) == stepped.map(\.logits))
        #expect(blocked.map(\.layers) == stepped.map(\.layers))
        #expect(blocked.map(\.cacheBytes) == stepped.map(\.cacheBytes))
    }
}
