import AttnEngine
import AttnTrace

/// A kind of command: its `attnlab` verb, for command lines shown in reports.
public protocol CommandKind: Sendable, Equatable {
    var verb: String { get }
}

/// Every action a lesson step (or a CLI verb) can run. The one registry: each case names its
/// experiment type in `experimentType`, and the compiler checks that no case is forgotten.
public enum ActionKind: String, CaseIterable, CommandKind {
    case decode, kv, params, tile, sweep, ppl, retrofit, train, study
    case compareKV = "compare-kv"

    public var experimentType: any Experiment.Type {
        switch self {
        case .decode: DecodeExperiment.self
        case .kv: KVExperiment.self
        case .params: ParamsExperiment.self
        case .tile: TileExperiment.self
        case .sweep: SweepExperiment.self
        case .ppl: PerplexityExperiment.self
        case .retrofit: RetrofitExperiment.self
        case .train: TrainExperiment.self
        case .study: StudyExperiment.self
        case .compareKV: CompareKVExperiment.self
        }
    }

    /// The `attnlab` verb that runs it, for command lines shown in reports.
    public var verb: String { self == .sweep ? "tile sweep" : rawValue }

    /// The experiment its flags describe.
    public func experiment(_ flags: Flags) throws(ConfigError) -> any Experiment {
        try FlagReader.read(flags) { r throws(ConfigError) in try experimentType.init(&r) }
    }
}

/// Every figure kind `draw` (and a lesson's `figure`) can make; the one registry of figures.
public enum FigureKind: String, CaseIterable, CommandKind {
    case heads, layers, tiles, cache, attention
    case kvChart = "kv-chart", ioChart = "io-chart", tradeoff, lossCurve = "loss-curve"
    case kvEvict = "kv-evict", kvQuant = "kv-quant", paged

    public var figureType: any FigureExperiment.Type {
        switch self {
        case .heads: HeadsFigure.self
        case .layers: LayersFigure.self
        case .tiles: TilesFigure.self
        case .cache: CacheFigure.self
        case .attention: AttentionFigure.self
        case .kvChart: KVChartFigure.self
        case .ioChart: IOChartFigure.self
        case .tradeoff: TradeoffFigure.self
        case .lossCurve: LossCurveFigure.self
        case .kvEvict: KVEvictFigure.self
        case .kvQuant: KVQuantFigure.self
        case .paged: PagedFigure.self
        }
    }

    /// The `attnlab draw` verb that draws it.
    public var verb: String { "draw \(rawValue)" }

    /// The figure its flags describe.
    public func figure(_ flags: Flags) throws(ConfigError) -> any FigureExperiment {
        try FlagReader.read(flags) { r throws(ConfigError) in try figureType.init(&r) }
    }
}

extension Runs {
    /// Runs an experiment whose type is known only at run time (a lesson's action).
    public func output(of experiment: any Experiment) throws -> any ExperimentOutput {
        func open<E: Experiment>(_ e: E) throws -> any ExperimentOutput { try run(e) }
        return try open(experiment)
    }
}
