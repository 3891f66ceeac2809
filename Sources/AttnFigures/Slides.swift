import AttnTrace

extension Page {
    /// The page scaled by `s` and moved by (dx, dy): figures placed inside a slide.
    public func placed(scale s: Double, dx: Double, dy: Double) -> Page {
        func p(_ q: Point) -> Point { Point(q.x * s + dx, q.y * s + dy) }
        var out = Page()
        for item in items {
            let shape: Shape
            switch item.shape {
            case let .rect(r, fill, stroke, w, radius):
                shape = .rect(Rect(r.x * s + dx, r.y * s + dy, r.w * s, r.h * s), fill: fill, stroke: stroke, lineWidth: w * s, radius: radius * s)
            case let .line(points, color, width, dash, arrow):
                shape = .line(points.map(p), color: color, width: width * s, dash: dash.map { $0 * s }, arrow: arrow)
            case let .polygon(points, fill): shape = .polygon(points.map(p), fill: fill)
            case let .circle(c, r, fill, stroke, w): shape = .circle(p(c), radius: r * s, fill: fill, stroke: stroke, lineWidth: w * s)
            case let .text(t, at, size, color, anchor, weight, rotation):
                shape = .text(t, at: p(at), size: size * s, color: color, anchor: anchor, weight: weight, rotation: rotation)
            }
            out.items.append(Item(shape: shape, role: item.role))
        }
        return out
    }
}

/// 16:9 slides for a lesson, one idea per slide: a title slide, one slide per step (its title, its
/// takeaway, its figure as large as the page allows, at most three labelled key numbers and its
/// checks on one line) and a summary slide; every line is wrapped by the real font's widths and
/// stays inside the margin. `notes` makes the speaker's companion: each slide small, with the
/// step's whole narration under it.
public enum Slides {
    public struct StepSlide: Sendable {
        public let title: String
        /// The one sentence the slide states.
        public let takeaway: String
        public let figure: Page?
        public let figureSize: (width: Double, height: Double)
        /// Labelled key numbers, at most three.
        public let numbers: [(label: String, value: String)]
        /// The narration as plain paragraphs: the body of a slide without a figure, and the notes.
        public let paragraphs: [String]
        /// Each check's text and whether it held.
        public let checks: [(text: String, passed: Bool)]
        public init(title: String, takeaway: String, figure: Page?, figureSize: (width: Double, height: Double),
                    numbers: [(label: String, value: String)], paragraphs: [String], checks: [(text: String, passed: Bool)]) {
            self.title = title
            self.takeaway = takeaway
            self.figure = figure
            self.figureSize = figureSize
            self.numbers = numbers
            self.paragraphs = paragraphs
            self.checks = checks
        }
    }

    /// The margin no text crosses, in canvas units at 1600×900.
    public static let margin = 56.0

    /// The deck: title slide, a slide per step, summary slide.
    public static func deck(id: String, title: String, summary: String, steps: [StepSlide], style: Style) -> Figure {
        let pages = [cover(id: id, title: title, summary: summary, steps: steps, style: style)]
            + steps.enumerated().map { slide($0.element, index: $0.offset, of: steps.count, id: id, style: style) }
            + [recap(id: id, steps: steps, style: style)]
        return Figure(style: style, pages: pages, title: title)
    }

