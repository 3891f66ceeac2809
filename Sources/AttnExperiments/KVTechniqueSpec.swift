import AttnEngine
import AttnTrace

/// The K/V-cache techniques a run asks for — quantized codes, a latent, eviction under a budget — as
/// `kv`, `decode`, `ppl` and lessons read them (`--kv-quant int4 --kv-group 32`, `--evict sinks
/// --kv-budget 512 --sinks 4`, `--kv-latent-rank 128`), checked against a model before anything runs.
public struct KVTechniqueSpec: Sendable, Hashable {
    /// `--kv-quant`: the code width.
    public enum Quant: String, CaseIterable, Sendable {
        case int8, int4, int2

        public var bits: Int {
            switch self {
            case .int8: 8
            case .int4: 4
            case .int2: 2
            }
        }
    }

    /// `--evict`: which tokens a cache over its budget drops.
    public enum Evict: String, CaseIterable, Sendable { case window, sinks, h2o }

    public var quant: Quant?
    /// Tokens per key scale and channels per value scale (default 32, KIVI's).
    public var group: Int?
    /// Quantize keys before RoPE (KVQuant).
    public var preRoPE = false
    public var latentRank: Int?
    public var evict: Evict?
    public var budget: Int?
    /// Attention sinks kept by `--evict sinks` (default 4, StreamingLLM's).
    public var sinks: Int?

    public static let defaultGroup = 32
    public static let defaultSinks = 4

    public init() {}

    public init(_ r: inout FlagReader) throws(ConfigError) {
        quant = try r.choice(.kvQuant)
        group = try r.int(.kvGroup)
        preRoPE = try r.flag(.kvQuantPreRope)
        latentRank = try r.int(.kvLatentRank)
        evict = try r.choice(.evict)
        budget = try r.int(.kvBudget)
        sinks = try r.int(.sinks)
    }

    /// Whether no technique is asked for: a plain cache that keeps every token.
    public var isEmpty: Bool { quant == nil && latentRank == nil && evict == nil }

    /// How the cache stores K/V for `config`, after every check of `check(_:)`.
    /// - Throws: `ConfigError` naming the flag at fault (see `check(_:)`).
    public func storage(for config: DecoderConfig) throws(ConfigError) -> KVStorage {
        try check(config)
        if let quant {
            return .quantized(try KVQuantization(bits: quant.bits, group: group ?? Self.defaultGroup, preRoPE: preRoPE,
                                                 headDim: config.attention.headDim))
        }
        if let latentRank { return .latent(rank: latentRank) }
        return .plain
    }

    /// Which tokens the cache drops, after every check of `check(_:)`.
    public func eviction(for config: DecoderConfig) throws(ConfigError) -> KVEviction {
        try check(config)
        return try plainEviction()
    }

    /// Refuses what the engine refuses, one line naming the flags:
    /// - a flag that only qualifies another one given without it (`--kv-group` without `--kv-quant`);
    /// - quantization with a latent (the codes are of K/V rows, which a latent cache does not store);
    /// - eviction or a sliding window with quantization or a latent (the engine evicts and windows
    ///   rows of a plain cache; a quantized group or a latent row cannot lose single tokens);
    /// - eviction with a sliding window (two policies for the same rows);
    /// - a latent rank outside 1...min(2·kv_heads·head_dim, d_model): wider, it would store no less
    ///   than K and V, or than the hidden state they are computed from;
    /// - bits, group sizes and budgets as `KVQuantization` and `KVEviction` check them.
    public func check(_ config: DecoderConfig) throws(ConfigError) {
        if quant == nil {
            if group != nil { throw ConfigError(.kvGroup, "applies only with --kv-quant") }
            if preRoPE { throw ConfigError(.kvQuantPreRope, "applies only with --kv-quant") }
        }
        if evict == nil && budget != nil { throw ConfigError(.kvBudget, "applies only with --evict window, sinks or h2o") }
        if evict != .sinks && sinks != nil { throw ConfigError(.sinks, "applies only with --evict sinks") }
        let compressed: Field? = quant != nil ? .kvQuant : latentRank != nil ? .kvLatentRank : nil
        if quant != nil && latentRank != nil {
            throw ConfigError(.fields([.kvQuant, .kvLatentRank]), "cannot be combined: a latent cache stores no K/V rows to quantize")
        }
        if let compressed, evict != nil {
            throw ConfigError(.fields([.evict, compressed]), "cannot be combined: the engine evicts rows of a plain cache, and a quantized group or a latent row cannot lose single tokens")
        }
        if let compressed, let w = config.slidingWindow {
            throw ConfigError(.fields([.window, compressed]), "cannot be combined: the model's sliding window of \(Format.grouped(w)) tokens drops rows of a plain cache, and a quantized group or a latent row cannot lose single tokens")
        }
        if evict != nil, let w = config.slidingWindow {
            throw ConfigError(.fields([.evict, .window]), "cannot be combined: the model's sliding window of \(Format.grouped(w)) tokens already decides which rows the cache keeps")
        }
        if let latentRank { try LatentKV.validate(rank: latentRank, config: config) }
        if let quant {
            _ = try KVQuantization(bits: quant.bits, group: group ?? Self.defaultGroup, headDim: config.attention.headDim)
        }
        _ = try plainEviction()
    }

    private func plainEviction() throws(ConfigError) -> KVEviction {
        guard let evict else { return .none }
        guard let budget else { throw ConfigError(.evict, "needs --kv-budget TOKENS, the tokens each layer keeps") }
        switch evict {
        case .window: return try KVEviction.window(budget: budget).validated()
        case .sinks: return try KVEviction.sinks(sinks ?? Self.defaultSinks, budget: budget).validated()
        case .h2o: return try KVEviction.h2o(budget: budget).validated()
        }
    }
}
