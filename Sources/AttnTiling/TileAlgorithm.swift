/// The three attention algorithms the simulator runs (`--algo naive|fa1|fa2`).
public enum TileAlgorithm: String, CaseIterable, Sendable {
    /// Algorithm 0 of FlashAttention (Dao et al. 2022): S and P go through HBM.
    case naive
    /// FlashAttention Algorithm 1: K/V blocks outside, Q blocks inside, O/l/m in HBM.
    case fa1
    /// FlashAttention-2 (Dao 2023): Q blocks outside, O/l/m on chip, one write of O and L.
    case fa2

    /// The one place an algorithm's name meets its code: everything else dispatches through
    /// `TiledAlgorithm`.
    var kernel: any TiledAlgorithm.Type {
        switch self {
        case .naive: NaiveAttention.self
        case .fa1: FlashAttention1.self
        case .fa2: FlashAttention2.self
        }
    }

    /// The algorithm's name in figures and reports.
    public var title: String { kernel.title }
}

/// One tiled attention algorithm as the simulator runs it: a forward and a backward pass through the
/// memory model, and the closed forms (docs/io-model.md) that predict what they move and hold.
/// `NaiveAttention`, `FlashAttention1` and `FlashAttention2` conform, one file each.
protocol TiledAlgorithm {
    /// What the forward pass leaves in HBM for the backward pass (P; l and m; or L).
    associatedtype Saved

    /// The algorithm's name in figures and reports.
    static var title: String { get }

    /// Runs the forward pass, counting every block it moves in `memory`; records the online-softmax
    /// state of query row `watchRow` of head 0 after each step.
    static func forward(_ p: TileProblem, blocks: BlockSizes, memory: MemoryHierarchy, watchRow: Int?) -> ForwardPass<Saved>

    /// Runs the backward pass of L = Σ O ∘ dO from what `forward` saved, counting in `memory`.
    static func backward(_ p: TileProblem, blocks: BlockSizes, memory: MemoryHierarchy, forward: ForwardPass<Saved>) -> Gradients

    /// HBM (reads, writes) in elements of one pass for one K/V head with R query rows (G·N) and C key
    /// rows (N), non-causal.
    static func traffic(_ pass: TilePass, R: Int, C: Int, d: Int, blocks: BlockSizes, sramElements M: Int) -> (reads: Int, writes: Int)

    /// The most SRAM elements one pass holds at once with full blocks.
    static func peakSram(_ pass: TilePass, R: Int, C: Int, d: Int, blocks: BlockSizes, sramElements M: Int) -> Int

    /// The blocks a run uses when none are given.
    static func defaultBlocks(R: Int, C: Int, d: Int, sramElements M: Int) -> BlockSizes
}

extension TiledAlgorithm {
    /// FlashAttention's published `Bc = ⌈M/4d⌉, Br = min(Bc, d)`, capped at the matrix size.
    static func defaultBlocks(R: Int, C: Int, d: Int, sramElements M: Int) -> BlockSizes {
        let published = BlockSizes.published(sramElements: M, d: d)
        return BlockSizes(br: min(published.br, R), bc: min(published.bc, C))
    }
}

/// What a forward pass computed, and what it leaves in HBM for the backward pass.
struct ForwardPass<Saved> {
    let o: [Float]                                                  // [q_heads × N × d]
    let saved: Saved
    let flops: FlopCount
}

/// Gradients of Σ O ∘ dO with respect to Q, K, V.
struct Gradients {
    let dq: [Float]                                                 // [q_heads × N × d]
    let dk: [Float]                                                 // [kv_heads × N × d]
    let dv: [Float]                                                 // [kv_heads × N × d]
    let flops: FlopCount
}

/// What every backward pass reads and accumulates into, in one workspace: the inputs Q, dO
/// `[q_heads × N × d]` and K, V `[kv_heads × N × d]`, and the gradients dQ, dK, dV of the same
/// shapes, starting at zero.
struct BackwardBuffers {
    let q, k, v, dO: UnsafePointer<Float>
    let dq, dk, dv: UnsafeMutablePointer<Float>

    init(_ p: TileProblem, in ws: inout Workspace) {
        q = ws.copy(p.q)
        k = ws.copy(p.k)
        v = ws.copy(p.v)
        dO = ws.copy(p.dO)
        dq = ws.filled(p.q.count)
        dk = ws.filled(p.k.count)
        dv = ws.filled(p.v.count)
    }

    /// dQ, dK, dV copied out of the workspace.
    func gradients(_ p: TileProblem, in ws: Workspace, flops: FlopCount) -> Gradients {
        Gradients(dq: ws.array(dq, p.q.count), dk: ws.array(dk, p.k.count), dv: ws.array(dv, p.v.count), flops: flops)
    }
}
