import AttnEngine
import AttnTiling
import AttnTrace

/// Figure 3 — tile traversal: the score matrix as Br × Bc tiles numbered in the order the algorithm
/// visits them (naive: the order it computes S), causal tiles skipped or masked; then, one page per
/// step, the current tile, what sits in SRAM and the running HBM counters.
public enum TilesDiagram {
    /// Most pages a step-by-step figure may have.
    public static let maxPages = 600
    /// Most tiles the overview draws (grouped into blocks when they are small).
    public static let maxTiles = 65_536

    /// - Parameter steps: include one page per step after the overview.
    public static func figure(_ r: TileResult, steps: Bool, style: Style) throws(FigureError) -> Figure {
        try style.requireLegible()
        let R = r.rows, C = r.n
        precondition(!r.steps.isEmpty, "the tiles figure needs a run that recorded its steps (TileOptions.recordSteps)")
        let Tr = (R + r.blocks.br - 1) / r.blocks.br, Tc = (C + r.blocks.bc - 1) / r.blocks.bc
        // The overview groups small tiles into blocks, so it draws up to `maxTiles` (a run recording
        // every step of more takes long); step pages show each tile, at most 96 a side.
        guard Tr * Tc <= maxTiles, !steps || (Tr <= 96 && Tc <= 96) else {
            throw FigureError(.n, "\(Tr) × \(Tc) tiles are too many to draw\(steps ? " step by step (at most 96 × 96)" : " (at most \(Format.grouped(maxTiles)))"); use larger blocks (--sram-elements, --br/--bc) or a smaller --n")
        }
        let tileSteps = r.steps.filter { $0.phase == .forward || $0.phase == .scores }
        var order: [Int: Int] = [:]                      // i·Tc + j → first visit number
        for s in tileSteps { if let i = s.i, let j = s.j, order[i * Tc + j] == nil { order[i * Tc + j] = order.count + 1 } }
        let forwardSteps = r.steps.prefix { $0.phase.pass == .forward }
        if steps && forwardSteps.count + 1 > maxPages {
            throw FigureError(.n, "\(forwardSteps.count) steps would make \(forwardSteps.count + 1) pages (at most \(maxPages)); use larger blocks or a smaller --n")
        }
        var pages = [overview(r, order: order, Tr: Tr, Tc: Tc, style: style)]
        if steps {
            for s in forwardSteps { pages.append(stepPage(r, s, order: order, Tr: Tr, Tc: Tc, style: style)) }
        }
        return Figure(style: style, pages: pages, title: style.en("Tile traversal — \(r.algorithm.rawValue)", ja: "タイルの走査 — \(r.algorithm.rawValue)"))
    }

    /// The loop order of `algorithm`, in `language`.
    static func loops(_ algorithm: TileAlgorithm, _ language: Language) -> String {
        switch algorithm {
        case .naive: language.en("S = QKᵀ block by block, written to HBM; then softmax rows; then O = PV",
                                 ja: "S = QKᵀ をブロックごとに計算して HBM に書き、次に行ごとの softmax、最後に O = PV")
        case .fa1: language.en("outer loop: K/V blocks j (columns) · inner loop: Q blocks i (rows)",
                               ja: "外側ループ：K/V ブロック j（列）· 内側ループ：Q ブロック i（行）")
        case .fa2: language.en("outer loop: Q blocks i (rows) · inner loop: K/V blocks j (columns)",
                               ja: "外側ループ：Q ブロック i（行）· 内側ループ：K/V ブロック j（列）")
        }
    }

    /// A phase's name in `language` (the formulas stay as they are).
    static func phase(_ p: TilePhase, _ language: Language) -> String {
        switch p {
        case .forward: language.en("forward", ja: "順伝播")
        case .backward: language.en("backward", ja: "逆伝播")
        default: p.text
        }
    }

    /// The shade of a tile visited `k`-th of `count`: light first, dark last, in K/V head 0's colour.
    static func orderShade(_ k: Int, of count: Int, _ theme: Theme) -> Color {
        theme.background.mixed(with: theme.group(0), 0.18 + 0.72 * Double(k - 1) / Double(max(1, count - 1)))
    }

    /// Smallest side, in canvas units, at which a tile (or a block of tiles) is drawn on its own.
    static let minTileSide = 14.0

