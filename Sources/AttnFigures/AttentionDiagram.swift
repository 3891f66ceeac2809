import AttnEngine
import AttnTrace

/// Figure 6 — attention weights of one layer: per query head the causal matrix of softmax weights
/// (row = query position, column = key position, upper triangle masked), the heads framed by the
/// K/V head they share. In a GQA frame every head reads the same cached K and V; their patterns
/// differ only through their queries (Ainslie et al. 2023).
public enum AttentionDiagram {
    /// Most positions a heatmap shows (the most recent ones).
    public static let maxPositions = 32
    /// Fewer positions tried, in order, before query heads are left out: every head of a group is
    /// worth more to the lesson than the oldest positions.
    static let fallbackPositions = [24, 16]
    /// Longest token label, in characters, before it is cut with "…".
    public static let maxLabelCharacters = 8

    /// The colour of a softmax weight (0…1): background at 0 to foreground at 1 on a square-root
    /// scale, so the ~1/T weights of a flat row still show. Grey, so a weight never reads as a K/V
    /// head's colour.
    public static func color(weight: Float, theme: Theme) -> Color {
        theme.background.mixed(with: theme.foreground, Double(max(0, min(1, weight))).squareRoot())
    }

    /// - Parameters:
    ///   - run: a decode recorded with `detail: .full` (it keeps every head's weights).
    ///   - layer: the layer to show, 0-based.
    /// - Throws: `FigureError` naming `--layer` for a layer the model lacks, `--trace-detail` for a
    ///   summary-detail run, `--size` when the heads do not fit legibly.
    public static func figure(_ run: DecodeRun, layer: Int, style: Style) throws(FigureError) -> Figure {
        try style.requireLegible()
        let config = run.config, a = config.attention, steps = run.result.steps, T = steps.count
        guard (0..<config.layers).contains(layer) else {
            throw FigureError(.layer, "layer \(layer) is outside 0..<\(config.layers) (the model has \(Format.plural(config.layers, "layer")))")
        }
        guard run.detail == .full, T > 0, steps.allSatisfy({ $0.record.layers[layer].attention != nil }) else {
            throw FigureError(.traceDetail, "the run was recorded with summary detail, which keeps no attention weights; decode with --trace-detail full")
        }
        let u = style.unit, m = Metrics(u: u)
        var c = Canvas(style: style)
        let heads = a.qHeads == 1 ? c.en("1 query head, 1 K/V head", ja: "クエリヘッド 1、K/V ヘッド 1")
            : a.kvHeads == a.qHeads ? c.en("\(a.qHeads) query heads, each with its own K/V head", ja: "クエリヘッド \(a.qHeads) 個がそれぞれ自分の K/V ヘッドを持つ")
            : c.en("\(a.qHeads) query heads share \(Format.plural(a.kvHeads, "K/V head"))", ja: "クエリヘッド \(a.qHeads) 個が K/V ヘッド \(a.kvHeads) 個を共有")
        let before = (run.model ?? c.en("random weights, seed \(run.seed)", ja: "ランダムな重み、シード \(run.seed)"))
            + c.en(" · \(config.layoutName), \(Format.plural(config.layers, "layer")) · prompt “", ja: " · \(config.layoutName)、\(config.layers) 層 · プロンプト「")
        let generated = T - run.result.promptTokens.count
        let after = c.en("” + \(Format.plural(generated, "generated token"))", ja: "」+ 生成トークン \(generated) 個")
        let promptText = shortened(visible(run.vocabulary.decode(run.result.promptTokens)),
                                   toWidth: style.width - 80 * u - style.textWidth(before + after, size: style.smallSize), size: style.smallSize, style)
        let top = c.header(c.en("Attention weights, layer \(layer) of \(config.layers): \(heads)", ja: "アテンションの重み、層 \(layer) / \(config.layers)：\(heads)"),
                           subtitle: before + promptText + after)

        // The grid of frames sits between the cache line and the footnote, right of the row labels
        // and above the column labels, left of the legend.
        let labels = steps.map { label(run.vocabulary.text(of: $0.record.token)) }
        // Token labels as large as the small text when the cells allow: read from the back row.
        let maxLabelSize = style.smallSize
        let labelRoom = (labels + ["0–\(T)"]).map { style.textWidth($0, size: maxLabelSize) }.max()! + 12 * u
        let legendW = 190 * u, gridTop = top + 46 * u
        let area = Rect(40 * u + labelRoom, gridTop, style.width - 80 * u - labelRoom - legendW, style.height - gridTop - 72 * u - labelRoom)
        let chipSize = style.smallSize * 0.8
        let chipW = style.textWidth("q\(a.qHeads - 1)", size: chipSize, weight: .bold) + 14 * u
        // A frame is at least as wide as its "KV head g" tab.
        let minFrameW = style.textWidth(c.en("KV head \(a.kvHeads - 1)", ja: "KV ヘッド \(a.kvHeads - 1)"), size: style.smallSize, weight: .bold) + 20 * u + 2 * m.pad
        var windows: [Int] = []
        for w in [maxPositions] + fallbackPositions where !windows.contains(min(w, T)) { windows.append(min(w, T)) }
        // As in `draw heads`: every head if it fits, else every K/V head with some of its query heads,
        // else some K/V heads. Within each, the most positions first.
        let options = selections(a)
        let everyGroup = options.filter { !$0.contains { if case .elided = $0 { true } else { false } } }
        let candidates = windows.map { (options[0], $0) } + windows.flatMap { w in everyGroup.dropFirst().map { ($0, w) } }
            + windows.flatMap { w in options.dropFirst(everyGroup.count).map { ($0, w) } }
        var chosen: (blocks: [Block], layout: Layout)? = nil
        for (blocks, shown) in candidates {
            if let layout = arrange(blocks, shown: shown, earlier: shown < T, area: area, chipW: chipW, minFrameW: minFrameW, m: m) {
                chosen = (blocks, layout)
                break
            }
        }
        guard let (blocks, layout) = chosen else {
            throw FigureError(.size, "\(Format.plural(a.qHeads, "query head")) do not fit legibly in \(Int(style.width))×\(Int(style.height)); try --size 1600x900 or larger")
        }
        let first = T - layout.shown
        // Label every k-th position, k the smallest that gives text of at least 10 units (a line per cell).
        let every = (1...layout.shown).first { min(maxLabelSize, Double($0) * layout.cell) >= 12 * u } ?? layout.shown
        let labelSize = min(maxLabelSize, Double(every) * layout.cell)
        let labelled = (first..<T).filter { (T - 1 - $0) % every == 0 }
        let plan = Plan(run: run, layer: layer, layout: layout, m: m, first: first, labels: labels, labelled: labelled, labelSize: labelSize,
                        // Key labels stand upright when each fits its columns (one-character tokens), else turn 90°.
                        upright: labelled.allSatisfy { style.textWidth(labels[$0], size: labelSize) <= Double(every) * layout.cell * 0.9 },
                        chipW: chipW, chipSize: chipSize,
                        gridX: (area.x + (area.w - layout.totalW) / 2).rounded(), gridY: area.y + (area.h - layout.totalH) / 2)

        // Which cache the layer read: with CLA a consumer attends over an earlier layer's K and V.
        let shownHeads = blocks.reduce(0) { n, b in if case .group(_, let h) = b { n + h.compactMap { $0 }.count } else { n } }
        let scope = (T == 1 ? c.en("position 0", ja: "位置 0") : c.en("positions \(first)–\(T - 1)", ja: "位置 \(first)–\(T - 1)"))
            + (first > 0 ? c.en(" of 0–\(T - 1)", ja: "（0–\(T - 1) のうち）") : "")
            + (shownHeads < a.qHeads ? c.en(" · \(shownHeads) of \(a.qHeads) query heads shown", ja: " · クエリヘッド \(a.qHeads) 個のうち \(shownHeads) 個を表示") : "")
        c.text(scope, Point(style.width - 40 * u, top + 14 * u), size: style.smallSize * 0.9, color: c.theme.muted, anchor: .end)
        let source = steps[T - 1].record.layers[layer].sourceLayer
        let notes = source == layer
            ? [c.en("layer \(layer)'s own: it computes K and V and stores them for every position", ja: "層 \(layer) 自身のもの：K と V を計算し、全位置について保存する"),
               c.en("layer \(layer)'s own", ja: "層 \(layer) 自身のもの")]
            : [c.en("layer \(source)'s (CLA): layer \(layer) stores no K/V; its queries attend over layer \(source)'s keys and values",
                    ja: "層 \(source) のもの（CLA）：層 \(layer) は K/V を保存せず、そのクエリは層 \(source) のキーと値に注意を向ける"),
               c.en("layer \(source)'s (CLA: layer \(layer) stores no K/V)", ja: "層 \(source) のもの（CLA：層 \(layer) は K/V を保存しない）")]
        let cacheRead = c.en("Cache read:", ja: "読むキャッシュ：")
        let noteX = 40 * u + style.textWidth(cacheRead, size: style.smallSize, weight: .bold) + 10 * u
        let noteW = style.width - 40 * u - style.textWidth(scope, size: style.smallSize * 0.9) - 30 * u - noteX
        c.text(cacheRead, Point(40 * u, top + 14 * u), size: style.smallSize, weight: .bold)
        c.text(notes.first { style.textWidth($0, size: style.smallSize) <= noteW } ?? shortened(notes[1], toWidth: noteW, size: style.smallSize, style),
               Point(noteX, top + 14 * u), size: style.smallSize, role: "cache-source")

        for (i, block) in blocks.enumerated() {
            switch block {
            case .elided(let groups): drawElided(&c, plan.frame(i), groups: groups, a: a, m: m)
            case .group(let g, let slots): drawGroup(&c, plan, i, kvHead: g, slots: slots, columnLabels: i / layout.framesPerRow == layout.frameRows - 1)
            }
        }
        // Row labels once per row of heatmaps, left of the grid: every heatmap in a row shares them.
        guard case .group(_, let slots)? = blocks.first else { preconditionFailure("a selection starts with a group") }
        for frameRow in 0..<layout.frameRows {
            for slotRow in 0..<layout.slotRows where layout.narrowEllipsis
                || slots[(slotRow * layout.slotsPerRow)..<min(slots.count, (slotRow + 1) * layout.slotsPerRow)].contains(where: { $0 != nil }) {
                let y = plan.heatY(frameY: plan.frame(frameRow * layout.framesPerRow).y, row: slotRow)
                for t in labelled {
                    c.text(labels[t], Point(plan.gridX - 6 * u, y + (Double(t - first) + 0.5) * layout.cell), size: labelSize, anchor: .end, role: "query-label")
                }
            }
        }
        drawLegend(&c, x: style.width - 40 * u - legendW + 24 * u, y: plan.gridY, first: first, m: m)
        let evicting = run.result.cache.eviction != .none
        let budget = run.result.cache.eviction.budgetTokens.map(String.init) ?? ""
        c.footnote(c.en("Row t: the softmax weights of query position t over keys 0…t; hatched: masked (keys after the query)"
                    + (evicting ? "; blank below the diagonal: keys the cache no longer holds (\(run.result.cache.eviction.name), budget \(budget))" : "")
                    + ". Heads in one frame read the same cached K and V.",
                    ja: "行 t：クエリ位置 t のキー 0…t に対する softmax の重み。斜線：マスク（クエリより後のキー）"
                    + (evicting ? "。対角より下の空白：キャッシュがもう保持していないキー（\(run.result.cache.eviction.name)、予算 \(budget)）" : "")
                    + "。同じ枠のヘッドは同じキャッシュの K と V を読む。"))
        return Figure(style: style, pages: [c.page], title: c.en("Attention weights", ja: "アテンションの重み"))
    }

