/// The tensors that move between HBM and SRAM, named as in the FlashAttention papers.
public enum TileTensor: Int, CaseIterable, Sendable, CustomStringConvertible {
    case Q, K, V, S, P, O, l, m, L, dO, dQ, dK, dV, dP, dS, D

    public var description: String {
        switch self {
        case .Q: "Q"
        case .K: "K"
        case .V: "V"
        case .S: "S"
        case .P: "P"
        case .O: "O"
        case .l: "l"
        case .m: "m"
        case .L: "L"
        case .dO: "dO"
        case .dQ: "dQ"
        case .dK: "dK"
        case .dV: "dV"
        case .dP: "dP"
        case .dS: "dS"
        case .D: "D"
        }
    }
}

/// One block moved between HBM and SRAM: `K[j]`, `S[i,j]`, `O[i]`…
public struct Transfer: Sendable, Equatable {
    public let tensor: TileTensor
    /// Row-block index (Q, O, l, m, … blocks) or nil.
    public let i: Int?
    /// Column-block index (K, V blocks; the column of an S/P block) or nil.
    public let j: Int?
    public let elements: Int

    /// "K[3]", "S[1,2]", "P[4,*]".
    public var name: String {
        switch (i, j) {
        case let (i?, j?): "\(tensor)[\(i),\(j)]"
        case let (i?, nil): "\(tensor)[\(i)]"
        case let (nil, j?): "\(tensor)[\(j)]"
        default: "\(tensor)"
        }
    }
}

/// The online-softmax state of one watched query row after a step: the running max `m`, the running
/// sum `l` (relative to `m`) and the factor `e^(m_old − m_new)` that rescaled the old state.
public struct WatchedRow: Sendable, Equatable {
    public let row: Int
    public let m: Float
    public let l: Float
    public let rescale: Float
}

/// The two passes of training attention.
public enum TilePass: Sendable, CaseIterable {
    case forward, backward
}

/// What a step of a tiled algorithm computes. FlashAttention 1 and 2 do a whole block of the
/// algorithm per step (`forward`, `backward`); standard attention goes through HBM between products,
/// so each product is a phase of its own.
public enum TilePhase: Sendable, CaseIterable {
    /// One block of FlashAttention's forward loop (FA1 Algorithm 1 lines 6–13, FA2 Algorithm 1 lines 4–14).
    case forward
    /// Standard attention, step 1: S = τQKᵀ, written to HBM.
    case scores
    /// Standard attention, step 2: P = softmax(S), written to HBM.
    case softmax
    /// Standard attention, step 3: O = PV.
    case output
    /// One block of FlashAttention's recomputing backward loop (FA1 Algorithm 4, FA2 Algorithm 2).
    case backward
    /// FlashAttention-2's backward preprocessing: D = rowsum(dO ∘ O).
    case rowDot
    /// The standard backward pass (FlashAttention Algorithm 3), product by product.
    case dV, dP, dS, dQ, dK

    /// The phase as traces and figures print it: the formula it computes.
    public var text: String {
        switch self {
        case .forward: "forward"
        case .scores: "S = QKᵀ"
        case .softmax: "softmax"
        case .output: "O = PV"
        case .backward: "backward"
        case .rowDot: "D = rowsum(dO∘O)"
        case .dV: "dV = PᵀdO"
        case .dP: "dP = dOVᵀ"
        case .dS: "dS = P∘(dP − D)"
        case .dQ: "dQ = dS K"
        case .dK: "dK = dSᵀQ"
        }
    }

    /// The pass the phase belongs to.
    public var pass: TilePass {
        switch self {
        case .forward, .scores, .softmax, .output: .forward
        case .backward, .rowDot, .dV, .dP, .dS, .dQ, .dK: .backward
        }
    }
}

/// One step of a tiled algorithm: the blocks it loaded and stored and the memory state after it.
public struct TileStep: Sendable {
    public let index: Int
    public let phase: TilePhase
    public let kvHead: Int
    /// Loop indices (row block i, column block j) where the phase has them.
    public let i: Int?
    public let j: Int?
    /// Query rows and key columns the step covers.
    public let rows: Range<Int>
    public let cols: Range<Int>
    /// The step's block lies partly above the causal diagonal and was masked.
    public let masked: Bool
    public internal(set) var loads: [Transfer] = []
    public internal(set) var stores: [Transfer] = []
    /// SRAM elements in use after the step, and the most in use during it.
    public internal(set) var sramAfter = 0
    public internal(set) var sramPeak = 0
    /// HBM traffic so far, in elements.
    public internal(set) var hbmReads = 0
    public internal(set) var hbmWrites = 0
    public internal(set) var watch: WatchedRow?
}

