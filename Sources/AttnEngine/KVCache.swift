/// The decoder's key/value cache: one K and one V buffer per *producer* layer, each
/// `[kv_heads × slots × head_dim]`, so the rows of one K/V head are contiguous for attention.
/// Consumer layers (CLA) own no buffer; they read their producer's.
///
/// Attention reads the cache only through `keys(layer:kvHead:)` and `values(layer:kvHead:)`, which
/// hand out Float32 `KVRows`: what a reader sees. What is *stored* depends on `storage`:
///
/// - `plain`: the rows themselves, rounded to `dtype`.
/// - `quantized`: integer codes with fp16 scales (`KVQuantization`); the rows hold each code's value,
///   min + code·scale, decoded once when the code is written. A reader that decoded on every read
///   would compute the same numbers, so attention does not change; the bytes counted are the codes'.
/// - `latent`: one latent vector per token (`LatentKV`), rounded to `dtype`; the rows hold its
///   expansion to K and V, computed once when it is written, for the same reason.
///
/// Under `h2o` eviction a head keeps at most budget + 1 rows in *slots*: a new token takes the next
/// free slot and, once the budget is exceeded, moves into the slot of the token it evicts. Without
/// it, slot = position.
public struct KVCache: Sendable {
    public let layout: AttentionLayout
    public let dtype: DType
    public let storage: KVStorage
    /// Which tokens the cache lets go of. `window` and `sinks` are masks the decoder applies (every
    /// row stays, the count of held tokens follows the policy); `h2o` evicts rows here.
    public let eviction: KVEviction
    public let capacityTokens: Int
    /// Rows per K/V head: `capacityTokens`, or budget + 1 under `h2o`.
    public let slots: Int
    /// Layers that own a buffer, ascending.
    public let producers: [Int]
    /// Tokens written so far (the same for every producer after a whole step).
    public private(set) var tokens: Int = 0
    private let slot: [Int: Int]
    private var memory: Memory

    public init(layout: AttentionLayout, producers: [Int], capacityTokens: Int, dtype: DType,
                storage: KVStorage = .plain, eviction: KVEviction = .none) {
        self.layout = layout
        self.dtype = dtype
        self.storage = storage
        self.eviction = eviction
        self.capacityTokens = capacityTokens
        self.producers = producers
        if case .h2o(let budget) = eviction { slots = min(capacityTokens, budget + 1) } else { slots = capacityTokens }
        var latentRank = 0
        if case .latent(let r) = storage { latentRank = r }
        var quantization: KVQuantization? = nil
        if case .quantized(let q) = storage { quantization = q }
        memory = Memory(producers: producers.count, kvHeads: layout.kvHeads, slots: slots, headDim: layout.headDim,
                        quantization: quantization, latentRank: latentRank, h2o: eviction.isH2O)
        slot = Dictionary(uniqueKeysWithValues: producers.enumerated().map { ($1, $0) })
    }

    /// Bytes one token adds to one producer layer, plain storage: `2 · kv_heads · head_dim · bytes/element`.
    public var bytesPerTokenPerLayer: Int { KVBudget.bytesPerTokenPerLayer(layout, dtype) }

    /// Tokens each producer holds now: all written, or as many as the eviction policy keeps.
    public var heldTokens: Int { eviction.heldTokens(context: tokens) }

    /// Bytes the cache holds now, exactly (`KVStorage.bytes`, with quantization's scales and
    /// unquantized key rows), over every producer layer.
    public var bytes: Int { producers.count * storage.bytes(tokens: heldTokens, layout: layout, dtype: dtype) }

    /// Bytes one layer reads to attend over `tokens` of its source's rows.
    public func bytesRead(tokens: Int) -> Int { storage.bytes(tokens: tokens, layout: layout, dtype: dtype) }

