import CKernels

/// The few dense kernels the decoder needs, on contiguous Float32 buffers (and weight matrices in
/// their stored types, `WeightMatrix`).
///
/// Every reduction has one fixed order written out here (16 lanes × 4 accumulators, then a fixed
/// tree, then the tail in sequence), so results are bit-identical on any machine: `SIMD16<Float>`
/// arithmetic is lane-wise IEEE whatever vector width the CPU has, and nothing is fused into FMAs.
public enum Kernels {
    /// The instruction set the C kernels run with on this machine ("AVX-512", "AVX2" or "portable"),
    /// for `bench` to report: the bits are the same whichever it is.
    public static var instructionSet: String {
        switch attn_simd_current() {
        case attn_simd_avx512: "AVX-512"
        case attn_simd_avx2: "AVX2"
        default: "portable"
        }
    }

    /// Σ a[i]·b[i] for i in 0..<n, in AttnLab's fixed order (`attn_dot_f32`: AVX2 where the CPU has
    /// it, the same bits either way).
    @inline(__always)
    public static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        attn_dot_f32(a, b, n)
    }

    /// Y[b, r] = Σ_c W[r, c]·X[b, c] for `count` rows of X, W in its stored type: each output is
    /// `dot(W row r dequantized, X row b)` bit for bit (`attn_matmul_rows`). One row of X streams W
    /// as stored; several reuse each dequantized pair of rows of W for every row of X.
    ///
    /// Large products split W's rows into `Parallel.parts` fixed parts shared by both cores (each
    /// output is still computed whole by one thread, so the split cannot change a bit). Small ones
    /// stay on one: for the demo models (d_model 256) handing rows to a second thread was measured
    /// slower than the product itself.
    public static func matmul(_ W: WeightMatrix, _ X: UnsafePointer<Float>, count: Int, _ Y: UnsafeMutablePointer<Float>) {
        matmul([(W, Y)], X, count: count)
    }

    /// `matmul` of several matrices by the same X (W_Q, W_K, W_V; W_1, W_3) in one split between the
    /// cores: each part computes its share of the rows of every matrix, so the threads meet once.
    public static func matmul(_ products: [(W: WeightMatrix, Y: UnsafeMutablePointer<Float>)], _ X: UnsafePointer<Float>, count: Int) {
        let work = products.reduce(0) { $0 + $1.W.rows * $1.W.cols } * count
        let parts = work >= parallelMultiplies ? Parallel.parts : 1
        let shared = Shared((products: products, x: X))
        Parallel.forEach(parts) { part in
            for (W, Y) in shared.value.products {
                let rows = W.rows
                attn_matmul_rows(W.kernelType, W.base, W.rowBytes, W.cols, rows * part / parts, rows * (part + 1) / parts,
                                 shared.value.x, count, Y, rows)
            }
        }
    }

    /// Multiply-adds above which `matmul` (and the decoder's attention) uses both cores.
    static let parallelMultiplies = 1 << 18

    /// Pointers (and views holding them) handed to worker threads that write disjoint outputs.
    struct Shared<P>: @unchecked Sendable {
        let value: P
        init(_ value: P) { self.value = value }
    }

    /// out = x / rms(x) · gain, rms(x) = sqrt(mean(x²) + eps) (Zhang & Sennrich 2019, Llama).
    public static func rmsNorm(
        _ x: UnsafePointer<Float>, gain: UnsafePointer<Float>, _ n: Int, eps: Float,
        _ out: UnsafeMutablePointer<Float>
    ) {
        let meanSquare = dot(x, x, n) / Float(n)
        let inv = 1 / (meanSquare + eps).squareRoot()
        for i in 0..<n { out[i] = x[i] * inv * gain[i] }
    }

    /// In-place softmax over n scores: subtract the max (for range), exponentiate with `DetMath.exp`
    /// (sixteen lanes at a time in `attn_softmax_f32`, the same bits as the scalar function), divide
    /// by the sum accumulated left to right. Returns that max and sum.
    @discardableResult
    public static func softmax(_ s: UnsafeMutablePointer<Float>, _ n: Int) -> (max: Float, sum: Float) {
        var m: Float = 0, l: Float = 0
        attn_softmax_f32(s, n, &m, &l)
        return (m, l)
    }

    /// SwiGLU's gate: a[i] ← silu(a[i])·b[i], silu(x) = x·σ(x) = x / (1 + e^(−x)) (Shazeer 2020),
    /// e^(−x) by `DetMath.exp` in vector lanes (`attn_swiglu_f32`).
    public static func swiglu(_ a: UnsafeMutablePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) {
        attn_swiglu_f32(a, b, n)
    }

    /// y[i] += x[i]·alpha.
    @inline(__always)
    public static func axpy(_ alpha: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        let rx = UnsafeRawPointer(x), ry = UnsafeMutableRawPointer(y)
        let a = SIMD16<Float>(repeating: alpha)
        var i = 0
        while i + 16 <= n {
            let v = ry.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
                + rx.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self) * a
            ry.storeBytes(of: v, toByteOffset: i * 4, as: SIMD16<Float>.self)
            i += 16
        }
        while i < n {
            y[i] += x[i] * alpha
            i += 1
        }
    }

    /// x[i] ← e^(x[i] − shift) for i in 0..<n (`attn_exp_shifted`: AttnLab's own polynomial, within
    /// 2 ulp, the same bits on every machine; arguments clamped to [−87, 88]).
    public static func expShifted(_ x: UnsafeMutablePointer<Float>, _ n: Int, shift: Float) {
        attn_exp_shifted(x, n, shift)
    }
}
