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
            ])),
            ("cache_dtype", .string(run.cacheDType.rawValue)),
            ("bytes_per_element", .double(Double(run.cacheDType.bits) / 8)),
            ("seed", .int(Int(bitPattern: UInt(run.seed)))),
            ("temperature", .double(run.temperature)),
            ("detail", .string(run.detail.rawValue)),
            ("prompt_tokens", .ints(run.result.promptTokens)),
            ("prompt_text", .string(run.vocabulary.decode(run.result.promptTokens))),
        ])
    }

    /// Every event after the header, in order: per step, per layer `kv_write` (producers) and
    /// `kv_read` (and `attention` with full detail), then the step's `step` event; last `summary`.
    public static func events(_ run: DecodeRun) -> [JSON] {
        let headMap = JSON.ints(run.config.attention.headMap)
        let hd = run.config.attention.headDim
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
                    }
                    events.append(.object(fields))
                }
                events.append(.object([
                    ("type", .string("kv_read")), ("step", .int(s.step)), ("layer", .int(ls.layer)),
                    ("source_layer", .int(ls.sourceLayer)), ("tokens", .int(ls.tokensRead)), ("bytes", .int(ls.bytesRead)),
                    ("head_map", headMap),
                ]))
                if let weights = ls.attention {
                    events.append(.object([
                        ("type", .string("attention")), ("step", .int(s.step)), ("layer", .int(ls.layer)),
                        ("source_layer", .int(ls.sourceLayer)), ("weights", rows(weights, width: ls.tokensRead)),
                    ]))
                }
            }
            events.append(.object([
                ("type", .string("step")), ("step", .int(s.step)), ("phase", .string(s.phase.rawValue)),
                ("position", .int(r.position)), ("token", .int(r.token)), ("text", .string(run.vocabulary.text(of: r.token))),
                ("next_token", s.nextToken.map(JSON.int) ?? .null),
                ("next_text", s.nextToken.map { .string(run.vocabulary.text(of: $0)) } ?? .null),
                ("bytes_written", .int(r.layers.reduce(0) { $0 + $1.bytesWritten })),
                ("bytes_read", .int(r.layers.reduce(0) { $0 + $1.bytesRead })),
                ("cache_tokens", .int(r.position + 1)), ("cache_bytes", .int(r.cacheBytes)),
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
            ("kv_bytes_per_token", .int(run.budget.bytesPerToken)),
            ("prompt_tokens", .int(res.promptTokens.count)),
            ("tokens", .int(res.generatedTokens.count)),
            ("steps", .int(res.steps.count)),
            ("cache_tokens", .int(res.cache.tokens)),
            ("kv_cache_bytes", .int(res.cache.bytes)),
            ("kv_bytes_written", .int(res.kvBytesWritten)),
            ("kv_bytes_read", .int(res.kvBytesRead)),
            ("generated_tokens", .ints(res.generatedTokens)),
            ("generated_text", .string(run.vocabulary.decode(res.generatedTokens))),
        ]
        if let diff = run.maxAbsDiff { fields.append(("max_abs_diff", .double(Double(diff)))) }
        return .object(fields)
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
