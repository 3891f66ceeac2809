import AttnEngine
import Testing

/// Quantized, windowed and evicting caches, each against a path that does not use it: a recomputation
/// with the same mask, the plain cache, a brute-force replay of H2O's scores, and closed forms.
@Suite("KV toolbox: quantized, windowed and evicting caches")
struct KVTechniqueTests {
    static let tokens = (0..<40).map { ($0 * 11 + 5) % 60 }

    /// Logits of every token, run through a decoder with `blockTokens` tokens per block.
    static func logits(_ config: DecoderConfig, _ weights: DecoderWeights, _ technique: KVTechnique = KVTechnique(),
                       blockTokens: Int = Decoder.defaultBlockTokens, dtype: DType = .fp32, detail: RecordDetail = .summary) -> (Decoder, [StepRecord]) {
        let decoder = Decoder(config: config, weights: weights, capacityTokens: tokens.count, cacheDType: dtype, technique: technique, blockTokens: blockTokens)
        // Two calls, so that a block also starts in the middle of a group or window.
        let records = decoder.forward(Array(tokens.prefix(13)), detail: detail) + decoder.forward(Array(tokens.dropFirst(13)), detail: detail)
        return (decoder, records)
    }

    static func bits(_ records: [StepRecord]) -> [[UInt32]] { records.map { $0.logits.map(\.bitPattern) } }

    @Test("a window or budget as long as the text changes nothing, bit for bit", arguments: [
        KVEviction.window(budget: 40), .window(budget: 100), .sinks(4, budget: 40), .h2o(budget: 40), .h2o(budget: 64),
    ])
    func nothingEvicted(eviction: KVEviction) throws {
        let config = try smallConfig(layers: 3, kvHeads: 2)
        let weights = DecoderWeights(config: config, seed: 3)
        let plain = Self.logits(config, weights).1
        let (decoder, evicting) = Self.logits(config, weights, try KVTechnique(storage: .plain, eviction: eviction))
        #expect(Self.bits(evicting) == Self.bits(plain))
        #expect(evicting.allSatisfy { $0.layers.allSatisfy { $0.evicted == nil } })
        #expect(decoder.cache.bytes == plain.last!.cacheBytes)
    }

    @Test("a sliding window W ≥ the text equals the full cache bit for bit")
    func wideWindow() throws {
        let config = try smallConfig(layers: 3, kvHeads: 2)
        let weights = DecoderWeights(config: config, seed: 3)
        #expect(Self.bits(Self.logits(try config.withSlidingWindow(40), weights).1) == Self.bits(Self.logits(config, weights).1))
    }

    /// The cached decoder against `FullForward` attending with the same mask over recomputed K/V:
    /// every token's logits, in blocks and one token at a time.
    @Test("window and sinks caches equal a recomputation with the same mask", arguments: [
        (KVEviction.window(budget: 7), AttentionMask.slidingWindow(7)), (.sinks(2, budget: 9), .sinks(2, window: 9)), (.window(budget: 1), .slidingWindow(1)),
    ])
    func maskedMatchesRecomputation(eviction: KVEviction, mask: AttentionMask) throws {
        for pattern in [KVPattern.none, .cla(2)] {
            let config = try smallConfig(layers: 4, kvHeads: 2, pattern: pattern)
            let weights = DecoderWeights(config: config, seed: 5)
            let technique = try KVTechnique(storage: .plain, eviction: eviction)
            let blocks = Self.logits(config, weights, technique).1, steps = Self.logits(config, weights, technique, blockTokens: 1).1
            #expect(Self.bits(blocks) == Self.bits(steps))
            let full = FullForward.logits(config: config, weights: weights, tokens: Self.tokens, mask: mask)
            for (t, record) in blocks.enumerated() {
                #expect(maxAbsDiff(record.logits, Array(full[(t * config.vocab)..<((t + 1) * config.vocab)])) <= 1e-5, "\(eviction) token \(t)")
            }
            // The architecture's window is the same mask.
            if case .window(let w) = eviction {
                #expect(Self.bits(Self.logits(try config.withSlidingWindow(w), weights).1) == Self.bits(blocks))
            }
        }
    }

