import AttnEngine
import Foundation
import Testing
import AttnModels

/// A model file is input like a flag: every number the model uses is checked, and the error names
/// the file and the key instead of trapping later (Double → Int, RoPE's sincos) or decoding NaN.
@Suite("GGUF metadata is validated")
struct MetadataTests {
    @Test("the tiny Llama the tests build loads and decodes to finite logits")
    func tinyLlamaLoads() throws {
        let path = try GGUFBuilder.tinyLlama().write()
        let model = try PretrainedModel(file: try GGUFFile(path: path), name: "tiny")
        #expect(model.config.layers == 1 && model.config.dModel == 8 && model.config.vocab == 256)
        let decoder = Decoder(config: model.config, weights: model.weights, capacityTokens: 4)
        #expect(decoder.forward([1, 2, 3]).allSatisfy { $0.logits.allSatisfy(\.isFinite) })
    }

    static let badNumbers: [(String, GGUFBuilder.Value)] = [
        ("llama.rope.freq_base", .f32(.nan)), ("llama.rope.freq_base", .f32(.infinity)), ("llama.rope.freq_base", .f32(0)),
        ("llama.rope.freq_base", .f32(-10_000)), ("llama.rope.freq_base", .f64(1e300)),
        ("llama.attention.layer_norm_rms_epsilon", .f32(.nan)), ("llama.attention.layer_norm_rms_epsilon", .f32(-1e-5)),
        ("llama.attention.layer_norm_rms_epsilon", .f32(0)), ("llama.attention.layer_norm_rms_epsilon", .f64(1e300)),
        ("llama.block_count", .u32(0)), ("llama.block_count", .u64(1 << 62)), ("llama.embedding_length", .i32(-8)),
        ("llama.attention.head_count", .u32(0)), ("llama.attention.head_count_kv", .i64(-1)),
        ("llama.feed_forward_length", .u64(UInt64.max)), ("llama.context_length", .i32(-1)),
    ]

    @Test("a bad metadata number is refused with the file and the key", arguments: badNumbers.indices)
    func refused(index: Int) throws {
        let (key, value) = Self.badNumbers[index]
        let path = try GGUFBuilder.tinyLlama(metadata: [(key, value)]).write()
        let error = try #require(throws: ConfigError.self) { try PretrainedModel(file: try GGUFFile(path: path), name: "tiny") }
        #expect(error.subject == .file(path))
        #expect(error.reason.contains("'\(key)'"), "\(error.reason)")
    }
}
