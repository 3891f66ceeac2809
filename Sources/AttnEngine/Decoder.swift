/// What one layer did in one decoding step: the cache slot it wrote (producers only) and the cache it
/// read. With CLA a consumer writes nothing but still reads every token of its producer's cache.
public struct LayerStep: Sendable, Equatable {
    public let layer: Int
    /// The producer layer whose cache this layer read (itself for a producer).
    public let sourceLayer: Int
    /// The position written, or nil for a consumer layer.
    public let writtenPosition: Int?
    public let bytesWritten: Int
    public let tokensRead: Int
    public let bytesRead: Int
    /// The K and V rows written, as stored (full detail only).      // [kv_heads × head_dim]
    public let writtenK: [Float]?
    public let writtenV: [Float]?
    /// Softmax weights of every query head over the tokens read (full detail only), in the order
    /// of `readPositions`.
    public let attention: [Float]?                                 // [q_heads × tokens_read]
    /// Positions this layer stopped reading at this step, one list per K/V head (nil: none): the token
    /// a window slid past, or the one H2O evicted from each head.
    public let evicted: [[Int]]?
    /// The positions each K/V head read, in the order of `attention`'s weights (full detail only): a
    /// window's or sinks' visible keys, or H2O's slots; nil when the layer read every position 0…p.
    public let readPositions: [[Int]]?
}

/// One decoding step: one token in at `position`, logits out, the cache one row longer.
public struct StepRecord: Sendable {
    public let position: Int
    public let token: Int
    public let layers: [LayerStep]
    public let logits: [Float]                                     // [vocab]
    /// Bytes the cache holds after the step.
    public let cacheBytes: Int
}

/// How much a step records: `summary` (slots, tokens, bytes) or `full` (also the K/V rows written
/// and every head's attention weights).
public enum RecordDetail: String, Sendable, CaseIterable { case summary, full }

/// Which tokens of a `forward` get logits: `every` one (perplexity scores each), or only the `last`
/// (a prompt before generation, as llama.cpp computes it: the LM head is a fifth of SmolLM2's
/// multiply-adds, and 256 tokens of logits are 50 MB). The last token's logits are the same bits
/// either way.
public enum LogitRows: Sendable { case every, last }

/// A decoder running token by token with a real KV cache.
///
/// `forward` takes several tokens at once (a prompt, or a window of text for perplexity): each weight
/// row is then read once per block instead of once per token, and every token's numbers are the same
/// bits as if it had been stepped alone — the same dot products in the same order, and a token reads
/// only cache rows at or before its own position.
public final class Decoder {
    public let config: DecoderConfig
    public let weights: DecoderWeights
    public private(set) var cache: KVCache
    /// How the cache stores and evicts K/V.
    public let technique: KVTechnique
    /// Tokens `forward` pushes through each layer together.
    public let blockTokens: Int
    /// 32 rows of activations (74 KB for d_model 576) stay in L2 while each weight row is reused.
    public static let defaultBlockTokens = 32
    /// A decoder's tokens see only the past: all of it, or a window of it.
    private let mask: AttentionMask
    private let arithmetic: Float32Attention
    private let rope: RoPE
    /// Workspace for one block, allocated once: a step allocates nothing per element.
    private let act: Activations

    /// - Parameters:
    ///   - capacityTokens: the most tokens the cache will hold.
    ///   - cacheDType: the type K and V are rounded to when stored (fp32, bf16 or fp16).
    ///   - technique: quantization, a latent, or eviction (checked with `KVTechnique.check`).
    ///   - blockTokens: tokens per block in `forward` (more reuses each weight row more; 1 is plain stepping).
    public init(config: DecoderConfig, weights: DecoderWeights, capacityTokens: Int, cacheDType: DType = .fp32,
                technique: KVTechnique = KVTechnique(), blockTokens: Int = defaultBlockTokens) {
        precondition(cacheDType.isStorableByDecoder, "the decoder stores K/V only as fp32, bf16 or fp16")
        precondition(blockTokens >= 1)
        self.config = config
        self.weights = weights
        self.technique = technique
        mask = technique.mask(config)
        let a = config.attention
        // H2O evicts inside a layer's step, so a CLA consumer may only read its producer's cache as it
        // stood after the same token: one token at a time.
        let h2oWithConsumers = technique.eviction.isH2O && config.kvMap.kvLayers < config.layers
        let b = h2oWithConsumers ? 1 : max(1, min(blockTokens, capacityTokens))
        self.blockTokens = b
        cache = KVCache(layout: a, producers: config.kvMap.producers, capacityTokens: capacityTokens, dtype: cacheDType,
                        storage: technique.storage, eviction: technique.retention(config))
        arithmetic = Float32Attention(headDim: a.headDim)
        rope = RoPE(headDim: a.headDim, positions: capacityTokens, base: config.ropeBase)
        // K/V of one layer at a time: the cache keeps them.
        act = Activations(config: config, rows: b, keys: capacityTokens, kvSlots: 1)
    }

