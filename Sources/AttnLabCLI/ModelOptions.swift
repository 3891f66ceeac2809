import ArgumentParser
import AttnEngine

/// The model flags every verb shares. A `--preset` gives all of them; any flag given next to it
/// overrides that one field (e.g. `--preset llama-3-8b --cla 2` asks what CLA2 would do to Llama 3).
struct ModelOptions: ParsableArguments {
    @Option(help: "A published configuration (see `attnlab presets`), e.g. llama-3-8b, cla1b-h128-mqa-cla2.")
    var preset: String?

    @Option(help: "Number of transformer layers L. (default: 4)")
    var layers: Int?

    @Option(name: .customLong("d-model"), help: "Model (residual stream) width. (default: 64)")
    var dModel: Int?

    @Option(name: .customLong("q-heads"), help: "Query heads. (default: 4)")
    var qHeads: Int?

    @Option(name: .customLong("kv-heads"), help: "Key/value heads: = q-heads is MHA, 1 is MQA, between is GQA. (default: q-heads)")
    var kvHeads: Int?

    @Option(name: .customLong("head-dim"), help: "Width of one head. (default: d-model / q-heads)")
    var headDim: Int?

    @Option(help: "Hidden width of the SwiGLU FFN. (default: Llama's rule, 8/3·d-model rounded up to 32)")
    var ffn: Int?

    @Option(help: "Vocabulary size. (default: the \(CharVocabulary.count)-character built-in vocabulary)")
    var vocab: Int?

    @Option(help: "Cross-Layer Attention sharing factor S: groups of S layers share one K/V cache.")
    var cla: Int?

    @Option(name: .customLong("kv-pattern"), help: "A named layer → K/V map: none, cla:S, keep-ends, dense-front, dense-back.")
    var kvPattern: String?

    @Option(name: .customLong("kv-map"), help: "An explicit layer → K/V source list, e.g. 0,0,2,2 (layer l reads layer map[l]'s cache).")
    var kvMap: String?

    @Flag(name: .customLong("share-weights"), help: "ALBERT-style: every layer uses one set of weights (same as --weight-sharing all).")
    var shareWeights = false

    @Option(name: .customLong("weight-sharing"), help: "Cross-layer weight sharing: none, all, attention, ffn.")
    var weightSharing: String?

    /// The K/V pattern the flags ask for, if any (at most one of --cla, --kv-pattern, --kv-map).
    func pattern() throws(ConfigError) -> KVPattern? {
        let given = [cla != nil, kvPattern != nil, kvMap != nil].filter { $0 }.count
        guard given <= 1 else { throw ConfigError("--cla/--kv-pattern/--kv-map", "give at most one of them") }
        if let cla {
            guard cla > 0 else { throw ConfigError("--cla", "the sharing factor must be positive, got \(cla)") }
            return .cla(cla)
        }
        if let kvPattern { return try KVPattern.parse(kvPattern) }
        if let kvMap {
            let p = try KVPattern.parse(kvMap, field: "--kv-map")
            guard case .explicit = p else { throw ConfigError("--kv-map", "expects a comma-separated list such as 0,0,2,2; use --kv-pattern for named patterns") }
            return p
        }
        return nil
    }

    func sharing() throws(ConfigError) -> WeightSharing? {
        if let weightSharing {
            guard let s = WeightSharing(rawValue: weightSharing.lowercased()) else {
                throw ConfigError("--weight-sharing", "unknown value '\(weightSharing)' (expected none, all, attention or ffn)")
            }
            if shareWeights && s != .all { throw ConfigError("--share-weights", "contradicts --weight-sharing \(s.rawValue)") }
            return s
        }
        return shareWeights ? .all : nil
    }

    /// The named preset, or an error listing the nearest names.
    func namedPreset() throws(ConfigError) -> Preset? {
        guard let preset else { return nil }
        guard let p = Presets.named(preset) else {
            throw ConfigError("--preset", "unknown preset '\(preset)'; did you mean \(Presets.nearMatches(preset).joined(separator: ", "))? (`attnlab presets` lists all)")
        }
        return p
    }

    /// The decoder these flags describe.
    func decoderConfig() throws(ConfigError) -> DecoderConfig {
        let base = try namedPreset()
        if let base, base.decoder == nil {
            throw ConfigError("--preset", "'\(base.name)' is an encoder (BERT/ALBERT); this command needs a decoder")
        }
        let b = base?.decoder
        let layers = self.layers ?? b?.layers ?? 4
        let dModel = self.dModel ?? b?.dModel ?? 64
        let qHeads = self.qHeads ?? b?.attention.qHeads ?? 4
        let kvHeads = self.kvHeads ?? (self.qHeads == nil ? b?.attention.kvHeads : nil) ?? qHeads
        guard layers > 0 else { throw ConfigError("--layers", "must be positive, got \(layers)") }
        guard dModel > 0 else { throw ConfigError("--d-model", "must be positive, got \(dModel)") }
        guard qHeads > 0 else { throw ConfigError("--q-heads", "must be positive, got \(qHeads)") }
        let headDim = self.headDim ?? (self.qHeads == nil && self.dModel == nil ? b?.attention.headDim : nil) ?? dModel / qHeads
        guard self.headDim != nil || headDim > 0 else {
            throw ConfigError("--head-dim", "d-model \(dModel) / q-heads \(qHeads) is 0; give --head-dim")
        }
        let layout = try AttentionLayout(qHeads: qHeads, kvHeads: kvHeads, headDim: headDim)
        let kvMap: KVSourceMap
        if let p = try pattern() {
            kvMap = try p.map(layers: layers)
        } else if let b, b.layers == layers {
            kvMap = b.kvMap
        } else {
            kvMap = .unshared(layers: layers)
        }
        return try DecoderConfig(
            layers: layers, dModel: dModel, attention: layout,
            ffn: ffn ?? (self.dModel == nil ? b?.ffn : nil) ?? DecoderConfig.llamaFFN(dModel: dModel),
            vocab: vocab ?? b?.vocab ?? CharVocabulary.count,
            kvMap: kvMap, weightSharing: try sharing() ?? b?.weightSharing ?? .none,
            tiedEmbeddings: b?.tiedEmbeddings ?? false, ropeBase: b?.ropeBase ?? 10_000)
    }
}

extension DType: ExpressibleByArgument {}
extension RecordDetail: ExpressibleByArgument {}
