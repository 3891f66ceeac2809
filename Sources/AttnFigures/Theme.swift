import AttnTrace

/// The themes figures come in, by name.
public enum ThemeName: String, CaseIterable, Sendable {
    case light, dark

    public var theme: Theme {
        switch self {
        case .light: .light
        case .dark: .dark
        }
    }
}

/// Colours of a figure. K/V head g, the g-th cache-producing layer and the g-th series of a chart
/// are always `group(g)`, in every figure of a theme.
///
/// Each theme's palette has 8 colours chosen for a projector as much as for a screen: every one
/// stands out from the background by a contrast ratio of at least 3:1 (WCAG's rule for graphics,
/// which Okabe & Ito's yellow and sky blue miss on white), and every two differ by a CIELAB
/// distance of at least 12 for normal vision and under simulated deuteranopia and protanopia
/// (Machado et al. 2009) — both checked by the tests. The light palette starts with Okabe & Ito's
/// blue, vermillion, bluish green and reddish purple and adds four of Paul Tol's; the dark one
/// takes the lighter Okabe & Ito colours. Past 8 groups colours repeat: figures label each group
/// (kv0, kv1, …), so the colour is never the only cue.
public struct Theme: Sendable {
    public let name: String
    public let background: Color
    public let foreground: Color
    public let muted: Color
    public let grid: Color
    public let panel: Color
    public let highlight: Color
    public let palette: [Color]

    public static let light = Theme(name: "light", background: Color(hex: 0xFFFFFF), foreground: Color(hex: 0x1F2328),
                                    muted: Color(hex: 0x59636E), grid: Color(hex: 0xD8DEE4), panel: Color(hex: 0xF4F6F8),
                                    highlight: Color(hex: 0xD55E00),
                                    palette: [0x0072B2, 0xD55E00, 0x009E73, 0xCC79A7, 0x332288, 0x882255, 0x117733, 0xEE6677].map { Color(hex: $0) })
    public static let dark = Theme(name: "dark", background: Color(hex: 0x14171C), foreground: Color(hex: 0xE6EDF3),
                                   muted: Color(hex: 0xA8B1BB), grid: Color(hex: 0x343B44), panel: Color(hex: 0x1E232A),
                                   highlight: Color(hex: 0xF0E442),
                                   palette: [0x56B4E9, 0xE69F00, 0x009E73, 0xCC79A7, 0xCC3311, 0xDDCC77, 0x3969AC, 0xEE99AA].map { Color(hex: $0) })

    public func group(_ g: Int) -> Color { palette[g % palette.count] }

    /// Black or white, whichever reads better on `fill`.
    public func text(on fill: Color) -> Color { fill.luminance > 0.3 ? Color(hex: 0x111111) : Color(hex: 0xFFFFFF) }
}

/// How wide a line of text is set, in canvas units: the renderer's font metrics (AttnRender's
/// `Renderer.metrics` reads them from the fonts it draws with), so figures lay text out by the
/// widths it will really have.
public struct TextMetrics: Sendable {
    /// The advance of `text` at `size` in `weight`.
    public let width: @Sendable (_ text: String, _ size: Double, _ weight: FontWeight) -> Double
    public init(width: @escaping @Sendable (String, Double, FontWeight) -> Double) { self.width = width }
}

/// Canvas size, theme, language, title and text metrics of a figure.
public struct Style: Sendable {
    public var width: Double = 1600
    public var height: Double = 900
    public var theme: Theme = .light
    /// The language of every word the figure writes (symbols and units stay as they are).
    public var language: Language = .en
    /// Replaces the figure's own title when set.
    public var title: String? = nil
    public let metrics: TextMetrics
    public init(metrics: TextMetrics) { self.metrics = metrics }

    /// Type sizes for a 1600×900 slide, scaled with the canvas: legible when projected.
    public var unit: Double { min(width / 1600, height / 900) }
    public var titleSize: Double { 34 * unit }
    public var labelSize: Double { 22 * unit }
    public var smallSize: Double { 17 * unit }

    /// The width `s` will be set in.
    public func textWidth(_ s: String, size: Double, weight: FontWeight = .regular) -> Double { metrics.width(s, size, weight) }

    /// `english` or `japanese`, in the figure's language.
    public func en(_ english: String, ja japanese: String) -> String { language.en(english, ja: japanese) }

    /// Refuses canvases whose smallest text would be under ~9 px.
    public func requireLegible() throws(FigureError) {
        guard unit >= 0.6 else {
            throw FigureError(.size, "\(Int(width))x\(Int(height)) is too small for legible text (at least 960x540; slides use 1600x900)")
        }
    }
}

