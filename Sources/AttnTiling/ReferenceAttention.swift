import Foundation

/// Attention in float64, row by row, with the platform's libm: the truth every simulated run is
/// checked against. Independent of the tiled code paths (no blocks, no online softmax).
enum ReferenceAttention {
    /// O for the given rows of every query head (all rows when `rows` is nil).  // [q_heads × N × d]
    static func forward(_ p: TileProblem, rows sample: [Int]?) -> (o: [Double], rowMax: [Double], rowSum: [Double]) {
        let d = p.d, N = p.n, H = p.layout.qHeads
        var o = [Double](repeating: 0, count: H * N * d)
        var rowMax = [Double](repeating: 0, count: H * N), rowSum = rowMax
        let positions = sample ?? Array(0..<N)
        for h in 0..<H {
            let g = p.layout.kvHead(forQueryHead: h)
            for t in positions {
                let keys = p.causal ? t + 1 : N
                var s = [Double](repeating: 0, count: keys)
                for c in 0..<keys {
                    var dot = 0.0
                    for e in 0..<d { dot += Double(p.q[(h * N + t) * d + e]) * Double(p.k[(g * N + c) * d + e]) }
                    s[c] = dot / Double(d).squareRoot()
                }
                let m = s.max()!
                let w = s.map { Foundation.exp($0 - m) }
                let z = w.reduce(0, +)
                rowMax[h * N + t] = m
                rowSum[h * N + t] = z
                for c in 0..<keys {
                    for e in 0..<d { o[(h * N + t) * d + e] += w[c] / z * Double(p.v[(g * N + c) * d + e]) }
                }
            }
        }
        return (o, rowMax, rowSum)
    }

    /// dQ, dK, dV of Σ O ∘ dO, in float64.
    static func backward(_ p: TileProblem) -> (dq: [Double], dk: [Double], dv: [Double]) {
        let d = p.d, N = p.n, H = p.layout.qHeads, tau = 1 / Double(d).squareRoot()
        var dq = [Double](repeating: 0, count: p.q.count), dk = [Double](repeating: 0, count: p.k.count), dv = dk
        for h in 0..<H {
            let g = p.layout.kvHead(forQueryHead: h)
            for t in 0..<N {
                let keys = p.causal ? t + 1 : N
                var s = [Double](repeating: 0, count: keys)
                for c in 0..<keys {
                    var dot = 0.0
                    for e in 0..<d { dot += Double(p.q[(h * N + t) * d + e]) * Double(p.k[(g * N + c) * d + e]) }
                    s[c] = dot * tau
                }
                let m = s.max()!
                let w = s.map { Foundation.exp($0 - m) }
                let z = w.reduce(0, +)
                let P = w.map { $0 / z }
                let dO = (0..<d).map { Double(p.dO[(h * N + t) * d + $0]) }
                let dP = (0..<keys).map { c in (0..<d).reduce(0.0) { $0 + dO[$1] * Double(p.v[(g * N + c) * d + $1]) } }
                let D = zip(P, dP).reduce(0.0) { $0 + $1.0 * $1.1 }
                for c in 0..<keys {
                    let dS = P[c] * (dP[c] - D)
                    for e in 0..<d {
                        dv[(g * N + c) * d + e] += P[c] * dO[e]
                        dq[(h * N + t) * d + e] += tau * dS * Double(p.k[(g * N + c) * d + e])
                        dk[(g * N + c) * d + e] += tau * dS * Double(p.q[(h * N + t) * d + e])
                    }
                }
            }
        }
        return (dq, dk, dv)
    }
}
