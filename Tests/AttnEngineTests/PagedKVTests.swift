import AttnEngine
import Testing

@Suite("Paged KV allocation against a token-by-token simulation and closed forms")
struct PagedKVTests {
    /// The allocator written the slow, obvious way: every step, every live request writes one token
    /// into its last block or takes the lowest free block (a scan of an in-use bitmap); the requests
    /// that end give their blocks back. Returns the tables, and the most blocks in use at any step.
    static func bruteForce(_ lengths: [Int], B: Int, limit: Int?) -> (tables: [[Int]], filled: [Int], peak: Int) {
        var inUse: [Bool] = []
        var tables = [[Int]](repeating: [], count: lengths.count)
        var filled = [Int](repeating: 0, count: lengths.count)
        var peak = 0
        for t in 1...lengths.max()! {
            for i in lengths.indices where t <= lengths[i] {
                // A rolling buffer writes over its oldest slot once full: no new slot is needed.
                if let limit, filled[i] == limit { continue }
                if filled[i] == tables[i].count * B {
                    let block = inUse.firstIndex(of: false) ?? inUse.count
                    if block == inUse.count { inUse.append(true) } else { inUse[block] = true }
                    tables[i].append(block)
                }
                filled[i] += 1
            }
            peak = max(peak, inUse.filter { $0 }.count)
            for i in lengths.indices where t == lengths[i] {
                for block in tables[i] { inUse[block] = false }
            }
        }
        return (tables, filled, peak)
    }

    @Test("random request sets: tables, peak and fragmentation equal the brute-force run and the closed forms")
    func randomSets() throws {
        var rng = SplitMix64(seed: 14, stream: "paged")
        for _ in 0..<200 {
            let count = Int.random(in: 1...12, using: &rng)
            let lengths = (0..<count).map { _ in Int.random(in: 1...300, using: &rng) }
            let B = [1, 2, 3, 7, 16, 32, 64, 512][Int.random(in: 0..<8, using: &rng)]
            let limit: Int? = Bool.random(using: &rng) ? nil : Int.random(in: 1...200, using: &rng)
            let pager = try PagedKV(pageTokens: B, slotLimit: limit)
            let a = try pager.allocate(lengths: lengths)
            let brute = Self.bruteForce(lengths, B: B, limit: limit)
            #expect(a.blockTables == brute.tables, "\(lengths) B=\(B) limit=\(String(describing: limit))")
            #expect(a.usedSlots == brute.filled)
            #expect(a.peakBlocks == brute.peak)
            let held = lengths.map { length in limit.map { min(length, $0) } ?? length }
            #expect(a.blocks == held.reduce(0) { $0 + ($1 + B - 1) / B })
            #expect(a.fragmentationSlots == held.reduce(0) { $0 + (B - $1 % B) % B })
            #expect(a.fragmentationSlots < count * B)
        }
    }

    @Test("the lowest free block is reused: a request that outlives another takes its blocks")
    func reuse() throws {
        let a = try PagedKV(pageTokens: 4).allocate(lengths: [8, 20])
        // Steps 1 and 5 give blocks 0–3 alternately; request 0 ends at 8 and frees 0 and 2, which
        // request 1 takes at steps 9 and 13 before a new block 4 at step 17.
        #expect(a.blockTables == [[0, 2], [1, 3, 0, 2, 4]])
        #expect(a.peakBlocks == 5)
        #expect(a.fragmentationSlots == 0)
    }

    @Test("a block of 1 token never fragments; a block past every length wastes B − len per request")
    func extremes() throws {
        #expect(try PagedKV(pageTokens: 1).allocate(lengths: [3, 5, 9]).fragmentationSlots == 0)
        #expect(try PagedKV(pageTokens: 64).allocate(lengths: [3, 5, 9]).fragmentationSlots == 61 + 59 + 55)
        #expect(throws: ConfigError(.pageTokens, "must be positive, got 0")) { try PagedKV(pageTokens: 0) }
        #expect(throws: ConfigError.self) { try PagedKV(pageTokens: 1).allocate(lengths: [PagedKV.maxBoundaries]) }
        #expect(throws: ConfigError.self) { try PagedKV(pageTokens: 4).allocate(lengths: [0]) }
    }
}
