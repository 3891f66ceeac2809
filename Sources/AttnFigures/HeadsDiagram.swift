import AttnEngine
import AttnTrace

/// Figure 1 — head grouping: query heads coloured by the K/V head they read, connected to it; MHA,
/// the model's GQA and MQA side by side for the same number of query heads, each with its K/V heads,
/// bytes per token and cut against MHA.
public enum HeadsDiagram {
    public static func figure(_ config: DecoderConfig, dtype: DType, style: Style) throws(FigureError) -> Figure {
        try style.requireLegible()
        let q = config.attention.qHeads, hd = config.attention.headDim
        var kvCounts = [q]
        if config.attention.kvHeads != q && config.attention.kvHeads != 1 { kvCounts.append(config.attention.kvHeads) }
        if q > 1 { kvCounts.append(1) }
        var canvas = Canvas(style: style)
        let u = style.unit
        let top = canvas.header(canvas.en("Query heads sharing K/V heads: MHA, GQA, MQA", ja: "K/Vヘッドを共有するクエリヘッド:MHA・GQA・MQA"),
                                subtitle: canvas.en("\(Format.plural(q, "query head")) × head_dim \(hd), \(config.layers) layers, \(config.kvMap.kvLayers) storing K/V, \(dtype.rawValue) cache",
                                                    ja: "クエリヘッド\(q)個 × head_dim \(hd)、\(config.layers)層(K/Vを保存するのは\(config.kvMap.kvLayers)層)、キャッシュは\(dtype.rawValue)"))
        let panelGap = 24 * u
        let panelWidth = (style.width - 80 * u - panelGap * Double(kvCounts.count - 1)) / Double(kvCounts.count)
        let panelTop = top + 20 * u, panelHeight = style.height - panelTop - 70 * u
        guard panelWidth > 260 * u, panelHeight > 300 * u else {
            throw FigureError(.size, "\(Int(style.width))×\(Int(style.height)) is too small for \(kvCounts.count) panels of heads; try --size 1600x900")
        }
        // Every K/V head count divides q_heads, so these layouts are valid; were one not, the figure
        // reports it rather than trapping.
        let layouts: [AttentionLayout]
        do { layouts = try kvCounts.map { kv throws(ConfigError) in try AttentionLayout(qHeads: q, kvHeads: kv, headDim: hd) } } catch {
            throw FigureError(error.subject, error.reason)
        }
        let mha = KVBudget(layout: layouts[0], kvMap: config.kvMap, dtype: dtype)  // kvCounts[0] == q
        for (p, layout) in layouts.enumerated() {
            let budget = KVBudget(layout: layout, kvMap: config.kvMap, dtype: dtype)
            let panel = Rect(40 * u + Double(p) * (panelWidth + panelGap), panelTop, panelWidth, panelHeight)
            try drawPanel(&canvas, panel, layout: layout, budget: budget, mhaBytes: mha.bytesPerToken)
        }
        canvas.footnote(canvas.en("Query head h reads K/V head h / (q_heads / kv_heads) (Ainslie et al. 2023). Bytes per token = 2 × kv_layers × kv_heads × head_dim × bytes.",
                                  ja: "クエリヘッド h が読むのはK/Vヘッド h / (q_heads / kv_heads)(Ainslie et al. 2023)。1トークンあたりのバイト数 = 2 × kv_layers × kv_heads × head_dim × 要素のバイト数。"))
        return Figure(style: style, pages: [canvas.page], title: canvas.en("Head grouping", ja: "ヘッドのグループ化"))
    }