    // MARK: - Choosing what to show

    /// One frame: a K/V head with the query heads shown in it (`nil`: a "…" standing for the heads
    /// between its neighbours), or a run of K/V heads left out.
    enum Block {
        case group(Int, [Int?])
        case elided(Range<Int>)
    }

    /// Head selections to try, most complete first: every head; then per group its first heads, a
    /// "…" and its last head, fewer and fewer; then fewer whole groups (the first k and the last)
    /// with each group cut to its first head, "…", its last.
    static func selections(_ a: AttentionLayout) -> [[Block]] {
        let size = a.groupSize, G = a.kvHeads
        func heads(_ g: Int, keep: Int) -> [Int?] {
            keep >= size ? (g * size..<(g + 1) * size).map { $0 } : (g * size..<(g * size + keep - 1)).map { $0 } + [nil, g * size + size - 1]
        }
        var out: [[Block]] = [(0..<G).map { .group($0, heads($0, keep: size)) }]
        for keep in stride(from: size - 2, through: 2, by: -1) {
            out.append((0..<G).map { .group($0, heads($0, keep: keep)) })
        }
        let keep = size > 3 ? 2 : size
        for k in stride(from: G - 3, through: 1, by: -1) {
            out.append((0..<k).map { .group($0, heads($0, keep: keep)) } + [.elided(k..<(G - 1)), .group(G - 1, heads(G - 1, keep: keep))])
        }
        return out
    }

