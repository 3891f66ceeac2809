import AttnEngine
import CKernels
import Foundation
import Testing

/// The symmetric eigen-decomposition against matrices whose eigen-decomposition is known by
/// construction, and the latent K/V retrofit against the SVD's own theorem (Eckart–Young), the
/// original K and V at full rank, a float64 product, and itself at every SIMD level and thread count.
@Suite("Latent K/V: symmetric eigen-decomposition and the SVD retrofit", .serialized)
struct LatentKVTests {
    // MARK: - Helpers

    /// Q = G_N ⋯ G_1, a product of plane rotations in random planes by random angles: an orthogonal
    /// matrix known without any decomposition.                          // [n × n]
    static func randomOrthogonal(_ n: Int, rotations: Int, rng: inout SplitMix64) -> [Double] {
        var q = [Double](repeating: 0, count: n * n)
        for i in 0..<n { q[i * n + i] = 1 }
        for _ in 0..<rotations {
            let i = Int(rng.next() % UInt64(n))
            let j = (i + 1 + Int(rng.next() % UInt64(n - 1))) % n
            let angle = rng.nextUnitDouble() * 2 * Double.pi
            let c = cos(angle), s = sin(angle)
            for k in 0..<n {
                let a = q[i * n + k], b = q[j * n + k]
                q[i * n + k] = c * a - s * b
                q[j * n + k] = s * a + c * b
            }
        }
        return q
    }

    /// Q Λ Qᵀ in Double, plainly.
    static func compose(_ q: [Double], _ lambda: [Double]) -> [Double] {
        let n = lambda.count
        var a = [Double](repeating: 0, count: n * n)
        for i in 0..<n {
            for j in 0..<n {
                var s = 0.0
                for k in 0..<n { s += q[i * n + k] * lambda[k] * q[j * n + k] }
                a[i * n + j] = s
            }
        }
        return a
    }

    /// max over j of ‖A v_j − λ_j v_j‖ and of |v_iᵀ v_j − δ_ij|.
    static func residuals(_ a: [Double], _ e: SymmetricEigen) -> (eigen: Double, orthonormal: Double) {
        let n = e.n
        var eigen = 0.0, orthonormal = 0.0
        for j in 0..<n {
            let v = Array(e.vector(j))
            var r = 0.0
            for i in 0..<n {
                var av = 0.0
                for k in 0..<n { av += a[i * n + k] * v[k] }
                r += (av - e.values[j] * v[i]) * (av - e.values[j] * v[i])
            }
            eigen = max(eigen, r.squareRoot())
            for i in 0..<n {
                let dot = zip(e.vector(i), v).reduce(0) { $0 + $1.0 * $1.1 }
                orthonormal = max(orthonormal, abs(dot - (i == j ? 1 : 0)))
            }
        }
        return (eigen, orthonormal)
    }

    /// M M ᵀ by the plain triple loop (not `LatentBasis`'s order).
    static func gram(_ m: [Double], rows: Int, cols: Int) -> [Double] {
        var g = [Double](repeating: 0, count: rows * rows)
        for i in 0..<rows {
            for j in 0..<rows {
                var s = 0.0
                for c in 0..<cols { s += m[i * cols + c] * m[j * cols + c] }
                g[i * rows + j] = s
            }
        }
        return g
    }

    /// A producer layer's [k; v] = [W_K h; W_V h] for `tokens` random hidden states, by the decoder's
    /// own product.                                                     // [tokens × 2E]
    static func kvRows(_ weights: DecoderWeights, set: Int, tokens: Int, dModel: Int, seed: UInt64) -> [Float] {
        var h = [Float](repeating: 0, count: tokens * dModel)
        var rng = SplitMix64(seed: seed, stream: "latent.h")
        rng.fillNormal(&h, std: 1)
        let wk = weights.attention[set].wk!, wv = weights.attention[set].wv!
        var k = [Float](repeating: 0, count: tokens * wk.rows), v = k
        Kernels.matmul(wk, h, count: tokens, &k)
        Kernels.matmul(wv, h, count: tokens, &v)
        var kv: [Float] = []
        for t in 0..<tokens {
            kv.append(contentsOf: k[t * wk.rows ..< (t + 1) * wk.rows])
            kv.append(contentsOf: v[t * wv.rows ..< (t + 1) * wv.rows])
        }
        return kv
    }

