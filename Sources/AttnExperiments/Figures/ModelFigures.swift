import AttnEngine
import AttnFigures

/// A figure of the model's shape alone, at a cache element type: the head grouping (`draw heads`)
/// or the layer stack (`draw layers`), whichever diagram `D` is.
public struct ShapeFigure<D: ShapeDiagram>: FigureExperiment {
    public var model = ModelSpec()
    /// Element type of the cache, for bytes per token.
    public var dtype: DType = .bf16

    public init() {}

    public init(_ r: inout FlagReader) throws(ConfigError) {
        model = try ModelSpec(&r)
        dtype = try r.choice(.dtype) ?? dtype
    }

    public func validate() throws { _ = try model.decoderConfig() }

    public func draw(_ style: Style, allPages: Bool, runs: Runs) throws -> Figure {
        try D.figure(try model.decoderConfig(), dtype: dtype, style: style)
    }
}

/// Query heads grouped onto K/V heads: MHA, GQA, MQA side by side.
public typealias HeadsFigure = ShapeFigure<HeadsDiagram>
/// The layer stack's K/V cache slots (CLA) beside ALBERT's shared weights.
public typealias LayersFigure = ShapeFigure<LayersDiagram>

/// KV-cache bytes against context length for each model's layout, MHA, MQA and CLA2, on one chart
/// (`draw kv-chart`, `--preset` once per model).
public struct KVChartFigure: FigureExperiment {
    /// The models drawn: each with its own layout and the alternatives.
    public var models = [ModelSpec()]
    public var dtype: DType = .bf16
    /// Context lengths in tokens.
    public var contexts = [1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072]
    /// A logarithmic bytes axis.
    public var logY = false

    public init() {}

    public init(_ r: inout FlagReader) throws(ConfigError) {
        models = [try ModelSpec(&r)]
        dtype = try r.choice(.dtype) ?? dtype
        contexts = try r.string(.contexts).map { text throws(ConfigError) in try parseList(text, field: .contexts, minimum: 2) } ?? contexts
        logY = try r.flag(.logScale)
    }

    public func validate() throws { for m in models { _ = try m.decoderConfig() } }

    public func draw(_ style: Style, allPages: Bool, runs: Runs) throws -> Figure {
        let l = style.language
        let drawn = try models.map { m in
            (config: try m.decoderConfig(), name: m.preset.map { Presets.named($0)?.label ?? $0 } ?? l.en("this model", ja: "このモデル"))
        }
        let shapes = drawn.map { config, name in
            l.en("\(name): \(config.layers) layers, \(config.attention.qHeads) query heads × \(config.attention.headDim)",
                 ja: "\(name)：\(config.layers) 層、クエリヘッド \(config.attention.qHeads) × \(config.attention.headDim)")
        }
        let subtitle = shapes.joined(separator: l.en("; ", ja: "。")) + l.en(", \(dtype.rawValue), batch 1", ja: "、\(dtype.rawValue)、バッチ 1")
        return try Charts.kvChart(Charts.kvSeries(for: drawn, dtype: dtype, language: l), contexts: contexts, logY: logY, subtitle: subtitle, style: style)
    }
}

/// The CLA paper's Table 1: KV bytes per token against validation perplexity, with the Pareto
/// frontier (`draw tradeoff`).
public struct TradeoffFigure: FigureExperiment {
    public init() {}

    public init(_ r: inout FlagReader) throws(ConfigError) {}

    public func draw(_ style: Style, allPages: Bool, runs: Runs) throws -> Figure {
        try Charts.tradeoff(Presets.all.filter { $0.name.hasPrefix("cla1b-") }, style: style)
    }
}
