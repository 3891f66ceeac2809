import AttnEngine
import Testing

@Suite("Parameter counts against published numbers")
struct ParamCountTests {
    @Test("BERT-base exactly: 23,837,184 embeddings + 12 × 7,087,872 + 590,592 pooler = 109,482,240")
    func bertBase() throws {
        let c = try #require(Presets.named("bert-base")?.encoder)
        let p = c.paramCount
        let embeddings = p["embedding_word"]! + p["embedding_position"]! + p["embedding_segment"]! + p["embedding_layernorm"]!
        #expect(embeddings == 23_837_184)
        #expect(p["embedding_word"] == 23_440_896)
        #expect((p["attention"]! + p["ffn"]!) / 12 == 12 * 768 * 768 + 13 * 768)
        #expect((p["attention"]! + p["ffn"]!) / 12 == 7_087_872)
        #expect(p["pooler"] == 590_592)
        #expect(p.total == 109_482_240)
        // The article's "110M per layer, 1.32B for 12 layers" is off by 15×: one layer is ≈ 7.1M.
        #expect(Double(p.total) / 7_087_872 > 15)
    }

    /// ALBERT Table 1 and Table 4 (Lan et al. 2019), published in millions.
    @Test("ALBERT Table 1 sizes and the cross-layer sharing variants (E = 128)")
    func albert() throws {
        func millions(_ name: String, sharing: WeightSharing? = nil) throws -> Double {
            let c = try #require(Presets.named(name)?.encoder)
            let config = try EncoderConfig(layers: c.layers, hidden: c.hidden, embedding: c.embedding, vocab: c.vocab,
                                           weightSharing: sharing ?? c.weightSharing)
            return Double(config.paramCount.total) / 1e6
        }
        // The paper prints whole millions, sometimes rounded and sometimes truncated: within 1M.
        #expect(abs(try millions("albert-base") - 12) < 1)
        #expect(abs(try millions("albert-large") - 18) < 1)
        #expect(abs(try millions("albert-base", sharing: WeightSharing.none) - 89) < 1)
        #expect(abs(try millions("albert-base", sharing: .attention) - 64) < 1)
        #expect(abs(try millions("albert-base", sharing: .ffn) - 38) < 1)
        #expect(abs(try millions("bert-large") - 334) / 334 < 0.005)
    }

    @Test("Llama 2/3 and Mistral totals equal their released checkpoints' parameter counts")
    func realDecoders() throws {
        let published: [(String, Int)] = [
            ("llama-2-7b", 6_738_415_616), ("llama-2-13b", 13_015_864_320), ("llama-2-70b", 68_976_648_192),
            ("llama-3-8b", 8_030_261_248), ("llama-3-70b", 70_553_706_496), ("mistral-7b", 7_241_732_096),
        ]
        for (name, total) in published {
            #expect(try #require(Presets.named(name)?.decoder).paramCount.total == total, "\(name)")
        }
    }

    @Test("a CLA consumer layer has no W_K, W_V: each saves 2 · d_model · kv_heads · head_dim")
    func claSavesProjections() throws {
        let plain = try #require(Presets.named("cla1b-h128-mqa")?.decoder)
        let cla = try #require(Presets.named("cla1b-h128-mqa-cla2")?.decoder)
        #expect(plain.paramCount.total - cla.paramCount.total == 10 * 2 * 2048 * 128)
        #expect(cla.paramCount["attention_wq"] == plain.paramCount["attention_wq"])
    }

    @Test("GQA shrinks only W_K and W_V")
    func gqaShrinksKV() throws {
        let mha = try smallConfig(kvHeads: 4), gqa = try smallConfig(kvHeads: 1)
        #expect(mha.paramCount["attention_wq"] == gqa.paramCount["attention_wq"])
        #expect(mha.paramCount["attention_wo"] == gqa.paramCount["attention_wo"])
        #expect(mha.paramCount["attention_wk"]! == 4 * gqa.paramCount["attention_wk"]!)
    }

    @Test("the engine's weight arrays hold exactly the counted parameters")
    func countsMatchArrays() throws {
        for config in DecoderTests.layouts.map(\.1) {
            #expect(DecoderWeights(config: config, seed: 1).storedElements == config.paramCount.total)
        }
    }

    @Test("Llama's FFN rule gives 11008 for d_model 4096")
    func ffnRule() {
        #expect(DecoderConfig.llamaFFN(dModel: 4096, multiple: 256) == 11008)
        #expect(DecoderConfig.llamaFFN(dModel: 5120, multiple: 256) == 13824)
    }
}

@Suite("Presets")
struct PresetTableTests {
    /// The builders leave out a row that would not describe a valid model instead of trapping, so
    /// this pins that none was left out: the six decoders of section 7.5 of the brief, BERT and
    /// ALBERT's six, the CLA paper's 20 rows of Table 1 and 3 of Table 5.
    @Test("every row of every published table is a preset")
    func everyRow() {
        let names = Presets.all.map(\.name)
        #expect(names.filter { ["llama-", "mistral-"].contains(where: $0.hasPrefix) }.count == 6)
        #expect(Presets.all.filter { $0.encoder != nil }.count == 6)
        #expect(names.filter { $0.hasPrefix("cla1b-") }.count == 20)
        #expect(names.filter { $0.hasPrefix("cla3b-") }.count == 3)
        // And the 13 study models (`mini-*`), which are AttnLab's own, not published.
        #expect(names.filter { $0.hasPrefix("mini-") }.count == 13)
        #expect(Set(Presets.all.map(\.name)).count == 35 + 13)
    }
}
