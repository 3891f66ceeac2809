import AttnEngine
import AttnTrace

/// Figure 4 — cache contents at a decode step: per producer layer a tokens × (kv_heads·head_dim)
/// heatmap of K and of V as stored, the row written at this step outlined, and the consumer layers
/// that read each cache.
public enum CacheDiagram {
    /// Rows and columns a heatmap shows at most (the most recent rows, the first columns).
    public static let maxRows = 48, maxColumns = 64

    public static func figure(_ run: DecodeRun, step: Int, style: Style) throws(FigureError) -> Figure {
        try style.requireLegible()
        let res = run.result, c0 = run.config, a = c0.attention
        guard (0..<res.steps.count).contains(step) else {
            throw FigureError(.step, "step \(step) is outside 0..<\(res.steps.count)")
        }
        let producers = c0.kvMap.producers
        guard producers.count <= 8 else {
            throw FigureError(.layers, "\(producers.count) caches are too many for one slide (at most 8); use --cla or fewer --layers")
        }
        var c = Canvas(style: style)
        let u = style.unit
        let s = res.steps[step]
        let text = run.vocabulary.decode(Array(res.processedTokens.prefix(step + 1))).replacing("\n", with: "↵")
        let held = res.cache.eviction.heldTokens(context: step + 1)
        let tokens = held < step + 1 ? c.en("\(held) of \(step + 1)", ja: "\(step + 1)個中\(held)個の") : c.en("\(step + 1)", ja: "\(step + 1)")
        let top = c.header(c.en("KV cache after step \(step): \(tokens) tokens × \(producers.count) caches = \(Format.grouped(s.record.cacheBytes)) B",
                                ja: "ステップ\(step)後のKVキャッシュ:\(tokens)トークン × キャッシュ\(producers.count)個 = \(Format.grouped(s.record.cacheBytes)) B"),
                           subtitle: c.en("\(c0.layoutName): \(a.qHeads) query heads, \(Format.plural(a.kvHeads, "K/V head")) × \(a.headDim); tokens \"\(text)\"",
                                          ja: "\(c0.layoutName):クエリヘッド\(a.qHeads)個、K/Vヘッド\(a.kvHeads)個 × \(a.headDim)。トークン「\(text)」"))
        let shownRows = min(step + 1, maxRows), firstRow = step + 1 - shownRows
        let shownCols = min(a.kvElements, maxColumns)
        let gap = 20 * u
        // Room right of the heatmaps for the chips of the layers reading each cache.
        let chipW = 40 * u + style.textWidth(c.en("layer \(c0.layers - 1) writes, reads", ja: "層\(c0.layers - 1)が書いて読む"), size: style.smallSize * 0.85)
        let readerColumn = chipW + 80 * u
        // The arrangement of panels (columns × rows) that gives the largest cells.
        func layout(_ columns: Int) -> (panelW: Double, panelH: Double, cell: Double) {
            let rowsOfPanels = (producers.count + columns - 1) / columns
            let w = (style.width - 80 * u - gap * Double(columns - 1)) / Double(columns)
            let h = (style.height - top - 70 * u - gap * Double(rowsOfPanels - 1)) / Double(rowsOfPanels)
            return (w, h, min((w - 76 * u - readerColumn) / Double(2 * shownCols), (h - 120 * u) / Double(shownRows)))
        }
        let columns = (1...min(producers.count, 4)).max { layout($0).cell < layout($1).cell }!
        let (panelW, panelH, cell) = layout(columns)
        guard cell >= 1.5 * u else {
            throw FigureError(.size, "\(shownRows) tokens × \(shownCols) values per cache do not fit legibly; try a larger --size")
        }
        var scale: Float = 1e-6
        for p in producers {
            for t in firstRow...step {
                for g in 0..<a.kvHeads {
                    for v in res.cache.row(.k, layer: p, kvHead: g, position: t) + res.cache.row(.v, layer: p, kvHead: g, position: t) { scale = max(scale, abs(v)) }
                }
            }
        }
        for (k, p) in producers.enumerated() {
            let panel = Rect(40 * u + Double(k % columns) * (panelW + gap), top + 20 * u + Double(k / columns) * (panelH + gap), panelW, panelH)
            c.rect(panel, fill: c.theme.panel, radius: 12 * u)
            let readers = c0.kvMap.readers(of: p)
            c.text(c.en("cache of layer \(p)", ja: "層\(p)のキャッシュ"), Point(panel.x + 16 * u, panel.y + 24 * u), size: style.labelSize * 0.9, weight: .bold)
            c.text(c.en("\(Format.grouped(s.record.layers[p].bytesRead)) B read by each of \(Format.plural(readers.count, "layer")) this step",
                        ja: "このステップで\(readers.count)層がそれぞれ\(Format.grouped(s.record.layers[p].bytesRead)) Bを読む"),
                   Point(panel.x + 16 * u, panel.y + 52 * u), size: style.smallSize * 0.9, color: c.theme.muted)
            let heatTop = panel.y + 86 * u
            for (m, which) in [KVCache.KV.k, .v].enumerated() {
                let x0 = panel.x + 44 * u + Double(m) * (Double(shownCols) * cell + 16 * u)
                c.text(which == .k ? "K" : "V", Point(x0 + Double(shownCols) * cell / 2, heatTop - 14 * u), size: style.smallSize, anchor: .middle, weight: .bold)
                for t in firstRow...step {
                    let y = heatTop + Double(t - firstRow) * cell
                    var col = 0
                    for g in 0..<a.kvHeads {
                        for v in res.cache.row(which, layer: p, kvHead: g, position: t) where col < shownCols {
                            c.rect(Rect(x0 + Double(col) * cell, y, cell, cell), fill: diverging(v / scale, c.theme), role: "cache-cell")
                            col += 1
                        }
                    }
                }
                // K/V head bands in their group colours, so a head is the same colour as in `draw heads`.
                for g in 0..<a.kvHeads where g * a.headDim < shownCols {
                    let w = Double(min(a.headDim, shownCols - g * a.headDim)) * cell
                    c.rect(Rect(x0 + Double(g * a.headDim) * cell, heatTop - 6 * u, w, 4 * u), fill: c.theme.group(g))
                }
                let newRow = Rect(x0, heatTop + Double(step - firstRow) * cell, Double(shownCols) * cell, cell)
                c.rect(newRow, fill: nil, stroke: c.theme.foreground, lineWidth: 2.5 * u, role: "new-row")
            }
            // The layers that read this cache point at it: the producer (solid) and its consumers.
            let heatRight = panel.x + 44 * u + 2 * Double(shownCols) * cell + 16 * u
            let chipH = min(34 * u, (Double(shownRows) * cell) / Double(max(readers.count, 1)) - 6 * u)
            if chipH >= 14 * u && heatRight + 60 * u + chipW <= panel.maxX - 10 * u {
                let color = c.theme.group(k)
                for (n, l) in readers.enumerated() {
                    let chip = Rect(heatRight + 60 * u, heatTop + Double(n) * (chipH + 6 * u), chipW, chipH)
                    let producer = l == p
                    c.rect(chip, fill: producer ? color : c.theme.background, stroke: color, lineWidth: 2 * u, radius: 5 * u, role: "reader")
                    c.text(producer ? c.en("layer \(l) writes, reads", ja: "層\(l)が書いて読む") : c.en("layer \(l) reads", ja: "層\(l)が読む"), Point(chip.x + 10 * u, chip.midY),
                           size: min(style.smallSize * 0.85, chipH * 0.55), color: producer ? c.theme.text(on: color) : c.theme.foreground)
                    c.line([Point(chip.x, chip.midY), Point(heatRight - 8 * u, chip.midY)], color: color, width: 2 * u,
                           dash: producer ? [] : [6 * u, 4 * u], arrow: true)
                }
            }
            c.text(c.en("pos \(firstRow)", ja: "位置\(firstRow)"), Point(panel.x + 38 * u, heatTop + cell / 2), size: style.smallSize * 0.75, color: c.theme.muted, anchor: .end)
            c.text(c.en("pos \(step)", ja: "位置\(step)"), Point(panel.x + 38 * u, heatTop + (Double(shownRows) - 0.5) * cell), size: style.smallSize * 0.75, color: c.theme.muted, anchor: .end)
            let notes = (shownCols < a.kvElements ? c.en("first \(shownCols) of \(a.kvElements) values · ", ja: "\(a.kvElements)個中最初の\(shownCols)個の値 · ") : "")
                + (firstRow > 0 ? c.en("last \(shownRows) rows", ja: "最後の\(shownRows)行") : "")
            if !notes.isEmpty {
                c.text(notes, Point(panel.x + 16 * u, panel.maxY - 16 * u), size: style.smallSize * 0.75, color: c.theme.muted)
            }
        }
        c.footnote(c.en("Outlined: the row written at this step (K after RoPE). Colour: value / max|value| from blue (−) through white to vermillion (+). Top bars: K/V heads.",
                         ja: "枠:このステップで書いた行(KはRoPE適用後)。色:値 / max|値| を青(−)から白を経て朱(+)で。上の帯:K/Vヘッド。"))
        return Figure(style: style, pages: [c.page], title: c.en("Cache contents", ja: "キャッシュの中身"))
    }

    /// Blue (−1) → background-neutral white (0) → vermillion (+1), colour-blind safe.
    static func diverging(_ x: Float, _ theme: Theme) -> Color {
        let t = Double(max(-1, min(1, x)))
        let white = Color(hex: 0xF7F7F7)
        return t < 0 ? white.mixed(with: Color(hex: 0x0072B2), -t) : white.mixed(with: Color(hex: 0xD55E00), t)
    }
}
