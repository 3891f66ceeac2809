import AttnEngine
import Foundation
import Testing
import AttnModels

/// A checkpoint written then read back is the model that was written: every tensor (F32 bit for bit,
/// F16 as the nearest fp16 of each value, rounded here independently of the writer) and so the
/// decoder's logits, for every variant AttnLab can train.
@Suite("checkpoints round-trip through GGUF")
struct CheckpointTests {
    /// The 256 byte tokens, two merges and an end-of-text control token: 259 tokens.
    static let tokenizer: BPETokenizer = {
        let tokens = GGUFBuilder.byteAlphabet + ["Ġt", "he", "<|endoftext|>"]
        let types = [Int32](repeating: 1, count: 258) + [3]
        return try! BPETokenizer(tokens: tokens, tokenTypes: types, merges: ["Ġ t", "h e"], file: "test")
    }()
    static let eos = 258

    /// One variant: its name, heads, K/V pattern, weight sharing, head width and head tying.
    struct Variant: CustomStringConvertible, Sendable {
        let description: String
        var kvHeads = 4
        var pattern = KVPattern.none
        var sharing = WeightSharing.none
        var headDim = 4
        var tied = false

        func config() throws -> DecoderConfig {
            let layers = 4
            return try DecoderConfig(
                layers: layers, dModel: 16, attention: try AttentionLayout(qHeads: 4, kvHeads: kvHeads, headDim: headDim),
                ffn: 32, vocab: CheckpointTests.tokenizer.count, kvMap: try pattern.map(layers: layers), weightSharing: sharing,
                tiedEmbeddings: tied)
        }
    }

    static let variants: [Variant] = [
        Variant(description: "MHA"),
        Variant(description: "GQA2", kvHeads: 2),
        Variant(description: "MQA, tied head", kvHeads: 1, tied: true),
        Variant(description: "MQA-CLA2", kvHeads: 1, pattern: .cla(2)),
        Variant(description: "CLA3 (short first group)", pattern: .cla(3)),
        Variant(description: "explicit map 0,1,1,0", pattern: .explicit([0, 1, 1, 0])),
        Variant(description: "KeepEnds", kvHeads: 2, pattern: .keepEnds),
        Variant(description: "shared all", sharing: .all),
        Variant(description: "shared attention, CLA2", pattern: .cla(2), sharing: .attention),
        Variant(description: "shared FFN, tied", sharing: .ffn, tied: true),
        Variant(description: "head_dim 8 ≠ d_model / q_heads", kvHeads: 2, headDim: 8),
    ]

    /// Seeded random weights with norm gains that are not all 1, so a swapped gain shows.
    static func weights(_ config: DecoderConfig) -> DecoderWeights {
        var w = DecoderWeights(config: config, seed: 11)
        var rng = SplitMix64(seed: 5)
        func gains() -> [Float] { (0..<config.dModel).map { _ in 0.5 + Float(rng.next() % 1000) / 1000 } }
        for i in w.attention.indices { w.attention[i].norm = gains() }
        for i in w.ffn.indices { w.ffn[i].norm = gains() }
        w.finalNorm = gains()
        return w
    }

    static func folder() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("attnlab-ckpt-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir.path
    }

    static func write(_ config: DecoderConfig, _ weights: DecoderWeights, _ type: CheckpointType, to path: String,
                      extras: [(key: String, value: GGUFWriter.Value)] = []) throws {
        try Checkpoint.write(path: path, config: config, weights: weights, tokenizer: tokenizer, contextTokens: 64,
                             tensorType: type, name: "test model", eosToken: eos, extras: extras)
    }

    /// The nearest fp16 of `x` (ties to even) as a Float32, from the bits: the reference the writer's
    /// F16 tensors are checked against (finite values inside fp16's range, as trained weights are).
    static func fp16(_ x: Float) -> Float {
        let bits = x.bitPattern, sign = bits & 0x8000_0000
        let exponent = Int((bits >> 23) & 0xFF) - 127
        guard exponent >= -25 else { return Float(bitPattern: sign) }             // below half the smallest subnormal
        // Keep 11 significant bits (10 stored + the leading one), fewer below fp16's normal range.
        let kept = exponent >= -14 ? 11 : 11 - (-14 - exponent)
        let significand = UInt64((bits & 0x7F_FFFF) | 0x80_0000)                 // 24 bits
        let dropped = 24 - kept
        var q = significand >> dropped
        let rest = significand & ((1 << dropped) - 1), half = UInt64(1) << (dropped - 1)
        if rest > half || (rest == half && q & 1 == 1) { q += 1 }
        let magnitude = Double(q) * pow(2, Double(exponent - kept + 1))
        return Float(bitPattern: sign | Float(magnitude).bitPattern)
    }

