import AttnEngine
import AttnTiling
import CKernels
import Foundation
import Testing

/// Deterministic test values: N(0, 1) from a seeded stream, with every seventh value a zero of either
/// sign (the sums' signed-zero cases).
private func values(_ count: Int, stream: String) -> [Float] {
    var rng = SplitMix64(seed: 11, stream: stream)
    var x = [Float](repeating: 0, count: count)
    rng.fillNormal(&x, std: 1)
    for i in stride(from: 0, to: count, by: 7) { x[i] = i % 2 == 0 ? 0 : -0.0 }
    return x
}

/// `body` once per SIMD level (portable first), then back to the best level.
private func eachLevel(_ body: () throws -> Void) rethrows {
    defer { attn_simd_use(attn_simd_best()) }
    for level in [attn_simd_portable, attn_simd_avx2, attn_simd_avx512] {
        attn_simd_use(level)
        try body()
    }
}

private func bits(_ x: [Float]) -> [UInt32] { x.map(\.bitPattern) }

@Suite("Tile kernels: the C block kernels against the Swift loops, bit for bit, on each SIMD level")
struct TileKernelTests {
    static let shapes: [(rows: Int, cols: Int, d: Int)] = [(1, 1, 1), (5, 17, 16), (9, 33, 64), (4, 40, 100), (7, 15, 128), (3, 19, 200), (6, 31, 7), (5, 600, 64), (6, 300, 20)]

    @Test("scores: τ · Kernels.dot per element, −∞ past each row's visible keys", arguments: shapes)
    func scores(rows: Int, cols: Int, d: Int) {
        let q = values(rows * d, stream: "q"), k = values(cols * d, stream: "k"), tau: Float = 0.3
        let visible = (0..<rows).map { ($0 * 5) % (cols + 1) }
        var expected = [Float](repeating: 0, count: rows * cols)
        for a in 0..<rows {
            for b in 0..<cols { expected[a * cols + b] = Kernels.dot(q.withUnsafeBufferPointer { $0.baseAddress! + a * d }, k.withUnsafeBufferPointer { $0.baseAddress! + b * d }, d) * tau }
        }
        let masked = expected.indices.map { expected[$0] == expected[$0] && $0 % cols >= visible[$0 / cols] ? -Float.infinity : expected[$0] }
        eachLevel {
            var s = [Float](repeating: 0, count: rows * cols)
            attn_tile_scores(q, d, rows, k, d, cols, d, tau, nil, &s, cols)
            #expect(bits(s) == bits(expected))
            attn_tile_scores(q, d, rows, k, d, cols, d, tau, visible, &s, cols)
            #expect(bits(s) == bits(masked))
        }
    }

    @Test("scores: a row and a key of zeros of either sign give Kernels.dot's signed zero")
    func signedZeros() {
        let d = 64
        for (qSign, kSign) in [(Float(1), Float(1)), (-1, 1), (1, -1), (-1, -1)] {
            let q = [Float](repeating: qSign * 0, count: d), k = [Float](repeating: kSign * 0, count: 3 * d)
            let expected = Kernels.dot(q, k, d)
            eachLevel {
                var s = [Float](repeating: 1, count: 3)
                attn_tile_scores(q, d, 1, k, d, 3, d, 1, nil, &s, 3)
                #expect(s.allSatisfy { $0.bitPattern == expected.bitPattern })
            }
        }
    }

    /// Against the plain loop `o += v_c · (w_c · scale)`, c in order, for every element; rows of v
    /// `d + 3` apart (as the decoder's cache rows are wider than one head).
    @Test("accumulate: the plain loop per element, with one scale or one per row, strided rows of v", arguments: shapes)
    func accumulate(rows: Int, cols: Int, d: Int) {
        let ldv = d + 3
        let w = values(rows * cols, stream: "w"), v = values(cols * ldv, stream: "v"), o0 = values(rows * d, stream: "o")
        let scales = (0..<rows).map { 0.5 + Float($0) / 7 }
        for perRow in [false, true] {
            var expected = o0
            for a in 0..<rows {
                let scale = perRow ? scales[a] : scales[0]
                for e in 0..<d {
                    for c in 0..<cols { expected[a * d + e] += v[c * ldv + e] * (w[a * cols + c] * scale) }
                }
            }
            eachLevel {
                var o = o0
                attn_tile_accumulate(w, cols, rows, cols, scales, perRow ? 1 : 0, v, ldv, d, &o, d)
                #expect(bits(o) == bits(expected), "per row: \(perRow)")
            }
        }
    }

