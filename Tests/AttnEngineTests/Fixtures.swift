import AttnEngine

/// Small models for tests: big enough to have several groups and layers, small enough for the
/// float64 reference.
func smallConfig(
    layers: Int = 4, dModel: Int = 32, qHeads: Int = 4, kvHeads: Int = 4, headDim: Int = 8,
    pattern: KVPattern = .none, sharing: WeightSharing = .none
) throws -> DecoderConfig {
    try DecoderConfig(
        layers: layers, dModel: dModel,
        attention: AttentionLayout(qHeads: qHeads, kvHeads: kvHeads, headDim: headDim),
        ffn: 48, vocab: CharVocabulary.count, kvMap: pattern.map(layers: layers), weightSharing: sharing)
}

/// Decodes greedily and returns the run and the weights used.
func decode(_ config: DecoderConfig, prompt: String = "the cat", tokens: Int = 6, seed: UInt64 = 7,
            dtype: DType = .fp32, detail: RecordDetail = .summary, weights: DecoderWeights? = nil) throws -> (DecodeResult, DecoderWeights) {
    let w = weights ?? DecoderWeights(config: config, seed: seed)
    let ids = try CharVocabulary.encode(prompt, vocab: config.vocab)
    let decoder = Decoder(config: config, weights: w, capacityTokens: ids.count + tokens - 1, cacheDType: dtype)
    var sampler = Sampler(temperature: 0, seed: seed)
    return (decoder.generate(prompt: ids, tokens: tokens, sampler: &sampler, detail: detail), w)
}

func maxAbsDiff(_ a: [Float], _ b: [Float]) -> Float {
    zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
}