    /// Stores the K and V of `rows` tokens at positions `p..<p + rows` of `producer`: RoPE is applied
    /// to k here, before or after it is quantized or compressed as the storage says.
    ///
    /// - Parameters:
    ///   - k: pre-RoPE keys, rotated in place.                      // [rows × kv_heads·head_dim]
    ///   - v: values.                                               // [rows × kv_heads·head_dim]
    ///   - latent: the bases of a `latent` storage.
    mutating func write(producer: Int, position p: Int, rows: Int, k: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>,
                        rope: RoPE, latent: LatentKV?) {
        if !isKnownUniquelyReferenced(&memory) { memory = memory.copy() }
        let a = layout, hd = a.headDim, E = a.kvElements, s = slot[producer]!
        if case .latent(let r) = storage {
            // [k; v] per row → c = downᵀ·[k; v], rounded as stored → [k̂; v̂] = up·c → RoPE on k̂.
            let joint = UnsafeMutablePointer<Float>.allocate(capacity: rows * 2 * E), c = UnsafeMutablePointer<Float>.allocate(capacity: rows * r)
            defer { joint.deallocate(); c.deallocate() }
            for i in 0..<rows {
                (joint + i * 2 * E).update(from: k + i * E, count: E)
                (joint + i * 2 * E + E).update(from: v + i * E, count: E)
            }
            latent!.project(layer: producer, kv: joint, rows: rows, into: c)
            for j in 0..<(rows * r) { c[j] = dtype.round(c[j]) }
            (memory.latent + (s * slots + p) * r).update(from: c, count: rows * r)
            latent!.expand(layer: producer, latent: c, rows: rows, into: joint)
            for i in 0..<rows {
                (k + i * E).update(from: joint + i * 2 * E, count: E)
                (v + i * E).update(from: joint + i * 2 * E + E, count: E)
                rope.apply(k + i * E, heads: a.kvHeads, position: p + i)
                for g in 0..<a.kvHeads {
                    (row(.k, s, g, slot: p + i)).update(from: k + i * E + g * hd, count: hd)
                    (row(.v, s, g, slot: p + i)).update(from: v + i * E + g * hd, count: hd)
                }
            }
            return
        }
        for i in 0..<rows {
            let t = slotForNewToken(p + i, producerSlot: s)
            if case .quantized(let q) = storage, q.preRoPE {
                for g in 0..<a.kvHeads { memory.preRoPE(s, g, q.group, position: p + i).update(from: k + i * E + g * hd, count: hd) }
            }
            rope.apply(k + i * E, heads: a.kvHeads, position: p + i)
            for g in 0..<a.kvHeads {
                let kRow = row(.k, s, g, slot: t), vRow = row(.v, s, g, slot: t)
                let newK = k + i * E + g * hd, newV = v + i * E + g * hd
                // Keys wait for their group in the cache's element type (quantized: see `sealKeyGroup`).
                for j in 0..<hd { kRow[j] = dtype.round(newK[j]) }
                if case .quantized(let q) = storage {
                    let codes = memory.codes(.v, s, g, slot: t), scales = memory.valueScales(s, g, slot: t)
                    for group in 0..<(hd / q.group) {
                        scales[group] = q.quantize(newV + group * q.group, count: q.group, stride: 1,
                                                   codes: codes + group * q.group, dequantized: vRow + group * q.group)
                    }
                } else {
                    for j in 0..<hd { vRow[j] = dtype.round(newV[j]) }
                }
            }
            if eviction.isH2O { memory.h2oAdd(s, position: p + i, slot: t, kvHeads: a.kvHeads, slots: slots) }
        }
    }

    /// Quantizes the key group that ends at `tokens` (a multiple of the group) in every producer, per
    /// channel; with `preRoPE` from the unrotated keys, rotated again after decoding. A no-op for
    /// other storage, or when `tokens` does not end a group.
    mutating func sealKeyGroup(endingAt tokens: Int, rope: RoPE) {
        guard case .quantized(let q) = storage, tokens > 0, tokens % q.group == 0 else { return }
        if !isKnownUniquelyReferenced(&memory) { memory = memory.copy() }
        let hd = layout.headDim, start = tokens - q.group
        for s in 0..<producers.count {
            for g in 0..<layout.kvHeads {
                let rows = row(.k, s, g, slot: start), codes = memory.codes(.k, s, g, slot: start)
                let scales = memory.keyScales(s, g, group: start / q.group)
                let source = q.preRoPE ? UnsafePointer(memory.preRoPE(s, g, q.group, position: start)) : UnsafePointer(rows)
                for c in 0..<hd {
                    // Channel c of the group's rows, `head_dim` apart; decoded over the stored rows.
                    scales[c] = q.quantize(source + c, count: q.group, stride: hd, codes: codes + c, dequantized: rows + c)
                }
                if q.preRoPE {
                    for n in 0..<q.group { rope.apply(rows + n * hd, heads: 1, position: start + n) }
                }
            }
        }
    }