    /// Speaker notes: one page per slide of `deck`, the slide at half size and, under it, the
    /// step's whole narration (the lesson's summary on the title page).
    public static func notes(id: String, title: String, summary: String, steps: [StepSlide], style: Style) -> Figure {
        let deck = deck(id: id, title: title, summary: summary, steps: steps, style: style)
        let u = style.unit, m = margin * u
        var pages: [Page] = []
        for (i, slide) in deck.pages.enumerated() {
            var c = Canvas(style: style)
            let s = 0.45
            c.rect(Rect(m, m, style.width * s, style.height * s), fill: nil, stroke: c.theme.grid, lineWidth: 1 * u)
            var page = c.page
            page.items += slide.placed(scale: s, dx: m, dy: m).items
            c = Canvas(style: style, page: page)
            let textX = m + style.width * s + 40 * u, textW = style.width - m - textX
            let heading = i == 0 ? title : i <= steps.count ? "\(i). \(steps[i - 1].title)" : c.en("Summary", ja: "まとめ")
            var y = c.paragraph(heading, Point(textX, m + 14 * u), width: textW, size: style.labelSize, weight: .bold, maxLines: 3)
            if i >= 1 && i <= steps.count {
                for n in steps[i - 1].numbers { y = c.paragraph("\(n.value) — \(n.label)", Point(textX, y + 8 * u), width: textW, size: style.smallSize, maxLines: 2) }
            }
            let body = i == 0 ? [summary] : i <= steps.count ? steps[i - 1].paragraphs : steps.map { "\($0.title): \($0.takeaway)" }
            // The narration below the slide, in the largest size that fits the page.
            let top = m + style.height * s + 36 * u, room = style.height - m - top
            var size = style.labelSize
            while size > style.smallSize * 0.8 {
                let height = body.reduce(0.0) { $0 + Double(c.fitted($1, width: style.width - 2 * m, size: size).count) * size * 1.4 + size * 0.6 }
                if height <= room { break }
                size -= 1 * u
            }
            y = top
            for paragraph in body { y = c.paragraph(paragraph, Point(m, y), width: style.width - 2 * m, size: size, maxLines: Int(room / (size * 1.4))) + size * 0.6 }
            pages.append(c.page)
        }
        return Figure(style: style, pages: pages, title: title)
    }

    static func cover(id: String, title: String, summary: String, steps: [StepSlide], style: Style) -> Page {
        let u = style.unit, m = margin * u, w = style.width - 2 * m
        var c = Canvas(style: style)
        c.rect(Rect(0, 0, 14 * u, style.height), fill: c.theme.group(0))
        var y = c.paragraph(title, Point(m, 150 * u), width: w, size: style.titleSize * 1.6, weight: .bold, lineHeight: 1.25, maxLines: 2)
        y = c.paragraph(summary, Point(m, y + 24 * u), width: w, size: style.labelSize * 1.2, color: c.theme.muted, maxLines: 4)
        y += 30 * u
        for (i, step) in steps.enumerated() {
            y = c.paragraph("\(i + 1). \(step.title)", Point(m + 10 * u, y), width: w - 10 * u, size: style.labelSize, maxLines: 1)
        }
        c.text(c.en("AttnLab · \(id) · every number on these slides was computed by the run that made them",
                    ja: "AttnLab · \(id) · このスライドの数値はすべて、スライドを作った実行で計算したもの"),
               Point(m, style.height - m / 2 - 6 * u), size: style.smallSize, color: c.theme.muted)
        return c.page
    }