    @Test("fp16 reference: exact cases")
    func fp16Reference() {
        #expect(Self.fp16(1) == 1 && Self.fp16(-2.5) == -2.5 && Self.fp16(65504) == 65504)
        #expect(Self.fp16(1 + 1.0 / 2048) == 1)                                     // tie → even
        #expect(Self.fp16(1 + 3.0 / 2048) == 1 + 2.0 / 1024)                        // tie → even, up
        #expect(Self.fp16(1 + 1.0 / 2048 + 1.0 / 65536) == 1 + 1.0 / 1024)          // above the tie
        #expect(Self.fp16(Float(bitPattern: 0x3380_0000)) == Float(bitPattern: 0x3380_0000))  // 2^-24, the smallest subnormal
        #expect(Self.fp16(Float(bitPattern: 0x3300_0000)) == 0)                     // 2^-25: a tie, to even (0)
    }

    /// Every weight of `w` in a fixed order, each matrix dequantized.
    static func tensors(_ w: DecoderWeights) -> [(String, [Float], isGain: Bool)] {
        var out: [(String, [Float], isGain: Bool)] = [("embedding", w.embedding.floats, false), ("final norm", w.finalNorm, true)]
        if let head = w.lmHead { out.append(("lm head", head.floats, false)) }
        for (i, a) in w.attention.enumerated() {
            out += [("attention \(i) norm", a.norm, true), ("attention \(i) wq", a.wq.floats, false), ("attention \(i) wo", a.wo.floats, false)]
            if let wk = a.wk { out.append(("attention \(i) wk", wk.floats, false)) }
            if let wv = a.wv { out.append(("attention \(i) wv", wv.floats, false)) }
        }
        for (i, f) in w.ffn.enumerated() {
            out += [("ffn \(i) norm", f.norm, true), ("ffn \(i) w1", f.w1.floats, false), ("ffn \(i) w3", f.w3.floats, false), ("ffn \(i) w2", f.w2.floats, false)]
        }
        return out
    }

    /// `w` with every matrix replaced by its values rounded to fp16 (still Float32), gains as they are.
    static func roundedToFP16(_ w: DecoderWeights) -> DecoderWeights {
        func r(_ m: WeightMatrix) -> WeightMatrix { WeightMatrix(rows: m.rows, cols: m.cols, floats: m.floats.map(fp16)) }
        var out = w
        out.embedding = r(w.embedding)
        out.lmHead = w.lmHead.map(r)
        for i in out.attention.indices {
            out.attention[i].wq = r(w.attention[i].wq)
            out.attention[i].wk = w.attention[i].wk.map(r)
            out.attention[i].wv = w.attention[i].wv.map(r)
            out.attention[i].wo = r(w.attention[i].wo)
        }
        for i in out.ffn.indices {
            out.ffn[i].w1 = r(w.ffn[i].w1)
            out.ffn[i].w3 = r(w.ffn[i].w3)
            out.ffn[i].w2 = r(w.ffn[i].w2)
        }
        return out
    }

    static func logits(_ config: DecoderConfig, _ weights: DecoderWeights) -> [[UInt32]] {
        let decoder = Decoder(config: config, weights: weights, capacityTokens: 8)
        return decoder.forward([5, 256, 72, 258, 0, 200]).map { $0.logits.map(\.bitPattern) }
    }

