/// A Llama-style decoder: embedding → L × [RMSNorm → attention → residual → RMSNorm → SwiGLU → residual]
/// → RMSNorm → LM head, with RoPE on queries and keys.
public struct DecoderConfig: Equatable, Hashable, Sendable {
    public let layers: Int
    public let dModel: Int
    public let attention: AttentionLayout
    /// Hidden width of the SwiGLU FFN (rows of W1 and W3).
    public let ffn: Int
    public let vocab: Int
    public let kvMap: KVSourceMap
    public let weightSharing: WeightSharing
    /// Whether the LM head reuses the token embedding (Llama 2/3 do not; many small models do).
    public let tiedEmbeddings: Bool
    public let ropeBase: Double
    public let normEps: Float
    /// Sliding-window attention (Mistral 7B: 4,096): each token attends to itself and the `W − 1`
    /// tokens before it, so a cache needs only the last W tokens (a rolling buffer). nil: full causal.
    public let slidingWindow: Int?

    public init(
        layers: Int, dModel: Int, attention: AttentionLayout, ffn: Int, vocab: Int,
        kvMap: KVSourceMap? = nil, weightSharing: WeightSharing = .none, tiedEmbeddings: Bool = false,
        ropeBase: Double = 10_000, normEps: Float = 1e-5, slidingWindow: Int? = nil
    ) throws(ConfigError) {
        if let w = slidingWindow { try Limits.require(w, .window) }
        try Limits.require(layers, .layers)
        try Limits.require(dModel, .dModel)
        try Limits.require(ffn, .ffn)
        try Limits.require(vocab, .vocab)
        guard attention.headDim % 2 == 0 else {
            throw ConfigError(.headDim, "must be even for RoPE (it rotates pairs of dimensions), got \(attention.headDim)")
        }
        let map = kvMap ?? .unshared(layers: layers)
        guard map.layers == layers else {
            throw ConfigError(.kvMap, "has \(map.layers) entries but the model has \(layers) layers")
        }
        self.layers = layers
        self.dModel = dModel
        self.attention = attention
        self.ffn = ffn
        self.vocab = vocab
        self.kvMap = map
        self.weightSharing = weightSharing
        self.tiedEmbeddings = tiedEmbeddings
        self.ropeBase = ropeBase
        self.normEps = normEps
        self.slidingWindow = slidingWindow
    }

    /// The attention mask of this architecture: causal, or causal within the sliding window.
    public var mask: AttentionMask { slidingWindow.map { .slidingWindow($0) } ?? .causal }

    /// Tokens one producer layer caches after `context` tokens: min(context, window).
    public func cachedTokens(context: Int) -> Int { slidingWindow.map { min(context, $0) } ?? context }

    /// The same model with another sliding window (nil: none).
    public func withSlidingWindow(_ window: Int?) throws(ConfigError) -> DecoderConfig {
        try DecoderConfig(layers: layers, dModel: dModel, attention: attention, ffn: ffn, vocab: vocab, kvMap: kvMap,
                          weightSharing: weightSharing, tiedEmbeddings: tiedEmbeddings, ropeBase: ropeBase, normEps: normEps,
                          slidingWindow: window)
    }

    /// Whether attention weight set `set` has W_K and W_V: a shared set always does (layer 0 produces),
    /// an unshared one when its layer is a producer.
    public func attentionSetHasKV(_ set: Int) -> Bool {
        weightSharing.attentionSets(layers: layers) == 1 || kvMap.isProducer(set)
    }

    /// Llama's FFN width rule, `floor(8/3 · d_model)` rounded up to a multiple: 11008 for d_model
    /// 4096 with Llama's multiple 256. Small models here use a multiple of 32 (192 for d_model 64).
    public static func llamaFFN(dModel: Int, multiple: Int = 32) -> Int {
        let raw = 8 * dModel / 3
        return ((raw + multiple - 1) / multiple) * multiple
    }

    /// A name in the CLA paper's style: `H128-MQA-CLA2`, `H64-GQA4`; another K/V map shows as
    /// `KV11of20`, weight sharing as `shared-all`.
    public var layoutName: String {
        let a = attention
        var name = "H\(a.headDim)-" + (a.kvHeads == a.qHeads ? "MHA" : a.kvHeads == 1 ? "MQA" : "GQA\(a.kvHeads)")
        if kvMap.kvLayers < layers {
            let s = (2...layers).first { (try? KVPattern.cla($0).map(layers: layers)) == kvMap }
            name += s.map { "-CLA\($0)" } ?? "-KV\(kvMap.kvLayers)of\(layers)"
        }
        if weightSharing != .none { name += "-shared-\(weightSharing.rawValue)" }
        if let w = slidingWindow { name += "-SW\(w)" }
        return name
    }
}
