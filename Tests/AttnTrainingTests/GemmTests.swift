import AttnEngine
import CKernels
import Testing
import AttnTraining

/// Runs `body` at each SIMD level the CPU has (portable, AVX2, AVX-512), then restores the best.
private func eachLevel(_ body: () throws -> Void) rethrows {
    defer { attn_simd_use(attn_simd_best()) }
    for level in [attn_simd_portable, attn_simd_avx2, attn_simd_avx512] {
        attn_simd_use(level)
        try body()
    }
}

private func bits(_ x: [Float]) -> [UInt32] { x.map(\.bitPattern) }

/// `count` values in [−1, 1) from a fixed stream, some exact zeros among them.
private func values(_ count: Int, seed: UInt64) -> [Float] {
    var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
    return (0..<count).map { _ in
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        let u = Float(state >> 40) / Float(1 << 24) * 2 - 1
        return abs(u) < 0.02 ? 0 : u
    }
}

@Suite("Gemm: the three training products, their summation orders, the same bits on every level and thread count")
struct GemmTests {
    /// Odd sizes and 1s (tails of 16, blocks of 2, 3 and 6 rows cut short), empty reductions (m = 0
    /// for nn, n = 0 for tn), whole blocks of 64, a reduction longer than one chunk of 512, and
    /// products large enough to be split between threads.
    static let shapes: [(n: Int, m: Int, k: Int)] = [
        (1, 1, 1), (3, 0, 5), (0, 4, 5), (1, 7, 3), (5, 7, 9), (3, 1, 17), (13, 37, 70), (6, 24, 64), (67, 19, 129), (7, 600, 33),
        (1100, 9, 21), (130, 70, 100), (61, 131, 256), (40, 520, 75),
    ]

    /// The three products against float64 sums of the same definitions.
    @Test("close to float64 sums", arguments: shapes)
    func matchFloat64(n: Int, m: Int, k: Int) {
        let X = values(n * k, seed: 1), W = values(m * k, seed: 2), dY = values(n * m, seed: 3)
        var Y = [Float](repeating: 0, count: n * m), dX = [Float](repeating: 0, count: n * k), dW = [Float](repeating: 0, count: m * k)
        Gemm.nt(X, W, &Y, n: n, m: m, k: k)
        Gemm.nn(dY, W, &dX, n: n, m: m, k: k)
        Gemm.tn(dY, X, &dW, n: n, m: m, k: k)
        func close(_ got: Float, _ sum: Double, _ terms: Int) -> Bool { abs(Double(got) - sum) <= 1e-6 * Double(terms) }
        for i in 0..<n { for j in 0..<m {
            let s = (0..<k).reduce(0.0) { $0 + Double(X[i * k + $1]) * Double(W[j * k + $1]) }
            #expect(close(Y[i * m + j], s, k))
        } }
        for i in 0..<n { for p in 0..<k {
            let s = (0..<m).reduce(0.0) { $0 + Double(dY[i * m + $1]) * Double(W[$1 * k + p]) }
            #expect(close(dX[i * k + p], s, m))
        } }
        for j in 0..<m { for p in 0..<k {
            let s = (0..<n).reduce(0.0) { $0 + Double(dY[$1 * m + j]) * Double(X[$1 * k + p]) }
            #expect(close(dW[j * k + p], s, n))
        } }
    }

    /// Each element is exactly the sum its doc comment writes out: `Kernels.dot` for `nt`, plain
    /// loops in order for `nn` and `tn`; with `accumulate` the old value plus that sum.
    @Test("each element the documented sum, bit for bit, accumulating or not", arguments: shapes)
    func documentedOrder(n: Int, m: Int, k: Int) {
        let X = values(n * k, seed: 4), W = values(m * k, seed: 5), dY = values(n * m, seed: 6)
        let Y0 = values(n * m, seed: 7), dX0 = values(n * k, seed: 8), dW0 = values(m * k, seed: 9)
        var dot = [Float](repeating: 0, count: n * m), nn = [Float](repeating: 0, count: n * k), tn = [Float](repeating: 0, count: m * k)
        X.withUnsafeBufferPointer { x in W.withUnsafeBufferPointer { w in
            for i in 0..<n { for j in 0..<m { dot[i * m + j] = Kernels.dot(x.baseAddress! + i * k, w.baseAddress! + j * k, k) } }
        } }
        for i in 0..<n { for p in 0..<k {
            var s: Float = 0
            for j in 0..<m { s += dY[i * m + j] * W[j * k + p] }
            nn[i * k + p] = s
        } }
        for j in 0..<m { for p in 0..<k {
            var s: Float = 0
            for i in 0..<n { s += dY[i * m + j] * X[i * k + p] }
            tn[j * k + p] = s
        } }
        eachLevel {
            for accumulate in [false, true] {
                var Y = Y0, dX = dX0
                Gemm.nt(X, W, &Y, n: n, m: m, k: k, accumulate: accumulate)
                Gemm.nn(dY, W, &dX, n: n, m: m, k: k, accumulate: accumulate)
                #expect(bits(Y) == bits(accumulate ? zip(Y0, dot).map { $0 + $1 } : dot), "nt, accumulate \(accumulate)")
                #expect(bits(dX) == bits(accumulate ? zip(dX0, nn).map { $0 + $1 } : nn), "nn, accumulate \(accumulate)")
            }
            var dW = dW0
            Gemm.tn(dY, X, &dW, n: n, m: m, k: k)
            #expect(bits(dW) == bits(zip(dW0, tn).map { $0 + $1 }), "tn")
        }
    }

    /// Training-sized products (split between the threads) give the same bits at every SIMD level,
    /// on one thread and on all cores.
    @Test("portable, AVX2 and AVX-512, one thread and all cores: the same bits")
    func sameBitsEverywhere() {
        let n = 300, m = 260, k = 196
        let X = values(n * k, seed: 10), W = values(m * k, seed: 11), dY = values(n * m, seed: 12), dW0 = values(m * k, seed: 13)
        var prints: [[UInt32]] = []
        eachLevel {
            for single in [true, false] {
                Parallel.$singleThreaded.withValue(single) {
                    var Y = [Float](repeating: 0, count: n * m), dX = [Float](repeating: 0, count: n * k), dW = dW0
                    Gemm.nt(X, W, &Y, n: n, m: m, k: k)
                    Gemm.nn(dY, W, &dX, n: n, m: m, k: k)
                    Gemm.tn(dY, X, &dW, n: n, m: m, k: k)
                    prints.append(bits(Y) + bits(dX) + bits(dW))
                }
            }
        }
        #expect(prints.count == 6)
        for (i, p) in prints.enumerated().dropFirst() { #expect(p == prints[0], "run \(i)") }
    }
}
