import AttnEngine

/// A finished decode and the settings that produced it: everything a trace or summary reports.
public struct DecodeRun: Sendable {
    public let config: DecoderConfig
    public let seed: UInt64
    public let temperature: Double
    public let cacheDType: DType
    public let detail: RecordDetail
    public let result: DecodeResult
    /// Largest |cached − recomputed| over every logit of every step, when `--verify` ran.
    public let maxAbsDiff: Float?
    /// How token ids read as text: the built-in characters, or a pretrained model's tokenizer.
    public let vocabulary: any Vocabulary
    /// The pretrained model's name (`smollm2-135m`), or nil for seeded random weights.
    public let model: String?

    public init(config: DecoderConfig, seed: UInt64, temperature: Double, cacheDType: DType,
                detail: RecordDetail, result: DecodeResult, maxAbsDiff: Float?,
                vocabulary: any Vocabulary = CharVocabulary(), model: String? = nil) {
        self.vocabulary = vocabulary
        self.model = model
        self.config = config
        self.seed = seed
        self.temperature = temperature
        self.cacheDType = cacheDType
        self.detail = detail
        self.result = result
        self.maxAbsDiff = maxAbsDiff
    }

    /// The cache as the calculator sees it; the decode's bytes must agree with it.
    public var budget: KVBudget { KVBudget(layout: config.attention, kvMap: config.kvMap, dtype: cacheDType) }
}

/// The decode trace, schema `attnlab.trace/1` (documented in docs/trace-format.md).
public enum DecodeTrace {
    public static let schema = "attnlab.trace/1"

    /// The first line: schema, kind and the whole configuration.
    public static func header(_ run: DecodeRun) -> JSON {
        let c = run.config, a = c.attention
        return .object([
            ("type", .string("header")),
            ("schema", .string(schema)),
            ("kind", .string("decode")),
            ("model", run.model.map(JSON.string) ?? .null),
            ("config", .object([
                ("layers", .int(c.layers)), ("d_model", .int(c.dModel)),
                ("q_heads", .int(a.qHeads)), ("kv_heads", .int(a.kvHeads)), ("head_dim", .int(a.headDim)),
                ("attention", .string(a.name)), ("ffn", .int(c.ffn)), ("vocab", .int(c.vocab)),
                ("kv_map", .ints(c.kvMap.source)), ("producers", .ints(c.kvMap.producers)),
                ("kv_layers", .int(c.kvMap.kvLayers)), ("head_map", .ints(a.headMap)),
                ("weight_sharing", .string(c.weightSharing.rawValue)),
                ("tied_embeddings", .bool(c.tiedEmbeddings)), ("rope_base", .double(c.ropeBase)),
            ] + (c.slidingWindow.map { [("sliding_window", JSON.int($0))] } ?? []))),
            ("cache_dtype", .string(run.cacheDType.rawValue)),
        ] + techniqueFields(run.result.cache) + [
            ("bytes_per_element", .double(Double(run.cacheDType.bits) / 8)),
            ("seed", .int(Int(bitPattern: UInt(run.seed)))),
            ("temperature", .double(run.temperature)),
            ("detail", .string(run.detail.rawValue)),
            ("prompt_tokens", .ints(run.result.promptTokens)),
            ("prompt_text", .string(run.vocabulary.decode(run.result.promptTokens))),
        ])
    }

    /// The header's `kv_storage` and `eviction` objects, for a cache that is not plain and complete.
    static func techniqueFields(_ cache: KVCache) -> [(String, JSON)] {
        var fields: [(String, JSON)] = []
        switch cache.storage {
        case .plain: break
        case .quantized(let q):
            fields.append(("kv_storage", .object([("kind", .string("quantized")), ("bits", .int(q.bits)), ("group", .int(q.group)),
                                                  ("pre_rope", .bool(q.preRoPE)), ("scale_dtype", .string("fp16"))])))
        case .latent(let r):
            fields.append(("kv_storage", .object([("kind", .string("latent")), ("rank", .int(r))])))
        }
        switch cache.eviction {
        case .none: break
        case .window(let b): fields.append(("eviction", .object([("policy", .string("window")), ("budget", .int(b))])))
        case let .sinks(sinks, b): fields.append(("eviction", .object([("policy", .string("sinks")), ("budget", .int(b)), ("sinks", .int(sinks))])))
        case .h2o(let b):
            fields.append(("eviction", .object([("policy", .string("h2o")), ("budget", .int(b)), ("recent", .int(KVEviction.h2oRecent(budget: b)))])))
        }
        return fields
    }