/// Two levels of memory: HBM (unbounded, slow) and SRAM holding at most `sramElements` values.
///
/// Algorithms run *through* this model: every block they move calls `load` or `store` and is
/// counted (per block, not per element, so the counting stays cheap); every on-chip buffer is
/// `allocate`d and `free`d so occupancy and its peak are known. Exceeding `sramElements` is not an
/// error — the published block sizes do, by a constant factor — but it is recorded in `peak`.
public final class MemoryHierarchy {
    public let sramElements: Int
    /// Whether to keep a `TileStep` per step (for traces and figures).
    public let recordsSteps: Bool
    /// With `counting` off every method returns at once: `attnlab bench` measures the bookkeeping's
    /// cost this way.
    public let counting: Bool

    public private(set) var reads = [Int](repeating: 0, count: TileTensor.allCases.count)
    public private(set) var writes = [Int](repeating: 0, count: TileTensor.allCases.count)
    public private(set) var occupancy = 0
    public private(set) var peak = 0
    public private(set) var steps: [TileStep] = []
    private var current: TileStep?

    public init(sramElements: Int, recordsSteps: Bool = false, counting: Bool = true) {
        self.sramElements = sramElements
        self.recordsSteps = recordsSteps
        self.counting = counting
    }

    public var hbmReads: Int { reads.reduce(0, +) }
    public var hbmWrites: Int { writes.reduce(0, +) }
    public func reads(_ t: TileTensor) -> Int { reads[t.rawValue] }
    public func writes(_ t: TileTensor) -> Int { writes[t.rawValue] }

    /// HBM → SRAM: counts a read and occupies SRAM.
    @inline(__always)
    public func load(_ tensor: TileTensor, _ elements: Int, i: Int? = nil, j: Int? = nil) {
        guard counting else { return }
        reads[tensor.rawValue] += elements
        occupy(elements)
        if recordsSteps { current?.loads.append(Transfer(tensor: tensor, i: i, j: j, elements: elements)) }
    }

    /// SRAM → HBM: counts a write (the block stays on chip until freed).
    @inline(__always)
    public func store(_ tensor: TileTensor, _ elements: Int, i: Int? = nil, j: Int? = nil) {
        guard counting else { return }
        writes[tensor.rawValue] += elements
        if recordsSteps { current?.stores.append(Transfer(tensor: tensor, i: i, j: j, elements: elements)) }
    }

    /// An on-chip buffer that never touches HBM (S_ij, running statistics, accumulators).
    @inline(__always)
    public func allocate(_ elements: Int) {
        guard counting else { return }
        occupy(elements)
    }

    @inline(__always)
    public func free(_ elements: Int) {
        guard counting else { return }
        occupancy -= elements
    }

    @inline(__always)
    private func occupy(_ elements: Int) {
        occupancy += elements
        if occupancy > peak { peak = occupancy }
        if recordsSteps, let c = current, occupancy > c.sramPeak { current!.sramPeak = occupancy }
    }

    /// An empty memory with the same SRAM and settings, for one part of a pass that runs on a core of
    /// its own (`TileParts`); `append` adds what it counted back here.
    func part() -> MemoryHierarchy {
        MemoryHierarchy(sramElements: sramElements, recordsSteps: recordsSteps, counting: counting)
    }

    /// Adds what `part` counted as though its steps had run here next: its traffic to these totals, its
    /// occupancy on top of this one (so its peak too), its steps numbered after these with the HBM
    /// totals and SRAM levels continuing from here. Appending the parts of a pass in order gives
    /// exactly the counts and steps of running them one after another in this memory.
    func append(_ part: MemoryHierarchy) {
        guard counting else { return }
        precondition(current == nil && part.current == nil, "parts are appended between steps")
        let readsBefore = hbmReads, writesBefore = hbmWrites
        if recordsSteps {
            steps += part.steps.map { step in
                var s = TileStep(continuing: step, index: steps.count + step.index, reads: readsBefore, writes: writesBefore)
                s.sramAfter += occupancy
                s.sramPeak += occupancy
                return s
            }
        }
        for t in reads.indices {
            reads[t] += part.reads[t]
            writes[t] += part.writes[t]
        }
        peak = max(peak, occupancy + part.peak)
        occupancy += part.occupancy
    }

    public func beginStep(_ phase: TilePhase, kvHead: Int, i: Int?, j: Int?, rows: Range<Int>, cols: Range<Int>, masked: Bool = false) {
        guard counting, recordsSteps else { return }
        current = TileStep(index: steps.count, phase: phase, kvHead: kvHead, i: i, j: j, rows: rows, cols: cols, masked: masked)
        current!.sramPeak = occupancy
    }

    public func endStep(watch: WatchedRow? = nil) {
        guard counting, recordsSteps, var step = current else { return }
        step.sramAfter = occupancy
        step.hbmReads = hbmReads
        step.hbmWrites = hbmWrites
        step.watch = watch
        steps.append(step)
        current = nil
    }
}
