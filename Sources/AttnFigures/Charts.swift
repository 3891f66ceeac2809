import AttnEngine
import AttnTiling
import AttnTrace

/// Figure 5 — charts: KV-cache bytes against context length, HBM accesses against SRAM size, and
/// the CLA paper's trade-off of KV bytes per token against validation perplexity.
public enum Charts {
    /// One line of the KV chart.
    public struct KVSeries: Sendable {
        public let name: String
        public let budget: KVBudget
        /// A sliding window: the cache stops growing at W tokens (Mistral 7B: 4,096).
        public let window: Int?
        /// The model it belongs to, by its place among the chart's models (its marker).
        public let model: Int
        public init(name: String, budget: KVBudget, window: Int? = nil, model: Int = 0) {
            self.name = name; self.budget = budget; self.window = window; self.model = model
        }

        /// Bytes one sequence's cache holds at `context` tokens.
        func bytes(context: Int) -> Int { budget.bytesPerToken * min(context, window ?? context) }
        /// Its colour: how the query heads share K/V heads.
        public var kind: SeriesKind { SeriesKind(budget.layout) }
        /// Layers share K/V (CLA): drawn dashed.
        var sharesLayers: Bool { budget.kvLayers < budget.layers }
    }

    /// The layouts to compare for a model: its own, MHA, MQA, and each with CLA2 where it differs.
    public static func kvSeries(for config: DecoderConfig, name: String, dtype: DType, language: Language = .en) -> [KVSeries] {
        kvSeries(for: [(config, name)], dtype: dtype, language: language)
    }

    /// The layouts to compare for several models on one chart: each model's own, then MHA, its
    /// GQA, MQA and those with CLA2; a layout two models share (Llama 2 7B's MHA is Llama 3 8B's
    /// MHA alternative) is one line naming both.
    public static func kvSeries(for models: [(config: DecoderConfig, name: String)], dtype: DType, language: Language = .en) -> [KVSeries] {
        var series: [KVSeries] = []
        var owners: [[String]] = []
        for (m, (config, name)) in models.enumerated() {
            let a = config.attention, L = config.layers
            func add(_ budget: KVBudget, _ layoutName: String, own: Bool) {
                if let k = series.firstIndex(where: { $0.budget.layout == budget.layout && $0.budget.kvMap == budget.kvMap && $0.window == config.slidingWindow }) {
                    if !owners[k].contains(name) { owners[k].append(name) }
                    return
                }
                series.append(KVSeries(name: layoutName, budget: budget, window: config.slidingWindow, model: m))
                owners.append(models.count > 1 || own ? [name] : [])
            }
            /// A series named by its layout ("MHA", "GQA-8", "MQA") followed by `suffix`.
            func add(kv: Int, pattern: KVPattern, suffix: String = "") {
                guard let layout = try? AttentionLayout(qHeads: a.qHeads, kvHeads: kv, headDim: a.headDim),
                      let map = try? pattern.map(layers: L) else { return }
                add(KVBudget(layout: layout, kvMap: map, dtype: dtype), layout.name + suffix, own: false)
            }
            // The model as configured (its own K/V map), then the alternatives.
            add(KVBudget(layout: a, kvMap: config.kvMap, dtype: dtype), config.layoutName, own: true)
            add(kv: a.qHeads, pattern: .none, suffix: language.en(" (\(a.qHeads) K/V heads)", ja: "（K/V ヘッド \(a.qHeads)）"))
            if a.kvHeads != a.qHeads && a.kvHeads != 1 { add(kv: a.kvHeads, pattern: .none) }
            add(kv: 1, pattern: .none)
            if L >= 2 {
                if a.kvHeads != 1 { add(kv: a.kvHeads, pattern: .cla(2), suffix: " + CLA2") }
                add(kv: 1, pattern: .cla(2), suffix: " + CLA2")
            }
        }
        return zip(series, owners).map { s, names in
            names.isEmpty ? s : KVSeries(name: "\(names.joined(separator: ", ")): \(s.name)", budget: s.budget, window: s.window, model: s.model)
        }
    }

