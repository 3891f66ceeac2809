import AttnFigures
import AttnRender

// Reading a figure's display list back: the shapes of a role, texts, and the plot's grid.

/// The rects of `role` on `page`, with their fill.
func rects(_ page: Page, _ role: String?) -> [(rect: Rect, fill: Color?)] {
    page.items.compactMap { item in
        guard item.role == role, case .rect(let r, let fill, _, _, _) = item.shape else { return nil }
        return (r, fill)
    }
}

/// Every text on `page` with where it is anchored.
func texts(_ page: Page) -> [(text: String, at: Point, size: Double, anchor: TextAnchor, rotation: Double)] {
    page.items.compactMap { item in
        if case .text(let s, let at, let size, _, let anchor, _, let rotation) = item.shape { (s, at, size, anchor, rotation) } else { nil }
    }
}

func contains(_ r: Rect, _ p: Point) -> Bool { p.x >= r.x && p.x <= r.maxX && p.y >= r.y && p.y <= r.maxY }

/// The centres of the circles of `role`.
func circles(_ page: Page, _ role: String) -> [Point] {
    page.items.compactMap { item in
        guard item.role == role, case .circle(let c, _, _, _, _) = item.shape else { return nil }
        return c
    }
}

/// A chart's grid: the tick lines in the theme's grid colour, each with the value its label states
/// when `parse` can read it. Vertical lines are x ticks (label below), horizontal lines y ticks
/// (label to the left).
func gridTicks(_ page: Page, theme: Theme, parse: (String) -> Double?) -> (x: [(at: Double, value: Double?)], y: [(at: Double, value: Double?)]) {
    let labels = texts(page)
    var xs: [(Double, Double?)] = [], ys: [(Double, Double?)] = []
    for item in page.items {
        guard case .line(let points, let color, _, _, _) = item.shape, color == theme.grid, points.count == 2 else { continue }
        let (a, b) = (points[0], points[1])
        if a.x == b.x {
            let label = labels.first { $0.anchor == .middle && $0.at.x == a.x && $0.at.y > max(a.y, b.y) }
            xs.append((a.x, label.flatMap { parse($0.text) }))
        } else if a.y == b.y {
            let label = labels.first { $0.anchor == .end && $0.at.y == a.y && $0.at.x < min(a.x, b.x) }
            ys.append((a.y, label.flatMap { parse($0.text) }))
        }
    }
    return (xs, ys)
}
