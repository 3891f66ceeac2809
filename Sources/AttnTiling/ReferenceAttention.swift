import AttnEngine
import Foundation

/// Attention in float64, row by row, with the platform's libm: the truth every simulated run is
/// checked against. Independent of the tiled code paths (no blocks, no online softmax); the forward
/// pass is the engine's one attention routine, `Attention.attend`, run in `Float64Reference`
/// arithmetic over the keys `AttentionMask` lets each row see.
enum ReferenceAttention {
    /// O for the given rows of every query head (all rows when `rows` is nil).  // [q_heads × N × d]
    ///
    /// Each row is computed whole by one core (`Attention.attend` in its plain left-to-right order),
    /// in parts of `rowsPerPart` rows spread over the cores, so the values do not depend on the split.
    static func forward(_ p: TileProblem, rows sample: [Int]?) -> (o: [Double], rowMax: [Double], rowSum: [Double]) {
        let d = p.d, N = p.n, H = p.layout.qHeads, mask = p.mask
        let q = Float64Buffer(p.q), k = Float64Buffer(p.k), v = Float64Buffer(p.v)  // [heads × N × d]
        let o = Float64Buffer(zeros: H * N * d)                                     // [q_heads × N × d]
        let rowMax = Float64Buffer(zeros: H * N), rowSum = Float64Buffer(zeros: H * N)  // [q_heads × N]
        let positions = sample ?? Array(0..<N)
        let partsPerHead = (positions.count + rowsPerPart - 1) / rowsPerPart
        TileParts.forEach(H * partsPerHead) { part in
            let h = part / partsPerHead, first = (part % partsPerHead) * rowsPerPart
            let g = p.layout.kvHead(forQueryHead: h)
            let keys = KVRows(base: k.pointer + g * N * d, stride: d), values = KVRows(base: v.pointer + g * N * d, stride: d)
            let s = UnsafeMutablePointer<Double>.allocate(capacity: N)                 // one row of scores
            defer { s.deallocate() }
            for t in positions[first..<min(positions.count, first + rowsPerPart)] {
                let row = h * N + t
                (rowMax.pointer[row], rowSum.pointer[row]) = Attention.attend(
                    Float64Reference(), q: q.pointer + row * d, keys: keys, values: values,
                    visible: mask.visibleKeys(query: t, keys: N), headDim: d, scores: s, out: o.pointer + row * d)
            }
        }
        return (o.array, rowMax.array, rowSum.array)
    }

    /// Query rows one part of the reference computes.
    static let rowsPerPart = 64

    /// dQ, dK, dV of Σ O ∘ dO, in float64.
    ///
    /// Query rows go in order (heads outside, positions inside), `rowsPerPart` at a time. Each row's
    /// P, dS and dQ row are its own, computed across the cores; then every dK_c, dV_c adds the chunk's
    /// rows in order, the keys split across the cores. Every element sees the additions of the
    /// plain row-by-row loop in the same order, whatever the split.
    static func backward(_ p: TileProblem) -> (dq: [Double], dk: [Double], dv: [Double]) {
        let d = p.d, N = p.n, H = p.layout.qHeads, tau = 1 / Double(d).squareRoot()
        let q = Float64Buffer(p.q), k = Float64Buffer(p.k), v = Float64Buffer(p.v), dO = Float64Buffer(p.dO)  // [heads × N × d]
        let dq = Float64Buffer(zeros: p.q.count), dk = Float64Buffer(zeros: p.k.count), dv = Float64Buffer(zeros: p.v.count)
        let P = Float64Buffer(zeros: rowsPerPart * N), dS = Float64Buffer(zeros: rowsPerPart * N)  // [chunk rows × N]
        let keyParts = min(N, 16)
        for first in stride(from: 0, to: H * N, by: rowsPerPart) {
            let chunk = first..<min(H * N, first + rowsPerPart)                        // rows h·N + t
            TileParts.forEach(chunk.count) { a in
                let row = chunk.lowerBound + a, h = row / N, t = row % N, g = p.layout.kvHead(forQueryHead: h)
                let keys = Array(p.mask.visibleKeys(query: t, keys: N))
                var s = [Double](repeating: 0, count: keys.count)
                for (i, c) in keys.enumerated() {
                    var dot = 0.0
                    for e in 0..<d { dot += q.pointer[row * d + e] * k.pointer[(g * N + c) * d + e] }
                    s[i] = dot * tau
                }
                let m = s.max()!
                let w = s.map { Foundation.exp($0 - m) }
                let z = w.reduce(0, +)
                let Pr = w.map { $0 / z }
                let dOr = dO.pointer + row * d
                let dP = keys.map { c in (0..<d).reduce(0.0) { $0 + dOr[$1] * v.pointer[(g * N + c) * d + $1] } }
                let D = zip(Pr, dP).reduce(0.0) { $0 + $1.0 * $1.1 }
                for (i, c) in keys.enumerated() {
                    let dSi = Pr[i] * (dP[i] - D)
                    P.pointer[a * N + c] = Pr[i]
                    dS.pointer[a * N + c] = dSi
                    for e in 0..<d { dq.pointer[row * d + e] += tau * dSi * k.pointer[(g * N + c) * d + e] }
                }
            }
            TileParts.forEach(keyParts) { part in
                for row in chunk {
                    let a = row - chunk.lowerBound, h = row / N, t = row % N
                    let g = p.layout.kvHead(forQueryHead: h), visible = p.mask.visibleKeys(query: t, keys: N)
                    for range in [visible.first, visible.second] {
                        let mine = range.clamped(to: (part * N / keyParts)..<((part + 1) * N / keyParts))
                        for c in mine {
                            let Pc = P.pointer[a * N + c], dSc = dS.pointer[a * N + c]
                            for e in 0..<d {
                                dv.pointer[(g * N + c) * d + e] += Pc * dO.pointer[row * d + e]
                                dk.pointer[(g * N + c) * d + e] += tau * dSc * q.pointer[row * d + e]
                            }
                        }
                    }
                }
            }
        }
        return (dq.array, dk.array, dv.array)
    }
}