    /// The position the next token will take (= tokens in the cache).
    public var position: Int { cache.tokens }

    /// Runs `token` through the model at the next position, writing one cache row per producer layer.
    public func step(token: Int, detail: RecordDetail = .summary) -> StepRecord {
        forward([token], detail: detail)[0]
    }

    /// Runs `tokens` through the model at the next positions, one block at a time; one record per token.
    /// With `logits: .last` the other records have empty logits.
    public func forward(_ tokens: [Int], detail: RecordDetail = .summary, logits: LogitRows = .every) -> [StepRecord] {
        var records: [StepRecord] = []
        records.reserveCapacity(tokens.count)
        var start = 0
        while start < tokens.count {
            var end = min(tokens.count, start + blockTokens)
            if case .quantized(let q) = cache.storage {
                // A block never spans the end of a key group: the group is quantized after its last
                // token, and a later token of the same block must already read it quantized.
                end = min(end, start + (position / q.group + 1) * q.group - position)
            }
            records += block(tokens[start..<end], detail: detail, logitRows: logits == .every ? start..<end : (end == tokens.count ? end - 1..<end : end..<end))
            start = end
        }
        return records
    }

    /// `logitRows`: the positions in `tokens` whose logits are computed.
    private func block(_ tokens: ArraySlice<Int>, detail: RecordDetail, logitRows: Range<Int>) -> [StepRecord] {
        let c = config, a = c.attention, d = c.dModel, p = position, B = tokens.count
        precondition(tokens.allSatisfy { $0 >= 0 && $0 < c.vocab }, "token outside the vocabulary")
        precondition(p + B <= cache.capacityTokens, "the cache is full")
        let h2o = technique.eviction.isH2O
        var layerSteps = [[LayerStep]](repeating: [], count: B)
        let x = act.x, h = act.h, proj = act.proj                          // [B × d_model]
        let q = act.q, o = act.attnOut                                     // [B × q_heads·head_dim]
        let kNew = act.k(0), vNew = act.v(0)                               // [B × kv_heads·head_dim]
        let gate = act.gate, up = act.up                                   // [B × ffn]
        // What a window (or sinks) mask stops reading at each position: the same for every layer.
        let slid = (0..<B).map { i in mask.visibleKeys(query: p + i - 1, keys: p + i).subtracting(mask.visibleKeys(query: p + i, keys: p + i + 1)) }

        for (i, token) in tokens.enumerated() { weights.embedding.row(token, into: x + i * d) }
        for l in 0..<c.layers {
            let aw = weights.attention[c.weightSharing.attentionSet(layer: l)]
            let src = c.kvMap.source[l]
            rmsNormRows(gain: aw.norm, B)
            if src == l {
                Kernels.matmul([(aw.wq, q), (aw.wk!, kNew), (aw.wv!, vNew)], h, count: B)
            } else {
                Kernels.matmul(aw.wq, h, count: B, q)
            }
            for i in 0..<B { rope.apply(q + i * a.qElements, heads: a.qHeads, position: p + i) }
            if h2o {
                for i in 0..<B { layerSteps[i].append(h2oAttend(layer: l, source: src, token: i, position: p + i, detail: detail)) }
            } else {
                if src == l { cache.write(producer: l, position: p, rows: B, k: kNew, v: vNew, rope: rope, latent: technique.latent) }
                // The block's rows are all in the cache now; the mask keeps token i to its own past.
                let keys = cache.keys(layer: src, kvHead: 0), values = cache.values(layer: src, kvHead: 0)
                let recorded = Attention.attendBlock(arithmetic, q: q, keys: keys, values: values,
                                                     kvHeadStride: a.kvHeads > 1 ? cache.keys(layer: src, kvHead: 1).base - keys.base : 0,
                                                     layout: a, mask: mask, position: p, tokens: B, available: p + B,
                                                     scores: act.scores, scoreStride: act.keys, out: o, record: detail == .full)
                for i in 0..<B {
                    let visible = mask.visibleKeys(query: p + i, keys: p + B)
                    layerSteps[i].append(LayerStep(
                        layer: l, sourceLayer: src,
                        writtenPosition: src == l ? p + i : nil, bytesWritten: src == l ? cache.storage.bytesWritten(position: p + i, layout: a, dtype: cache.dtype) : 0,
                        tokensRead: visible.count, bytesRead: cache.bytesRead(tokens: visible.count),
                        writtenK: src == l && detail == .full ? writtenRow(.k, layer: l, position: p + i) : nil,
                        writtenV: src == l && detail == .full ? writtenRow(.v, layer: l, position: p + i) : nil,
                        attention: recorded?[i],
                        evicted: slid[i].isEmpty ? nil : [[Int]](repeating: slid[i], count: a.kvHeads),
                        // A mask that skips keys: which positions the recorded weights belong to.
                        readPositions: recorded != nil && mask != .causal ? [[Int]](repeating: Array(visible), count: a.kvHeads) : nil
                    ))
                }
            }
            Kernels.matmul(aw.wo, o, count: B, proj)
            for j in 0..<(B * d) { x[j] += proj[j] }

            let fw = weights.ffn[c.weightSharing.ffnSet(layer: l)]
            rmsNormRows(gain: fw.norm, B)
            Kernels.matmul([(fw.w1, gate), (fw.w3, up)], h, count: B)
            for i in 0..<B { Kernels.swiglu(gate + i * c.ffn, up + i * c.ffn, c.ffn) }
            Kernels.matmul(fw.w2, gate, count: B, proj)
            for j in 0..<(B * d) { x[j] += proj[j] }
        }
        cache.advance(to: p + B)
        cache.sealKeyGroup(endingAt: p + B, rope: rope)
        rmsNormRows(gain: weights.finalNorm, B)
        let first = logitRows.lowerBound - tokens.startIndex, rows = logitRows.count
        var logits = [Float](repeating: 0, count: rows * c.vocab)                     // [rows × vocab]
        if rows > 0 { Kernels.matmul(weights.lmHead ?? weights.embedding, h + first * d, count: rows, &logits) }
        let retention = cache.eviction
        return tokens.enumerated().map { i, token in
            let r = i - first
            return StepRecord(position: p + i, token: token, layers: layerSteps[i],
                              logits: r >= 0 && r < rows ? Array(logits[(r * c.vocab)..<((r + 1) * c.vocab)]) : [],
                              cacheBytes: c.kvMap.kvLayers * cache.storage.bytes(tokens: retention.heldTokens(context: p + i + 1), layout: a, dtype: cache.dtype))
        }
    }

