import AttnEngine
import AttnTrace

/// One training run's curve: the training loss at each logged step and the validation loss where
/// it was measured, against tokens seen.
public struct LossSeries: Sendable, Equatable {
    public let name: String
    /// (tokens, training loss) per logged step.
    public let train: [(tokens: Int, loss: Double)]
    /// (tokens, validation loss) per evaluation.
    public let validation: [(tokens: Int, loss: Double)]
    /// What was trained (MHA, GQA, MQA): its colour, as on every chart. Runs of one kind on one
    /// chart (a learning-rate sweep) are coloured by their order instead.
    public var kind: SeriesKind?

    public init(name: String, train: [(tokens: Int, loss: Double)], validation: [(tokens: Int, loss: Double)], kind: SeriesKind? = nil) {
        self.name = name
        self.train = train
        self.validation = validation
        self.kind = kind
    }

    public static func == (a: LossSeries, b: LossSeries) -> Bool {
        a.name == b.name && a.kind == b.kind && a.train.elementsEqual(b.train, by: ==) && a.validation.elementsEqual(b.validation, by: ==)
    }
}

extension Charts {
    /// Loss against tokens seen for one or more runs: each run's training loss as a thin line
    /// (averaged over windows of steps, so a class sees the trend rather than the batch noise) and
    /// its validation loss as dots joined by a thick line; optionally a reference line such as the
    /// unigram entropy, the loss of a model that ignores context.
    public static func lossCurve(_ series: [LossSeries], title: String, subtitle: String, reference: (label: String, loss: Double)?,
                                 footnote: String, style: Style) throws(FigureError) -> Figure {
        guard series.contains(where: { $0.train.count >= 2 }) else { throw FigureError(.steps, "a loss curve needs at least two logged steps") }
        let losses = series.flatMap { $0.train.map(\.loss) + $0.validation.map(\.loss) } + (reference.map { [$0.loss] } ?? [])
        guard losses.allSatisfy({ $0.isFinite }) else { throw FigureError(.lr, "the loss is not finite (the run diverged); try a lower learning rate") }
        try style.requireLegible()
        var c = Canvas(style: style)
        let u = style.unit
        let top = c.header(title, subtitle: subtitle)
        let maxTokens = series.flatMap { $0.train.map(\.tokens) + $0.validation.map(\.tokens) }.max()!
        // The first steps' loss (ln V for a fresh model) would squash the rest: the axis starts at
        // the smoothed curve's top, and the first points are clipped at the frame.
        let smoothed = series.map { smooth($0.train) }
        let shown = smoothed.flatMap { $0.map(\.loss) } + series.flatMap { $0.validation.map(\.loss) } + (reference.map { [$0.loss] } ?? [])
        let yMin = shown.min()!, yMax = shown.max()!
        let pad = max(0.05, (yMax - yMin) * 0.08)
        let plot = Plot(frame: Rect(150 * u, top + 30 * u, style.width * 0.64, style.height - top - 150 * u),
                        x: Axis(min: 0, max: Double(maxTokens), log: false, label: c.en("tokens trained on", ja: "学習したトークン数"), format: .count),
                        y: Axis(min: max(0, yMin - pad), max: yMax + pad, log: false, label: c.en("loss (nats per token)", ja: "損失（トークンあたり nat）")))
        plot.drawAxes(&c)
        func clipped(_ p: Point) -> Point { Point(p.x, min(max(p.y, plot.frame.y), plot.frame.maxY)) }
        if let reference {
            let y = plot.point(0, reference.loss).y
            c.line([Point(plot.frame.x, y), Point(plot.frame.maxX, y)], color: c.theme.highlight, width: 2 * u, dash: [3 * u, 5 * u], role: "reference")
            c.text("\(reference.label): \(Format.fixed(reference.loss, 2))", Point(plot.frame.maxX - 8 * u, y - 14 * u),
                   size: style.smallSize * 0.8, color: c.theme.highlight, anchor: .end, role: "reference-label")
        }
        var legendY = plot.frame.y + 10 * u
        let legendX = plot.frame.maxX + 36 * u
        // Each run its kind's colour when the kinds tell the runs apart, else its place's; the marker
        // of its validation points is the second cue.
        let kinds = series.compactMap(\.kind)
        let byKind = kinds.count == series.count && Set(kinds).count == kinds.count
        for (k, s) in series.enumerated() {
            let color = c.theme.series(byKind ? s.kind! : .other(k)), marker = Marker.at(k)
            c.line(smoothed[k].map { clipped(plot.point(Double($0.tokens), $0.loss)) }, color: color.withAlpha(0.55), width: 2 * u, role: "train")
            let v = s.validation.map { plot.point(Double($0.tokens), $0.loss) }
            if v.count >= 2 { c.line(v, color: color, width: 3.5 * u, role: "validation") }
            for p in v { marker.draw(&c, p, radius: 5.5 * u, fill: color, role: "validation-point") }
            marker.draw(&c, Point(legendX + 8 * u, legendY), radius: 7 * u, fill: color)
            c.text(s.name, Point(legendX + 26 * u, legendY), size: style.smallSize)
            if let last = s.validation.last {
                c.text(c.en("validation \(Format.fixed(last.loss, 3))", ja: "検証 \(Format.fixed(last.loss, 3))"), Point(legendX + 26 * u, legendY + 24 * u),
                       size: style.smallSize * 0.9, color: c.theme.muted)
            }
            legendY += 62 * u
        }
        legendY += 10 * u
        let key = c.en("Thin line: training loss, mean over windows of steps. Markers: validation loss.",
                       ja: "細線：学習損失（数ステップごとの平均）。マーカー：検証損失。")
        c.paragraph(key, Point(legendX, legendY), width: style.width - legendX - 24 * u, size: style.smallSize, color: c.theme.muted)
        c.footnote(footnote)
        return Figure(style: style, pages: [c.page], title: title)
    }

    /// Means over consecutive windows of about 1/50 of the run, each plotted at its last token.
    static func smooth(_ points: [(tokens: Int, loss: Double)]) -> [(tokens: Int, loss: Double)] {
        let window = max(1, points.count / 50)
        return stride(from: 0, to: points.count, by: window).map { start in
            let part = points[start..<min(points.count, start + window)]
            return (part.last!.tokens, part.reduce(0) { $0 + $1.loss } / Double(part.count))
        }
    }
}
