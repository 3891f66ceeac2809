import AttnEngine
import AttnTiling
import AttnTrace

/// How an axis writes its tick values.
enum TickFormat {
    /// Plain numbers: on a linear axis every label with the decimals of the tick step ("0.0, 2.5,
    /// 5.0"); on a log axis each with the fewest it needs ("0.01, 0.1, 1, 10").
    case number
    /// Counts with k, M, G: one suffix per linear axis ("0, 50k, 100k"), per value on a log axis.
    case count
    /// Context lengths: binary thousands ("16k, 32k, 128k"), as context lengths are quoted.
    case tokens
}

/// An axis: linear or logarithmic, with ticks at round values.
struct Axis {
    let min: Double, max: Double, log: Bool
    let label: String
    var format: TickFormat = .number
    /// Ticks to use instead of the computed ones (e.g. the swept values).
    var explicitTicks: [Double]? = nil

    func position(_ v: Double, from a: Double, to b: Double) -> Double {
        // A ratio of logarithms, so any base will do; the engine's log is the same on every machine.
        let t = log ? (DetMath.log(v) - DetMath.log(min)) / (DetMath.log(max) - DetMath.log(min)) : (v - min) / (max - min)
        return a + (b - a) * t
    }

    /// The ticks with their labels.
    var ticks: [(value: Double, label: String)] {
        if let explicitTicks { return explicitTicks.map { ($0, Self.single($0, format)) } }
        if log {
            let values = NiceTicks.log(min, max)
            if values.count >= 2 { return values.map { ($0, Self.single($0, format)) } }
        }
        if format == .tokens, max >= 4096 {
            let values = NiceTicks.binary(min, max)
            return values.map { ($0, Ticks.tokens($0)) }
        }
        let (values, decimals) = NiceTicks.linear(min, max)
        switch format {
        case .number, .tokens: return values.map { ($0, Ticks.number($0, decimals: decimals)) }
        case .count:
            // One suffix for the axis, from its largest tick; the decimals the step needs in it.
            let top = values.map(abs).max() ?? 0
            let (scale, suffix) = top >= 1e9 ? (1e9, "G") : top >= 1e6 ? (1e6, "M") : top >= 1e4 ? (1e3, "k") : (1.0, "")
            let step = values.count >= 2 ? values[1] - values[0] : 1
            let d = Swift.max(0, NiceTicks.decimals(of: step / scale))
            return values.map { ($0, $0 == 0 ? "0" : Ticks.number($0 / scale, decimals: d) + suffix) }
        }
    }

    /// One value's label where each label stands alone (log and explicit ticks).
    private static func single(_ v: Double, _ format: TickFormat) -> String {
        switch format {
        case .number: Ticks.number(v, decimals: Swift.max(0, NiceTicks.decimals(of: v)))
        case .count: Ticks.count(v)
        case .tokens: Ticks.tokens(v)
        }
    }
}

/// Round tick values: on a linear axis steps of 1, 2, 2.5 or 5 × 10ᵏ, on a log axis powers of ten
/// (with 2 and 5 between them when the range spans few decades).
public enum NiceTicks {
    /// The multiples of the smallest step 1, 2, 2.5 or 5 × 10ᵏ that puts at most `maxCount` ticks
    /// in `lo…hi`, and the decimals that step needs (one count for the whole axis).
    public static func linear(_ lo: Double, _ hi: Double, maxCount: Int = 8) -> (values: [Double], decimals: Int) {
        guard hi > lo, lo.isFinite, hi.isFinite else { return ([lo], Swift.max(0, decimals(of: lo))) }
        // Start a decade below the range / maxCount and go up: the first step that fits is the smallest.
        var k = 0
        let raw = (hi - lo) / Double(maxCount)
        while power(k) > raw { k -= 1 }
        while power(k + 1) <= raw { k += 1 }
        k -= 1
        while true {
            for m in [1.0, 2, 2.5, 5] {
                let values = multiples(m, k, lo, hi)
                if values.count <= maxCount {
                    // 2.5 × 10ᵏ needs one decimal more than 10ᵏ.
                    return (values, Swift.max(0, -k + (m == 2.5 ? 1 : 0)))
                }
            }
            k += 1
        }
    }

    /// Powers of ten in `lo…hi`; with 2 and 5 × 10ᵏ too when that gives at most 9 ticks.
    public static func log(_ lo: Double, _ hi: Double) -> [Double] {
        guard lo > 0, hi > lo else { return [] }
        var k = 0
        while power(k) > lo { k -= 1 }
        while power(k + 1) <= lo { k += 1 }
        var decades: [Double] = [], all: [Double] = []
        while power(k) <= hi * (1 + 1e-12) {
            for m in [1.0, 2, 5] {
                let v = value(m, k)
                if v >= lo * (1 - 1e-12) && v <= hi * (1 + 1e-12) {
                    all.append(v)
                    if m == 1 { decades.append(v) }
                }
            }
            k += 1
        }
        return all.count <= 9 || decades.count < 2 ? all : decades
    }

