import AttnEngine
import AttnExperiments
import Testing

/// `kv` with the toolbox's flags, read as a lesson reads them, against numbers computed by hand.
@Suite struct KVExperimentTests {
    static func run(_ pairs: [(String, String?)]) throws -> KVResult {
        let e = try #require(try ActionKind.kv.experiment(Flags(pairs.map { Flags.Flag($0.0, $0.1) })) as? KVExperiment)
        return try e.run()
    }

    /// The error a run with these flags gives.
    static func error(_ pairs: [(String, String?)]) -> ConfigError? {
        do { _ = try run(pairs) } catch let e as ConfigError { return e } catch { return nil }
        return nil
    }

    @Test("Mistral 7B at 32,768 context caches its 4,096-token window: 2 × 32 layers × 8 heads × 128 × 2 B × 4,096")
    func mistralWindow() throws {
        let byHand = 2 * 32 * 8 * 128 * 2 * 4096
        let r = try Self.run([("preset", "mistral-7b"), ("context", "32768")])
        #expect(r.cachedTokens == 4096)
        #expect(r.cacheBytes == byHand)
        #expect(r.cacheBytes == (try Self.run([("preset", "mistral-7b"), ("context", "4096")])).cacheBytes)
        #expect(r.bytesReadPerStep == byHand, "a step reads only the window")
        #expect(r.fullCacheBytes == 8 * byHand)
        // --window overrides the preset's; a window past the context changes nothing.
        #expect(try Self.run([("preset", "mistral-7b"), ("context", "32768"), ("window", "1024")]).cacheBytes == byHand / 4)
        #expect(try Self.run([("preset", "llama-3-8b"), ("context", "2000"), ("window", "4096")]).cacheBytes == 2 * 32 * 8 * 128 * 2 * 2000)
        let json = r.json.serialized()
        #expect(json.contains("\"window\":4096,\"cached_tokens\":4096"))
    }

    @Test("a plain run's JSON has none of the toolbox's fields")
    func plainUnchanged() throws {
        let json = try Self.run([("preset", "llama-3-8b"), ("context", "8192")]).json.serialized()
        #expect(json.hasSuffix("\"reduction_vs_mha\":0.75,\"bytes_read_per_step\":1073741824}"))
    }

