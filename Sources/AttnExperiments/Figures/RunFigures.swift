import AttnEngine
import AttnFigures
import AttnTiling
import AttnTrace

/// The score matrix as tiles in visit order, and with `allPages` one page per step (`draw tiles`).
public struct TilesFigure: FigureExperiment {
    /// The run it shows: always recorded, watching the last query row.
    public var tiles: TileExperiment

    public init(_ tiles: TileExperiment) {
        self.tiles = tiles
        self.tiles.recordSteps = true
    }

    public init(_ r: inout FlagReader) throws(ConfigError) {
        var t = TileExperiment()
        t.algorithm = try r.choice(.algorithm) ?? t.algorithm
        t.tile = try TileSpec(&r)
        t.br = try r.int(.br)
        t.bc = try r.int(.bc)
        t.fitSram = try r.flag(.fitSram)
        self.init(t)
    }

    public func validate() throws { try tiles.validate() }

    public func draw(_ style: Style, allPages: Bool, runs: Runs) throws -> Figure {
        try TilesDiagram.figure(try runs.run(tiles).result, steps: allPages, style: style)
    }
}

/// Heatmaps of every producer layer's K and V cache at a decode step (`draw cache`).
public struct CacheFigure: FigureExperiment {
    public var decode: DecodeExperiment
    /// The decode step shown; nil for the last.
    public var step: Int?

    public init(_ decode: DecodeExperiment, step: Int? = nil) {
        self.decode = decode
        self.decode.verify = false
        self.step = step
    }

    public init(_ r: inout FlagReader) throws(ConfigError) {
        var d = DecodeExperiment()
        d.model = try ModelSpec(&r)
        d.decoding = try DecodeSpec(&r)
        self.init(d, step: try r.int(.step))
    }

    public func validate() throws { try decode.validate() }

    public func draw(_ style: Style, allPages: Bool, runs: Runs) throws -> Figure {
        let run = try runs.run(decode).run
        return try CacheDiagram.figure(run, step: step ?? run.result.steps.count - 1, style: style)
    }
}

/// Every query head's causal attention weights at one layer of a decode, grouped by the K/V head
/// they share (`draw attention`).
public struct AttentionFigure: FigureExperiment {
    /// The decode it shows, with full detail (the weights are recorded only then).
    public var decode: DecodeExperiment
    /// The layer shown, 0-based; nil for the last.
    public var layer: Int?

    public init(_ decode: DecodeExperiment, layer: Int? = nil) {
        self.decode = decode
        self.decode.verify = false
        self.decode.detail = .full
        self.layer = layer
    }

    public init(_ r: inout FlagReader) throws(ConfigError) {
        var d = DecodeExperiment()
        d.model = try ModelSpec(&r)
        d.decoding = try DecodeSpec(&r)
        self.init(d, layer: try r.int(.layer))
    }

    public func validate() throws { try decode.validate() }

    public func draw(_ style: Style, allPages: Bool, runs: Runs) throws -> Figure {
        let run = try runs.run(decode).run
        return try AttentionDiagram.figure(run, layer: layer ?? run.config.layers - 1, style: style)
    }
}

/// HBM accesses of naive, fa1 and fa2 against SRAM size, N or block size, from real runs (`draw io-chart`).
public struct IOChartFigure: FigureExperiment {
    public var sweep: SweepExperiment

    public init(_ sweep: SweepExperiment) { self.sweep = sweep }

    public init(_ r: inout FlagReader) throws(ConfigError) {
        var s = SweepExperiment()
        s.tile = try TileSpec(&r)
        s.axis = try r.choice(.sweepAxis) ?? s.axis
        s.values = try r.string(.values).map { text throws(ConfigError) in try parseList(text, field: .values, minimum: 2) }
        self.init(s)
    }

    public func draw(_ style: Style, allPages: Bool, runs: Runs) throws -> Figure {
        let t = sweep.tile, l = style.language
        let fixed = sweep.axis == .n ? "d = \(t.d)" : "N = \(t.sequenceLength), d = \(t.d)"
        return try Charts.ioChart(try runs.run(sweep).rows, over: sweep.axis,
                                  subtitle: fixed + l.en("\(t.causal ? ", causal" : ""), forward pass; every count from a real run",
                                                         ja: "\(t.causal ? "、因果マスク" : "")、順伝播。どの値も実際の実行から"), style: style)
    }
}

/// A training run's loss against tokens, with its validations and the corpus's unigram entropy
/// (`draw loss-curve`; `train --plot` draws the same from the run it just made).
public struct LossCurveFigure: FigureExperiment {
    public var train: TrainExperiment

    public init(_ train: TrainExperiment) { self.train = train }

    public init(_ r: inout FlagReader) throws(ConfigError) { self.init(try TrainExperiment(&r)) }

    public func validate() throws { try train.validate() }

    public func draw(_ style: Style, allPages: Bool, runs: Runs) throws -> Figure {
        try Self.figure([try runs.run(train)], style: style)
    }

    /// The curves of `outputs` on one chart (several: a learning-rate sweep, or variants).
    public static func figure(_ outputs: [TrainOutput], names: [String]? = nil, style: Style) throws -> Figure {
        let first = outputs[0], e = first.experiment
        let l = style.language
        let data = e.task == .text ? e.corpus : l.en("MQAR, \(e.mqarPairs) pairs", ja: "MQAR、\(e.mqarPairs) ペア")
        return try Charts.lossCurve(
            outputs.enumerated().map { i, o in
                LossSeries(name: names?[i] ?? o.config.layoutName, train: o.lossSeries.train, validation: o.lossSeries.validation, kind: SeriesKind(o.config.attention))
            },
            title: outputs.count == 1 ? l.en("Training \(first.config.layoutName)", ja: "\(first.config.layoutName) の学習")
                : l.en("Training \(Format.plural(outputs.count, "run"))", ja: "\(outputs.count) 回の学習"),
            subtitle: l.en("\(data), \(Format.grouped(e.steps)) steps × \(e.batch) × \(e.seq) tokens, \(e.optimizer.kind.rawValue), seed \(e.seed)",
                           ja: "\(data)、\(Format.grouped(e.steps)) ステップ × \(e.batch) × \(e.seq) トークン、\(e.optimizer.kind.rawValue)、シード \(e.seed)"),
            reference: first.unigram.map { (l.en("unigram entropy", ja: "ユニグラムエントロピー"), $0.natsPerToken) },
            footnote: l.en("Training loss per step (mean over windows) and validation loss, from the run this figure shows.",
                           ja: "この図の学習で測った、ステップごとの学習損失（区間平均）と検証損失。"), style: style)
    }
}
