import AttnFigures
import AttnTrace

/// A page as SVG written directly from its shapes: every label is a real `<text>` element naming
/// its fonts ("DejaVu Sans", and "Noto Sans CJK JP" for its Japanese runs, as PNG and PDF are
/// drawn), so a slide tool can edit, search and translate it. Coordinates are written
/// with at most two decimals by integer arithmetic, so the same figure gives the same bytes on
/// every machine; there are no ids, so several figures can share one HTML page.
enum SVG {
    static func document(_ page: Page, _ figure: Figure) -> String {
        var out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        out += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(n(figure.width))\" height=\"\(n(figure.height))\" "
        out += "viewBox=\"0 0 \(n(figure.width)) \(n(figure.height))\" stroke-linecap=\"round\" stroke-linejoin=\"round\">\n"
        out += "<title>\(escape(figure.title))</title>\n"
        out += "<rect width=\"\(n(figure.width))\" height=\"\(n(figure.height))\"\(paint("fill", figure.background))/>\n"
        for item in page.items { out += element(item.shape) }
        return out + "</svg>\n"
    }

    static func element(_ shape: Shape) -> String {
        switch shape {
        case let .rect(r, fill, stroke, lineWidth, radius):
            let rad = min(radius, r.w / 2, r.h / 2)
            return "<rect x=\"\(n(r.x))\" y=\"\(n(r.y))\" width=\"\(n(r.w))\" height=\"\(n(r.h))\""
                + (rad > 0 ? " rx=\"\(n(rad))\"" : "") + paint("fill", fill) + self.stroke(stroke, lineWidth) + "/>\n"
        case let .line(points, color, width, dash, arrow):
            guard points.count >= 2 else { return "" }
            var s = "<polyline points=\"\(list(points))\" fill=\"none\"" + stroke(color, width)
            if !dash.isEmpty { s += " stroke-dasharray=\"\(dash.map(n).joined(separator: " "))\"" }
            s += "/>\n"
            if arrow, let head = Renderer.arrowhead(from: points[points.count - 2], to: points[points.count - 1], size: max(8, width * 4)) {
                s += "<polygon points=\"\(list(head))\"\(paint("fill", color))/>\n"
            }
            return s
        case let .polygon(points, fill):
            return points.isEmpty ? "" : "<polygon points=\"\(list(points))\"\(paint("fill", fill))/>\n"
        case let .circle(c, radius, fill, stroke, lineWidth):
            return "<circle cx=\"\(n(c.x))\" cy=\"\(n(c.y))\" r=\"\(n(radius))\"" + paint("fill", fill) + self.stroke(stroke, lineWidth) + "/>\n"
        case let .text(s, at, size, color, anchor, weight, rotation):
            // The text's font is its first run's; runs in the other font are <tspan>s naming theirs.
            let runs = Renderer.fontRuns(s)
            let family = { (cjk: Bool) in cjk ? Renderer.cjkFont.0 : Renderer.latinFont.0 }
            let first = runs.first?.cjk ?? false
            let baseline = Renderer.baselineOffset(s, size: size, weight: weight)
            let place = rotation == 0 ? "x=\"\(n(at.x))\" y=\"\(n(at.y + baseline))\""
                : "x=\"0\" y=\"\(n(baseline))\" transform=\"translate(\(n(at.x)) \(n(at.y))) rotate(\(n(rotation * 180 / Double.pi)))\""
            let anchorName = switch anchor { case .start: ""; case .middle: " text-anchor=\"middle\""; case .end: " text-anchor=\"end\"" }
            let body = runs.map { $0.cjk == first ? escape($0.text) : "<tspan font-family=\"\(family($0.cjk))\">\(escape($0.text))</tspan>" }.joined()
            return "<text \(place) font-family=\"\(family(first))\" font-size=\"\(n(size))\"" + (weight == .bold ? " font-weight=\"bold\"" : "")
                + anchorName + paint("fill", color) + " xml:space=\"preserve\">\(body)</text>\n"
        }
    }

    /// ` fill="#rrggbb"` (with `fill-opacity` below 1), or ` fill="none"`.
    static func paint(_ attribute: String, _ color: Color?) -> String {
        guard let c = color else { return " \(attribute)=\"none\"" }
        func byte(_ v: Double) -> String {
            let b = Int((min(1, max(0, v)) * 255).rounded())
            let digits = Array("0123456789abcdef")
            return String([digits[b / 16], digits[b % 16]])
        }
        return " \(attribute)=\"#\(byte(c.r))\(byte(c.g))\(byte(c.b))\"" + (c.a < 1 ? " \(attribute)-opacity=\"\(n(c.a))\"" : "")
    }

    static func stroke(_ color: Color?, _ width: Double) -> String {
        guard let color else { return "" }
        return paint("stroke", color) + " stroke-width=\"\(n(width))\""
    }

    static func list(_ points: [Point]) -> String { points.map { "\(n($0.x)),\(n($0.y))" }.joined(separator: " ") }

    /// `v` rounded to two decimals, written without trailing zeros: `12`, `12.5`, `-0.25`.
    static func n(_ v: Double) -> String {
        let hundredths = Int((v * 100).rounded())
        let sign = hundredths < 0 ? "-" : "", a = abs(hundredths)
        let whole = a / 100, frac = a % 100
        if frac == 0 { return "\(sign)\(whole)" }
        return frac % 10 == 0 ? "\(sign)\(whole).\(frac / 10)" : "\(sign)\(whole).\(frac < 10 ? "0" : "")\(frac)"
    }

    static func escape(_ s: String) -> String { Format.xmlEscaped(s) }
}
