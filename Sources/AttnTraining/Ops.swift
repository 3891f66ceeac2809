import AttnEngine

// The decoder's element-wise operations, one per type, forward beside backward (llm.c's layout).
// Activations are row-major [rows × width], a row per token (row r = sequence b, position t:
// r = b·T + t). Backward functions *add* into parameter gradients (weight-shared layers sum there)
// and write or add input gradients as their names say.

/// Pointers handed to the threads of a split that write disjoint outputs.
struct Unchecked<P>: @unchecked Sendable {
    let value: P
    init(_ value: P) { self.value = value }
}

/// Runs `body(rows)` over `Parallel.parts` fixed slices of `0..<count`: the slices never depend on
/// the machine, so a per-slice partial sum combined in slice order has the same bits everywhere.
func forEachSlice(_ count: Int, _ body: @Sendable (_ slice: Int, _ rows: Range<Int>) -> Void) {
    let parts = Parallel.parts
    Parallel.forEach(parts) { p in body(p, (count * p / parts)..<(count * (p + 1) / parts)) }
}

/// Token embedding: x[r] = E[token r].
enum Embedding {
    static func forward<T: TrainScalar>(_ tokens: [Int32], _ E: UnsafePointer<T>, _ x: UnsafeMutablePointer<T>, d: Int) {
        for (r, token) in tokens.enumerated() { (x + r * d).update(from: E + Int(token) * d, count: d) }
    }

    /// dE[token r] += dx[r], rows in order (two rows with the same token add in that order).
    static func backward<T: TrainScalar>(_ tokens: [Int32], _ dx: UnsafePointer<T>, _ dE: UnsafeMutablePointer<T>, d: Int) {
        for (r, token) in tokens.enumerated() { T.axpy(1, dx + r * d, dE + Int(token) * d, d) }
    }
}

/// RMSNorm (Zhang & Sennrich 2019): y = x · rstd · g, rstd = 1/√(mean(x²) + ε).
enum RMSNorm {
    static func forward<T: TrainScalar>(_ x: UnsafePointer<T>, _ g: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>,
                                        rstd: UnsafeMutablePointer<T>, rows: Int, d: Int, eps: T) {
        let p = Unchecked((x, g, y, rstd))
        forEachSlice(rows) { _, slice in
            let (x, g, y, rstd) = p.value
            for r in slice {
                let xr = x + r * d, yr = y + r * d
                let s = 1 / (T.dot(xr, xr, d) / T(d) + eps).squareRoot()
                rstd[r] = s
                for i in 0..<d { yr[i] = xr[i] * s * g[i] }
            }
        }
    }

    /// With x̂ = x·rstd: dg += Σ_r dy·x̂, and dx += rstd·(dy·g − x̂·mean(dy·g·x̂)). The gain's sum is
    /// taken per fixed slice of rows, then over the slices in order.
    static func backward<T: TrainScalar>(_ dy: UnsafePointer<T>, _ x: UnsafePointer<T>, _ g: UnsafePointer<T>,
                                         rstd: UnsafePointer<T>, dx: UnsafeMutablePointer<T>, dg: UnsafeMutablePointer<T>,
                                         rows: Int, d: Int, scratch: UnsafeMutablePointer<T>) {
        // scratch: [parts × d] partial gain gradients, then [parts × d] for one row's dy·g.
        let parts = Parallel.parts
        scratch.update(repeating: 0, count: parts * d)
        let p = Unchecked((dy, x, g, rstd, dx, scratch))
        forEachSlice(rows) { slice, range in
            let (dy, x, g, rstd, dx, scratch) = p.value
            let dgPart = scratch + slice * d, dyg = scratch + (parts + slice) * d
            for r in range {
                let xr = x + r * d, dyr = dy + r * d, dxr = dx + r * d, s = rstd[r]
                var mean: T = 0
                for i in 0..<d {
                    let xhat = xr[i] * s
                    dgPart[i] += dyr[i] * xhat
                    dyg[i] = dyr[i] * g[i]
                    mean += dyg[i] * xhat
                }
                mean /= T(d)
                for i in 0..<d { dxr[i] += s * (dyg[i] - xr[i] * s * mean) }
            }
        }
        for slice in 0..<parts { T.axpy(1, scratch + slice * d, dg, d) }
    }
}

