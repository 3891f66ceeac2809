import AttnEngine
import AttnFigures
import AttnTrace

/// Which tokens an evicting cache keeps, per layer over the steps of a decode (`draw kv-evict`).
public struct KVEvictFigure: FigureExperiment {
    /// The decode it shows; under H2O with full detail, which records the positions each head read.
    public var decode: DecodeExperiment
    /// The layers shown, 0-based; nil for the first, the middle and the last.
    public var layers: [Int]?

    public init(_ decode: DecodeExperiment, layers: [Int]? = nil) {
        self.decode = decode
        self.decode.verify = false
        if decode.decoding.kv.evict == .h2o { self.decode.detail = .full }
        self.layers = layers
    }

    public init(_ r: inout FlagReader) throws(ConfigError) {
        var d = DecodeExperiment()
        d.model = try ModelSpec(&r)
        d.decoding = try DecodeSpec(&r)
        self.init(d, layers: try r.string(.layer).map { text throws(ConfigError) in try parseLayers(text) })
    }

    public func validate() throws {
        try decode.validate()
        _ = try shownLayers(try decode.model.decoderConfig())
    }

    /// The layers drawn, checked against the model; a cache that drops nothing is refused.
    func shownLayers(_ config: DecoderConfig) throws(ConfigError) -> [Int] {
        guard decode.decoding.kv.evict != nil || config.slidingWindow != nil else {
            throw ConfigError(.evict, "draw kv-evict needs --evict window, sinks or h2o with --kv-budget (or a model with a sliding --window)")
        }
        let L = config.layers
        let shown = layers ?? Array(Set([0, L / 2, L - 1])).sorted()
        if let bad = shown.first(where: { $0 >= L }) { throw ConfigError(.layer, "layer \(bad) is outside 0..<\(L)") }
        return shown
    }

    public func draw(_ style: Style, allPages: Bool, runs: Runs) throws -> Figure {
        let run = try runs.run(decode).run
        let layers = try shownLayers(run.config)
        let caption = Self.caption(run, style.language)
        return try EvictionDiagram.figure(run, layers: layers, title: caption.title, subtitle: caption.subtitle, footnote: caption.footnote,
                                          style: style)
    }

    /// The figure's words and numbers, from the run: the policy and budget, tokens held at the last
    /// step, and the bytes held against a cache that keeps every token.
    static func caption(_ run: DecodeRun, _ l: Language) -> (title: String, subtitle: String, footnote: String) {
        let res = run.result, c = run.config, cache = res.cache, T = res.steps.count
        let held = res.steps[T - 1].record.cacheBytes
        let every = c.kvMap.kvLayers * cache.storage.bytes(tokens: T, layout: c.attention, dtype: cache.dtype)
        let policy: String, note: String
        switch cache.eviction {
        case .none:
            policy = l.en("No eviction", ja: "追い出しなし")
            note = l.en("Every layer reads every token.", ja: "どの層もすべてのトークンを読む。")
        case .window(let b) where c.slidingWindow == b:
            policy = l.en("Sliding window of \(b) tokens", ja: "\(b)トークンのスライディングウィンドウ")
            note = l.en("The model's own window: each layer reads the last \(b) tokens.", ja: "モデル自身のウィンドウ:各層は直近\(b)トークンを読む。")
        case .window(let b):
            policy = l.en("Window eviction, budget \(b)", ja: "ウィンドウ追い出し、予算\(b)")
            note = l.en("Window: each layer reads the last \(b) tokens, the same ones in every layer and head.",
                        ja: "ウィンドウ:各層は直近\(b)トークンを読む。どの層・ヘッドでも同じトークン。")
        case let .sinks(s, b):
            policy = l.en("Attention sinks + window, budget \(b)", ja: "アテンションシンク+ウィンドウ、予算\(b)")
            note = l.en("StreamingLLM: the first \(s) tokens (sinks) and the last \(b - s), the same in every layer and head.",
                        ja: "StreamingLLM:最初の\(s)トークン(シンク)と直近\(b - s)トークン。どの層・ヘッドでも同じ。")
        case .h2o(let b):
            policy = l.en("H2O eviction, budget \(b)", ja: "H2O追い出し、予算\(b)")
            note = l.en("H2O keeps, per K/V head, the last \(KVEviction.h2oRecent(budget: b)) tokens and the \(b / 2) older ones with the most attention so far; "
                        + "a step reads \(b + 1) (the new token joins, then the lowest scorer leaves).",
                        ja: "H2OはK/Vヘッドごとに直近\(KVEviction.h2oRecent(budget: b))トークンと、それより古いうちこれまでのアテンションが最も大きい\(b / 2)トークンを残す。"
                        + "1ステップで読むのは\(b + 1)個(新しいトークンが入り、最低スコアが出る)。")
        }
        let model = run.model.map { "\($0) (\(c.layoutName))" } ?? c.layoutName
        let share = Format.percent(Double(held) / Double(every), 1)
        return (l.en("\(policy): \(Format.plural(cache.heldTokens, "token")) of \(T) held per layer", ja: "\(policy):各層で\(T)トークン中\(cache.heldTokens)トークンを保持"),
                l.en("\(model), \(Format.plural(c.layers, "layer")): \(Format.grouped(held)) B held after step \(T - 1) vs \(Format.grouped(every)) B keeping every token (\(share))",
                     ja: "\(model)、\(c.layers)層:ステップ\(T - 1)後の保持は\(Format.grouped(held)) B、全トークンを残すと\(Format.grouped(every)) B(\(share))"),
                note + l.en(" Rows: steps; columns: positions.", ja: "行:ステップ、列:位置。"))
    }
}