    private struct Grid {
        let frame: Rect, cell: Double, br: Int, bc: Int, R: Int, C: Int
        func tile(_ i: Int, _ j: Int) -> Rect {
            let r0 = i * br, c0 = j * bc
            return Rect(frame.x + Double(c0) * cell, frame.y + Double(r0) * cell, Double(min(C, c0 + bc) - c0) * cell, Double(min(R, r0 + br) - r0) * cell)
        }
    }

    private static func grid(_ r: TileResult, style: Style, top: Double) -> Grid {
        let u = style.unit
        // Room below for the two-line footnote.
        let side = min(style.height - top - 150 * u, style.width * 0.52)
        let cell = side / Double(max(r.rows, r.n))
        return Grid(frame: Rect(110 * u, top + 60 * u, Double(r.n) * cell, Double(r.rows) * cell), cell: cell, br: r.blocks.br, bc: r.blocks.bc, R: r.rows, C: r.n)
    }

    /// How many tiles one drawn block holds down and across: 1 while a tile's side is at least
    /// `minTileSide` units, else enough for the block's side to be.
    private static func aggregation(_ g: Grid, unit: Double) -> (rows: Int, columns: Int) {
        func k(_ side: Double) -> Int { side >= minTileSide * unit ? 1 : Int((minTileSide * unit / side).rounded(.up)) }
        return (k(Double(g.br) * g.cell), k(Double(g.bc) * g.cell))
    }

    /// The grid with axes, tiles coloured by state; returns nothing, draws into `c`. With `numbers`
    /// (the overview) every tile is shaded by its visit order and numbered when it fits; tiles too
    /// small to see are drawn `k` × `k` to a block, shaded and numbered by the block's first visit.
    private static func drawGrid(_ c: inout Canvas, _ r: TileResult, _ g: Grid, order: [Int: Int], Tr: Int, Tc: Int,
                                 visited: Set<Int>, current: (Int, Int)?, rows: Range<Int>?, numbers: Bool) {
        let u = c.style.unit, theme = c.theme
        let (kr, kc) = numbers ? aggregation(g, unit: u) : (1, 1)
        let grouped = kr > 1 || kc > 1
        func p(_ x: Int, _ y: Int) -> Point { Point(g.frame.x + Double(x) * g.cell, g.frame.y + Double(y) * g.cell) }
        for bi in stride(from: 0, to: Tr, by: kr) {
            for bj in stride(from: 0, to: Tc, by: kc) {
                let last = g.tile(min(Tr, bi + kr) - 1, min(Tc, bj + kc) - 1), firstTile = g.tile(bi, bj)
                let t = Rect(firstTile.x, firstTile.y, last.maxX - firstTile.x, last.maxY - firstTile.y)
                let keys = (bi..<min(Tr, bi + kr)).flatMap { i in (bj..<min(Tc, bj + kc)).map { i * Tc + $0 } }
                let first = keys.compactMap { order[$0] }.min()
                let skipped = first == nil
                let isCurrent = current.map { $0 == (bi, bj) } ?? false
                var fill = skipped ? theme.grid.withAlpha(0.5)
                    : numbers ? orderShade(first!, of: order.count, theme) : theme.group(0).withAlpha(visited.contains(bi * Tc + bj) ? 0.45 : 0.14)
                if isCurrent { fill = theme.highlight.withAlpha(0.85) }
                c.rect(t, fill: fill, stroke: theme.background, lineWidth: max(0.5, 1.5 * u), role: skipped ? "skipped-tile" : grouped ? "tile-block" : "tile")
                // Causal diagonal tiles: shade the masked cells (key position > query position) as a
                // staircase, one step per query row.
                if !grouped && r.causal && !skipped && r.layout.groupSize == 1 {
                    let r0 = bi * g.br, r1 = min(r.rows, (bi + 1) * g.br), c0 = bj * g.bc, c1 = min(r.n, (bj + 1) * g.bc)
                    let lastRow = min(r1, c1 - 1) - 1                        // the last row with a masked cell
                    if lastRow >= r0 {
                        var poly = [p(c1, r0), p(c1, lastRow + 1)]
                        for row in stride(from: lastRow, through: r0, by: -1) {
                            let left = max(c0, row + 1)
                            poly.append(p(left, row + 1))
                            poly.append(p(left, row))
                        }
                        c.polygon(poly, fill: theme.grid.withAlpha(0.9), role: "masked")
                    }
                }
                if numbers, let n = first, t.w >= 22 * u, t.h >= 16 * u {
                    let size = min(c.style.smallSize, t.h * 0.5, t.w / Double(String(n).count + 1) * 1.4)
                    let shade = orderShade(n, of: order.count, theme)
                    c.text(String(n), Point(t.midX, t.midY), size: size,
                           color: isCurrent ? theme.text(on: theme.highlight) : theme.text(on: shade), anchor: .middle, role: "order")
                }
            }
        }
        // Blocks of many tiles: the masked triangle (keys after the query) over the whole grid.
        if grouped && r.causal && r.layout.groupSize == 1 {
            c.polygon([p(1, 0), p(g.C, 0), p(g.C, min(g.R, g.C - 1))], fill: theme.grid.withAlpha(0.9), role: "masked")
        }
        if let rows {
            let band = Rect(g.frame.x, g.frame.y + Double(rows.lowerBound) * g.cell, g.frame.w, Double(rows.count) * g.cell)
            c.rect(band, fill: theme.highlight.withAlpha(0.35), stroke: theme.highlight, lineWidth: 3 * u)
        }
        c.rect(g.frame, fill: nil, stroke: theme.foreground, lineWidth: 2 * u)
        c.text(c.en("key positions (columns: K, V blocks j) →", ja: "キーの位置（列：K, V ブロック j）→"), Point(g.frame.x, g.frame.y - 34 * u),
               size: c.style.smallSize, color: theme.muted)
        c.text(c.en("query positions (rows: Q, O blocks i) →", ja: "クエリの位置（行：Q, O ブロック i）→"), Point(g.frame.x - 34 * u, g.frame.y),
               size: c.style.smallSize, color: theme.muted, rotation: Double.pi / 2)
        let small = c.style.smallSize * 0.8
        c.text("0", Point(g.frame.x, g.frame.y - 12 * u), size: small, color: theme.muted)
        c.text(String(g.C), Point(g.frame.maxX, g.frame.y - 12 * u), size: small, color: theme.muted, anchor: .end)
        c.text(String(g.R), Point(g.frame.x - 8 * u, g.frame.maxY - 8 * u), size: small, color: theme.muted, anchor: .end)
    }

