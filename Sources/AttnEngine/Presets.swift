/// A published model configuration, reproduced exactly (BRIEF §7.1, §7.4, §7.5).
public struct Preset: Sendable {
    public enum Model: Sendable {
        case decoder(DecoderConfig)
        case encoder(EncoderConfig)
    }

    public let name: String
    /// The name as its source prints it (`H128-MQA-CLA2-DenseBack`, `Llama 3 8B`).
    public let label: String
    public let model: Model
    /// Where the configuration comes from.
    public let source: String
    /// The validation perplexity the paper reports for this model (CLA paper rows only). A cited
    /// number: training is not something AttnLab can recompute.
    public let publishedValPerplexity: Double?
    /// The named K/V pattern the configuration uses (`none` for a plain model).
    public let kvPattern: KVPattern?

    public var decoder: DecoderConfig? { if case .decoder(let c) = model { c } else { nil } }
    public var encoder: EncoderConfig? { if case .encoder(let c) = model { c } else { nil } }
}

public enum Presets {
    public static let all: [Preset] = realDecoders + encoders + claTable1 + cla3B + minis

    public static func named(_ name: String) -> Preset? { all.first { $0.name == name.lowercased() } }

    /// Preset names closest to `name` (edit distance, then shared prefix), for "did you mean".
    public static func nearMatches(_ name: String, limit: Int = 3) -> [String] {
        let key = name.lowercased()
        func score(_ candidate: String) -> Int {
            let contains = candidate.hasPrefix(key) || candidate.contains(key)
            return editDistance(candidate, key) - (contains ? 100 : 0)
        }
        let scored: [(name: String, score: Int)] = all.map { ($0.name, score($0.name)) }
        let sorted = scored.sorted { $0.score != $1.score ? $0.score < $1.score : $0.name < $1.name }
        return sorted.prefix(limit).map(\.name)
    }

    // MARK: - Real decoders (their published configs)

    static let realDecoders: [Preset] = ([
        decoder("llama-2-7b", label: "Llama 2 7B", layers: 32, d: 4096, q: 32, kv: 32, ffn: 11008, vocab: 32000, rope: 10_000,
                source: "Llama 2 (Touvron et al. 2023), config.json of meta-llama/Llama-2-7b-hf"),
        decoder("llama-2-13b", label: "Llama 2 13B", layers: 40, d: 5120, q: 40, kv: 40, ffn: 13824, vocab: 32000, rope: 10_000,
                source: "Llama 2 (Touvron et al. 2023), config.json of meta-llama/Llama-2-13b-hf"),
        decoder("llama-2-70b", label: "Llama 2 70B", layers: 80, d: 8192, q: 64, kv: 8, ffn: 28672, vocab: 32000, rope: 10_000,
                source: "Llama 2 (Touvron et al. 2023), config.json of meta-llama/Llama-2-70b-hf"),
        decoder("llama-3-8b", label: "Llama 3 8B", layers: 32, d: 4096, q: 32, kv: 8, ffn: 14336, vocab: 128256, rope: 500_000,
                source: "Llama 3 (Meta 2024), config.json of meta-llama/Meta-Llama-3-8B"),
        decoder("llama-3-70b", label: "Llama 3 70B", layers: 80, d: 8192, q: 64, kv: 8, ffn: 28672, vocab: 128256, rope: 500_000,
                source: "Llama 3 (Meta 2024), config.json of meta-llama/Meta-Llama-3-70B"),
        decoder("mistral-7b", label: "Mistral 7B", layers: 32, d: 4096, q: 32, kv: 8, ffn: 14336, vocab: 32000, rope: 10_000,
                slidingWindow: 4096, source: "Mistral 7B (Jiang et al. 2023), config.json of mistralai/Mistral-7B-v0.1"),
    ] as [Preset?]).compactMap { $0 }

    // MARK: - BERT and ALBERT encoders (ALBERT paper Table 1; BERT's released vocabulary)

