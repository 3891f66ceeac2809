import AttnEngine
import AttnTiling
import Testing

@Suite("Tiled attention: a batch of independent heads")
struct TileBatchTests {
    /// B batch elements of H heads are B·H independent attention problems. The batched run simulates
    /// one element and scales; here every (b, h) runs on its own, with its own data, and the counts
    /// are added up, so the test does not repeat the multiplication it checks.
    @Test("--batch B with H heads counts what B·H single-head runs add up to", arguments: TileAlgorithm.allCases)
    func batchEqualsHeadsOneByOne(algo: TileAlgorithm) throws {
        let B = 3, H = 4, n = 48, d = 16, M = 1024
        var o = TileOptions(algorithm: algo, sramElements: M)
        o.backward = true
        o.batch = B
        let batched = try TiledAttention.run(try TileProblem(n: n, d: d, qHeads: H, kvHeads: H, seed: 5), o)

        o.batch = 1
        var reads = [Int](repeating: 0, count: TileTensor.allCases.count), writes = reads
        var flops: FlopCount? = nil, peak = 0
        for copy in 0..<(B * H) {
            let one = try TiledAttention.run(try TileProblem(n: n, d: d, seed: UInt64(100 + copy)), o)
            let backward = try #require(one.backward)
            for t in TileTensor.allCases {
                reads[t.rawValue] += one.forward.reads(t) + backward.reads(t)
                writes[t.rawValue] += one.forward.writes(t) + backward.writes(t)
            }
            flops = flops.map { $0 + one.flops } ?? one.flops
            peak = max(peak, one.peakSram)
        }
        let batchedBackward = try #require(batched.backward)
        for t in TileTensor.allCases {
            #expect(batched.forward.reads(t) + batchedBackward.reads(t) == reads[t.rawValue], "\(algo) reads of \(t)")
            #expect(batched.forward.writes(t) + batchedBackward.writes(t) == writes[t.rawValue], "\(algo) writes of \(t)")
        }
        #expect(batched.hbmAccesses == reads.reduce(0, +) + writes.reduce(0, +))
        #expect(batched.flops == flops)
        #expect(batched.batch == B)
        // One copy at a time (or one per SM): a batch needs no more SRAM than one problem.
        #expect(batched.peakSram <= peak)
        // The closed form scales with the copies too, and still equals the count.
        #expect(batched.closedForm(.forward)?.equalsCount == true)
        #expect(batched.closedForm(.backward)?.equalsCount == true)
        #expect(try #require(batched.maxAbsError) <= 1e-5)
    }

    @Test("a batch outside 1…maxBatch is refused, naming --batch")
    func refusesBadBatch() throws {
        let p = try TileProblem(n: 16, d: 8)
        for bad in [0, -2, TiledAttention.maxBatch + 1] {
            var o = TileOptions(algorithm: .fa2, sramElements: 256)
            o.batch = bad
            #expect { try TiledAttention.run(p, o) } throws: { ($0 as? ConfigError)?.description.contains("batch") == true }
        }
    }
}
