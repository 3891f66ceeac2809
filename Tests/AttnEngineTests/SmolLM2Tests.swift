import AttnEngine
import AttnModels
import Foundation
import Testing

/// The real SmolLM2-135M-Instruct file, fetched by `attnlab model fetch` into models/ (or
/// $ATTNLAB_MODELS_DIR). Without it these tests are skipped on a developer's machine, but under CI
/// (which fetches it with the README's command) they run and fail if it is missing.
enum RealModel {
    static let directory: String = {
        if let env = ProcessInfo.processInfo.environment[ModelStore.environmentVariable], !env.isEmpty { return env }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return root.appendingPathComponent("models").path
    }()
    static let underCI = ProcessInfo.processInfo.environment["CI"].map { !$0.isEmpty && $0 != "false" } ?? false
    static let present = (try? ModelStore.path(of: "smollm2-135m", directory: directory)) != nil
    static let runs = present || underCI

    /// Loaded once for every test that needs it.
    static let model: Result<PretrainedModel, ConfigError> = Result { () throws(ConfigError) in try ModelStore.load("smollm2-135m", directory: directory) }

    static func load() throws -> PretrainedModel { try model.get() }

    /// Greedy continuation of `prompt`.
    static func continuation(_ m: PretrainedModel, _ prompt: String, tokens: Int) throws -> String {
        let ids = try m.tokenizer.encode(prompt, field: .prompt)
        let decoder = Decoder(config: m.config, weights: m.weights, capacityTokens: ids.count + tokens)
        var sampler = Sampler(temperature: 0, seed: 1)
        return m.tokenizer.decode(decoder.generate(prompt: ids, tokens: tokens, sampler: &sampler).generatedTokens)
    }
}

@Suite("SmolLM2-135M from GGUF", .enabled(if: RealModel.runs, "models/SmolLM2-135M-Instruct.Q4_1.gguf is not fetched (attnlab model fetch)"))
struct SmolLM2Tests {
    @Test("the file parses to the published architecture")
    func architecture() throws {
        let f = try GGUFFile(path: RealModel.directory + "/SmolLM2-135M-Instruct.Q4_1.gguf")
        #expect(f.version == 3 && f.tensors.count == 272)
        // Hugging Face's config.json for SmolLM2-135M: 30 layers, hidden 576, 9 heads, 3 KV heads,
        // intermediate 1536, vocab 49152, rope_theta 100000, tied embeddings; 134.5M parameters.
        let m = try RealModel.load()
        let c = m.config, a = c.attention
        #expect(c.layers == 30 && c.dModel == 576 && a.qHeads == 9 && a.kvHeads == 3 && a.headDim == 64)
        #expect(c.ffn == 1536 && c.vocab == 49152 && c.ropeBase == 100_000 && c.tiedEmbeddings && c.normEps == 1e-5)
        #expect(c.paramCount.total == m.weights.storedElements)
        #expect((134_000_000...135_000_000).contains(c.paramCount.total))
        #expect(m.tensorTypes.map(\.type) == ["Q4_1", "F32", "Q8_0"])
        #expect(m.tokenizer.count == 49152 && m.eosToken == 2 && m.tokenizer.id(of: "<|im_end|>") == 2)
    }

    @Test("token ids match the Hugging Face tokenizer", arguments: [
        ("The capital of France is", [504, 3575, 282, 4649, 314]),
        (" The capital of France is ", [378, 3575, 282, 4649, 314, 216]),
        ("キャッシュを共有する", [10391, 251, 11100, 113, 11100, 221, 10391, 132, 11100, 115, 34771, 17086, 126, 30746, 39958, 35323]),
        ("Numbers: 12345 and 3.14", [39006, 42, 216, 33, 34, 35, 36, 37, 284, 216, 35, 30, 33, 36]),
        ("don't I'll we're", [12420, 982, 339, 3060, 392, 2316]),
        ("a  \n\n  b\t\tc", [81, 256, 8866, 278, 197, 197, 83]),
        ("Hello 👋 world", [19556, 15107, 235, 229, 905]),
        ("<|im_start|>user\nWhat is the capital of France?<|im_end|>\n", [1, 4093, 198, 1780, 314, 260, 3575, 282, 4649, 47, 2, 198]),
    ])
    func tokenIDs(text: String, ids: [Int]) throws {
        let t = try RealModel.load().tokenizer
        #expect(try t.encode(text, field: .text) == ids)
        #expect(t.decode(ids) == text)
    }

