import AttnEngine

/// What a training forward keeps for its backward pass, allocated once for a batch shape. With CLA a
/// consumer layer keeps no K or V: it reads its producer's, so its `k`, `v` are nil — and so are its
/// K/V gradient buffers in the backward scratch.
public final class TrainActivations<T: TrainScalar> {
    public final class Layer {
        /// Residual stream into the layer; RMSNorm output and 1/rms for attention.     // [N × d]
        let x: Buffer<T>, h1: Buffer<T>, rstd1: Buffer<T>
        /// Queries after RoPE; keys after RoPE and values (producers only).           // [N × width]
        let q: Buffer<T>, k: Buffer<T>?, v: Buffer<T>?
        /// A latent producer's c = W_a·h1, the R elements it would cache per token.      // [N × R]
        let c: Buffer<T>?
        /// Attention probabilities [B × q_heads × T × T] and the heads' output [N × q_heads·d_h].
        let P: Buffer<T>, o: Buffer<T>
        /// Residual after attention; RMSNorm output and 1/rms for the FFN.
        let mid: Buffer<T>, h2: Buffer<T>, rstd2: Buffer<T>
        /// FFN gate and up projections, σ(gate), and silu(gate)·up.                  // [N × ffn]
        let a: Buffer<T>, b: Buffer<T>, sig: Buffer<T>, g: Buffer<T>

        init(config c: DecoderConfig, layer l: Int, rows N: Int, attention: CausalAttention, kvLatentRank: Int?) {
            let d = c.dModel, producer = c.kvMap.isProducer(l)
            x = Buffer(count: N * d); h1 = Buffer(count: N * d); rstd1 = Buffer(count: N)
            q = Buffer(count: N * attention.qWidth)
            k = producer ? Buffer(count: N * attention.kvWidth) : nil
            v = producer ? Buffer(count: N * attention.kvWidth) : nil
            self.c = producer ? kvLatentRank.map { Buffer(count: N * $0) } : nil
            P = Buffer(count: attention.probabilityElements); o = Buffer(count: N * attention.qWidth)
            mid = Buffer(count: N * d); h2 = Buffer(count: N * d); rstd2 = Buffer(count: N)
            a = Buffer(count: N * c.ffn); b = Buffer(count: N * c.ffn); sig = Buffer(count: N * c.ffn); g = Buffer(count: N * c.ffn)
        }

        /// Bytes kept, and of those the K/V rows (with the latents of a latent model).
        var bytes: Int { [x, h1, rstd1, q, P, o, mid, h2, rstd2, a, b, sig, g].reduce(0) { $0 + $1.bytes } + kvBytes }
        var kvBytes: Int { (k?.bytes ?? 0) + (v?.bytes ?? 0) + latentBytes }
        var latentBytes: Int { c?.bytes ?? 0 }
    }

    public let batch: Int, seq: Int
    public var rows: Int { batch * seq }
    let layers: [Layer]
    /// Final residual, its RMSNorm and 1/rms; logits (probabilities, then their gradient, in place).
    let xFinal: Buffer<T>, hFinal: Buffer<T>, rstdFinal: Buffer<T>, logits: Buffer<T>
    /// Each row's loss, in float64.
    let losses: UnsafeMutablePointer<Double>
    // Backward scratch: gradients of the residual stream, of a normed input, of q and of the heads'
    // output, per-producer dk/dv (they collect their consumers' gradients), the FFN's, and small sums.
    let dx: Buffer<T>, dh: Buffer<T>, dq: Buffer<T>, dout: Buffer<T>
    let dk: [Int: Buffer<T>], dv: [Int: Buffer<T>]
    /// A latent producer's dc (one layer's at a time).                                   // [N × R]
    let dc: Buffer<T>?
    let da: Buffer<T>, db: Buffer<T>, dg: Buffer<T>
    let normScratch: Buffer<T>, attentionScratch: Buffer<T>
    let attention: CausalAttention

