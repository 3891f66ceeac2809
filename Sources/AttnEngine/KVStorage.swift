/// How a cache keeps each token's K and V: the element type's rounding, integer codes with scales,
/// or one low-rank latent. What the bytes of a cache are is decided here, once, for the decoder, the
/// `kv` calculator, traces and lessons alike.
public enum KVStorage: Hashable, Sendable {
    /// Every element rounded to the cache's element type (fp32, bf16 or fp16).
    case plain
    /// Integer codes with a scale and a minimum per group (`KVQuantization`).
    case quantized(KVQuantization)
    /// One latent vector of `rank` elements per token and layer in place of K and V (DeepSeek-V2's
    /// Multi-head Latent Attention), expanded to K and V per head when read (`LatentKV`).
    case latent(rank: Int)

    /// Bytes one producer layer's cache holds for `tokens` tokens, exactly: codes, scales and minima,
    /// and the key rows not yet quantized (`KVQuantization`).
    public func bytes(tokens: Int, layout a: AttentionLayout, dtype: DType) -> Int {
        switch self {
        case .plain:
            return tokens * KVBudget.bytesPerTokenPerLayer(a, dtype)
        case .quantized(let q):
            return q.bytes(tokens: tokens, kvElements: a.kvElements, residualDType: dtype)
        case .latent(let rank):
            return tokens * rank * dtype.bits / 8
        }
    }

    /// Bytes the token at `position` writes into one producer layer's cache (a quantized cache also
    /// writes a key group's codes when the token completes it: `KVQuantization.bytesWritten`).
    public func bytesWritten(position: Int, layout a: AttentionLayout, dtype: DType) -> Int {
        switch self {
        case .plain: KVBudget.bytesPerTokenPerLayer(a, dtype)
        case .quantized(let q): q.bytesWritten(position: position, kvElements: a.kvElements, residualDType: dtype)
        case .latent(let rank): rank * dtype.bits / 8
        }
    }

    /// Bytes per token and producer layer once the cache is long: the cost of a token with its
    /// share of its group's scales (the key rows waiting for their group are left out).
    public func bytesPerTokenPerLayer(layout a: AttentionLayout, dtype: DType) -> Double {
        switch self {
        case .plain: Double(KVBudget.bytesPerTokenPerLayer(a, dtype))
        case .quantized(let q): Double(q.bytes(tokens: q.group, kvElements: a.kvElements, residualDType: dtype)) / Double(q.group)
        case .latent(let rank): Double(rank * dtype.bits / 8)
        }
    }

    /// "int4, groups of 32" / "latent r = 128" / "" for plain.
    public var label: String {
        switch self {
        case .plain: ""
        case .quantized(let q): q.label
        case .latent(let rank): "latent r = \(rank)"
        }
    }
}
