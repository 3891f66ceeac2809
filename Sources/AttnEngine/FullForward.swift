/// The reference path: one causal forward pass over a whole sequence with no cache.
///
/// Every producer layer recomputes K and V for all positions from its own input; consumer layers use
/// those recomputed tensors; the causal mask sets scores above the diagonal to −∞ before a softmax
/// over the whole row. Because position t sees only tokens ≤ t, the logits at t are exactly what a
/// cached decoder must produce at step t — one pass checks every step of a decode.
public enum FullForward {
    /// Logits at every position.                                    // [T × vocab]
    public static func logits(config c: DecoderConfig, weights: DecoderWeights, tokens: [Int], cacheDType: DType = .fp32) -> [Float] {
        let T = tokens.count, d = c.dModel, a = c.attention, hd = a.headDim
        let rope = RoPE(headDim: hd, positions: T, base: c.ropeBase)
        let scale = 1 / Float(hd).squareRoot()
        var X = [Float](repeating: 0, count: T * d)                   // [T × d_model]
        for t in 0..<T {
            for i in 0..<d { X[t * d + i] = weights.embedding[tokens[t] * d + i] }
        }
        // K, V of each producer layer for all positions, token-major.  // [T × kv_heads·head_dim]
        var kvOf: [Int: (k: [Float], v: [Float])] = [:]
        var H = [Float](repeating: 0, count: T * d)
        for l in 0..<c.layers {
            let aw = weights.attention[c.weightSharing.attentionSet(layer: l)]
            rmsNormRows(X, aw.norm, T, d, c.normEps, &H)
            var Q = matmul(H, T, d, aw.wq, a.qElements)                // [T × q_heads·head_dim]
            for t in 0..<T { Q.withUnsafeMutableBufferPointer { rope.apply($0.baseAddress! + t * a.qElements, heads: a.qHeads, position: t) } }
            if c.kvMap.isProducer(l) {
                var K = matmul(H, T, d, aw.wk!, a.kvElements)           // [T × kv_heads·head_dim]
                var V = matmul(H, T, d, aw.wv!, a.kvElements)
                for t in 0..<T { K.withUnsafeMutableBufferPointer { rope.apply($0.baseAddress! + t * a.kvElements, heads: a.kvHeads, position: t) } }
                for i in K.indices {
                    K[i] = cacheDType.round(K[i])
                    V[i] = cacheDType.round(V[i])
                }
                kvOf[l] = (K, V)
            }
            let (K, V) = kvOf[c.kvMap.source[l]]!
            var O = [Float](repeating: 0, count: T * a.qElements)      // [T × q_heads·head_dim]
            var S = [Float](repeating: 0, count: T)                    // one row of scores
            Q.withUnsafeBufferPointer { q in
                K.withUnsafeBufferPointer { k in
                    for t in 0..<T {
                        for hq in 0..<a.qHeads {
                            let g = a.kvHead(forQueryHead: hq)
                            let qRow = q.baseAddress! + t * a.qElements + hq * hd
                            for j in 0..<T {
                                S[j] = j <= t ? Kernels.dot(qRow, k.baseAddress! + j * a.kvElements + g * hd, hd) * scale : -.infinity
                            }
                            Kernels.softmax(&S, T)
                            for j in 0..<T {
                                for e in 0..<hd { O[t * a.qElements + hq * hd + e] += V[j * a.kvElements + g * hd + e] * S[j] }
                            }
                        }
                    }
                }
            }
            let attn = matmul(O, T, a.qElements, aw.wo, d)
            for i in X.indices { X[i] += attn[i] }

            let fw = weights.ffn[c.weightSharing.ffnSet(layer: l)]
            rmsNormRows(X, fw.norm, T, d, c.normEps, &H)
            var G = matmul(H, T, d, fw.w1, c.ffn)
            let U = matmul(H, T, d, fw.w3, c.ffn)
            G.withUnsafeMutableBufferPointer { g in
                U.withUnsafeBufferPointer { u in
                    for t in 0..<T { Kernels.swiglu(g.baseAddress! + t * c.ffn, u.baseAddress! + t * c.ffn, c.ffn) }
                }
            }
            let down = matmul(G, T, c.ffn, fw.w2, d)
            for i in X.indices { X[i] += down[i] }
        }
        rmsNormRows(X, weights.finalNorm, T, d, c.normEps, &H)
        return matmul(H, T, d, weights.lmHead ?? weights.embedding, c.vocab)
    }

    /// Y = A·Wᵀ for A `[rows × inner]` and W `[out × inner]`.
    private static func matmul(_ A: [Float], _ rows: Int, _ inner: Int, _ W: [Float], _ out: Int) -> [Float] {
        var Y = [Float](repeating: 0, count: rows * out)
        A.withUnsafeBufferPointer { a in
            W.withUnsafeBufferPointer { w in
                Y.withUnsafeMutableBufferPointer { y in
                    for r in 0..<rows {
                        Kernels.matvec(w.baseAddress!, rows: out, cols: inner, a.baseAddress! + r * inner, y.baseAddress! + r * out)
                    }
                }
            }
        }
        return Y
    }

    private static func rmsNormRows(_ X: [Float], _ gain: [Float], _ rows: Int, _ d: Int, _ eps: Float, _ H: inout [Float]) {
        X.withUnsafeBufferPointer { x in
            H.withUnsafeMutableBufferPointer { h in
                for r in 0..<rows { Kernels.rmsNorm(x.baseAddress! + r * d, gain: gain, d, eps: eps, h.baseAddress! + r * d) }
            }
        }
    }
}