    @Test("quantized: KVStorage.bytes per producer layer, by hand for int4 groups of 32 at 8,200 tokens")
    func quantized() throws {
        let r = try Self.run([("preset", "llama-3-8b"), ("context", "8200"), ("kv-quant", "int4"), ("kv-quant-pre-rope", nil)])
        // E = 8 heads × 128 = 1,024 elements of K (and of V) per token; 4 bits → 512 B of codes a row.
        // V: every row's codes and 1,024/32 fp16 (scale, minimum) pairs. K: 256 full groups of 32
        // tokens, each with codes and one pair per channel; the last 8 rows wait in bf16.
        let values = 8200 * 512 + 8200 * 32 * 4
        let keys = 256 * 32 * 512 + 256 * 1024 * 4 + 8 * 1024 * 2
        #expect(r.cacheBytes == 32 * (values + keys))
        #expect(r.cacheBytes == 32 * r.storage.bytes(tokens: 8200, layout: r.config.attention, dtype: .bf16))
        #expect(r.storedBytesPerToken == 32 * (2 * 512 + 2 * 32 * 4))
        #expect(r.bytesReadPerStep == r.cacheBytes)
        let preRoPE = try #require(r.json.serialized().range(of: "\"kv_quant_pre_rope\":true"))
        #expect(!preRoPE.isEmpty)
        #expect(try Self.run([("preset", "llama-3-8b"), ("context", "8200"), ("kv-quant", "int4")]).cacheBytes == r.cacheBytes,
                "pre-RoPE changes no byte")
    }

    @Test("latent: r × bytes per token and layer; eviction: min(context, budget) tokens")
    func latentAndEviction() throws {
        let latent = try Self.run([("preset", "llama-3-8b"), ("kv-latent-rank", "512")])
        #expect(latent.cacheBytes == 32 * 512 * 2 * 4096)
        for policy in ["window", "sinks", "h2o"] {
            let r = try Self.run([("preset", "llama-3-8b"), ("context", "8192"), ("evict", policy), ("kv-budget", "1024")])
            #expect(r.cachedTokens == 1024)
            #expect(r.cacheBytes == 2 * 32 * 8 * 128 * 2 * 1024)
        }
        #expect(try Self.run([("preset", "llama-3-8b"), ("context", "512"), ("evict", "h2o"), ("kv-budget", "1024")]).cachedTokens == 512)
    }

    @Test("what fits: Llama 2 7B in bf16 on 80 GiB at 4,096 tokens, by hand")
    func fitLlama2() throws {
        let r = try Self.run([("preset", "llama-2-7b"), ("context", "4096"), ("gpu-memory", "80GiB")])
        let fit = try #require(r.fit)
        // Embedding and LM head 32,000 × 4,096 each; per layer W_Q, W_K, W_V, W_O 4,096² each, the
        // FFN 3 × 4,096 × 11,008 and two norms; a final norm.
        let params = 2 * 32_000 * 4096 + 32 * (4 * 4096 * 4096 + 3 * 4096 * 11_008 + 2 * 4096) + 4096
        #expect(params == 6_738_415_616)
        #expect(fit.weights.bytes == 2 * params)
        let perRequest = 2 * 32 * 32 * 128 * 2 * 4096
        #expect(perRequest == 2 << 30)
        #expect(fit.gpu.bytes == 80 << 30)
        #expect(fit.rows[0].maxBatch == ((80 << 30) - 2 * params) / perRequest)
        #expect(fit.rows[0].maxBatch == 33)
        let json = r.json.serialized()
        #expect(json.contains("\"weights_bytes\":\(2 * params),\"free_bytes\":\((80 << 30) - 2 * params),\"max_batch\":33"))
        // The decimal size is 80 × 10⁹ B: 4 GB less, and one request fewer.
        #expect(try Self.run([("preset", "llama-2-7b"), ("gpu-memory", "80GB")]).fit?.rows[0].maxBatch == (80_000_000_000 - 2 * params) / perRequest)
        // MQA keeps one KV head of 32: 32× smaller requests, and smaller W_K and W_V.
        let mqa = try #require(fit.rows.first { $0.key == "mqa" })
        #expect(mqa.requestBytes == perRequest / 32)
        #expect(mqa.weightsBytes == 2 * (params - 32 * 2 * 4096 * (4096 - 128)))
    }

    @Test("GPU sizes: decimal and binary units, fractions, refusals")
    func memorySizes() throws {
        for (text, bytes) in [("80GiB", 80 << 30), ("80GB", 80_000_000_000), ("24 GiB", 24 << 30), ("1.5TB", 1_500_000_000_000),
                              ("1.5TiB", 3 << 39), ("512mib", 512 << 20), ("0.5GB", 500_000_000)] {
            #expect(try MemorySize.parse(text, field: .gpuMemory).bytes == bytes, "\(text)")
        }
        #expect(try MemorySize.parse("80GB", field: .gpuMemory).spelled == "80 GB = 80×10⁹ B")
        #expect(try MemorySize.parse("80GiB", field: .gpuMemory).spelled == "80 GiB = 80×2³⁰ B")
        for bad in ["80", "80GX", "GiB", "1.2.3GB", "0GB", "99999999999TiB"] {
            #expect(throws: ConfigError.self, "\(bad)") { try MemorySize.parse(bad, field: .gpuMemory) }
        }
        let tooSmall = try #require(Self.error([("preset", "llama-3-8b"), ("gpu-memory", "12GB")]))
        #expect(tooSmall == ConfigError(.gpuMemory, "the weights alone are 16.06 GB (bf16, 8.03 B parameters) > 12 GB = 12×10⁹ B"))
    }

    @Test("paged: a batch of requests against contiguous reservations at --context")
    func paged() throws {
        let r = try Self.run([("preset", "llama-3-8b"), ("context", "4096"), ("page-tokens", "16"), ("requests", "300,1000,4096,77")])
        let p = try #require(r.paged)
        let slot = 2 * 32 * 8 * 128 * 2
        #expect(p.bytesPerSlot == slot)
        #expect(p.allocation.blocks == 19 + 63 + 256 + 5)
        #expect(p.allocation.fragmentationSlots == 4 + 8 + 0 + 3)
        #expect(p.bytesUsed == (300 + 1000 + 4096 + 77) * slot)
        #expect(p.contiguousBytesReserved == 4 * 4096 * slot)
        // A sliding window caps each request's slots: Mistral's 4,096 in a 10,000-token request.
        let m = try #require(try Self.run([("preset", "mistral-7b"), ("context", "10000"), ("page-tokens", "16"), ("requests", "10000,100")]).paged)
        #expect(m.allocation.blocks == 256 + 7)
    }

    @Test("bad input: one error naming the flag and the reason", arguments: [
        (["kv-quant": "int3"], [Field.kvQuant]),
        (["kv-quant": "int4", "kv-group": "48"], [.kvGroup]),
        (["kv-group": "32"], [.kvGroup]),
        (["kv-quant-pre-rope": nil], [.kvQuantPreRope]),
        (["evict": "sinks"], [.evict]),
        (["evict": "window", "kv-budget": "0"], [.kvBudget]),
        (["evict": "window", "kv-budget": "100000"], [.kvBudget]),
        (["evict": "sinks", "kv-budget": "4"], [.sinks]),
        (["kv-budget": "8"], [.kvBudget]),
        (["window": "0"], [.window]),
        (["kv-latent-rank": "0"], [.kvLatentRank]),
        (["kv-latent-rank": "2049"], [.kvLatentRank]),
        (["kv-quant": "int8", "kv-latent-rank": "64"], [.kvQuant, .kvLatentRank]),
        (["kv-quant": "int8", "evict": "h2o", "kv-budget": "64"], [.evict, .kvQuant]),
        (["kv-latent-rank": "64", "window": "64"], [.window, .kvLatentRank]),
        (["evict": "window", "kv-budget": "64", "window": "64"], [.evict, .window]),
        (["kv-quant": "int8", "dtype": "int8"], [.dtype, .kvQuant]),
        (["kv-quant": "int8", "page-tokens": "16"], [.pageTokens, .kvQuant]),
        (["requests": "10"], [.requests]),
        (["page-tokens": "16", "requests": "5000"], [.requests, .context]),
        (["page-tokens": "0"], [.pageTokens]),
    ])
    func badInput(flags: [String: String?], fields: [Field]) throws {
        let all = [("preset", "llama-3-8b")] + flags.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        let e = try #require(Self.error(all), "\(flags)")
        #expect(e.subject == .fields(fields), "\(e)")
        #expect(!e.reason.contains("\n"))
    }
}
