/// The eigen-decomposition A = V Λ Vᵀ of a real symmetric matrix, in Double: the eigenvalues sorted
/// from the largest down and an orthonormal eigenvector for each. `LatentBasis` takes the truncated
/// SVD of a layer's [W_K; W_V] from the eigenvectors of its Gram matrix.
///
/// The classic two-phase method (Golub & Van Loan, *Matrix Computations*, §8.3; EISPACK's tred2 and
/// tql2): Householder reflections bring A to a tridiagonal T = Qᵀ A Q, then implicit QL iterations
/// with Wilkinson's shift rotate T to diagonal, each rotation applied to Q as well. About 9n³
/// floating-point operations: some tens of milliseconds for n = 384 on one core.
///
/// Every sum runs in one fixed order in plain Double arithmetic (no fused multiply-adds, no library
/// function but the correctly rounded square root), so the same matrix gives the same bits on every
/// machine. Entries are expected well inside Double's range (|a| < 1e150): the reflections are not
/// rescaled against overflow.
public struct SymmetricEigen: Sendable {
    /// The order of the matrix.
    public let n: Int
    /// λ₀ ≥ λ₁ ≥ … ≥ λₙ₋₁ (equal values in the order QL left them).        // [n]
    public let values: [Double]
    /// Eigenvector j in row j, so `vectors[j·n ..< (j + 1)·n]` is v_j: A v_j = λ_j v_j, ‖v_j‖ = 1,
    /// its largest-magnitude component positive (the first such on ties), so the sign is not the
    /// algorithm's accident.                                           // [n × n] = Vᵀ
    public let vectors: [Double]

    /// Decomposes the symmetric `a` (row-major n × n; only symmetric input is meaningful: the
    /// algorithm reads both triangles as they are).
    ///
    /// - Precondition: `a` has n·n finite entries.
    public init(_ a: [Double], n: Int) {
        precondition(n >= 0 && a.count == n * n, "\(a.count) values are not \(n) × \(n)")
        precondition(a.allSatisfy(\.isFinite), "a matrix with a value that is not finite has no eigen-decomposition")
        self.n = n
        var work = a
        var d = [Double](repeating: 0, count: n)     // diagonal of T, then the eigenvalues
        var e = [Double](repeating: 0, count: n)     // e[i] = T[i + 1, i]; e[n − 1] = 0
        var z = [Double](repeating: 0, count: n * n) // Qᵀ, then the eigenvectors as rows
        Self.tridiagonalize(&work, n: n, diagonal: &d, offDiagonal: &e, qTransposed: &z)
        Self.diagonalize(diagonal: &d, offDiagonal: &e, vectors: &z, n: n)

        // Largest first; equal values keep their index order, so the order is a total one.
        let order = (0..<n).sorted { d[$0] != d[$1] ? d[$0] > d[$1] : $0 < $1 }
        values = order.map { d[$0] }
        var sorted = [Double](repeating: 0, count: n * n)
        for (j, source) in order.enumerated() {
            let row = z[source * n ..< (source + 1) * n]
            var largest = row.startIndex
            for i in row.indices where abs(row[i]) > abs(row[largest]) { largest = i }
            let sign: Double = row[largest] < 0 ? -1 : 1
            for (i, x) in row.enumerated() { sorted[j * n + i] = sign * x }
        }
        vectors = sorted
    }

    /// Eigenvector j (its n components).
    public func vector(_ j: Int) -> ArraySlice<Double> { vectors[j * n ..< (j + 1) * n] }

    // MARK: - Phase 1: Householder tridiagonalization

