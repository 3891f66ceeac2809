/// The three matrix products of training, row-major, Float32: the forward `Y = X·Wᵀ` and the two
/// products of its backward pass. Every output element is a sum taken in one fixed order, whatever
/// the thread count, so a step gives the same bits on any machine.
public enum Gemm {
    /// `Y[n×m] = X[n×k] · W[m×k]ᵀ`, or `+=` with `accumulate`.
    public static func nt(_ X: UnsafePointer<Float>, _ W: UnsafePointer<Float>, _ Y: UnsafeMutablePointer<Float>,
                          n: Int, m: Int, k: Int, accumulate: Bool = false) {
        for i in 0..<n {
            for j in 0..<m {
                var s: Float = 0
                for p in 0..<k { s += X[i * k + p] * W[j * k + p] }
                Y[i * m + j] = accumulate ? Y[i * m + j] + s : s
            }
        }
    }

    /// `dX[n×k] = dY[n×m] · W[m×k]`, or `+=` with `accumulate`: the gradient of `nt`'s input.
    public static func nn(_ dY: UnsafePointer<Float>, _ W: UnsafePointer<Float>, _ dX: UnsafeMutablePointer<Float>,
                          n: Int, m: Int, k: Int, accumulate: Bool = false) {
        for i in 0..<n {
            for p in 0..<k {
                var s: Float = 0
                for j in 0..<m { s += dY[i * m + j] * W[j * k + p] }
                dX[i * k + p] = accumulate ? dX[i * k + p] + s : s
            }
        }
    }

    /// `dW[m×k] += dY[n×m]ᵀ · X[n×k]`: the gradient of `nt`'s weight, summed over the n rows in order.
    public static func tn(_ dY: UnsafePointer<Float>, _ X: UnsafePointer<Float>, _ dW: UnsafeMutablePointer<Float>,
                          n: Int, m: Int, k: Int) {
        for j in 0..<m {
            for p in 0..<k {
                var s: Float = 0
                for i in 0..<n { s += dY[i * m + j] * X[i * k + p] }
                dW[j * k + p] += s
            }
        }
    }
}