    static func slide(_ step: StepSlide, index: Int, of count: Int, id: String, style: Style) -> Page {
        let u = style.unit, m = margin * u, w = style.width - 2 * m
        var c = Canvas(style: style)
        var y = c.paragraph("\(index + 1). \(step.title)", Point(m, m + 4 * u), width: w, size: style.titleSize * 1.05, weight: .bold, lineHeight: 1.2, maxLines: 2)
        if !step.takeaway.isEmpty {
            let top = y - 4 * u
            y = c.paragraph(step.takeaway, Point(m + 18 * u, y + 14 * u), width: w - 18 * u, size: style.labelSize * 1.1, lineHeight: 1.35, maxLines: 3)
            c.rect(Rect(m, top, 6 * u, y - top - 4 * u), fill: c.theme.group(0))
        }
        let bottom = style.height - m - 26 * u
        let bodyTop = y + 18 * u
        // Key numbers in a column on the right; the figure (or the narration) takes the rest.
        var bodyRight = style.width - m
        if !step.numbers.isEmpty {
            let columnW = 330 * u, x = style.width - m - columnW
            var ny = bodyTop + 24 * u
            for n in step.numbers {
                // A number is never broken: a long one is set smaller until it fits the column.
                var size = style.titleSize * 1.15
                while size > style.labelSize && style.textWidth(n.value, size: size, weight: .bold) > columnW { size -= 1 * u }
                ny = c.paragraph(n.value, Point(x, ny), width: columnW, size: size, weight: .bold, lineHeight: 1.15, maxLines: 2, role: "key-number")
                ny = c.paragraph(n.label, Point(x, ny - 6 * u), width: columnW, size: style.smallSize * 1.1, color: c.theme.muted, lineHeight: 1.3, maxLines: 3) + 26 * u
            }
            bodyRight = x - 30 * u
        }
        let box = Rect(m, bodyTop, bodyRight - m, bottom - bodyTop - 20 * u)
        if let figure = step.figure {
            let s = min(box.w / step.figureSize.width, box.h / step.figureSize.height)
            let placed = Rect(box.x + (box.w - step.figureSize.width * s) / 2, box.y, step.figureSize.width * s, step.figureSize.height * s)
            c.rect(placed, fill: nil, stroke: c.theme.grid, lineWidth: 1 * u)
            var page = c.page
            page.items += figure.placed(scale: s, dx: placed.x, dy: placed.y).items
            c = Canvas(style: style, page: page)
        } else {
            // The narration in the largest size (up to 30 px at 1600×900) that fits the body.
            var size = 30 * u
            func height(_ size: Double) -> Double {
                step.paragraphs.reduce(0.0) { $0 + Double(c.fitted($1, width: box.w, size: size).count) * size * 1.45 + size * 0.5 }
            }
            while size > style.smallSize && height(size) > box.h { size -= 1 * u }
            let lines = Int(box.h / (size * 1.45))
            var py = box.y + size / 2
            var left = lines
            for paragraph in step.paragraphs where left > 0 {
                let next = c.paragraph(paragraph, Point(box.x, py), width: box.w, size: size, lineHeight: 1.45, maxLines: left)
                left -= Int(((next - py) / (size * 1.45)).rounded())
                py = next + size * 0.5
            }
        }
        let failed = step.checks.filter { !$0.passed }
        if !step.checks.isEmpty {
            let line = failed.isEmpty
                ? "✓ " + c.en("\(step.checks.count == 1 ? "the check holds" : "all \(step.checks.count) checks hold"): ", ja: "チェック\(step.checks.count)件すべて成立:")
                    + step.checks.map(\.text).joined(separator: " · ")
                : "✗ " + c.en("\(failed.count) of \(step.checks.count) checks failed: ", ja: "チェック\(step.checks.count)件中\(failed.count)件が不成立:") + failed.map(\.text).joined(separator: " · ")
            c.paragraph(line, Point(m, bottom + 8 * u), width: w - 120 * u, size: style.smallSize, color: failed.isEmpty ? c.theme.muted : c.theme.highlight, maxLines: 1, role: "checks")
        }
        c.text("\(index + 2) / \(count + 2)", Point(style.width - m, bottom + 8 * u), size: style.smallSize, color: c.theme.muted, anchor: .end)
        return c.page
    }

    static func recap(id: String, steps: [StepSlide], style: Style) -> Page {
        let u = style.unit, m = margin * u, w = style.width - 2 * m
        var c = Canvas(style: style)
        var y = c.paragraph(c.en("What the runs showed", ja: "実行で確かめたこと"), Point(m, m + 4 * u), width: w, size: style.titleSize * 1.05, weight: .bold)
        let size = style.labelSize, room = style.height - m - 30 * u - y
        let perStep = max(1, Int(room / (size * 1.4 + 16 * u)) / max(1, steps.count))
        for (i, step) in steps.enumerated() {
            let top = y + 16 * u
            c.text("\(i + 1).", Point(m, top), size: size, weight: .bold)
            y = c.paragraph(step.takeaway.isEmpty ? step.title : step.takeaway, Point(m + 40 * u, top), width: w - 40 * u, size: size, maxLines: perStep)
        }
        let total = steps.reduce(0) { $0 + $1.checks.count }, failed = steps.reduce(0) { $0 + $1.checks.filter { !$0.passed }.count }
        c.text(failed == 0 ? c.en("✓ all \(total) checks hold · AttnLab · \(id)", ja: "✓ チェック\(total)件すべて成立 · AttnLab · \(id)")
                           : c.en("✗ \(failed) of \(total) checks failed · AttnLab · \(id)", ja: "✗ チェック\(total)件中\(failed)件が不成立 · AttnLab · \(id)"),
               Point(m, style.height - m / 2 - 6 * u), size: style.smallSize, color: failed == 0 ? c.theme.muted : c.theme.highlight)
        return c.page
    }
}
