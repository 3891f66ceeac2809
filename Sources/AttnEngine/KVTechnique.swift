/// How a decoder keeps its K/V beyond the element type: the storage form and the eviction policy,
/// with the bases a latent cache needs. One value the decoder, perplexity, traces and lessons share.
public struct KVTechnique: Sendable {
    public let storage: KVStorage
    public let eviction: KVEviction
    /// The projections of a `latent` storage (nil otherwise).
    public let latent: LatentKV?

    /// The plain cache: every row kept, as it is.
    public init() {
        storage = .plain
        eviction = .none
        latent = nil
    }

    /// - Throws: `ConfigError` naming both flags for combinations AttnLab does not run: eviction
    ///   together with quantization or a latent (a quantized key group, or a latent, would be
    ///   evicted in part), and a latent without its bases.
    public init(storage: KVStorage, eviction: KVEviction = .none, latent: LatentKV? = nil) throws(ConfigError) {
        switch (storage, eviction) {
        case (.plain, _), (_, .none): break
        case (.quantized, _):
            throw ConfigError(.fields([.kvQuant, .evict]), "cannot be combined: a quantized key group spans \"group\" tokens, and evicting part of it is not modelled; measure them one at a time")
        case (.latent, _):
            throw ConfigError(.fields([.kvLatentRank, .evict]), "cannot be combined: measure the latent cache and eviction one at a time")
        }
        if case .latent = storage, latent == nil { throw ConfigError(.kvLatentRank, "needs the model's latent bases (LatentKV)") }
        self.storage = storage
        self.eviction = try eviction.validated()
        self.latent = latent
    }

    /// - Throws: `ConfigError` naming `--window` when `config` has a sliding window and this
    ///   technique evicts or compresses too (one policy at a time).
    public func check(_ config: DecoderConfig) throws(ConfigError) {
        guard config.slidingWindow != nil else { return }
        if eviction != .none { throw ConfigError(.fields([.window, .evict]), "cannot be combined: the sliding window already decides which tokens are kept") }
        if storage != .plain { throw ConfigError(.fields([.window, storage.field]), "cannot be combined: a rolling window evicts part of a quantized group or latent; measure them one at a time") }
    }

    /// The tokens a cache of `config` holds: the eviction policy's, else the sliding window's.
    public func retention(_ config: DecoderConfig) -> KVEviction {
        if eviction != .none { return eviction }
        return config.slidingWindow.map { .window(budget: $0) } ?? .none
    }

    /// The mask of `config` under this policy: a position-only eviction is a mask.
    public func mask(_ config: DecoderConfig) -> AttentionMask { eviction.mask ?? config.mask }
}

extension KVStorage {
    /// The flag that chose this storage.
    var field: Field {
        switch self {
        case .plain: .dtype
        case .quantized: .kvQuant
        case .latent: .kvLatentRank
        }
    }
}

extension KVTechnique {
    /// "int4, groups of 32", "h2o, budget 128", "sliding window 4096", or "plain".
    public func label(_ config: DecoderConfig) -> String {
        Self.label(storage: storage, retention: retention(config), slidingWindow: eviction == .none && config.slidingWindow != nil)
    }

    /// The label of a cache that stores K/V as `storage` and keeps the tokens `retention` keeps;
    /// `slidingWindow`: the window is the architecture's, not an eviction.
    public static func label(storage: KVStorage, retention: KVEviction, slidingWindow: Bool = false) -> String {
        var parts: [String] = []
        if storage != .plain { parts.append(storage.label) }
        switch retention {
        case .none: break
        case .window(let b): parts.append(slidingWindow ? "sliding window \(b)" : "window, budget \(b)")
        case let .sinks(s, b): parts.append("\(s) sinks + window, budget \(b)")
        case .h2o(let b): parts.append("h2o, budget \(b)")
        }
        return parts.isEmpty ? "plain" : parts.joined(separator: "; ")
    }
}
