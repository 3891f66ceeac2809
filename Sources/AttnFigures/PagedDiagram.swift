import AttnEngine
import AttnTrace

/// A paged KV cache as vLLM lays one out (issue 14's "a paged block table"): the pool of physical
/// blocks coloured by the request that held each (a block freed by a finished request and taken by
/// another shows both, earlier first), each request's block table (logical block → physical block),
/// the empty slots of each last block hatched, and below, every request against the contiguous
/// reservation of the maximum length a server without paging would make for it.
public enum PagedDiagram {
    /// Requests a figure tells apart by colour at most (the palette's size).
    public static let maxRequests = Theme.light.palette.count

    /// - Parameters:
    ///   - allocation: the allocator's block tables after the batch ran (`PagedKV.allocate`).
    ///   - reservedSlots: slots a contiguous cache reserves per request (the maximum length).
    public static func figure(_ allocation: PagedKV.Allocation, reservedSlots: Int, title: String, subtitle: String,
                              footnote: String, style: Style) throws(FigureError) -> Figure {
        try style.requireLegible()
        let tables = allocation.blockTables, B = allocation.pageTokens, used = allocation.usedSlots
        guard tables.count <= maxRequests else {
            throw FigureError(.requests, "\(tables.count) requests are too many to tell apart by colour (at most \(maxRequests))")
        }
        var c = Canvas(style: style)
        let u = style.unit, small = style.smallSize, theme = c.theme
        let top = c.header(title, subtitle: subtitle) + 6 * u
        let minBarRow = 26 * u
        let bodyH = style.height - top - 46 * u - (40 * u + Double(tables.count) * minBarRow) - 18 * u
        let poolW = (style.width - 80 * u) * 0.4, gap = 24 * u, tablesW = style.width - 80 * u - poolW - gap
        func lastBlockUse(_ i: Int) -> Int { used[i] - (tables[i].count - 1) * B }

        // The pool: a square cell per physical block, as large as fits.
        let blocks = (tables.flatMap { $0 }.max() ?? -1) + 1
        let (columns, cell) = bestGrid(blocks, in: Rect(0, 0, poolW - 32 * u, bodyH - 52 * u), atMost: 80 * u)
        guard cell >= 8 * u else {
            throw FigureError(.pageTokens, "\(blocks) physical blocks do not fit legibly (cells of \(Int(cell)) px); give larger --page-tokens or shorter --requests")
        }
        // Block tables: per request a caption and its boxes in wrapped lines, the largest boxes that fit.
        let captionH = 26 * u, tablesInnerW = tablesW - 32 * u
        func tablesHeight(_ box: Double) -> Double {
            let perLine = max(1, Int(tablesInnerW / box))
            return tables.reduce(0) { $0 + captionH + Double(($1.count + perLine - 1) / perLine) * box + 8 * u }
        }
        var box = 56 * u
        while box > 8 * u && tablesHeight(box) > bodyH - 48 * u { box -= 1 * u }
        guard tablesHeight(box) <= bodyH - 48 * u else {
            throw FigureError(.pageTokens, "\(tables.reduce(0) { $0 + $1.count }) block-table entries do not fit legibly; give larger --page-tokens or shorter --requests")
        }
        // Both panels as tall as the taller content needs, the reservations right below.
        let panelH = max(52 * u + Double((blocks + columns - 1) / columns) * cell, 48 * u + tablesHeight(box)) + 8 * u
        let pool = Rect(40 * u, top, poolW, panelH)
        let tablesFrame = Rect(pool.maxX + gap, top, tablesW, panelH)

        let poolInner = Rect(pool.x + 16 * u, pool.y + 40 * u, pool.w - 32 * u, pool.h - 52 * u)
        c.rect(pool, fill: theme.panel, radius: 12 * u)
        c.text(c.en("physical blocks (\(blocks) in the pool, \(B) slots each)", ja: "物理ブロック(プールに\(blocks)個、各\(B)スロット)"), Point(pool.x + 16 * u, pool.y + 20 * u), size: style.labelSize * 0.8, weight: .bold)
        // Each block's holders in the order they held it: a request that ended first gave it back first.
        let order = tables.indices.sorted { (used[$0], $0) < (used[$1], $1) }
        for b in 0..<blocks {
            let r = Rect(poolInner.x + Double(b % columns) * cell, poolInner.y + Double(b / columns) * cell, cell, cell).inset(1.5 * u)
            let holders = order.filter { tables[$0].contains(b) }
            for (k, i) in holders.enumerated() {
                let stripe = Rect(r.x + r.w * Double(k) / Double(holders.count), r.y, r.w / Double(holders.count), r.h)
                let fill = tables[i].last == b ? Double(lastBlockUse(i)) / Double(B) : 1
                drawSlots(&c, stripe, filled: fill, color: theme.group(i), role: "pool-block")
            }
            if cell >= 26 * u {
                let fill = holders.first.map { theme.group($0) } ?? theme.background
                c.text("\(b)", Point(r.midX, r.midY), size: min(small * 0.8, cell * 0.4), color: theme.text(on: fill), anchor: .middle)
            }
        }

        c.rect(tablesFrame, fill: theme.panel, radius: 12 * u)
        c.text(c.en("block tables (logical → physical)", ja: "ブロックテーブル(論理 → 物理)"), Point(tablesFrame.x + 16 * u, tablesFrame.y + 20 * u), size: style.labelSize * 0.8, weight: .bold)
        let perLine = max(1, Int(tablesInnerW / box))
        var y = tablesFrame.y + 40 * u
        let x0 = tablesFrame.x + 16 * u
        for (i, table) in tables.enumerated() {
            let last = lastBlockUse(i)
            c.text(c.en("request \(i): \(Format.grouped(used[i])) tokens in \(Format.plural(table.count, "block")), the last \(last) of \(B) slots full",
                        ja: "リクエスト\(i):\(Format.grouped(used[i]))トークンをブロック\(table.count)個に、最後のブロックは\(B)スロット中\(last)個が使用中"),
                   Point(x0, y + captionH / 2), size: small * 0.85, color: theme.group(i))
            y += captionH
            for (j, b) in table.enumerated() {
                let r = Rect(x0 + Double(j % perLine) * box, y + Double(j / perLine) * box, box, box).inset(1.5 * u)
                drawSlots(&c, r, filled: j == table.count - 1 ? Double(last) / Double(B) : 1, color: theme.group(i), role: "table-entry")
                if box >= 20 * u {
                    c.text("\(b)", Point(r.midX, r.midY), size: min(small * 0.8, box * 0.42), color: theme.text(on: theme.group(i)), anchor: .middle)
                }
            }
            y += Double((table.count + perLine - 1) / perLine) * box + 8 * u
        }

        // Contiguous reservations against what each request used and what paging allocated, in rows
        // that take the room the panels above left.
        let barRow = min(52 * u, minBarRow + (bodyH - panelH) / Double(tables.count))
        let bars = Rect(40 * u, pool.maxY + 18 * u, style.width - 80 * u, 40 * u + Double(tables.count) * barRow)
        c.rect(bars, fill: theme.panel, radius: 12 * u)
        c.text(c.en("contiguous: \(Format.grouped(reservedSlots)) slots reserved per request (outline); filled: tokens held; tick: end of the paged blocks",
                    ja: "連続確保:リクエストごとに\(Format.grouped(reservedSlots))スロットを予約(枠)。塗り:保持トークン。縦線:ページ化ブロックの終わり"),
               Point(bars.x + 16 * u, bars.y + 20 * u), size: small * 0.85, weight: .bold)
        let barX = bars.x + 130 * u, barW = bars.maxX - 16 * u - barX
        for i in tables.indices {
            let yy = bars.y + 40 * u + Double(i) * barRow
            c.text(c.en("request \(i)", ja: "リクエスト\(i)"), Point(barX - 10 * u, yy + barRow * 0.4), size: small * 0.8, anchor: .end)
            let whole = Rect(barX, yy + 4 * u, barW, barRow - 10 * u)
            let scale = barW / Double(max(reservedSlots, 1))
            hatch(&c, Rect(barX + Double(used[i]) * scale, whole.y, max(0, whole.w - Double(used[i]) * scale), whole.h), color: theme.muted.withAlpha(0.5))
            c.rect(Rect(barX, whole.y, Double(used[i]) * scale, whole.h), fill: theme.group(i), role: "used")
            c.rect(whole, fill: nil, stroke: theme.muted, lineWidth: 1 * u, role: "reserved")
            let pagedX = barX + Double(tables[i].count * B) * scale
            c.line([Point(pagedX, whole.y - 3 * u), Point(pagedX, whole.maxY + 3 * u)], color: theme.foreground, width: 2.5 * u, role: "paged-end")
            let note = c.en("\(Format.grouped(used[i])) held · \(Format.grouped(tables[i].count * B)) paged · \(Format.grouped(reservedSlots)) reserved",
                            ja: "保持\(Format.grouped(used[i])) · ページ\(Format.grouped(tables[i].count * B)) · 予約\(Format.grouped(reservedSlots))")
            let size = min(small * 0.8, whole.h * 0.7), noteW = c.style.textWidth(note, size: size) + 16 * u
            if size >= small * 0.7 && whole.maxX - noteW - 8 * u > pagedX + 8 * u {
                c.rect(Rect(whole.maxX - noteW - 8 * u, whole.midY - size * 0.75, noteW, size * 1.5), fill: theme.panel, radius: 4 * u)
                c.text(note, Point(whole.maxX - 16 * u, whole.midY), size: size, anchor: .end)
            }
        }
        c.footnote(footnote)
        return Figure(style: style, pages: [c.page], title: c.en("Paged KV cache", ja: "ページ化KVキャッシュ"))
    }

