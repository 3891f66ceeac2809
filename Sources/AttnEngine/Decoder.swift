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
    /// Softmax weights of every query head over the tokens read (full detail only).
    public let attention: [Float]?                                 // [q_heads × tokens_read]
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
    /// Tokens `forward` pushes through each layer together.
    public let blockTokens: Int
    /// 32 rows of activations (74 KB for d_model 576) stay in L2 while each weight row is reused.
    public static let defaultBlockTokens = 32
    /// A decoder's tokens see only the past.
    private let mask = AttentionMask.causal
    private let arithmetic: Float32Attention
    private let rope: RoPE
    /// Workspace for one block, allocated once: a step allocates nothing per element.
    private let act: Activations

    /// - Parameters:
    ///   - capacityTokens: the most tokens the cache will hold.
    ///   - cacheDType: the type K and V are rounded to when stored (fp32, bf16 or fp16).
    ///   - blockTokens: tokens per block in `forward` (more reuses each weight row more; 1 is plain stepping).
    public init(config: DecoderConfig, weights: DecoderWeights, capacityTokens: Int, cacheDType: DType = .fp32, blockTokens: Int = defaultBlockTokens) {
        precondition(cacheDType.isStorableByDecoder, "the decoder stores K/V only as fp32, bf16 or fp16")
        precondition(blockTokens >= 1)
        self.config = config
        self.weights = weights
        let a = config.attention, b = max(1, min(blockTokens, capacityTokens))
        self.blockTokens = b
        cache = KVCache(layout: a, producers: config.kvMap.producers, capacityTokens: capacityTokens, dtype: cacheDType)
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
            let end = min(tokens.count, start + blockTokens)
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
        let bytesPerRow = cache.bytesPerTokenPerLayer
        var layerSteps = [[LayerStep]](repeating: [], count: B)
        let x = act.x, h = act.h, proj = act.proj                          // [B × d_model]
        let q = act.q, o = act.attnOut                                     // [B × q_heads·head_dim]
        let kNew = act.k(0), vNew = act.v(0)                               // [B × kv_heads·head_dim]
        let gate = act.gate, up = act.up                                   // [B × ffn]

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
            var writtenK = [[Float]?](repeating: nil, count: B), writtenV = writtenK
            if src == l {
                for i in 0..<B {
                    rope.apply(kNew + i * a.kvElements, heads: a.kvHeads, position: p + i)
                    cache.write(producer: l, position: p + i, k: kNew + i * a.kvElements, v: vNew + i * a.kvElements)
                }
                if detail == .full {
                    for i in 0..<B {
                        writtenK[i] = (0..<a.kvHeads).flatMap { cache.row(.k, layer: l, kvHead: $0, position: p + i) }
                        writtenV[i] = (0..<a.kvHeads).flatMap { cache.row(.v, layer: l, kvHead: $0, position: p + i) }
                    }
                }
            }
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
                    writtenPosition: src == l ? p + i : nil, bytesWritten: src == l ? bytesPerRow : 0,
                    tokensRead: visible.count, bytesRead: visible.count * bytesPerRow,
                    writtenK: writtenK[i], writtenV: writtenV[i], attention: recorded?[i]
                ))
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
        rmsNormRows(gain: weights.finalNorm, B)
        let first = logitRows.lowerBound - tokens.startIndex, rows = logitRows.count
        var logits = [Float](repeating: 0, count: rows * c.vocab)                     // [rows × vocab]
        if rows > 0 { Kernels.matmul(weights.lmHead ?? weights.embedding, h + first * d, count: rows, &logits) }
        return tokens.enumerated().map { i, token in
            let r = i - first
            return StepRecord(position: p + i, token: token, layers: layerSteps[i],
                              logits: r >= 0 && r < rows ? Array(logits[(r * c.vocab)..<((r + 1) * c.vocab)]) : [],
                              cacheBytes: c.kvMap.kvLayers * (p + i + 1) * bytesPerRow)
        }
    }

    /// h[i] = RMSNorm(x[i]) · gain for the block's rows.
    private func rmsNormRows(gain: [Float], _ rows: Int) {
        let d = config.dModel
        for i in 0..<rows { Kernels.rmsNorm(act.x + i * d, gain: gain, d, eps: config.normEps, act.h + i * d) }
    }
}