    /// Buffers for `batch` sequences of `seq` tokens; `kvLatentRank` as the model's
    /// (`ParameterLayout.kvLatentRank`).
    public init(config c: DecoderConfig, batch: Int, seq: Int, kvLatentRank: Int? = nil) {
        self.batch = batch
        self.seq = seq
        let N = batch * seq, d = c.dModel
        let attention = CausalAttention(batch: batch, seq: seq, layout: c.attention)
        self.attention = attention
        layers = (0..<c.layers).map { Layer(config: c, layer: $0, rows: N, attention: attention, kvLatentRank: kvLatentRank) }
        xFinal = Buffer(count: N * d); hFinal = Buffer(count: N * d); rstdFinal = Buffer(count: N)
        logits = Buffer(count: N * c.vocab)
        losses = .allocate(capacity: N)
        dx = Buffer(count: N * d); dh = Buffer(count: N * d)
        dq = Buffer(count: N * attention.qWidth); dout = Buffer(count: N * attention.qWidth)
        var dk: [Int: Buffer<T>] = [:], dv: [Int: Buffer<T>] = [:]
        for p in c.kvMap.producers {
            dk[p] = Buffer(count: N * attention.kvWidth)
            dv[p] = Buffer(count: N * attention.kvWidth)
        }
        self.dk = dk
        self.dv = dv
        dc = kvLatentRank.map { Buffer(count: N * $0) }
        da = Buffer(count: N * c.ffn); db = Buffer(count: N * c.ffn); dg = Buffer(count: N * c.ffn)
        normScratch = Buffer(count: 2 * Parallel.parts * d)
        attentionScratch = Buffer(count: batch * c.attention.kvHeads * seq)
    }

    deinit { losses.deallocate() }

    /// The last forward's next-token probabilities, [N × vocab] (until `backward` turns them into
    /// gradients).
    public var probabilities: [T] { logits.array }

    /// The memory these buffers take, itemised as `attnlab train` prints it.
    public var memory: TrainingMemory.Activations {
        TrainingMemory.Activations(
            perLayerBytes: layers.map(\.bytes), perLayerKVBytes: layers.map(\.kvBytes), perLayerLatentBytes: layers.map(\.latentBytes),
            finalBytes: xFinal.bytes + hFinal.bytes + rstdFinal.bytes + logits.bytes + rows * MemoryLayout<Double>.stride,
            backwardScratchBytes: [dx, dh, dq, dout, da, db, dg, normScratch, attentionScratch].reduce(0) { $0 + $1.bytes }
                + dk.values.reduce(0) { $0 + $1.bytes } + dv.values.reduce(0) { $0 + $1.bytes } + (dc?.bytes ?? 0))
    }
}

/// The loss of one batch.
public struct BatchLoss: Sendable, Equatable {
    /// Mean −log p(target) over scored tokens, in nats.
    public let loss: Double
    /// Tokens with a target (all of them for text; the answers for the recall task).
    public let scoredTokens: Int
}

/// A decoder in training: its parameters and their gradients in two flat buffers with the same
/// layout, and the forward and backward passes over a batch of sequences.
///
/// The forward pass is the inference decoder's arithmetic (the same RMSNorm, RoPE angles, causal
/// softmax attention reading each layer's K/V source, SwiGLU and LM head), with every activation
/// the backward pass needs kept; the backward pass is written by hand, one function per operation.
public final class TrainingModel<T: TrainScalar> {
    public let config: DecoderConfig
    public let layout: ParameterLayout
    public let parameters: Buffer<T>
    public let gradients: Buffer<T>
    let rotary: Rotary<T>
    /// The longest sequence the RoPE table covers.
    public let maxSeq: Int