    @Test("a window evicts exactly the token that slid out, and holds min(tokens, W)")
    func windowTrace() throws {
        let config = try smallConfig(layers: 2, kvHeads: 2)
        let weights = DecoderWeights(config: config, seed: 5)
        let (decoder, records) = Self.logits(config, weights, try KVTechnique(storage: .plain, eviction: .sinks(2, budget: 6)))
        for r in records {
            let expected: [Int] = r.position >= 6 ? [r.position - 4] : []
            #expect((r.layers[0].evicted?.first ?? []) == expected, "position \(r.position)")
            #expect(r.layers.allSatisfy { $0.tokensRead == min(r.position + 1, 6) })
            #expect(r.cacheBytes == config.kvMap.kvLayers * min(r.position + 1, 6) * KVBudget.bytesPerTokenPerLayer(config.attention, .fp32))
        }
        #expect(decoder.cache.heldTokens == 6)
    }

    /// H2O replayed from the trace: each step's attention weights (recorded per slot, with the
    /// position each slot held) are added to a per-position score table, and the victim is chosen
    /// from that table by the rule — lowest score outside the recent window, oldest on a tie. The
    /// decoder's evictions and held sets must be exactly these.
    @Test("H2O's kept set at every step equals a brute-force recomputation of the scores", arguments: [(2, 6), (1, 5), (4, 9)])
    func h2oBruteForce(kvHeads: Int, budget: Int) throws {
        let config = try smallConfig(layers: 3, kvHeads: kvHeads)
        let a = config.attention, weights = DecoderWeights(config: config, seed: 9)
        let (_, records) = Self.logits(config, weights, try KVTechnique(storage: .plain, eviction: .h2o(budget: budget)), detail: .full)
        let recent = KVEviction.h2oRecent(budget: budget)
        for l in 0..<config.layers {
            var held = [[Int]](repeating: [], count: a.kvHeads)
            var score = [[Int: Double]](repeating: [:], count: a.kvHeads)
            for r in records {
                let step = r.layers[l], p = r.position
                for g in 0..<a.kvHeads {
                    held[g].append(p)
                    #expect(Set(step.readPositions![g]) == Set(held[g]), "layer \(l) head \(g) position \(p) reads")
                    let n = step.readPositions![g].count
                    for (j, position) in step.readPositions![g].enumerated() {
                        var added = 0.0
                        for hq in (g * a.groupSize)..<((g + 1) * a.groupSize) { added += Double(step.attention![hq * n + j]) }
                        score[g][position, default: 0] += added
                    }
                    var expected: Int? = nil
                    if held[g].count > budget {
                        let candidates = held[g].filter { $0 < p + 1 - recent }
                        expected = candidates.min { score[g][$0]! != score[g][$1]! ? score[g][$0]! < score[g][$1]! : $0 < $1 }
                        held[g].removeAll { $0 == expected }
                    }
                    #expect(step.evicted?[g].first == expected, "layer \(l) head \(g) position \(p)")
                }
            }
        }
    }

    @Test("H2O runs CLA consumers one token at a time and gives the same logits as stepping")
    func h2oWithCLA() throws {
        let config = try smallConfig(layers: 4, kvHeads: 2, pattern: .cla(2))
        let weights = DecoderWeights(config: config, seed: 2)
        let technique = try KVTechnique(storage: .plain, eviction: .h2o(budget: 8))
        let (decoder, blocks) = Self.logits(config, weights, technique)
        #expect(decoder.blockTokens == 1)
        #expect(Self.bits(blocks) == Self.bits(Self.logits(config, weights, technique, blockTokens: 1).1))
        #expect(decoder.cache.bytes == 2 * 8 * KVBudget.bytesPerTokenPerLayer(config.attention, .fp32))
    }

    // MARK: - Quantization

