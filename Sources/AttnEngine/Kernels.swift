/// The few dense kernels the decoder needs, on contiguous Float32 buffers.
///
/// Every reduction has one fixed order written out here (16 lanes × 4 accumulators, then a fixed
/// tree, then the tail in sequence), so results are bit-identical on any machine: `SIMD16<Float>`
/// arithmetic is lane-wise IEEE whatever vector width the CPU has, and nothing is fused into FMAs.
public enum Kernels {
    /// Σ a[i]·b[i] for i in 0..<n, in AttnLab's fixed order.
    @inline(__always)
    public static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc0 = SIMD16<Float>(), acc1 = SIMD16<Float>(), acc2 = SIMD16<Float>(), acc3 = SIMD16<Float>()
        let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
        var i = 0
        while i + 64 <= n {
            let o = i * 4
            acc0 += ra.loadUnaligned(fromByteOffset: o, as: SIMD16<Float>.self)
                * rb.loadUnaligned(fromByteOffset: o, as: SIMD16<Float>.self)
            acc1 += ra.loadUnaligned(fromByteOffset: o + 64, as: SIMD16<Float>.self)
                * rb.loadUnaligned(fromByteOffset: o + 64, as: SIMD16<Float>.self)
            acc2 += ra.loadUnaligned(fromByteOffset: o + 128, as: SIMD16<Float>.self)
                * rb.loadUnaligned(fromByteOffset: o + 128, as: SIMD16<Float>.self)
            acc3 += ra.loadUnaligned(fromByteOffset: o + 192, as: SIMD16<Float>.self)
                * rb.loadUnaligned(fromByteOffset: o + 192, as: SIMD16<Float>.self)
            i += 64
        }
        while i + 16 <= n {
            acc0 += ra.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
                * rb.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
            i += 16
        }
        var sum = reduce((acc0 + acc1) + (acc2 + acc3))
        while i < n {
            sum += a[i] * b[i]
            i += 1
        }
        return sum
    }

    /// Sum of 16 lanes by halving: (0..7 + 8..15), then 4, 2, 1 — a fixed tree.
    @inline(__always)
    static func reduce(_ v: SIMD16<Float>) -> Float {
        let v8 = v.lowHalf + v.highHalf
        let v4 = v8.lowHalf + v8.highHalf
        let v2 = v4.lowHalf + v4.highHalf
        return v2[0] + v2[1]
    }

    /// y[r] = Σ_c W[r, c]·x[c] for a row-major W of `rows × cols`.
    ///
    /// One core on purpose: a decode step's products are small (256 × 704 for d_model 256) and
    /// memory-bound; handing rows to a second thread, or blocking four rows per pass of x, was
    /// measured slower.
    public static func matvec(
        _ W: UnsafePointer<Float>, rows: Int, cols: Int,
        _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>
    ) {
        for r in 0..<rows { y[r] = dot(W + r * cols, x, cols) }
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

    /// In-place softmax over n scores: subtract the max (for range), exponentiate, divide by the sum
    /// accumulated left to right.
    public static func softmax(_ s: UnsafeMutablePointer<Float>, _ n: Int) {
        var m = -Float.infinity
        for i in 0..<n { m = max(m, s[i]) }
        var l: Float = 0
        for i in 0..<n {
            s[i] = DetMath.exp(s[i] - m)
            l += s[i]
        }
        let inv = 1 / l
        for i in 0..<n { s[i] *= inv }
    }

    /// SwiGLU's gate: a[i] ← silu(a[i])·b[i], silu(x) = x·σ(x) (Shazeer 2020).
    public static func swiglu(_ a: UnsafeMutablePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) {
        for i in 0..<n {
            let x = a[i]
            a[i] = x / (1 + DetMath.exp(-x)) * b[i]
        }
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
}
