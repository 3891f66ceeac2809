/// What the engine agrees to hold in memory. Real 7B–70B models are for the calculators (`kv`,
/// `params`); the decoder simulates small models.
public enum Limits {
    /// Sizes any configuration may have. They keep every product of sizes (parameters, bytes per
    /// token, cache bytes before the context is applied) far inside 64-bit integers.
    public static let maxLayers = 1 << 12
    public static let maxDModel = 1 << 20
    public static let maxHeads = 1 << 14
    public static let maxHeadDim = 1 << 16
    public static let maxFFN = 1 << 22
    public static let maxVocab = 1 << 24

    /// Model weights, in Float32 values (1 GiB).
    public static let maxModelElements = 1 << 28
    /// K/V cache, in Float32 values (1 GiB).
    public static let maxCacheElements = 1 << 28
    /// Positions a decode may reach (RoPE table and cache rows).
    public static let maxTokens = 1 << 16

    /// Sequence length N and head dimension d of a simulated attention problem.
    public static let maxTileN = 1 << 16
    public static let maxTileD = 1 << 12
    /// SRAM capacity M of the memory model, in elements (16 GiB of fp32, thousands of times any
    /// chip's): block sizes and working sets derived from it stay far inside 64-bit integers.
    public static let maxSramElements = 1 << 32
    /// Runs of one benchmark measurement.
    public static let maxRepeats = 1_000

    /// The largest value a size input may take, nil for inputs that are not sizes: the one table every
    /// reader (model, decode, tile, bench) checks a number against before any arithmetic uses it.
    public static func maximum(_ field: Field) -> Int? {
        switch field {
        case .layers, .cla: maxLayers
        case .dModel, .embedding: maxDModel
        case .qHeads, .kvHeads: maxHeads
        case .headDim: maxHeadDim
        case .ffn: maxFFN
        case .vocab: maxVocab
        case .tokens, .promptTokens, .evalWindow, .window, .kvBudget: maxTokens
        case .n: maxTileN
        case .d: maxTileD
        case .sramElements, .sram: maxSramElements
        case .repeats: maxRepeats
        default: nil
        }
    }

    /// Throws unless `value` is in 1...`maximum(field)`.
    /// - Parameter reported: the input the value came from when it is not `field` itself (a sweep's
    ///   `values` standing for N or M).
    public static func require(_ value: Int, _ field: Field, reportedAs reported: Field? = nil) throws(ConfigError) {
        try ConfigError.requireSize(value, atMost: maximum(field) ?? Int.max, reported ?? field)
    }

    /// Checks that a decoder of `config` with `tokens` cache rows fits the limits.
    /// - Parameter sizeFields: the inputs that chose the model's size, for the error.
    public static func check(_ config: DecoderConfig, tokens: Int, sizeFields: [Field]) throws(ConfigError) {
        let params = config.paramCount.total
        guard params <= maxModelElements else {
            throw ConfigError(.fields(sizeFields), "the model has \(params) parameters (\(params / (1 << 18)) MiB as Float32), above the simulator's limit of \(maxModelElements) (1 GiB); `attnlab kv` and `attnlab params` handle full-size models")
        }
        guard tokens <= maxTokens else {
            throw ConfigError(.tokens, "prompt + generated tokens = \(tokens), above the simulator's limit of \(maxTokens)")
        }
        let cache = 2 * config.kvMap.kvLayers * config.attention.kvElements * tokens
        guard cache <= maxCacheElements else {
            throw ConfigError(.tokens, "the cache would hold \(cache) values, above the simulator's limit of \(maxCacheElements) (1 GiB)")
        }
    }
}
