import AttnEngine
import AttnTrace

/// Which tokens an evicting cache keeps, step by step (issue 14's kept/evicted map): for each chosen
/// layer, and for each K/V head when H2O's heads keep different tokens, a map with a row per decode
/// step and a column per key position. A cell says what the layer did with that position at that
/// step: read it as part of the recent window, read it although it is older (an attention sink, or a
/// heavy hitter H2O kept for its accumulated attention), no longer read it (evicted), or had not
/// seen it yet.
public enum EvictionDiagram {
    /// What one K/V head of a layer did with key position j at step t.
    public enum Cell: Equatable, Sendable {
        /// Read, inside the recent window.
        case recent
        /// Read, although older than the recent window: a sink (`sinks`) or a heavy hitter (`h2o`).
        case kept
        /// Written earlier and no longer read.
        case evicted
        /// Not yet written.
        case unwritten
    }

    /// Positions a map shows at most (a cell under ~4 px is not a cell any more on a slide).
    public static let maxPositions = 256

    /// The map of K/V head `g` of `layer`, `[step][position]`. Under H2O the positions each head read
    /// come from the full-detail record (`LayerStep.readPositions`); under a window or sinks, every
    /// position written so far minus those the layer stopped reading (`LayerStep.evicted`) at this
    /// step or before.
    public static func cells(_ run: DecodeRun, layer: Int, kvHead g: Int) throws(FigureError) -> [[Cell]] {
        let eviction = run.result.cache.eviction, steps = run.result.steps
        var stopped = Set<Int>()
        var map: [[Cell]] = []
        for (t, step) in steps.enumerated() {
            let record = step.record.layers[layer]
            let read: Set<Int>
            if case .h2o = eviction {
                guard let positions = record.readPositions else {
                    throw FigureError(.traceDetail, "H2O's kept positions are recorded only with --trace-detail full")
                }
                read = Set(positions[g])
            } else {
                for p in record.evicted?[g] ?? [] { stopped.insert(p) }
                read = Set(0...t).subtracting(stopped)
            }
            map.append((0..<steps.count).map { j in
                j > t ? .unwritten : !read.contains(j) ? .evicted : isRecent(j, step: t, eviction) ? .recent : .kept
            })
        }
        return map
    }

    /// Whether position `j` is in the part of the cache a policy keeps for being recent at step `t`.
    static func isRecent(_ j: Int, step t: Int, _ eviction: KVEviction) -> Bool {
        switch eviction {
        case .none, .window: true
        case .sinks(let s, _): j >= s
        case .h2o(let b): j > t - KVEviction.h2oRecent(budget: b)
        }
    }

    /// What `kept` means under a policy, for the legend.
    static func keptName(_ eviction: KVEviction, _ c: Canvas) -> String {
        switch eviction {
        case .sinks: c.en("attention sink", ja: "アテンションシンク")
        case .h2o: c.en("heavy hitter", ja: "ヘビーヒッター")
        case .none, .window: c.en("kept", ja: "保持")
        }
    }