    /// Token `i` of the block at one layer under H2O: its K/V into a free slot (a producer), attention
    /// over the slots its source's heads hold, their scores raised by it, and one row per head evicted
    /// once the budget is exceeded. Tokens go one at a time, each reading the cache as its own step left it.
    private func h2oAttend(layer l: Int, source src: Int, token i: Int, position p: Int, detail: RecordDetail) -> LayerStep {
        let a = config.attention, kNew = act.k(0) + i * a.kvElements, vNew = act.v(0) + i * a.kvElements
        if src == l { cache.write(producer: l, position: p, rows: 1, k: kNew, v: vNew, rope: rope, latent: nil) }
        let n = cache.h2oRows(producer: src)
        let keys = cache.keys(layer: src, kvHead: 0), values = cache.values(layer: src, kvHead: 0)
        let weights = Attention.attendBlock(arithmetic, q: act.q + i * a.qElements, keys: keys, values: values,
                                            kvHeadStride: a.kvHeads > 1 ? cache.keys(layer: src, kvHead: 1).base - keys.base : 0,
                                            layout: a, mask: .none, position: p, tokens: 1, available: n,
                                            scores: act.scores, scoreStride: act.keys, out: act.attnOut + i * a.qElements, record: true)![0]
        let read = detail == .full ? (0..<a.kvHeads).map { cache.heldPositions(layer: src, kvHead: $0) } : nil
        var evicted: [[Int]]? = nil
        if src == l {
            // A head's score for a slot: its group's query heads' weights, added in head order.
            var summed = [Double](repeating: 0, count: n)
            for g in 0..<a.kvHeads {
                for j in 0..<n { summed[j] = 0 }
                for hq in (g * a.groupSize)..<((g + 1) * a.groupSize) {
                    for j in 0..<n { summed[j] += Double(weights[hq * n + j]) }
                }
                cache.h2oAccumulate(producer: l, kvHead: g, weights: summed)
            }
            evicted = cache.h2oEvict(producer: l, position: p).map { $0.map { [$0] } }
        }
        return LayerStep(
            layer: l, sourceLayer: src, writtenPosition: src == l ? p : nil, bytesWritten: src == l ? cache.storage.bytesWritten(position: p, layout: a, dtype: cache.dtype) : 0,
            tokensRead: n, bytesRead: cache.bytesRead(tokens: n),
            writtenK: src == l && detail == .full ? writtenRow(.k, layer: l, position: p) : nil,
            writtenV: src == l && detail == .full ? writtenRow(.v, layer: l, position: p) : nil,
            attention: detail == .full ? weights : nil, evicted: evicted, readPositions: read)
    }

    /// The K or V rows, every head, that `layer` stored for `position`, as a reader sees them.
    private func writtenRow(_ which: KVCache.KV, layer: Int, position: Int) -> [Float] {
        (0..<config.attention.kvHeads).flatMap { cache.row(which, layer: layer, kvHead: $0, position: position) }
    }

    /// h[i] = RMSNorm(x[i]) · gain for the block's rows.
    private func rmsNormRows(gain: [Float], _ rows: Int) {
        let d = config.dModel
        for i in 0..<rows { Kernels.rmsNorm(act.x + i * d, gain: gain, d, eps: config.normEps, act.h + i * d) }
    }
}
