import AttnEngine
import AttnFigures
import AttnTrace

/// Something a teacher can run — a calculation, a decode, a simulated kernel — as a value: typed
/// arguments in, a typed result out. The CLI's verbs and the lesson runner both build these values
/// (from command-line flags and from a lesson's flag map) and run them the same way.
public protocol Experiment: Sendable, Hashable {
    associatedtype Output: ExperimentOutput
    /// Reads the experiment's flags; a flag it does not read is refused by `FlagReader.finish()`.
    init(_ flags: inout FlagReader) throws(ConfigError)
    /// Checks what can be checked without running the engine (for `attnlab check`).
    func validate() throws
    func run() throws -> Output
}

/// What an experiment's run gives a lesson: its named values (the JSON the CLI prints with `--json`)
/// and, for runs that trace, the engine trace of that same run.
public protocol ExperimentOutput {
    /// What `--json` prints; lessons quote and check its values by their flattened names.
    var json: JSON { get }
    /// The engine trace of this run (JSON Lines and text), for decode and tile runs.
    var trace: EngineTrace? { get }
    /// Every name `json` flattens to, as patterns; kept beside `json`.
    static var valueNames: ValueNames { get }
    /// Wall-clock measurements (seconds, tokens per second): printed by the CLI's `--json` after
    /// `json`'s fields, never part of `json`, so that lesson reports and traces stay the same bytes
    /// on every run.
    var timing: [(String, JSON)] { get }
}

extension ExperimentOutput {
    public var trace: EngineTrace? { nil }
    public var timing: [(String, JSON)] { [] }

    /// `json` with `timing`'s fields after its own: what `--json` prints.
    public var jsonWithTiming: JSON {
        guard case .object(let fields) = json, !timing.isEmpty else { return json }
        return .object(fields + timing)
    }
}

/// An engine trace in its two written forms.
public struct EngineTrace: Sendable {
    public let jsonl: [UInt8]
    public let text: String

    public init(jsonl: [UInt8], text: String) {
        self.jsonl = jsonl
        self.text = text
    }
}

/// A figure as a value: its arguments, and how to draw it from the run it shows. `draw` asks `runs`
/// for that run, so a lesson step whose action already ran the same experiment draws from that run
/// instead of computing it again.
public protocol FigureExperiment: Sendable, Hashable {
    init(_ flags: inout FlagReader) throws(ConfigError)
    /// Checks the arguments without running anything heavy (for `attnlab check`).
    func validate() throws
    /// - Parameters:
    ///   - style: size, theme and title.
    ///   - allPages: a page per step too, where the figure has steps (PDFs and frame folders).
    ///   - runs: where the figure's run comes from.
    func draw(_ style: Style, allPages: Bool, runs: Runs) throws -> Figure
}

extension FigureExperiment {
    public func validate() throws {}
}

/// Runs experiments, each distinct one once: a lesson step's action and its figure share a run.
public final class Runs {
    private var outputs: [AnyHashable: Any] = [:]

    public init() {}

    /// How many distinct experiments have run.
    public var count: Int { outputs.count }

    public func run<E: Experiment>(_ experiment: E) throws -> E.Output {
        if let done = outputs[AnyHashable(experiment)] as? E.Output { return done }
        let output = try experiment.run()
        outputs[AnyHashable(experiment)] = output
        return output
    }
}
