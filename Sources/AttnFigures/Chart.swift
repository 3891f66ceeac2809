import AttnEngine
import AttnTrace

/// An axis: linear or logarithmic, with ticks at round values.
struct Axis {
    let min: Double, max: Double, log: Bool
    let label: String
    let format: (Double) -> String
    /// Ticks to use instead of the computed ones (e.g. the swept values).
    var explicitTicks: [Double]? = nil

    func position(_ v: Double, from a: Double, to b: Double) -> Double {
        // A ratio of logarithms, so any base will do; the engine's log is the same on every machine.
        let t = log ? (DetMath.log(v) - DetMath.log(min)) / (DetMath.log(max) - DetMath.log(min)) : (v - min) / (max - min)
        return a + (b - a) * t
    }

    /// Powers of 2 (or 10 when the range is wide) on a log axis; 1-2-5 steps on a linear one.
    var ticks: [Double] {
        if let explicitTicks { return explicitTicks }
        if log {
            // 1-2-5 steps per decade when the range is short, whole decades when it is long.
            var decade = 1.0
            while decade > min { decade /= 10 }
            while decade * 10 <= min { decade *= 10 }
            var t: [Double] = []
            while decade <= max {
                for m in [1.0, 2, 5] where decade * m >= min && decade * m <= max { t.append(decade * m) }
                decade *= 10
            }
            if t.count > 8 { t = t.filter { v in [1.0, 10, 100, 1000, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12].contains { abs($0 - v) < v * 1e-9 } } }
            return t
        }
        let raw = (max - min) / 6
        var mag = 1.0
        while mag * 10 <= raw { mag *= 10 }
        while mag > raw { mag /= 10 }
        let step = [1.0, 2, 5, 10].map { $0 * mag }.first { $0 >= raw } ?? mag * 10
        var t: [Double] = [], v = (min / step).rounded(.up) * step
        while v <= max + step * 1e-9 { t.append(v); v += step }
        return t
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
            let px = x.position(t, from: frame.x, to: frame.maxX)
            c.line([Point(px, frame.y), Point(px, frame.maxY)], color: theme.grid, width: 1 * u)
            c.text(x.format(t), Point(px, frame.maxY + 22 * u), size: c.style.smallSize, color: theme.muted, anchor: .middle)
        }
        for t in y.ticks {
            let py = y.position(t, from: frame.maxY, to: frame.y)
            c.line([Point(frame.x, py), Point(frame.maxX, py)], color: theme.grid, width: 1 * u)
            c.text(y.format(t), Point(frame.x - 12 * u, py), size: c.style.smallSize, color: theme.muted, anchor: .end)
        }
        c.line([Point(frame.x, frame.y), Point(frame.x, frame.maxY), Point(frame.maxX, frame.maxY)], color: theme.foreground, width: 2 * u)
        c.text(x.label, Point(frame.midX, frame.maxY + 58 * u), size: c.style.labelSize, anchor: .middle)
        c.text(y.label, Point(frame.x - 110 * u, frame.midY), size: c.style.labelSize, anchor: .middle, rotation: -Double.pi / 2)
    }
}

/// Places labels next to points without overlapping each other or leaving the plot: tries right,
/// left, above and below, then slides further out.
struct LabelPlacer {
    var placed: [Rect] = []
    let bounds: Rect
    let style: Style

    mutating func place(_ text: String, at p: Point, size: Double, gap: Double) -> (Point, TextAnchor)? {
        let w = style.textWidth(text, size: size), h = size * 1.2
        for distance in [1.0, 2.2, 3.4] {
            let candidates: [(Point, TextAnchor, Rect)] = [
                (Point(p.x + gap * distance, p.y), .start, Rect(p.x + gap * distance, p.y - h / 2, w, h)),
                (Point(p.x - gap * distance, p.y), .end, Rect(p.x - gap * distance - w, p.y - h / 2, w, h)),
                (Point(p.x, p.y - gap * distance - h / 2), .middle, Rect(p.x - w / 2, p.y - gap * distance - h, w, h)),
                (Point(p.x, p.y + gap * distance + h / 2), .middle, Rect(p.x - w / 2, p.y + gap * distance, w, h)),
            ]
            for (point, anchor, rect) in candidates where inside(rect) && !placed.contains(where: { overlaps($0, rect) }) {
                placed.append(rect)
                return (point, anchor)
            }
        }
        return nil
    }

    private func inside(_ r: Rect) -> Bool { r.x >= bounds.x && r.maxX <= bounds.maxX && r.y >= bounds.y && r.maxY <= bounds.maxY }
    private func overlaps(_ a: Rect, _ b: Rect) -> Bool { a.x < b.maxX && b.x < a.maxX && a.y < b.maxY && b.y < a.maxY }
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

    static func bytesGB(_ v: Double) -> String { v < 1 ? Format.fixed(v, 2) : v < 10 ? Format.fixed(v, 1) : Format.fixed(v, 0) }

    static func count(_ v: Double) -> String {
        func short(_ x: Double) -> String { x == x.rounded() || x >= 10 ? Format.fixed(x, 0) : Format.fixed(x, 1) }
        if v >= 1e9 { return short(v / 1e9) + "G" }
        if v >= 1e6 { return short(v / 1e6) + "M" }
        if v >= 1e5 { return Format.fixed(v / 1e3, 0) + "k" }
        return Format.grouped(Int(v.rounded()))
    }
}
