/// The activations of one pass over `rows` tokens, in one Float32 allocation made once and freed with
/// its owner (llm.c's `ActivationTensors`): every field is a plain pointer, so the forward pass hands
/// kernels pointers at top level and reads op by op, without nested `withUnsafe…` closures.
final class Activations {
    let rows: Int
    let x: UnsafeMutablePointer<Float>          // [rows × d_model] the residual stream
    let h: UnsafeMutablePointer<Float>          // [rows × d_model] RMSNorm(x)·gain, the input of Q/K/V and FFN
    let proj: UnsafeMutablePointer<Float>       // [rows × d_model] W_O·o, then W_2·gate
    let q: UnsafeMutablePointer<Float>          // [rows × q_heads·head_dim]
    let attnOut: UnsafeMutablePointer<Float>    // [rows × q_heads·head_dim] o of every query head
    let gate: UnsafeMutablePointer<Float>       // [rows × ffn] W_1·h, then silu(W_1·h)·W_3·h
    let up: UnsafeMutablePointer<Float>         // [rows × ffn] W_3·h
    /// One query head's scores, then weights, for each part of a split attention.
    let scores: UnsafeMutablePointer<Float>     // [Parallel.parts × keys]
    /// Elements from one part's scores to the next.
    let keys: Int
    /// K and V of `kvSlots` producer layers.                     // [kv_slots × rows × kv_heads·head_dim] each
    private let kSlots: UnsafeMutablePointer<Float>, vSlots: UnsafeMutablePointer<Float>
    private let kvElements: Int
    private let memory: UnsafeMutableBufferPointer<Float>

    /// - Parameters:
    ///   - rows: tokens processed together.
    ///   - keys: the most keys one query attends over.
    ///   - kvSlots: producer layers whose K/V are kept here (1 when a cache holds them).
    init(config c: DecoderConfig, rows: Int, keys: Int, kvSlots: Int) {
        let a = c.attention, d = c.dModel
        self.rows = rows
        self.keys = keys
        kvElements = a.kvElements
        memory = .allocate(capacity: rows * (3 * d + 2 * a.qElements + 2 * c.ffn + 2 * kvSlots * a.kvElements) + Parallel.parts * keys)
        memory.initialize(repeating: 0)
        var next = memory.baseAddress!
        func take(_ count: Int) -> UnsafeMutablePointer<Float> {
            defer { next += count }
            return next
        }
        x = take(rows * d); h = take(rows * d); proj = take(rows * d)
        q = take(rows * a.qElements); attnOut = take(rows * a.qElements)
        gate = take(rows * c.ffn); up = take(rows * c.ffn)
        kSlots = take(kvSlots * rows * a.kvElements); vSlots = take(kvSlots * rows * a.kvElements)
        scores = take(Parallel.parts * keys)
        assert(next == memory.baseAddress! + memory.count)
    }

    deinit { memory.deallocate() }

    /// K of slot `s`.                                              // [rows × kv_heads·head_dim]
    func k(_ s: Int) -> UnsafeMutablePointer<Float> { kSlots + s * rows * kvElements }
    /// V of slot `s`.                                              // [rows × kv_heads·head_dim]
    func v(_ s: Int) -> UnsafeMutablePointer<Float> { vSlots + s * rows * kvElements }
}