    mutating func advance(to tokens: Int) { self.tokens = tokens }

    // MARK: - Heavy-hitter eviction (H2O)

    /// Rows each head of an `h2o` cache holds (the slots in use), the same for every head.
    func h2oRows(producer: Int) -> Int { memory.h2oCount[slot[producer]!] }

    /// Adds a step's attention to the heavy-hitter scores of `producer`'s K/V head `g`.
    /// - Parameter weights: each slot's weight summed over the head's query heads.   // [h2oRows]
    mutating func h2oAccumulate(producer: Int, kvHead g: Int, weights: UnsafePointer<Double>) {
        if !isKnownUniquelyReferenced(&memory) { memory = memory.copy() }
        let s = slot[producer]!, score = memory.h2oScore + (s * layout.kvHeads + g) * slots
        for j in 0..<memory.h2oCount[s] { score[j] += weights[j] }
    }

    /// Evicts one row per head of `producer` if it holds more than the budget after the token at
    /// `position`: the lowest-scoring token outside the recent window (the oldest on a tie). The new
    /// token's row moves into the evicted slot.
    /// - Returns: the position each head evicted (in head order), or nil when nothing was evicted.
    mutating func h2oEvict(producer: Int, position p: Int) -> [Int]? {
        guard case .h2o(let budget) = eviction else { return nil }
        let s = slot[producer]!, n = memory.h2oCount[s]
        guard n > budget else { return nil }
        if !isKnownUniquelyReferenced(&memory) { memory = memory.copy() }
        let recentFrom = p + 1 - KVEviction.h2oRecent(budget: budget), hd = layout.headDim
        var evicted: [Int] = []
        for g in 0..<layout.kvHeads {
            let base = (s * layout.kvHeads + g) * slots
            let position = memory.h2oPosition + base, score = memory.h2oScore + base
            var victim = -1
            for j in 0..<n where position[j] < recentFrom {
                if victim < 0 || score[j] < score[victim] || (score[j] == score[victim] && position[j] < position[victim]) { victim = j }
            }
            evicted.append(position[victim])
            let last = n - 1
            if victim != last {
                row(.k, s, g, slot: victim).update(from: row(.k, s, g, slot: last), count: hd)
                row(.v, s, g, slot: victim).update(from: row(.v, s, g, slot: last), count: hd)
                position[victim] = position[last]
                score[victim] = score[last]
            }
        }
        memory.h2oCount[s] = n - 1
        return evicted
    }

    /// The positions head `g` of `layer` holds, slot by slot (every position written without `h2o`).
    public func heldPositions(layer: Int, kvHead g: Int) -> [Int] {
        let s = slot[layer]!
        guard eviction.isH2O else { return Array(0..<tokens) }
        let base = memory.h2oPosition + (s * layout.kvHeads + g) * slots
        return (0..<memory.h2oCount[s]).map { base[$0] }
    }

    /// The next slot of `producerSlot`'s heads: the position itself, or the first free slot under `h2o`.
    private func slotForNewToken(_ position: Int, producerSlot s: Int) -> Int {
        eviction.isH2O ? memory.h2oCount[s] : position
    }

    // MARK: - Reading

    /// The K rows of head `g` in `layer`'s buffer (a producer layer), by slot.
    ///
    /// The rows stay valid until the cache is next written.
    public func keys(layer: Int, kvHead g: Int) -> KVRows<Float> {
        KVRows(base: row(.k, slot[layer]!, g, slot: 0), stride: layout.headDim)
    }

    /// The V rows of head `g` in `layer`'s buffer (a producer layer), by slot.
    ///
    /// The rows stay valid until the cache is next written.
    public func values(layer: Int, kvHead g: Int) -> KVRows<Float> {
        KVRows(base: row(.v, slot[layer]!, g, slot: 0), stride: layout.headDim)
    }

    /// K/V head `g` of `layer`'s buffer at `position`, as a reader sees it; zeros for a token `h2o`
    /// has evicted.
    public func row(_ which: KV, layer: Int, kvHead g: Int, position: Int) -> [Float] {
        guard let t = eviction.isH2O ? heldPositions(layer: layer, kvHead: g).firstIndex(of: position) : position else {
            return [Float](repeating: 0, count: layout.headDim)
        }
        return Array(UnsafeBufferPointer(start: row(which, slot[layer]!, g, slot: t), count: layout.headDim))
    }

