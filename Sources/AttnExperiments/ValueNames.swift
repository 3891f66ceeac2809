/// The names a run's values go by in a lesson — its `json` flattened to dotted paths
/// (`forward.reads.Q`, `kv_map.3`) — known before the run, so `attnlab check` can refuse a check or a
/// placeholder that names a value the run will not have. In a pattern `#` stands for any list index
/// and `*` for any one key of an open set (a tensor, a parameter group, an algorithm). Each output
/// type keeps its list next to its `json`; a test compares the lists with real runs.
public struct ValueNames: Sendable, Equatable {
    /// Numbers (booleans count as 0 and 1): what checks and placeholders can compute with.
    public var numbers: [String]
    /// Texts: placeholders can quote them, checks cannot use them.
    public var texts: [String]

    public init(numbers: [String], texts: [String]) {
        self.numbers = numbers
        self.texts = texts
    }

    /// A value's kind, as checks and placeholders use it.
    public enum Kind: Sendable { case number, text }

    /// What `name` is in a run with these names, or nil when the run has no such value.
    public func kind(of name: String) -> Kind? {
        if numbers.contains(where: { Self.matches($0, name) }) { return .number }
        if texts.contains(where: { Self.matches($0, name) }) { return .text }
        return nil
    }

    /// The names of a compare run called `name` (`mqa.kv_layers`).
    public func prefixed(_ name: String) -> ValueNames {
        ValueNames(numbers: numbers.map { "\(name).\($0)" }, texts: texts.map { "\(name).\($0)" })
    }

    /// The union of several lists.
    public static func + (a: ValueNames, b: ValueNames) -> ValueNames { ValueNames(numbers: a.numbers + b.numbers, texts: a.texts + b.texts) }

    /// Whether `name` fits `pattern`, segment by segment.
    public static func matches(_ pattern: String, _ name: String) -> Bool {
        let p = pattern.split(separator: ".", omittingEmptySubsequences: false)
        let n = name.split(separator: ".", omittingEmptySubsequences: false)
        guard p.count == n.count else { return false }
        return zip(p, n).allSatisfy { p, n in
            switch p {
            case "#": !n.isEmpty && n.allSatisfy { $0.isASCII && $0.isNumber }
            case "*": !n.isEmpty
            default: p == n
            }
        }
    }
}

extension Experiment {
    /// The names of the values a run of this experiment gives.
    public static var valueNames: ValueNames { Output.valueNames }
}

extension ActionKind {
    /// The names of the values this action's run gives, known without running it.
    public var valueNames: ValueNames { experimentType.valueNames }
}