    /// Multiples of 1024 × 2ʲ (1k, 2k, 4k … tokens) in `lo…hi`: at most 9 ticks.
    static func binary(_ lo: Double, _ hi: Double) -> [Double] {
        var step = 1024.0
        while ((hi / step).rounded(.down) - (lo / step).rounded(.up)) + 1 > 9 { step *= 2 }
        var out: [Double] = []
        var v = (lo / step).rounded(.up) * step
        while v <= hi { out.append(v); v += step }
        return out
    }

    /// The decimals `v` needs to be written exactly, up to 6 (0.25 → 2, 2.5 → 1, 50 → 0).
    static func decimals(of v: Double) -> Int {
        var d = 0, scaled = abs(v)
        while d < 6 && abs(scaled - scaled.rounded()) > 1e-9 * Swift.max(1, scaled) { scaled *= 10; d += 1 }
        return d
    }

    /// 10ᵏ, exact for k ≥ 0 and the nearest double for k < 0 (one correctly rounded division).
    private static func power(_ k: Int) -> Double { value(1, k) }

    /// m × 10ᵏ as the nearest double to the decimal number.
    private static func value(_ m: Double, _ k: Int) -> Double {
        var p = 1.0
        for _ in 0..<abs(k) { p *= 10 }
        return k >= 0 ? m * p : m / p
    }

    /// i × m × 10ᵏ for every whole i with the value in `lo…hi`.
    private static func multiples(_ m: Double, _ k: Int, _ lo: Double, _ hi: Double) -> [Double] {
        let step = value(m, k)
        let first = (lo / step - 1e-9).rounded(.up), last = (hi / step + 1e-9).rounded(.down)
        guard last >= first, last - first < 10_000 else { return Array(repeating: 0, count: 10_000) }
        return stride(from: first, through: last, by: 1).map { i in value(i * m, k) }
    }
}

/// A plot area with two axes; maps data to canvas points and draws the frame, grid and labels.
struct Plot {
    let frame: Rect
    let x: Axis
    let y: Axis

    func point(_ vx: Double, _ vy: Double) -> Point {
        Point(x.position(vx, from: frame.x, to: frame.maxX), y.position(vy, from: frame.maxY, to: frame.y))
    }

    func drawAxes(_ c: inout Canvas) {
        let u = c.style.unit, theme = c.theme
        for t in x.ticks {
            let px = x.position(t.value, from: frame.x, to: frame.maxX)
            c.line([Point(px, frame.y), Point(px, frame.maxY)], color: theme.grid, width: 1 * u)
            c.text(t.label, Point(px, frame.maxY + 22 * u), size: c.style.smallSize, color: theme.muted, anchor: .middle)
        }
        var widest = 0.0
        for t in y.ticks {
            let py = y.position(t.value, from: frame.maxY, to: frame.y)
            c.line([Point(frame.x, py), Point(frame.maxX, py)], color: theme.grid, width: 1 * u)
            c.text(t.label, Point(frame.x - 12 * u, py), size: c.style.smallSize, color: theme.muted, anchor: .end)
            widest = max(widest, c.style.textWidth(t.label, size: c.style.smallSize))
        }
        c.line([Point(frame.x, frame.y), Point(frame.x, frame.maxY), Point(frame.maxX, frame.maxY)], color: theme.foreground, width: 2 * u)
        c.text(x.label, Point(frame.midX, frame.maxY + 58 * u), size: c.style.labelSize, anchor: .middle)
        // The y label just left of the widest tick label, but never off the canvas.
        let labelX = max(c.style.labelSize * 0.7, frame.x - 12 * u - widest - 14 * u - c.style.labelSize * 0.6)
        c.text(y.label, Point(labelX, frame.midY), size: c.style.labelSize, anchor: .middle, rotation: -Double.pi / 2)
    }
}

/// What a chart's line or point stands for. Its colour comes from here alone, so a kind keeps one
/// colour on every chart (MHA always the same, naive attention always the same); layer sharing
/// (CLA) and the model a line belongs to are told by the dash, the marker and a label instead.
public enum SeriesKind: Hashable, Sendable {
    /// How query heads share K/V heads: each its own (MHA), in groups (GQA), all one (MQA).
    case mha, gqa, mqa
    /// A low-rank (latent) K/V cache.
    case latent
    /// A cache technique that keeps the layout: quantized K/V, or eviction of tokens.
    case quantized, eviction
    /// An attention algorithm on the modelled HBM + SRAM.
    case algorithm(TileAlgorithm)
    /// None of these (a learning rate, a named variant): the n-th such series on its chart.
    case other(Int)