    /// A model holding `weights` (e.g. `DecoderWeights(config:seed:)`, or a checkpoint's). With
    /// `kvLatentRank` R each producer computes K and V through an R-element latent (MLA-style, no
    /// decoupled RoPE key): its W_K, W_V in `weights` are unused, and the factors are drawn from
    /// `seed` (`Buffer.load`).
    public init(config: DecoderConfig, weights: DecoderWeights, maxSeq: Int, kvLatentRank: Int? = nil, seed: UInt64 = 1) {
        self.config = config
        layout = ParameterLayout(config: config, kvLatentRank: kvLatentRank)
        parameters = Buffer(count: layout.count)
        gradients = Buffer(count: layout.count)
        parameters.load(weights, layout: layout, seed: seed)
        rotary = Rotary(headDim: config.attention.headDim, positions: maxSeq, base: config.ropeBase)
        self.maxSeq = maxSeq
    }

    /// The current weights as the inference decoder's.
    public var weights: DecoderWeights { parameters.decoderWeights(layout: layout) }

    /// Runs `inputs` ([B × T] token ids, row-major) through the model and scores `targets` (−1:
    /// not scored). Leaves in `acts` what `backward` needs.
    @discardableResult
    public func forward(inputs: [Int32], targets: [Int32], _ acts: TrainActivations<T>) -> BatchLoss {
        let c = config, d = c.dModel, N = acts.rows, a = c.attention, w = parameters
        precondition(inputs.count == N && targets.count == N, "a batch is \(acts.batch) × \(acts.seq) tokens")
        precondition(acts.seq <= maxSeq, "sequence longer than the RoPE table")
        let eps = T(c.normEps)
        Embedding.forward(inputs, w[layout.embedding], acts.layers[0].x.base, d: d)
        for l in 0..<c.layers {
            let L = acts.layers[l], src = c.kvMap.source[l]
            let sa = layout.attention[c.weightSharing.attentionSet(layer: l)], sf = layout.ffn[c.weightSharing.ffnSet(layer: l)]
            RMSNorm.forward(L.x.base, w[sa.norm], L.h1.base, rstd: L.rstd1.base, rows: N, d: d, eps: eps)
            T.nt(L.h1.base, w[sa.wq], L.q.base, n: N, m: a.qElements, k: d, accumulate: false)
            rotary.apply(L.q.base, rows: N, seq: acts.seq, heads: a.qHeads, inverse: false)
            if let k = L.k, let v = L.v, let wk = sa.wk, let wv = sa.wv {
                T.nt(L.h1.base, w[wk], k.base, n: N, m: a.kvElements, k: d, accumulate: false)
                T.nt(L.h1.base, w[wv], v.base, n: N, m: a.kvElements, k: d, accumulate: false)
                rotary.apply(k.base, rows: N, seq: acts.seq, heads: a.kvHeads, inverse: false)
            } else if let k = L.k, let v = L.v, let lc = L.c, let f = sa.latent, let R = layout.kvLatentRank {
                // c = h1·W_aᵀ; K = c·W_kbᵀ, V = c·W_vbᵀ; RoPE on K after the expansion.
                T.nt(L.h1.base, w[f.wa], lc.base, n: N, m: R, k: d, accumulate: false)
                T.nt(lc.base, w[f.wkb], k.base, n: N, m: a.kvElements, k: R, accumulate: false)
                T.nt(lc.base, w[f.wvb], v.base, n: N, m: a.kvElements, k: R, accumulate: false)
                rotary.apply(k.base, rows: N, seq: acts.seq, heads: a.kvHeads, inverse: false)
            }
            let S = acts.layers[src]
            acts.attention.forward(q: L.q.base, k: S.k!.base, v: S.v!.base, P: L.P.base, o: L.o.base)
            L.mid.base.update(from: L.x.base, count: N * d)
            T.nt(L.o.base, w[sa.wo], L.mid.base, n: N, m: d, k: a.qElements, accumulate: true)

            RMSNorm.forward(L.mid.base, w[sf.norm], L.h2.base, rstd: L.rstd2.base, rows: N, d: d, eps: eps)
            T.nt(L.h2.base, w[sf.w1], L.a.base, n: N, m: c.ffn, k: d, accumulate: false)
            T.nt(L.h2.base, w[sf.w3], L.b.base, n: N, m: c.ffn, k: d, accumulate: false)
            SwiGLU.forward(L.a.base, L.b.base, L.g.base, sig: L.sig.base, count: N * c.ffn)
            let next = l + 1 < c.layers ? acts.layers[l + 1].x : acts.xFinal
            next.base.update(from: L.mid.base, count: N * d)
            T.nt(L.g.base, w[sf.w2], next.base, n: N, m: d, k: c.ffn, accumulate: true)
        }
        RMSNorm.forward(acts.xFinal.base, w[layout.finalNorm], acts.hFinal.base, rstd: acts.rstdFinal.base, rows: N, d: d, eps: eps)
        T.nt(acts.hFinal.base, w[layout.head], acts.logits.base, n: N, m: c.vocab, k: d, accumulate: false)
        CrossEntropy.forward(acts.logits.base, targets: targets, vocab: c.vocab, losses: acts.losses)
        var sum = 0.0, scored = 0
        for r in 0..<N where targets[r] >= 0 {
            sum += acts.losses[r]
            scored += 1
        }
        return BatchLoss(loss: scored > 0 ? sum / Double(scored) : 0, scoredTokens: scored)
    }

