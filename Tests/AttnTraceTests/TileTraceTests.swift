import AttnEngine
import AttnTiling
import AttnTrace
import Testing

@Suite("Tile trace (attnlab.trace/1)")
struct TileTraceTests {
    func fa2(backward: Bool, blocks: BlockSizes? = nil) throws -> TileResult {
        var o = TileOptions(algorithm: .fa2, sramElements: 1024)
        o.backward = backward
        o.blocks = blocks
        o.recordSteps = true
        o.check = false
        return try TiledAttention.run(try TileProblem(n: 64, d: 16), o)
    }

    @Test("tile events name their phase by its formula: Tr·Tc forward, Tr D passes, Tr·Tc backward blocks")
    func phases() throws {
        let r = try fa2(backward: true)
        let lines = try parseLines(TileTrace.jsonl(r))
        let phases = lines.filter { $0["type"] as? String == "tile" }.compactMap { $0["phase"] as? String }
        let Tr = (64 + r.blocks.br - 1) / r.blocks.br, Tc = (64 + r.blocks.bc - 1) / r.blocks.bc
        #expect(phases == Array(repeating: "forward", count: Tr * Tc) + Array(repeating: "D = rowsum(dO∘O)", count: Tr)
            + Array(repeating: "backward", count: Tr * Tc))
    }

    @Test("the header and summary say where the blocks came from")
    func blockSource() throws {
        for (r, source) in [(try fa2(backward: false), "default"), (try fa2(backward: false, blocks: BlockSizes(br: 8, bc: 16)), "given")] {
            let lines = try parseLines(TileTrace.jsonl(r))
            let config = try #require(lines.first?["config"] as? [String: Any])
            #expect(config["block_source"] as? String == source)
            #expect(lines.last?["block_source"] as? String == source)
            #expect(TileTrace.text(r).contains("(\(source))"))
        }
    }
}