    /// Every event after the header, in order: per step, per layer `kv_write` (producers), `kv_evict`
    /// (when the layer stopped reading a token) and `kv_read` (and `attention` with full detail),
    /// `kv_quantize` when a key group was completed, then the step's `step` event; last `summary`.
    public static func events(_ run: DecodeRun) -> [JSON] {
        let headMap = JSON.ints(run.config.attention.headMap)
        let a = run.config.attention, hd = a.headDim, cache = run.result.cache
        var events: [JSON] = []
        for s in run.result.steps {
            let r = s.record
            for ls in r.layers {
                if let position = ls.writtenPosition {
                    var fields: [(String, JSON)] = [
                        ("type", .string("kv_write")), ("step", .int(s.step)), ("layer", .int(ls.layer)),
                        ("source_layer", .int(ls.sourceLayer)), ("position", .int(position)), ("bytes", .int(ls.bytesWritten)),
                    ]
                    if let k = ls.writtenK, let v = ls.writtenV {
                        fields.append(("k", rows(k, width: hd)))
                        fields.append(("v", rows(v, width: hd)))
                        // What the cache stores for them: a value row's codes and group scales, or the latent.
                        let quantized = (0..<a.kvHeads).compactMap { cache.quantizedRow(.v, layer: ls.layer, kvHead: $0, position: position) }
                        if quantized.count == a.kvHeads { fields += codeFields("v", quantized) }
                        if let c = cache.latentRow(layer: ls.layer, position: position) { fields.append(("latent", .floats(c))) }
                    }
                    events.append(.object(fields))
                }
                if let evicted = ls.evicted {
                    events.append(.object([
                        ("type", .string("kv_evict")), ("step", .int(s.step)), ("layer", .int(ls.layer)),
                        ("source_layer", .int(ls.sourceLayer)), ("positions", .array(evicted.map(JSON.ints))),
                    ]))
                }
                var read: [(String, JSON)] = [
                    ("type", .string("kv_read")), ("step", .int(s.step)), ("layer", .int(ls.layer)),
                    ("source_layer", .int(ls.sourceLayer)), ("tokens", .int(ls.tokensRead)), ("bytes", .int(ls.bytesRead)),
                    ("head_map", headMap),
                ]
                if let positions = ls.readPositions { read.append(("positions", .array(positions.map(JSON.ints)))) }
                events.append(.object(read))
                if let weights = ls.attention {
                    events.append(.object([
                        ("type", .string("attention")), ("step", .int(s.step)), ("layer", .int(ls.layer)),
                        ("source_layer", .int(ls.sourceLayer)), ("weights", rows(weights, width: ls.tokensRead)),
                    ]))
                }
            }
            if case .quantized(let q) = cache.storage, (r.position + 1) % q.group == 0 {
                // The key group ending here is quantized now, per channel, in every producer.
                for layer in cache.producers {
                    var fields: [(String, JSON)] = [
                        ("type", .string("kv_quantize")), ("step", .int(s.step)), ("layer", .int(layer)),
                        ("positions", .ints(Array((r.position + 1 - q.group)...r.position))),
                    ]
                    if run.detail == .full {
                        fields += codeFields("k_first", (0..<a.kvHeads).compactMap { cache.quantizedRow(.k, layer: layer, kvHead: $0, position: r.position + 1 - q.group) })
                    }
                    events.append(.object(fields))
                }
            }
            events.append(.object([
                ("type", .string("step")), ("step", .int(s.step)), ("phase", .string(s.phase.rawValue)),
                ("position", .int(r.position)), ("token", .int(r.token)), ("text", .string(run.vocabulary.text(of: r.token))),
                ("next_token", s.nextToken.map(JSON.int) ?? .null),
                ("next_text", s.nextToken.map { .string(run.vocabulary.text(of: $0)) } ?? .null),
                ("bytes_written", .int(r.layers.reduce(0) { $0 + $1.bytesWritten })),
                ("bytes_read", .int(r.layers.reduce(0) { $0 + $1.bytesRead })),
                ("cache_tokens", .int(cache.eviction.heldTokens(context: r.position + 1))), ("cache_bytes", .int(r.cacheBytes)),
            ]))
        }
        events.append(summary(run, type: true))
        return events
    }

    /// The totals of a decode (the `summary` event, and `attnlab decode --json`).
    public static func summary(_ run: DecodeRun, type: Bool = false) -> JSON {
        let res = run.result
        var fields: [(String, JSON)] = type ? [("type", .string("summary"))] : []
        fields += [
            ("layout", .string(run.config.layoutName)),
            ("kv_layers", .int(run.config.kvMap.kvLayers)),
            ("kv_bytes_per_token", res.cache.storage == .plain ? .int(run.budget.bytesPerToken)
                : .double(Double(run.config.kvMap.kvLayers) * res.cache.storage.bytesPerTokenPerLayer(layout: run.config.attention, dtype: run.cacheDType))),
            ("prompt_tokens", .int(res.promptTokens.count)),
            ("tokens", .int(res.generatedTokens.count)),
            ("steps", .int(res.steps.count)),
            ("cache_tokens", .int(res.cache.heldTokens)),
            ("kv_cache_bytes", .int(res.cache.bytes)),
            ("kv_bytes_written", .int(res.kvBytesWritten)),
            ("kv_bytes_read", .int(res.kvBytesRead)),
            ("generated_tokens", .ints(res.generatedTokens)),
            ("generated_text", .string(run.vocabulary.decode(res.generatedTokens))),
        ]
        if let diff = run.maxAbsDiff { fields.append(("max_abs_diff", .double(Double(diff)))) }
        return .object(fields)
    }

    /// `PREFIX_codes` (per head, a row of codes), `PREFIX_scales` and `PREFIX_mins` (per head, one per
    /// group of a value row, or one per channel of a key group).
    private static func codeFields(_ prefix: String, _ rows: [KVCache.QuantizedRow]) -> [(String, JSON)] {
        [("\(prefix)_codes", .array(rows.map { .ints($0.codes.map(Int.init)) })),
         ("\(prefix)_scales", .array(rows.map { .floats($0.scales.map(\.scale)) })),
         ("\(prefix)_mins", .array(rows.map { .floats($0.scales.map(\.min)) }))]
    }

    /// The whole trace as JSON Lines (UTF-8): header, events, one object per line, final newline.
    public static func jsonl(_ run: DecodeRun) -> [UInt8] {
        var out: [UInt8] = []
        for line in [header(run)] + events(run) {
            line.write(to: &out)
            out.append(UInt8(ascii: "\n"))
        }
        return out
    }

    private static func rows(_ values: [Float], width: Int) -> JSON {
        .array(stride(from: 0, to: values.count, by: width).map { JSON.floats(values[$0..<min(values.count, $0 + width)]) })
    }
}
