import AttnEngine

/// Memory a training run owns: one allocation of `count` values that never moves, handed to the
/// kernels as a pointer (no copy-on-write, no exclusivity checks in the hot loops).
public final class Buffer<T: TrainScalar>: @unchecked Sendable {
    public let count: Int
    public let base: UnsafeMutablePointer<T>

    public init(count: Int) {
        self.count = count
        base = .allocate(capacity: max(1, count))
        base.initialize(repeating: 0, count: max(1, count))
    }

    deinit { base.deallocate() }

    public func zero() { base.update(repeating: 0, count: count) }

    public var array: [T] { Array(UnsafeBufferPointer(start: base, count: count)) }

    public var bytes: Int { count * MemoryLayout<T>.stride }
}

/// One parameter tensor's place in the flat parameter (and gradient, and optimizer-state) buffer.
public struct TensorSlot: Sendable, Hashable {
    /// llama.cpp's name for it (`blk.3.attn_q.weight`): the checkpoint's tensor name too.
    public let name: String
    public let rows: Int
    public let cols: Int
    public let offset: Int
    /// Whether it is a matrix multiplied into activations. AdamW's weight decay applies only to
    /// these by default: decaying norm gains toward 0 or embeddings toward the origin is not a
    /// regularisation anyone wants (GPT-2 / nanoGPT practice).
    public let isProjection: Bool

    public var elements: Int { rows * cols }
}

/// Where each tensor of a decoder lives in the flat parameter buffer. Built from the same
/// `DecoderConfig` as inference: one attention (FFN) slot set per weight set, so ALBERT sharing is
/// one set every layer points to, and a CLA consumer's set has no W_K, W_V.
///
/// With a latent rank R (MLA-style K/V, `kvLatentRank`), a producer's set holds no W_K, W_V but their
/// three factors: c = W_a·h (R elements, the whole per-token cache), K = W_kb·c, V = W_vb·c.
public struct ParameterLayout: Sendable {
    /// A producer's latent K/V factors: W_a [R × d_model], W_kb and W_vb [kv_heads·head_dim × R].
    public struct Latent: Sendable {
        public let wa: TensorSlot, wkb: TensorSlot, wvb: TensorSlot
    }
    public struct Attention: Sendable {
        public let norm: TensorSlot, wq: TensorSlot, wk: TensorSlot?, wv: TensorSlot?, wo: TensorSlot
        /// The factors that replace W_K, W_V when the model is latent (nil otherwise, and on consumers).
        public let latent: Latent?
    }
    public struct FFN: Sendable {
        public let norm: TensorSlot, w1: TensorSlot, w3: TensorSlot, w2: TensorSlot
    }

    public let embedding: TensorSlot
    public let finalNorm: TensorSlot
    /// nil when the LM head is the embedding (tied).
    public let lmHead: TensorSlot?
    public let attention: [Attention]
    public let ffn: [FFN]
    /// Every tensor, in buffer order.
    public let tensors: [TensorSlot]
    /// Total parameters.
    public let count: Int
    /// R, the latent elements per token and producer layer; nil: ordinary W_K, W_V.
    public let kvLatentRank: Int?

    public init(config c: DecoderConfig, kvLatentRank: Int? = nil) {
        var tensors: [TensorSlot] = []
        var offset = 0
        func slot(_ name: String, _ rows: Int, _ cols: Int, projection: Bool) -> TensorSlot {
            let s = TensorSlot(name: name, rows: rows, cols: cols, offset: offset, isProjection: projection)
            tensors.append(s)
            offset += rows * cols
            return s
        }
        let d = c.dModel, a = c.attention
        embedding = slot("token_embd.weight", c.vocab, d, projection: false)
        finalNorm = slot("output_norm.weight", 1, d, projection: false)
        lmHead = c.tiedEmbeddings ? nil : slot("output.weight", c.vocab, d, projection: true)
        attention = (0..<c.weightSharing.attentionSets(layers: c.layers)).map { l in
            let kv = c.attentionSetHasKV(l), plain = kv && kvLatentRank == nil
            let norm = slot("blk.\(l).attn_norm.weight", 1, d, projection: false)
            let wq = slot("blk.\(l).attn_q.weight", a.qElements, d, projection: true)
            let wk = plain ? slot("blk.\(l).attn_k.weight", a.kvElements, d, projection: true) : nil
            let wv = plain ? slot("blk.\(l).attn_v.weight", a.kvElements, d, projection: true) : nil
            let latent = kv ? kvLatentRank.map { R in
                Latent(wa: slot("blk.\(l).attn_kv_a.weight", R, d, projection: true),
                       wkb: slot("blk.\(l).attn_k_b.weight", a.kvElements, R, projection: true),
                       wvb: slot("blk.\(l).attn_v_b.weight", a.kvElements, R, projection: true))
            } : nil
            return Attention(norm: norm, wq: wq, wk: wk, wv: wv, wo: slot("blk.\(l).attn_output.weight", d, a.qElements, projection: true),
                             latent: latent)
        }
        ffn = (0..<c.weightSharing.ffnSets(layers: c.layers)).map { l in
            FFN(norm: slot("blk.\(l).ffn_norm.weight", 1, d, projection: false),
                w1: slot("blk.\(l).ffn_gate.weight", c.ffn, d, projection: true),
                w3: slot("blk.\(l).ffn_up.weight", c.ffn, d, projection: true),
                w2: slot("blk.\(l).ffn_down.weight", d, c.ffn, projection: true))
        }
        self.tensors = tensors
        count = offset
        self.kvLatentRank = kvLatentRank
    }

