/// A parameter count with its parts, in the order they are reported.
public struct ParamCount: Equatable, Sendable {
    public let parts: [(name: String, params: Int)]

    public var total: Int { parts.reduce(0) { $0 + $1.params } }

    public static func == (a: ParamCount, b: ParamCount) -> Bool {
        a.parts.elementsEqual(b.parts) { $0.name == $1.name && $0.params == $1.params }
    }

    public subscript(name: String) -> Int? { parts.first { $0.name == name }?.params }
}

extension DecoderConfig {
    /// Parameters of this decoder, counted per part. Shared weight sets count once; CLA consumer
    /// layers have no W_K, W_V.
    public var paramCount: ParamCount {
        let d = dModel, a = attention
        var q = 0, k = 0, v = 0, o = 0, norms = d, ffnParams = 0
        for set in 0..<weightSharing.attentionSets(layers: layers) {
            let producer = attentionSetHasKV(set)
            q += d * a.qElements
            o += a.qElements * d
            if producer {
                k += d * a.kvElements
                v += d * a.kvElements
            }
            norms += d
        }
        for _ in 0..<weightSharing.ffnSets(layers: layers) {
            ffnParams += 3 * d * ffn
            norms += d
        }
        var parts: [(String, Int)] = [("embedding", vocab * d), ("attention_wq", q), ("attention_wk", k),
                                      ("attention_wv", v), ("attention_wo", o), ("ffn", ffnParams), ("norms", norms)]
        parts.append(("lm_head", tiedEmbeddings ? 0 : vocab * d))
        return ParamCount(parts: parts)
    }
}

/// A BERT/ALBERT-style encoder, for parameter counts (Devlin et al. 2019; Lan et al. 2019).
public struct EncoderConfig: Equatable, Sendable {
    public let layers: Int
    /// Hidden size H.
    public let hidden: Int
    /// Embedding size E (ALBERT factorizes V×H into V×E + E×H; BERT has E = H).
    public let embedding: Int
    public let heads: Int
    public let ffn: Int
    public let vocab: Int
    public let maxPositions: Int
    public let segments: Int
    public let weightSharing: WeightSharing

    public init(layers: Int, hidden: Int, embedding: Int? = nil, heads: Int? = nil, ffn: Int? = nil, vocab: Int,
                maxPositions: Int = 512, segments: Int = 2, weightSharing: WeightSharing = .none) throws(ConfigError) {
        try Limits.require(layers, .layers)
        try Limits.require(hidden, .dModel)
        try Limits.require(vocab, .vocab)
        let e = embedding ?? hidden
        try Limits.require(e, .embedding)
        try Limits.require(ffn ?? 4 * hidden, .ffn)
        self.layers = layers
        self.hidden = hidden
        self.embedding = e
        self.heads = heads ?? max(1, hidden / 64)
        self.ffn = ffn ?? 4 * hidden
        self.vocab = vocab
        self.maxPositions = maxPositions
        self.segments = segments
        self.weightSharing = weightSharing
    }

    /// Parameters per part. One encoder layer is `12H² + 13H` with FFN 4H: attention 4(H² + H) and
    /// its LayerNorm 2H, FFN 2·H·F + F + H and its LayerNorm 2H.
    public var paramCount: ParamCount {
        let H = hidden, E = embedding
        let attentionSet = 4 * (H * H + H) + 2 * H
        let ffnSet = H * ffn + ffn + ffn * H + H + 2 * H
        return ParamCount(parts: [
            ("embedding_word", vocab * E),
            ("embedding_position", maxPositions * E),
            ("embedding_segment", segments * E),
            ("embedding_layernorm", 2 * E),
            ("embedding_projection", E == H ? 0 : E * H + H),
            ("attention", weightSharing.attentionSets(layers: layers) * attentionSet),
            ("ffn", weightSharing.ffnSets(layers: layers) * ffnSet),
            ("pooler", H * H + H),
        ])
    }
}
