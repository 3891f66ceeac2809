import CKernels

/// Attention of one query head over the keys its mask lets it see (Vaswani et al. 2017, eq. 1):
///
///     s_j = q·k_j · scale        for every visible key j      (scale = 1/√head_dim)
///     p   = softmax(s)
///     o   = Σ_j p_j · v_j
///
/// The one routine behind the decoder's cached step, `FullForward` and AttnTiling's float64
/// reference. What differs between them is passed in, never copied: the mask (`AttentionMask`), where
/// the K/V rows live (`KVRows`), which K/V head a query head reads (`AttentionLayout`), and the
/// arithmetic (`AttentionArithmetic`: the engine's deterministic Float32 kernels, or float64).
public enum Attention {
    /// Writes o for one query head and leaves p (the softmax weights, one per visible key, in key
    /// order) in `scores`.
    ///
    /// - Parameters:
    ///   - q: the query head.                                       // [head_dim]
    ///   - keys, values: the K and V rows of the K/V head it reads.
    ///   - visible: the keys to attend over, from `AttentionMask.visibleKeys`.
    ///   - scores: room for one score per visible key.               // [visible.count]
    ///   - out: o.                                                  // [head_dim]
    /// - Returns: the row's max score and softmax sum (FlashAttention's m and ℓ).
    @inlinable @discardableResult
    public static func attend<A: AttentionArithmetic>(
        _ arithmetic: A, q: UnsafePointer<A.Scalar>, keys: KVRows<A.Scalar>, values: KVRows<A.Scalar>,
        visible: KeyRanges, headDim d: Int, scores s: UnsafeMutablePointer<A.Scalar>, out: UnsafeMutablePointer<A.Scalar>
    ) -> (max: A.Scalar, sum: A.Scalar) {
        // pass 1: s = q·kᵀ·scale over the visible keys
        arithmetic.scores(q, keys, visible.first, d, into: s)
        arithmetic.scores(q, keys, visible.second, d, into: s + visible.first.count)
        // pass 2: p = softmax(s), in place
        let stats = arithmetic.softmax(s, visible.count)
        // pass 3: o = Σ p_j·v_j, keys in order
        for e in 0..<d { out[e] = 0 }
        arithmetic.accumulate(s, values, visible.first, d, out)
        arithmetic.accumulate(s + visible.first.count, values, visible.second, d, out)
        return stats
    }
}

/// The K or V rows of one K/V head, by key position: row j is `headDim` values at `base + j·stride`.
///
/// The decoder's cache stores a head's rows contiguously (stride head_dim); `FullForward` keeps K/V
/// token-major (stride kv_heads·head_dim). A cache that stores rows in another form (quantized, or a
/// low-rank latent) hands attention rows of this kind by expanding them on read, so the attention
/// routine does not change.
public struct KVRows<Scalar> {
    public let base: UnsafePointer<Scalar>
    /// Elements from one row to the next.
    public let stride: Int

    @inlinable
    public init(base: UnsafePointer<Scalar>, stride: Int) {
        self.base = base
        self.stride = stride
    }

    /// The row of key position `j`.
    @inlinable
    public subscript(j: Int) -> UnsafePointer<Scalar> { base + j * stride }
}

/// The arithmetic one attention row is computed in: each step's order of operations is fixed here,
/// so a routine written once gives the same bits as the code it replaced.
public protocol AttentionArithmetic {
    associatedtype Scalar: BinaryFloatingPoint
    /// q·k, scaled to a score.
    func score(_ q: UnsafePointer<Scalar>, _ k: UnsafePointer<Scalar>, _ d: Int) -> Scalar
    /// s ← softmax(s) in place; returns the max and the sum of exponentials.
    func softmax(_ s: UnsafeMutablePointer<Scalar>, _ n: Int) -> (max: Scalar, sum: Scalar)
    /// out += p·v.
    func accumulate(_ p: Scalar, _ v: UnsafePointer<Scalar>, _ out: UnsafeMutablePointer<Scalar>, _ d: Int)
    /// s[n] = `score`(q, k_j) for the n-th key j of `range`: pass 1 over one range of keys.
    func scores(_ q: UnsafePointer<Scalar>, _ keys: KVRows<Scalar>, _ range: Range<Int>, _ d: Int, into s: UnsafeMutablePointer<Scalar>)
    /// `accumulate`(p[n], v_j) for the keys j of `range` in order: pass 3 over one range of keys.
    func accumulate(_ p: UnsafePointer<Scalar>, _ values: KVRows<Scalar>, _ range: Range<Int>, _ d: Int, _ out: UnsafeMutablePointer<Scalar>)
}

extension AttentionArithmetic {
    /// One `score` per key.
    @inlinable
    public func scores(_ q: UnsafePointer<Scalar>, _ keys: KVRows<Scalar>, _ range: Range<Int>, _ d: Int, into s: UnsafeMutablePointer<Scalar>) {
        for (n, j) in range.enumerated() { s[n] = score(q, keys[j], d) }
    }

    /// One `accumulate` per key.
    @inlinable
    public func accumulate(_ p: UnsafePointer<Scalar>, _ values: KVRows<Scalar>, _ range: Range<Int>, _ d: Int, _ out: UnsafeMutablePointer<Scalar>) {
        for (n, j) in range.enumerated() { accumulate(p[n], values[j], out, d) }
    }
}

/// The engine's arithmetic: `Kernels.dot`, `Kernels.softmax` and `Kernels.axpy` in Float32, the
/// same bits on every machine.
public struct Float32Attention: AttentionArithmetic, Sendable {
    public let scale: Float