    /// The head sharing of `layout`.
    public init(_ layout: AttentionLayout) {
        self = layout.kvHeads == layout.qHeads ? .mha : layout.kvHeads == 1 ? .mqa : .gqa
    }

    /// The index into `Theme.palette` (`theme.group`).
    public var paletteIndex: Int {
        switch self {
        case .mha: 0
        case .gqa: 1
        case .mqa: 2
        case .latent: 3
        case .quantized: 4
        case .eviction, .algorithm(.naive): 5
        case .algorithm(.fa1): 6
        case .algorithm(.fa2): 7
        case .other(let n): n
        }
    }

    /// Its name in a legend ("MHA", "FA2", "quantized K/V"); nil for `.other`.
    public func name(_ language: Language) -> String? {
        switch self {
        case .mha: "MHA"
        case .gqa: "GQA"
        case .mqa: "MQA"
        case .latent: language.en("latent K/V (low rank)", ja: "潜在 K/V（低ランク）")
        case .quantized: language.en("quantized K/V", ja: "量子化 K/V")
        case .eviction: language.en("eviction", ja: "トークン削除")
        case .algorithm(let a): Self.title(a, language)
        case .other: nil
        }
    }

    /// An algorithm's title in `language` (the papers' names stay as they are).
    public static func title(_ a: TileAlgorithm, _ language: Language) -> String {
        a == .naive ? language.en(a.title, ja: "標準のアテンション（Algorithm 0）") : a.title
    }
}

extension Theme {
    /// The colour of a series of kind `kind`.
    public func series(_ kind: SeriesKind) -> Color { group(kind.paletteIndex) }
}

/// A point marker: the second cue, besides colour, for what a point is.
public enum Marker: Int, CaseIterable, Sendable {
    case circle, square, diamond, triangleUp, triangleDown, hexagon

    /// The `n`-th marker, wrapping.
    public static func at(_ n: Int) -> Marker { allCases[n % allCases.count] }

    /// Draws the marker centred on `p`, about `radius` from centre to edge.
    func draw(_ c: inout Canvas, _ p: Point, radius r: Double, fill: Color, stroke: Color? = nil, lineWidth: Double = 1.5, role: String? = nil) {
        func ring(_ n: Int, _ start: Double, _ scale: Double) -> [Point] {
            (0..<n).map { i in
                let (sin, cos) = DetMath.sincos(start + Double(i) * 2 * Double.pi / Double(n))
                return Point(p.x + scale * r * cos, p.y + scale * r * sin)
            }
        }
        let corners: [Point]
        switch self {
        case .circle:
            c.circle(p, radius: r, fill: fill, stroke: stroke, lineWidth: lineWidth, role: role)
            return
        case .square: corners = [Point(p.x - 0.9 * r, p.y - 0.9 * r), Point(p.x + 0.9 * r, p.y - 0.9 * r), Point(p.x + 0.9 * r, p.y + 0.9 * r), Point(p.x - 0.9 * r, p.y + 0.9 * r)]
        case .diamond: corners = [Point(p.x, p.y - 1.25 * r), Point(p.x + 1.25 * r, p.y), Point(p.x, p.y + 1.25 * r), Point(p.x - 1.25 * r, p.y)]
        case .triangleUp: corners = ring(3, -Double.pi / 2, 1.3)
        case .triangleDown: corners = ring(3, Double.pi / 2, 1.3)
        case .hexagon: corners = ring(6, 0, 1.1)
        }
        c.polygon(corners, fill: fill, role: role)
        if let stroke { c.line(corners + [corners[0]], color: stroke, width: lineWidth) }
    }
}

/// Dash patterns, the second cue of a line: solid, dashed, dotted, dash-dot, long dash.
enum Dash {
    static func pattern(_ n: Int, unit u: Double) -> [Double] {
        [[], [10 * u, 6 * u], [2.5 * u, 5 * u], [12 * u, 5 * u, 2.5 * u, 5 * u], [22 * u, 7 * u]][n % 5]
    }
}

/// Places labels next to points without overlapping each other or leaving the plot: tries eight
/// directions (right, left, above, below, then the diagonals) at growing distances; a label placed
/// far from its point gets a leader line.
struct LabelPlacer {
    /// The boxes taken: labels placed so far and whatever the caller reserves (the points).
    var placed: [Rect] = []
    let bounds: Rect
    let style: Style