    private static func overview(_ r: TileResult, order: [Int: Int], Tr: Int, Tc: Int, style: Style) -> Page {
        var c = Canvas(style: style)
        let u = style.unit, l = style.language
        let heads = r.layout.qHeads > 1
            ? l.en(", \(r.layout.groupSize) query heads per K/V head stacked as rows", ja: "、K/V ヘッドあたり \(r.layout.groupSize) 個のクエリヘッドを行に積む") : ""
        let top = c.header(c.en("Tile traversal: \(r.algorithm.title)", ja: "タイルの走査：\(SeriesKind.title(r.algorithm, l))"),
                           subtitle: "N = \(r.n), d = \(r.d)\(heads)\(r.causal ? l.en(", causal", ja: "、因果マスク") : ""); "
                               + l.en("SRAM M = \(Format.grouped(r.sramElements)) elements; ", ja: "SRAM M = \(Format.grouped(r.sramElements)) 要素；") + "\(r.blocks)")
        let g = grid(r, style: style, top: top)
        let (kr, kc) = aggregation(g, unit: u)
        drawGrid(&c, r, g, order: order, Tr: Tr, Tc: Tc, visited: Set(order.keys), current: nil, rows: nil, numbers: true)
        var y = g.frame.y + 10 * u
        let x = g.frame.maxX + 70 * u, width = style.width - x - 30 * u
        func line(_ s: String, bold: Bool = false, muted: Bool = false) {
            let size = bold ? style.labelSize : style.smallSize
            y = c.paragraph(s, Point(x, y), width: width, size: size, color: muted ? c.theme.muted : nil, weight: bold ? .bold : .regular, lineHeight: 1.35)
                + (bold ? 8 : 4) * u
        }
        line(c.en("Visit order", ja: "訪問順"), bold: true)
        line(loops(r.algorithm, l), muted: true)
        line(c.en("\(Tr) row blocks × \(Tc) column blocks, \(Format.grouped(order.count)) tiles computed",
                  ja: "行ブロック \(Tr) × 列ブロック \(Tc)、計算したタイル \(Format.grouped(order.count)) 個"))
        if r.causal { line(c.en("\(Tr * Tc - order.count) tiles above the diagonal skipped (grey)", ja: "対角より上の \(Tr * Tc - order.count) タイルは省略（灰色）"), muted: true) }
        // The order scale: light first, dark last.
        let bar = Rect(x, y + 4 * u, min(width, 320 * u), 16 * u), strips = 40
        for i in 0..<strips {
            c.rect(Rect(bar.x + Double(i) * bar.w / Double(strips), bar.y, bar.w / Double(strips) + 0.5 * u, bar.h),
                   fill: orderShade(1 + i * max(1, order.count - 1) / (strips - 1), of: order.count, c.theme), role: "order-scale")
        }
        c.text(c.en("1st", ja: "1 番目"), Point(bar.x, bar.maxY + 14 * u), size: style.smallSize * 0.9, color: c.theme.muted)
        c.text(c.en("\(Format.grouped(order.count))th", ja: "\(Format.grouped(order.count)) 番目"), Point(bar.maxX, bar.maxY + 14 * u),
               size: style.smallSize * 0.9, color: c.theme.muted, anchor: .end)
        y = bar.maxY + 40 * u
        line(c.en("HBM traffic", ja: "HBM 転送量"), bold: true)
        line(c.en("reads  \(Format.grouped(r.forward.hbmReads)) elements", ja: "読み出し \(Format.grouped(r.forward.hbmReads)) 要素"))
        line(c.en("writes \(Format.grouped(r.forward.hbmWrites)) elements", ja: "書き込み \(Format.grouped(r.forward.hbmWrites)) 要素"))
        let over = r.forward.peakSram > r.sramElements
        line(c.en("peak SRAM \(Format.grouped(r.forward.peakSram)) of \(Format.grouped(r.sramElements))\(over ? " (over M)" : "")",
                  ja: "SRAM の最大使用量 \(Format.grouped(r.forward.peakSram)) / \(Format.grouped(r.sramElements))\(over ? "（M を超過）" : "")"))
        if over, let why = overshoot(r, peak: r.forward.peakSram, l) { line(why, muted: true) }
        y += 8 * u
        line(c.en("Per tensor", ja: "テンソルごと"), bold: true)
        for t in TileTensor.allCases where r.forward.reads(t) + r.forward.writes(t) > 0 {
            line(c.en("\(t): read \(Format.grouped(r.forward.reads(t))), written \(Format.grouped(r.forward.writes(t)))",
                      ja: "\(t)：読み出し \(Format.grouped(r.forward.reads(t)))、書き込み \(Format.grouped(r.forward.writes(t)))"), muted: true)
        }
        let shown = kr == 1 && kc == 1
            ? c.en("Numbers and shade: the order in which tiles of S are computed (light first, dark last).",
                   ja: "数字と濃淡：S のタイルを計算する順（薄いほど先、濃いほど後）。")
            : c.en("Shade: the order in which tiles of S are computed (light first, dark last); each block groups \(kr) × \(kc) tiles (rows × columns) and shows its first.",
                   ja: "濃淡：S のタイルを計算する順（薄いほど先、濃いほど後）。1 マスは \(kr) × \(kc) タイルをまとめ、最初の順番を示す。")
        c.footnote(shown + c.en(" Counts in elements, forward pass. Dao et al. 2022 (arXiv 2205.14135), Dao 2023 (arXiv 2307.08691).",
                            ja: "数は要素数、順伝播。Dao et al. 2022（arXiv 2205.14135）、Dao 2023（arXiv 2307.08691）。"))
        return c.page
    }

