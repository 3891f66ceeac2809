import AttnEngine
import AttnModels

/// The model flags every action shares. A `preset` gives all of them; any flag given next to it
/// overrides that one field (`preset: llama-3-8b, cla: 2` asks what CLA2 would do to Llama 3).
/// `pretrained` loads a GGUF model instead of drawing random weights; the K/V flags then retrofit it.
public struct ModelSpec: Sendable, Hashable {
    public var preset: String?
    public var pretrained: String?
    public var modelsDir: String?
    public var layers: Int?
    public var dModel: Int?
    public var qHeads: Int?
    public var kvHeads: Int?
    public var headDim: Int?
    public var ffn: Int?
    public var vocab: Int?
    public var cla: Int?
    public var kvPattern: String?
    public var kvMap: String?
    public var shareWeights = false
    public var weightSharing: WeightSharing?
    /// Sliding-window attention in tokens (`--window`); a preset keeps its own (Mistral 7B: 4,096) unless given.
    public var window: Int?

    public init() {}

    /// Reads the shared model flags (`preset`, `model`, `layers`, `d-model`, …).
    public init(_ r: inout FlagReader) throws(ConfigError) {
        preset = try r.string(.preset)
        pretrained = try r.string(.model)
        modelsDir = try r.string(.modelsDir)
        layers = try r.int(.layers)
        dModel = try r.int(.dModel)
        qHeads = try r.int(.qHeads)
        kvHeads = try r.int(.kvHeads)
        headDim = try r.int(.headDim)
        ffn = try r.int(.ffn)
        vocab = try r.int(.vocab)
        cla = try r.int(.cla)
        kvPattern = try r.string(.kvPattern)
        kvMap = try r.string(.kvMap)
        shareWeights = try r.flag(.shareWeights)
        weightSharing = try r.choice(.weightSharing)
        window = try r.int(.window)
    }

    /// The K/V pattern the flags ask for, if any (at most one of --cla, --kv-pattern, --kv-map), with
    /// the flag that gave it.
    public func pattern() throws(ConfigError) -> (KVPattern, Field)? {
        let given = [cla != nil, kvPattern != nil, kvMap != nil].filter { $0 }.count
        guard given <= 1 else { throw ConfigError(.fields([.cla, .kvPattern, .kvMap]), "give at most one of them") }
        if let cla {
            guard cla > 0 else { throw ConfigError(.cla, "the sharing factor must be positive, got \(cla)") }
            return (.cla(cla), .cla)
        }
        if let kvPattern { return (try KVPattern.parse(kvPattern), .kvPattern) }
        if let kvMap {
            let p = try KVPattern.parse(kvMap, field: .kvMap)
            guard case .explicit = p else { throw ConfigError(.kvMap, "expects a comma-separated list such as 0,0,2,2; use --kv-pattern for named patterns") }
            return (p, .kvMap)
        }
        return nil
    }

    /// The weight sharing asked for (`share-weights` is `weight-sharing: all`), nil for the default.
    public func sharing() throws(ConfigError) -> WeightSharing? {
        if let weightSharing {
            if shareWeights && weightSharing != .all { throw ConfigError(.shareWeights, "contradicts --weight-sharing \(weightSharing.rawValue)") }
            return weightSharing
        }
        return shareWeights ? .all : nil
    }

    /// The named preset, or an error listing the nearest names.
    public func namedPreset() throws(ConfigError) -> Preset? {
        guard let preset else { return nil }
        guard let p = Presets.named(preset) else {
            throw ConfigError(.preset, "unknown preset '\(preset)'; did you mean \(Presets.nearMatches(preset).joined(separator: ", "))? (`attnlab presets` lists all)")
        }
        return p
    }

