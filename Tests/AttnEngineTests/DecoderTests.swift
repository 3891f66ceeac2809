import AttnEngine
import Testing

@Suite("Cached decode against independent references")
struct DecoderTests {
    /// Every layout the issue names: MHA, GQA, MQA, CLA2, CLA3, an explicit map, the paper's
    /// non-uniform patterns, ALBERT-style weight sharing, and MQA-CLA2.
    static let layouts: [(String, DecoderConfig)] = {
        func c(_ kv: Int, _ p: KVPattern, layers: Int = 6, sharing: WeightSharing = .none) -> DecoderConfig {
            try! smallConfig(layers: layers, kvHeads: kv, pattern: p, sharing: sharing)
        }
        return [
            ("MHA", c(4, .none)), ("GQA-2", c(2, .none)), ("MQA", c(1, .none)),
            ("CLA2", c(4, .cla(2))), ("CLA3", c(2, .cla(3), layers: 7)), ("explicit 0,0,2,2,4,4", c(2, .explicit([0, 0, 2, 2, 4, 4]))),
            ("keep-ends", c(1, .keepEnds)), ("dense-front", c(1, .denseFront)), ("dense-back", c(1, .denseBack)),
            ("MQA-CLA2", c(1, .cla(2))), ("shared weights", c(2, .none, sharing: .all)),
            ("shared attention + CLA2", c(2, .cla(2), sharing: .attention)), ("shared FFN", c(4, .none, sharing: .ffn)),
        ]
    }()

    @Test("cached decode equals a float64 recomputation without cache", arguments: layouts)
    func cachedMatchesFloat64Reference(name: String, config: DecoderConfig) throws {
        let (result, weights) = try decode(config)
        let reference = ReferenceDecoder.logits(config: config, weights: weights, tokens: result.processedTokens)
        for step in result.steps {
            let diff = zip(step.record.logits, reference[step.step]).map { abs(Double($0) - $1) }.max()!
            #expect(diff < 1e-4, "\(name) step \(step.step): |Δlogit| = \(diff)")
        }
    }

    /// A prompt pushed through for its last token only (as before generating): that token's logits
    /// are the bits of the whole prompt's last row, the others are not computed, the cache the same.
    @Test("forward with the last token's logits only", arguments: [1, 5, 31, 32, 33, 70])
    func lastLogits(tokens: Int) throws {
        let config = try smallConfig(layers: 3, kvHeads: 2, pattern: .none, sharing: .none)
        let weights = DecoderWeights(config: config, seed: 4)
        let prompt = (0..<tokens).map { ($0 * 7 + 3) % config.vocab }
        let every = Decoder(config: config, weights: weights, capacityTokens: 80), last = Decoder(config: config, weights: weights, capacityTokens: 80)
        let all = every.forward(prompt), one = last.forward(prompt, logits: .last)
        #expect(one.count == tokens && one.dropLast().allSatisfy { $0.logits.isEmpty })
        #expect(one.last!.logits.map(\.bitPattern) == all.last!.logits.map(\.bitPattern))
        #expect(every.step(token: 1).logits.map(\.bitPattern) == last.step(token: 1).logits.map(\.bitPattern))
    }

    @Test("cached decode equals the engine's own full causal forward (--verify's path)", arguments: layouts)
    func cachedMatchesFullForward(name: String, config: DecoderConfig) throws {
        let (result, weights) = try decode(config)
        let full = FullForward.logits(config: config, weights: weights, tokens: result.processedTokens)
        for step in result.steps {
            let row = Array(full[(step.step * config.vocab)..<((step.step + 1) * config.vocab)])
            #expect(maxAbsDiff(step.record.logits, row) <= 1e-5, "\(name) step \(step.step)")
        }
    }