    /// project then expand.
    static func roundTrip(_ latent: LatentKV, layer: Int, _ kv: [Float], rows: Int) -> [Float] {
        var c = [Float](repeating: 0, count: rows * latent.rank)
        var back = [Float](repeating: 0, count: kv.count)
        latent.project(layer: layer, kv: kv, rows: rows, into: &c)
        latent.expand(layer: layer, latent: c, rows: rows, into: &back)
        return back
    }

    /// ‖a − b‖ / ‖b‖ in Double.
    static func relativeError(_ a: [Float], _ b: [Float]) -> Double {
        let diff = zip(a, b).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) }
        let norm = b.reduce(0.0) { $0 + Double($1) * Double($1) }
        return (diff / norm).squareRoot()
    }

    // MARK: - The eigen-decomposition

    @Test("a diagonal matrix: its entries, largest first, and the unit vectors")
    func diagonal() {
        let e = SymmetricEigen([3, 0, 0, 0,
                                0, -1, 0, 0,
                                0, 0, 5, 0,
                                0, 0, 0, 0], n: 4)
        #expect(e.values == [5, 3, 0, -1])
        #expect(Array(e.vector(0)) == [0, 0, 1, 0])
        #expect(Array(e.vector(1)) == [1, 0, 0, 0])
        #expect(Array(e.vector(2)) == [0, 0, 0, 1])
        #expect(Array(e.vector(3)) == [0, 1, 0, 0])
        #expect(SymmetricEigen([7], n: 1).values == [7])
        #expect(SymmetricEigen([], n: 0).values.isEmpty)
    }

    @Test("[[2, 1], [1, 2]]: 3 along (1, 1)/√2, 1 along (1, −1)/√2 (ties in size: the first component positive)")
    func twoByTwo() {
        let e = SymmetricEigen([2, 1, 1, 2], n: 2)
        let h = 0.5.squareRoot()
        #expect(abs(e.values[0] - 3) < 1e-15 && abs(e.values[1] - 1) < 1e-15)
        let expected = [h, h, h, -h]
        #expect(zip(e.vectors, expected).allSatisfy { abs($0 - $1) < 1e-15 })
    }

    @Test("A = Q Λ Qᵀ from known rotations: Λ and Q recovered (up to sign) to 1e-10", arguments: [3, 17, 64, 150])
    func knownDecomposition(n: Int) {
        var rng = SplitMix64(seed: UInt64(n), stream: "eigen.known")
        let q = Self.randomOrthogonal(n, rotations: 6 * n, rng: &rng)
        // Distinct eigenvalues spread over [−3, 5), some of each sign, 1/(2n) apart at least.
        var lambda = (0..<n).map { -3 + 8 * Double($0) / Double(n) + rng.nextUnitDouble() / Double(2 * n) }
        for i in stride(from: n - 1, to: 0, by: -1) { lambda.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
        let a = Self.compose(q, lambda)
        let e = SymmetricEigen(a, n: n)
        let sortedLambda = lambda.sorted(by: >)
        #expect(zip(e.values, sortedLambda).allSatisfy { abs($0 - $1) < 1e-10 }, "eigenvalues")
        for j in 0..<n {
            // λ_j is lambda[k] for one k, whose eigenvector is Q's column k.
            let k = lambda.firstIndex(of: sortedLambda[j])!
            let dot = zip(e.vector(j), (0..<n).map { q[$0 * n + k] }).reduce(0) { $0 + $1.0 * $1.1 }
            #expect(abs(abs(dot) - 1) < 1e-10, "eigenvector \(j)")
            let v = e.vector(j)
            let largest = v.indices.max { abs(v[$0]) < abs(v[$1]) }!
            #expect(v[largest] > 0, "sign of eigenvector \(j)")
        }
        let r = Self.residuals(a, e)
        #expect(r.eigen < 1e-12 * Double(n) && r.orthonormal < 1e-13 * Double(n), "\(r)")
    }

    @Test("repeated eigenvalues and a singular matrix: still an orthonormal basis of eigenvectors")
    func repeatedEigenvalues() {
        let n = 40
        var rng = SplitMix64(seed: 5, stream: "eigen.repeated")
        let q = Self.randomOrthogonal(n, rotations: 240, rng: &rng)
        let lambda = (0..<n).map { [2.0, 2.0, 0.0, -1.0][$0 % 4] }
        let a = Self.compose(q, lambda)
        let e = SymmetricEigen(a, n: n)
        #expect(zip(e.values, lambda.sorted(by: >)).allSatisfy { abs($0 - $1) < 1e-12 })
        let r = Self.residuals(a, e)
        #expect(r.eigen < 1e-12 && r.orthonormal < 1e-12, "\(r)")
    }

    // MARK: - The truncated SVD

    @Test("Eckart–Young: ‖M − U_r U_rᵀ M‖²_F = Σ_{i ≥ r} σᵢ² at every rank", arguments: [(24, 40), (30, 12)])
    func eckartYoung(rows: Int, cols: Int) {
        var rng = SplitMix64(seed: UInt64(rows * cols), stream: "eckart-young")
        let m = (0..<rows * cols).map { _ in rng.nextUnitDouble() * 2 - 1 }
        let e = SymmetricEigen(Self.gram(m, rows: rows, cols: cols), n: rows)
        let squares = e.values.map { max($0, 0) }
        let total = squares.reduce(0, +)
        for r in 0...rows {
            // Each column x of M leaves x − U_r (U_rᵀ x).
            var error = 0.0
            for c in 0..<cols {
                let x = (0..<rows).map { m[$0 * cols + c] }
                var projected = [Double](repeating: 0, count: rows)
                for j in 0..<r {
                    let u = e.vector(j)
                    let coefficient = zip(u, x).reduce(0) { $0 + $1.0 * $1.1 }
                    for i in 0..<rows { projected[i] += coefficient * u[u.startIndex + i] }
                }
                error += zip(x, projected).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
            }
            let tail = squares[r...].reduce(0, +)
            #expect(abs(error - tail) < 1e-10 * total, "rank \(r): \(error) vs \(tail)")
        }
        // M has rank min(rows, cols): the Gram matrix's other eigenvalues are zero.
        #expect(squares[min(rows, cols)...].allSatisfy { $0 < 1e-12 * total })
    }

    /// Small decoders: 2E = 64 > d_model = 32 (rank bounded by d_model), 2E = 32 < d_model = 64 (U
    /// square), with CLA and with ALBERT-style sharing, so layers map to the right weight sets.
    static let smallModels: [(String, DecoderConfig)] = [
        ("2E > d_model", try! smallConfig()),
        ("2E < d_model", try! smallConfig(dModel: 64, kvHeads: 2)),
        ("CLA2", try! smallConfig(kvHeads: 2, pattern: .cla(2))),
        ("shared weights", try! smallConfig(layers: 3, sharing: .all)),
    ]

    @Test("full rank returns K and V of every producer layer within Float32 rounding", arguments: smallModels.indices)
    func fullRankSmall(_ index: Int) throws {
        let (name, config) = Self.smallModels[index]
        let weights = DecoderWeights(config: config, seed: 3)
        let basis = try LatentBasis(config: config, weights: weights)
        #expect(basis.maxRank == min(2 * config.attention.kvElements, config.dModel), "\(name)")
        let latent = try basis.truncated(rank: basis.maxRank)
        let tokens = 20
        for l in config.kvMap.producers {
            let kv = Self.kvRows(weights, set: config.weightSharing.attentionSet(layer: l), tokens: tokens, dModel: config.dModel, seed: UInt64(l))
            let error = Self.relativeError(Self.roundTrip(latent, layer: l, kv, rows: tokens), kv)
            #expect(error < 1e-5, "\(name), layer \(l): \(error)")
            #expect(abs(latent.energyKept(layer: l) - 1) < 1e-12)
            // The singular values agree with an independent Gram matrix's eigenvalues.
            let set = config.weightSharing.attentionSet(layer: l)
            let m = (weights.attention[set].wk!.floats + weights.attention[set].wv!.floats).map(Double.init)
            let reference = SymmetricEigen(Self.gram(m, rows: basis.kvRowElements, cols: config.dModel), n: basis.kvRowElements)
            let sigma = basis.singularValues(layer: l)
            #expect(zip(sigma, reference.values).allSatisfy { abs($0 * $0 - max($1, 0)) < 1e-9 * reference.values[0] }, "\(name), layer \(l)")
        }
    }

    @Test("error falls with rank, as Eckart–Young predicts; down is up transposed")
    func errorFallsWithRank() throws {
        let config = try smallConfig(dModel: 64, kvHeads: 2)
        let weights = DecoderWeights(config: config, seed: 9)
        let basis = try LatentBasis(config: config, weights: weights)
        let kv = Self.kvRows(weights, set: 1, tokens: 50, dModel: config.dModel, seed: 4)
        var previous = Double.infinity, previousEnergy = 0.0
        for r in 1...basis.maxRank {
            let latent = try basis.truncated(rank: r)
            let error = Self.relativeError(Self.roundTrip(latent, layer: 1, kv, rows: 50), kv)
            #expect(error < previous, "rank \(r)")
            #expect(latent.energyKept(layer: 1) > previousEnergy, "rank \(r)")
            previous = error
            previousEnergy = latent.energyKept(layer: 1)
            let down = latent.down(layer: 1), up = latent.up(layer: 1), w = basis.kvRowElements
            #expect((0..<r).allSatisfy { j in (0..<w).allSatisfy { down[j * w + $0] == up[$0 * r + j] } })
        }
    }

    @Test("project and expand against a float64 loop")
    func againstFloat64() throws {
        let config = try smallConfig()
        let weights = DecoderWeights(config: config, seed: 2)
        let latent = try LatentBasis(config: config, weights: weights).truncated(rank: 13)
        let rows = 7, w = latent.kvRowElements, r = latent.rank
        let kv = Self.kvRows(weights, set: 2, tokens: rows, dModel: config.dModel, seed: 8)
        var c = [Float](repeating: 0, count: rows * r), back = kv
        latent.project(layer: 2, kv: kv, rows: rows, into: &c)
        latent.expand(layer: 2, latent: c, rows: rows, into: &back)
        let down = latent.down(layer: 2), up = latent.up(layer: 2)
        for t in 0..<rows {
            for j in 0..<r {
                let s = (0..<w).reduce(0.0) { $0 + Double(kv[t * w + $1]) * Double(down[j * w + $1]) }
                #expect(abs(Double(c[t * r + j]) - s) < 1e-5 * max(1, abs(s)))
            }
            for i in 0..<w {
                let s = (0..<r).reduce(0.0) { $0 + Double(c[t * r + $1]) * Double(up[i * r + $1]) }
                #expect(abs(Double(back[t * w + i]) - s) < 1e-5 * max(1, abs(s)))
            }
        }
    }

    @Test("portable, AVX2 and AVX-512, one thread and all cores: the same bits")
    func sameBitsEverywhere() throws {
        let config = try smallConfig(dModel: 64, kvHeads: 4)
        let weights = DecoderWeights(config: config, seed: 6)
        let rows = 300                                                   // 300 · 64 · 32 products: split
        let kv = Self.kvRows(weights, set: 0, tokens: rows, dModel: config.dModel, seed: 1)
        var prints: [[UInt32]] = []
        defer { attn_simd_use(attn_simd_best()) }
        for level in [attn_simd_portable, attn_simd_avx2, attn_simd_avx512] {
            attn_simd_use(level)
            for single in [true, false] {
                try Parallel.$singleThreaded.withValue(single) {
                    let latent = try LatentBasis(config: config, weights: weights).truncated(rank: 32)
                    var c = [Float](repeating: 0, count: rows * latent.rank)
                    latent.project(layer: 0, kv: kv, rows: rows, into: &c)
                    let back = Self.roundTrip(latent, layer: 0, kv, rows: rows)
                    prints.append((latent.down(layer: 0) + latent.down(layer: 3) + c + back).map(\.bitPattern))
                }
            }
        }
        #expect(prints.count == 6)
        for (i, p) in prints.enumerated().dropFirst() { #expect(p == prints[0], "run \(i)") }
    }

    @Test("a rank ≤ 0 or above the full rank is refused, naming the latent-rank field and the bound")
    func badRanks() throws {
        let wide = try smallConfig(dModel: 64, kvHeads: 2)               // 2E = 32 ≤ d_model = 64
        let narrow = try smallConfig()                                   // 2E = 64 > d_model = 32
        let basis = try LatentBasis(config: wide, weights: DecoderWeights(config: wide, seed: 1))
        for (config, rank, words) in [(wide, 0, "positive"), (wide, -3, "positive"), (wide, 33, "2·kv_heads·head_dim"),
                                      (narrow, 33, "d_model"), (narrow, 65, "d_model")] {
            #expect {
                try LatentKV.validate(rank: rank, config: config)
            } throws: { error in
                guard let e = error as? ConfigError else { return false }
                return e.subject == .fields([.kvLatentRank]) && e.reason.contains(words)
            }
        }
        #expect(throws: ConfigError.self) { try basis.truncated(rank: 33) }
        #expect(throws: ConfigError.self) { try basis.truncated(rank: 0) }
        try LatentKV.validate(rank: 32, config: wide)
        try LatentKV.validate(rank: 32, config: narrow)
        #expect(try basis.truncated(rank: 32).storage == .latent(rank: 32))
    }

    @Test("weights that are not finite have no SVD: a plain error, not a trap")
    func notFinite() throws {
        let config = try smallConfig(layers: 2)
        var weights = DecoderWeights(config: config, seed: 1)
        var wv = weights.attention[1].wv!.floats
        wv[5] = .nan
        weights.attention[1].wv = WeightMatrix(rows: config.attention.kvElements, cols: config.dModel, floats: wv)
        #expect(throws: ConfigError(.model, "layer 1's W_K or W_V holds a value that is not finite, so it has no SVD to take a latent from")) {
            try LatentBasis(config: config, weights: weights)
        }
    }

    // MARK: - SmolLM2-135M

    /// SmolLM2's basis, computed once for the tests that need it.
    static let smolLM2: Result<PretrainedBasis, any Error> = Result {
        let m = try RealModel.load()
        return PretrainedBasis(config: m.config, weights: m.weights, basis: try LatentBasis(config: m.config, weights: m.weights))
    }

    struct PretrainedBasis: Sendable {
        let config: DecoderConfig
        let weights: DecoderWeights
        let basis: LatentBasis
    }

    @Test("SmolLM2-135M at full rank 384: K and V of every layer back within Float32 rounding; error falls with rank",
          .enabled(if: RealModel.runs, "models/SmolLM2-135M-Instruct.Q4_1.gguf is not fetched (attnlab model fetch)"))
    func smolLM2FullRank() throws {
        let s = try Self.smolLM2.get()
        #expect(s.basis.maxRank == 384 && s.basis.kvRowElements == 384)
        let full = try s.basis.truncated(rank: 384)
        let tokens = 16
        for l in 0..<s.config.layers {
            let kv = Self.kvRows(s.weights, set: l, tokens: tokens, dModel: s.config.dModel, seed: UInt64(l))
            let error = Self.relativeError(Self.roundTrip(full, layer: l, kv, rows: tokens), kv)
            #expect(error < 1e-5, "layer \(l): \(error)")
        }
        var previous = Double.infinity
        for r in [32, 64, 128, 192, 256, 384] {
            let latent = try s.basis.truncated(rank: r)
            let kv = Self.kvRows(s.weights, set: 7, tokens: tokens, dModel: s.config.dModel, seed: 1)
            let error = Self.relativeError(Self.roundTrip(latent, layer: 7, kv, rows: tokens), kv)
            #expect(error < previous, "rank \(r)")
            previous = error
        }
        #expect(throws: ConfigError.self) { try s.basis.truncated(rank: 385) }
    }
}
