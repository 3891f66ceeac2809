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

/// 16:9 slides for a lesson: a title slide, then one slide per step with its title, its figure
/// (scaled into the left part) and its key numbers and checks on the right.
public enum Slides {
    public struct StepSlide: Sendable {
        public let title: String
        public let figure: Page?
        public let figureSize: (width: Double, height: Double)
        public let lines: [String]
        public init(title: String, figure: Page?, figureSize: (width: Double, height: Double), lines: [String]) {
            self.title = title
            self.figure = figure
            self.figureSize = figureSize
            self.lines = lines
        }
    }

    public static func deck(title: String, summary: String, steps: [StepSlide], style: Style) -> Figure {
        let u = style.unit
        var cover = Canvas(style: style)
        cover.text(title, Point(80 * u, style.height * 0.42), size: style.titleSize * 1.5, weight: .bold)
        cover.text(summary, Point(80 * u, style.height * 0.42 + 70 * u), size: style.labelSize, color: cover.theme.muted)
        cover.footnote("AttnLab — every number on these slides was computed by the run that made them.")
        var pages = [cover.page]
        for (i, step) in steps.enumerated() {
            var c = Canvas(style: style)
            let top = c.header("\(i + 1). \(step.title)")
            var textX = 60 * u
            if let figure = step.figure {
                let box = Rect(40 * u, top + 10 * u, style.width * 0.66, style.height - top - 60 * u)
                let s = min(box.w / step.figureSize.width, box.h / step.figureSize.height)
                c.rect(Rect(box.x, box.y, step.figureSize.width * s, step.figureSize.height * s), fill: nil, stroke: c.theme.grid, lineWidth: 1 * u)
                var page = c.page
                page.items += figure.placed(scale: s, dx: box.x, dy: box.y).items
                c = Canvas(style: style, page: page)
                textX = box.x + step.figureSize.width * s + 30 * u
            }
            var y = top + 40 * u
            let size = step.figure == nil ? style.labelSize * 1.2 : style.smallSize
            for line in step.lines {
                c.text(line, Point(textX, y), size: size, color: line.hasPrefix("✗") ? c.theme.highlight : nil)
                y += size * 1.7
            }
            pages.append(c.page)
        }
        return Figure(style: style, pages: pages, title: title)
    }
}
