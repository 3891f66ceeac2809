/// Exact KV-cache sizes (BRIEF §1):
///
///     kv_bytes_per_token = 2 (K and V) × kv_layers × kv_heads × head_dim × bytes_per_element
///     kv_cache_bytes     = kv_bytes_per_token × context_tokens × batch
///
/// `kv_layers` counts the layers that *store* K/V (`ceil(L/S)` with CLA-S). All integers; growth in
/// context is linear.
public struct KVBudget: Equatable, Sendable {
    public let layout: AttentionLayout
    public let kvMap: KVSourceMap
    public let dtype: DType

    public init(layout: AttentionLayout, kvMap: KVSourceMap, dtype: DType) {
        self.layout = layout
        self.kvMap = kvMap
        self.dtype = dtype
    }

    public var layers: Int { kvMap.layers }
    public var kvLayers: Int { kvMap.kvLayers }

    /// Bytes one token adds to one producer layer's cache.
    public var bytesPerTokenPerLayer: Int { Self.bytesPerTokenPerLayer(layout, dtype) }

    /// `2 · kv_heads · head_dim · bytes/element`.
    public static func bytesPerTokenPerLayer(_ layout: AttentionLayout, _ dtype: DType) -> Int {
        2 * layout.kvHeads * layout.headDim * dtype.bits / 8
    }

    public var bytesPerToken: Int { kvLayers * bytesPerTokenPerLayer }

    /// The same model with MHA and every layer storing K/V: the baseline of the papers' cuts.
    public var mhaBytesPerToken: Int { 2 * layers * layout.qHeads * layout.headDim * dtype.bits / 8 }

    /// 1 − bytes/token ÷ MHA bytes/token (0.875 for 64 → 8 KV heads).
    public var reductionVsMHA: Double { 1 - Double(bytesPerToken) / Double(mhaBytesPerToken) }

    /// Bytes a single decoding step *reads* per token of context: every layer, producer or consumer,
    /// reads its source's K and V. CLA shrinks what is stored, not this.
    public var bytesReadPerContextToken: Int { layers * bytesPerTokenPerLayer }

    /// `bytesPerToken × context × batch`, checked for overflow.
    public func cacheBytes(context: Int, batch: Int = 1) throws(ConfigError) -> Int {
        try Self.scaled(bytesPerToken, context: context, batch: batch)
    }

    /// The MHA baseline's cache, and what one decode step reads, at the same context and batch.
    public func mhaCacheBytes(context: Int, batch: Int = 1) throws(ConfigError) -> Int {
        try Self.scaled(mhaBytesPerToken, context: context, batch: batch)
    }

    public func bytesReadPerStep(context: Int, batch: Int = 1) throws(ConfigError) -> Int {
        try Self.scaled(bytesReadPerContextToken, context: context, batch: batch)
    }

    private static func scaled(_ perToken: Int, context: Int, batch: Int) throws(ConfigError) -> Int {
        guard context > 0 else { throw ConfigError(.context, "must be positive, got \(context)") }
        guard batch > 0 else { throw ConfigError(.batch, "must be positive, got \(batch)") }
        let (perSeq, o1) = perToken.multipliedReportingOverflow(by: context)
        let (total, o2) = perSeq.multipliedReportingOverflow(by: batch)
        guard !o1, !o2 else { throw ConfigError(.fields([.context, .batch]), "\(context) tokens × batch \(batch) overflow 64-bit byte counts") }
        return total
    }
}
