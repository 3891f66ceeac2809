import AttnEngine

/// Causal softmax attention for training, any q_heads/kv_heads (MHA, GQA, MQA): query head h reads
/// K/V head h / (q_heads/kv_heads). Rows are tokens (row r = b·T + t); a row of q holds every query
/// head, a row of k and v every K/V head. The probabilities P are kept for the backward pass
/// (llm.c's `att`); only their causal half j ≤ t is ever written or read.
///
/// Both passes split the work by (sequence, K/V head): every gradient a part writes — dq of its
/// query heads, dk and dv of its K/V head — belongs to it alone, and inside a part the group's query
/// heads add into dk, dv in head order, so the sums never depend on the thread count.
struct CausalAttention: Sendable {
    let batch: Int, seq: Int
    let layout: AttentionLayout

    var qWidth: Int { layout.qElements }
    var kvWidth: Int { layout.kvElements }
    /// Elements of P: [batch × q_heads × T × T].
    var probabilityElements: Int { batch * layout.qHeads * seq * seq }

    /// o = softmax(q·kᵀ/√d_h, causal)·v; writes P and o.
    func forward<T: TrainScalar>(q: UnsafePointer<T>, k: UnsafePointer<T>, v: UnsafePointer<T>,
                                 P: UnsafeMutablePointer<T>, o: UnsafeMutablePointer<T>) {
        let T_ = seq, hd = layout.headDim, group = layout.qHeads / layout.kvHeads
        let qW = qWidth, kvW = kvWidth, H = layout.qHeads, kvHeads = layout.kvHeads
        let scale = 1 / T(hd).squareRoot()
        let p = Unchecked((q, k, v, P, o))
        Parallel.forEach(batch * kvHeads) { part in
            let (q, k, v, P, o) = p.value
            let b = part / kvHeads, g = part % kvHeads
            for h in (g * group)..<((g + 1) * group) {
                for t in 0..<T_ {
                    let qt = q + (b * T_ + t) * qW + h * hd, ot = o + (b * T_ + t) * qW + h * hd
                    let s = P + ((b * H + h) * T_ + t) * T_
                    var m = -T.infinity
                    for j in 0...t {
                        s[j] = T.dot(qt, k + (b * T_ + j) * kvW + g * hd, hd) * scale
                        m = max(m, s[j])
                    }
                    for j in 0...t { s[j] -= m }
                    T.exp(s, t + 1)
                    var l: T = 0
                    for j in 0...t { l += s[j] }
                    let inv = 1 / l
                    ot.update(repeating: 0, count: hd)
                    for j in 0...t {
                        s[j] *= inv
                        T.axpy(s[j], v + (b * T_ + j) * kvW + g * hd, ot, hd)
                    }
                }
            }
        }
    }

    /// Given do: dq = (written), dk += and dv += (added: a CLA producer's dk, dv also collect the
    /// gradients of the layers that read its cache). `scratch`: [batch·kv_heads × T].
    func backward<T: TrainScalar>(dout: UnsafePointer<T>, q: UnsafePointer<T>, k: UnsafePointer<T>, v: UnsafePointer<T>,
                                  P: UnsafePointer<T>, dq: UnsafeMutablePointer<T>, dk: UnsafeMutablePointer<T>,
                                  dv: UnsafeMutablePointer<T>, scratch: UnsafeMutablePointer<T>) {
        let T_ = seq, hd = layout.headDim, group = layout.qHeads / layout.kvHeads
        let qW = qWidth, kvW = kvWidth, H = layout.qHeads, kvHeads = layout.kvHeads
        let scale = 1 / T(hd).squareRoot()
        let p = Unchecked((dout, q, k, v, P, dq, dk, dv, scratch))
        Parallel.forEach(batch * kvHeads) { part in
            let (dout, q, k, v, P, dq, dk, dv, scratch) = p.value
            let b = part / kvHeads, g = part % kvHeads
            let dp = scratch + part * T_
            for h in (g * group)..<((g + 1) * group) {
                for t in 0..<T_ {
                    let row = b * T_ + t
                    let qt = q + row * qW + h * hd, dot_ = dout + row * qW + h * hd, dqt = dq + row * qW + h * hd
                    let s = P + ((b * H + h) * T_ + t) * T_
                    // dP_j = do_t · v_j; dv_j += P_j · do_t; Σ_j P_j dP_j.
                    var sum: T = 0
                    for j in 0...t {
                        let vj = (b * T_ + j) * kvW + g * hd
                        dp[j] = T.dot(dot_, v + vj, hd)
                        T.axpy(s[j], dot_, dv + vj, hd)
                        sum += s[j] * dp[j]
                    }
                    // dS_j = P_j (dP_j − Σ) / √d_h; dq_t = Σ_j dS_j k_j; dk_j += dS_j q_t.
                    dqt.update(repeating: 0, count: hd)
                    for j in 0...t {
                        let kj = (b * T_ + j) * kvW + g * hd
                        let dS = s[j] * (dp[j] - sum) * scale
                        T.axpy(dS, k + kj, dqt, hd)
                        T.axpy(dS, qt, dk + kj, hd)
                    }
                }
            }
        }
    }
}