    /// A label's box: the advance of `text` by 1.2 × `size`, anchored like `Canvas.text`.
    static func box(_ text: String, at p: Point, anchor: TextAnchor, size: Double, style: Style) -> Rect {
        let w = style.textWidth(text, size: size), h = size * 1.2
        let x = anchor == .start ? p.x : anchor == .middle ? p.x - w / 2 : p.x - w
        return Rect(x, p.y - h / 2, w, h)
    }

    /// Where to write `text` for the point `p`: the text's anchor point and anchor, and whether it
    /// needs a leader line; nil when no place is free.
    mutating func place(_ text: String, at p: Point, size: Double, gap: Double) -> (point: Point, anchor: TextAnchor, leader: Bool)? {
        let h = size * 1.2
        for distance in [1.0, 1.8, 2.6, 3.6, 5, 6.5, 8.5] {
            let g = gap * distance, d = g * 0.75
            let candidates: [(Point, TextAnchor)] = [
                (Point(p.x + g, p.y), .start), (Point(p.x - g, p.y), .end),
                (Point(p.x, p.y - g - h / 2), .middle), (Point(p.x, p.y + g + h / 2), .middle),
                (Point(p.x + d, p.y - d - h / 2), .start), (Point(p.x + d, p.y + d + h / 2), .start),
                (Point(p.x - d, p.y - d - h / 2), .end), (Point(p.x - d, p.y + d + h / 2), .end),
            ]
            for (point, anchor) in candidates {
                let rect = Self.box(text, at: point, anchor: anchor, size: size, style: style)
                if inside(rect) && !placed.contains(where: { Self.overlaps($0, rect) }) {
                    placed.append(rect)
                    return (point, anchor, distance > 2)
                }
            }
        }
        return nil
    }

    private func inside(_ r: Rect) -> Bool { r.x >= bounds.x && r.maxX <= bounds.maxX && r.y >= bounds.y && r.maxY <= bounds.maxY }
    static func overlaps(_ a: Rect, _ b: Rect) -> Bool { a.x < b.maxX && b.x < a.maxX && a.y < b.maxY && b.y < a.maxY }
}

/// Labels at the right ends of lines, moved apart vertically just enough not to overlap: `ys` the
/// lines' end heights, `spacing` the least distance between two labels, `lo…hi` the room.
func spreadLabels(_ ys: [Double], spacing: Double, lo: Double, hi: Double) -> [Double] {
    let order = ys.indices.sorted { ys[$0] < ys[$1] || (ys[$0] == ys[$1] && $0 < $1) }
    var placed = order.map { ys[$0] }
    for i in placed.indices { placed[i] = max(placed[i], i == 0 ? lo : placed[i - 1] + spacing) }
    // Pushed past the bottom: pull the tail back up, each at least `spacing` above the next.
    if let last = placed.last, last > hi {
        placed[placed.count - 1] = hi
        for i in stride(from: placed.count - 2, through: 0, by: -1) { placed[i] = min(placed[i], placed[i + 1] - spacing) }
    }
    var out = ys
    for (k, i) in order.enumerated() { out[i] = placed[k] }
    return out
}

/// Axis number formats.
enum Ticks {
    /// 131072 → "128k" (powers of two in binary thousands, as context lengths are quoted); 20000 → "20k".
    static func tokens(_ v: Double) -> String {
        let n = Int(v)
        if n >= 1024 && n % 1024 == 0 { return "\(n / 1024)k" }
        if n >= 1000 && n % 1000 == 0 { return "\(n / 1000)k" }
        return Format.grouped(n)
    }

    /// `v` with `decimals` decimals, thousands grouped: 1000 → "1,000", 2.5 → "2.5".
    static func number(_ v: Double, decimals: Int) -> String {
        let text = Format.fixed(v, decimals)
        let parts = text.split(separator: ".", maxSplits: 1)
        guard let whole = Int(parts[0]), abs(whole) >= 1000 else { return text }
        return Format.grouped(whole) + (parts.count > 1 ? "." + parts[1] : "")
    }

    /// 2000 → "2k", 1.5e6 → "1.5M", 500 → "500"; powers of two (1024, 4096…) in binary thousands,
    /// "1k", "4k", as SRAM sizes and contexts are quoted.
    static func count(_ v: Double) -> String {
        func short(_ x: Double) -> String { x == x.rounded() || x >= 10 ? Format.fixed(x, 0) : Format.fixed(x, 1) }
        let n = Int(v.rounded())
        if v < 1e6, n >= 1024, n % 1024 == 0, n & (n - 1) == 0 { return "\(n / 1024)k" }
        if v >= 1e9 { return short(v / 1e9) + "G" }
        if v >= 1e6 { return short(v / 1e6) + "M" }
        if v >= 1e3 { return short(v / 1e3) + "k" }
        return Format.grouped(n)
    }
}