    /// A block of `B` slots: the first `filled` fraction in the request's colour, the rest hatched.
    private static func drawSlots(_ c: inout Canvas, _ r: Rect, filled: Double, color: Color, role: String) {
        let u = c.style.unit
        c.rect(Rect(r.x, r.y, r.w, r.h * filled), fill: color, role: role)
        if filled < 1 {
            let empty = Rect(r.x, r.y + r.h * filled, r.w, r.h * (1 - filled))
            c.rect(empty, fill: c.theme.background, role: "empty-slots")
            hatch(&c, empty, color: color)
            c.rect(r, fill: nil, stroke: color, lineWidth: 1.5 * u)
        }
    }

    /// Diagonal lines across `r`, 45° up to the right.
    private static func hatch(_ c: inout Canvas, _ r: Rect, color: Color) {
        let u = c.style.unit, spacing = 6 * u
        guard r.w > 0, r.h > 0 else { return }
        var d = r.x + r.y + spacing / 2
        while d < r.maxX + r.maxY {
            // The part of the line x + y = d inside r.
            let x1 = max(r.x, d - r.maxY), x2 = min(r.maxX, d - r.y)
            if x2 > x1 { c.line([Point(x1, d - x1), Point(x2, d - x2)], color: color, width: 1 * u) }
            d += spacing
        }
    }

    /// Columns and cell size of the largest square cells that put `count` cells in `area`, at most
    /// `maxCell` each, in as many columns as fit at that size (rows fill left to right first).
    static func bestGrid(_ count: Int, in area: Rect, atMost maxCell: Double) -> (columns: Int, cell: Double) {
        var cell = 0.0
        for columns in 1...max(count, 1) {
            let rows = (count + columns - 1) / columns
            cell = max(cell, min(area.w / Double(columns), area.h / Double(rows)))
        }
        cell = min(cell, maxCell)
        return (max(1, min(count, Int(area.w / cell))), cell)
    }
}