    @Test("any UTF-8 text round-trips through the real vocabulary")
    func roundTrip() throws {
        let t = try RealModel.load().tokenizer
        for text in ["キャッシュを共有すると、メモリが減ります。", "KV キャッシュ 23,040 B/token", "naïve café — ½ × π ≈ 1.57",
                     "emoji 🧠🔥 and\r\nCRLF\ttabs", "   leading and trailing   ", "日本語と English を混ぜる"] {
            #expect(t.decode(try t.encode(text, field: .text)) == text)
        }
    }

    @Test("the engine's logits equal an independent float64 decoder on the real weights")
    func float64Reference() throws {
        let m = try RealModel.load()
        let tokens = try m.tokenizer.encode("The capital of France is", field: .prompt)
        let reference = ReferenceDecoder.logits(config: m.config, weights: m.weights, tokens: tokens)
        let decoder = Decoder(config: m.config, weights: m.weights, capacityTokens: tokens.count, blockTokens: 1)
        for (t, token) in tokens.enumerated() {
            let logits = decoder.step(token: token).logits
            let diff = zip(logits, reference[t]).map { abs(Double($0) - $1) }.max()!
            #expect(diff < 2e-4, "position \(t): max |float32 − float64| logit = \(diff)")
        }
    }

    @Test("cached decode equals recomputation, and blocks of tokens equal single steps bit for bit")
    func cachedEqualsRecomputed() throws {
        let m = try RealModel.load()
        let tokens = try m.tokenizer.encode("Cross-layer attention shares one KV cache between adjacent layers.", field: .prompt)
        let stepped = Decoder(config: m.config, weights: m.weights, capacityTokens: tokens.count, blockTokens: 1)
        let steps = tokens.map { stepped.step(token: $0).logits }
        let recomputed = FullForward.logits(config: m.config, weights: m.weights, tokens: tokens)
        var diff: Float = 0
        for (t, logits) in steps.enumerated() {
            for (i, v) in logits.enumerated() { diff = max(diff, abs(v - recomputed[t * m.config.vocab + i])) }
        }
        #expect(diff <= 1e-4)
        let blocked = Decoder(config: m.config, weights: m.weights, capacityTokens: tokens.count, blockTokens: 5)
        #expect(blocked.forward(tokens).map(\.logits) == steps)
    }

    @Test("greedy continuation of a factual prompt is sensible text")
    func factual() throws {
        let m = try RealModel.load()
        #expect(try RealModel.continuation(m, "The capital of France is", tokens: 3).hasPrefix(" Paris"))
        let chat = try RealModel.continuation(m, "<|im_start|>user\nWhat is the capital of Japan?<|im_end|>\n<|im_start|>assistant\n", tokens: 12)
        #expect(chat.contains("Tokyo"))
    }

    @Test("retrofit to gqa:3 is the identity; MQA and CLA2 shrink the cache and cost perplexity")
    func retrofit() throws {
        let m = try RealModel.load()
        let text = "The KV cache stores the keys and values of every token, so the model does not recompute them at each step."
        let tokens = try m.tokenizer.encode(text, field: .text)
        let original = Perplexity.evaluate(config: m.config, weights: m.weights, tokens: tokens, windowTokens: 64)
        let same = try Retrofit.config(m.config, kvHeads: 3, kvMap: m.config.kvMap, field: .variants)
        #expect(same == m.config)
        let sameResult = Perplexity.evaluate(config: same, weights: Retrofit.weights(m.weights, from: m.config, to: same), tokens: tokens, windowTokens: 64)
        #expect(sameResult == original)
        #expect(original.perplexity > 1 && original.perplexity < 100)

        for (kvHeads, pattern) in [(1, KVPattern.none), (3, .cla(2))] {
            let c = try Retrofit.config(m.config, kvHeads: kvHeads, kvMap: pattern.map(layers: 30), field: .variants)
            let w = Retrofit.weights(m.weights, from: m.config, to: c)
            #expect(w.attention.allSatisfy { ($0.wk?.elements ?? 0) == c.attention.kvElements * 576 || $0.wk == nil })
            let r = Perplexity.evaluate(config: c, weights: w, tokens: tokens, windowTokens: 64)
            #expect(KVBudget(layout: c.attention, kvMap: c.kvMap, dtype: .bf16).bytesPerToken < KVBudget(layout: m.config.attention, kvMap: m.config.kvMap, dtype: .bf16).bytesPerToken)
            #expect(r.perplexity > original.perplexity)
        }
    }
}
