import AttnEngine
/// Figures as values: pages of shapes in canvas units (1 unit = 1 px at scale 1). Diagrams build
/// them as pure functions of a model or a run; only AttnRender turns them into pixels or vectors.

public struct Point: Equatable, Sendable {
    public var x: Double, y: Double
    public init(_ x: Double, _ y: Double) { self.x = x; self.y = y }
}

public struct Rect: Equatable, Sendable {
    public var x: Double, y: Double, w: Double, h: Double
    public init(_ x: Double, _ y: Double, _ w: Double, _ h: Double) { self.x = x; self.y = y; self.w = w; self.h = h }
    public var midX: Double { x + w / 2 }
    public var midY: Double { y + h / 2 }
    public var maxX: Double { x + w }
    public var maxY: Double { y + h }
    public func inset(_ d: Double) -> Rect { Rect(x + d, y + d, w - 2 * d, h - 2 * d) }
}

/// An sRGB colour with alpha, components in 0…1.
public struct Color: Equatable, Hashable, Sendable {
    public var r: Double, g: Double, b: Double, a: Double
    public init(r: Double, g: Double, b: Double, a: Double = 1) { self.r = r; self.g = g; self.b = b; self.a = a }
    public init(hex: UInt32, alpha: Double = 1) {
        self.init(r: Double((hex >> 16) & 0xff) / 255, g: Double((hex >> 8) & 0xff) / 255, b: Double(hex & 0xff) / 255, a: alpha)
    }
    public func withAlpha(_ a: Double) -> Color { Color(r: r, g: g, b: b, a: a) }
    /// Linear blend towards `other` (t = 0: self, 1: other).
    public func mixed(with other: Color, _ t: Double) -> Color {
        Color(r: r + (other.r - r) * t, g: g + (other.g - g) * t, b: b + (other.b - b) * t, a: a + (other.a - a) * t)
    }
    /// Approximate relative luminance (sRGB decoded with gamma 2), to pick black or white text.
    public var luminance: Double { 0.2126 * r * r + 0.7152 * g * g + 0.0722 * b * b }
}

public enum TextAnchor: Sendable { case start, middle, end }
public enum FontWeight: Sendable { case regular, bold }

public enum Shape: Sendable {
    case rect(Rect, fill: Color?, stroke: Color?, lineWidth: Double, radius: Double)
    case line([Point], color: Color, width: Double, dash: [Double], arrow: Bool)
    case polygon([Point], fill: Color)
    case circle(Point, radius: Double, fill: Color?, stroke: Color?, lineWidth: Double)
    /// Text centred vertically on `at.y`, anchored horizontally at `at.x`, rotated by `rotation`
    /// radians about `at`.
    case text(String, at: Point, size: Double, color: Color, anchor: TextAnchor, weight: FontWeight, rotation: Double)
}

/// A shape with an optional role (`q-head`, `tile`, …) that tests and tools can count.
public struct Item: Sendable {
    public let shape: Shape
    public let role: String?
}

public struct Page: Sendable {
    public var items: [Item] = []
    public init() {}
    public func count(role: String) -> Int { items.filter { $0.role == role }.count }
}

public struct Figure: Sendable {
    public let width: Double
    public let height: Double
    public let background: Color
    public var pages: [Page]
    public let title: String

    public init(width: Double, height: Double, background: Color, pages: [Page], title: String) {
        self.width = width
        self.height = height
        self.background = background
        self.pages = pages
        self.title = title
    }

    public init(style: Style, pages: [Page], title: String) {
        self.init(width: style.width, height: style.height, background: style.theme.background, pages: pages, title: style.title ?? title)
    }
}

/// Something a figure cannot show at the requested size, with what to do instead.
public struct FigureError: AttnLabError, CustomStringConvertible {
    public let subject: Subject
    public let reason: String
    public init(_ field: Field, _ reason: String) { self.init(.fields([field]), reason) }
    public init(_ subject: Subject, _ reason: String) { self.subject = subject; self.reason = reason }
    public var description: String { "\(subject): \(reason)" }
}

/// A diagram drawn from a model's shape alone (no run): heads, layers.
public protocol ShapeDiagram {
    static func figure(_ config: DecoderConfig, dtype: DType, style: Style) throws(FigureError) -> Figure
}