    /// Fixed sizes of the figure's parts, in canvas units.
    struct Metrics {
        let u: Double
        var pad: Double { 12 * u }          // frame edge to heatmap
        var gap: Double { 14 * u }          // between heatmaps in a frame
        var frameGap: Double { 22 * u }     // between frames
        var tab: Double { 28 * u }          // the "KV head g" tab, centred on a frame's top edge
        var chip: Double { 20 * u }         // a "q h" label
        var ellipsis: Double { 30 * u }     // a "…" slot in a one-row frame
        var minCell: Double { 7 * u }       // smallest legible heatmap cell
    }

    /// An arrangement of equal frames in rows, each frame holding its heatmaps in rows.
    struct Layout {
        let shown: Int                  // positions per heatmap side
        let cell: Double                // canvas units per heatmap cell, whole
        let slotW: Double               // a heatmap with its "earlier" column
        let chipRow: Double             // height above each heatmap for its label (0: inside the masked corner)
        let slotsPerRow: Int, slotRows: Int, narrowEllipsis: Bool
        let framesPerRow: Int, frameRows: Int
        let frameW: Double, frameH: Double
        let totalW: Double, totalH: Double      // of the grid of frames, the tabs' overhang included
    }

    /// What every frame of one figure shares: the run and layer, the arrangement, the labels.
    private struct Plan {
        let run: DecodeRun, layer: Int, layout: Layout, m: Metrics
        let first: Int                  // the first position shown
        let labels: [String]            // per position
        let labelled: [Int]             // positions that get a label
        let labelSize: Double
        let upright: Bool               // key labels unrotated
        let chipW: Double, chipSize: Double
        let gridX: Double, gridY: Double

