/// What the engine agrees to hold in memory. Real 7B–70B models are for the calculators (`kv`,
/// `params`); the decoder simulates small models.
public enum Limits {
    /// Model weights, in Float32 values (1 GiB).
    public static let maxModelElements = 1 << 28
    /// K/V cache, in Float32 values (1 GiB).
    public static let maxCacheElements = 1 << 28
    /// Positions a decode may reach (RoPE table and cache rows).
    public static let maxTokens = 1 << 16

    /// Checks that a decoder of `config` with `tokens` cache rows fits the limits.
    /// - Parameter field: the flag that chose the model's size, for the error.
    public static func check(_ config: DecoderConfig, tokens: Int, field: String) throws(ConfigError) {
        let params = config.paramCount.total
        guard params <= maxModelElements else {
            throw ConfigError(field, "the model has \(params) parameters (\(params / (1 << 18)) MiB as Float32), above the simulator's limit of \(maxModelElements) (1 GiB); `attnlab kv` and `attnlab params` handle full-size models")
        }
        guard tokens <= maxTokens else {
            throw ConfigError("--tokens", "prompt + generated tokens = \(tokens), above the simulator's limit of \(maxTokens)")
        }
        let cache = 2 * config.kvMap.kvLayers * config.attention.kvElements * tokens
        guard cache <= maxCacheElements else {
            throw ConfigError("--tokens", "the cache would hold \(cache) values, above the simulator's limit of \(maxCacheElements) (1 GiB)")
        }
    }
}
