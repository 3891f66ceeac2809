/// How query heads share key/value heads: MHA, GQA and MQA are one mechanism with `kvHeads`.
///
/// Query heads are split into `kvHeads` groups of `qHeads / kvHeads` consecutive heads; group `g`
/// reads K/V head `g` (Ainslie et al. 2023, GQA). `kvHeads == qHeads` is MHA, `kvHeads == 1` is MQA
/// (Shazeer 2019).
public struct AttentionLayout: Equatable, Hashable, Sendable, Codable {
    public let qHeads: Int
    public let kvHeads: Int
    public let headDim: Int

    public init(qHeads: Int, kvHeads: Int, headDim: Int) throws(ConfigError) {
        try Limits.require(qHeads, .qHeads)
        try Limits.require(kvHeads, .kvHeads)
        try Limits.require(headDim, .headDim)
        guard qHeads * headDim <= Limits.maxDModel else {
            throw ConfigError(.headDim, "q_heads × head_dim = \(qHeads * headDim) is above AttnLab's limit of \(Limits.maxDModel)")
        }
        guard kvHeads <= qHeads, qHeads % kvHeads == 0 else {
            throw ConfigError(
                .kvHeads,
                "\(kvHeads) KV heads cannot be shared evenly by \(qHeads) query heads (q_heads must be a multiple of kv_heads)"
            )
        }
        self.qHeads = qHeads
        self.kvHeads = kvHeads
        self.headDim = headDim
    }

    /// Query heads per K/V head.
    public var groupSize: Int { qHeads / kvHeads }

    /// The K/V head that query head `h` reads: `h / (q_heads / kv_heads)`.
    @inline(__always)
    public func kvHead(forQueryHead h: Int) -> Int { h / groupSize }

    /// `headMap[h]` = the K/V head of query head `h`.
    public var headMap: [Int] { (0..<qHeads).map(kvHead(forQueryHead:)) }

    /// "MHA", "MQA" or "GQA-g" (g = number of K/V heads, the paper's naming).
    public var name: String {
        if kvHeads == qHeads { return "MHA" }
        if kvHeads == 1 { return "MQA" }
        return "GQA-\(kvHeads)"
    }

    /// Width of all query heads together, `q_heads · head_dim` (rows of W_Q).
    public var qElements: Int { qHeads * headDim }
    /// Width of all K (or V) heads together, `kv_heads · head_dim` (rows of W_K and of W_V).
    public var kvElements: Int { kvHeads * headDim }
}