    public static func kvChart(_ series: [KVSeries], contexts: [Int], logY: Bool, subtitle: String, style: Style) throws(FigureError) -> Figure {
        guard contexts.count >= 2, let lo = contexts.min(), let hi = contexts.max(), lo > 0, hi > lo else {
            throw FigureError(.contexts, "needs at least two different positive context lengths")
        }
        try style.requireLegible()
        var c = Canvas(style: style)
        let u = style.unit
        let windowed = series.contains { $0.window.map { $0 < hi } ?? false }
        let top = c.header(windowed ? c.en("KV cache grows with context, up to the sliding window", ja: "KV キャッシュは文脈長とともに増える（スライディングウィンドウまで）")
                                    : c.en("KV cache grows linearly with context", ja: "KV キャッシュは文脈長に比例して増える"), subtitle: subtitle)
        let gb = { (b: Int) in Double(b) / 1e9 }
        for s in series {
            guard (try? s.budget.cacheBytes(context: hi)) != nil else {
                throw FigureError(.contexts, "\(hi) tokens overflow 64-bit byte counts")
            }
        }
        let values = series.flatMap { s in contexts.map { gb(s.bytes(context: $0)) } }
        let yMax = values.max()! * 1.08, yMin = logY ? max(values.min()! / 1.5, 1e-6) : 0
        let plot = Plot(frame: Rect(170 * u, top + 30 * u, style.width * 0.6, style.height - top - 160 * u),
                        x: Axis(min: logY ? Double(lo) : 0, max: Double(hi), log: logY,
                                label: c.en("context length (tokens\(logY ? ", log scale" : ""))", ja: "文脈長（トークン\(logY ? "、対数目盛" : "")）"), format: .tokens),
                        y: Axis(min: yMin, max: yMax, log: logY,
                                label: c.en("KV cache per sequence (GB)\(logY ? ", log scale" : "")", ja: "1 系列の KV キャッシュ（GB\(logY ? "、対数目盛" : "")）")))
        plot.drawAxes(&c)
        // Colour: the head sharing; dashed: CLA; marker: the model; and each line named at its end.
        var ends: [Double] = []
        for s in series {
            let color = c.theme.series(s.kind), marker = Marker.at(s.model)
            // A window bends the line where the cache stops growing.
            let bends = s.window.map { w in contexts.contains(w) || w >= hi || w <= lo ? [] : [w] } ?? []
            let points = (logY ? [] : [plot.point(0, 0)]) + (contexts + bends).sorted().map { plot.point(Double($0), gb(s.bytes(context: $0))) }
            c.line(points, color: color, width: 3.5 * u, dash: s.sharesLayers ? Dash.pattern(1, unit: u) : [], role: "series")
            for x in contexts.sorted() { marker.draw(&c, plot.point(Double(x), gb(s.bytes(context: x))), radius: 5 * u, fill: color, role: "point") }
            ends.append(points.last!.y)
        }
        let size = style.smallSize, spacing = size * 1.25 + style.smallSize * 0.9 * 1.2
        let labelYs = spreadLabels(ends, spacing: spacing, lo: plot.frame.y, hi: plot.frame.maxY)
        let labelX = plot.frame.maxX + 34 * u
        for (k, s) in series.enumerated() {
            let color = c.theme.series(s.kind), y = labelYs[k]
            c.line([Point(plot.frame.maxX + 4 * u, ends[k]), Point(labelX - 20 * u, y), Point(labelX - 6 * u, y)], color: color, width: 1.5 * u,
                   dash: s.sharesLayers ? Dash.pattern(1, unit: u * 0.5) : [])
            Marker.at(s.model).draw(&c, Point(labelX - 13 * u, y), radius: 4 * u, fill: color)
            let width = style.width - labelX - 24 * u
            let name = c.fitted(s.name, width: width, size: size, maxLines: 1)[0]
            c.text(name, Point(labelX, y - size * 0.35), size: size, color: c.theme.foreground, role: "series-label")
            c.text(c.en("\(Format.grouped(s.budget.bytesPerToken)) B/token", ja: "\(Format.grouped(s.budget.bytesPerToken)) B/トークン"),
                   Point(labelX, y + size * 0.85), size: style.smallSize * 0.9, color: c.theme.muted)
        }
        let windows = Set(series.compactMap(\.window)).sorted().map { Format.grouped($0) }.joined(separator: ", ")
        let models = Set(series.map(\.model)).count
        c.footnote(c.en("bytes = 2 × kv_layers × kv_heads × head_dim × bytes/element × tokens"
                        + (windows.isEmpty ? "" : " (tokens ≤ the \(windows)-token sliding window)")
                        + ". Colour: how query heads share K/V heads; dashed: CLA2 (half the layers store K/V)" + (models > 1 ? "; marker: the model." : "."),
                        ja: "バイト数 = 2 × kv_layers × kv_heads × head_dim × 要素あたりバイト数 × トークン数"
                        + (windows.isEmpty ? "" : "（トークン数は \(windows) トークンのスライディングウィンドウまで）")
                        + "。色：クエリヘッドが K/V ヘッドをどう共有するか。破線：CLA2（半数の層だけが K/V を保存）" + (models > 1 ? "。マーカー：モデル。" : "。")))
        return Figure(style: style, pages: [c.page], title: c.en("KV cache vs context", ja: "KV キャッシュと文脈長"))
    }