    /// Why a FlashAttention run's peak SRAM exceeds M with the published blocks: the paper's
    /// Bc = ⌈M/4d⌉ sizes four B × d blocks (Q_i, K_j, V_j, O_i) to fill M, and the S_ij block and
    /// the per-row statistics (m, ℓ) come on top; ⌈ ⌉ can add up to d more per block. Nil for naive
    /// or when the parts do not add up to `peak`.
    static func overshoot(_ r: TileResult, peak: Int, _ l: Language) -> String? {
        guard r.algorithm != .naive else { return nil }
        let b = r.blocks, d = r.d
        let blocks = 2 * b.bc * d + 2 * b.br * d, scores = b.br * b.bc, rows = peak - blocks - scores
        guard rows >= 0 else { return nil }
        let M = Format.grouped(r.sramElements)
        return l.en("Why over M: the paper's Bc = ⌈M/4d⌉ counts four B×d blocks, Q_i, K_j, V_j, O_i (\(Format.grouped(blocks)) here, ≈ M = \(M)); "
                    + "the S_ij block Br×Bc (\(Format.grouped(scores))) and the row statistics m, ℓ (\(Format.grouped(rows))) come on top.",
                    ja: "M を超える理由：論文の Bc（M/4d を切り上げ）は B×d の 4 ブロック Q_i, K_j, V_j, O_i（ここでは \(Format.grouped(blocks))、≈ M = \(M)）だけを数える。"
                    + "S_ij ブロック Br×Bc（\(Format.grouped(scores))）と行ごとの統計量 m, ℓ（\(Format.grouped(rows))）がその上に載る。")
    }

