import AttnEngine
import AttnTrace

/// Figure 2 — layer sharing: the layer stack with the K/V cache slots it writes and reads for any
/// layer → source map (CLA2, CLA3, keep-ends, an explicit map…), beside ALBERT-style weight sharing
/// of the same stack, where one weight block serves every layer and every layer keeps its own cache.
public enum LayersDiagram {
    public static func figure(_ config: DecoderConfig, dtype: DType, style: Style) throws(FigureError) -> Figure {
        try style.requireLegible()
        var canvas = Canvas(style: style)
        let u = style.unit
        let map = config.kvMap, L = config.layers
        let top = canvas.header(canvas.en("Share the cache (CLA) or share the weights (ALBERT)", ja: "キャッシュを共有する(CLA)か、重みを共有する(ALBERT)か"),
                                subtitle: canvas.en("\(L) layers, \(config.attention.name) with \(Format.plural(config.attention.kvHeads, "K/V head")) × \(config.attention.headDim), \(dtype.rawValue); layer map \(map.source.map(String.init).joined(separator: " "))",
                                                    ja: "\(L)層、\(config.attention.name)(K/Vヘッド\(config.attention.kvHeads)個 × \(config.attention.headDim))、\(dtype.rawValue)。層マップ \(map.source.map(String.init).joined(separator: " "))"))
        let panelTop = top + 20 * u, panelBottom = style.height - 56 * u
        let gap = 28 * u, panelWidth = (style.width - 80 * u - gap) / 2
        let rowsTop = panelTop + 70 * u, rowsBottom = panelBottom - 96 * u
        let rowHeight = (rowsBottom - rowsTop) / Double(L)
        guard rowHeight >= 12 * u else {
            let need = Int((Double(L) * 12 * u + (style.height - (rowsBottom - rowsTop))) / u) + 1
            throw FigureError(.size, "\(L) layers do not fit legibly in \(Int(style.height)) px of height; try --size \(Int(style.width))x\(need)")
        }
        let budget = KVBudget(layout: config.attention, kvMap: map, dtype: dtype)
        let unshared = KVBudget(layout: config.attention, kvMap: .unshared(layers: L), dtype: dtype)
        let left = Rect(40 * u, panelTop, panelWidth, panelBottom - panelTop)
        let right = Rect(left.maxX + gap, panelTop, panelWidth, left.h)
        for panel in [left, right] { canvas.rect(panel, fill: canvas.theme.panel, radius: 14 * u) }

        func rowY(_ l: Int) -> Double { rowsBottom - Double(l + 1) * rowHeight }
        let boxHeight = rowHeight * 0.78
        let labelSize = min(style.smallSize, boxHeight * 0.62)
        let showEvery = boxHeight >= 16 * u ? 1 : 5

        // CLA panel: producers write their slot, consumers read a producer's slot.
        canvas.text(canvas.en("Cross-Layer Attention: share the K/V cache", ja: "Cross-Layer Attention:K/Vキャッシュを共有"), Point(left.x + 24 * u, left.y + 34 * u), size: style.labelSize, weight: .bold)
        let stackX = left.x + 60 * u, stackW = panelWidth * 0.36, slotX = left.x + panelWidth * 0.66, slotW = panelWidth * 0.28
        let producers = map.producers
        for l in 0..<L {
            let y = rowY(l) + (rowHeight - boxHeight) / 2
            let p = map.source[l], k = producers.firstIndex(of: p)!, color = canvas.theme.group(k)
            let box = Rect(stackX, y, stackW, boxHeight)
            if map.isProducer(l) {
                canvas.rect(box, fill: color, radius: 4 * u, role: "producer-layer")
                let slot = Rect(slotX, y, slotW, boxHeight)
                canvas.rect(slot, fill: color.withAlpha(0.3), stroke: color, lineWidth: 2 * u, radius: 4 * u, role: "cache-slot")
                canvas.line([Point(box.maxX, box.midY), Point(slot.x - 2 * u, slot.midY)], color: color, width: 2.5 * u, arrow: true)
                if boxHeight >= 16 * u {
                    canvas.text(canvas.en("layer \(l) · W_K, W_V", ja: "層\(l) · W_K, W_V"), Point(box.x + 10 * u, box.midY), size: labelSize, color: canvas.theme.text(on: color))
                    canvas.text(canvas.en("K/V of layer \(l)", ja: "層\(l)のK/V"), Point(slot.x + 10 * u, slot.midY), size: labelSize)
                }
            } else {
                canvas.rect(box, fill: nil, stroke: color, lineWidth: 2.5 * u, radius: 4 * u, role: "consumer-layer")
                let target = Point(slotX - 2 * u, rowY(p) + rowHeight / 2)
                let bend = box.maxX + (slotX - box.maxX) * (0.35 + 0.4 * Double((l - p) % 3) / 3)
                canvas.line([Point(box.maxX, box.midY), Point(bend, box.midY), Point(bend, target.y), target],
                            color: color, width: 2 * u, dash: [7 * u, 5 * u], arrow: true, role: "reads")
                if boxHeight >= 16 * u { canvas.text(canvas.en("layer \(l) · reads \(p)", ja: "層\(l) · 層\(p)を読む"), Point(box.x + 10 * u, box.midY), size: labelSize) }
            }
            if boxHeight < 16 * u && l % showEvery == 0 {
                canvas.text(String(l), Point(stackX - 10 * u, y + boxHeight / 2), size: labelSize, color: canvas.theme.muted, anchor: .end)
            }
        }
        let cut = 1 - Double(budget.bytesPerToken) / Double(unshared.bytesPerToken)
        canvas.text(canvas.en("\(map.kvLayers) of \(L) layers store K/V: \(Format.grouped(budget.bytesPerToken)) B/token (−\(Format.percent(cut, 1)))",
                              ja: "K/Vを保存するのは\(L)層中\(map.kvLayers)層:\(Format.grouped(budget.bytesPerToken)) B/トークン(−\(Format.percent(cut, 1)))"),
                    Point(left.x + 24 * u, left.maxY - 62 * u), size: style.labelSize, weight: .bold)
        canvas.text(canvas.en("each of the \(L) layers, reusing or not, still reads \(Format.grouped(budget.bytesPerTokenPerLayer)) B per context token each step",
                              ja: "再利用の有無にかかわらず、\(L)層のどれもが毎ステップ文脈1トークンあたり\(Format.grouped(budget.bytesPerTokenPerLayer)) Bを読む"),
                    Point(left.x + 24 * u, left.maxY - 28 * u), size: style.smallSize, color: canvas.theme.muted)

        // ALBERT panel: one weight block for all layers, every layer its own cache.
        canvas.text(canvas.en("ALBERT: share the weights", ja: "ALBERT:重みを共有"), Point(right.x + 24 * u, right.y + 34 * u), size: style.labelSize, weight: .bold)
        let weights = Rect(right.x + 28 * u, rowsTop + (rowsBottom - rowsTop) * 0.3, panelWidth * 0.2, (rowsBottom - rowsTop) * 0.4)
        canvas.rect(weights, fill: canvas.theme.foreground.withAlpha(0.12), stroke: canvas.theme.foreground, lineWidth: 2 * u, radius: 8 * u, role: "weights")
        canvas.text(canvas.en("one set of", ja: "1組の"), Point(weights.midX, weights.midY - style.smallSize * 0.7), size: style.smallSize, anchor: .middle)
        canvas.text(canvas.en("weights", ja: "重み"), Point(weights.midX, weights.midY + style.smallSize * 0.7), size: style.smallSize, anchor: .middle, weight: .bold)
        let aStackX = right.x + panelWidth * 0.34, aStackW = panelWidth * 0.28, aSlotX = right.x + panelWidth * 0.7, aSlotW = panelWidth * 0.24
        for l in 0..<L {
            let y = rowY(l) + (rowHeight - boxHeight) / 2, color = canvas.theme.group(l)
            let box = Rect(aStackX, y, aStackW, boxHeight)
            canvas.line([Point(weights.maxX, weights.midY), Point(box.x, box.midY)], color: canvas.theme.muted, width: 1.2 * u)
            canvas.rect(box, fill: canvas.theme.background, stroke: canvas.theme.foreground, lineWidth: 1.5 * u, radius: 4 * u, role: "albert-layer")
            let slot = Rect(aSlotX, y, aSlotW, boxHeight)
            canvas.rect(slot, fill: color.withAlpha(0.3), stroke: color, lineWidth: 2 * u, radius: 4 * u, role: "albert-cache-slot")
            canvas.line([Point(box.maxX, box.midY), Point(slot.x - 2 * u, slot.midY)], color: color, width: 2 * u, arrow: true)
            if boxHeight >= 16 * u {
                canvas.text(canvas.en("layer \(l)", ja: "層\(l)"), Point(box.x + 10 * u, box.midY), size: labelSize)
                canvas.text(canvas.en("K/V of layer \(l)", ja: "層\(l)のK/V"), Point(slot.x + 8 * u, slot.midY), size: labelSize)
            }
        }
        let own = (try? DecoderConfig(layers: L, dModel: config.dModel, attention: config.attention, ffn: config.ffn, vocab: config.vocab))?.paramCount.total ?? 0
        let shared = (try? DecoderConfig(layers: L, dModel: config.dModel, attention: config.attention, ffn: config.ffn, vocab: config.vocab,
                                         weightSharing: .all))?.paramCount.total ?? 0
        canvas.text(canvas.en("parameters \(Format.grouped(own)) → \(Format.grouped(shared)) (−\(Format.percent(1 - Double(shared) / Double(max(own, 1)), 1)))",
                              ja: "パラメータ \(Format.grouped(own)) → \(Format.grouped(shared))(−\(Format.percent(1 - Double(shared) / Double(max(own, 1)), 1)))"),
                    Point(right.x + 24 * u, right.maxY - 62 * u), size: style.labelSize, weight: .bold)
        canvas.text(canvas.en("KV cache unchanged: \(Format.grouped(unshared.bytesPerToken)) B/token, all \(L) layers",
                              ja: "KVキャッシュは変わらない:\(Format.grouped(unshared.bytesPerToken)) B/トークン、全\(L)層"),
                    Point(right.x + 24 * u, right.maxY - 28 * u), size: style.smallSize, color: canvas.theme.muted)
        canvas.footnote(canvas.en("CLA: Brandon et al. 2024 (arXiv 2405.12981). ALBERT: Lan et al. 2019 (arXiv 1909.11942). Layer 0 at the bottom.",
                                  ja: "CLA:Brandon et al. 2024(arXiv 2405.12981)。ALBERT:Lan et al. 2019(arXiv 1909.11942)。層0が一番下。"))
        return Figure(style: style, pages: [canvas.page], title: canvas.en("Layer sharing", ja: "層の共有"))
    }
}

extension LayersDiagram: ShapeDiagram {}