    @Test("a bf16 / fp16 cache stores representable values and still matches recomputation with the same rounding",
          arguments: [DType.bf16, .fp16])
    func roundedCache(dtype: DType) throws {
        let config = try smallConfig(kvHeads: 2, pattern: .cla(2))
        let (result, weights) = try decode(config, dtype: dtype)
        for layer in result.cache.producers {
            for g in 0..<config.attention.kvHeads {
                for t in 0..<result.cache.tokens {
                    for value in result.cache.row(.k, layer: layer, kvHead: g, position: t) + result.cache.row(.v, layer: layer, kvHead: g, position: t) {
                        if dtype == .bf16 { #expect(value.bitPattern & 0xffff == 0) } else { #expect(Float(Float16(value)) == value) }
                    }
                }
            }
        }
        let full = FullForward.logits(config: config, weights: weights, tokens: result.processedTokens, cacheDType: dtype)
        let last = result.steps.last!
        #expect(maxAbsDiff(last.record.logits, Array(full[(last.step * config.vocab)...])) <= 1e-5)
        // 16-bit elements: 2 (K, V) × kv_layers × kv_heads·head_dim × 2 bytes per token.
        #expect(result.cache.bytes == result.cache.tokens * config.kvMap.kvLayers * 2 * config.attention.kvElements * 2)
    }

    @Test("GQA whose K/V heads are identical computes exactly what MQA computes")
    func gqaWithIdenticalHeadsIsMQA() throws {
        let mqa = try smallConfig(kvHeads: 1)
        let gqa = try smallConfig(kvHeads: 2)
        let mqaWeights = DecoderWeights(config: mqa, seed: 3)
        var gqaWeights = DecoderWeights(config: gqa, seed: 3)
        for l in gqaWeights.attention.indices {
            // W_Q, W_O, FFN and embeddings come from the same named streams; give both K/V heads MQA's.
            #expect(gqaWeights.attention[l].wq.floats == mqaWeights.attention[l].wq.floats)
            let k = mqaWeights.attention[l].wk!, v = mqaWeights.attention[l].wv!
            gqaWeights.attention[l].wk = WeightMatrix(rows: 2 * k.rows, cols: k.cols, floats: k.floats + k.floats)
            gqaWeights.attention[l].wv = WeightMatrix(rows: 2 * v.rows, cols: v.cols, floats: v.floats + v.floats)
        }
        let (a, _) = try decode(mqa, weights: mqaWeights)
        let (b, _) = try decode(gqa, weights: gqaWeights)
        #expect(a.generatedTokens == b.generatedTokens)
        for (x, y) in zip(a.steps, b.steps) { #expect(maxAbsDiff(x.record.logits, y.record.logits) <= 1e-6) }
        // …while storing twice the bytes.
        #expect(b.cache.bytes == 2 * a.cache.bytes)
    }

    @Test("GQA with kv_heads = q_heads is MHA: every query head reads its own K/V head")
    func gqaFullIsMHA() throws {
        let layout = try AttentionLayout(qHeads: 8, kvHeads: 8, headDim: 4)
        #expect(layout.headMap == Array(0..<8))
        #expect(layout.name == "MHA")
        #expect(try AttentionLayout(qHeads: 8, kvHeads: 1, headDim: 4).headMap == Array(repeating: 0, count: 8))
        // FlashAttention's documented example: 6 query heads, 2 KV heads → 0–2 read 0, 3–5 read 1.
        #expect(try AttentionLayout(qHeads: 6, kvHeads: 2, headDim: 4).headMap == [0, 0, 0, 1, 1, 1])
    }

    @Test("bytes written, read and stored equal the closed forms", arguments: layouts)
    func byteAccounting(name: String, config: DecoderConfig) throws {
        let (result, _) = try decode(config)
        let budget = KVBudget(layout: config.attention, kvMap: config.kvMap, dtype: .fp32)
        let T = result.cache.tokens
        #expect(T == result.steps.count)
        #expect(result.cache.bytes == budget.bytesPerToken * T)
        #expect(result.kvBytesWritten == budget.bytesPerToken * T)
        // Step p reads p + 1 tokens in every layer, producer or consumer: L · perLayer · T(T+1)/2.
        #expect(result.kvBytesRead == config.layers * budget.bytesPerTokenPerLayer * T * (T + 1) / 2)
        for step in result.steps {
            #expect(step.record.layers.filter { $0.writtenPosition != nil }.map(\.layer) == config.kvMap.producers)
            #expect(step.record.layers.map(\.sourceLayer) == config.kvMap.source)
            #expect(step.record.cacheBytes == budget.bytesPerToken * (step.step + 1))
        }
    }

    @Test("CLA2 halves what is written and stored but not what is read")
    func claStoresLessReadsTheSame() throws {
        let (plain, _) = try decode(try smallConfig(layers: 6, kvHeads: 1))
        let (cla, _) = try decode(try smallConfig(layers: 6, kvHeads: 1, pattern: .cla(2)))
        #expect(cla.cache.bytes * 2 == plain.cache.bytes)
        #expect(cla.kvBytesWritten * 2 == plain.kvBytesWritten)
        #expect(cla.kvBytesRead == plain.kvBytesRead)
    }

    @Test("ALBERT-style sharing cuts parameters but not the KV cache")
    func weightSharingKeepsTheCache() throws {
        let own = try smallConfig(layers: 6, kvHeads: 2)
        let shared = try smallConfig(layers: 6, kvHeads: 2, sharing: .all)
        let (a, _) = try decode(own), (b, _) = try decode(shared)
        #expect(a.cache.bytes == b.cache.bytes)
        #expect(a.kvBytesWritten == b.kvBytesWritten)
        #expect(shared.paramCount.total < own.paramCount.total)
        let perLayer = own.paramCount.total - shared.paramCount.total
        let layerParams = 2 * 32 + 32 * 32 * 2 + 2 * 32 * 16 + 3 * 32 * 48  // norms, W_Q, W_O, W_K+W_V, FFN
        #expect(perLayer == 5 * layerParams)
    }

    @Test("same seed, same bits; another seed, other weights")
    func determinism() throws {
        let config = try smallConfig(kvHeads: 2, pattern: .cla(2))
        let (a, _) = try decode(config, seed: 11), (b, _) = try decode(config, seed: 11), (c, _) = try decode(config, seed: 12)
        for (x, y) in zip(a.steps, b.steps) { #expect(x.record.logits.map(\.bitPattern) == y.record.logits.map(\.bitPattern)) }
        #expect(a.steps[0].record.logits != c.steps[0].record.logits)
    }

    @Test("temperature sampling follows the seed")
    func sampling() throws {
        let logits: [Float] = [0, 1, 2, 3, 0.5]
        var a = Sampler(temperature: 1, seed: 5), b = Sampler(temperature: 1, seed: 5)
        let drawsA = (0..<200).map { _ in a.next(logits) }, drawsB = (0..<200).map { _ in b.next(logits) }
        #expect(drawsA == drawsB)
        // softmax([0,1,2,3,0.5])[3] ≈ 0.61: the most likely token is drawn most often, others too.
        let counts = (0..<5).map { t in drawsA.filter { $0 == t }.count }
        #expect(counts.max() == counts[3] && counts[3] > 90 && counts[3] < 160)
        #expect(Set(drawsA).count >= 4)
        var greedy = Sampler(temperature: 0, seed: 5)
        #expect(greedy.next(logits) == 3)
    }

    @Test("full detail records the rows written and attention rows that sum to 1")
    func fullDetail() throws {
        let config = try smallConfig(kvHeads: 2, pattern: .cla(2))
        let (result, _) = try decode(config, detail: .full)
        let last = result.steps.last!
        for ls in last.record.layers {
            let w = try #require(ls.attention)
            #expect(w.count == config.attention.qHeads * ls.tokensRead)
            for h in 0..<config.attention.qHeads {
                let sum = w[(h * ls.tokensRead)..<((h + 1) * ls.tokensRead)].reduce(0, +)
                #expect(abs(sum - 1) < 1e-5)
            }
            if config.kvMap.isProducer(ls.layer) {
                let k = try #require(ls.writtenK)
                #expect(Array(k[0..<8]) == Array(result.cache.row(.k, layer: ls.layer, kvHead: 0, position: last.step)))
            } else {
                #expect(ls.writtenK == nil)
            }
        }
    }
}