        /// The frame of block `i`, filled row by row.
        func frame(_ i: Int) -> Rect {
            Rect(gridX + Double(i % layout.framesPerRow) * (layout.frameW + m.frameGap),
                 (gridY + m.tab / 2 + Double(i / layout.framesPerRow) * (layout.frameH + m.tab / 2 + m.frameGap)).rounded(), layout.frameW, layout.frameH)
        }

        /// Top of the heatmaps in slot row `row` of a frame whose top edge is at `y`.
        func heatY(frameY y: Double, row: Int) -> Double {
            (y + m.tab / 2 + 6 * m.u + Double(row) * (layout.chipRow + Double(layout.shown) * layout.cell + m.gap) + layout.chipRow).rounded()
        }
    }

    /// The arrangement with the largest (whole) cells that still fit `area`, or nil if none reaches
    /// `m.minCell`. Ties go to fewer rows, so the heatmaps spread across the slide, then to the
    /// larger unrounded cell.
    static func arrange(_ blocks: [Block], shown: Int, earlier: Bool, area: Rect, chipW: Double, minFrameW: Double, m: Metrics) -> Layout? {
        guard case .group(_, let slots)? = blocks.first else { return nil }
        let n = slots.count, elides = slots.contains(nil)
        // An "earlier" column (the weight on keys before the window) plus a half-cell gap.
        let slotCells = Double(shown) + (earlier ? 1.5 : 0)
        // Few positions get big cells, but no heatmap grows past ~160 units a side unless 36-unit cells need it.
        let maxCell = max(36 * m.u, 160 * m.u / Double(shown))
        var best: Layout? = nil, bestExact = 0.0, bestRows = 0
        for chipAbove in [false, true] {
            let chipRow = chipAbove ? m.chip + 4 * m.u : 0
            // A group cut to first, "…", last stays one row: a "…" alone on a row would waste it.
            for perRow in elides && n == 3 ? [3] : Array(1...n) {
                let rows = (n + perRow - 1) / perRow
                let narrow = elides && rows == 1
                let panels = Double(narrow ? n - 1 : perRow), ellipses = narrow ? 1.0 : 0
                for framesPerRow in 1...blocks.count {
                    let frameRows = (blocks.count + framesPerRow - 1) / framesPerRow
                    let fixedW = Double(framesPerRow) * (2 * m.pad + ellipses * m.ellipsis + Double(perRow - 1) * m.gap)
                        + Double(framesPerRow - 1) * m.frameGap
                    let fixedH = Double(frameRows) * (m.tab + 6 * m.u + m.pad + Double(rows) * chipRow + Double(rows - 1) * m.gap)
                        + Double(frameRows - 1) * m.frameGap
                    // Cells are whole units, so cell edges fall on pixel edges and leave no seams.
                    let exact = min((area.w - fixedW) / (Double(framesPerRow) * panels * slotCells),
                                    (area.h - fixedH) / Double(frameRows * rows * shown), maxCell)
                    let cell = exact.rounded(.down)
                    guard cell >= m.minCell else { continue }
                    // A label inside must sit wholly in the masked upper-right triangle.
                    if !chipAbove && Double(shown) * cell < chipW + m.chip + 6 * m.u + cell { continue }
                    let totalRows = frameRows * rows
                    if let best, (cell, -totalRows, exact) <= (best.cell, -bestRows, bestExact) { continue }
                    let slotW = slotCells * cell
                    let frameW = max(minFrameW, 2 * m.pad + panels * slotW + ellipses * m.ellipsis + Double(perRow - 1) * m.gap).rounded(.up)
                    let totalW = Double(framesPerRow) * frameW + Double(framesPerRow - 1) * m.frameGap
                    guard totalW <= area.w else { continue }
                    let frameH = (m.tab / 2 + 6 * m.u + m.pad + Double(rows) * (chipRow + Double(shown) * cell) + Double(rows - 1) * m.gap).rounded(.up)
                    best = Layout(shown: shown, cell: cell, slotW: slotW, chipRow: chipRow, slotsPerRow: perRow, slotRows: rows, narrowEllipsis: narrow,
                                  framesPerRow: framesPerRow, frameRows: frameRows,
                                  frameW: frameW, frameH: frameH,
                                  totalW: totalW,
                                  totalH: Double(frameRows) * (frameH + m.tab / 2) + Double(frameRows - 1) * m.frameGap)
                    bestExact = exact
                    bestRows = totalRows
                }
            }
        }
        return best
    }

