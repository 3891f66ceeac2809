import AttnEngine
import CKernels
import Testing

/// The decoder's C kernels against the plain paths they replace: dequantize-then-`Kernels.dot` for
/// products with stored weight types, the scalar `DetMath.exp` loops for softmax and SwiGLU — bit for
/// bit, at every SIMD level the CPU has, and however the outputs are split between threads.
@Suite("Decoder kernels: stored weight types, softmax, SwiGLU", .serialized)
struct DecoderKernelTests {
    /// `body` at the portable level, AVX2 and AVX-512 (each capped at what the CPU has), the best level restored after.
    func atEachLevel<T>(_ body: () -> T) -> [T] {
        defer { attn_simd_use(attn_simd_best()) }
        return [attn_simd_portable, attn_simd_avx2, attn_simd_avx512].map { level in
            attn_simd_use(level)
            return body()
        }
    }

    static func littleEndian<I: FixedWidthInteger>(_ v: I) -> [UInt8] {
        withUnsafeBytes(of: v.littleEndian) { Array($0) }
    }

    /// `rows × cols` values of `type` as stored: random quantized values, finite scales and minimums
    /// of a weight's size, and for the float types finite values including fp16 subnormals and ±0.
    static func randomRows(_ type: GGMLType, rows: Int, cols: Int, rng: inout SplitMix64) -> [UInt8] {
        func half(_ scale: Double) -> [UInt8] {
            littleEndian(Float16(Float((rng.nextUnitDouble() * 2 - 1) * scale)).bitPattern)
        }
        let elements = rows * cols
        var bytes: [UInt8] = []
        switch type {
        case .f32:
            for _ in 0..<elements { bytes += littleEndian(Float((rng.nextUnitDouble() * 2 - 1) * 3).bitPattern) }
        case .f16:
            for i in 0..<elements {
                // Every 7th a subnormal or a signed zero: the fp16 widening's edge cases.
                bytes += i % 7 == 3 ? littleEndian(UInt16(truncatingIfNeeded: rng.next()) & 0x83ff) : half(8)
            }
        case .bf16:
            for _ in 0..<elements { bytes += littleEndian(UInt16(Float((rng.nextUnitDouble() * 2 - 1) * 3).bitPattern >> 16)) }
        case .q8_0, .q4_0, .q4_1:
            for _ in 0..<(elements / 32) {
                bytes += half(0.05)
                if type == .q4_1 { bytes += half(0.5) }
                bytes += (0..<(type == .q8_0 ? 32 : 16)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            }
        }
        precondition(bytes.count == elements / type.blockElements * type.blockBytes)
        return bytes
    }

    /// Row lengths: odd ones for the float types (every path of the dot: 64-chunks, 16-chunks, tail),
    /// whole blocks for the quantized ones, including a row of one block and the real model's widths.
    static func lengths(_ type: GGMLType) -> [Int] {
        type.blockElements == 1 ? [1, 5, 16, 17, 31, 63, 64, 65, 79, 80, 127, 200, 257] : [32, 64, 96, 160, 224, 576]
    }

    @Test("dequantizing a row in C gives GGMLType.dequantize's values bit for bit", arguments: GGMLType.allCases)
    func dequantizeRow(type: GGMLType) {
        var rng = SplitMix64(seed: 1, stream: "dequantize \(type)")
        for cols in Self.lengths(type) {
            let bytes = Self.randomRows(type, rows: 1, cols: cols, rng: &rng)
            var expected = [Float](repeating: 0, count: cols)
            bytes.withUnsafeBytes { GGMLType.dequantize(type, $0, into: &expected, elements: cols) }
            let m = Holder.matrix(type, rows: 1, cols: cols, bytes)
            for got in atEachLevel({ () -> [Float] in
                var out = [Float](repeating: .nan, count: cols)
                m.row(0, into: &out)
                return out
            }) {
                #expect(got.map(\.bitPattern) == expected.map(\.bitPattern), "\(type), \(cols) values")
            }
        }
    }

    @Test("fp16 specials widen exactly: subnormals, ±0, ±∞, the largest half")
    func halfSpecials() {
        let halves: [UInt16] = [0x0000, 0x8000, 0x0001, 0x03ff, 0x8001, 0x0400, 0x7bff, 0xfbff, 0x7c00, 0xfc00, 0x3c00, 0x3555]
        let bytes = halves.flatMap { Self.littleEndian($0) } + [UInt8](repeating: 0, count: 8)  // 16 values
        let m = Holder.matrix(.f16, rows: 1, cols: 16, bytes)
        for got in atEachLevel({ () -> [Float] in
            var out = [Float](repeating: .nan, count: 16)
            m.row(0, into: &out)
            return out
        }) {
            #expect(got.prefix(halves.count).map(\.bitPattern) == halves.map { Float(Float16(bitPattern: $0)).bitPattern })
        }
    }

    @Test("every one of the 65,536 halves widens as Swift's Float(Float16): as F16 values and as block scales")
    func everyHalf() {
        let halves = (0...UInt16.max).map { $0 }
        let expected = halves.map { Float(Float16(bitPattern: $0)) }
        func same(_ got: [Float]) -> Bool {
            zip(got, expected).allSatisfy { $0.bitPattern == $1.bitPattern || ($0.isNaN && $1.isNaN) }
        }
        let f16 = Holder.matrix(.f16, rows: 1, cols: halves.count, halves.flatMap { Self.littleEndian($0) })
        // Q8_0 blocks whose values are all 1: each dequantizes to its scale d, exactly.
        let q8 = Holder.matrix(.q8_0, rows: 1, cols: 32 * halves.count,
                               halves.flatMap { Self.littleEndian($0) + [UInt8](repeating: 1, count: 32) })
        for got in atEachLevel({ () -> ([Float], [Float]) in
            var a = [Float](repeating: 0, count: halves.count), b = [Float](repeating: 0, count: 32 * halves.count)
            f16.row(0, into: &a)
            q8.row(0, into: &b)
            return (a, stride(from: 0, to: b.count, by: 32).map { b[$0] })
        }) {
            #expect(same(got.0))
            #expect(same(got.1))
        }
    }

    @Test("a product with stored weights is dequantize-then-dot bit for bit, for 1 to 9 tokens and any row split",
          arguments: GGMLType.allCases)
    func storedProduct(type: GGMLType) {
        var rng = SplitMix64(seed: 2, stream: "product \(type)")
        for cols in Self.lengths(type) {
            let rows = 7
            let bytes = Self.randomRows(type, rows: rows, cols: cols, rng: &rng)
            var w = [Float](repeating: 0, count: rows * cols)
            bytes.withUnsafeBytes { GGMLType.dequantize(type, $0, into: &w, elements: rows * cols) }
            var x = [Float](repeating: 0, count: 9 * cols)
            rng.fillNormal(&x, std: 1)
            // The plain path: each output one Float32 dot of a dequantized row.
            var expected = [Float](repeating: 0, count: 9 * rows)
            for b in 0..<9 {
                for r in 0..<rows { expected[b * rows + r] = Kernels.dot(Array(w[(r * cols)...]), Array(x[(b * cols)...]), cols) }
            }
            let m = Holder.matrix(type, rows: rows, cols: cols, bytes)
            bytes.withUnsafeBytes { raw in
                for count in [1, 2, 3, 4, 5, 9] {
                    let want = Array(expected.prefix(count * rows)).map(\.bitPattern)
                    for got in atEachLevel({ () -> [Float] in
                        var y = [Float](repeating: .nan, count: count * rows)
                        Kernels.matmul(m, x, count: count, &y)
                        return y
                    }) {
                        #expect(got.map(\.bitPattern) == want, "\(type), \(cols) values, \(count) tokens")
                    }
                    // Rows computed in two ranges (as two threads do) equal the rows computed at once.
                    for split in [1, 4] {
                        var y = [Float](repeating: .nan, count: count * rows)
                        attn_matmul_rows(attn_weight_type(rawValue: type.rawValue), raw.baseAddress!, m.rowBytes, cols, 0, split, x, count, &y, rows)
                        attn_matmul_rows(attn_weight_type(rawValue: type.rawValue), raw.baseAddress!, m.rowBytes, cols, split, rows, x, count, &y, rows)
                        #expect(y.map(\.bitPattern) == want, "\(type), \(cols) values, \(count) tokens, split at row \(split)")
                    }
                }
            }
        }
    }

    @Test("a product large enough to use both cores equals one dot per output, for one token and for many")
    func parallelProduct() {
        var rng = SplitMix64(seed: 3, stream: "parallel")
        let rows = 601, cols = 576
        let bytes = Self.randomRows(.q4_1, rows: rows, cols: cols, rng: &rng)
        var w = [Float](repeating: 0, count: rows * cols)
        bytes.withUnsafeBytes { GGMLType.dequantize(.q4_1, $0, into: &w, elements: rows * cols) }
        let m = Holder.matrix(.q4_1, rows: rows, cols: cols, bytes)
        let f32 = WeightMatrix(rows: rows, cols: cols, floats: w)
        for count in [1, 37] {
            var x = [Float](repeating: 0, count: count * cols)
            rng.fillNormal(&x, std: 1)
            var expected = [Float](repeating: 0, count: count * rows)
            for b in 0..<count {
                for r in 0..<rows { expected[b * rows + r] = Kernels.dot(Array(w[(r * cols)...]), Array(x[(b * cols)...]), cols) }
            }
            for matrix in [m, f32] {
                var y = [Float](repeating: .nan, count: count * rows)
                Kernels.matmul(matrix, x, count: count, &y)
                #expect(y.map(\.bitPattern) == expected.map(\.bitPattern), "\(matrix.type), \(count) tokens")
            }
        }
    }

    /// `Kernels.softmax` as it was written before it moved to C: the scalar loops it must match.
    static func scalarSoftmax(_ s: inout [Float]) -> (Float, Float) {
        var m = -Float.infinity
        for v in s { m = max(m, v) }
        var l: Float = 0
        for i in s.indices {
            s[i] = DetMath.exp(s[i] - m)
            l += s[i]
        }
        let inv = 1 / l
        for i in s.indices { s[i] *= inv }
        return (m, l)
    }

    @Test("the vector exponential is DetMath.exp bit for bit, across its whole range and its edges")
    func exponential() {
        var xs: [Float] = [0, -0, 1, -1, -110, -110.00001, -109.99999, 100, 100.00001, 88.72, 88.73, 89, -87.3, -103.97, -103.98, -104,
                           -745, -800, 709, 800, .infinity, -.infinity, .greatestFiniteMagnitude, -.greatestFiniteMagnitude,
                           .leastNonzeroMagnitude, -.leastNonzeroMagnitude, 1e-30, -1e-30]
        var x: Float = -120
        while x < 110 {
            xs.append(x)
            x += 0.0137
        }
        let expected = xs.map { DetMath.exp($0).bitPattern }
        for got in atEachLevel({ () -> [Float] in
            var v = xs
            attn_exp_f32(&v, v.count)
            return v
        }) {
            #expect(got.map(\.bitPattern) == expected)
        }
        var nan: [Float] = [.nan]
        attn_exp_f32(&nan, 1)
        #expect(nan[0].isNaN)
    }

    @Test("softmax and SwiGLU are the scalar DetMath loops bit for bit, for every length up to 100")
    func softmaxAndSwiGLU() {
        var rng = SplitMix64(seed: 4, stream: "softmax")
        for n in 1...100 {
            var s = [Float](repeating: 0, count: n)
            rng.fillNormal(&s, std: 6)
            var expected = s
            let (m, l) = Self.scalarSoftmax(&expected)
            for (got, stats) in atEachLevel({ () -> ([Float], (max: Float, sum: Float)) in
                var v = s
                let stats = Kernels.softmax(&v, n)
                return (v, stats)
            }) {
                #expect(got.map(\.bitPattern) == expected.map(\.bitPattern), "softmax of \(n)")
                #expect(stats.max == m && stats.sum == l)
            }

            var a = [Float](repeating: 0, count: n), b = a
            rng.fillNormal(&a, std: 40)  // past ±110, where e^−x is 0 or ∞
            rng.fillNormal(&b, std: 1)
            let gated = zip(a, b).map { x, y in x / (1 + DetMath.exp(-x)) * y }
            for got in atEachLevel({ () -> [Float] in
                var v = a
                Kernels.swiglu(&v, b, n)
                return v
            }) {
                #expect(got.map(\.bitPattern) == gated.map(\.bitPattern), "SwiGLU of \(n)")
            }
        }
    }

    /// The engine's Float32 arithmetic one key at a time: `Float32Attention` without its bulk
    /// `scores` and `accumulate`, so `attend` takes the protocol's per-key defaults.
    struct PerKey: AttentionArithmetic {
        let f: Float32Attention
        func score(_ q: UnsafePointer<Float>, _ k: UnsafePointer<Float>, _ d: Int) -> Float { f.score(q, k, d) }
        func softmax(_ s: UnsafeMutablePointer<Float>, _ n: Int) -> (max: Float, sum: Float) { f.softmax(s, n) }
        func accumulate(_ p: Float, _ v: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ d: Int) { f.accumulate(p, v, out, d) }
    }

    @Test("attention's bulk scores and weighted sums equal one score and one axpy per key, bit for bit")
    func attentionPasses() {
        var rng = SplitMix64(seed: 6, stream: "attention")
        for d in [1, 8, 15, 16, 17, 64, 80, 100, 128] {
            for keys in [1, 2, 7, 33] {
                let stride = d + 3  // rows not packed, as in FullForward's token-major K/V
                var q = [Float](repeating: 0, count: d), k = [Float](repeating: 0, count: keys * stride), v = k
                rng.fillNormal(&q, std: 1)
                rng.fillNormal(&k, std: 1)
                rng.fillNormal(&v, std: 1)
                let visible = keys > 2 ? KeyRanges(0..<1, 2..<keys) : KeyRanges(0..<keys)
                func run<A: AttentionArithmetic>(_ a: A) -> [Float] where A.Scalar == Float {
                    var s = [Float](repeating: .nan, count: keys), o = [Float](repeating: .nan, count: d)
                    k.withUnsafeBufferPointer { kp in
                        v.withUnsafeBufferPointer { vp in
                            _ = Attention.attend(a, q: q, keys: KVRows(base: kp.baseAddress!, stride: stride),
                                                 values: KVRows(base: vp.baseAddress!, stride: stride),
                                                 visible: visible, headDim: d, scores: &s, out: &o)
                        }
                    }
                    return o + s.prefix(visible.count)
                }
                let expected = run(PerKey(f: Float32Attention(headDim: d)))
                for got in atEachLevel({ run(Float32Attention(headDim: d)) }) {
                    #expect(got.map(\.bitPattern) == expected.map(\.bitPattern), "d \(d), \(keys) keys")
                }
            }
        }
    }

    @Test("a whole sequence at once (attention split between cores, blocked products) equals single steps bit for bit")
    func recomputedEqualsStepped() throws {
        let config = try DecoderConfig(layers: 2, dModel: 128, attention: AttentionLayout(qHeads: 8, kvHeads: 2, headDim: 16),
                                       ffn: 352, vocab: 75, ropeBase: 10_000, normEps: 1e-5)
        let weights = DecoderWeights(config: config, seed: 5)
        let tokens = (0..<200).map { ($0 * 37) % 75 }
        let recomputed = FullForward.logits(config: config, weights: weights, tokens: tokens)
        let stepped = Decoder(config: config, weights: weights, capacityTokens: tokens.count, blockTokens: 1)
        let steps = tokens.flatMap { stepped.step(token: $0).logits }
        #expect(recomputed.map(\.bitPattern) == steps.map(\.bitPattern))
        let levels = atEachLevel { FullForward.logits(config: config, weights: weights, tokens: Array(tokens.prefix(40))) }
        #expect(levels[0].map(\.bitPattern) == levels[1].map(\.bitPattern))
    }
}

/// A copy of a test's bytes that a `WeightMatrix` reads in place and keeps alive, as a pretrained
/// model's matrices keep their mapped file.
private final class Holder {
    let pointer: UnsafeMutableRawPointer

    init(_ bytes: [UInt8]) {
        pointer = .allocate(byteCount: max(1, bytes.count), alignment: 64)
        pointer.copyMemory(from: bytes, byteCount: bytes.count)
    }

    deinit { pointer.deallocate() }

    static func matrix(_ type: GGMLType, rows: Int, cols: Int, _ bytes: [UInt8]) -> WeightMatrix {
        let holder = Holder(bytes)
        return WeightMatrix(type: type, rows: rows, cols: cols, bytes: holder.pointer, owner: holder)
    }
}