    /// T = Qᵀ A Q with Q = H₀ H₁ ⋯ H_{n−3}: reflection H_k = I − β_k v_k v_kᵀ zeroes row and column k
    /// of A beyond the subdiagonal (GVL Algorithm 8.3.1). `a` is overwritten (its row k ends up
    /// holding v_k); `qTransposed` receives Qᵀ, row-major.
    static func tridiagonalize(_ a: inout [Double], n: Int, diagonal d: inout [Double], offDiagonal e: inout [Double],
                               qTransposed qt: inout [Double]) {
        guard n > 0 else { return }
        var beta = [Double](repeating: 0, count: n)
        var p = [Double](repeating: 0, count: n)
        a.withUnsafeMutableBufferPointer { A in
            p.withUnsafeMutableBufferPointer { p in
                let A = A.baseAddress!, p = p.baseAddress!
                for k in 0..<max(0, n - 2) {
                    // x = A[k + 1 ..< n, k], read as row k (A is symmetric): m values.
                    let m = n - k - 1
                    let v = A + k * n + k + 1                       // [m], x now, v_k after
                    let x0 = v[0]
                    let tail = dot(v + 1, v + 1, m - 1)
                    d[k] = A[k * n + k]
                    guard tail > 0 else {
                        // Already zero below the subdiagonal: H_k = I.
                        e[k] = x0
                        beta[k] = 0
                        continue
                    }
                    // H x = α e₁ with α = −sign(x₀)‖x‖, the sign that keeps v₀ = x₀ − α free of cancellation;
                    // vᵀv = 2(‖x‖² − α x₀), so β = 2 / vᵀv.
                    let norm = (x0 * x0 + tail).squareRoot()
                    let alpha = x0 >= 0 ? -norm : norm
                    let b = 1 / (norm * norm - alpha * x0)
                    v[0] = x0 - alpha
                    e[k] = alpha
                    beta[k] = b

                    // The trailing block A' = A[k + 1 ..< n, k + 1 ..< n] becomes H A' H:
                    // p = β A' v, w = p − (β/2)(pᵀv) v, A' ← A' − v wᵀ − w vᵀ (GVL (8.3.2)).
                    let block = A + (k + 1) * n + k + 1             // A'[i, j] = block[i·n + j]
                    for i in 0..<m { p[i] = b * dot(block + i * n, v, m) }
                    let half = 0.5 * b * dot(p, v, m)
                    for i in 0..<m { p[i] -= half * v[i] }          // p is w from here
                    for i in 0..<m {
                        let row = block + i * n, vi = v[i], wi = p[i]
                        for j in 0..<m { row[j] -= vi * p[j] + wi * v[j] }
                    }
                }
                if n >= 2 {
                    d[n - 2] = A[(n - 2) * n + n - 2]
                    e[n - 2] = A[(n - 1) * n + n - 2]
                }
                d[n - 1] = A[(n - 1) * n + n - 1]
                e[n - 1] = 0
            }
        }

        // Qᵀ = H_{n−3} ⋯ H₁ H₀ (each H_k symmetric), multiplied on from the right in that order: R ← R H_k
        // for k = n − 3 down to 0. R = H_{n−3} ⋯ H_{k+1} is the identity outside rows and columns
        // k + 2 ..< n, so R H_k changes only the block k + 1 ..< n: each of its rows r gains
        // −β (r·v) vᵀ (backward accumulation, GVL §5.1.6).
        qt = [Double](repeating: 0, count: n * n)
        for i in 0..<n { qt[i * n + i] = 1 }
        a.withUnsafeBufferPointer { A in
            qt.withUnsafeMutableBufferPointer { R in
                let A = A.baseAddress!, R = R.baseAddress!
                for k in stride(from: n - 3, through: 0, by: -1) where beta[k] != 0 {
                    let m = n - k - 1
                    let v = A + k * n + k + 1
                    for i in 0..<m {
                        let row = R + (k + 1 + i) * n + k + 1
                        let s = beta[k] * dot(row, v, m)
                        for j in 0..<m { row[j] -= s * v[j] }
                    }
                }
            }
        }
    }

    // MARK: - Phase 2: implicit QL with Wilkinson's shift