/// One row of a quantized cache — original, codes, scales, decoded, error — for K and V (`draw kv-quant`).
public struct KVQuantFigure: FigureExperiment {
    /// The quantized decode.
    public var decode: DecodeExperiment
    /// The layer whose cache is shown (a producer), 0-based.
    public var layer = 0
    /// The position of the row; nil for the last one whose key group is quantized.
    public var position: Int?

    public init(_ decode: DecodeExperiment, layer: Int = 0, position: Int? = nil) {
        self.decode = decode
        self.decode.verify = false
        self.layer = layer
        self.position = position
    }

    public init(_ r: inout FlagReader) throws(ConfigError) {
        var d = DecodeExperiment()
        d.model = try ModelSpec(&r)
        d.decoding = try DecodeSpec(&r)
        self.init(d, layer: try r.int(.layer) ?? 0, position: try r.int(.step))
    }

    public func validate() throws {
        try decode.validate()
        _ = try quantization(try decode.model.decoderConfig())
    }

    /// The run's quantization, after the figure's own checks: quantized at all, keys after RoPE (so
    /// that the stored row and its original are in the same basis), a producer layer.
    func quantization(_ config: DecoderConfig) throws(ConfigError) -> KVQuantization {
        guard case .quantized(let q) = try decode.decoding.kv.storage(for: config) else {
            throw ConfigError(.kvQuant, "draw kv-quant needs --kv-quant int8, int4 or int2")
        }
        guard !q.preRoPE else {
            throw ConfigError(.kvQuantPreRope, "draw kv-quant compares keys with their originals after RoPE; a key quantized before RoPE has its error rotated")
        }
        guard (0..<config.layers).contains(layer) else { throw ConfigError(.layer, "layer \(layer) is outside 0..<\(config.layers)") }
        let source = config.kvMap.source[layer]
        guard source == layer else { throw ConfigError(.layer, "layer \(layer) stores no cache; it reads layer \(source)'s (give --layer \(source))") }
        return q
    }

    /// The same tokens decoded with a plain cache, up to the shown position: its rows are what was
    /// quantized at layer 0 (above it, the plain run's inputs differ by the lower layers' rounding).
    func plainDecode(_ run: DecodeRun, position: Int) -> DecodeExperiment {
        var plain = decode
        plain.decoding.kv = KVTechniqueSpec()
        plain.decoding.prompt = nil
        plain.decoding.chat = false
        plain.decoding.promptIds = run.result.processedTokens[0...position].map(String.init).joined(separator: ",")
        plain.decoding.tokens = 1
        plain.detail = .summary
        return plain
    }