    /// HBM accesses of the three algorithms against the swept variable (log-log).
    public static func ioChart(_ points: [SweepPoint], over axis: SweepAxis, subtitle: String, style: Style) throws(FigureError) -> Figure {
        let sizes = Set(points.map(\.value)).sorted()
        guard sizes.count >= 2 else { throw FigureError(.values, "needs at least two values") }
        let runs = points.map(\.result)
        try style.requireLegible()
        var c = Canvas(style: style)
        let u = style.unit
        let names: [SweepAxis: (String, String)] = [
            .sram: (c.en("SRAM size", ja: "SRAM サイズ"), c.en("SRAM size M (elements, log scale)", ja: "SRAM サイズ M（要素数、対数目盛）")),
            .n: (c.en("sequence length", ja: "系列長"), c.en("sequence length N (log scale)", ja: "系列長 N（対数目盛）")),
            .bc: (c.en("block size", ja: "ブロックサイズ"),
                  c.en("block size Bc (Br = min(Bc, d), M = the working set; log scale)", ja: "ブロックサイズ Bc（Br = min(Bc, d)、M = 作業領域、対数目盛）")),
        ]
        let top = c.header(c.en("HBM traffic against \(names[axis]!.0)", ja: "\(names[axis]!.0)と HBM 転送量"), subtitle: subtitle)
        let accesses = runs.map { Double($0.hbmAccesses) }
        let plot = Plot(frame: Rect(170 * u, top + 30 * u, style.width * 0.6, style.height - top - 160 * u),
                        x: Axis(min: Double(sizes.first!), max: Double(sizes.last!), log: true, label: names[axis]!.1, format: .count,
                                explicitTicks: sizes.map(Double.init)),
                        y: Axis(min: accesses.min()! / 1.3, max: accesses.max()! * 1.3, log: true,
                                label: c.en("HBM accesses (elements, log scale)", ja: "HBM アクセス（要素数、対数目盛）"), format: .count))
        plot.drawAxes(&c)
        // Colour: the algorithm (as on every chart); dash: the algorithm again; its name at the line's end.
        var drawn: [(TileAlgorithm, Double)] = []
        for (k, algo) in TileAlgorithm.allCases.enumerated() {
            let mine = points.filter { $0.result.algorithm == algo }.sorted { $0.value < $1.value }
            guard !mine.isEmpty else { continue }
            let color = c.theme.series(.algorithm(algo))
            let line = mine.map { plot.point(Double($0.value), Double($0.result.hbmAccesses)) }
            c.line(line, color: color, width: 3.5 * u, dash: Dash.pattern(k, unit: u), role: "series")
            for p in line { c.circle(p, radius: 5.5 * u, fill: color, role: "point") }
            drawn.append((algo, line.last!.y))
        }
        let labelX = plot.frame.maxX + 30 * u
        let ys = spreadLabels(drawn.map(\.1), spacing: style.smallSize * 1.6, lo: plot.frame.y, hi: plot.frame.maxY)
        for (k, (algo, y)) in drawn.enumerated() {
            let color = c.theme.series(.algorithm(algo))
            c.line([Point(plot.frame.maxX + 4 * u, y), Point(labelX - 6 * u, ys[k])], color: color, width: 1.5 * u)
            c.text(SeriesKind.title(algo, style.language), Point(labelX, ys[k]), size: style.smallSize, weight: .bold, role: "series-label")
        }
        let explain = [c.en("Standard attention moves S and P through HBM: Θ(Nd + N²).", ja: "標準のアテンションは S と P を HBM に書いて読む：Θ(Nd + N²)。"),
                       c.en("FlashAttention keeps them in SRAM: Θ(N²d²/M).", ja: "FlashAttention は SRAM に置いたまま：Θ(N²d²/M)。")]
        // Above the line labels when they leave room there, else below them.
        var y = ys.min()! > plot.frame.y + 150 * u ? plot.frame.y + 10 * u : ys.max()! + 50 * u
        for line in explain {
            y = c.paragraph(line, Point(labelX, y), width: style.width - labelX - 30 * u, size: style.smallSize, color: c.theme.muted) + 10 * u
        }
        c.footnote(c.en("Counts from real runs of attnlab's simulator (" + (axis == .bc ? "FlashAttention blocks as given; naive at the same M" : "published blocks Bc = ⌈M/4d⌉, Br = min(Bc, d)") + "). Theorem 2 of Dao et al. 2022.",
                    ja: "attnlab のシミュレータの実行で数えた値（" + (axis == .bc ? "FlashAttention は指定のブロック、標準のアテンションは同じ M" : "論文のブロック Bc（M/4d を切り上げ）、Br = min(Bc, d)") + "）。Dao et al. 2022 の定理 2。"))
        return Figure(style: style, pages: [c.page], title: c.en("HBM vs SRAM", ja: "HBM と SRAM"))
    }