/// Rotary embedding (Su et al. 2021) in Meta's Llama layout, as the engine's `RoPE`: dimensions
/// (2i, 2i+1) of each head turn by `t · base^(−2i/head_dim)`. Backward turns the gradient back.
struct Rotary<T: TrainScalar>: Sendable {
    let headDim: Int
    private let cos: [T], sin: [T]                                  // [positions × head_dim/2]

    init(headDim: Int, positions: Int, base: Double) {
        self.headDim = headDim
        let pairs = headDim / 2
        var cos = [T](repeating: 0, count: positions * pairs), sin = cos
        let logBase = DetMath.log(base)
        for i in 0..<pairs {
            let theta = DetMath.exp(-Double(2 * i) / Double(headDim) * logBase)
            for p in 0..<positions {
                // The same angles as `RoPE`, rounded once to T from float64.
                let (s, c) = DetMath.sincos(Double(p) * theta)
                cos[p * pairs + i] = T(Float(c))
                sin[p * pairs + i] = T(Float(s))
            }
        }
        self.cos = cos
        self.sin = sin
    }

    /// Turns `heads` heads of every row; row r is at position r mod `seq`. `inverse` turns by −angle
    /// (the backward pass: the rotation's transpose).
    func apply(_ x: UnsafeMutablePointer<T>, rows: Int, seq: Int, heads: Int, inverse: Bool) {
        let pairs = headDim / 2, hd = headDim
        cos.withUnsafeBufferPointer { cp in
            sin.withUnsafeBufferPointer { sp in
                let p = Unchecked((x, cp.baseAddress!, sp.baseAddress!))
                forEachSlice(rows) { _, range in
                    let (x, cb, sb) = p.value
                    for r in range {
                        let c = cb + (r % seq) * pairs, s = sb + (r % seq) * pairs
                        for h in 0..<heads {
                            let v = x + r * heads * hd + h * hd
                            for i in 0..<pairs {
                                let a = v[2 * i], b = v[2 * i + 1], si = inverse ? -s[i] : s[i]
                                v[2 * i] = a * c[i] - b * si
                                v[2 * i + 1] = a * si + b * c[i]
                            }
                        }
                    }
                }
            }
        }
    }
}

/// SwiGLU's gate (Shazeer 2020): y = silu(a)·b, silu(a) = a·σ(a).
enum SwiGLU {
    /// `sig` receives σ(a) (kept for backward).
    static func forward<T: TrainScalar>(_ a: UnsafePointer<T>, _ b: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>,
                                        sig: UnsafeMutablePointer<T>, count: Int) {
        let p = Unchecked((a, b, y, sig))
        forEachSlice(count) { _, range in
            let (a, b, y, sig) = p.value
            for i in range { sig[i] = -a[i] }
            T.exp(sig + range.lowerBound, range.count)
            for i in range {
                sig[i] = 1 / (1 + sig[i])
                y[i] = a[i] * sig[i] * b[i]
            }
        }
    }

    /// da = dy·b·σ(a)·(1 + a·(1 − σ(a))), db = dy·a·σ(a).
    static func backward<T: TrainScalar>(_ dy: UnsafePointer<T>, _ a: UnsafePointer<T>, _ b: UnsafePointer<T>, sig: UnsafePointer<T>,
                                         da: UnsafeMutablePointer<T>, db: UnsafeMutablePointer<T>, count: Int) {
        let p = Unchecked((dy, a, b, sig, da, db))
        forEachSlice(count) { _, range in
            let (dy, a, b, sig, da, db) = p.value
            for i in range {
                let s = sig[i]
                da[i] = dy[i] * b[i] * s * (1 + a[i] * (1 - s))
                db[i] = dy[i] * a[i] * s
            }
        }
    }
}