    /// The decoder these flags describe.
    public func decoderConfig() throws(ConfigError) -> DecoderConfig {
        if let pretrained {
            return try retrofitted(try ModelStore.config(of: pretrained, directory: ModelStore.directory(modelsDir)))
        }
        let base = try namedPreset()
        if let base, base.decoder == nil {
            throw ConfigError(.preset, "'\(base.name)' is an encoder (BERT/ALBERT); this command needs a decoder")
        }
        let b = base?.decoder
        let layers = self.layers ?? b?.layers ?? 4
        let dModel = self.dModel ?? b?.dModel ?? 64
        let qHeads = self.qHeads ?? b?.attention.qHeads ?? 4
        let kvHeads = self.kvHeads ?? (self.qHeads == nil ? b?.attention.kvHeads : nil) ?? qHeads
        // Checked before anything is derived from them, so an error names the flag that was given.
        try Limits.require(layers, .layers)
        try Limits.require(dModel, .dModel)
        try Limits.require(qHeads, .qHeads)
        let presetHeadDim = self.qHeads == nil && self.dModel == nil ? b?.attention.headDim : nil
        if self.headDim == nil && presetHeadDim == nil && dModel % qHeads != 0 {
            throw ConfigError(.qHeads, "d_model \(dModel) is not divisible by \(qHeads) query heads; give --head-dim")
        }
        let headDim = self.headDim ?? presetHeadDim ?? dModel / qHeads
        let layout = try AttentionLayout(qHeads: qHeads, kvHeads: kvHeads, headDim: headDim)
        let kvMap: KVSourceMap
        if let (p, field) = try pattern() {
            kvMap = try p.map(layers: layers, field: field)
        } else if let base, let b, let p = base.kvPattern {
            // A preset's named pattern follows a --layers override (CLA2 stays CLA2).
            kvMap = b.layers == layers ? b.kvMap : try p.map(layers: layers, field: .layers)
        } else {
            kvMap = .unshared(layers: layers)
        }
        return try DecoderConfig(
            layers: layers, dModel: dModel, attention: layout,
            ffn: ffn ?? (self.dModel == nil ? b?.ffn : nil) ?? DecoderConfig.llamaFFN(dModel: dModel),
            vocab: vocab ?? b?.vocab ?? CharVocabulary.count,
            kvMap: kvMap, weightSharing: try sharing() ?? b?.weightSharing ?? .none,
            tiedEmbeddings: b?.tiedEmbeddings ?? false, ropeBase: b?.ropeBase ?? 10_000,
            slidingWindow: window ?? b?.slidingWindow)
    }

    /// The pretrained model's config with the K/V flags applied as a retrofit (or as it is without them).
    public func retrofitted(_ base: DecoderConfig) throws(ConfigError) -> DecoderConfig {
        let shapeFields: [(Field, Bool)] = [
            (.preset, preset != nil), (.layers, layers != nil), (.dModel, dModel != nil), (.qHeads, qHeads != nil),
            (.headDim, headDim != nil), (.ffn, ffn != nil), (.vocab, vocab != nil),
            (.shareWeights, shareWeights), (.weightSharing, weightSharing != nil),
        ]
        if let (field, _) = shapeFields.first(where: \.1) {
            throw ConfigError(.fields([field, .model]), "cannot be combined: the model file sets the shape (only kv-heads, cla, kv-pattern and kv-map retrofit it)")
        }
        let pattern = try pattern()
        // A window on a model trained without one: every token's attention is cut to its last W keys.
        let windowed = try window.map { w throws(ConfigError) in try base.withSlidingWindow(w) } ?? base
        guard kvHeads != nil || pattern != nil else { return windowed }
        let kvMap = try pattern.map { (p, field) throws(ConfigError) in try p.map(layers: base.layers, field: field) } ?? base.kvMap
        return try Retrofit.config(windowed, kvHeads: kvHeads ?? base.attention.kvHeads, kvMap: kvMap, field: kvHeads != nil ? .kvHeads : pattern!.1)
    }

    /// The model to run: the pretrained one (retrofitted as the flags say) with its tokenizer, or
    /// seeded random weights with the built-in characters. Its size is checked against the limits for
    /// `tokens` cache rows before any weight is drawn, and the model file is read once.
    public func load(seed: UInt64, tokens: Int) throws(ConfigError) -> LoadedModel {
        guard let pretrained else {
            let config = try decoderConfig()
            try Limits.check(config, tokens: tokens, sizeFields: sizeFields)
            return LoadedModel(config: config, weights: DecoderWeights(config: config, seed: seed), vocabulary: CharVocabulary(modelVocab: config.vocab), name: nil, endToken: nil)
        }
        let model = try ModelStore.load(pretrained, directory: ModelStore.directory(modelsDir))
        let config = try retrofitted(model.config)
        try Limits.check(config, tokens: tokens, sizeFields: sizeFields)
        let weights = (try? config.withSlidingWindow(model.config.slidingWindow)) == model.config ? model.weights : Retrofit.weights(model.weights, from: model.config, to: config)
        return LoadedModel(config: config, weights: weights, vocabulary: model.tokenizer, name: model.name, endToken: model.eosToken,
                           chatTemplate: model.chatTemplate)
    }

    /// The inputs that chose the model's size, for limit errors.
    public var sizeFields: [Field] { pretrained != nil ? [.model] : preset != nil ? [.preset] : [.layers, .dModel] }

    /// The model's name in headings: the pretrained model, else the preset, else nil.
    public var name: String? { (pretrained ?? preset).map { $0.lowercased() } }
}

/// A model ready to decode.
public struct LoadedModel {
    public let config: DecoderConfig
    public let weights: DecoderWeights
    public let vocabulary: any Vocabulary
    /// The pretrained model's name, nil for random weights.
    public let name: String?
    /// The token that ends a turn (generation stops there), for pretrained models.
    public let endToken: Int?
    /// How a chat model wants a user's turn wrapped, nil for models without one.
    public var chatTemplate: ChatTemplate? = nil
}