    static let encoders: [Preset] = ([
        encoder("bert-base", label: "BERT-base", layers: 12, H: 768, E: 768, vocab: 30522, sharing: .none,
                source: "BERT-base (Devlin et al. 2019), released 30,522-token vocabulary"),
        encoder("bert-large", label: "BERT-large", layers: 24, H: 1024, E: 1024, vocab: 30522, sharing: .none,
                source: "BERT-large (Devlin et al. 2019), released 30,522-token vocabulary"),
        encoder("albert-base", label: "ALBERT-base", layers: 12, H: 768, E: 128, vocab: 30000, sharing: .all,
                source: "ALBERT-base (Lan et al. 2019, Table 1)"),
        encoder("albert-large", label: "ALBERT-large", layers: 24, H: 1024, E: 128, vocab: 30000, sharing: .all,
                source: "ALBERT-large (Lan et al. 2019, Table 1)"),
        encoder("albert-xlarge", label: "ALBERT-xlarge", layers: 24, H: 2048, E: 128, vocab: 30000, sharing: .all,
                source: "ALBERT-xlarge (Lan et al. 2019, Table 1)"),
        encoder("albert-xxlarge", label: "ALBERT-xxlarge", layers: 12, H: 4096, E: 128, vocab: 30000, sharing: .all,
                source: "ALBERT-xxlarge (Lan et al. 2019, Table 1)"),
    ] as [Preset?]).compactMap { $0 }

    // MARK: - The CLA paper's 1B design space (Brandon et al. 2024, Table 1) and 3B models (Table 5)

    /// d_model 2048, FFN 5472, 20 layers. The paper trains with the GPT-NeoX tokenizer but does not
    /// give its embedding size; 50,277 (the tokenizer's size) is used, which only affects `params`.
    private typealias Row = (name: String, headDim: Int, q: Int, kv: Int, pattern: KVPattern, ppl: Double)

    static let claTable1: [Preset] = ([
        ("H128-MHA", 128, 16, 16, .none, 13.15),
        ("H128-GQA4", 128, 16, 4, .none, 13.36),
        ("H128-GQA2", 128, 16, 2, .none, 13.52),
        ("H128-MQA", 128, 16, 1, .none, 13.54),
        ("H64-MQA", 64, 32, 1, .none, 13.81),
        ("H46-MQA", 46, 45, 1, .none, 13.96),
        ("H32-MQA", 32, 64, 1, .none, 14.37),
        ("H512-MQA-CLA2", 512, 4, 1, .cla(2), 13.49),
        ("H256-MQA-CLA2", 256, 8, 1, .cla(2), 13.51),
        ("H128-MQA-CLA2", 128, 16, 1, .cla(2), 13.60),
        ("H90-MQA-CLA2", 90, 22, 1, .cla(2), 13.73),
        ("H64-MQA-CLA2", 64, 32, 1, .cla(2), 13.89),
        ("H256-GQA4-CLA2", 256, 8, 4, .cla(2), 13.38),
        ("H128-GQA4-CLA2", 128, 16, 4, .cla(2), 13.48),
        ("H128-GQA2-CLA2", 128, 16, 2, .cla(2), 13.59),
        ("H128-MQA-CLA3", 128, 16, 1, .cla(3), 13.77),
        ("H128-MQA-CLA4", 128, 16, 1, .cla(4), 13.95),
        ("H128-MQA-CLA2-KeepEnds", 128, 16, 1, .keepEnds, 13.62),
        ("H128-MQA-CLA2-DenseFront", 128, 16, 1, .denseFront, 13.75),
        ("H128-MQA-CLA2-DenseBack", 128, 16, 1, .denseBack, 14.03),
    ] as [Row]).compactMap { row in
        claModel("cla1b-" + row.0.lowercased(), label: row.0, layers: 20, d: 2048, ffn: 5472, headDim: row.1, q: row.2, kv: row.3,
                 pattern: row.4, ppl: row.5, source: "CLA paper (Brandon et al. 2024), Table 1: \(row.0), 1B, LR 3e-4")
    }

    /// d_model 3072, FFN 8192, 32 layers, tuned learning rates (Table 5).
    static let cla3B: [Preset] = ([
        ("H128-MQA", 128, 24, 1, .none, 9.52),
        ("H128-MQA-CLA2", 128, 24, 1, .cla(2), 9.34),
        ("H64-MQA", 64, 48, 1, .none, 9.48),
    ] as [Row]).compactMap { row in
        claModel("cla3b-" + row.0.lowercased(), label: row.0 + " (3B)", layers: 32, d: 3072, ffn: 8192, headDim: row.1, q: row.2, kv: row.3,
                 pattern: row.4, ppl: row.5, source: "CLA paper (Brandon et al. 2024), Table 5: \(row.0), 3B, tuned LR")
    }

    // MARK: - The study models: the CLA design space and ALBERT sharing in miniature, trained here

    /// d_model 128, 6 layers, FFN 352 (`llamaFFN`), 1,024-token BPE: the CLA paper's Table 1 scaled
    /// down 16× in width so `attnlab study` trains each on two cores in minutes. The paper's H128 at
    /// d_model 2048 (16 query heads) becomes H32 here (4 heads); the other head sizes scale with it.
    private typealias MiniRow = (name: String, label: String, headDim: Int, q: Int, kv: Int, pattern: KVPattern, sharing: WeightSharing)

