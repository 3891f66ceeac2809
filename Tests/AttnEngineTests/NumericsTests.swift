import AttnEngine
import Foundation
import Testing

@Suite("Deterministic numerics")
struct NumericsTests {
    @Test("SplitMix64 matches Vigna's reference outputs for seed 0")
    func splitMix() {
        var rng = SplitMix64(seed: 0)
        #expect(rng.next() == 0xe220_a839_7b1d_cdaf)
        #expect(rng.next() == 0x6e78_9e6a_a1b9_65f4)
        #expect(rng.next() == 0x06c4_5d18_8009_454f)
    }

    @Test("DetMath agrees with the platform's libm to a few ulps")
    func elementary() {
        func ulps(_ a: Double, _ b: Double) -> Double { abs(a - b) / max(b.ulp, Double.leastNormalMagnitude) }
        var x = -700.0
        while x < 700 {
            #expect(ulps(DetMath.exp(x), Foundation.exp(x)) <= 2, "exp(\(x))")
            x += 0.731
        }
        for v in [1e-300, 1e-10, 0.5, 0.7071, 1, 1.4142, 2, 3, 10, 12345.678, 1e300] {
            #expect(abs(DetMath.log(v) - Foundation.log(v)) <= 2 * Foundation.log(v).magnitude.ulp + 1e-16, "log(\(v))")
        }
        var angle = -1000.0
        while angle < 1000 {
            let (s, c) = DetMath.sincos(angle)
            #expect(abs(s - Foundation.sin(angle)) < 1e-15 && abs(c - Foundation.cos(angle)) < 1e-15, "sincos(\(angle))")
            angle += 0.917
        }
        #expect(DetMath.exp(0.0) == 1 && DetMath.log(1.0) == 0)
        #expect(DetMath.exp(-1000.0) == 0 && DetMath.exp(1000.0) == .infinity)
    }

    @Test("DetMath.log returns IEEE-754's special values at the edges, and returns for every input")
    func logEdges() {
        for x in [-1.0, -.leastNonzeroMagnitude, -.infinity, .nan, -.nan] { #expect(DetMath.log(x).isNaN, "log(\(x))") }
        #expect(DetMath.log(0.0) == -.infinity && DetMath.log(-0.0) == -.infinity)
        #expect(DetMath.log(Double.infinity) == .infinity)
        // Subnormals take the rescaling path; the smallest one is −1074·ln 2.
        for x in [Double.leastNonzeroMagnitude, 0x1p-1030, Double.leastNormalMagnitude.nextDown] {
            #expect(abs(DetMath.log(x) - Foundation.log(x)) <= 4 * Foundation.log(x).magnitude.ulp, "log(\(x))")
        }
    }

    @Test("normal draws have mean 0 and the requested standard deviation")
    func normal() {
        var rng = SplitMix64(seed: 9)
        var values = [Float](repeating: 0, count: 200_000)
        rng.fillNormal(&values, std: 2)
        let mean = values.reduce(0.0) { $0 + Double($1) } / Double(values.count)
        let variance = values.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / Double(values.count)
        #expect(abs(mean) < 0.02)
        #expect(abs(variance.squareRoot() - 2) < 0.02)
    }

    @Test("the fixed-order dot product equals a float64 sum to float32 precision, for every length up to 300")
    func dot() {
        var rng = SplitMix64(seed: 4)
        for n in 0...300 {
            var a = [Float](repeating: 0, count: n), b = a
            rng.fillNormal(&a, std: 1)
            rng.fillNormal(&b, std: 1)
            let exact = zip(a, b).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            let scale = zip(a, b).reduce(0.0) { $0 + abs(Double($1.0) * Double($1.1)) }
            #expect(abs(Double(Kernels.dot(a, b, n)) - exact) <= 1e-6 * max(1, scale), "n = \(n)")
        }
    }

    @Test("bf16 rounding: round to nearest even on the upper 16 bits")
    func bf16() {
        #expect(DType.bf16.round(1.0) == 1.0)
        #expect(DType.bf16.round(Float(bitPattern: 0x3f80_8000)) == 1.0)  // tie → even (…80 stays)
        #expect(DType.bf16.round(Float(bitPattern: 0x3f81_8000)) == Float(bitPattern: 0x3f82_0000))  // tie → even (up)
        #expect(DType.bf16.round(Float(bitPattern: 0x3f80_8001)) == Float(bitPattern: 0x3f81_0000))
    }
}