    /// The stored codes and group scales of a quantized row at `position` (nil for other storage, or a
    /// key whose group is not yet quantized). A key's scales are its channels' (one per element).
    public func quantizedRow(_ which: KV, layer: Int, kvHead g: Int, position: Int) -> QuantizedRow? {
        guard case .quantized(let q) = storage, position < tokens else { return nil }
        let s = slot[layer]!, hd = layout.headDim
        if which == .k && position >= tokens / q.group * q.group { return nil }
        let codes = Array(UnsafeBufferPointer(start: memory.codes(which, s, g, slot: position), count: hd))
        let scales = which == .k ? Array(UnsafeBufferPointer(start: memory.keyScales(s, g, group: position / q.group), count: hd))
            : Array(UnsafeBufferPointer(start: memory.valueScales(s, g, slot: position), count: hd / q.group))
        return QuantizedRow(codes: codes, scales: scales, decoded: row(which, layer: layer, kvHead: g, position: position))
    }

    /// The latent vector stored for `position` in `layer` (nil for other storage).
    public func latentRow(layer: Int, position: Int) -> [Float]? {
        guard case .latent(let r) = storage else { return nil }
        return Array(UnsafeBufferPointer(start: memory.latent + (slot[layer]! * slots + position) * r, count: r))
    }

    public enum KV: Sendable { case k, v }

    /// A quantized row as stored: its codes, the scales of its groups, and the values a reader sees.
    public struct QuantizedRow: Sendable, Equatable {
        public let codes: [UInt8]
        public let scales: [KVQuantization.Scale]
        public let decoded: [Float]
    }

    private func row(_ which: KV, _ s: Int, _ g: Int, slot t: Int) -> UnsafeMutablePointer<Float> {
        memory.rows + (((2 * s + (which == .k ? 0 : 1)) * layout.kvHeads + g) * slots + t) * layout.headDim
    }

    /// The cache's memory, allocated once. Copies of a `KVCache` (a `DecodeResult` keeps one) share it
    /// until one of them writes, which first takes its own copy, so a cache is still a value.
    private final class Memory: @unchecked Sendable {
        let shape: (producers: Int, kvHeads: Int, slots: Int, headDim: Int)
        let quantization: KVQuantization?
        /// What readers see: K then V of every producer.  // [producers × 2 × kv_heads × slots × head_dim]
        let rows: UnsafeMutablePointer<Float>
        /// Codes of K then V, like `rows`, when quantized.
        let codeBytes: UnsafeMutablePointer<UInt8>
        /// A value row's group scales.                    // [producers × kv_heads × slots × head_dim/group]
        let vScales: UnsafeMutablePointer<KVQuantization.Scale>
        /// A key group's channel scales.                  // [producers × kv_heads × slots/group × head_dim]
        let kScales: UnsafeMutablePointer<KVQuantization.Scale>
        /// Unrotated keys of the group being filled (pre-RoPE quantization).  // [producers × kv_heads × group × head_dim]
        let kPre: UnsafeMutablePointer<Float>
        /// Latent vectors.                                // [producers × slots × rank]
        let latent: UnsafeMutablePointer<Float>
        /// H2O: each slot's position and score, and the slots in use per producer.
        let h2oPosition: UnsafeMutablePointer<Int>     // [producers × kv_heads × slots]
        let h2oScore: UnsafeMutablePointer<Double>     // [producers × kv_heads × slots]
        var h2oCount: [Int]

        /// Elements of each array, in declaration order, for copying.
        private let counts: [Int]