/// Builds one page: drawing calls append shapes.
public struct Canvas {
    public let style: Style
    public private(set) var page = Page()
    public init(style: Style, page: Page = Page()) {
        self.style = style
        self.page = page
    }
    public var theme: Theme { style.theme }

    /// `english` or `japanese`, in the figure's language.
    public func en(_ english: String, ja japanese: String) -> String { style.en(english, ja: japanese) }

    public mutating func rect(_ r: Rect, fill: Color?, stroke: Color? = nil, lineWidth: Double = 1.5, radius: Double = 0, role: String? = nil) {
        page.items.append(Item(shape: .rect(r, fill: fill, stroke: stroke, lineWidth: lineWidth, radius: radius), role: role))
    }

    public mutating func line(_ points: [Point], color: Color, width: Double = 2, dash: [Double] = [], arrow: Bool = false, role: String? = nil) {
        page.items.append(Item(shape: .line(points, color: color, width: width, dash: dash, arrow: arrow), role: role))
    }

    public mutating func polygon(_ points: [Point], fill: Color, role: String? = nil) {
        page.items.append(Item(shape: .polygon(points, fill: fill), role: role))
    }

    public mutating func circle(_ c: Point, radius: Double, fill: Color?, stroke: Color? = nil, lineWidth: Double = 1.5, role: String? = nil) {
        page.items.append(Item(shape: .circle(c, radius: radius, fill: fill, stroke: stroke, lineWidth: lineWidth), role: role))
    }

    public mutating func text(_ s: String, _ at: Point, size: Double, color: Color? = nil, anchor: TextAnchor = .start,
                              weight: FontWeight = .regular, rotation: Double = 0, role: String? = nil) {
        page.items.append(Item(shape: .text(s, at: at, size: size, color: color ?? theme.foreground, anchor: anchor, weight: weight,
                                            rotation: rotation), role: role))
    }

    /// The figure title, top left, and an optional subtitle under it. Returns the y below them.
    @discardableResult
    public mutating func header(_ title: String, subtitle: String? = nil) -> Double {
        let u = style.unit
        text(style.title ?? title, Point(40 * u, 44 * u), size: style.titleSize, weight: .bold, role: "title")
        if let subtitle { text(subtitle, Point(40 * u, 86 * u), size: style.smallSize, color: theme.muted) }
        return (subtitle == nil ? 80 : 112) * u
    }

    /// `s` wrapped to `width` (English between words, Japanese between characters) and drawn one
    /// line under the other from `at` (the first line's centre line); at most `maxLines`, the last
    /// cut with "…" when more were needed. Returns the y of the line after the last.
    @discardableResult
    public mutating func paragraph(_ s: String, _ at: Point, width: Double, size: Double, color: Color? = nil, weight: FontWeight = .regular,
                                   lineHeight: Double = 1.4, maxLines: Int = .max, role: String? = nil) -> Double {
        let lines = fitted(s, width: width, size: size, weight: weight, maxLines: maxLines)
        for (i, line) in lines.enumerated() {
            text(line, Point(at.x, at.y + Double(i) * size * lineHeight), size: size, color: color, weight: weight, role: role)
        }
        return at.y + Double(lines.count) * size * lineHeight
    }

    /// The lines `paragraph` draws.
    public func fitted(_ s: String, width: Double, size: Double, weight: FontWeight = .regular, maxLines: Int = .max) -> [String] {
        var lines = LineBreaking.wrap(s, width: width) { style.textWidth($0, size: size, weight: weight) }
        guard lines.count > maxLines, maxLines > 0 else { return lines }
        lines.removeLast(lines.count - maxLines)
        var last = lines[maxLines - 1]
        while !last.isEmpty && style.textWidth(last + "…", size: size, weight: weight) > width { last.removeLast() }
        lines[maxLines - 1] = last + "…"
        return lines
    }

    /// A source line readable from the back row: the small text size, darker than muted grey,
    /// wrapped to at most two lines at the bottom left.
    public mutating func footnote(_ s: String) {
        let u = style.unit, size = style.smallSize
        let lines = fitted(s, width: style.width - 80 * u, size: size, maxLines: 2)
        for (i, line) in lines.enumerated() {
            text(line, Point(40 * u, style.height - 24 * u - Double(lines.count - 1 - i) * size * 1.3), size: size,
                 color: theme.muted.mixed(with: theme.foreground, 0.5), role: "footnote")
        }
    }
}
