/// A paged KV cache's allocator, as vLLM's PagedAttention lays one out (Kwon et al. 2023): the cache
/// is a pool of physical blocks of `B` token slots; each sequence has a block table mapping its
/// logical block `j` (tokens `j·B ..< (j+1)·B`) to a physical block, taken from a free list when the
/// sequence's next token starts a new block and given back when the sequence finishes.
///
/// Waste is internal only: the empty slots of each sequence's last block, at most `B − 1` per
/// sequence, against a contiguous cache that reserves the maximum length for every request up front.
///
/// A cache that holds at most `slotLimit` tokens (a sliding window or an eviction budget) reuses its
/// slots as a rolling buffer: once `slotLimit` slots are filled the next token overwrites the oldest
/// in place, so a sequence never holds more than ⌈slotLimit / B⌉ blocks.
public struct PagedKV: Sendable, Equatable {
    /// Token slots per block, B.
    public let pageTokens: Int
    /// Slots a sequence holds at most (a rolling buffer's size), nil for a cache that keeps every token.
    public let slotLimit: Int?

    /// The most requests one allocation simulates.
    public static let maxRequests = 1 << 12
    /// The most block boundaries the requests cross together, Σ ⌈length / B⌉: the simulation's work.
    public static let maxBoundaries = 1 << 22

    /// - Throws: `ConfigError` naming `--page-tokens` for a block size outside 1...`Limits.maxTokens`.
    public init(pageTokens: Int, slotLimit: Int? = nil) throws(ConfigError) {
        try ConfigError.requireSize(pageTokens, atMost: Limits.maxTokens, .pageTokens)
        self.pageTokens = pageTokens
        self.slotLimit = slotLimit
    }

    /// Slots a sequence of `length` tokens holds: min(length, slotLimit).
    public func heldSlots(_ length: Int) -> Int { slotLimit.map { min(length, $0) } ?? length }

    /// Blocks a sequence of `length` tokens holds: ⌈held / B⌉.
    public func blocks(_ length: Int) -> Int { (heldSlots(length) + pageTokens - 1) / pageTokens }

    /// The allocator's state after a batch of requests ran.
    public struct Allocation: Sendable, Equatable {
        /// Each request's block table at its last token (logical block → physical block).
        public let blockTables: [[Int]]
        /// Slots each request holds at its last token.
        public let usedSlots: [Int]
        /// The most blocks in use at once: the pool the batch needed, since a block is only created
        /// when the free list is empty.
        public let peakBlocks: Int
        public let pageTokens: Int

        /// Blocks of all requests held at their full lengths: Σ ⌈held_i / B⌉.
        public var blocks: Int { blockTables.reduce(0) { $0 + $1.count } }
        public var allocatedSlots: Int { blocks * pageTokens }
        public var usedSlotsTotal: Int { usedSlots.reduce(0, +) }
        /// Empty slots in the last blocks: Σ (B − held_i mod B) mod B.
        public var fragmentationSlots: Int { allocatedSlots - usedSlotsTotal }
    }

    /// Runs `lengths.count` requests that start together and each write one token per step until
    /// their own length: at a step, request after request (in order) takes the lowest free block when
    /// its next token starts a new block; after the step, the requests that reached their length
    /// give their blocks back to the free list.
    ///
    /// Only the steps where something happens are visited: a block boundary or a request's end.
    /// - Throws: `ConfigError` naming `--requests` for more than `maxRequests` requests, a length
    ///   below 1, or more than `maxBoundaries` block boundaries in all.
    public func allocate(lengths: [Int]) throws(ConfigError) -> Allocation {
        let B = pageTokens
        guard lengths.count <= Self.maxRequests else { throw ConfigError(.requests, "\(lengths.count) requests; at most \(Self.maxRequests)") }
        var boundaries = 0
        for length in lengths {
            guard length >= 1 else { throw ConfigError(.requests, "a request must hold at least 1 token, got \(length)") }
            boundaries += length / B + 1
            guard boundaries <= Self.maxBoundaries else {
                throw ConfigError(.fields([.requests, .pageTokens]), "the requests cross more than \(Self.maxBoundaries) blocks of \(B) tokens; give larger blocks or fewer tokens")
            }
        }
        var tables = [[Int]](repeating: [], count: lengths.count)
        var free = FreeList()
        var created = 0, inUse = 0, peak = 0
        let ends = lengths.enumerated().sorted { ($0.element, $0.offset) < ($1.element, $1.offset) }
        var nextEnd = 0
        // The requests not yet ended, in order.
        var live = Array(lengths.indices)
        var t = 1
        while nextEnd < ends.count {
            // Step t writes token t − 1: it starts a block when (t − 1) is a multiple of B and the
            // rolling buffer is not yet full.
            if (t - 1) % B == 0 {
                for i in live where heldSlots(t) > tables[i].count * B {
                    let block: Int
                    if let lowest = free.popLowest() { block = lowest } else { block = created; created += 1 }
                    tables[i].append(block)
                    inUse += 1
                }
                peak = max(peak, inUse)
            }
            if ends[nextEnd].element == t {
                while nextEnd < ends.count && ends[nextEnd].element == t {
                    for block in tables[ends[nextEnd].offset] { free.push(block) }
                    inUse -= tables[ends[nextEnd].offset].count
                    nextEnd += 1
                }
                live.removeAll { lengths[$0] == t }
            }
            guard nextEnd < ends.count else { break }
            // The next step where a block may start, or the next end.
            let boundary = ((t - 1) / B + 1) * B + 1
            t = min(boundary, ends[nextEnd].element)
        }
        return Allocation(blockTables: tables, usedSlots: lengths.map(heldSlots), peakBlocks: peak, pageTokens: B)
    }
}

/// The free blocks as a binary min-heap: the lowest is taken first, and a finished sequence's blocks
/// go back in O(log n) each (a sorted array would shift its whole length for every block).
private struct FreeList {
    private var heap: [Int] = []

    mutating func push(_ block: Int) {
        heap.append(block)
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[parent] > heap[child] else { break }
            heap.swapAt(parent, child)
            child = parent
        }
    }

    mutating func popLowest() -> Int? {
        guard let last = heap.popLast() else { return nil }
        guard !heap.isEmpty else { return last }
        let lowest = heap[0]
        heap[0] = last
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < heap.count && heap[left] < heap[smallest] { smallest = left }
            if right < heap.count && heap[right] < heap[smallest] { smallest = right }
            guard smallest != parent else { return lowest }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
    }
}
