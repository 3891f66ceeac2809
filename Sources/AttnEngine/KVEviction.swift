/// Which tokens a cache drops once it holds a budget of them, per producer layer.
///
/// - `window`: keep the last `budget` tokens (a rolling buffer).
/// - `sinks`: keep the first `sinks` tokens and the last `budget − sinks` (StreamingLLM, Xiao et al.
///   2023: the first tokens soak up attention a model must put somewhere, and dropping them breaks it).
/// - `h2o`: keep the `budget − budget/2` most recent tokens and, of the older ones, the `budget/2`
///   with the most attention accumulated so far (H2O, Zhang et al. 2023, with its even split between
///   heavy hitters and recent tokens). Per K/V head: a head's score for a token is the attention
///   its group's query heads have given that token, summed over every step it was read.
///
/// `window` and `sinks` depend only on positions, so they are attention masks over a cache that keeps
/// every row; `h2o` depends on the scores, so its cache really evicts, slot by slot (`KVCache`).
public enum KVEviction: Hashable, Sendable {
    case none
    case window(budget: Int)
    case sinks(Int, budget: Int)
    case h2o(budget: Int)

    /// - Throws: `ConfigError` naming `--kv-budget` or `--sinks` for a budget below 1 or above
    ///   AttnLab's token limit, or sinks that leave no room for a recent window.
    public func validated() throws(ConfigError) -> KVEviction {
        switch self {
        case .none: return self
        case .window(let b), .h2o(let b):
            try Limits.require(b, .kvBudget)
            if case .h2o = self, b < 2 { throw ConfigError(.kvBudget, "must be at least 2 for h2o (one heavy hitter and one recent token), got \(b)") }
        case let .sinks(s, b):
            try Limits.require(b, .kvBudget)
            guard s >= 1, s < b else { throw ConfigError(.sinks, "must be in 1...\(b - 1) so that the budget of \(b) keeps a recent window, got \(s)") }
        }
        return self
    }

    /// The budget, or nil for `none`.
    public var budgetTokens: Int? {
        switch self {
        case .none: nil
        case .window(let b), .h2o(let b), .sinks(_, let b): b
        }
    }

    /// Tokens a producer layer holds after `context` tokens: min(context, budget).
    public func heldTokens(context: Int) -> Int { budgetTokens.map { min(context, $0) } ?? context }

    /// Tokens of the recent window an `h2o` cache never evicts.
    public static func h2oRecent(budget: Int) -> Int { budget - budget / 2 }

    /// The mask that implements a position-only policy (`window`, `sinks`); nil otherwise.
    public var mask: AttentionMask? {
        switch self {
        case .window(let b): .slidingWindow(b)
        case let .sinks(s, b): .sinks(s, window: b)
        case .none, .h2o: nil
        }
    }

    /// "window", "sinks", "h2o" or "none": the `--evict` spelling.
    public var name: String {
        switch self {
        case .none: "none"
        case .window: "window"
        case .sinks: "sinks"
        case .h2o: "h2o"
        }
    }
}
