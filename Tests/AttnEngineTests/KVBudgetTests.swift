import AttnEngine
import Testing

@Suite("KV-cache sizes against the papers and closed forms")
struct KVBudgetTests {
    /// The CLA paper's Table 1 (arXiv 2405.12981 v1): preset, KV layers, published bytes/token (16-bit).
    static let table1: [(String, Int, Int)] = [
        ("h128-mha", 20, 163840), ("h128-gqa4", 20, 40960), ("h128-gqa2", 20, 20480), ("h128-mqa", 20, 10240),
        ("h64-mqa", 20, 5120), ("h46-mqa", 20, 3680), ("h32-mqa", 20, 2560), ("h512-mqa-cla2", 10, 20480),
        ("h256-mqa-cla2", 10, 10240), ("h128-mqa-cla2", 10, 5120), ("h90-mqa-cla2", 10, 3600), ("h64-mqa-cla2", 10, 2560),
        ("h256-gqa4-cla2", 10, 40960), ("h128-gqa4-cla2", 10, 20480), ("h128-gqa2-cla2", 10, 10240),
        ("h128-mqa-cla3", 7, 3584), ("h128-mqa-cla4", 5, 2560), ("h128-mqa-cla2-keepends", 11, 5632),
        ("h128-mqa-cla2-densefront", 11, 5632), ("h128-mqa-cla2-denseback", 11, 5632),
    ]

    @Test("every row of the CLA paper's Table 1", arguments: table1)
    func claTable1(name: String, kvLayers: Int, bytesPerToken: Int) throws {
        let c = try #require(Presets.named("cla1b-" + name)?.decoder)
        let budget = KVBudget(layout: c.attention, kvMap: c.kvMap, dtype: .bf16)
        #expect(budget.kvLayers == kvLayers)
        #expect(budget.bytesPerToken == bytesPerToken)
    }

    @Test("uniform Table 1 rows are named by the engine as the paper names them")
    func paperNames() throws {
        for (name, _, _) in Self.table1 where !name.contains("-cla2-") {
            let c = try #require(Presets.named("cla1b-" + name)?.decoder)
            #expect(c.layoutName.lowercased() == name)
        }
    }

    @Test("the 3B models of Table 5: 16384, 8192, 8192 bytes/token")
    func cla3B() throws {
        for (name, bytes) in [("cla3b-h128-mqa", 16384), ("cla3b-h128-mqa-cla2", 8192), ("cla3b-h64-mqa", 8192)] {
            let c = try #require(Presets.named(name)?.decoder)
            #expect(KVBudget(layout: c.attention, kvMap: c.kvMap, dtype: .bf16).bytesPerToken == bytes)
        }
    }

    @Test("real models: 2 × layers × kv_heads × head_dim × 2 bytes, with KV heads, not query heads")
    func realModels() throws {
        let expected: [(String, Int)] = [
            ("llama-2-7b", 2 * 32 * 32 * 128 * 2), ("llama-2-13b", 2 * 40 * 40 * 128 * 2), ("llama-2-70b", 2 * 80 * 8 * 128 * 2),
            ("llama-3-8b", 2 * 32 * 8 * 128 * 2), ("llama-3-70b", 2 * 80 * 8 * 128 * 2), ("mistral-7b", 2 * 32 * 8 * 128 * 2),
        ]
        for (name, bytes) in expected {
            let c = try #require(Presets.named(name)?.decoder)
            let budget = KVBudget(layout: c.attention, kvMap: c.kvMap, dtype: .fp16)
            #expect(budget.bytesPerToken == bytes, "\(name)")
        }
        // Llama 3 8B: a calculator using query heads instead of K/V heads over-counts by 32/8 = 4×
        // (the 8× often quoted is Llama 2/3 70B's 64/8).
        let l3 = try #require(Presets.named("llama-3-8b")?.decoder)
        let budget = KVBudget(layout: l3.attention, kvMap: l3.kvMap, dtype: .bf16)
        #expect(budget.mhaBytesPerToken == 4 * budget.bytesPerToken)
        #expect(2 * 32 * l3.attention.qHeads * 128 * 2 == 4 * budget.bytesPerToken)
        #expect(budget.bytesPerToken == 131_072)
        #expect(try budget.cacheBytes(context: 8192) == 1 << 30)
    }

    @Test("GQA 64 → 8 is an 87.5% cut and MQA 64 → 1 a 98.4% cut")
    func cuts() throws {
        let map = KVSourceMap.unshared(layers: 80)
        let gqa = KVBudget(layout: try AttentionLayout(qHeads: 64, kvHeads: 8, headDim: 128), kvMap: map, dtype: .bf16)
        let mqa = KVBudget(layout: try AttentionLayout(qHeads: 64, kvHeads: 1, headDim: 128), kvMap: map, dtype: .bf16)
        #expect(gqa.reductionVsMHA == 0.875)
        #expect(abs(mqa.reductionVsMHA - 63.0 / 64.0) < 1e-15)
        #expect((mqa.reductionVsMHA * 1000).rounded() / 10 == 98.4)
    }

    @Test("the article's 33.5 MB is K of one layer after 2048 tokens; K+V per layer ≈ 67 MB, linear in context")
    func articleClaim() throws {
        let kOneLayer = 64 * 2048 * 128 * 2
        #expect(kOneLayer == 33_554_432)
        let budget = KVBudget(layout: try AttentionLayout(qHeads: 64, kvHeads: 64, headDim: 128), kvMap: .unshared(layers: 1), dtype: .fp16)
        #expect(try budget.cacheBytes(context: 2048) == 2 * kOneLayer)
        // Linear: twice the context, twice the bytes.
        #expect(try budget.cacheBytes(context: 4096) == 2 * budget.cacheBytes(context: 2048))
    }

    @Test("element sizes: int4 packs two per byte, batch multiplies")
    func dtypes() throws {
        let layout = try AttentionLayout(qHeads: 8, kvHeads: 1, headDim: 64)
        let map = KVSourceMap.unshared(layers: 3)
        let bytes = DType.allCases.map { KVBudget(layout: layout, kvMap: map, dtype: $0).bytesPerToken }
        #expect(bytes == [1536, 768, 768, 384, 384, 192])
        #expect(try KVBudget(layout: layout, kvMap: map, dtype: .int4).cacheBytes(context: 10, batch: 3) == 5760)
        #expect(throws: ConfigError.self) { try KVBudget(layout: layout, kvMap: map, dtype: .fp32).cacheBytes(context: Int.max / 2) }
        #expect(throws: ConfigError.self) { try KVBudget(layout: layout, kvMap: map, dtype: .fp32).cacheBytes(context: 0) }
    }

    @Test("CLA shrinks storage, not the bytes one decode step reads")
    func readsPerStep() throws {
        let layout = try AttentionLayout(qHeads: 16, kvHeads: 1, headDim: 128)
        let plain = KVBudget(layout: layout, kvMap: .unshared(layers: 20), dtype: .bf16)
        let cla = KVBudget(layout: layout, kvMap: try KVPattern.cla(2).map(layers: 20), dtype: .bf16)
        #expect(cla.bytesPerToken * 2 == plain.bytesPerToken)
        #expect(cla.bytesReadPerContextToken == plain.bytesReadPerContextToken)
    }
}