    private static func stepPage(_ r: TileResult, _ s: TileStep, order: [Int: Int], Tr: Int, Tc: Int, style: Style) -> Page {
        var c = Canvas(style: style)
        let u = style.unit, theme = c.theme, l = style.language
        var where_ = phase(s.phase, l)
        if let i = s.i, let j = s.j { where_ += ", i = \(i), j = \(j)" }
        let count = r.steps.filter { $0.phase.pass == .forward }.count
        let top = c.header(c.en("Step \(s.index + 1) of \(count): \(where_)", ja: "ステップ \(s.index + 1) / \(count)：\(where_)"),
                           subtitle: "\(SeriesKind.title(r.algorithm, l)) · N = \(r.n), d = \(r.d), M = \(Format.grouped(r.sramElements)), \(r.blocks)")
        let g = grid(r, style: style, top: top)
        var visited = Set<Int>()
        for t in r.steps where t.index <= s.index { if let i = t.i, let j = t.j, t.phase == s.phase || s.phase == .forward { visited.insert(i * Tc + j) } }
        let current = s.i.flatMap { i in s.j.map { (i, $0) } }
        drawGrid(&c, r, g, order: order, Tr: Tr, Tc: Tc, visited: visited, current: current,
                 rows: current == nil ? s.rows : nil, numbers: false)

        // SRAM: what this step brought on chip (loads) and what it wrote back (stores).
        let x = g.frame.maxX + 70 * u, width = style.width - x - 40 * u
        var y = g.frame.y
        c.text(c.en("In SRAM", ja: "SRAM 上"), Point(x, y), size: style.labelSize, weight: .bold)
        y += 36 * u
        let maxElements = Double(max(1, r.sramElements))
        let onChip = resident(r, s)
        for (t, since) in onChip {
            let w = max(4 * u, width * 0.6 * min(1, Double(t.elements) / maxElements))
            let fill = color(t.tensor, theme).withAlpha(since == nil ? 1 : 0.45)
            c.rect(Rect(x, y - 12 * u, w, 24 * u), fill: fill, radius: 3 * u, role: "sram-block")
            let note = since.map { c.en("  (on chip since step \($0 + 1))", ja: "（ステップ \($0 + 1) から SRAM 上）") } ?? c.en("  loaded now", ja: "  今読み込み")
            c.text("\(t.name)  \(Format.grouped(t.elements))" + note, Point(x + w + 10 * u, y), size: style.smallSize)
            y += 32 * u
        }
        // What the peak counts beyond the blocks loaded: the buffers computed on chip.
        let loaded = onChip.reduce(0) { $0 + $1.0.elements }
        if s.sramPeak > loaded {
            c.text(c.en("+ computed on chip (S_ij, O_i, m, ℓ)  \(Format.grouped(s.sramPeak - loaded))",
                        ja: "+ SRAM 上で計算（S_ij, O_i, m, ℓ）  \(Format.grouped(s.sramPeak - loaded))"), Point(x, y), size: style.smallSize, color: theme.muted)
            y += 32 * u
        }
        if !s.stores.isEmpty {
            y += 8 * u
            c.text(c.en("Written to HBM: ", ja: "HBM へ書き込み：") + s.stores.map(\.name).joined(separator: ", "), Point(x, y), size: style.smallSize, color: theme.highlight)
            y += 34 * u
        }
        c.text(c.en("SRAM in use (peak): \(Format.grouped(s.sramPeak)) of \(Format.grouped(r.sramElements))",
                    ja: "SRAM 使用量（最大）：\(Format.grouped(s.sramPeak)) / \(Format.grouped(r.sramElements))"), Point(x, y), size: style.smallSize)
        y += 18 * u
        let barW = width * 0.9
        c.rect(Rect(x, y, barW, 16 * u), fill: theme.grid, radius: 3 * u)
        c.rect(Rect(x, y, barW * min(1, Double(s.sramPeak) / maxElements), 16 * u),
               fill: s.sramPeak > r.sramElements ? theme.highlight : theme.group(2), radius: 3 * u)
        y += 30 * u
        if s.sramPeak > r.sramElements, let why = overshoot(r, peak: s.sramPeak, l) {
            y = c.paragraph(why, Point(x, y + 6 * u), width: width, size: style.smallSize, color: theme.muted, lineHeight: 1.35) + 4 * u
        }
        y += 22 * u
        c.text(c.en("HBM so far", ja: "ここまでの HBM 転送"), Point(x, y), size: style.labelSize, weight: .bold)
        y += 34 * u
        let total = Double(max(1, r.forward.hbmReads + r.forward.hbmWrites))
        for (label, value, col) in [(c.en("reads", ja: "読み出し"), s.hbmReads, theme.group(0)), (c.en("writes", ja: "書き込み"), s.hbmWrites, theme.group(1))] {
            c.text("\(label) \(Format.grouped(value))", Point(x, y), size: style.smallSize)
            c.rect(Rect(x + width * 0.42, y - 9 * u, width * 0.5 * Double(value) / total, 18 * u), fill: col, radius: 3 * u)
            y += 30 * u
        }
        if let w = s.watch, let m = r.watchTrueMax, let l = r.watchTrueSum {
            y += 20 * u
            c.text(c.en("Online softmax of row \(w.row)", ja: "行 \(w.row) のオンライン softmax"), Point(x, y), size: style.labelSize, weight: .bold)
            y += 34 * u
            c.text(c.en("m = \(Format.fixed(Double(w.m), 4))   (true max \(Format.fixed(m, 4)))", ja: "m = \(Format.fixed(Double(w.m), 4))（真の最大値 \(Format.fixed(m, 4))）"),
                   Point(x, y), size: style.smallSize)
            y += 28 * u
            c.text(c.en("l = \(Format.fixed(Double(w.l), 4))   (true sum \(Format.fixed(l, 4)))", ja: "l = \(Format.fixed(Double(w.l), 4))（真の和 \(Format.fixed(l, 4))）"),
                   Point(x, y), size: style.smallSize)
            y += 28 * u
            c.text(c.en("old state rescaled × \(Format.fixed(Double(w.rescale), 4))", ja: "古い状態を × \(Format.fixed(Double(w.rescale), 4)) で再スケール"),
                   Point(x, y), size: style.smallSize, color: theme.muted)
        }
        return c.page
    }

