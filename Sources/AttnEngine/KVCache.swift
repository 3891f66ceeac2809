/// The decoder's key/value cache: one K and one V buffer per *producer* layer, each
/// `[kv_heads × capacity × head_dim]`, so the rows of one K/V head are contiguous for attention.
/// Consumer layers (CLA) own no buffer; they read their producer's.
///
/// Attention reads the cache only through `keys(layer:kvHead:)` and `values(layer:kvHead:)`, which
/// hand out `KVRows`. Elements are stored as Float32 values already rounded to `dtype`, so a row is
/// read in place; a cache kept in another form (int8 with scales, a low-rank latent) would be a new
/// storage kind whose readers expand rows into Float32, with no change to attention.
public struct KVCache: Sendable {
    public let layout: AttentionLayout
    public let dtype: DType
    public let capacityTokens: Int
    /// Layers that own a buffer, ascending.
    public let producers: [Int]
    /// Tokens written so far (the same for every producer after a whole step).
    public private(set) var tokens: Int = 0
    private let slot: [Int: Int]
    /// K then V of every producer, in `producers` order.      // [producers × 2 × kv_heads × capacity × head_dim]
    private var storage: Storage

    public init(layout: AttentionLayout, producers: [Int], capacityTokens: Int, dtype: DType) {
        self.layout = layout
        self.dtype = dtype
        self.capacityTokens = capacityTokens
        self.producers = producers
        storage = Storage(count: producers.count * 2 * layout.kvHeads * capacityTokens * layout.headDim)
        slot = Dictionary(uniqueKeysWithValues: producers.enumerated().map { ($1, $0) })
    }

    /// Bytes of one token's K and V in one producer layer: `2 · kv_heads · head_dim · bytes/element`.
    public var bytesPerTokenPerLayer: Int { KVBudget.bytesPerTokenPerLayer(layout, dtype) }

    /// Bytes the cache holds now: `kv_layers · tokens · 2 · kv_heads · head_dim · bytes/element`.
    public var bytes: Int { producers.count * tokens * bytesPerTokenPerLayer }

    /// Stores K and V (`[kv_heads × head_dim]` each) of `producer` at `position`, rounded to `dtype`.
    mutating func write(producer: Int, position: Int, k newK: UnsafePointer<Float>, v newV: UnsafePointer<Float>) {
        if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
        let hd = layout.headDim
        for g in 0..<layout.kvHeads {
            let k = head(.k, layer: producer, kvHead: g) + position * hd
            let v = head(.v, layer: producer, kvHead: g) + position * hd
            for j in 0..<hd {
                k[j] = dtype.round(newK[g * hd + j])
                v[j] = dtype.round(newV[g * hd + j])
            }
        }
    }

    mutating func advance(to tokens: Int) { self.tokens = tokens }

    /// The K rows of head `g` in `layer`'s buffer (a producer layer), by position.
    ///
    /// The rows stay valid until the cache is next written.
    public func keys(layer: Int, kvHead g: Int) -> KVRows<Float> {
        KVRows(base: head(.k, layer: layer, kvHead: g), stride: layout.headDim)
    }

    /// The V rows of head `g` in `layer`'s buffer (a producer layer), by position.
    ///
    /// The rows stay valid until the cache is next written.
    public func values(layer: Int, kvHead g: Int) -> KVRows<Float> {
        KVRows(base: head(.v, layer: layer, kvHead: g), stride: layout.headDim)
    }

    /// K/V head `g` of `layer`'s buffer at `position`, as stored.
    public func row(_ which: KV, layer: Int, kvHead g: Int, position: Int) -> [Float] {
        let rows = which == .k ? keys(layer: layer, kvHead: g) : values(layer: layer, kvHead: g)
        return Array(UnsafeBufferPointer(start: rows[position], count: layout.headDim))
    }

    public enum KV: Sendable { case k, v }

    /// First element of head `g` of `layer`'s K or V buffer.
    private func head(_ which: KV, layer: Int, kvHead g: Int) -> UnsafeMutablePointer<Float> {
        let buffer = 2 * slot[layer]! + (which == .k ? 0 : 1)
        return storage.elements.baseAddress! + ((buffer * layout.kvHeads + g) * capacityTokens) * layout.headDim
    }

    /// The cache's memory, allocated once. Copies of a `KVCache` (a `DecodeResult` keeps one) share it
    /// until one of them writes, which first takes its own copy, so a cache is still a value.
    private final class Storage: @unchecked Sendable {
        let elements: UnsafeMutableBufferPointer<Float>

        init(count: Int) {
            elements = .allocate(capacity: count)
            elements.initialize(repeating: 0)
        }

        private init(copying other: Storage) {
            elements = .allocate(capacity: other.elements.count)
            _ = elements.initialize(from: other.elements)
        }

        func copy() -> Storage { Storage(copying: self) }

        deinit { elements.deallocate() }
    }
}
