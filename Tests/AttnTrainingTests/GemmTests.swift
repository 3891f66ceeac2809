import Testing
import AttnTraining

@Suite struct GemmTests {
    /// The three products against float64 sums of the same definitions.
    @Test func productsMatchFloat64() {
        let n = 5, m = 7, k = 9
        let X = (0..<(n * k)).map { Float(($0 * 37) % 11) / 7 - 0.6 }
        let W = (0..<(m * k)).map { Float(($0 * 53) % 13) / 9 - 0.7 }
        let dY = (0..<(n * m)).map { Float(($0 * 29) % 17) / 11 - 0.8 }
        var Y = [Float](repeating: 0, count: n * m), dX = [Float](repeating: 0, count: n * k), dW = [Float](repeating: 0, count: m * k)
        Gemm.nt(X, W, &Y, n: n, m: m, k: k)
        Gemm.nn(dY, W, &dX, n: n, m: m, k: k)
        Gemm.tn(dY, X, &dW, n: n, m: m, k: k)
        for i in 0..<n { for j in 0..<m {
            let s = (0..<k).reduce(0.0) { $0 + Double(X[i * k + $1]) * Double(W[j * k + $1]) }
            #expect(abs(Double(Y[i * m + j]) - s) < 1e-5)
        } }
        for i in 0..<n { for p in 0..<k {
            let s = (0..<m).reduce(0.0) { $0 + Double(dY[i * m + $1]) * Double(W[$1 * k + p]) }
            #expect(abs(Double(dX[i * k + p]) - s) < 1e-5)
        } }
        for j in 0..<m { for p in 0..<k {
            let s = (0..<n).reduce(0.0) { $0 + Double(dY[$1 * m + j]) * Double(X[$1 * k + p]) }
            #expect(abs(Double(dW[j * k + p]) - s) < 1e-5)
        } }
    }
}