/// Float64 arithmetic in plain left-to-right order with the platform's `exp`: far more precise than
/// any simulated Float32 run, and written independently of the engine's kernels.
package struct Float64Reference: AttentionArithmetic {
    package init() {}

    package func score(_ q: UnsafePointer<Double>, _ k: UnsafePointer<Double>, _ d: Int) -> Double {
        var dot = 0.0
        for e in 0..<d { dot += q[e] * k[e] }
        return dot / Double(d).squareRoot()
    }

    /// `score` for each key, eight keys at a time, lane n of `dot` being key n's sum: eight
    /// independent chains of additions (a single chain waits on each addition before the next),
    /// each key's in its own order, so the same bits.
    package func scores(_ q: UnsafePointer<Double>, _ keys: KVRows<Double>, _ range: Range<Int>, _ d: Int, into s: UnsafeMutablePointer<Double>) {
        let root = Double(d).squareRoot()
        var j = range.lowerBound
        while j + 8 <= range.upperBound {
            let k0 = keys[j], k1 = keys[j + 1], k2 = keys[j + 2], k3 = keys[j + 3]
            let k4 = keys[j + 4], k5 = keys[j + 5], k6 = keys[j + 6], k7 = keys[j + 7]
            var dot = SIMD8<Double>()
            for e in 0..<d {
                dot += SIMD8(repeating: q[e]) * SIMD8(k0[e], k1[e], k2[e], k3[e], k4[e], k5[e], k6[e], k7[e])
            }
            for n in 0..<8 { s[j - range.lowerBound + n] = dot[n] / root }
            j += 8
        }
        for j in j..<range.upperBound { s[j - range.lowerBound] = score(q, keys[j], d) }
    }

    package func softmax(_ s: UnsafeMutablePointer<Double>, _ n: Int) -> (max: Double, sum: Double) {
        var m = s[0]
        for i in 1..<n where s[i] > m { m = s[i] }
        var z = 0.0
        for i in 0..<n {
            s[i] = Foundation.exp(s[i] - m)
            z += s[i]
        }
        for i in 0..<n { s[i] /= z }
        return (m, z)
    }

    package func accumulate(_ p: Double, _ v: UnsafePointer<Double>, _ out: UnsafeMutablePointer<Double>, _ d: Int) {
        for e in 0..<d { out[e] += p * v[e] }
    }

    /// `accumulate` for each key in order, with eight elements of out held in registers across all
    /// the keys instead of loaded and stored for each: every element sees the same additions in the
    /// same order, so the same bits.
    package func accumulate(_ p: UnsafePointer<Double>, _ values: KVRows<Double>, _ range: Range<Int>, _ d: Int, _ out: UnsafeMutablePointer<Double>) {
        let o = UnsafeMutableRawPointer(out)
        var e = 0
        while e + 8 <= d {
            var sum = o.loadUnaligned(fromByteOffset: e * 8, as: SIMD8<Double>.self)
            for j in range {
                let v = UnsafeRawPointer(values[j]).loadUnaligned(fromByteOffset: e * 8, as: SIMD8<Double>.self)
                sum += SIMD8(repeating: p[j - range.lowerBound]) * v
            }
            o.storeBytes(of: sum, toByteOffset: e * 8, as: SIMD8<Double>.self)
            e += 8
        }
        for e in e..<d {
            for j in range { out[e] += p[j - range.lowerBound] * values[j][e] }
        }
    }
}

/// A float64 tensor owned and freed with this object, so the reference hands plain pointers to
/// `Attention.attend`. Converting from Float is exact.
private final class Float64Buffer {
    let pointer: UnsafeMutablePointer<Double>
    let count: Int

    init(zeros count: Int) {
        self.count = count
        pointer = .allocate(capacity: count)
        pointer.initialize(repeating: 0, count: count)
    }

    convenience init(_ x: [Float]) {
        self.init(zeros: x.count)
        for i in x.indices { pointer[i] = Double(x[i]) }
    }

    var array: [Double] { Array(UnsafeBufferPointer(start: pointer, count: count)) }

    deinit { pointer.deallocate() }
}

extension TileProblem {
    /// The engine's mask for this problem: causal, or every key.
    var mask: AttentionMask { causal ? .causal : .none }
}