    public func draw(_ style: Style, allPages: Bool, runs: Runs) throws -> Figure {
        let run = try runs.run(decode).run
        let q = try quantization(run.config)
        let T = run.result.steps.count, sealed = T / q.group * q.group
        guard sealed > 0 else {
            throw ConfigError(.tokens, "the decode's \(T) positions complete no key group of \(q.group) (keys wait in full precision until their group's last token); give more --tokens or a smaller --kv-group")
        }
        let p = position ?? sealed - 1
        guard (0..<sealed).contains(p) else {
            throw ConfigError(.step, "position \(p) is outside 0..<\(sealed), the positions whose key group of \(q.group) is quantized in this \(T)-token decode")
        }
        let original = try runs.run(plainDecode(run, position: p)).run.result.cache
        let rows = [KVCache.KV.k, .v].map { which in
            QuantizedRowDiagram.Row(which: which, stored: run.result.cache.quantizedRow(which, layer: layer, kvHead: 0, position: p)!,
                                    original: original.row(which, layer: layer, kvHead: 0, position: p), group: q.group, position: p)
        }
        let caption = Self.caption(run, rows: rows, layer: layer, position: p, quantization: q, style.language)
        return try QuantizedRowDiagram.figure(rows, maxCode: q.maxCode, title: caption.title, subtitle: caption.subtitle, footnote: caption.footnote, style: style)
    }

    static func caption(_ run: DecodeRun, rows: [QuantizedRowDiagram.Row], layer: Int, position p: Int,
                        quantization q: KVQuantization, _ l: Language) -> (title: String, subtitle: String, footnote: String) {
        let c = run.config, a = c.attention, cache = run.result.cache
        let token = AttentionDiagram.label(run.vocabulary.text(of: run.result.processedTokens[p]))
        let perToken = KVStorage.quantized(q).bytesPerTokenPerLayer(layout: a, dtype: cache.dtype)
        let plain = KVStorage.plain.bytesPerTokenPerLayer(layout: a, dtype: cache.dtype)
        let errors = rows.map { row in
            let name = row.which == .k ? "K" : "V", error = QuantizedRowDiagram.short(row.maxAbsError)
            return row.outsideBand == 0
                ? l.en("\(name) max |error| \(error), each within its ±scale/2 (up to \(QuantizedRowDiagram.short(row.maxHalfScale)))",
                       ja: "\(name)の最大|誤差| \(error)、すべて±scale/2以内(最大\(QuantizedRowDiagram.short(row.maxHalfScale)))")
                : l.en("\(name) max |error| \(error), \(row.outsideBand) of \(row.errors.count) outside ±scale/2",
                       ja: "\(name)の最大|誤差| \(error)、\(row.errors.count)個中\(row.outsideBand)個が±scale/2の外")
        }
        return (l.en("\(q.label): layer \(layer), K/V head 0, position \(p) (\"\(token)\")", ja: "\(q.label):層\(layer)、K/Vヘッド0、位置\(p)(「\(token)」)"),
                l.en("\(Format.fixed(perToken, 1)) B per token and layer vs \(Format.grouped(Int(plain))) B in \(cache.dtype.rawValue); ",
                     ja: "1トークン・1層あたり\(Format.fixed(perToken, 1)) B(\(cache.dtype.rawValue)なら\(Format.grouped(Int(plain))) B)。")
                    + errors.joined(separator: l.en("; ", ja: "。")),
                l.en("Original: the same tokens through a plain cache" + (layer > 0 ? " (above layer 0 its input also differs by the lower layers' rounding)" : "")
                     + ". Decoded = min + code · scale, within ±scale/2 of what was quantized.",
                     ja: "元の値:同じトークンを通常のキャッシュで流したもの" + (layer > 0 ? "(層0より上では、下の層の丸めで入力自体も異なる)" : "")
                     + "。復元値 = min + code · scale で、量子化した値から±scale/2以内。"))
    }
}

/// A batch of requests in a paged cache: the block pool, the block tables, and contiguous
/// reservations at the maximum length for comparison (`draw paged`).
public struct PagedFigure: FigureExperiment {
    /// The `kv` calculation with its paged allocation (`--page-tokens`, `--requests`).
    public var kv: KVExperiment

    public init(_ kv: KVExperiment) { self.kv = kv }