    // MARK: - Drawing

    /// Frame `i`: K/V head `g`'s query heads, a "…" for those left out, and (on the bottom row of
    /// frames) the key labels under its bottom row of heatmaps.
    private static func drawGroup(_ c: inout Canvas, _ plan: Plan, _ i: Int, kvHead g: Int, slots: [Int?], columnLabels: Bool) {
        let u = plan.m.u, m = plan.m, layout = plan.layout, cell = layout.cell, size = plan.run.config.attention.groupSize
        let frame = plan.frame(i), color = c.theme.group(g)
        c.rect(frame, fill: c.theme.panel, stroke: color, lineWidth: 2.5 * u, radius: 10 * u, role: "group")
        let name = c.en("KV head \(g)", ja: "KV ヘッド \(g)"), readers = "\(name) · q\(g * size)–q\(g * size + size - 1)"
        let tabText = size > 1 && c.style.textWidth(readers, size: c.style.smallSize, weight: .bold) + 20 * u <= frame.w - 2 * m.pad ? readers : name
        let tab = Rect(frame.x + m.pad, frame.y - m.tab / 2, c.style.textWidth(tabText, size: c.style.smallSize, weight: .bold) + 20 * u, m.tab)
        c.rect(tab, fill: color, radius: 6 * u, role: "kv-head")
        c.text(tabText, Point(tab.x + 10 * u, tab.midY), size: c.style.smallSize, color: c.theme.text(on: color), weight: .bold)
        var x = frame.x + m.pad
        for (j, head) in slots.enumerated() {
            let row = layout.narrowEllipsis ? 0 : j / layout.slotsPerRow
            if !layout.narrowEllipsis && j % layout.slotsPerRow == 0 { x = frame.x + m.pad }
            let side = Double(layout.shown) * cell
            let heat = Rect((x + (plan.first > 0 ? 1.5 * cell : 0)).rounded(), plan.heatY(frameY: frame.y, row: row), side, side)
            guard let h = head else {
                let width = layout.narrowEllipsis ? m.ellipsis : layout.slotW
                c.text("…", Point(x + width / 2, heat.midY - 12 * u), size: c.style.labelSize * 1.3, color: c.theme.muted, anchor: .middle)
                c.text("+\((slots[j + 1] ?? 0) - (slots[j - 1] ?? 0) - 1)", Point(x + width / 2, heat.midY + 16 * u), size: c.style.smallSize * 0.85,
                       color: c.theme.muted, anchor: .middle)
                x += width + m.gap
                continue
            }
            drawHeatmap(&c, plan, heat, head: h, groupColor: color)
            x += layout.slotW + m.gap
            guard columnLabels && (layout.narrowEllipsis || row == (slots.count - 1) / layout.slotsPerRow) else { continue }
            for t in plan.labelled {
                let at = Point(heat.x + (Double(t - plan.first) + 0.5) * cell, frame.maxY + 6 * u)
                if plan.upright {
                    c.text(plan.labels[t], Point(at.x, at.y + plan.labelSize / 2), size: plan.labelSize, anchor: .middle, role: "key-label")
                } else {
                    c.text(plan.labels[t], at, size: plan.labelSize, anchor: .end, rotation: -Double.pi / 2, role: "key-label")
                }
            }
            if plan.first > 0 {
                c.text("0–\(plan.first - 1)", Point(heat.x - cell, frame.maxY + 6 * u), size: plan.labelSize, color: c.theme.muted, anchor: .end,
                       rotation: -Double.pi / 2)
            }
        }
    }