    @Test("quantize → dequantize: codes in range, fp16 scales, error ≤ scale/2, on random groups", arguments: KVQuantization.supportedBits)
    func quantizeBound(bits: Int) throws {
        var rng = SplitMix64(seed: UInt64(bits))
        for group in [4, 8, 32] {
            let q = try KVQuantization(bits: bits, group: group, headDim: 32)
            for trial in 0..<200 {
                // Some groups with an outlier, some constant, some tiny: the edges of the range rule.
                let spread: Float = trial % 7 == 0 ? 1e-6 : trial % 5 == 0 ? 100 : 2
                var x = (0..<group).map { _ in Float(rng.nextUnitDouble() * 2 - 1) * spread + 0.5 }
                if trial % 11 == 0 { x = [Float](repeating: 0.3, count: group) }
                if trial % 3 == 0 { x[trial % group] *= 20 }
                var codes = [UInt8](repeating: 0, count: group), out = [Float](repeating: 0, count: group)
                let s = q.quantize(x, count: group, stride: 1, codes: &codes, dequantized: &out)
                #expect(Float(Float16(s.scale)) == s.scale && Float(Float16(s.min)) == s.min)
                #expect(codes.allSatisfy { Int($0) <= q.maxCode })
                for (xi, oi) in zip(x, out) {
                    let bound: Float = s.scale / 2 * (1 + 1e-5) + abs(xi) * 1e-6
                    #expect(abs(xi - oi) <= bound, "x \(xi) read back \(oi), scale \(s.scale)")
                }
            }
        }
    }