    /// The CLA paper's design space: KV bytes per token (computed) against validation perplexity
    /// (published), with the Pareto frontier.
    public static func tradeoff(_ presets: [Preset], style: Style) throws(FigureError) -> Figure {
        let points = presets.compactMap { p -> TradeoffPoint? in
            guard let c = p.decoder, let ppl = p.publishedValPerplexity else { return nil }
            return TradeoffPoint(name: p.label, bytesPerToken: KVBudget(layout: c.attention, kvMap: c.kvMap, dtype: .bf16).bytesPerToken,
                                 perplexity: ppl, family: tradeoffFamily(c), kind: SeriesKind(c.attention))
        }
        guard points.count >= 2 else { throw FigureError(.preset, "needs at least two models with published perplexities") }
        let l = style.language
        return try tradeoff(points, title: l.en("Cross-Layer Attention: cache size vs quality", ja: "Cross-Layer Attention：キャッシュサイズと品質"),
                            subtitle: l.en("1B models of Brandon et al. 2024, Table 1 (LR 3e-4): bytes/token computed by attnlab (bf16), perplexity as published",
                                           ja: "Brandon et al. 2024 の表 1 の 1B モデル（学習率 3e-4）：トークンあたりバイト数は attnlab で計算（bf16）、パープレキシティは論文の値"),
                            yLabel: l.en("validation perplexity (lower is better)", ja: "検証パープレキシティ（低いほど良い）"),
                            footnote: l.en("Source: Brandon, Mishra, Nrusimha, Panda, Ragan-Kelley, Reducing Transformer Key-Value Cache Size with Cross-Layer Attention, arXiv 2405.12981, Table 1.",
                                           ja: "出典：Brandon, Mishra, Nrusimha, Panda, Ragan-Kelley「Reducing Transformer Key-Value Cache Size with Cross-Layer Attention」arXiv 2405.12981、表 1。"),
                            style: style)
    }

    /// The legend group of a K/V layout: 0 every layer has its own K/V (MHA/GQA/MQA), 1 CLA2, 2 CLA
    /// with S > 2, 3 any other map.
    public static func tradeoffFamily(_ c: DecoderConfig) -> Int {
        guard c.kvMap.kvLayers < c.layers else { return 0 }
        let name = c.layoutName
        return name.contains("-CLA2") ? 1 : name.contains("-CLA") ? 2 : 3
    }