    /// Blocks on chip during step `s`: its own loads, plus the outer loop's operand loaded earlier and
    /// kept (fa1: K_j, V_j for a whole column; fa2 and naive's products: Q_i or P/dO rows for a row).
    static func resident(_ r: TileResult, _ s: TileStep) -> [(Transfer, Int?)] {
        var kept: [(Transfer, Int?)] = []
        let outerIsColumn = r.algorithm == .fa1 || [TilePhase.backward, .dV, .dK].contains(s.phase)
        for earlier in r.steps[..<s.index].reversed() {
            guard earlier.phase == s.phase, let i = earlier.i, let j = earlier.j else { break }
            if outerIsColumn ? j != s.j : i != s.i { break }
            for t in earlier.loads where (outerIsColumn ? t.j == j && t.i == nil : t.i == i && t.j == nil) {
                if !kept.contains(where: { $0.0.tensor == t.tensor }) { kept.append((t, earlier.index)) }
            }
        }
        return kept.filter { k in !s.loads.contains { $0.tensor == k.0.tensor } } + s.loads.map { ($0, nil) }
    }

    /// One colour per tensor family: inputs Q (group 0), K/V (group 1, 2), outputs and statistics.
    static func color(_ t: TileTensor, _ theme: Theme) -> Color {
        switch t {
        case .Q, .dQ: theme.group(0)
        case .K, .dK: theme.group(1)
        case .V, .dV: theme.group(2)
        case .O, .dO: theme.group(3)
        case .S, .P, .dP, .dS: theme.group(5)
        case .l, .m, .L, .D: theme.group(4)
        }
    }
}