    @Test("bad settings are refused naming the flag", arguments: [(3, 32, 64, Field.kvQuant), (4, 24, 64, .kvGroup), (4, 0, 64, .kvGroup)])
    func badQuantization(bits: Int, group: Int, headDim: Int, field: Field) {
        #expect(throws: ConfigError.self) { try KVQuantization(bits: bits, group: group, headDim: headDim) }
        do { _ = try KVQuantization(bits: bits, group: group, headDim: headDim) } catch { #expect(error.subject == .fields([field])) }
    }

    @Test("a quantized cache gives the same bits in blocks as token by token, and its rows are its codes", arguments: [
        (8, 4, false), (4, 8, false), (2, 4, true), (4, 8, true),
    ])
    func quantizedBlocksEqualSteps(bits: Int, group: Int, preRoPE: Bool) throws {
        let config = try smallConfig(layers: 3, kvHeads: 2, pattern: .cla(2))
        let weights = DecoderWeights(config: config, seed: 4)
        let q = try KVQuantization(bits: bits, group: group, preRoPE: preRoPE, headDim: 8)
        let technique = try KVTechnique(storage: .quantized(q))
        let (decoder, blocks) = Self.logits(config, weights, technique, dtype: .fp16)
        #expect(Self.bits(blocks) == Self.bits(Self.logits(config, weights, technique, blockTokens: 1, dtype: .fp16).1))
        let cache = decoder.cache, T = Self.tokens.count
        for layer in cache.producers {
            for g in 0..<2 {
                for t in 0..<T {
                    let v = try #require(cache.quantizedRow(.v, layer: layer, kvHead: g, position: t))
                    for j in 0..<8 {
                        let s = v.scales[j / group]
                        #expect(v.decoded[j] == s.min + Float(v.codes[j]) * s.scale)
                    }
                    // Keys of the last, unfinished group wait in fp16.
                    let k = cache.quantizedRow(.k, layer: layer, kvHead: g, position: t)
                    #expect((k == nil) == (t >= T / group * group))
                    if let k, !preRoPE {
                        for j in 0..<8 { #expect(k.decoded[j] == k.scales[j].min + Float(k.codes[j]) * k.scales[j].scale) }
                    }
                }
            }
        }
        // Exact bytes: codes, 4 bytes a group, and fp16 keys of the unfinished group, by hand.
        let E = 16, full = T / group
        let perLayer = T * E * bits / 8 + T * (E / group) * 4 + full * group * E * bits / 8 + full * E * 4 + (T - full * group) * E * 2
        #expect(cache.bytes == 2 * perLayer)
        #expect(blocks.last!.cacheBytes == cache.bytes)
        // Written per token: its value codes and scales and an fp16 key row, plus the group's key codes
        // and channel scales when it completes one.
        for r in blocks {
            let sealed = (r.position + 1) % group == 0 ? group * E * bits / 8 + E * 4 : 0
            #expect(r.layers[0].bytesWritten == E * bits / 8 + (E / group) * 4 + E * 2 + sealed, "position \(r.position)")
        }
    }

    @Test("int8 keys of layer 0 (whose input no quantization has touched) are within scale/2 of the fp32 cache's")
    func quantizedLayerZero() throws {
        let config = try smallConfig(layers: 2, kvHeads: 2)
        let weights = DecoderWeights(config: config, seed: 8)
        let q = try KVQuantization(bits: 8, group: 4, headDim: 8)
        let quantized = Self.logits(config, weights, try KVTechnique(storage: .quantized(q))).0.cache
        let plain = Self.logits(config, weights).0.cache
        for g in 0..<2 {
            for t in 0..<(Self.tokens.count / 4 * 4) {
                for which in [KVCache.KV.k, .v] {
                    let row = try #require(quantized.quantizedRow(which, layer: 0, kvHead: g, position: t))
                    let exact = plain.row(which, layer: 0, kvHead: g, position: t)
                    for j in 0..<8 {
                        let s = which == .k ? row.scales[j] : row.scales[j / 4]
                        #expect(abs(row.decoded[j] - exact[j]) <= s.scale / 2 * (1 + 1e-5) + 1e-6)
                    }
                }
            }
        }
    }

    @Test("combinations AttnLab does not run are refused, naming both flags")
    func refusedCombinations() throws {
        let q = KVStorage.quantized(try KVQuantization(bits: 4, group: 8, headDim: 8))
        #expect(throws: ConfigError.self) { try KVTechnique(storage: q, eviction: .window(budget: 8)) }
        #expect(throws: ConfigError.self) { try KVTechnique(storage: .plain, eviction: .sinks(8, budget: 8)) }
        #expect(throws: ConfigError.self) { try KVTechnique(storage: .plain, eviction: .window(budget: 0)) }
        let windowed = try smallConfig().withSlidingWindow(16)
        #expect(throws: ConfigError.self) { try KVTechnique(storage: q).check(windowed) }
        #expect(throws: ConfigError.self) { try smallConfig().withSlidingWindow(0) }
    }
}

/// The latent cache in the decoder: a full-rank latent is the original model within float error, a
/// cached latent decode is the recomputation through the same latent bit for bit, and the bytes are
/// r elements per token and producer layer.
@Suite("KV toolbox: the latent cache in the decoder")
struct LatentDecoderTests {
    @Test("full rank ≈ the original model; cached = recomputed through the latent; bytes r × element", arguments: [KVPattern.none, .cla(2)])
    func latent(pattern: KVPattern) throws {
        let config = try smallConfig(layers: 4, dModel: 32, kvHeads: 2, pattern: pattern)
        let weights = DecoderWeights(config: config, seed: 6)
        let basis = try LatentBasis(config: config, weights: weights)
        let tokens = KVTechniqueTests.tokens
        let plain = FullForward.logits(config: config, weights: weights, tokens: tokens)
        for rank in [basis.maxRank, 12, 3] {
            let latent = try basis.truncated(rank: rank)
            let technique = try KVTechnique(storage: .latent(rank: rank), latent: latent)
            let (decoder, records) = KVTechniqueTests.logits(config, weights, technique, dtype: .fp16)
            let recomputed = FullForward.logits(config: config, weights: weights, tokens: tokens, cacheDType: .fp16, latent: latent)
            for (t, r) in records.enumerated() {
                let row = Array(recomputed[(t * config.vocab)..<((t + 1) * config.vocab)])
                #expect(maxAbsDiff(r.logits, row) <= 1e-5, "rank \(rank) token \(t)")
            }
            #expect(decoder.cache.bytes == config.kvMap.kvLayers * tokens.count * rank * 2)
            let stored = try #require(decoder.cache.latentRow(layer: 0, position: 5))
            #expect(stored.count == rank && stored.allSatisfy { Float(Float16($0)) == $0 })
            if rank == basis.maxRank {
                let exact = FullForward.logits(config: config, weights: weights, tokens: tokens, latent: latent)
                #expect(maxAbsDiff(exact, plain) <= 1e-4, "full rank differs from the original")
            }
        }
    }
}
