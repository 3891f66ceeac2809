import AttnEngine
import AttnExperiments
import Foundation
import Testing

@Suite("compare-kv: every technique on one text")
struct CompareKVTests {
    static func base() throws -> DecoderConfig {
        try DecoderConfig(layers: 4, dModel: 128, attention: AttentionLayout(qHeads: 4, kvHeads: 2, headDim: 32), ffn: 48, vocab: CharVocabulary.count)
    }

    @Test("a point reads as a retrofit and a technique joined by +")
    func points() throws {
        let base = try Self.base()
        let p = try CompareKVExperiment.point("cla:2+int8", base: base)
        #expect(p.config.kvMap.kvLayers == 2 && p.technique.quant == .int8)
        let q = try CompareKVExperiment.point("mqa+h2o:16", base: base)
        #expect(q.config.attention.kvHeads == 1 && q.technique.evict == .h2o && q.technique.budget == 16)
        let l = try CompareKVExperiment.point("latent:20", base: base)
        #expect(l.config == base && l.technique.latentRank == 20)
        for bad in ["h2o", "int4+latent:8", "int4+window:8", "latent:129", "nonsense", "window:0"] {
            #expect(throws: ConfigError.self, "\(bad)") { try CompareKVExperiment.point(bad, base: base) }
        }
    }

    /// On random weights and a short text: a window as long as the text is the original's
    /// perplexity exactly, bytes are the storage's closed forms, and eviction holds its budget.
    @Test("measured rows: bytes by hand, a window as long as the text changes nothing")
    func rows() throws {
        let text = FileManager.default.temporaryDirectory.appendingPathComponent("attnlab-compare-kv-\(getpid()).txt")
        try String(repeating: "the cat sat on the mat. ", count: 8).write(to: text, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: text) }
        var e = CompareKVExperiment()
        (e.model.layers, e.model.dModel, e.model.qHeads, e.model.kvHeads) = (4, 64, 2, 2)
        (e.eval.text, e.eval.windowTokens, e.eval.maxTokens, e.eval.dtype) = (text.path, 64, 128, .fp16)
        e.points = ["window:64", "int4", "h2o:16", "cla:2"]
        let out = try e.run()
        let r = out.rows, E = 64, layers = 4
        #expect(r.map(\.row.name) == ["original", "window:64", "int4", "h2o:16", "cla:2"])
        #expect(r[1].row.result.totalNLL == r[0].row.result.totalNLL)
        #expect(r[0].windowCacheBytes == layers * 64 * 2 * E * 2)
        // int4, groups of 32, 64 tokens of E = 64: values 64·32 code bytes + 64·2 groups·4; keys two whole
        // groups of 32 tokens: 2·32·32 code bytes + 2·64 channels·4.
        #expect(r[2].windowCacheBytes == layers * ((64 * 32 + 64 * 2 * 4) + (2 * 32 * 32 + 2 * 64 * 4)))
        #expect(r[3].windowCacheBytes == layers * 16 * 2 * E * 2 && r[3].bytesReadPerStep == layers * 16 * 2 * E * 2)
        #expect(r[4].windowCacheBytes == 2 * 64 * 2 * E * 2 && r[4].bytesReadPerStep == layers * 64 * 2 * E * 2)
        #expect(out.json.serialized().contains("\"points\""))
    }
}
