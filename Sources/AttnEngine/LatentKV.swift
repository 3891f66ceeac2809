import CKernels

/// The low-rank structure of a trained model's keys and values, found once per model: for each
/// producer layer's K/V weights, the left singular vectors and singular values of the joint matrix
/// M = [W_K; W_V]. `truncated(rank:)` turns it into the `LatentKV` a cache of that rank uses.
///
/// Multi-head Latent Attention (DeepSeek-V2, Liu et al. 2024) caches, per token and layer, one latent
/// c of r elements from which every head's K and V are expanded. A model trained with ordinary K/V
/// gets one by truncated SVD of its K/V weights, as MHA2MLA-style conversions do: with the SVD
/// M = U Σ Vᵀ (M is 2E × d_model, E = kv_heads·head_dim, rows are output dimensions as `WeightMatrix`
/// stores them), a token's pre-RoPE [k; v] = M h is cached as c = U_rᵀ [k; v] = Σ_r V_rᵀ h and read
/// back as U_r c = U_r U_rᵀ M h, the projection of [k; v] onto the r directions M writes most into
/// (Eckart–Young: the best rank-r approximation of M). Only U and Σ are needed; they are the
/// eigenvectors and the square roots of the eigenvalues of the Gram matrix G = M Mᵀ (2E × 2E),
/// computed in Double (`SymmetricEigen`).
public struct LatentBasis: Sendable {
    /// Elements of one token's [k; v] row: 2·kv_heads·head_dim.
    public let kvRowElements: Int
    /// The largest meaningful rank, min(2·kv_heads·head_dim, d_model): M has no more singular values.
    public let maxRank: Int
    /// d_model: the width of the hidden state M multiplies.
    let dModel: Int
    /// Each producer layer's entry in `decompositions`.
    let slots: LatentSlots
    /// The eigen-decomposition of G = M Mᵀ, one per distinct K/V weight set.
    let decompositions: [SymmetricEigen]

    /// Decomposes the K/V weights of every producer layer of `config` (each shared weight set once),
    /// one weight set per core at a time.
    ///
    /// - Throws: `ConfigError(.model, …)` when a W_K or W_V holds a value that is not finite.
    public init(config: DecoderConfig, weights: DecoderWeights) throws(ConfigError) {
        let rowElements = 2 * config.attention.kvElements
        var entryOfLayer = [Int?](repeating: nil, count: config.layers)
        var sets: [Int] = []
        for l in config.kvMap.producers {
            let set = config.weightSharing.attentionSet(layer: l)
            if let known = sets.firstIndex(of: set) {
                entryOfLayer[l] = known
            } else {
                entryOfLayer[l] = sets.count
                sets.append(set)
            }
        }
        // M's rows as Float32, W_K's then W_V's, exactly as the decoder's products dequantize them.
        let matrices: [[Float]] = sets.map { weights.attention[$0].wk!.floats + weights.attention[$0].wv!.floats }
        for (i, m) in matrices.enumerated() where !m.allSatisfy(\.isFinite) {
            let layer = entryOfLayer.firstIndex(of: i)!
            throw ConfigError(.model, "layer \(layer)'s W_K or W_V holds a value that is not finite, so it has no SVD to take a latent from")
        }

        let results = UnsafeMutableBufferPointer<SymmetricEigen?>.allocate(capacity: sets.count)
        results.initialize(repeating: nil)
        defer {
            results.deinitialize()
            results.deallocate()
        }
        let shared = Kernels.Shared(results)
        let d = config.dModel
        // Each decomposition is computed whole by one thread: the thread count cannot change a bit.
        Parallel.forEach(sets.count) { i in
            shared.value[i] = SymmetricEigen(Self.gram(matrices[i], rows: rowElements, cols: d), n: rowElements)
        }
        self.kvRowElements = rowElements
        self.maxRank = min(rowElements, d)
        self.dModel = d
        self.slots = LatentSlots(entryOfLayer: entryOfLayer)
        self.decompositions = results.map { $0! }
    }

    /// The singular values σ₀ ≥ σ₁ ≥ … of [W_K; W_V] of `layer` (a producer), all 2·kv_heads·head_dim
    /// of them (those past d_model are zero): σᵢ = √λᵢ of the Gram matrix, its rounding below zero
    /// clamped.
    public func singularValues(layer: Int) -> [Double] {
        decompositions[slots[layer]].values.map { max($0, 0).squareRoot() }
    }