    /// One head's causal heatmap at `heat`: row t, column k is head `head`'s weight on key k at query
    /// position t (k ≤ t); left of it, the weight on every key before the window, summed.
    private static func drawHeatmap(_ c: inout Canvas, _ plan: Plan, _ heat: Rect, head: Int, groupColor: Color) {
        let u = plan.m.u, theme = c.theme, steps = plan.run.result.steps, first = plan.first, cell = plan.layout.cell
        let kvHead = plan.run.config.attention.kvHead(forQueryHead: head)
        for t in first..<steps.count {
            let ls = steps[t].record.layers[plan.layer], row = head * ls.tokensRead
            let weights = ls.attention!                                            // [q_heads × tokens_read]
            // The position of each weight: 0…t, or the positions a window, sinks or H2O left to read
            // (a key not read stays an empty cell).
            let positions = ls.readPositions?[kvHead] ?? Array(0...t)
            let y = heat.y + Double(t - first) * cell
            var earlier: Float = 0
            for (n, k) in positions.enumerated() {
                if k < first { earlier += weights[row + n]; continue }
                c.rect(Rect(heat.x + Double(k - first) * cell, y, cell, cell), fill: color(weight: weights[row + n], theme: theme), role: "weight-cell")
            }
            if first > 0 {
                c.rect(Rect(heat.x - 1.5 * cell, y, cell, cell), fill: color(weight: earlier, theme: theme), role: "earlier-cell")
            }
        }
        // Hatching at 45° from one cell right of the diagonal stays inside the masked cells (column > row).
        let side = heat.w / cell, spacing = 7 * u / cell
        for d in stride(from: 1 + spacing / 2, to: side, by: spacing) {
            c.line([Point(heat.x + d * cell, heat.y), Point(heat.maxX, heat.y + (side - d) * cell)], color: theme.grid, width: 1 * u)
        }
        c.rect(heat, fill: nil, stroke: theme.muted.withAlpha(0.6), lineWidth: 1 * u, role: "heatmap")
        let chip = plan.layout.chipRow > 0
            ? Rect(heat.x, heat.y - plan.layout.chipRow, plan.chipW, plan.m.chip)
            : Rect(heat.maxX - plan.chipW - 3 * u, heat.y + 3 * u, plan.chipW, plan.m.chip)
        c.rect(chip, fill: groupColor, radius: 5 * u, role: "q-head")
        c.text("q\(head)", Point(chip.midX, chip.midY), size: plan.chipSize, color: theme.text(on: groupColor), anchor: .middle, weight: .bold)
    }

