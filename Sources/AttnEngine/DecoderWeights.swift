/// Attention weights of one layer (or of one shared set, with ALBERT-style sharing).
public struct AttentionWeights: Sendable {
    /// RMSNorm gain before attention.                              // [d_model]
    public var norm: [Float]
    public var wq: WeightMatrix                                     // [q_heads·head_dim × d_model]
    /// nil for a CLA consumer layer: it has no W_K, W_V of its own.
    public var wk: WeightMatrix?                                    // [kv_heads·head_dim × d_model]
    public var wv: WeightMatrix?                                    // [kv_heads·head_dim × d_model]
    public var wo: WeightMatrix                                     // [d_model × q_heads·head_dim]

    public init(norm: [Float], wq: WeightMatrix, wk: WeightMatrix?, wv: WeightMatrix?, wo: WeightMatrix) {
        self.norm = norm
        self.wq = wq
        self.wk = wk
        self.wv = wv
        self.wo = wo
    }
}

/// SwiGLU FFN weights of one layer: down(silu(gate·x) ∘ up·x).
public struct FFNWeights: Sendable {
    public var norm: [Float]                                        // [d_model]
    public var w1: WeightMatrix                                     // gate [ffn × d_model]
    public var w3: WeightMatrix                                     // up   [ffn × d_model]
    public var w2: WeightMatrix                                     // down [d_model × ffn]

    public init(norm: [Float], w1: WeightMatrix, w3: WeightMatrix, w2: WeightMatrix) {
        self.norm = norm
        self.w1 = w1
        self.w3 = w3
        self.w2 = w2
    }
}

/// All parameters of a decoder, drawn from a documented seeded init.
///
/// Init (GPT-2 / Llama practice): token embedding N(0, 1); every projection N(0, 1/fan_in); the two
/// projections that write into the residual stream (W_O and W2) additionally scaled by 1/√(2L) so
/// the stream does not grow with depth; norm gains 1. Each tensor has its own random stream named by
/// its role (`layer3.wq`), so models that differ only in K/V layout share all other weights.
///
/// Matrices are `WeightMatrix` values: Float32 here, a pretrained file's own types when loaded from
/// one. Norm gains are always Float32.
public struct DecoderWeights: Sendable {
    public var embedding: WeightMatrix                              // [vocab × d_model]
    public var attention: [AttentionWeights]                        // one per attention weight set
    public var ffn: [FFNWeights]                                    // one per FFN weight set
    public var finalNorm: [Float]                                   // [d_model]
    /// nil when the embeddings are tied: the LM head is then the embedding matrix.
    public var lmHead: WeightMatrix?                                // [vocab × d_model]

    /// Weights loaded from elsewhere (a pretrained model); shapes must match the config they run with.
    public init(embedding: WeightMatrix, attention: [AttentionWeights], ffn: [FFNWeights], finalNorm: [Float], lmHead: WeightMatrix?) {
        self.embedding = embedding
        self.attention = attention
        self.ffn = ffn
        self.finalNorm = finalNorm
        self.lmHead = lmHead
    }

    public init(config c: DecoderConfig, seed: UInt64) {
        // Tensors are named first and drawn afterwards, in parallel: each has its own stream, so the
        // order of drawing cannot change a value.
        var requests: [(name: String, rows: Int, cols: Int, std: Double)] = []
        func normal(_ name: String, _ rows: Int, _ cols: Int, std: Double) -> Int {
            requests.append((name, rows, cols, std))
            return requests.count - 1
        }
        let d = c.dModel, a = c.attention
        let residualScale = 1 / Double(2 * c.layers).squareRoot()
        let sharing = c.weightSharing
        let embeddingIndex = normal("embedding", c.vocab, d, std: 1)
        let attentionIndices = (0..<sharing.attentionSets(layers: c.layers)).map { l in
            let producer = c.attentionSetHasKV(l)
            let std = 1 / Double(d).squareRoot()
            return (
                wq: normal("layer\(l).wq", a.qElements, d, std: std),
                wk: producer ? normal("layer\(l).wk", a.kvElements, d, std: std) : nil,
                wv: producer ? normal("layer\(l).wv", a.kvElements, d, std: std) : nil,
                wo: normal("layer\(l).wo", d, a.qElements, std: residualScale / Double(a.qElements).squareRoot())
            )
        }
        let ffnIndices = (0..<sharing.ffnSets(layers: c.layers)).map { l in
            (w1: normal("layer\(l).w1", c.ffn, d, std: 1 / Double(d).squareRoot()),
             w3: normal("layer\(l).w3", c.ffn, d, std: 1 / Double(d).squareRoot()),
             w2: normal("layer\(l).w2", d, c.ffn, std: residualScale / Double(c.ffn).squareRoot()))
        }
        let lmHeadIndex = c.tiedEmbeddings ? nil : normal("lm_head", c.vocab, d, std: 1 / Double(d).squareRoot())

        let tensors = Self.draw(requests, seed: seed)
        let ones = [Float](repeating: 1, count: d)
        embedding = tensors[embeddingIndex]
        attention = attentionIndices.map {
            AttentionWeights(norm: ones, wq: tensors[$0.wq], wk: $0.wk.map { tensors[$0] },
                             wv: $0.wv.map { tensors[$0] }, wo: tensors[$0.wo])
        }
        ffn = ffnIndices.map { FFNWeights(norm: ones, w1: tensors[$0.w1], w3: tensors[$0.w3], w2: tensors[$0.w2]) }
        finalNorm = ones
        lmHead = lmHeadIndex.map { tensors[$0] }
    }

    /// Draws every requested tensor from its own stream, spread over the cores.
    private static func draw(_ requests: [(name: String, rows: Int, cols: Int, std: Double)], seed: UInt64) -> [WeightMatrix] {
        let results = TensorSlots(count: requests.count)
        Parallel.forEach(requests.count) { i in
            var rng = SplitMix64(seed: seed, stream: requests[i].name)
            var w = [Float](repeating: 0, count: requests[i].rows * requests[i].cols)
            rng.fillNormal(&w, std: requests[i].std)
            results.set(i, w)
        }
        return zip(requests, results.values).map { WeightMatrix(rows: $0.rows, cols: $0.cols, floats: $1) }
    }

    /// Number of weight values the model holds (each matrix in its stored type), counted from the
    /// tensors themselves.
    public var storedElements: Int {
        embedding.elements + finalNorm.count + (lmHead?.elements ?? 0)
            + attention.reduce(0) { $0 + $1.norm.count + $1.wq.elements + ($1.wk?.elements ?? 0) + ($1.wv?.elements ?? 0) + $1.wo.elements }
            + ffn.reduce(0) { $0 + $1.norm.count + $1.w1.elements + $1.w3.elements + $1.w2.elements }
    }

    /// Bytes those values take as held: each matrix in its stored type, the norm vectors as Float32.
    public var storedBytes: Int {
        let floatBytes = MemoryLayout<Float>.size
        let norms = (finalNorm.count + attention.reduce(0) { $0 + $1.norm.count } + ffn.reduce(0) { $0 + $1.norm.count }) * floatBytes
        return norms + embedding.bytes + (lmHead?.bytes ?? 0)
            + attention.reduce(0) { $0 + $1.wq.bytes + ($1.wk?.bytes ?? 0) + ($1.wv?.bytes ?? 0) + $1.wo.bytes }
            + ffn.reduce(0) { $0 + $1.w1.bytes + $1.w3.bytes + $1.w2.bytes }
    }
}