    @Test("written then read: the same config, tokenizer, tensors and logits",
          arguments: variants.indices, CheckpointType.allCases)
    func roundTrip(index: Int, type: CheckpointType) throws {
        let variant = Self.variants[index]
        let config = try variant.config(), weights = Self.weights(config)
        let path = try Self.folder() + "/model.gguf"
        try Self.write(config, weights, type, to: path)
        let model = try PretrainedModel(file: try GGUFFile(path: path), name: "model.gguf")

        #expect(model.config == config, "\(variant)")
        #expect(model.title == "test model" && model.contextTokens == 64 && model.eosToken == Self.eos)
        #expect(model.tokenizer.tokens == Self.tokenizer.tokens && model.tokenizer.tokenTypes == Self.tokenizer.tokenTypes)
        #expect(model.tokenizer.mergeRules == Self.tokenizer.mergeRules)
        #expect(try model.tokenizer.encode("the theme<|endoftext|>", field: .text) == (try Self.tokenizer.encode("the theme<|endoftext|>", field: .text)))
        for (i, a) in model.weights.attention.enumerated() {
            #expect((a.wk != nil) == config.attentionSetHasKV(i) && (a.wv != nil) == config.attentionSetHasKV(i), "\(variant) set \(i)")
        }

        let expected = type == .f32 ? weights : Self.roundedToFP16(weights)
        let written = Self.tensors(expected), read = Self.tensors(model.weights)
        #expect(written.map(\.0) == read.map(\.0), "\(variant)")
        for (w, r) in zip(written, read) {
            #expect(w.1.map(\.bitPattern) == r.1.map(\.bitPattern), "\(variant) \(type): \(w.0)")
        }
        // The F16 file holds different values from the F32 model (else the check above proves nothing).
        if type == .f16 { #expect(Self.tensors(weights)[0].1 != written[0].1) }

        #expect(Self.logits(model.config, model.weights) == Self.logits(config, expected), "\(variant) \(type)")
    }

    @Test("the same model written twice is the same bytes; extras go in as given")
    func deterministic() throws {
        let config = try Self.variants[3].config(), weights = Self.weights(config)
        let dir = try Self.folder()
        let extras: [(key: String, value: GGUFWriter.Value)] = [
            ("attnlab.train.steps", .u32(100)), ("attnlab.train.seed", .u64(1 << 40)), ("attnlab.train.corpus", .string("python-docs")),
            ("attnlab.train.val_loss", .f32(3.25)), ("attnlab.train.lr", .f64(3e-4)), ("attnlab.train.resumed", .bool(false)),
            ("attnlab.train.offset", .i32(-3)), ("attnlab.train.variants", .strings(["a", "b"])), ("attnlab.train.ids", .i32s([1, 2])),
        ]
        try Self.write(config, weights, .f16, to: dir + "/a.gguf", extras: extras)
        try Self.write(config, weights, .f16, to: dir + "/b.gguf", extras: extras)
        let a = try Data(contentsOf: URL(fileURLWithPath: dir + "/a.gguf"))
        #expect(a == (try Data(contentsOf: URL(fileURLWithPath: dir + "/b.gguf"))))
        #expect(!a.contains(dir.utf8))                                              // no path in the file

        let f = try GGUFFile(path: dir + "/a.gguf")
        #expect(f.value("attnlab.train.steps") == .uint(100) && f.value("attnlab.train.seed") == .uint(1 << 40))
        #expect(f.value("attnlab.train.corpus") == .string("python-docs") && f.value("attnlab.train.val_loss") == .float(3.25))
        #expect(f.value("attnlab.train.lr") == .float(3e-4) && f.value("attnlab.train.resumed") == .bool(false))
        #expect(f.value("attnlab.train.offset") == .int(-3) && f.value("attnlab.train.variants") == .array([.string("a"), .string("b")]))
        #expect(f.value("attnlab.train.ids") == .array([.int(1), .int(2)]))
        #expect(f.metadata.suffix(extras.count).map(\.key) == extras.map(\.key))
        #expect(f.value(Checkpoint.kvSourceMapKey) == .array([0, 0, 2, 2].map { .int($0) }))
        #expect(f.value("general.file_type") == .uint(1))
        #expect(f.tensors.allSatisfy { $0.offsetBytes % 32 == 0 } && f.dataOffsetBytes % 32 == 0)
        #expect(f.tensor("blk.1.attn_k.weight") == nil && f.tensor("blk.2.attn_k.weight")?.type == .f16)
        #expect(f.tensor("blk.1.attn_norm.weight")?.type == .f32)
    }

    @Test("a plain MHA/GQA checkpoint holds only llama.cpp's keys and tensors")
    func standardLlama() throws {
        let config = try Self.variants[1].config()
        let path = try Self.folder() + "/gqa.gguf"
        try Self.write(config, Self.weights(config), .f32, to: path)
        let f = try GGUFFile(path: path)
        #expect(!f.metadata.contains { $0.key.hasPrefix("attnlab.") })
        var names = ["token_embd.weight", "output_norm.weight", "output.weight"]
        for l in 0..<4 {
            names += ["attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_norm", "ffn_gate", "ffn_up", "ffn_down"].map { "blk.\(l).\($0).weight" }
        }
        #expect(Set(f.tensors.map(\.name)) == Set(names) && f.tensors.count == names.count)
        #expect(f.value("llama.attention.head_count_kv") == .uint(2) && f.value("llama.rope.dimension_count") == .uint(4))
        #expect(f.value("tokenizer.ggml.model") == .string("gpt2") && f.value("general.architecture") == .string("llama"))
    }

    @Test("extra keys cannot repeat the checkpoint's own")
    func repeatedExtra() throws {
        let config = try Self.variants[0].config()
        let path = try Self.folder() + "/x.gguf"
        let error = try #require(throws: ConfigError.self) {
            try Self.write(config, Self.weights(config), .f32, to: path, extras: [("general.name", .string("other"))])
        }
        #expect(error.subject == .file(path) && error.reason.contains("'general.name'"))
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    @Test("an unwritable path is one error naming the file; the file there before is untouched")
    func unwritable() throws {
        let config = try Self.variants[0].config(), weights = Self.weights(config)
        let missing = try Self.folder() + "/no such folder/model.gguf"
        let error = try #require(throws: ConfigError.self) { try Self.write(config, weights, .f32, to: missing) }
        #expect(error.subject == .file(missing) && error.reason.contains("does not exist") && !error.reason.contains("\n"))

        // A folder where the file should be: refused, the folder and what is in it stay.
        let dir = try Self.folder()
        try Self.write(config, weights, .f32, to: dir + "/inside.gguf")
        let before = try Data(contentsOf: URL(fileURLWithPath: dir + "/inside.gguf"))
        #expect(throws: ConfigError.self) { try Self.write(config, weights, .f16, to: dir) }
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir + "/inside.gguf")) == before)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["inside.gguf"])
    }

    @Test("every truncation of a checkpoint is an error naming the file")
    func truncated() throws {
        let config = try Self.variants[3].config()
        let dir = try Self.folder(), path = dir + "/full.gguf"
        try Self.write(config, Self.weights(config), .f16, to: path)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        // Cuts through the header, the tokenizer and every tensor; the last tensor's padding is not data.
        let lastTensor = try GGUFFile(path: path).tensors.max { $0.offsetBytes < $1.offsetBytes }!
        let dataEnd = try GGUFFile(path: path).dataOffsetBytes + lastTensor.offsetBytes + lastTensor.bytes
        for length in Array(stride(from: 0, to: dataEnd, by: 97)) + [dataEnd - 1] {
            let cut = dir + "/cut.gguf"
            try bytes.prefix(length).write(to: URL(fileURLWithPath: cut))
            let error = try #require(throws: ConfigError.self, "\(length) bytes") { try PretrainedModel(file: try GGUFFile(path: cut), name: "cut") }
            #expect(error.subject == .file(cut))
        }
    }

    /// The checkpoint of `variant` re-emitted by the tests' own GGUF builder with `edit` applied.
    static func edited(_ variant: Variant, _ edit: (inout GGUFBuilder) -> Void) throws -> String {
        let config = try variant.config()
        let path = try folder() + "/source.gguf"
        try write(config, weights(config), .f32, to: path)
        let f = try GGUFFile(path: path)
        var b = GGUFBuilder()
        for (key, value) in f.metadata {
            let converted: GGUFBuilder.Value
            switch value {
            case .uint(let v): converted = .u32(UInt32(v))
            case .int(let v): converted = .i32(Int32(v))
            case .float(let v): converted = .f32(Float(v))
            case .bool(let v): converted = .bool(v)
            case .string(let v): converted = .string(v)
            case .array(let a): converted = a.first?.string != nil ? .strings(a.compactMap(\.string)) : .i32s(a.compactMap { $0.int.map(Int32.init) })
            }
            b.metadata.append((key, converted))
        }
        for t in f.tensors { b.tensors.append((t.name, t.dims.map(UInt64.init), t.type.rawValue, Array(f.bytes(of: t)))) }
        edit(&b)
        return try b.write()
    }

    static let cla2 = Variant(description: "CLA2", pattern: .cla(2))

    static let corruptions: [(what: String, variant: Variant, expected: String, edit: @Sendable (inout GGUFBuilder) -> Void)] = [
        ("map points forward", cla2, "'attnlab.kv_source_map'", { CheckpointTests.set(&$0, Checkpoint.kvSourceMapKey, .i32s([0, 2, 2, 2])) }),
        ("map at a consumer", cla2, "'attnlab.kv_source_map'", { CheckpointTests.set(&$0, Checkpoint.kvSourceMapKey, .i32s([0, 0, 1, 2])) }),
        ("map too short", cla2, "'attnlab.kv_source_map'", { CheckpointTests.set(&$0, Checkpoint.kvSourceMapKey, .i32s([0, 0, 2])) }),
        ("map not ints", cla2, "'attnlab.kv_source_map'", { CheckpointTests.set(&$0, Checkpoint.kvSourceMapKey, .strings(["0", "0", "2", "2"])) }),
        ("map not an array", cla2, "'attnlab.kv_source_map'", { CheckpointTests.set(&$0, Checkpoint.kvSourceMapKey, .u32(0)) }),
        ("unknown sharing", Variant(description: "shared", sharing: .all), "'attnlab.weight_sharing'", { CheckpointTests.set(&$0, Checkpoint.weightSharingKey, .string("everything")) }),
        ("sharing not a string", Variant(description: "shared", sharing: .all), "'attnlab.weight_sharing'", { CheckpointTests.set(&$0, Checkpoint.weightSharingKey, .u32(1)) }),
        ("map dropped: a consumer's K/V missing", cla2, "'blk.1.attn_k.weight' is missing", { $0.metadata.removeAll { $0.0 == Checkpoint.kvSourceMapKey } }),
        ("sharing dropped: layer 1 missing", Variant(description: "shared", sharing: .ffn), "'blk.1.ffn_norm.weight' is missing", { $0.metadata.removeAll { $0.0 == Checkpoint.weightSharingKey } }),
        ("consumer K present", Variant(description: "MHA"), "'attnlab.kv_source_map'", { CheckpointTests.set(&$0, Checkpoint.kvSourceMapKey, .i32s([0, 0, 2, 2])) }),
        ("second shared copy present", Variant(description: "MHA"), "'attnlab.weight_sharing'", { CheckpointTests.set(&$0, Checkpoint.weightSharingKey, .string("attention")) }),
        ("missing tensor", Variant(description: "MHA"), "'blk.2.ffn_up.weight' is missing", { $0.tensors.removeAll { $0.name == "blk.2.ffn_up.weight" } }),
        ("shape mismatch", Variant(description: "GQA", kvHeads: 2), "'blk.0.attn_k.weight' has shape", { b in
            let i = b.tensors.firstIndex { $0.name == "blk.0.attn_k.weight" }!
            b.tensors[i].dims = [8, 16]
        }),
        ("value_length ≠ key_length", Variant(description: "wide heads", headDim: 8), "'llama.attention.value_length'", { CheckpointTests.set(&$0, "llama.attention.value_length", .u32(4)) }),
    ]

    static func set(_ b: inout GGUFBuilder, _ key: String, _ value: GGUFBuilder.Value) {
        if let i = b.metadata.firstIndex(where: { $0.0 == key }) { b.metadata[i].1 = value } else { b.metadata.append((key, value)) }
    }

    @Test("a checkpoint whose AttnLab keys or tensors are wrong is one error naming the file and what",
          arguments: corruptions.indices)
    func corrupt(index: Int) throws {
        let c = Self.corruptions[index]
        let path = try Self.edited(c.variant, c.edit)
        let error = try #require(throws: ConfigError.self, "\(c.what)") { try PretrainedModel(file: try GGUFFile(path: path), name: "x") }
        #expect(error.subject == .file(path), "\(c.what)")
        #expect(error.reason.contains(c.expected) && !error.reason.contains("\n"), "\(c.what): \(error.reason)")
    }

    @Test("the tests' own builder re-emits a checkpoint that loads the same (the reader does not depend on the writer's layout)")
    func reEmitted() throws {
        let variant = Self.variants[8]
        let path = try Self.edited(variant) { _ in }
        let model = try PretrainedModel(file: try GGUFFile(path: path), name: "x")
        let config = try variant.config()
        #expect(model.config == config)
        #expect(Self.logits(model.config, model.weights) == Self.logits(config, Self.weights(config)))
    }
}