    /// A frame standing for K/V heads left out, dashed, with the heads it hides.
    private static func drawElided(_ c: inout Canvas, _ frame: Rect, groups: Range<Int>, a: AttentionLayout, m: Metrics) {
        let u = m.u
        c.line([Point(frame.x, frame.y), Point(frame.maxX, frame.y), Point(frame.maxX, frame.maxY), Point(frame.x, frame.maxY), Point(frame.x, frame.y)],
               color: c.theme.muted, width: 2 * u, dash: [8 * u, 6 * u], role: "elided-groups")
        c.text("…", Point(frame.midX, frame.midY - 30 * u), size: c.style.titleSize, color: c.theme.muted, anchor: .middle)
        let kv = groups.count == 1 ? c.en("KV head \(groups.lowerBound)", ja: "KV ヘッド \(groups.lowerBound)")
            : c.en("KV heads \(groups.lowerBound)–\(groups.upperBound - 1)", ja: "KV ヘッド \(groups.lowerBound)–\(groups.upperBound - 1)")
        c.text(kv, Point(frame.midX, frame.midY + 10 * u), size: c.style.smallSize, color: c.theme.muted, anchor: .middle, weight: .bold)
        let range = "q\(groups.lowerBound * a.groupSize)–q\(groups.upperBound * a.groupSize - 1)"
        c.text(c.en("\(range) not shown", ja: "\(range) は省略"), Point(frame.midX, frame.midY + 36 * u),
               size: c.style.smallSize * 0.85, color: c.theme.muted, anchor: .middle)
    }

