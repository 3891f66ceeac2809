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
public struct ParameterLayout: Sendable {
    public struct Attention: Sendable {
        public let norm: TensorSlot, wq: TensorSlot, wk: TensorSlot?, wv: TensorSlot?, wo: TensorSlot
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

    public init(config c: DecoderConfig) {
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
            let kv = c.attentionSetHasKV(l)
            return Attention(
                norm: slot("blk.\(l).attn_norm.weight", 1, d, projection: false),
                wq: slot("blk.\(l).attn_q.weight", a.qElements, d, projection: true),
                wk: kv ? slot("blk.\(l).attn_k.weight", a.kvElements, d, projection: true) : nil,
                wv: kv ? slot("blk.\(l).attn_v.weight", a.kvElements, d, projection: true) : nil,
                wo: slot("blk.\(l).attn_output.weight", d, a.qElements, projection: true))
        }
        ffn = (0..<c.weightSharing.ffnSets(layers: c.layers)).map { l in
            FFN(norm: slot("blk.\(l).ffn_norm.weight", 1, d, projection: false),
                w1: slot("blk.\(l).ffn_gate.weight", c.ffn, d, projection: true),
                w3: slot("blk.\(l).ffn_up.weight", c.ffn, d, projection: true),
                w2: slot("blk.\(l).ffn_down.weight", d, c.ffn, projection: true))
        }
        self.tensors = tensors
        count = offset
    }

    /// The LM head's slot: its own, or the embedding when tied.
    public var head: TensorSlot { lmHead ?? embedding }
}

extension Buffer {
    /// The first value of `slot` in this buffer.
    @inline(__always)
    public subscript(slot: TensorSlot) -> UnsafeMutablePointer<T> { base + slot.offset }

    /// Copies a decoder's weights in (dequantized, as `T`).
    public func load(_ w: DecoderWeights, layout: ParameterLayout) {
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
        for (s, f) in zip(layout.ffn, w.ffn) {
            put(s.norm, f.norm)
            put(s.w1, f.w1.floats)
            put(s.w3, f.w3.floats)
            put(s.w2, f.w2.floats)
        }
    }

    /// The values as a decoder's Float32 weights, for inference and checkpoints.
    public func decoderWeights(layout: ParameterLayout) -> DecoderWeights {
        func floats(_ s: TensorSlot) -> [Float] { (0..<s.elements).map { Float(self[s][$0]) } }
        func matrix(_ s: TensorSlot) -> WeightMatrix { WeightMatrix(rows: s.rows, cols: s.cols, floats: floats(s)) }
        return DecoderWeights(
            embedding: matrix(layout.embedding),
            attention: layout.attention.map {
                AttentionWeights(norm: floats($0.norm), wq: matrix($0.wq), wk: $0.wk.map(matrix), wv: $0.wv.map(matrix), wo: matrix($0.wo))
            },
            ffn: layout.ffn.map { FFNWeights(norm: floats($0.norm), w1: matrix($0.w1), w3: matrix($0.w3), w2: matrix($0.w2)) },
            finalNorm: floats(layout.finalNorm),
            lmHead: layout.lmHead.map(matrix))
    }
}
