import AttnEngine
import AttnTiling
import AttnTrace

/// Figure 3 — tile traversal: the score matrix as Br × Bc tiles numbered in the order the algorithm
/// visits them (naive: the order it computes S), causal tiles skipped or masked; then, one page per
/// step, the current tile, what sits in SRAM and the running HBM counters.
public enum TilesDiagram {
    /// Most pages a step-by-step figure may have.
    public static let maxPages = 600

    /// - Parameter steps: include one page per step after the overview.
    public static func figure(_ r: TileResult, steps: Bool, style: Style) throws(FigureError) -> Figure {
        try style.requireLegible()
        let R = r.rows, C = r.n
        precondition(!r.steps.isEmpty, "the tiles figure needs a run that recorded its steps (TileOptions.recordSteps)")
        let Tr = (R + r.blocks.br - 1) / r.blocks.br, Tc = (C + r.blocks.bc - 1) / r.blocks.bc
        guard Tr <= 96, Tc <= 96 else {
            throw FigureError(.n, "\(Tr) × \(Tc) tiles are too many to draw legibly; use larger blocks (--sram-elements, --br/--bc) or a smaller --n")
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
        return Figure(style: style, pages: pages, title: "Tile traversal — \(r.algorithm.rawValue)")
    }

    static let loops: [TileAlgorithm: String] = [
        .naive: "S = QKᵀ block by block, written to HBM; then softmax rows; then O = PV",
        .fa1: "outer loop: K/V blocks j (columns) · inner loop: Q blocks i (rows)",
        .fa2: "outer loop: Q blocks i (rows) · inner loop: K/V blocks j (columns)",
    ]

    private struct Grid {
        let frame: Rect, cell: Double, br: Int, bc: Int, R: Int, C: Int
        func tile(_ i: Int, _ j: Int) -> Rect {
            let r0 = i * br, c0 = j * bc
            return Rect(frame.x + Double(c0) * cell, frame.y + Double(r0) * cell, Double(min(C, c0 + bc) - c0) * cell, Double(min(R, r0 + br) - r0) * cell)
        }
    }

    private static func grid(_ r: TileResult, style: Style, top: Double) -> Grid {
        let u = style.unit
        let side = min(style.height - top - 110 * u, style.width * 0.52)
        let cell = side / Double(max(r.rows, r.n))
        return Grid(frame: Rect(110 * u, top + 60 * u, Double(r.n) * cell, Double(r.rows) * cell), cell: cell, br: r.blocks.br, bc: r.blocks.bc, R: r.rows, C: r.n)
    }

    /// The grid with axes, tiles coloured by state; returns nothing, draws into `c`.
    private static func drawGrid(_ c: inout Canvas, _ r: TileResult, _ g: Grid, order: [Int: Int], Tr: Int, Tc: Int,
                                 visited: Set<Int>, current: (Int, Int)?, rows: Range<Int>?, numbers: Bool) {
        let u = c.style.unit, theme = c.theme
        for i in 0..<Tr {
            for j in 0..<Tc {
                let t = g.tile(i, j), key = i * Tc + j
                let skipped = order[key] == nil
                let isCurrent = current.map { $0 == (i, j) } ?? false
                var fill = skipped ? theme.grid.withAlpha(0.5) : theme.group(0).withAlpha(visited.contains(key) ? 0.45 : 0.14)
                if isCurrent { fill = theme.highlight.withAlpha(0.85) }
                c.rect(t, fill: fill, stroke: theme.background, lineWidth: max(0.5, 1.5 * u), role: skipped ? "skipped-tile" : "tile")
                // Causal diagonal tiles: shade the masked cells (key position > query position) as a
                // staircase, one step per query row.
                if r.causal && !skipped && r.layout.groupSize == 1 {
                    let r0 = i * g.br, r1 = min(r.rows, (i + 1) * g.br), c0 = j * g.bc, c1 = min(r.n, (j + 1) * g.bc)
                    let lastRow = min(r1, c1 - 1) - 1                        // the last row with a masked cell
                    if lastRow >= r0 {
                        func p(_ x: Int, _ y: Int) -> Point { Point(g.frame.x + Double(x) * g.cell, g.frame.y + Double(y) * g.cell) }
                        var poly = [p(c1, r0), p(c1, lastRow + 1)]
                        for row in stride(from: lastRow, through: r0, by: -1) {
                            let left = max(c0, row + 1)
                            poly.append(p(left, row + 1))
                            poly.append(p(left, row))
                        }
                        c.polygon(poly, fill: theme.grid.withAlpha(0.9), role: "masked")
                    }
                }
                if numbers, let n = order[key], t.w >= 22 * u, t.h >= 16 * u {
                    c.text(String(n), Point(t.midX, t.midY), size: min(c.style.smallSize, t.h * 0.5, t.w / Double(String(n).count + 1) * 1.4),
                           color: isCurrent ? theme.text(on: theme.highlight) : theme.foreground, anchor: .middle)
                }
            }
        }
        if let rows {
            let band = Rect(g.frame.x, g.frame.y + Double(rows.lowerBound) * g.cell, g.frame.w, Double(rows.count) * g.cell)
            c.rect(band, fill: theme.highlight.withAlpha(0.35), stroke: theme.highlight, lineWidth: 3 * u)
        }
        c.rect(g.frame, fill: nil, stroke: theme.foreground, lineWidth: 2 * u)
        c.text("key positions (columns: K, V blocks j) →", Point(g.frame.x, g.frame.y - 34 * u), size: c.style.smallSize, color: theme.muted)
        c.text("query positions (rows: Q, O blocks i) →", Point(g.frame.x - 34 * u, g.frame.y), size: c.style.smallSize, color: theme.muted,
               rotation: Double.pi / 2)
        let small = c.style.smallSize * 0.8
        c.text("0", Point(g.frame.x, g.frame.y - 12 * u), size: small, color: theme.muted)
        c.text(String(g.C), Point(g.frame.maxX, g.frame.y - 12 * u), size: small, color: theme.muted, anchor: .end)
        c.text(String(g.R), Point(g.frame.x - 8 * u, g.frame.maxY - 8 * u), size: small, color: theme.muted, anchor: .end)
    }

    private static func overview(_ r: TileResult, order: [Int: Int], Tr: Int, Tc: Int, style: Style) -> Page {
        var c = Canvas(style: style)
        let u = style.unit
        let top = c.header("Tile traversal: \(r.algorithm.title)",
                           subtitle: "N = \(r.n), d = \(r.d)\(r.layout.qHeads > 1 ? ", \(r.layout.groupSize) query heads per K/V head stacked as rows" : "")\(r.causal ? ", causal" : ""); SRAM M = \(Format.grouped(r.sramElements)) elements; \(r.blocks)")
        let g = grid(r, style: style, top: top)
        drawGrid(&c, r, g, order: order, Tr: Tr, Tc: Tc, visited: Set(order.keys), current: nil, rows: nil, numbers: true)
        var y = g.frame.y + 10 * u
        let x = g.frame.maxX + 70 * u
        func line(_ s: String, bold: Bool = false, muted: Bool = false) {
            c.text(s, Point(x, y), size: bold ? style.labelSize : style.smallSize, color: muted ? c.theme.muted : nil, weight: bold ? .bold : .regular)
            y += (bold ? 40 : 32) * u
        }
        line("Visit order", bold: true)
        line(loops[r.algorithm]!, muted: true)
        line("\(Tr) row blocks × \(Tc) column blocks, \(order.count) tiles computed")
        if r.causal { line("\(Tr * Tc - order.count) tiles above the diagonal skipped (grey)", muted: true) }
        y += 12 * u
        line("HBM traffic", bold: true)
        line("reads  \(Format.grouped(r.forward.hbmReads)) elements")
        line("writes \(Format.grouped(r.forward.hbmWrites)) elements")
        line("peak SRAM \(Format.grouped(r.forward.peakSram)) of \(Format.grouped(r.sramElements))\(r.forward.peakSram > r.sramElements ? " (over M)" : "")")
        y += 12 * u
        line("Per tensor", bold: true)
        for t in TileTensor.allCases where r.forward.reads(t) + r.forward.writes(t) > 0 {
            line("\(t): read \(Format.grouped(r.forward.reads(t))), written \(Format.grouped(r.forward.writes(t)))", muted: true)
        }
        c.footnote("Numbers: the order tiles of S are computed. Counts in elements, forward pass. Dao et al. 2022 (arXiv 2205.14135), Dao 2023 (arXiv 2307.08691).")
        return c.page
    }

    private static func stepPage(_ r: TileResult, _ s: TileStep, order: [Int: Int], Tr: Int, Tc: Int, style: Style) -> Page {
        var c = Canvas(style: style)
        let u = style.unit, theme = c.theme
        var where_ = s.phase.text
        if let i = s.i, let j = s.j { where_ += ", i = \(i), j = \(j)" }
        let top = c.header("Step \(s.index + 1) of \(r.steps.filter { $0.phase.pass == .forward }.count): \(where_)",
                           subtitle: "\(r.algorithm.title) · N = \(r.n), d = \(r.d), M = \(Format.grouped(r.sramElements)), \(r.blocks)")
        let g = grid(r, style: style, top: top)
        var visited = Set<Int>()
        for t in r.steps where t.index <= s.index { if let i = t.i, let j = t.j, t.phase == s.phase || s.phase == .forward { visited.insert(i * Tc + j) } }
        let current = s.i.flatMap { i in s.j.map { (i, $0) } }
        drawGrid(&c, r, g, order: order, Tr: Tr, Tc: Tc, visited: visited, current: current,
                 rows: current == nil ? s.rows : nil, numbers: false)

        // SRAM: what this step brought on chip (loads) and what it wrote back (stores).
        let x = g.frame.maxX + 70 * u, width = style.width - x - 40 * u
        var y = g.frame.y
        c.text("In SRAM", Point(x, y), size: style.labelSize, weight: .bold)
        y += 36 * u
        let maxElements = Double(max(1, r.sramElements))
        for (t, since) in resident(r, s) {
            let w = max(4 * u, width * 0.6 * min(1, Double(t.elements) / maxElements))
            let fill = color(t.tensor, theme).withAlpha(since == nil ? 1 : 0.45)
            c.rect(Rect(x, y - 12 * u, w, 24 * u), fill: fill, radius: 3 * u, role: "sram-block")
            let note = since.map { "  (on chip since step \($0 + 1))" } ?? "  loaded now"
            c.text("\(t.name)  \(Format.grouped(t.elements))" + note, Point(x + w + 10 * u, y), size: style.smallSize)
            y += 32 * u
        }
        if !s.stores.isEmpty {
            y += 8 * u
            c.text("Written to HBM: " + s.stores.map(\.name).joined(separator: ", "), Point(x, y), size: style.smallSize, color: theme.highlight)
            y += 34 * u
        }
        c.text("SRAM in use (peak): \(Format.grouped(s.sramPeak)) of \(Format.grouped(r.sramElements))", Point(x, y), size: style.smallSize)
        y += 18 * u
        let barW = width * 0.9
        c.rect(Rect(x, y, barW, 16 * u), fill: theme.grid, radius: 3 * u)
        c.rect(Rect(x, y, barW * min(1, Double(s.sramPeak) / maxElements), 16 * u),
               fill: s.sramPeak > r.sramElements ? theme.highlight : theme.group(2), radius: 3 * u)
        y += 52 * u
        c.text("HBM so far", Point(x, y), size: style.labelSize, weight: .bold)
        y += 34 * u
        let total = Double(max(1, r.forward.hbmReads + r.forward.hbmWrites))
        for (label, value, col) in [("reads", s.hbmReads, theme.group(0)), ("writes", s.hbmWrites, theme.group(1))] {
            c.text("\(label) \(Format.grouped(value))", Point(x, y), size: style.smallSize)
            c.rect(Rect(x + width * 0.42, y - 9 * u, width * 0.5 * Double(value) / total, 18 * u), fill: col, radius: 3 * u)
            y += 30 * u
        }
        if let w = s.watch, let m = r.watchTrueMax, let l = r.watchTrueSum {
            y += 20 * u
            c.text("Online softmax of row \(w.row)", Point(x, y), size: style.labelSize, weight: .bold)
            y += 34 * u
            c.text("m = \(Format.fixed(Double(w.m), 4))   (true max \(Format.fixed(m, 4)))", Point(x, y), size: style.smallSize)
            y += 28 * u
            c.text("l = \(Format.fixed(Double(w.l), 4))   (true sum \(Format.fixed(l, 4)))", Point(x, y), size: style.smallSize)
            y += 28 * u
            c.text("old state rescaled × \(Format.fixed(Double(w.rescale), 4))", Point(x, y), size: style.smallSize, color: theme.muted)
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
