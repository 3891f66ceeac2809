/// The decoder's key/value cache: one K and one V buffer per *producer* layer, each
/// `[kv_heads × capacity × head_dim]`, so the rows of one K/V head are contiguous for attention.
/// Consumer layers (CLA) own no buffer; they read their producer's.
public struct KVCache: Sendable {
    public let layout: AttentionLayout
    public let dtype: DType
    public let capacityTokens: Int
    /// Layers that own a buffer, ascending.
    public let producers: [Int]
    /// K per producer, in `producers` order.                         // [kv_heads × capacity × head_dim]
    public private(set) var k: [[Float]]
    /// V per producer, in `producers` order.                         // [kv_heads × capacity × head_dim]
    public private(set) var v: [[Float]]
    /// Tokens written so far (the same for every producer after a whole step).
    public private(set) var tokens: Int = 0
    private let slot: [Int: Int]

    public init(layout: AttentionLayout, producers: [Int], capacityTokens: Int, dtype: DType) {
        self.layout = layout
        self.dtype = dtype
        self.capacityTokens = capacityTokens
        self.producers = producers
        let elements = layout.kvHeads * capacityTokens * layout.headDim
        k = Array(repeating: [Float](repeating: 0, count: elements), count: producers.count)
        v = k
        slot = Dictionary(uniqueKeysWithValues: producers.enumerated().map { ($1, $0) })
    }

    /// Bytes of one token's K and V in one producer layer: `2 · kv_heads · head_dim · bytes/element`.
    public var bytesPerTokenPerLayer: Int { KVBudget.bytesPerTokenPerLayer(layout, dtype) }

    /// Bytes the cache holds now: `kv_layers · tokens · 2 · kv_heads · head_dim · bytes/element`.
    public var bytes: Int { producers.count * tokens * bytesPerTokenPerLayer }

    /// Buffer index of a producer layer.
    public func bufferIndex(ofLayer layer: Int) -> Int { slot[layer]! }

    /// Stores K and V (`[kv_heads × head_dim]` each) of `producer` at `position`, rounded to `dtype`.
    mutating func write(producer: Int, position: Int, k newK: UnsafePointer<Float>, v newV: UnsafePointer<Float>) {
        let b = slot[producer]!, hd = layout.headDim
        for g in 0..<layout.kvHeads {
            let row = (g * capacityTokens + position) * hd
            for j in 0..<hd {
                k[b][row + j] = dtype.round(newK[g * hd + j])
                v[b][row + j] = dtype.round(newV[g * hd + j])
            }
        }
    }

    mutating func advance(to tokens: Int) { self.tokens = tokens }

    /// K/V head `g` of `layer`'s buffer at `position`, as stored.
    public func row(_ which: KV, layer: Int, kvHead g: Int, position: Int) -> ArraySlice<Float> {
        let b = slot[layer]!, start = (g * capacityTokens + position) * layout.headDim
        return (which == .k ? k[b] : v[b])[start..<(start + layout.headDim)]
    }

    public enum KV: Sendable { case k, v }
}