    /// Σ_{i<r} σᵢ² / Σ σᵢ² of `layer` (a producer): the share of M's squared Frobenius norm that rank
    /// `rank` keeps (for isotropic inputs h, the share of the mean squared [k; v] the latent carries).
    public func energyKept(layer: Int, rank: Int) -> Double {
        Self.energyKept(decompositions[slots[layer]], rank: rank)
    }

    /// Σ_{i<r} σᵢ² / Σ σᵢ², each sum in index order (1 for a zero matrix: nothing is lost).
    private static func energyKept(_ eigen: SymmetricEigen, rank: Int) -> Double {
        let squares = eigen.values.map { max($0, 0) }
        let total = squares.reduce(0, +)
        return total > 0 ? squares.prefix(rank).reduce(0, +) / total : 1
    }

    /// The Float32 down- and up-projections of rank `rank` for every producer layer.
    ///
    /// - Throws: `ConfigError(.kvLatentRank, …)` unless 1 ≤ rank ≤ `maxRank` (`LatentKV.validate`).
    public func truncated(rank: Int) throws(ConfigError) -> LatentKV {
        try LatentKV.validate(rank: rank, kvRowElements: kvRowElements, dModel: dModel)
        let w = kvRowElements
        var down: [[Float]] = [], up: [[Float]] = [], energy: [Double] = []
        for eigen in decompositions {
            // down = U_rᵀ: rows are the first r eigenvectors, as `SymmetricEigen` stores them.
            let d = eigen.vectors.prefix(rank * w).map(Float.init)        // [r × 2E]
            var u = [Float](repeating: 0, count: w * rank)                // [2E × r]
            for j in 0..<rank {
                for i in 0..<w { u[i * rank + j] = d[j * w + i] }
            }
            down.append(d)
            up.append(u)
            energy.append(Self.energyKept(eigen, rank: rank))
        }
        return LatentKV(rank: rank, kvRowElements: w, slots: slots, down: down, up: up, energy: energy)
    }

    /// G = M Mᵀ in Double, each entry Σ_c M[i, c]·M[j, c] in `SymmetricEigen.dot`'s order, computed
    /// once for i ≤ j and mirrored, so G is exactly symmetric.                  // [rows × rows]
    static func gram(_ m: [Float], rows: Int, cols: Int) -> [Double] {
        let wide = m.map(Double.init)                                    // [rows × cols]
        var g = [Double](repeating: 0, count: rows * rows)
        wide.withUnsafeBufferPointer { M in
            let M = M.baseAddress!
            for i in 0..<rows {
                for j in i..<rows {
                    let s = SymmetricEigen.dot(M + i * cols, M + j * cols, cols)
                    g[i * rows + j] = s
                    g[j * rows + i] = s
                }
            }
        }
        return g
    }
}

/// A latent K/V cache's two projections at one rank r, per producer layer, in Float32: `down` = U_rᵀ
/// (r × 2E) writes a token's latent c = U_rᵀ [k; v], `up` = U_r (2E × r) reads [k̂; v̂] = U_r c back
/// (`LatentBasis`; MLA, DeepSeek-V2, Liu et al. 2024).
///
/// The latent is taken from the pre-RoPE K: rotary embedding is applied to k̂ after expansion, as to
/// any key. So no decoupled RoPE key is modelled (DeepSeek-V2 caches one beside the latent because it
/// folds W_UK into W_Q, which RoPE would prevent; here K is expanded instead), and the cache holds
/// exactly r elements per token and producer layer (`KVStorage.latent(rank:)` counts their bytes).
/// At the full rank (`LatentBasis.maxRank`) the round trip returns K and V within Float32 rounding:
/// U is orthogonal when 2·kv_heads·head_dim ≤ d_model, and otherwise every [k; v] = M h already lies
/// in the d_model directions U_r spans.
///
/// Rows of [k; v] hold k's kv_heads·head_dim elements, then v's.
public struct LatentKV: Sendable {
    /// r: latent elements per token and producer layer.
    public let rank: Int
    /// Elements of one token's [k; v] row: 2·kv_heads·head_dim.
    public let kvRowElements: Int
    /// Each producer layer's entry in `downs`, `ups` and `energy`.
    let slots: LatentSlots
    let downs: [[Float]]                                                 // each [r × 2E]
    let ups: [[Float]]                                                   // each [2E × r]
    let energy: [Double]

    init(rank: Int, kvRowElements: Int, slots: LatentSlots, down: [[Float]], up: [[Float]], energy: [Double]) {
        self.rank = rank
        self.kvRowElements = kvRowElements
        self.slots = slots
        self.downs = down
        self.ups = up
        self.energy = energy
    }

    /// The cache storage this latent fills.
    public var storage: KVStorage { .latent(rank: rank) }