    /// - Parameters:
    ///   - layers: the layers shown, each a row of panels.
    ///   - title, subtitle, footnote: the run's own numbers, worded by the caller.
    public static func figure(_ run: DecodeRun, layers: [Int], title: String, subtitle: String, footnote: String,
                              style: Style) throws(FigureError) -> Figure {
        try style.requireLegible()
        let eviction = run.result.cache.eviction, a = run.config.attention, T = run.result.steps.count
        guard T <= maxPositions else {
            throw FigureError(.tokens, "\(T) positions are too many for one map (at most \(maxPositions)); give fewer --tokens or a shorter prompt")
        }
        // Per layer, the heads whose map differs from an earlier head's (H2O); one panel for a window.
        var panels: [(layer: Int, heads: [Int], cells: [[Cell]])] = []
        for l in layers {
            var shown: [(heads: [Int], cells: [[Cell]])] = []
            for g in 0..<a.kvHeads {
                let m = try cells(run, layer: l, kvHead: g)
                if let same = shown.firstIndex(where: { $0.cells == m }) { shown[same].heads.append(g) } else { shown.append(([g], m)) }
            }
            panels += shown.map { (l, $0.heads, $0.cells) }
        }
        let columns = panels.count / layers.count == 1 ? min(panels.count, 3) : a.kvHeads
        let rows = (panels.count + columns - 1) / columns

        var c = Canvas(style: style)
        let u = style.unit, small = style.smallSize
        var top = c.header(title, subtitle: subtitle)
        top = drawLegend(&c, y: top + 4 * u, eviction: eviction) + 12 * u
        let gap = 22 * u
        let panelW = (style.width - 80 * u - gap * Double(columns - 1)) / Double(columns)
        let panelH = (style.height - top - 50 * u - gap * Double(rows - 1)) / Double(rows)
        // Room inside a panel: its title above, the step labels left, the positions below.
        let left = 70 * u, head = 40 * u
        let cellW = (panelW - left - 16 * u) / Double(T)
        let tokenLabels = cellW >= 9 * u
        let bottom = tokenLabels ? 64 * u : 30 * u
        let cellH = (panelH - head - bottom) / Double(T)
        guard cellW >= 1.5 * u, cellH >= 1.5 * u else {
            throw FigureError(.size, "\(T) steps × \(T) positions in \(panels.count) panels do not fit legibly; give fewer --layer or --tokens, or a larger --size")
        }
        let tokens = run.result.processedTokens.map { AttentionDiagram.label(run.vocabulary.text(of: $0)) }
        for (i, panel) in panels.enumerated() {
            let frame = Rect(40 * u + Double(i % columns) * (panelW + gap), top + Double(i / columns) * (panelH + gap), panelW, panelH)
            c.rect(frame, fill: c.theme.panel, radius: 12 * u)
            let heads = a.kvHeads == 1 ? "" : panel.heads.count == a.kvHeads ? c.en(", every K/V head", ja: "・全K/Vヘッド") : panel.heads.count == 1
                ? c.en(", K/V head \(panel.heads[0])", ja: "・K/Vヘッド\(panel.heads[0])")
                : c.en(", K/V heads ", ja: "・K/Vヘッド") + panel.heads.map(String.init).joined(separator: ", ")
            let held = panel.cells[T - 1].filter { $0 == .recent || $0 == .kept }.count
            c.text(c.en("layer \(panel.layer)", ja: "層\(panel.layer)") + heads, Point(frame.x + 14 * u, frame.y + 22 * u), size: style.labelSize * 0.8, weight: .bold)
            c.text(c.en("\(held) of \(T) read at the last step", ja: "最終ステップで\(T)個中\(held)個を読む"), Point(frame.maxX - 14 * u, frame.y + 22 * u), size: small * 0.8,
                   color: c.theme.muted, anchor: .end)
            let grid = Rect(frame.x + left, frame.y + head, Double(T) * cellW, Double(T) * cellH)
            // One rect per run of equal cells in a row keeps the page small (and SVGs quick to open);
            // each row reaches a little into the next so that no seam shows between them.
            for (t, row) in panel.cells.enumerated() {
                let h = t == T - 1 ? cellH : cellH + min(1 * u, cellH / 2)
                var j = 0
                while j < T {
                    var end = j + 1
                    while end < T && row[end] == row[j] { end += 1 }
                    if row[j] != .unwritten {
                        c.rect(Rect(grid.x + Double(j) * cellW, grid.y + Double(t) * cellH, Double(end - j) * cellW, h),
                               fill: color(row[j], c.theme), role: "eviction-\(row[j])")
                    }
                    j = end
                }
            }
            c.rect(grid, fill: nil, stroke: c.theme.grid, lineWidth: 1 * u)
            c.text(c.en("step 0", ja: "ステップ0"), Point(grid.x - 8 * u, grid.y + cellH / 2), size: small * 0.75, color: c.theme.muted, anchor: .end)
            c.text(c.en("step \(T - 1)", ja: "ステップ\(T - 1)"), Point(grid.x - 8 * u, grid.maxY - cellH / 2), size: small * 0.75, color: c.theme.muted, anchor: .end)
            if tokenLabels {
                let size = min(small * 0.75, cellW * 0.95)
                for (j, token) in tokens.enumerated() {
                    c.text(token, Point(grid.x + (Double(j) + 0.5) * cellW, grid.maxY + 6 * u), size: size, color: c.theme.muted,
                           anchor: .end, rotation: -Double.pi / 2)
                }
            } else {
                for j in stride(from: 0, to: T, by: T > 100 ? 50 : 10) {
                    c.text("\(j)", Point(grid.x + (Double(j) + 0.5) * cellW, grid.maxY + 14 * u), size: small * 0.75, color: c.theme.muted, anchor: .middle)
                }
            }
        }
        c.footnote(footnote)
        return Figure(style: style, pages: [c.page], title: c.en("Kept and evicted tokens", ja: "保持・追い出しされたトークン"))
    }

    static func color(_ cell: Cell, _ theme: Theme) -> Color {
        switch cell {
        case .recent: theme.group(0)
        case .kept: theme.group(1)
        case .evicted: theme.grid
        case .unwritten: theme.panel
        }
    }

    /// The four kinds of cell in a row under the header; returns the y below it.
    private static func drawLegend(_ c: inout Canvas, y: Double, eviction: KVEviction) -> Double {
        let u = c.style.unit, size = c.style.smallSize * 0.9
        var x = 40 * u
        let entries: [(Cell, String)] = [(.recent, c.en("read: recent window", ja: "読む:直近のウィンドウ")),
                                         (.kept, c.en("read: \(keptName(eviction, c))", ja: "読む:\(keptName(eviction, c))")),
                                         (.evicted, c.en("evicted (no longer read)", ja: "追い出し(もう読まない)")),
                                         (.unwritten, c.en("not yet written", ja: "未書き込み"))]
        let keepsOlder: Bool = switch eviction { case .sinks, .h2o: true; case .none, .window: false }
        for (cell, name) in entries where cell != .kept || keepsOlder {
            c.rect(Rect(x, y, 18 * u, 18 * u), fill: color(cell, c.theme), stroke: c.theme.muted.withAlpha(0.6), lineWidth: 1 * u)
            c.text(name, Point(x + 26 * u, y + 9 * u), size: size)
            x += 26 * u + c.style.textWidth(name, size: size) + 30 * u
        }
        return y + 18 * u
    }
}