    private static func drawPanel(_ c: inout Canvas, _ panel: Rect, layout: AttentionLayout, budget: KVBudget, mhaBytes: Int) throws(FigureError) {
        let u = c.style.unit, theme = c.theme
        c.rect(panel, fill: theme.panel, radius: 14 * u)
        c.text(layout.name, Point(panel.midX, panel.y + 36 * u), size: c.style.labelSize * 1.25, anchor: .middle, weight: .bold)
        c.text(c.en("\(Format.plural(layout.kvHeads, "K/V head")) for \(layout.qHeads) query heads", ja: "クエリヘッド\(layout.qHeads)個にK/Vヘッド\(layout.kvHeads)個"), Point(panel.midX, panel.y + 70 * u),
               size: c.style.smallSize, color: theme.muted, anchor: .middle)

        let inner = panel.inset(24 * u)
        let qY = panel.y + 120 * u, kvY = panel.maxY - 190 * u
        let qSlots = slots(count: layout.qHeads, groups: layout.kvHeads, width: inner.w, minBox: 14 * u)
        let kvSlots = slots(count: layout.kvHeads, groups: layout.kvHeads, width: inner.w, minBox: 14 * u)
        let qBox = min(44 * u, inner.w / Double(qSlots.count) * 0.8), kvBox = min(44 * u, inner.w / Double(kvSlots.count) * 0.8)
        guard qBox >= 10 * u else { throw FigureError(.size, "the panel is too narrow for \(layout.qHeads) query heads; try a wider --size") }
        func x(_ slot: Int, of count: Int) -> Double { inner.x + inner.w * (Double(slot) + 0.5) / Double(count) }
        // Connectors first, so the boxes sit on top.
        for (slot, head) in qSlots.enumerated() {
            guard let h = head, let kvSlot = kvSlots.firstIndex(of: layout.kvHead(forQueryHead: h)) else { continue }
            c.line([Point(x(slot, of: qSlots.count), qY + qBox), Point(x(kvSlot, of: kvSlots.count), kvY)],
                   color: theme.group(layout.kvHead(forQueryHead: h)).withAlpha(0.8), width: max(1, 2 * u), role: "connector")
        }
        for (slot, head) in qSlots.enumerated() {
            let cx = x(slot, of: qSlots.count)
            guard let h = head else {
                c.text("…", Point(cx, qY + qBox / 2), size: c.style.labelSize, anchor: .middle)
                continue
            }
            let color = theme.group(layout.kvHead(forQueryHead: h))
            c.rect(Rect(cx - qBox / 2, qY, qBox, qBox), fill: color, radius: 5 * u, role: "q-head")
            if qBox >= 26 * u { c.text("q\(h)", Point(cx, qY + qBox / 2), size: min(c.style.smallSize, qBox * 0.42), color: theme.text(on: color), anchor: .middle) }
        }
        for (slot, head) in kvSlots.enumerated() {
            let cx = x(slot, of: kvSlots.count)
            guard let g = head else {
                c.text("…", Point(cx, kvY + kvBox / 2), size: c.style.labelSize, anchor: .middle)
                continue
            }
            let color = theme.group(g)
            c.rect(Rect(cx - kvBox / 2, kvY, kvBox, kvBox), fill: color, stroke: theme.foreground, lineWidth: 2 * u, radius: 5 * u, role: "kv-head")
            if kvBox >= 26 * u { c.text("kv\(g)", Point(cx, kvY + kvBox / 2), size: min(c.style.smallSize, kvBox * 0.38), color: theme.text(on: color), anchor: .middle) }
        }
        c.text(c.en("query heads", ja: "クエリヘッド"), Point(inner.x, qY - 18 * u), size: c.style.smallSize, color: theme.muted)
        c.text(c.en("K/V heads (cached)", ja: "K/Vヘッド(キャッシュされる)"), Point(inner.x, kvY + kvBox + 24 * u), size: c.style.smallSize, color: theme.muted)
        let cut = 1 - Double(budget.bytesPerToken) / Double(mhaBytes)
        c.text(c.en("\(Format.grouped(budget.bytesPerToken)) B / token", ja: "\(Format.grouped(budget.bytesPerToken)) B / トークン"), Point(panel.midX, panel.maxY - 74 * u), size: c.style.labelSize, anchor: .middle, weight: .bold)
        c.text(cut == 0 ? c.en("baseline", ja: "基準") : c.en("−\(Format.percent(cut, 1)) vs MHA", ja: "MHA比 −\(Format.percent(cut, 1))"), Point(panel.midX, panel.maxY - 40 * u), size: c.style.labelSize,
               color: cut == 0 ? theme.muted : theme.highlight, anchor: .middle)
    }

    /// Which heads get a box: all when they fit at `minBox` each; else the first and last head of
    /// every group with a `nil` slot ("…") between them, so every K/V head keeps its connectors;
    /// else (too many groups) the first and last few heads around one "…".
    static func slots(count: Int, groups: Int, width: Double, minBox: Double) -> [Int?] {
        let fit = max(3, Int(width / (minBox * 1.25)))
        guard count > fit else { return (0..<count).map { $0 } }
        let size = count / groups
        if groups > 1 && groups * 3 <= fit && size > 2 {
            return (0..<groups).flatMap { g -> [Int?] in [g * size, nil, g * size + size - 1] }
        }
        let side = (fit - 1) / 2
        return (0..<side).map { $0 } + [nil] + ((count - side)..<count).map { $0 }
    }
}

extension HeadsDiagram: ShapeDiagram {}