    /// The LM head's slot: its own, or the embedding when tied.
    public var head: TensorSlot { lmHead ?? embedding }
}

extension Buffer {
    /// The first value of `slot` in this buffer.
    @inline(__always)
    public subscript(slot: TensorSlot) -> UnsafeMutablePointer<T> { base + slot.offset }

    /// Copies a decoder's weights in (dequantized, as `T`). A latent layout's factors, which no
    /// decoder holds, are drawn from `seed` instead (`drawLatent`).
    public func load(_ w: DecoderWeights, layout: ParameterLayout, seed: UInt64) {
        func put(_ slot: TensorSlot, _ values: [Float]) {
            precondition(values.count == slot.elements, "\(slot.name): \(values.count) values for \(slot.rows) × \(slot.cols)")
            for i in 0..<values.count { self[slot][i] = T(values[i]) }
        }
        put(layout.embedding, w.embedding.floats)
        put(layout.finalNorm, w.finalNorm)
        if let s = layout.lmHead, let m = w.lmHead { put(s, m.floats) }
        for (s, a) in zip(layout.attention, w.attention) {
            put(s.norm, a.norm)
            put(s.wq, a.wq.floats)
            if let sk = s.wk, let sv = s.wv, let k = a.wk, let v = a.wv {
                put(sk, k.floats)
                put(sv, v.floats)
            }
            put(s.wo, a.wo.floats)
        }
        if let R = layout.kvLatentRank { drawLatent(layout: layout, rank: R, seed: seed) }
        for (s, f) in zip(layout.ffn, w.ffn) {
            put(s.norm, f.norm)
            put(s.w1, f.w1.floats)
            put(s.w3, f.w3.floats)
            put(s.w2, f.w2.floats)
        }
    }

    /// The latent factors, `DecoderWeights(config:seed:)`'s way: each tensor its own stream named by
    /// its role (`layer3.kv_a`), W_a ~ N(0, 1/d_model) and W_kb, W_vb ~ N(0, 1/R) (fan-in), so each
    /// element of W_kb·W_a has W_K's init variance 1/d_model.
    private func drawLatent(layout: ParameterLayout, rank R: Int, seed: UInt64) {
        for (l, set) in layout.attention.enumerated() {
            guard let f = set.latent else { continue }
            for (slot, role, std) in [(f.wa, "kv_a", 1 / Double(f.wa.cols).squareRoot()),
                                      (f.wkb, "k_b", 1 / Double(R).squareRoot()), (f.wvb, "v_b", 1 / Double(R).squareRoot())] {
                var rng = SplitMix64(seed: seed, stream: "layer\(l).\(role)")
                var values = [Float](repeating: 0, count: slot.elements)
                rng.fillNormal(&values, std: std)
                for i in 0..<values.count { self[slot][i] = T(values[i]) }
            }
        }
    }

    /// The values as a decoder's Float32 weights, for inference and checkpoints. A latent layout's
    /// W_K, W_V are the products W_kb·W_a, W_vb·W_a (formed in `T`, in `T.nn`'s order), so the
    /// decoder computes the same K and V as the factored model up to rounding.
    public func decoderWeights(layout: ParameterLayout) -> DecoderWeights {
        func floats(_ s: TensorSlot) -> [Float] { (0..<s.elements).map { Float(self[s][$0]) } }
        func matrix(_ s: TensorSlot) -> WeightMatrix { WeightMatrix(rows: s.rows, cols: s.cols, floats: floats(s)) }
        func product(_ b: TensorSlot, _ a: TensorSlot) -> WeightMatrix {
            let out = Buffer<T>(count: b.rows * a.cols)
            T.nn(self[b], self[a], out.base, n: b.rows, m: b.cols, k: a.cols, accumulate: false)
            return WeightMatrix(rows: b.rows, cols: a.cols, floats: out.array.map { Float($0) })
        }
        return DecoderWeights(
            embedding: matrix(layout.embedding),
            attention: layout.attention.map {
                AttentionWeights(norm: floats($0.norm), wq: matrix($0.wq),
                                 wk: $0.wk.map(matrix) ?? $0.latent.map { product($0.wkb, $0.wa) },
                                 wv: $0.wv.map(matrix) ?? $0.latent.map { product($0.wvb, $0.wa) }, wo: matrix($0.wo))
            },
            ffn: layout.ffn.map { FFNWeights(norm: floats($0.norm), w1: matrix($0.w1), w3: matrix($0.w3), w2: matrix($0.w2)) },
            finalNorm: floats(layout.finalNorm),
            lmHead: layout.lmHead.map(matrix))
    }
}
