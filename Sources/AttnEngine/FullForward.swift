/// The reference path: one causal forward pass over a whole sequence with no cache.
///
/// Every producer layer recomputes K and V for all positions from its own input; consumer layers use
/// those recomputed tensors; each position attends over the keys the causal mask lets it see. Because
/// position t sees only tokens ≤ t, the logits at t are exactly what a cached decoder must produce at
/// step t — one pass checks every step of a decode.
public enum FullForward {
    /// Logits at every position.                                    // [T × vocab]
    ///
    /// - Parameters:
    ///   - mask: the mask to attend with (default: the config's, causal or sliding-window); a
    ///     window or sinks eviction is this mask.
    ///   - latent: recompute K and V through a latent of these bases, as a latent cache stores them.
    public static func logits(config c: DecoderConfig, weights: DecoderWeights, tokens: [Int], cacheDType: DType = .fp32,
                              mask: AttentionMask? = nil, latent: LatentKV? = nil) -> [Float] {
        let T = tokens.count, d = c.dModel, a = c.attention, hd = a.headDim
        let rope = RoPE(headDim: hd, positions: T, base: c.ropeBase)
        let arithmetic = Float32Attention(headDim: hd), mask = mask ?? c.mask
        // K, V of every producer layer for all positions, token-major, in slot `kvSlot[l]`.
        let act = Activations(config: c, rows: T, keys: T, kvSlots: c.kvMap.kvLayers)
        let kvSlot = Dictionary(uniqueKeysWithValues: c.kvMap.producers.enumerated().map { ($1, $0) })
        let X = act.x, H = act.h, proj = act.proj                         // [T × d_model]
        let Q = act.q, O = act.attnOut                                    // [T × q_heads·head_dim]
        let G = act.gate, U = act.up                                      // [T × ffn]

        for t in 0..<T { weights.embedding.row(tokens[t], into: X + t * d) }
        for l in 0..<c.layers {
            let aw = weights.attention[c.weightSharing.attentionSet(layer: l)]
            rmsNormRows(X, aw.norm, T, d, c.normEps, H)
            matmul(H, T, aw.wq, Q)
            for t in 0..<T { rope.apply(Q + t * a.qElements, heads: a.qHeads, position: t) }
            if c.kvMap.isProducer(l) {
                let K = act.k(kvSlot[l]!), V = act.v(kvSlot[l]!)        // [T × kv_heads·head_dim]
                matmul(H, T, aw.wk!, K)
                matmul(H, T, aw.wv!, V)
                if let latent {
                    throughLatent(latent, layer: l, K, V, rows: T, elements: a.kvElements, cacheDType)
                    for t in 0..<T { rope.apply(K + t * a.kvElements, heads: a.kvHeads, position: t) }
                } else {
                    for t in 0..<T { rope.apply(K + t * a.kvElements, heads: a.kvHeads, position: t) }
                    for i in 0..<(T * a.kvElements) {
                        K[i] = cacheDType.round(K[i])
                        V[i] = cacheDType.round(V[i])
                    }
                }
            }
            let K = act.k(kvSlot[c.kvMap.source[l]]!), V = act.v(kvSlot[c.kvMap.source[l]]!)
            _ = Attention.attendBlock(arithmetic, q: Q, keys: KVRows(base: K, stride: a.kvElements), values: KVRows(base: V, stride: a.kvElements),
                                      kvHeadStride: hd, layout: a, mask: mask, position: 0, tokens: T, available: T,
                                      scores: act.scores, scoreStride: act.keys, out: O, record: false)
            matmul(O, T, aw.wo, proj)
            for i in 0..<(T * d) { X[i] += proj[i] }

            let fw = weights.ffn[c.weightSharing.ffnSet(layer: l)]
            rmsNormRows(X, fw.norm, T, d, c.normEps, H)
            matmul(H, T, fw.w1, G)
            matmul(H, T, fw.w3, U)
            for t in 0..<T { Kernels.swiglu(G + t * c.ffn, U + t * c.ffn, c.ffn) }
            matmul(G, T, fw.w2, proj)
            for i in 0..<(T * d) { X[i] += proj[i] }
        }
        rmsNormRows(X, weights.finalNorm, T, d, c.normEps, H)
        var logits = [Float](repeating: 0, count: T * c.vocab)
        logits.withUnsafeMutableBufferPointer { matmul(H, T, weights.lmHead ?? weights.embedding, $0.baseAddress!) }
        return logits
    }

    /// K and V (pre-RoPE, `[rows × E]` each) replaced by their read-back from a stored latent: [k; v]
    /// → c = downᵀ·[k; v] rounded to the cache's type → up·c.
    private static func throughLatent(_ latent: LatentKV, layer: Int, _ K: UnsafeMutablePointer<Float>, _ V: UnsafeMutablePointer<Float>,
                                      rows: Int, elements E: Int, _ dtype: DType) {
        let joint = UnsafeMutablePointer<Float>.allocate(capacity: rows * 2 * E), c = UnsafeMutablePointer<Float>.allocate(capacity: rows * latent.rank)
        defer { joint.deallocate(); c.deallocate() }
        for t in 0..<rows {
            (joint + t * 2 * E).update(from: K + t * E, count: E)
            (joint + t * 2 * E + E).update(from: V + t * E, count: E)
        }
        latent.project(layer: layer, kv: joint, rows: rows, into: c)
        for j in 0..<(rows * latent.rank) { c[j] = dtype.round(c[j]) }
        latent.expand(layer: layer, latent: c, rows: rows, into: joint)
        for t in 0..<rows {
            (K + t * E).update(from: joint + t * 2 * E, count: E)
            (V + t * E).update(from: joint + t * 2 * E + E, count: E)
        }
    }

    /// Y = A·Wᵀ for A `[rows × W.cols]`: every output one dot product, as in the decoder.
    private static func matmul(_ A: UnsafePointer<Float>, _ rows: Int, _ W: WeightMatrix, _ Y: UnsafeMutablePointer<Float>) {
        Kernels.matmul(W, A, count: rows, Y)
    }

    private static func rmsNormRows(_ X: UnsafePointer<Float>, _ gain: [Float], _ rows: Int, _ d: Int, _ eps: Float, _ H: UnsafeMutablePointer<Float>) {
        for r in 0..<rows { Kernels.rmsNorm(X + r * d, gain: gain, d, eps: eps, H + r * d) }
    }
}