    /// Adds the gradient of the last `forward`'s mean loss to `gradients` (zero them first for a
    /// fresh step). Consumes the probabilities `forward` left.
    public func backward(inputs: [Int32], targets: [Int32], _ acts: TrainActivations<T>, scoredTokens: Int) {
        let c = config, d = c.dModel, N = acts.rows, a = c.attention, w = parameters, gw = gradients
        guard scoredTokens > 0 else { return }
        CrossEntropy.backward(acts.logits.base, targets: targets, vocab: c.vocab, scored: scoredTokens)
        // LM head (the embedding when tied: its gradient adds into the embedding's).
        T.tn(acts.logits.base, acts.hFinal.base, gw[layout.head], n: N, m: c.vocab, k: d)
        T.nn(acts.logits.base, w[layout.head], acts.dh.base, n: N, m: c.vocab, k: d, accumulate: false)
        acts.dx.zero()
        RMSNorm.backward(acts.dh.base, acts.xFinal.base, w[layout.finalNorm], rstd: acts.rstdFinal.base, dx: acts.dx.base,
                         dg: gw[layout.finalNorm], rows: N, d: d, scratch: acts.normScratch.base)
        for dk in acts.dk.values { dk.zero() }
        for dv in acts.dv.values { dv.zero() }
        for l in stride(from: c.layers - 1, through: 0, by: -1) {
            let L = acts.layers[l], src = c.kvMap.source[l], S = acts.layers[src]
            let sa = layout.attention[c.weightSharing.attentionSet(layer: l)], sf = layout.ffn[c.weightSharing.ffnSet(layer: l)]
            // FFN: x_{l+1} = mid + g·W2ᵀ, g = silu(h2·W1ᵀ) ∘ (h2·W3ᵀ), h2 = RMSNorm(mid).
            T.nn(acts.dx.base, w[sf.w2], acts.dg.base, n: N, m: d, k: c.ffn, accumulate: false)
            T.tn(acts.dx.base, L.g.base, gw[sf.w2], n: N, m: d, k: c.ffn)
            SwiGLU.backward(acts.dg.base, L.a.base, L.b.base, sig: L.sig.base, da: acts.da.base, db: acts.db.base, count: N * c.ffn)
            T.tn(acts.da.base, L.h2.base, gw[sf.w1], n: N, m: c.ffn, k: d)
            T.tn(acts.db.base, L.h2.base, gw[sf.w3], n: N, m: c.ffn, k: d)
            T.nn(acts.da.base, w[sf.w1], acts.dh.base, n: N, m: c.ffn, k: d, accumulate: false)
            T.nn(acts.db.base, w[sf.w3], acts.dh.base, n: N, m: c.ffn, k: d, accumulate: true)
            RMSNorm.backward(acts.dh.base, L.mid.base, w[sf.norm], rstd: L.rstd2.base, dx: acts.dx.base,
                             dg: gw[sf.norm], rows: N, d: d, scratch: acts.normScratch.base)

            // Attention: mid = x + o·W_Oᵀ; o = attention(q, k_src, v_src); the K/V gradient goes to
            // the source layer, whose own turn (it comes later, going down) takes it through W_K, W_V.
            T.nn(acts.dx.base, w[sa.wo], acts.dout.base, n: N, m: a.qElements, k: d, accumulate: false)
            T.tn(acts.dx.base, L.o.base, gw[sa.wo], n: N, m: d, k: a.qElements)
            acts.attention.backward(dout: acts.dout.base, q: L.q.base, k: S.k!.base, v: S.v!.base, P: L.P.base,
                                    dq: acts.dq.base, dk: acts.dk[src]!.base, dv: acts.dv[src]!.base,
                                    scratch: acts.attentionScratch.base)
            rotary.apply(acts.dq.base, rows: N, seq: acts.seq, heads: a.qHeads, inverse: true)
            T.tn(acts.dq.base, L.h1.base, gw[sa.wq], n: N, m: a.qElements, k: d)
            T.nn(acts.dq.base, w[sa.wq], acts.dh.base, n: N, m: a.qElements, k: d, accumulate: false)
            if let wk = sa.wk, let wv = sa.wv, let dk = acts.dk[l], let dv = acts.dv[l] {
                // Every reader of this layer's cache has added its share by now.
                rotary.apply(dk.base, rows: N, seq: acts.seq, heads: a.kvHeads, inverse: true)
                T.tn(dk.base, L.h1.base, gw[wk], n: N, m: a.kvElements, k: d)
                T.tn(dv.base, L.h1.base, gw[wv], n: N, m: a.kvElements, k: d)
                T.nn(dk.base, w[wk], acts.dh.base, n: N, m: a.kvElements, k: d, accumulate: true)
                T.nn(dv.base, w[wv], acts.dh.base, n: N, m: a.kvElements, k: d, accumulate: true)
            } else if let f = sa.latent, let dk = acts.dk[l], let dv = acts.dv[l], let lc = L.c, let dc = acts.dc,
                      let R = layout.kvLatentRank {
                // Through the latent: dW_kb = dKᵀ·c, dW_vb = dVᵀ·c, dc = dK·W_kb + dV·W_vb,
                // dW_a = dcᵀ·h1, dh1 += dc·W_a.
                rotary.apply(dk.base, rows: N, seq: acts.seq, heads: a.kvHeads, inverse: true)
                T.tn(dk.base, lc.base, gw[f.wkb], n: N, m: a.kvElements, k: R)
                T.tn(dv.base, lc.base, gw[f.wvb], n: N, m: a.kvElements, k: R)
                T.nn(dk.base, w[f.wkb], dc.base, n: N, m: a.kvElements, k: R, accumulate: false)
                T.nn(dv.base, w[f.wvb], dc.base, n: N, m: a.kvElements, k: R, accumulate: true)
                T.tn(dc.base, L.h1.base, gw[f.wa], n: N, m: R, k: d)
                T.nn(dc.base, w[f.wa], acts.dh.base, n: N, m: R, k: d, accumulate: true)
            }
            RMSNorm.backward(acts.dh.base, L.x.base, w[sa.norm], rstd: L.rstd1.base, dx: acts.dx.base,
                             dg: gw[sa.norm], rows: N, d: d, scratch: acts.normScratch.base)
        }
        Embedding.backward(inputs, acts.dx.base, gw[layout.embedding], d: d)
    }
}