    /// `tradeoffFamily`'s names, in order, in `language`.
    static func tradeoffFamilies(_ language: Language) -> [String] {
        [language.en("every layer its own K/V", ja: "各層が自分の K/V"), "CLA2", "CLA3, CLA4", language.en("CLA2, non-uniform", ja: "CLA2（不均一）")]
    }

    /// KV bytes per token against perplexity for any set of models, with the Pareto frontier (the
    /// models no other beats on both). The perplexity axis turns logarithmic when the values span
    /// more than a factor of 3, as a retrofit without training can. A point's colour is its `kind`
    /// (the same on every chart), its marker its `family`.
    /// - Parameter guess: a horizontal reference line, e.g. ("uniform guess", vocabulary size): the
    ///   perplexity of a model that knows nothing.
    /// - Parameters:
    ///   - legend: the name of each `family`, in order (default: the CLA paper's layout groups).
    ///   - ceiling: the top of the perplexity axis; a point above it sits on the top edge with its
    ///     value in its label, so that a few failures do not squeeze every other point into a line.
    public static func tradeoff(_ points: [TradeoffPoint], title: String, subtitle: String, yLabel: String, footnote: String,
                                guess: (label: String, perplexity: Double)? = nil, legend: [String]? = nil, ceiling: Double? = nil,
                                style: Style) throws(FigureError) -> Figure {
        guard points.count >= 2 else { throw FigureError(.variants, "needs at least two models to compare") }
        guard points.allSatisfy({ $0.perplexity.isFinite && $0.perplexity > 0 && $0.bytesPerToken > 0 }) else {
            throw FigureError(.variants, "a perplexity or size is not a positive finite number")
        }
        try style.requireLegible()
        var c = Canvas(style: style)
        let u = style.unit
        let top = c.header(title, subtitle: subtitle)
        let clipped = { (p: TradeoffPoint) in ceiling.map { min(p.perplexity, $0) } ?? p.perplexity }
        let xs = points.map { Double($0.bytesPerToken) }, ys = points.map(clipped) + (guess.map { [$0.perplexity] } ?? [])
        let logY = ys.max()! / ys.min()! > 3
        let pad = logY ? 1.0 : max(0.1, (ys.max()! - ys.min()!) * 0.06)
        let plot = Plot(frame: Rect(150 * u, top + 30 * u, style.width * 0.64, style.height - top - 160 * u),
                        x: Axis(min: xs.min()! / 1.6, max: xs.max()! * 1.4, log: true,
                                label: c.en("KV cache bytes per token (log scale)", ja: "トークンあたり KV キャッシュのバイト数（対数目盛）"), format: .count),
                        y: Axis(min: logY ? ys.min()! / 1.25 : ys.min()! - pad, max: logY ? ys.max()! * 1.25 : ys.max()! + pad, log: logY,
                                label: yLabel + (logY ? c.en(" (log scale)", ja: "（対数目盛）") : "")))
        plot.drawAxes(&c)
        if let guess {
            let y = plot.point(plot.x.min, guess.perplexity).y
            c.line([Point(plot.frame.x, y), Point(plot.frame.maxX, y)], color: c.theme.highlight, width: 2 * u, dash: [3 * u, 5 * u], role: "guess")
            c.text("\(guess.label): \(Format.grouped(Int(guess.perplexity.rounded())))", Point(plot.frame.maxX - 8 * u, y - 14 * u),
                   size: style.smallSize * 0.8, color: c.theme.highlight, anchor: .end, role: "guess-label")
        }
        // Pareto frontier: no other model is both smaller and better.
        let frontier = points.filter { p in
            !points.contains { q in
                q.bytesPerToken <= p.bytesPerToken && q.perplexity <= p.perplexity && (q.bytesPerToken < p.bytesPerToken || q.perplexity < p.perplexity)
            }
        }.sorted { $0.bytesPerToken < $1.bytesPerToken }
        c.line(frontier.map { plot.point(Double($0.bytesPerToken), clipped($0)) }, color: c.theme.foreground.withAlpha(0.5), width: 2.5 * u,
               dash: [8 * u, 6 * u], role: "frontier")
        var placer = LabelPlacer(bounds: plot.frame, style: style)
        for p in points {
            let at = plot.point(Double(p.bytesPerToken), clipped(p))
            placer.placed.append(Rect(at.x - 10 * u, at.y - 10 * u, 20 * u, 20 * u))
        }
        let labelSize = style.smallSize * 0.8
        for p in points.sorted(by: { $0.bytesPerToken < $1.bytesPerToken }) {
            let at = plot.point(Double(p.bytesPerToken), clipped(p)), color = c.theme.series(p.colorKind)
            let onFrontier = frontier.contains { $0.name == p.name }
            Marker.at(p.family).draw(&c, at, radius: (onFrontier ? 9 : 7) * u, fill: color, stroke: onFrontier ? c.theme.foreground : nil,
                                     lineWidth: 2 * u, role: "model")
            let label = clipped(p) < p.perplexity ? "\(p.name) ↑ \(Format.grouped(Int(p.perplexity.rounded())))" : p.name
            if let placed = placer.place(label, at: at, size: labelSize, gap: 14 * u) {
                if placed.leader {
                    let box = LabelPlacer.box(label, at: placed.point, anchor: placed.anchor, size: labelSize, style: style)
                    let end = Point(min(max(at.x, box.x), box.maxX), min(max(at.y, box.y), box.maxY))
                    c.line([at, end], color: c.theme.muted, width: 1 * u, role: "leader")
                }
                c.text(label, placed.point, size: labelSize, color: c.theme.foreground, anchor: placed.anchor, role: "model-label")
            }
        }
        var legendY = plot.frame.y + 10 * u
        let legendX = plot.frame.maxX + 36 * u, legendW = style.width - legendX - 24 * u
        // Colours: only the kinds on the chart; markers: only the groups on the chart.
        var kinds: [SeriesKind] = []
        for p in points where !kinds.contains(p.colorKind) { kinds.append(p.colorKind) }
        let named = kinds.compactMap { k in k.name(style.language).map { (k, $0) } }
        if !named.isEmpty {
            c.text(c.en("colour", ja: "色"), Point(legendX, legendY), size: style.smallSize, color: c.theme.muted)
            legendY += 30 * u
            for (k, name) in named {
                c.circle(Point(legendX + 8 * u, legendY), radius: 7 * u, fill: c.theme.series(k))
                c.text(name, Point(legendX + 26 * u, legendY), size: style.smallSize)
                legendY += 30 * u
            }
            legendY += 12 * u
            c.text(c.en("marker", ja: "マーカー"), Point(legendX, legendY), size: style.smallSize, color: c.theme.muted)
            legendY += 30 * u
        }
        let families = Set(points.map(\.family))
        let familyColor = named.isEmpty ? nil : c.theme.muted
        for (k, label) in (legend ?? tradeoffFamilies(style.language)).enumerated() where families.contains(k) {
            Marker.at(k).draw(&c, Point(legendX + 8 * u, legendY), radius: 7 * u, fill: familyColor ?? c.theme.series(.other(k)))
            legendY = c.paragraph(label, Point(legendX + 26 * u, legendY), width: legendW - 26 * u, size: style.smallSize, lineHeight: 1.2) + 8 * u
        }
        legendY += 6 * u
        c.line([Point(legendX, legendY), Point(legendX + 18 * u, legendY)], color: c.theme.foreground.withAlpha(0.5), width: 2.5 * u, dash: [8 * u, 6 * u])
        c.text(c.en("Pareto frontier", ja: "パレートフロンティア"), Point(legendX + 26 * u, legendY), size: style.smallSize)
        c.footnote(footnote)
        return Figure(style: style, pages: [c.page], title: title)
    }
}

/// One model on a trade-off chart.
public struct TradeoffPoint: Sendable, Equatable {
    public let name: String
    public let bytesPerToken: Int
    public let perplexity: Double
    /// Legend group, from `Charts.tradeoffFamily`: the point's marker.
    public let family: Int
    /// What the point is (MHA, MQA, quantized K/V…): its colour, as on every chart; nil colours it
    /// by `family`.
    public let kind: SeriesKind?

    public init(name: String, bytesPerToken: Int, perplexity: Double, family: Int, kind: SeriesKind? = nil) {
        self.name = name
        self.bytesPerToken = bytesPerToken
        self.perplexity = perplexity
        self.family = family
        self.kind = kind
    }

    var colorKind: SeriesKind { kind ?? .other(family) }
}