    public init(_ r: inout FlagReader) throws(ConfigError) {
        var e = KVExperiment()
        e.model = try ModelSpec(&r)
        e.dtype = try r.choice(.dtype) ?? e.dtype
        e.contextTokens = try r.int(.context) ?? e.contextTokens
        e.batch = try r.int(.batch) ?? e.batch
        e.techniques = try KVTechniqueSpec(&r)
        e.pageTokens = try r.int(.pageTokens)
        e.requests = try r.string(.requests).map { text throws(ConfigError) in try parseList(text, field: .requests) }
        self.init(e)
    }

    public func validate() throws {
        guard kv.pageTokens != nil else { throw ConfigError(.pageTokens, "draw paged needs --page-tokens B, the token slots of a block") }
        try kv.validate()
    }


    public func draw(_ style: Style, allPages: Bool, runs: Runs) throws -> Figure {
        guard kv.pageTokens != nil else { throw ConfigError(.pageTokens, "draw paged needs --page-tokens B, the token slots of a block") }
        let result = try runs.run(kv)
        let paged = result.paged!
        let caption = Self.caption(paged, model: kv.model.name ?? result.config.layoutName, style.language)
        return try PagedDiagram.figure(paged.allocation, reservedSlots: paged.reservedSlotsPerRequest, title: caption.title,
                                       subtitle: caption.subtitle, footnote: caption.footnote, style: style)
    }

    static func caption(_ paged: PagedReport, model: String, _ l: Language) -> (title: String, subtitle: String, footnote: String) {
        let al = paged.allocation, B = paged.pager.pageTokens
        let fragmentationBytes = al.fragmentationSlots * paged.bytesPerSlot
        let reservedSlots = paged.lengths.count * paged.reservedSlotsPerRequest
        let waste = paged.contiguousBytesReserved - paged.bytesUsed
        let fragmentationShare = Format.percent(Double(al.fragmentationSlots) / Double(al.allocatedSlots), 1)
        let wasteShare = Format.percent(Double(waste) / Double(paged.contiguousBytesReserved), 1)
        return (l.en("Paged KV cache: \(Format.plural(paged.lengths.count, "request")) in blocks of \(B) tokens",
                     ja: "ページ化KVキャッシュ:リクエスト\(paged.lengths.count)件を\(B)トークンのブロックで"),
                l.en("\(model): \(Format.plural(al.blocks, "block")) hold \(Format.grouped(al.usedSlotsTotal)) tokens, \(Format.grouped(al.fragmentationSlots)) slots empty "
                     + "(\(Format.grouped(fragmentationBytes)) B, \(fragmentationShare) of \(Format.grouped(paged.bytesAllocated)) B); "
                     + "contiguous: \(Format.grouped(reservedSlots)) slots reserved, \(Format.grouped(waste)) B unused (\(wasteShare))",
                     ja: "\(model):ブロック\(al.blocks)個に\(Format.grouped(al.usedSlotsTotal))トークン、空きスロット\(Format.grouped(al.fragmentationSlots))個"
                     + "(\(Format.grouped(fragmentationBytes)) B、\(Format.grouped(paged.bytesAllocated)) Bの\(fragmentationShare))。"
                     + "連続確保なら\(Format.grouped(reservedSlots))スロットを予約し、\(Format.grouped(waste)) Bが未使用(\(wasteShare))"),
                l.en("\(Format.grouped(paged.bytesPerSlot)) B per token slot (all layers). A block of several colours was freed when one request ended and taken by the next; the pool peaked at \(al.peakBlocks) blocks.",
                     ja: "トークンスロット1つ(全層)あたり\(Format.grouped(paged.bytesPerSlot)) B。複数の色のブロックは、あるリクエストの終了で解放され次のリクエストが使ったもの。プールの最大はブロック\(al.peakBlocks)個。"))
    }
}

/// "0,15,29": layer numbers, 0-based, at least one.
public func parseLayers(_ text: String) throws(ConfigError) -> [Int] {
    var layers: [Int] = []
    for part in text.split(separator: ",", omittingEmptySubsequences: false) {
        guard let l = Int(part.filter { $0 != " " }), l >= 0 else { throw ConfigError(.layer, "'\(part)' is not a layer number (0, 1, …)") }
        layers.append(l)
    }
    return layers
}