    /// Against float64 `exp` of the same (clamped) argument: within 2 ulp, masked scores exactly 0;
    /// and the same bits at every SIMD level.
    @Test("exp: within 2 ulp of float64 exp on every length up to 40, with the clamps, the same bits on every level")
    func exp() {
        var x = values(40, stream: "x").map { $0 * 30 }
        x[3] = -200
        x[4] = 200
        x[5] = -.infinity
        for n in 0...x.count {
            var levels: [[Float]] = []
            eachLevel {
                var y = x
                Kernels.expShifted(&y, n, shift: 1.5)
                levels.append(y)
            }
            for y in levels { #expect(bits(y) == bits(levels[0]), "n = \(n)") }
            let y = levels[0]
            #expect(y[n...] == x[n...], "n = \(n): past n untouched")
            for i in 0..<n {
                let argument = min(max(Double(x[i] - 1.5), -87), 88), truth = Foundation.exp(argument)
                #expect(abs(Double(y[i]) - truth) <= 2 * Double(Float(truth).ulp), "n = \(n), x = \(x[i]): \(y[i]) vs \(truth)")
            }
        }
    }

    @Test("row max: the sequential Swift.max loop, zeros of either sign and NaN included")
    func rowMax() {
        let x = values(45, stream: "m")
        let cases: [[Float]] = [x, x.map { -abs($0) }, x.map { $0 == 0 ? $0 : -.infinity }, x.map { $0 == 0 ? .nan : $0 },
                                [-0.0, 0, -0.0], [0, -0.0], [], [-.infinity, -.infinity]]
        for values in cases {
            for start in [-Float.infinity, 0, -0.0, 0.5, .nan] {
                var expected = start
                for value in values { expected = Swift.max(expected, value) }
                eachLevel {
                    #expect(attn_row_max(values, values.count, start).bitPattern == expected.bitPattern, "\(values.prefix(3)) from \(start)")
                }
            }
        }
    }

    @Test("row sums: left to right per row, rows of different lengths")
    func rowSums() {
        let rows = 23, cols = 37
        let x = values(rows * cols, stream: "s")
        let counts = (0..<rows).map { ($0 * 11) % (cols + 1) }
        let expected = (0..<rows).map { a in (0..<counts[a]).reduce(Float(0)) { $0 + x[a * cols + $1] } }
        eachLevel {
            var sums = [Float](repeating: 1, count: rows)
            attn_row_sums(x, cols, rows, counts, &sums)
            #expect(bits(sums) == bits(expected))
        }
    }
}

@Suite("Tiled attention: the same bits on every SIMD level and thread count")
struct TileDeterminismTests {
    /// Everything a run reports, as one comparable value (outputs, counts, steps, the check).
    struct Fingerprint: Equatable {
        let o: [UInt32], grads: [UInt32], reads: [Int], writes: [Int], peaks: [Int], flops: [FlopCount?]
        let steps: [String], error: Double?, gradError: Double?

        init(_ r: TileResult) {
            o = bits(r.o)
            grads = bits((r.dq ?? []) + (r.dk ?? []) + (r.dv ?? []))
            reads = r.forward.reads + (r.backward?.reads ?? [])
            writes = r.forward.writes + (r.backward?.writes ?? [])
            peaks = [r.forward.peakSram, r.backward?.peakSram ?? -1]
            flops = [r.forward.flops, r.backward?.flops]
            steps = r.steps.map { s in
                "\(s.index) \(s.phase) \(s.kvHead) \(String(describing: s.i)) \(String(describing: s.j)) \(s.rows) \(s.cols) \(s.masked) "
                    + "\(s.loads.map(\.name)) \(s.loads.map(\.elements)) \(s.stores.map(\.name)) \(s.stores.map(\.elements)) "
                    + "\(s.sramAfter) \(s.sramPeak) \(s.hbmReads) \(s.hbmWrites) \(String(describing: s.watch))"
            }
            error = r.maxAbsError
            gradError = r.maxAbsGradError
        }
    }

    static let cases: [(TileAlgorithm, Bool)] = [(.naive, false), (.naive, true), (.fa1, false), (.fa1, true), (.fa2, false), (.fa2, true)]

    @Test("portable, AVX2 and AVX-512, one thread and all cores: outputs, counts and traced steps", arguments: cases)
    func sameBits(algo: TileAlgorithm, causal: Bool) throws {
        let p = try TileProblem(n: 150, d: 40, qHeads: 4, kvHeads: 2, causal: causal, seed: 5)
        var o = TileOptions(algorithm: algo, sramElements: 3000)
        o.backward = true
        o.recordSteps = true
        o.watchRow = 77
        var prints: [Fingerprint] = []
        try eachLevel {
            for single in [true, false] {
                try TiledAttention.$singleThreaded.withValue(single) { prints.append(Fingerprint(try TiledAttention.run(p, o))) }
            }
        }
        #expect(prints.count == 6)
        for (i, f) in prints.enumerated().dropFirst() { #expect(f == prints[0], "run \(i)") }
        #expect(prints[0].steps.count > 20)
        #expect(try #require(prints[0].error) < 1e-5)
        #expect(try #require(prints[0].gradError) < 1e-4)
    }
}