    /// The colour scale (square-root ticks), the masked hatching and the "earlier" column.
    private static func drawLegend(_ c: inout Canvas, x: Double, y: Double, first: Int, m: Metrics) {
        let u = m.u, theme = c.theme, small = c.style.smallSize * 0.85
        c.text(c.en("weight", ja: "重み"), Point(x, y + 8 * u), size: c.style.smallSize, weight: .bold)
        let bar = Rect(x, y + 30 * u, 22 * u, 240 * u), strips = 60
        for i in 0..<strips {
            let t = 1 - (Double(i) + 0.5) / Double(strips)
            c.rect(Rect(bar.x, bar.y + Double(i) * bar.h / Double(strips), bar.w, bar.h / Double(strips) + 0.5 * u),
                   fill: color(weight: Float(t * t), theme: theme), role: "scale")
        }
        c.rect(bar, fill: nil, stroke: theme.muted.withAlpha(0.6), lineWidth: 1 * u)
        for (w, text) in [(1.0, "1"), (0.5, "0.5"), (0.25, "0.25"), (0.1, "0.1"), (0.05, "0.05"), (0.01, "0.01"), (0, "0")] {
            let ty = bar.maxY - w.squareRoot() * bar.h
            c.line([Point(bar.maxX, ty), Point(bar.maxX + 6 * u, ty)], color: theme.muted, width: 1 * u)
            c.text(text, Point(bar.maxX + 10 * u, ty), size: small)
        }
        c.text(c.en("√ scale", ja: "√ 目盛"), Point(x, bar.maxY + 22 * u), size: small, color: theme.muted)

        var lineY = bar.maxY + 62 * u
        let swatch = Rect(x, lineY - 11 * u, 22 * u, 22 * u)
        c.rect(swatch, fill: theme.panel)
        // The heatmaps' hatching: 45° lines, down to the right.
        for d in stride(from: -18.0, to: 22, by: 7) {
            c.line([Point(swatch.x + max(0, d) * u, swatch.y + max(0, -d) * u), Point(swatch.x + min(22, 22 + d) * u, swatch.y + min(22, 22 - d) * u)],
                   color: theme.grid, width: 1 * u)
        }
        c.rect(swatch, fill: nil, stroke: theme.muted.withAlpha(0.6), lineWidth: 1 * u)
        c.text(c.en("masked:", ja: "マスク："), Point(x + 32 * u, lineY - 9 * u), size: small)
        c.text(c.en("key after query", ja: "クエリより後のキー"), Point(x + 32 * u, lineY + 11 * u), size: small, color: theme.muted)
        guard first > 0 else { return }
        lineY += 56 * u
        c.rect(Rect(x, lineY - 11 * u, 22 * u, 22 * u), fill: color(weight: 0.5, theme: theme), stroke: theme.muted.withAlpha(0.6), lineWidth: 1 * u)
        c.text(c.en("left column:", ja: "左の列："), Point(x + 32 * u, lineY - 9 * u), size: small)
        c.text(c.en("keys 0–\(first - 1), summed", ja: "キー 0–\(first - 1) の合計"), Point(x + 32 * u, lineY + 11 * u), size: small, color: theme.muted)
    }

    // MARK: - Text

    /// A token as an axis label: newlines and tabs made visible, a token of only spaces as "␣", long
    /// tokens cut to `maxLabelCharacters`.
    public static func label(_ token: String) -> String {
        if !token.isEmpty && token.allSatisfy({ $0 == " " }) { return String(repeating: "␣", count: min(token.count, 3)) }
        let text = visible(token)
        return text.count > maxLabelCharacters ? String(text.prefix(maxLabelCharacters - 1)) + "…" : text
    }

    /// Line breaks as "↵" and tabs as "⇥", so one token stays on one line.
    static func visible(_ s: String) -> String {
        String(String.UnicodeScalarView(s.unicodeScalars.compactMap { scalar -> Unicode.Scalar? in
            switch scalar {
            case "\n": "↵"
            case "\r": nil
            case "\t": "⇥"
            default: scalar
            }
        }))
    }

    /// `s` cut with "…" to fit `width` at `size` (at least a few characters).
    static func shortened(_ s: String, toWidth width: Double, size: Double, _ style: Style) -> String {
        guard style.textWidth(s, size: size) > width else { return s }
        var cut = s
        while cut.count > 4 && style.textWidth(cut + "…", size: size) > width { cut.removeLast() }
        return cut + "…"
    }
}
