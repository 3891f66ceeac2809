/// Elementary functions computed by AttnLab itself, so results do not depend on the platform's libm.
///
/// Two C libraries may round `exp` or `cos` differently in the last bit, and one flipped bit in a
/// weight or a softmax changes every later logit. These functions use only IEEE-754 `+ − × ÷` and
/// exact scaling in a fixed order, so they return the same bits on every machine. Accuracy is a few
/// ulps of Double, far below what Float32 compute can see.
public enum DetMath {
    private static let ln2Hi = 6.93147180369123816490e-01  // ln 2, upper bits (fdlibm split)
    private static let ln2Lo = 1.90821492927058770002e-10  // ln 2 − ln2Hi
    private static let invLn2 = 1.44269504088896338700e+00

    /// e^x.
    public static func exp(_ x: Double) -> Double {
        if x.isNaN { return x }
        if x > 709.782712893384 { return .infinity }
        if x < -745.1332191019412 { return 0 }
        // x = k·ln2 + r with |r| ≤ ln2/2 (Cody–Waite), e^x = 2^k · e^r.
        let k = (x * invLn2).rounded(.toNearestOrEven)
        let r = (x - k * ln2Hi) - k * ln2Lo
        // Taylor series of e^r to r^14 (coefficients 1/n!): the remainder is below 1e-19 for |r| ≤ 0.347.
        let p = 1.0 + r * (1.0 + r * (1 / 2.0 + r * (1 / 6.0 + r * (
            1 / 24.0 + r * (1 / 120.0 + r * (1 / 720.0 + r * (1 / 5040.0 + r * (
            1 / 40320.0 + r * (1 / 362880.0 + r * (1 / 3628800.0 + r * (1 / 39916800.0 + r * (
            1 / 479001600.0 + r * (1 / 6227020800.0 + r * (1 / 87178291200.0))))))))))))))
        return scale(p, by: Int(k))
    }

    /// Natural logarithm, with IEEE-754's answers at the edges: NaN for NaN and for every x < 0
    /// (−∞ included), −∞ for ±0, +∞ for +∞. Those are returned before any arithmetic, and a
    /// subnormal x is scaled into the normal range once, so every input returns (no loop runs on x).
    public static func log(_ x: Double) -> Double {
        if x.isNaN || x < 0 { return .nan }
        if x == 0 { return -.infinity }
        if x.isInfinite { return x }
        // x = m · 2^e with m in [√½, √2); log m = 2·atanh(f), f = (m − 1)/(m + 1), |f| ≤ 0.1716.
        if x < 0x1p-1022 { return log(x * 0x1p54) - 54 * 0.6931471805599453 }  // subnormal
        // Exponent and significand straight from the bits (x.exponent / .significand are slower).
        var e = Int((x.bitPattern >> 52) & 0x7ff) - 1023
        var m = Double(bitPattern: (x.bitPattern & 0x000f_ffff_ffff_ffff) | 0x3ff0_0000_0000_0000)  // [1, 2)
        if m > 1.4142135623730951 { m *= 0.5; e += 1 }
        let f = (m - 1) / (m + 1)
        let f2 = f * f
        let s = 1.0 + f2 * (1 / 3.0 + f2 * (1 / 5.0 + f2 * (1 / 7.0 + f2 * (
            1 / 9.0 + f2 * (1 / 11.0 + f2 * (1 / 13.0 + f2 * (1 / 15.0 + f2 * (
            1 / 17.0 + f2 * (1 / 19.0 + f2 * (1 / 21.0 + f2 * (1 / 23.0 + f2 * (
            1 / 25.0))))))))))))  // Σ f^(2n)/(2n+1)
        return Double(e) * ln2Hi + (Double(e) * ln2Lo + 2 * f * s)
    }

    /// (sin x, cos x), accurate for |x| < 2^20·π/2 (RoPE angles and 2πu stay far below that).
    public static func sincos(_ x: Double) -> (sin: Double, cos: Double) {
        precondition(abs(x) < 1_647_099.0, "DetMath.sincos: argument out of the reduced range")
        // x = k·π/2 + r with |r| ≤ π/4, π/2 split in three parts so k·part is exact (fdlibm).
        let k = (x * 6.36619772367581382433e-01).rounded(.toNearestOrEven)
        var r = x - k * 1.57079632673412561417e+00
        r -= k * 6.07710050630396597660e-11
        r -= k * 2.02226624871116645580e-21
        let r2 = r * r
        // Taylor series to r^17 / r^18: remainders below 1e-19 for |r| ≤ π/4.
        // sin r = r + r³·s(r²), cos r = 1 + r²·c(r²).
        let s = -1 / 6.0 + r2 * (1 / 120.0 + r2 * (-1 / 5040.0 + r2 * (1 / 362880.0 + r2 * (
            -1 / 39916800.0 + r2 * (1 / 6227020800.0 + r2 * (-1 / 1307674368000.0 + r2 * (1 / 355687428096000.0 + r2 * (
            -1 / 121645100408832000.0))))))))
        let c = -1 / 2.0 + r2 * (1 / 24.0 + r2 * (-1 / 720.0 + r2 * (1 / 40320.0 + r2 * (
            -1 / 3628800.0 + r2 * (1 / 479001600.0 + r2 * (-1 / 87178291200.0 + r2 * (1 / 20922789888000.0 + r2 * (
            -1 / 6402373705728000.0 + r2 * (1 / 2432902008176640000.0)))))))))
        let sinR = r + r * r2 * s
        let cosR = 1.0 + r2 * c
        switch Int(k) & 3 {
        case 0: return (sinR, cosR)
        case 1: return (cosR, -sinR)
        case 2: return (-sinR, -cosR)
        default: return (-cosR, sinR)
        }
    }

    /// e^x for Float32 compute, rounded once from the Double result.
    @inline(__always)
    public static func exp(_ x: Float) -> Float { Float(exp(Double(x))) }

    /// p · 2^k, exact unless the result is subnormal (then rounded once).
    private static func scale(_ p: Double, by k: Int) -> Double {
        if k > 1023 { return scale(p * 0x1p1023, by: k - 1023) }
        if k < -1022 { return scale(p * 0x1p-1022, by: k + 1022) }
        return p * Double(sign: .plus, exponent: k, significand: 1)
    }
}