    @inlinable
    public init(headDim: Int) { scale = 1 / Float(headDim).squareRoot() }

    @inlinable
    public func score(_ q: UnsafePointer<Float>, _ k: UnsafePointer<Float>, _ d: Int) -> Float { Kernels.dot(q, k, d) * scale }

    @inlinable
    public func softmax(_ s: UnsafeMutablePointer<Float>, _ n: Int) -> (max: Float, sum: Float) { Kernels.softmax(s, n) }

    @inlinable
    public func accumulate(_ p: Float, _ v: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ d: Int) {
        Kernels.axpy(p, v, out, d)
    }

    /// `score` for a range of keys in one C call: one row of the block kernel `attn_tile_scores`, the
    /// same bits (each score `Kernels.dot`'s additions), sixteen keys at a time.
    public func scores(_ q: UnsafePointer<Float>, _ keys: KVRows<Float>, _ range: Range<Int>, _ d: Int, into s: UnsafeMutablePointer<Float>) {
        if !range.isEmpty { attn_tile_scores(q, d, 1, keys[range.lowerBound], keys.stride, range.count, d, scale, nil, s, range.count) }
    }

    /// `accumulate` for a range of keys in one C call: one row of the block kernel
    /// `attn_tile_accumulate` (scale 1), o held in registers across the keys; every element sees the
    /// same additions in the same order, the same bits.
    public func accumulate(_ p: UnsafePointer<Float>, _ values: KVRows<Float>, _ range: Range<Int>, _ d: Int, _ out: UnsafeMutablePointer<Float>) {
        var one: Float = 1
        if !range.isEmpty { attn_tile_accumulate(p, range.count, 1, range.count, &one, 0, values[range.lowerBound], values.stride, d, out, d) }
    }
}

extension Attention {
    /// o for every query head of `tokens` consecutive queries from `position` (the decoder's block,
    /// or `FullForward`'s whole sequence), each (query, head) pair by `attend`.
    ///
    /// The pairs are dealt to the cores in turn (pair n to part n mod parts, so later queries' longer
    /// rows are shared evenly) when there is enough work; each pair is computed whole by one thread
    /// with its own `scores` row, so the split cannot change a bit.
    ///
    /// - Parameters:
    ///   - q: the queries.                                          // [tokens × q_heads·head_dim]
    ///   - keys, values: the rows of K/V head 0; head g's start `kvHeadStride`·g elements later.
    ///   - available: keys written so far (the mask may hide some of them from a query).
    ///   - scores: one row of `scoreStride` ≥ the most visible keys per part.  // [Parallel.parts × scoreStride]
    ///   - out: o.                                                  // [tokens × q_heads·head_dim]
    ///   - record: whether to return each query's softmax weights.
    /// - Returns: with `record`, per query its heads' weights over its visible keys. // [tokens][q_heads × visible]
    static func attendBlock(
        _ arithmetic: Float32Attention, q: UnsafePointer<Float>, keys: KVRows<Float>, values: KVRows<Float>, kvHeadStride: Int,
        layout a: AttentionLayout, mask: AttentionMask, position p: Int, tokens: Int, available: Int,
        scores: UnsafeMutablePointer<Float>, scoreStride: Int, out: UnsafeMutablePointer<Float>, record: Bool
    ) -> [[Float]]? {
        let hd = a.headDim, pairs = tokens * a.qHeads
        // Softmax weights of pair (i, h) at records + recordStart[i] + h·visible(i).
        var recordStart: [Int] = []
        var records: UnsafeMutablePointer<Float>? = nil
        if record {
            var total = 0
            for i in 0..<tokens {
                recordStart.append(total)
                total += a.qHeads * mask.visibleKeys(query: p + i, keys: available).count
            }
            records = .allocate(capacity: total)
        }
        defer { records?.deallocate() }
        // Two multiply-adds per visible key and head dimension (scores and o).
        let visibleKeys = mask.visibleKeys(query: p, keys: available).count + mask.visibleKeys(query: p + tokens - 1, keys: available).count
        let parts = pairs * visibleKeys * hd >= Kernels.parallelMultiplies ? Parallel.parts : 1
        let shared = Kernels.Shared((q: q, keys: keys, values: values, scores: scores, out: out, records: records))
        let starts = Kernels.Shared(recordStart)
        Parallel.forEach(parts) { part in
            let v = shared.value, s = v.scores + part * scoreStride
            for n in stride(from: part, to: pairs, by: parts) {
                let i = n / a.qHeads, hq = n % a.qHeads, g = a.kvHead(forQueryHead: hq)
                let visible = mask.visibleKeys(query: p + i, keys: available)
                attend(arithmetic, q: v.q + i * a.qElements + hq * hd,
                       keys: KVRows(base: v.keys.base + g * kvHeadStride, stride: v.keys.stride),
                       values: KVRows(base: v.values.base + g * kvHeadStride, stride: v.values.stride),
                       visible: visible, headDim: hd, scores: s, out: v.out + i * a.qElements + hq * hd)
                if let r = v.records {
                    (r + starts.value[i] + hq * visible.count).update(from: s, count: visible.count)
                }
            }
        }
        guard let records else { return nil }
        return (0..<tokens).map { i in
            Array(UnsafeBufferPointer(start: records + recordStart[i], count: a.qHeads * mask.visibleKeys(query: p + i, keys: available).count))
        }
    }
}