    static let minis: [Preset] = ([
        ("mini-mha", "H32-MHA", 32, 4, 4, .none, .none),
        ("mini-gqa2", "H32-GQA2", 32, 4, 2, .none, .none),
        ("mini-mqa", "H32-MQA", 32, 4, 1, .none, .none),
        ("mini-h16-mqa", "H16-MQA", 16, 8, 1, .none, .none),
        ("mini-mqa-cla2", "H32-MQA-CLA2", 32, 4, 1, .cla(2), .none),
        ("mini-h64-mqa-cla2", "H64-MQA-CLA2", 64, 2, 1, .cla(2), .none),
        ("mini-mqa-cla3", "H32-MQA-CLA3", 32, 4, 1, .cla(3), .none),
        ("mini-mqa-cla2-keepends", "H32-MQA-CLA2-KeepEnds", 32, 4, 1, .keepEnds, .none),
        ("mini-mqa-cla2-densefront", "H32-MQA-CLA2-DenseFront", 32, 4, 1, .denseFront, .none),
        ("mini-mqa-cla2-denseback", "H32-MQA-CLA2-DenseBack", 32, 4, 1, .denseBack, .none),
        ("mini-shared-all", "H32-MHA, all weights shared", 32, 4, 4, .none, .all),
        ("mini-shared-attention", "H32-MHA, attention shared", 32, 4, 4, .none, .attention),
        ("mini-shared-ffn", "H32-MHA, FFN shared", 32, 4, 4, .none, .ffn),
    ] as [MiniRow]).compactMap { row in
        guard let config = try? DecoderConfig(
            layers: 6, dModel: 128, attention: AttentionLayout(qHeads: row.q, kvHeads: row.kv, headDim: row.headDim),
            ffn: DecoderConfig.llamaFFN(dModel: 128), vocab: 1024, kvMap: row.pattern.map(layers: 6), weightSharing: row.sharing) else { return nil }
        return Preset(name: row.name, label: row.label, model: .decoder(config),
                      source: "AttnLab's study model: the CLA paper's Table 1 (Brandon et al. 2024) and ALBERT's sharing (Lan et al. 2019) at d_model 128, 6 layers",
                      publishedValPerplexity: nil, kvPattern: row.pattern)
    }

    // MARK: - Builders
    // The tables above are constants checked by the tests (every row becomes a preset, with the
    // published parameter counts); a row that did not describe a valid model would be left out, not
    // trap, and those tests would fail.

    private static func decoder(_ name: String, label: String, layers: Int, d: Int, q: Int, kv: Int, ffn: Int, vocab: Int,
                                rope: Double, slidingWindow: Int? = nil, source: String) -> Preset? {
        guard let config = try? DecoderConfig(
            layers: layers, dModel: d, attention: AttentionLayout(qHeads: q, kvHeads: kv, headDim: d / q),
            ffn: ffn, vocab: vocab, ropeBase: rope, slidingWindow: slidingWindow) else { return nil }
        return Preset(name: name, label: label, model: .decoder(config), source: source, publishedValPerplexity: nil, kvPattern: KVPattern.none)
    }

    private static func claModel(_ name: String, label: String, layers: Int, d: Int, ffn: Int, headDim: Int, q: Int, kv: Int,
                                 pattern: KVPattern, ppl: Double, source: String) -> Preset? {
        guard let config = try? DecoderConfig(
            layers: layers, dModel: d, attention: AttentionLayout(qHeads: q, kvHeads: kv, headDim: headDim),
            ffn: ffn, vocab: 50277, kvMap: pattern.map(layers: layers)) else { return nil }
        return Preset(name: name, label: label, model: .decoder(config), source: source, publishedValPerplexity: ppl, kvPattern: pattern)
    }

    private static func encoder(_ name: String, label: String, layers: Int, H: Int, E: Int, vocab: Int, sharing: WeightSharing,
                                source: String) -> Preset? {
        guard let config = try? EncoderConfig(layers: layers, hidden: H, embedding: E, vocab: vocab, weightSharing: sharing) else { return nil }
        return Preset(name: name, label: label, model: .encoder(config), source: source, publishedValPerplexity: nil, kvPattern: nil)
    }
}

/// Levenshtein distance, for suggestions.
public func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    if a.isEmpty { return b.count }
    var previous = Array(0...b.count)
    for i in 1...a.count {
        var current = [i] + Array(repeating: 0, count: b.count)
        for j in stride(from: 1, through: b.count, by: 1) {
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        previous = current
    }
    return previous[b.count]
}
