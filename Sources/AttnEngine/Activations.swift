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
    let scores: UnsafeMutablePointer<Float>     // [keys] one query head's scores, then weights
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
        kvElements = a.kvElements
        let sizes = [rows * d, rows * d, rows * d, rows * a.qElements, rows * a.qElements, rows * c.ffn, rows * c.ffn, keys,
                     kvSlots * rows * a.kvElements, kvSlots * rows * a.kvElements]
        memory = .allocate(capacity: sizes.reduce(0, +))
        memory.initialize(repeating: 0)
        var next = memory.baseAddress!
        func take(_ i: Int) -> UnsafeMutablePointer<Float> {
            defer { next += sizes[i] }
            return next
        }
        x = take(0); h = take(1); proj = take(2)
        q = take(3); attnOut = take(4)
        gate = take(5); up = take(6)
        scores = take(7)
        kSlots = take(8); vSlots = take(9)
    }

    deinit { memory.deallocate() }

    /// K of slot `s`.                                              // [rows × kv_heads·head_dim]
    func k(_ s: Int) -> UnsafeMutablePointer<Float> { kSlots + s * rows * kvElements }
    /// V of slot `s`.                                              // [rows × kv_heads·head_dim]
    func v(_ s: Int) -> UnsafeMutablePointer<Float> { vSlots + s * rows * kvElements }
}
