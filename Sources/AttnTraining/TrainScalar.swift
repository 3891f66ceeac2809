import AttnEngine
import CKernels

/// The number type a training model computes in. Training runs in `Float` (the C kernels); the
/// gradient tests run the very same code in `Double`, where central finite differences are exact
/// enough to check every gradient to ~1e-7. The handful of primitives below are the only places
/// the two differ: everything else in the forward and backward passes is written once.
public protocol TrainScalar: BinaryFloatingPoint, Sendable {
    /// `Y[n×m] = X[n×k]·W[m×k]ᵀ` (or `+=` with `accumulate`).
    static func nt(_ X: UnsafePointer<Self>, _ W: UnsafePointer<Self>, _ Y: UnsafeMutablePointer<Self>, n: Int, m: Int, k: Int, accumulate: Bool)
    /// `dX[n×k] = dY[n×m]·W[m×k]` (or `+=` with `accumulate`).
    static func nn(_ dY: UnsafePointer<Self>, _ W: UnsafePointer<Self>, _ dX: UnsafeMutablePointer<Self>, n: Int, m: Int, k: Int, accumulate: Bool)
    /// `dW[m×k] += dY[n×m]ᵀ·X[n×k]`.
    static func tn(_ dY: UnsafePointer<Self>, _ X: UnsafePointer<Self>, _ dW: UnsafeMutablePointer<Self>, n: Int, m: Int, k: Int)
    /// Σ a[i]·b[i] in one fixed order.
    static func dot(_ a: UnsafePointer<Self>, _ b: UnsafePointer<Self>, _ n: Int) -> Self
    /// y[i] += α·x[i].
    static func axpy(_ alpha: Self, _ x: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>, _ n: Int)
    /// x[i] ← e^x[i] with `DetMath.exp` (the same bits on every machine).
    static func exp(_ x: UnsafeMutablePointer<Self>, _ n: Int)
}

extension Float: TrainScalar {
    @inline(__always)
    public static func nt(_ X: UnsafePointer<Float>, _ W: UnsafePointer<Float>, _ Y: UnsafeMutablePointer<Float>, n: Int, m: Int, k: Int, accumulate: Bool) {
        Gemm.nt(X, W, Y, n: n, m: m, k: k, accumulate: accumulate)
    }
    @inline(__always)
    public static func nn(_ dY: UnsafePointer<Float>, _ W: UnsafePointer<Float>, _ dX: UnsafeMutablePointer<Float>, n: Int, m: Int, k: Int, accumulate: Bool) {
        Gemm.nn(dY, W, dX, n: n, m: m, k: k, accumulate: accumulate)
    }
    @inline(__always)
    public static func tn(_ dY: UnsafePointer<Float>, _ X: UnsafePointer<Float>, _ dW: UnsafeMutablePointer<Float>, n: Int, m: Int, k: Int) {
        Gemm.tn(dY, X, dW, n: n, m: m, k: k)
    }
    @inline(__always)
    public static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float { Kernels.dot(a, b, n) }
    @inline(__always)
    public static func axpy(_ alpha: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) { Kernels.axpy(alpha, x, y, n) }
    @inline(__always)
    public static func exp(_ x: UnsafeMutablePointer<Float>, _ n: Int) { attn_exp_f32(x, n) }
}

extension Double: TrainScalar {
    public static func nt(_ X: UnsafePointer<Double>, _ W: UnsafePointer<Double>, _ Y: UnsafeMutablePointer<Double>, n: Int, m: Int, k: Int, accumulate: Bool) {
        for i in 0..<n {
            for j in 0..<m {
                let s = dot(X + i * k, W + j * k, k)
                Y[i * m + j] = accumulate ? Y[i * m + j] + s : s
            }
        }
    }
    public static func nn(_ dY: UnsafePointer<Double>, _ W: UnsafePointer<Double>, _ dX: UnsafeMutablePointer<Double>, n: Int, m: Int, k: Int, accumulate: Bool) {
        if !accumulate { dX.update(repeating: 0, count: n * k) }
        for i in 0..<n {
            for j in 0..<m { axpy(dY[i * m + j], W + j * k, dX + i * k, k) }
        }
    }
    public static func tn(_ dY: UnsafePointer<Double>, _ X: UnsafePointer<Double>, _ dW: UnsafeMutablePointer<Double>, n: Int, m: Int, k: Int) {
        for i in 0..<n {
            for j in 0..<m { axpy(dY[i * m + j], X + i * k, dW + j * k, k) }
        }
    }
    public static func dot(_ a: UnsafePointer<Double>, _ b: UnsafePointer<Double>, _ n: Int) -> Double {
        var s = 0.0
        for i in 0..<n { s += a[i] * b[i] }
        return s
    }
    public static func axpy(_ alpha: Double, _ x: UnsafePointer<Double>, _ y: UnsafeMutablePointer<Double>, _ n: Int) {
        for i in 0..<n { y[i] += alpha * x[i] }
    }
    public static func exp(_ x: UnsafeMutablePointer<Double>, _ n: Int) {
        for i in 0..<n { x[i] = DetMath.exp(x[i]) }
    }
}
