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

/// A decoder running token by token with a real KV cache.
public final class Decoder {
    public let config: DecoderConfig
    public let weights: DecoderWeights
    public private(set) var cache: KVCache
    private let rope: RoPE
    // Workspace, allocated once: a step allocates nothing per element.
    private var x: [Float], h: [Float], q: [Float], kNew: [Float], vNew: [Float]
    private var attnOut: [Float], proj: [Float], scores: [Float], gate: [Float], up: [Float]

    /// - Parameters:
    ///   - capacityTokens: the most tokens the cache will hold.
    ///   - cacheDType: the type K and V are rounded to when stored (fp32, bf16 or fp16).
    public init(config: DecoderConfig, weights: DecoderWeights, capacityTokens: Int, cacheDType: DType = .fp32) {
        precondition(cacheDType.isStorableByDecoder, "the decoder stores K/V only as fp32, bf16 or fp16")
        self.config = config
        self.weights = weights
        let a = config.attention
        cache = KVCache(layout: a, producers: config.kvMap.producers, capacityTokens: capacityTokens, dtype: cacheDType)
        rope = RoPE(headDim: a.headDim, positions: capacityTokens, base: config.ropeBase)
        x = .init(repeating: 0, count: config.dModel)
        h = x
        proj = x
        q = .init(repeating: 0, count: a.qElements)
        attnOut = q
        kNew = .init(repeating: 0, count: a.kvElements)
        vNew = kNew
        scores = .init(repeating: 0, count: capacityTokens)
        gate = .init(repeating: 0, count: config.ffn)
        up = gate
    }

    /// The position the next token will take (= tokens in the cache).
    public var position: Int { cache.tokens }

    /// Runs `token` through the model at the next position, writing one cache row per producer layer.
    public func step(token: Int, detail: RecordDetail = .summary) -> StepRecord {
        precondition(token >= 0 && token < config.vocab, "token \(token) outside the vocabulary")
        precondition(position < cache.capacityTokens, "the cache is full")
        let c = config, a = c.attention, d = c.dModel, p = position
        let scale = 1 / Float(a.headDim).squareRoot()
        let bytesPerRow = cache.bytesPerTokenPerLayer
        var layerSteps: [LayerStep] = []
        layerSteps.reserveCapacity(c.layers)

        weights.embedding.withUnsafeBufferPointer { e in
            for i in 0..<d { x[i] = e[token * d + i] }
        }
        for l in 0..<c.layers {
            let aw = weights.attention[c.weightSharing.attentionSet(layer: l)]
            let src = c.kvMap.source[l]
            Kernels.rmsNorm(x, gain: aw.norm, d, eps: c.normEps, &h)
            Kernels.matvec(aw.wq, rows: a.qElements, cols: d, h, &q)                  // [q_heads × head_dim]
            rope.apply(&q, heads: a.qHeads, position: p)
            var writtenK: [Float]? = nil, writtenV: [Float]? = nil
            if src == l {
                Kernels.matvec(aw.wk!, rows: a.kvElements, cols: d, h, &kNew)        // [kv_heads × head_dim]
                Kernels.matvec(aw.wv!, rows: a.kvElements, cols: d, h, &vNew)
                rope.apply(&kNew, heads: a.kvHeads, position: p)
                cache.write(producer: l, position: p, k: kNew, v: vNew)
                if detail == .full {
                    writtenK = (0..<a.kvHeads).flatMap { Array(cache.row(.k, layer: l, kvHead: $0, position: p)) }
                    writtenV = (0..<a.kvHeads).flatMap { Array(cache.row(.v, layer: l, kvHead: $0, position: p)) }
                }
            }
            let tokens = p + 1
            var weightsRecord: [Float]? = detail == .full ? [] : nil
            weightsRecord?.reserveCapacity(a.qHeads * tokens)
            let b = cache.bufferIndex(ofLayer: src), cap = cache.capacityTokens, hd = a.headDim
            cache.k[b].withUnsafeBufferPointer { kb in
                cache.v[b].withUnsafeBufferPointer { vb in
                    q.withUnsafeBufferPointer { qb in
                        attnOut.withUnsafeMutableBufferPointer { ob in
                            scores.withUnsafeMutableBufferPointer { sb in
                                for hq in 0..<a.qHeads {
                                    let g = a.kvHead(forQueryHead: hq)
                                    let kHead = kb.baseAddress! + g * cap * hd, vHead = vb.baseAddress! + g * cap * hd
                                    let qHead = qb.baseAddress! + hq * hd, out = ob.baseAddress! + hq * hd
                                    for t in 0..<tokens { sb[t] = Kernels.dot(qHead, kHead + t * hd, hd) * scale }
                                    Kernels.softmax(sb.baseAddress!, tokens)
                                    for j in 0..<hd { out[j] = 0 }
                                    for t in 0..<tokens { Kernels.axpy(sb[t], vHead + t * hd, out, hd) }
                                    weightsRecord?.append(contentsOf: sb[0..<tokens])
                                }
                            }
                        }
                    }
                }
            }
            Kernels.matvec(aw.wo, rows: d, cols: a.qElements, attnOut, &proj)
            for i in 0..<d { x[i] += proj[i] }

            let fw = weights.ffn[c.weightSharing.ffnSet(layer: l)]
            Kernels.rmsNorm(x, gain: fw.norm, d, eps: c.normEps, &h)
            Kernels.matvec(fw.w1, rows: c.ffn, cols: d, h, &gate)
            Kernels.matvec(fw.w3, rows: c.ffn, cols: d, h, &up)
            Kernels.swiglu(&gate, up, c.ffn)
            Kernels.matvec(fw.w2, rows: d, cols: c.ffn, gate, &proj)
            for i in 0..<d { x[i] += proj[i] }

            layerSteps.append(LayerStep(
                layer: l, sourceLayer: src,
                writtenPosition: src == l ? p : nil, bytesWritten: src == l ? bytesPerRow : 0,
                tokensRead: tokens, bytesRead: tokens * bytesPerRow,
                writtenK: writtenK, writtenV: writtenV, attention: weightsRecord
            ))
        }
        cache.advance(to: p + 1)
        Kernels.rmsNorm(x, gain: weights.finalNorm, d, eps: c.normEps, &h)
        var logits = [Float](repeating: 0, count: c.vocab)
        Kernels.matvec(weights.lmHead ?? weights.embedding, rows: c.vocab, cols: d, h, &logits)
        return StepRecord(position: p, token: token, layers: layerSteps, logits: logits, cacheBytes: cache.bytes)
    }
}
