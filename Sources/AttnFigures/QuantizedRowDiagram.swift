import AttnEngine
import AttnTrace

/// One row of a quantized cache taken apart (issue 14's "a quantized row with its scales"): for the
/// key and the value a layer stored for one position, the original numbers, the integer codes, the
/// groups' scales, the numbers a reader gets back (min + code·scale) and the error of each element
/// against the band ±scale/2 that rounding to the nearest code guarantees. Keys carry a scale per
/// channel (shared by the group's tokens), values a scale per group of channels of this token.
public enum QuantizedRowDiagram {
    /// One of the two rows: K or V as stored, and the original it was quantized from.
    public struct Row: Sendable {
        public let which: KVCache.KV
        public let stored: KVCache.QuantizedRow
        public let original: [Float]
        public let group: Int
        /// The token the row belongs to.
        public let position: Int

        public init(which: KVCache.KV, stored: KVCache.QuantizedRow, original: [Float], group: Int, position: Int) {
            self.which = which
            self.stored = stored
            self.original = original
            self.group = group
            self.position = position
        }

        /// Element i's scale: its channel's for a key, its group's for a value.
        public func scale(_ i: Int) -> KVQuantization.Scale { which == .k ? stored.scales[i] : stored.scales[i / group] }

        /// decoded − original, per element.
        public var errors: [Float] { zip(stored.decoded, original).map { $0 - $1 } }
        public var maxAbsError: Float { errors.reduce(0) { max($0, abs($1)) } }
        /// The largest scale/2 of the row.
        public var maxHalfScale: Float { stored.scales.reduce(0) { max($0, $1.scale / 2) } }
        /// Elements whose error exceeds their own scale/2: none when the original is what was quantized.
        public var outsideBand: Int { errors.indices.filter { abs(errors[$0]) > scale($0).scale / 2 }.count }
    }

    /// - Parameters:
    ///   - rows: K then V, as the figure shows them top to bottom.
    ///   - maxCode: 2^bits − 1, the top of the code strip's colour scale.
    public static func figure(_ rows: [Row], maxCode: Int, title: String, subtitle: String, footnote: String,
                              style: Style) throws(FigureError) -> Figure {
        try style.requireLegible()
        var c = Canvas(style: style)
        let u = style.unit
        let top = c.header(title, subtitle: subtitle) + 8 * u
        let gap = 18 * u
        let sectionH = (style.height - top - 44 * u - gap * Double(rows.count - 1)) / Double(rows.count)
        for (i, row) in rows.enumerated() {
            try drawRow(&c, row, maxCode: maxCode, frame: Rect(40 * u, top + Double(i) * (sectionH + gap), style.width - 80 * u, sectionH))
        }
        c.footnote(footnote)
        return Figure(style: style, pages: [c.page], title: c.en("A quantized cache row", ja: "量子化したキャッシュの1行"))
    }