    /// Throws unless 1 ≤ `rank` ≤ min(2·kv_heads·head_dim, d_model), the rank of [W_K; W_V]: one
    /// latent carries a token's K and V together, so 2·kv_heads·head_dim elements hold them exactly,
    /// and both are projections of the d_model-element hidden state, so d_model elements do too.
    public static func validate(rank: Int, config: DecoderConfig) throws(ConfigError) {
        try validate(rank: rank, kvRowElements: 2 * config.attention.kvElements, dModel: config.dModel)
    }

    static func validate(rank: Int, kvRowElements: Int, dModel: Int) throws(ConfigError) {
        guard rank > 0 else {
            throw ConfigError(.kvLatentRank, "must be positive, got \(rank): it is the number of elements cached per token and layer")
        }
        if kvRowElements <= dModel, rank > kvRowElements {
            throw ConfigError(.kvLatentRank, "\(rank) is above the full rank \(kvRowElements) = 2·kv_heads·head_dim: one latent carries a token's K and V together, so \(kvRowElements) elements already hold them exactly")
        }
        if dModel < kvRowElements, rank > dModel {
            throw ConfigError(.kvLatentRank, "\(rank) is above the full rank \(dModel) = d_model: K and V are both projections of the \(dModel)-element hidden state, so \(dModel) latent elements already hold them exactly")
        }
    }

    /// U_rᵀ of `layer` (a producer), row-major.                             // [r × 2E]
    public func down(layer: Int) -> [Float] { downs[slots[layer]] }

    /// U_r of `layer` (a producer), row-major.                              // [2E × r]
    public func up(layer: Int) -> [Float] { ups[slots[layer]] }

    /// Σ_{i<r} σᵢ² / Σ σᵢ² of `layer`'s [W_K; W_V] (`LatentBasis.energyKept`).
    public func energyKept(layer: Int) -> Double { energy[slots[layer]] }

    /// c = [k; v] · downᵀ for `rows` tokens of `layer` (a producer): each c[t, j] is
    /// `attn_dot_f32(row t of kv, U_rᵀ row j, 2E)` bit for bit.
    ///
    /// - Parameters:
    ///   - kv: [rows × 2E], each row k then v.
    ///   - latent: [rows × r], written.
    public func project(layer: Int, kv: UnsafePointer<Float>, rows: Int, into latent: UnsafeMutablePointer<Float>) {
        downs[slots[layer]].withUnsafeBufferPointer { down in
            Self.productNT(kv, down.baseAddress!, latent, rows: rows, outputs: rank, inner: kvRowElements)
        }
    }

    /// [k̂; v̂] = c · upᵀ for `rows` tokens of `layer` (a producer): each element is
    /// `attn_dot_f32(row t of c, U_r row i, r)` bit for bit.
    ///
    /// - Parameters:
    ///   - latent: [rows × r].
    ///   - kv: [rows × 2E], written, each row k then v.
    public func expand(layer: Int, latent: UnsafePointer<Float>, rows: Int, into kv: UnsafeMutablePointer<Float>) {
        ups[slots[layer]].withUnsafeBufferPointer { up in
            Self.productNT(latent, up.baseAddress!, kv, rows: rows, outputs: kvRowElements, inner: rank)
        }
    }

    /// Y[rows × outputs] = X[rows × inner] · W[outputs × inner]ᵀ by `attn_gemm_nt`. Large products
    /// split the rows into `Parallel.parts` fixed ranges shared by the cores, each row computed whole
    /// by one thread, so the split cannot change a bit.
    private static func productNT(_ X: UnsafePointer<Float>, _ W: UnsafePointer<Float>, _ Y: UnsafeMutablePointer<Float>,
                                  rows: Int, outputs: Int, inner: Int) {
        let parts = rows * outputs * inner >= Kernels.parallelMultiplies ? min(Parallel.parts, rows) : 1
        let shared = Kernels.Shared((X, W, Y))
        Parallel.forEach(parts) { part in
            let (X, W, Y) = shared.value
            attn_gemm_nt(X, W, Y, rows * part / parts, rows * (part + 1) / parts, outputs, inner, 0)
        }
    }
}

/// Which weight set's decomposition each layer's cache uses: layers sharing one set of attention
/// weights (ALBERT-style) share one; a consumer layer (CLA) has none, since it has no cache.
struct LatentSlots: Sendable {
    /// nil for a consumer layer.
    let entryOfLayer: [Int?]

    subscript(layer: Int) -> Int {
        guard let i = entryOfLayer[layer] else { preconditionFailure("layer \(layer) is a consumer: it has no K/V cache of its own") }
        return i
    }
}