    /// Diagonalizes the symmetric tridiagonal T (diagonal `d`, `e[i] = T[i + 1, i]`) in place: `d` ends
    /// as the eigenvalues (unsorted). Each plane rotation G in (i, i + 1) that QL applies to T is also
    /// applied to the rows of `vectors` (Zᵀ ← Gᵀ Zᵀ), so rows that held Qᵀ end as the eigenvectors of
    /// A = Q T Qᵀ. Implicit QL (GVL §8.3.5, in the QL form of EISPACK's tql2): for each l, find the
    /// first negligible e[m] at or after l; while m ≠ l, chase a bulge from m up to l under the shift
    /// that is the eigenvalue of T's leading 2 × 2 block nearer d[l]. Converges cubically; a few
    /// sweeps per eigenvalue.
    static func diagonalize(diagonal d: inout [Double], offDiagonal e: inout [Double], vectors z: inout [Double], n: Int) {
        // Next to a cluster of zero eigenvalues (a rank-deficient Gram, e.g. of a latent-trained model's
        // [W_K; W_V]) |d| is itself rounding noise and e may never drop below ulp·|d|: after 100 sweeps
        // an e below ulp × the matrix's scale counts as negligible too (EISPACK tql2's test). Only then,
        // so every decomposition that converged without it keeps its bits.
        var scale = 0.0
        for i in 0..<n { scale = max(scale, abs(d[i]) + abs(e[i])) }
        let negligible = Double.ulpOfOne * scale
        z.withUnsafeMutableBufferPointer { Z in
            let Z = Z.baseAddress!
            for l in 0..<n {
                var sweeps = 0
                while true {
                    var m = l
                    while m < n - 1, abs(e[m]) > Double.ulpOfOne * (abs(d[m]) + abs(d[m + 1])), sweeps < 100 || abs(e[m]) > negligible { m += 1 }
                    if m == l { break }
                    sweeps += 1
                    precondition(sweeps <= 200, "QL has not converged for eigenvalue \(l) after 200 sweeps")

                    // The shift: d[m] − d[l] + e[l] / (g ± √(g² + 1)) with g = (d[l+1] − d[l]) / 2e[l].
                    var g = (d[l + 1] - d[l]) / (2 * e[l])
                    var r = hypot(g, 1)
                    g = d[m] - d[l] + e[l] / (g + (g >= 0 ? r : -r))
                    var s = 1.0, c = 1.0, p = 0.0
                    var underflow = false
                    for i in stride(from: m - 1, through: l, by: -1) {
                        let f = s * e[i], b = c * e[i]
                        r = hypot(f, g)
                        e[i + 1] = r
                        if r == 0 {
                            // The bulge vanished: T split at i + 1. Undo the shift there and start over.
                            d[i + 1] -= p
                            e[m] = 0
                            underflow = true
                            break
                        }
                        s = f / r
                        c = g / r
                        g = d[i + 1] - p
                        r = (d[i] - g) * s + 2 * c * b
                        p = s * r
                        d[i + 1] = g + p
                        g = c * r - b
                        // Rows i and i + 1 of Zᵀ: (zᵢ, zᵢ₊₁) ← (c zᵢ − s zᵢ₊₁, s zᵢ + c zᵢ₊₁).
                        let zi = Z + i * n, zj = Z + (i + 1) * n
                        for k in 0..<n {
                            let a = zi[k], h = zj[k]
                            zj[k] = s * a + c * h
                            zi[k] = c * a - s * h
                        }
                    }
                    if underflow { continue }
                    d[l] -= p
                    e[l] = g
                    e[m] = 0
                }
            }
        }
    }

    // MARK: - Fixed-order helpers

    /// Σ a[i]·b[i] in one fixed order: four partial sums over i ≡ 0, 1, 2, 3 (mod 4), then
    /// (s₀ + s₁) + (s₂ + s₃), then the last n mod 4 products in sequence.
    @inline(__always)
    static func dot(_ a: UnsafePointer<Double>, _ b: UnsafePointer<Double>, _ n: Int) -> Double {
        var s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0
        var i = 0
        while i + 4 <= n {
            s0 += a[i] * b[i]
            s1 += a[i + 1] * b[i + 1]
            s2 += a[i + 2] * b[i + 2]
            s3 += a[i + 3] * b[i + 3]
            i += 4
        }
        var s = (s0 + s1) + (s2 + s3)
        while i < n {
            s += a[i] * b[i]
            i += 1
        }
        return s
    }

    /// √(x² + y²) without overflow or underflow in the squares, from the correctly rounded square
    /// root alone (a C library's `hypot` may round differently on another system).
    @inline(__always)
    static func hypot(_ x: Double, _ y: Double) -> Double {
        let ax = abs(x), ay = abs(y)
        let big = max(ax, ay), small = min(ax, ay)
        guard big > 0 else { return 0 }
        let t = small / big
        return big * (1 + t * t).squareRoot()
    }
}