    private static func drawRow(_ c: inout Canvas, _ row: Row, maxCode: Int, frame: Rect) throws(FigureError) {
        let u = c.style.unit, small = c.style.smallSize, theme = c.theme
        let n = row.original.count, errors = row.errors
        c.rect(frame, fill: theme.panel, radius: 12 * u)
        let key = row.which == .k
        let name = key ? c.en("K (after RoPE)", ja: "K(RoPE適用後)") : "V"
        c.text(name, Point(frame.x + 14 * u, frame.y + 20 * u), size: c.style.labelSize * 0.85, weight: .bold)
        let groupStart = row.position / row.group * row.group
        c.text(key ? c.en("per channel: each channel its own scale and minimum, shared by its group's tokens \(groupStart)–\(groupStart + row.group - 1)",
                          ja: "チャネルごと:各チャネルが自分のスケールと最小値を持ち、グループのトークン\(groupStart)〜\(groupStart + row.group - 1)で共有")
                   : c.en("per token: one scale and minimum for each \(row.group) channels of this row", ja: "トークンごと:この行の\(row.group)チャネルごとにスケールと最小値を1組"),
               Point(frame.x + 14 * u + c.style.textWidth(name, size: c.style.labelSize * 0.85, weight: .bold) + 16 * u, frame.y + 20 * u),
               size: small * 0.85, color: theme.muted)
        let labelW = 150 * u
        let x0 = frame.x + labelW, cellW = (frame.maxX - 16 * u - x0) / Double(n)
        guard cellW >= 3 * u else { throw FigureError(.size, "\(n) channels of a row do not fit legibly; give a larger --size") }
        func cx(_ i: Int) -> Double { x0 + (Double(i) + 0.5) * cellW }
        let inner = frame.h - 40 * u
        let valuesH = inner * 0.34, codesH = min(28 * u, inner * 0.11), scaleH = inner * 0.17, errorH = inner * 0.30
        var y = frame.y + 38 * u
        func label(_ s: String, _ midY: Double) {
            c.text(s, Point(x0 - 12 * u, midY), size: small * 0.8, color: theme.foreground, anchor: .end)
        }

        // Values: the original (hollow) and what a reader gets back (bars).
        let values = Rect(x0, y, Double(n) * cellW, valuesH)
        let range = max(row.original.reduce(0) { max($0, abs($1)) }, row.stored.decoded.reduce(0) { max($0, abs($1)) }, 1e-12)
        // A margin above and below, so that the largest value's mark stays inside its strip.
        func vy(_ v: Float) -> Double { values.midY - Double(v / range) * (values.h / 2 - 6 * u) }
        c.line([Point(values.x, values.midY), Point(values.maxX, values.midY)], color: theme.grid, width: 1 * u)
        label(c.en("original ○", ja: "元の値 ○"), values.midY - 10 * u)
        label(c.en("decoded ▬", ja: "復元値 ▬"), values.midY + 10 * u)
        c.text("±\(short(range))", Point(values.x - 4 * u, values.y + 6 * u), size: small * 0.65, color: theme.muted, anchor: .end)
        for v in [range, -range] { c.line([Point(values.x - 2 * u, vy(v)), Point(values.x, vy(v))], color: theme.muted, width: 1 * u) }
        for i in 0..<n {
            c.rect(Rect(cx(i) - cellW * 0.35, vy(row.stored.decoded[i]) - 1.5 * u, cellW * 0.7, 3 * u), fill: c.theme.group(0), role: "decoded")
            c.circle(Point(cx(i), vy(row.original[i])), radius: min(cellW * 0.3, 4 * u), fill: nil, stroke: theme.foreground,
                     lineWidth: 1.2 * u, role: "original")
        }
        y += valuesH + 8 * u

        // Codes, dark for large ones; group edges of a value row drawn over them.
        label(c.en("codes 0…\(maxCode)", ja: "コード 0…\(maxCode)"), y + codesH / 2)
        let textSize = min(small * 0.7, cellW / (maxCode > 99 ? 2.1 : 1.3))
        for i in 0..<n {
            let code = Double(row.stored.codes[i]) / Double(maxCode)
            let fill = Color(hex: 0xF7F7F7).mixed(with: Color(hex: 0x0B3C5D), code)
            c.rect(Rect(x0 + Double(i) * cellW, y, cellW, codesH), fill: fill, stroke: theme.background, lineWidth: 0.5 * u, role: "code")
            if textSize >= 7 * u {
                c.text("\(row.stored.codes[i])", Point(cx(i), y + codesH / 2), size: textSize, color: theme.text(on: fill), anchor: .middle)
            }
        }
        if !key {
            for g in 0...(n / row.group) {
                let x = x0 + Double(g * row.group) * cellW
                c.line([Point(x, y - 4 * u), Point(x, y + codesH + 4 * u)], color: theme.foreground, width: 2 * u)
            }
        }
        y += codesH + 8 * u

        // Scales: a bar per channel for a key; a bracket per group with its numbers for a value.
        if key {
            label(c.en("scale per channel", ja: "チャネルごとのスケール"), y + scaleH / 2)
            let maxScale = row.stored.scales.reduce(Float(1e-12)) { max($0, $1.scale) }
            c.text(short(maxScale), Point(x0 - 4 * u, y + 6 * u), size: small * 0.65, color: theme.muted, anchor: .end)
            for i in 0..<n {
                let h = Double(row.stored.scales[i].scale / maxScale) * scaleH
                c.rect(Rect(x0 + Double(i) * cellW + cellW * 0.15, y + scaleH - h, cellW * 0.7, h), fill: c.theme.group(1), role: "scale")
            }
        } else {
            label(c.en("scale, min per group", ja: "グループごとのスケールと最小値"), y + scaleH / 2)
            for (g, s) in row.stored.scales.enumerated() {
                let a = x0 + Double(g * row.group) * cellW + 3 * u, b = x0 + Double((g + 1) * row.group) * cellW - 3 * u
                c.line([Point(a, y + 2 * u), Point(a, y + 10 * u), Point(b, y + 10 * u), Point(b, y + 2 * u)], color: c.theme.group(1), width: 2.5 * u, role: "scale")
                let text = c.en("scale \(short(s.scale)) · min \(short(s.min))", ja: "スケール\(short(s.scale)) · 最小\(short(s.min))")
                c.text(AttentionDiagram.shortened(text, toWidth: b - a, size: small * 0.8, c.style), Point((a + b) / 2, y + 10 * u + scaleH / 2),
                       size: small * 0.8, anchor: .middle)
            }
        }
        y += scaleH + 8 * u

        // Errors against the band ±scale/2 each element must stay in.
        let errorRect = Rect(x0, y, Double(n) * cellW, errorH)
        let bound = max(row.maxHalfScale, row.maxAbsError, 1e-12) * 1.1
        func ey(_ v: Float) -> Double { errorRect.midY - Double(v / bound) * errorRect.h / 2 }
        label(c.en("error", ja: "誤差"), errorRect.midY - 10 * u)
        label(c.en("band ±scale/2", ja: "幅 ±scale/2"), errorRect.midY + 10 * u)
        c.text("±\(short(bound))", Point(x0 - 4 * u, errorRect.y + 6 * u), size: small * 0.65, color: theme.muted, anchor: .end)
        for i in 0..<n {
            let half = row.scale(i).scale / 2
            c.rect(Rect(x0 + Double(i) * cellW, ey(half), cellW, ey(-half) - ey(half)), fill: c.theme.group(2).withAlpha(0.28), role: "band")
        }
        c.line([Point(errorRect.x, errorRect.midY), Point(errorRect.maxX, errorRect.midY)], color: theme.grid, width: 1 * u)
        for (i, e) in errors.enumerated() {
            let outside = abs(e) > row.scale(i).scale / 2
            c.rect(Rect(cx(i) - cellW * 0.25, min(ey(e), errorRect.midY), cellW * 0.5, abs(ey(e) - errorRect.midY)),
                   fill: outside ? c.theme.group(5) : theme.foreground, role: outside ? "error-outside" : "error")
        }
    }

    /// A number with about three significant digits, for scales, minima and axis bounds.
    public static func short(_ x: Float) -> String {
        let m = abs(Double(x))
        let decimals = m >= 100 ? 1 : m >= 10 ? 2 : m >= 1 ? 3 : m >= 0.1 ? 4 : m >= 0.01 ? 5 : 6
        return Format.fixed(Double(x), decimals)
    }
}