        init(producers: Int, kvHeads: Int, slots: Int, headDim: Int, quantization: KVQuantization?, latentRank: Int, h2o: Bool) {
            shape = (producers, kvHeads, slots, headDim)
            self.quantization = quantization
            let rowCount = producers * 2 * kvHeads * slots * headDim, q = quantization
            counts = [
                rowCount, q == nil ? 0 : rowCount,
                q.map { producers * kvHeads * slots * headDim / $0.group } ?? 0,
                q.map { producers * kvHeads * ((slots + $0.group - 1) / $0.group) * headDim } ?? 0,
                q.map { $0.preRoPE ? producers * kvHeads * $0.group * headDim : 0 } ?? 0,
                producers * slots * latentRank,
                h2o ? producers * kvHeads * slots : 0,
            ]
            rows = Self.zeros(counts[0])
            codeBytes = Self.zeros(counts[1])
            vScales = Self.zeros(counts[2])
            kScales = Self.zeros(counts[3])
            kPre = Self.zeros(counts[4])
            latent = Self.zeros(counts[5])
            h2oPosition = Self.zeros(counts[6])
            h2oScore = Self.zeros(counts[6])
            h2oCount = [Int](repeating: 0, count: producers)
        }

        private init(copying o: Memory) {
            shape = o.shape
            quantization = o.quantization
            counts = o.counts
            rows = Self.copy(o.rows, counts[0])
            codeBytes = Self.copy(o.codeBytes, counts[1])
            vScales = Self.copy(o.vScales, counts[2])
            kScales = Self.copy(o.kScales, counts[3])
            kPre = Self.copy(o.kPre, counts[4])
            latent = Self.copy(o.latent, counts[5])
            h2oPosition = Self.copy(o.h2oPosition, counts[6])
            h2oScore = Self.copy(o.h2oScore, counts[6])
            h2oCount = o.h2oCount
        }

        func copy() -> Memory { Memory(copying: self) }

        func codes(_ which: KV, _ s: Int, _ g: Int, slot t: Int) -> UnsafeMutablePointer<UInt8> {
            codeBytes + (((2 * s + (which == .k ? 0 : 1)) * shape.kvHeads + g) * shape.slots + t) * shape.headDim
        }

        func valueScales(_ s: Int, _ g: Int, slot t: Int) -> UnsafeMutablePointer<KVQuantization.Scale> {
            let perRow = shape.headDim / quantization!.group
            return vScales + ((s * shape.kvHeads + g) * shape.slots + t) * perRow
        }

        func keyScales(_ s: Int, _ g: Int, group: Int) -> UnsafeMutablePointer<KVQuantization.Scale> {
            let groups = (shape.slots + quantization!.group - 1) / quantization!.group
            return kScales + ((s * shape.kvHeads + g) * groups + group) * shape.headDim
        }

        /// The unrotated key row of `position` in the group being filled.
        func preRoPE(_ s: Int, _ g: Int, _ group: Int, position: Int) -> UnsafeMutablePointer<Float> {
            kPre + ((s * shape.kvHeads + g) * group + position % group) * shape.headDim
        }

        /// A new token in `slot` of every head of producer `s`, with no attention yet.
        func h2oAdd(_ s: Int, position: Int, slot t: Int, kvHeads: Int, slots: Int) {
            for g in 0..<kvHeads {
                h2oPosition[(s * kvHeads + g) * slots + t] = position
                h2oScore[(s * kvHeads + g) * slots + t] = 0
            }
            h2oCount[s] = t + 1
        }

        deinit {
            rows.deallocate(); codeBytes.deallocate(); vScales.deallocate(); kScales.deallocate()
            kPre.deallocate(); latent.deallocate(); h2oPosition.deallocate(); h2oScore.deallocate()
        }

        private static func zeros<T>(_ count: Int) -> UnsafeMutablePointer<T> where T: ZeroInitializable {
            let p = UnsafeMutablePointer<T>.allocate(capacity: max(count, 1))
            p.initialize(repeating: T.zero, count: max(count, 1))
            return p
        }

        private static func copy<T>(_ source: UnsafeMutablePointer<T>, _ count: Int) -> UnsafeMutablePointer<T> {
            let p = UnsafeMutablePointer<T>.allocate(capacity: max(count, 1))
            p.initialize(from: source, count: max(count, 1))
            return p
        }
    }
}

/// Element types the cache's memory is made of, with their zero.
private protocol ZeroInitializable { static var zero: Self { get } }
extension Float: ZeroInitializable {}
extension Double: ZeroInitializable {}
extension Int: ZeroInitializable {}
extension UInt8: ZeroInitializable {}
extension KVQuantization.Scale: ZeroInitializable { static var zero: Self { .init(scale: 0, min: 0) } }

extension KVEviction {
    var isH2O: Bool { if case .h2o = self { true } else { false } }
}
