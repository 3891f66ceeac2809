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
        public init(name: String, budget: KVBudget, window: Int? = nil) { self.name = name; self.budget = budget; self.window = window }

        /// Bytes one sequence's cache holds at `context` tokens.
        func bytes(context: Int) -> Int { budget.bytesPerToken * min(context, window ?? context) }
    }

    /// The layouts to compare for a model: its own, MHA, MQA, and each with CLA2 where it differs.
    public static func kvSeries(for config: DecoderConfig, name: String, dtype: DType) -> [KVSeries] {
        let a = config.attention, L = config.layers
        var series: [KVSeries] = []
        /// A series named by its layout ("MHA", "GQA-8", "MQA") followed by `suffix`.
        func add(kv: Int, pattern: KVPattern, suffix: String = "") {
            guard let layout = try? AttentionLayout(qHeads: a.qHeads, kvHeads: kv, headDim: a.headDim),
                  let map = try? pattern.map(layers: L) else { return }
            let b = KVBudget(layout: layout, kvMap: map, dtype: dtype)
            if !series.contains(where: { $0.budget.layout == b.layout && $0.budget.kvMap == b.kvMap }) {
                series.append(KVSeries(name: layout.name + suffix, budget: b, window: config.slidingWindow))
            }
        }
        // The model as configured (its own K/V map), then the alternatives.
        let own = KVBudget(layout: a, kvMap: config.kvMap, dtype: dtype)
        series.append(KVSeries(name: "\(name): \(config.layoutName)", budget: own, window: config.slidingWindow))
        add(kv: a.qHeads, pattern: .none, suffix: " (\(a.qHeads) K/V heads)")
        if a.kvHeads != a.qHeads && a.kvHeads != 1 { add(kv: a.kvHeads, pattern: .none) }
        add(kv: 1, pattern: .none)
        if L >= 2 {
            if a.kvHeads != 1 { add(kv: a.kvHeads, pattern: .cla(2), suffix: " + CLA2") }
            add(kv: 1, pattern: .cla(2), suffix: " + CLA2")
        }
        return series
    }

    public static func kvChart(_ series: [KVSeries], contexts: [Int], logY: Bool, subtitle: String, style: Style) throws(FigureError) -> Figure {
        guard contexts.count >= 2, let lo = contexts.min(), let hi = contexts.max(), lo > 0, hi > lo else {
            throw FigureError(.contexts, "needs at least two different positive context lengths")
        }
        try style.requireLegible()
        var c = Canvas(style: style)
        let u = style.unit
        let windowed = series.contains { $0.window.map { $0 < hi } ?? false }
        let top = c.header(windowed ? "KV cache grows with context, up to the sliding window" : "KV cache grows linearly with context", subtitle: subtitle)
        let gb = { (b: Int) in Double(b) / 1e9 }
        for s in series {
            guard (try? s.budget.cacheBytes(context: hi)) != nil else {
                throw FigureError(.contexts, "\(hi) tokens overflow 64-bit byte counts")
            }
        }
        let values = series.flatMap { s in contexts.map { gb(s.bytes(context: $0)) } }
        let yMax = values.max()! * 1.08, yMin = logY ? max(values.min()! / 1.5, 1e-6) : 0
        let plot = Plot(frame: Rect(170 * u, top + 30 * u, style.width * 0.62, style.height - top - 150 * u),
                        x: Axis(min: logY ? Double(lo) : 0, max: Double(hi), log: logY,
                                label: "context length (tokens\(logY ? ", log scale" : ""))", format: Ticks.tokens),
                        y: Axis(min: yMin, max: yMax, log: logY, label: "KV cache per sequence (GB)\(logY ? ", log scale" : "")", format: Ticks.bytesGB))
        plot.drawAxes(&c)
        var legendY = plot.frame.y + 10 * u
        let legendX = plot.frame.maxX + 40 * u
        for (k, s) in series.enumerated() {
            let color = c.theme.group(k)
            // A window bends the line where the cache stops growing.
            let bends = s.window.map { w in contexts.contains(w) || w >= hi || w <= lo ? [] : [w] } ?? []
            let points = (logY ? [] : [plot.point(0, 0)]) + (contexts + bends).sorted().map { plot.point(Double($0), gb(s.bytes(context: $0))) }
            c.line(points, color: color, width: 3.5 * u, dash: s.budget.kvLayers < s.budget.layers ? [10 * u, 6 * u] : [], role: "series")
            for x in contexts.sorted() { c.circle(plot.point(Double(x), gb(s.bytes(context: x))), radius: 5 * u, fill: color, role: "point") }
            c.line([Point(legendX, legendY), Point(legendX + 36 * u, legendY)], color: color, width: 3.5 * u,
                   dash: s.budget.kvLayers < s.budget.layers ? [10 * u, 6 * u] : [])
            c.text(s.name, Point(legendX + 46 * u, legendY), size: style.smallSize)
            c.text("\(Format.grouped(s.budget.bytesPerToken)) B/token", Point(legendX + 46 * u, legendY + 24 * u), size: style.smallSize * 0.9, color: c.theme.muted)
            legendY += 62 * u
        }
        let windows = Set(series.compactMap(\.window))
        c.footnote("bytes = 2 × kv_layers × kv_heads × head_dim × bytes/element × tokens" + (windows.isEmpty ? "" : " (tokens ≤ the \(windows.sorted().map { Format.grouped($0) }.joined(separator: ", "))-token sliding window)") + ". Dashed: CLA2 (half the layers store K/V).")
        return Figure(style: style, pages: [c.page], title: "KV cache vs context")
    }

    /// HBM accesses of the three algorithms against the swept variable (log-log).
    public static func ioChart(_ points: [SweepPoint], over axis: SweepAxis, subtitle: String, style: Style) throws(FigureError) -> Figure {
        let sizes = Set(points.map(\.value)).sorted()
        guard sizes.count >= 2 else { throw FigureError(.values, "needs at least two values") }
        let runs = points.map(\.result)
        try style.requireLegible()
        var c = Canvas(style: style)
        let u = style.unit
        let names: [SweepAxis: (String, String)] = [.sram: ("SRAM size", "SRAM size M (elements, log scale)"),
                                                   .n: ("sequence length", "sequence length N (log scale)"),
                                                   .bc: ("block size", "block size Bc (Br = min(Bc, d), M = the working set; log scale)")]
        let top = c.header("HBM traffic against \(names[axis]!.0)", subtitle: subtitle)
        let accesses = runs.map { Double($0.hbmAccesses) }
        let plot = Plot(frame: Rect(170 * u, top + 30 * u, style.width * 0.62, style.height - top - 150 * u),
                        x: Axis(min: Double(sizes.first!), max: Double(sizes.last!), log: true, label: names[axis]!.1, format: Ticks.count,
                                explicitTicks: sizes.map(Double.init)),
                        y: Axis(min: accesses.min()! / 1.3, max: accesses.max()! * 1.3, log: true, label: "HBM accesses (elements, log scale)", format: Ticks.count))
        plot.drawAxes(&c)
        var legendY = plot.frame.y + 10 * u
        let legendX = plot.frame.maxX + 40 * u
        for (k, algo) in TileAlgorithm.allCases.enumerated() {
            let mine = points.filter { $0.result.algorithm == algo }.sorted { $0.value < $1.value }
            guard !mine.isEmpty else { continue }
            let color = c.theme.group(k == 0 ? 5 : k - 1)
            let line = mine.map { plot.point(Double($0.value), Double($0.result.hbmAccesses)) }
            c.line(line, color: color, width: 3.5 * u, role: "series")
            for p in line { c.circle(p, radius: 5.5 * u, fill: color, role: "point") }
            c.line([Point(legendX, legendY), Point(legendX + 36 * u, legendY)], color: color, width: 3.5 * u)
            c.text(algo.title, Point(legendX + 46 * u, legendY), size: style.smallSize)
            legendY += 44 * u
        }
        legendY += 20 * u
        for line in ["Standard attention moves S and P", "through HBM: Θ(Nd + N²).", "FlashAttention: Θ(N²d²/M)."] {
            c.text(line, Point(legendX, legendY), size: style.smallSize, color: c.theme.muted)
            legendY += 28 * u
        }
        c.footnote("Counts from real runs of attnlab's simulator (" + (axis == .bc ? "FlashAttention blocks as given; naive at the same M" : "published blocks Bc = ⌈M/4d⌉, Br = min(Bc, d)") + "). Theorem 2 of Dao et al. 2022.")
        return Figure(style: style, pages: [c.page], title: "HBM vs SRAM")
    }

    /// The CLA paper's design space: KV bytes per token (computed) against validation perplexity
    /// (published), with the Pareto frontier.
    public static func tradeoff(_ presets: [Preset], style: Style) throws(FigureError) -> Figure {
        let points = presets.compactMap { p -> TradeoffPoint? in
            guard let c = p.decoder, let ppl = p.publishedValPerplexity else { return nil }
            return TradeoffPoint(name: p.label, bytesPerToken: KVBudget(layout: c.attention, kvMap: c.kvMap, dtype: .bf16).bytesPerToken,
                                 perplexity: ppl, family: tradeoffFamily(c))
        }
        guard points.count >= 2 else { throw FigureError(.preset, "needs at least two models with published perplexities") }
        return try tradeoff(points, title: "Cross-Layer Attention: cache size vs quality",
                            subtitle: "1B models of Brandon et al. 2024, Table 1 (LR 3e-4): bytes/token computed by attnlab (bf16), perplexity as published",
                            yLabel: "validation perplexity (lower is better)",
                            footnote: "Source: Brandon, Mishra, Nrusimha, Panda, Ragan-Kelley, Reducing Transformer Key-Value Cache Size with Cross-Layer Attention, arXiv 2405.12981, Table 1.",
                            style: style)
    }

    /// The legend group of a K/V layout: 0 every layer has its own K/V (MHA/GQA/MQA), 1 CLA2, 2 CLA
    /// with S > 2, 3 any other map.
    public static func tradeoffFamily(_ c: DecoderConfig) -> Int {
        guard c.kvMap.kvLayers < c.layers else { return 0 }
        let name = c.layoutName
        return name.contains("-CLA2") ? 1 : name.contains("-CLA") ? 2 : 3
    }

    /// KV bytes per token against perplexity for any set of models, with the Pareto frontier (the
    /// models no other beats on both). The perplexity axis turns logarithmic when the values span
    /// more than a factor of 3, as a retrofit without training can.
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
        let pad = logY ? 1.0 : 0.1
        let plot = Plot(frame: Rect(150 * u, top + 30 * u, style.width * 0.66, style.height - top - 150 * u),
                        x: Axis(min: xs.min()! / 1.6, max: xs.max()! * 1.4, log: true, label: "KV cache bytes per token (log scale)", format: Ticks.count),
                        y: Axis(min: logY ? ys.min()! / 1.25 : ys.min()! - pad, max: logY ? ys.max()! * 1.25 : ys.max()! + pad, log: logY,
                                label: yLabel + (logY ? " (log scale)" : ""),
                                format: { $0 >= 100 ? Format.grouped(Int($0.rounded())) : Format.fixed($0, 1) }))
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
            placer.placed.append(Rect(at.x - 8 * u, at.y - 8 * u, 16 * u, 16 * u))
        }
        for p in points.sorted(by: { $0.bytesPerToken < $1.bytesPerToken }) {
            let at = plot.point(Double(p.bytesPerToken), clipped(p)), color = c.theme.group(p.family)
            let onFrontier = frontier.contains { $0.name == p.name }
            c.circle(at, radius: (onFrontier ? 9 : 7) * u, fill: color, stroke: onFrontier ? c.theme.foreground : nil, lineWidth: 2 * u, role: "model")
            let label = clipped(p) < p.perplexity ? "\(p.name) ↑ \(Format.grouped(Int(p.perplexity.rounded())))" : p.name
            if let (pos, anchor) = placer.place(label, at: at, size: style.smallSize * 0.8, gap: 14 * u) {
                c.text(label, pos, size: style.smallSize * 0.8, color: c.theme.foreground, anchor: anchor, role: "model-label")
            }
        }
        var legendY = plot.frame.y + 10 * u
        let legendX = plot.frame.maxX + 36 * u
        // Only the groups that are on the chart.
        let families = Set(points.map(\.family))
        for (k, label) in (legend ?? ["MHA / GQA / MQA", "… + CLA2", "… + CLA3, CLA4", "CLA2, non-uniform"]).enumerated() where families.contains(k) {
            c.circle(Point(legendX + 8 * u, legendY), radius: 7 * u, fill: c.theme.group(k))
            c.text(label, Point(legendX + 26 * u, legendY), size: style.smallSize)
            legendY += 34 * u
        }
        c.line([Point(legendX, legendY), Point(legendX + 18 * u, legendY)], color: c.theme.foreground.withAlpha(0.5), width: 2.5 * u, dash: [8 * u, 6 * u])
        c.text("Pareto frontier", Point(legendX + 26 * u, legendY), size: style.smallSize)
        c.footnote(footnote)
        return Figure(style: style, pages: [c.page], title: title)
    }
}

/// One model on a trade-off chart.
public struct TradeoffPoint: Sendable, Equatable {
    public let name: String
    public let bytesPerToken: Int
    public let perplexity: Double
    /// Legend group, from `Charts.tradeoffFamily`.
    public let family: Int

    public init(name: String, bytesPerToken: Int, perplexity: Double, family: Int) {
        self.name = name
        self.bytesPerToken = bytesPerToken
        self.perplexity = perplexity
        self.family = family
    }
}
