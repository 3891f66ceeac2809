import AttnEngine
import AttnTrace

/// Exact parameter counts, part by part, of a decoder or a BERT/ALBERT encoder (`attnlab params`).
public struct ParamsExperiment: Experiment {
    public var model = ModelSpec()
    /// Count a BERT-style encoder instead of a decoder.
    public var encoder = false
    /// The encoder's embedding size E (ALBERT's factorization); nil for E = H.
    public var embedding: Int?

    public init() {}

    public init(_ r: inout FlagReader) throws(ConfigError) {
        model = try ModelSpec(&r)
        encoder = try r.flag(.encoder)
        embedding = try r.int(.embedding)
    }

    public func validate() throws { _ = try run() }

    public func run() throws(ConfigError) -> ParamsResult {
        let preset = try model.namedPreset()
        if encoder, let preset, preset.encoder == nil {
            throw ConfigError(.fields([.preset, .encoder]), "'\(preset.name)' is a decoder; drop --encoder, or name an encoder preset (bert-base, albert-base, …)")
        }
        if encoder || preset?.encoder != nil {
            // A BERT/ALBERT encoder has one K/V head per query head, every layer its own K/V and no
            // model file: these inputs would be dropped without a word.
            let decoderOnly: [(Field, Bool)] = [
                (.model, model.pretrained != nil), (.kvHeads, model.kvHeads != nil), (.headDim, model.headDim != nil),
                (.cla, model.cla != nil), (.kvPattern, model.kvPattern != nil), (.kvMap, model.kvMap != nil),
            ]
            if let (field, _) = decoderOnly.first(where: \.1) {
                throw ConfigError(.fields([encoder ? .encoder : .preset, field]), "cannot be combined: K/V layouts and model files apply to decoders, and this counts a BERT-style encoder")
            }
            let b = preset?.encoder
            let hidden = model.dModel ?? b?.hidden ?? 768
            let config = try EncoderConfig(
                layers: model.layers ?? b?.layers ?? 12, hidden: hidden,
                embedding: embedding ?? (model.dModel == nil ? b?.embedding : nil) ?? hidden,
                heads: model.qHeads ?? b?.heads, ffn: model.ffn ?? (model.dModel == nil ? b?.ffn : nil),
                vocab: model.vocab ?? b?.vocab ?? 30522,
                weightSharing: try model.sharing() ?? b?.weightSharing ?? .none)
            let title = (preset?.name ?? "encoder") + ": \(config.layers) layers, H \(config.hidden), E \(config.embedding), FFN \(config.ffn), vocab \(config.vocab), weight sharing \(config.weightSharing.rawValue)"
            return ParamsResult(title: title, count: config.paramCount)
        }
        guard embedding == nil else { throw ConfigError(.embedding, "applies to encoders; add --encoder") }
        let config = try model.decoderConfig()
        let a = config.attention
        let title = (model.pretrained ?? preset?.name ?? "decoder") + ": \(config.layers) layers, d_model \(config.dModel), \(a.qHeads) query / \(a.kvHeads) KV heads × \(a.headDim), FFN \(config.ffn), vocab \(config.vocab), W_K/W_V in \(config.kvMap.kvLayers) of \(config.layers) layers, weight sharing \(config.weightSharing.rawValue)"
        return ParamsResult(title: title, count: config.paramCount)
    }
}

public struct ParamsResult: ExperimentOutput {
    /// The model and its shape, in one line.
    public let title: String
    public let count: ParamCount

    public static let valueNames = ValueNames(numbers: ["total_params", "breakdown.*"], texts: ["model"])

    public var json: JSON {
        .object([("model", .string(title)), ("total_params", .int(count.total)),
                 ("breakdown", .object(count.parts.map { ($0.name, JSON.int($0.params)) }))])
    }
}
