/// Which keys a query may attend to: the one place every attention path asks.
///
/// The decoder's cached step, `FullForward` and AttnTiling's float64 reference all call
/// `visibleKeys(query:keys:)` and attend over what it returns, so a new kind of mask is one new case
/// here and no change in the callers. The answer is at most two ascending ranges of key positions,
/// which is what the masks of the long-context papers need: a sliding window (Longformer, Mistral)
/// keeps the last W keys, `(p − W + 1)...p`; StreamingLLM (Xiao et al. 2023) keeps a few "sink"
/// tokens and a window, `0..<S` and `(p − W + 1)...p`.
public enum AttentionMask: Sendable, Equatable, Hashable {
    /// Every key (an encoder, or a non-causal tile problem).
    case none
    /// Keys at or before the query's own position (a decoder: "the future is masked").
    case causal
    /// The last `W` keys up to the query, itself included: `(p − W + 1)...p` (Mistral 7B's sliding
    /// window, and a cache that evicts all but its last W tokens).
    case slidingWindow(Int)
    /// The first `sinks` keys and the last `window − sinks` up to the query: `window` keys in all
    /// (StreamingLLM's attention sinks, Xiao et al. 2023).
    case sinks(Int, window: Int)

    /// The key positions the query at `position` may see among the keys `0..<available`.
    ///
    /// A decoder block writes its tokens' K/V rows before attending, so `available` may run past the
    /// query; the mask, not the caller, keeps a token from seeing the block's later rows.
    @inlinable
    public func visibleKeys(query position: Int, keys available: Int) -> KeyRanges {
        switch self {
        case .none: KeyRanges(0..<available)
        case .causal: KeyRanges(0..<min(position + 1, available))
        case .slidingWindow(let w): KeyRanges(max(0, position + 1 - w)..<min(position + 1, available))
        case let .sinks(s, w):
            position + 1 <= w ? KeyRanges(0..<min(position + 1, available))
                : KeyRanges(0..<s, (position + 1 - (w - s))..<min(position + 1, available))
        }
    }
}

/// Key positions as at most two ascending, disjoint ranges, iterated in order.
///
/// Two because a mask with attention sinks keeps the first tokens and a recent window with a gap
/// between; every other mask is one range, and `second` is empty.
public struct KeyRanges: Sequence, Sendable, Equatable {
    public let first: Range<Int>
    public let second: Range<Int>

    @inlinable
    public init(_ first: Range<Int>, _ second: Range<Int> = 0..<0) {
        precondition(second.isEmpty || first.upperBound <= second.lowerBound, "key ranges must be ascending")
        self.first = first
        self.second = second
    }

    /// Number of visible keys (the tokens a query reads).
    @inlinable
    public var count: Int { first.count + second.count }

    @inlinable
    public func makeIterator() -> Iterator { Iterator(self) }

    /// Walks `first`, then jumps to `second`.
    public struct Iterator: IteratorProtocol {
        @usableFromInline var key: Int
        @usableFromInline let firstEnd: Int, secondStart: Int, end: Int

        @inlinable
        init(_ r: KeyRanges) {
            key = r.first.lowerBound
            firstEnd = r.first.upperBound
            secondStart = r.second.isEmpty ? r.first.upperBound : r.second.lowerBound
            end = r.second.isEmpty ? r.first.upperBound : r.second.upperBound
        }

        @inlinable
        public mutating func next() -> Int? {
            if key == firstEnd { key = secondStart }
            guard key < end else { return nil }
            defer { key += 1 }
            return key
        }
    }
}

extension KeyRanges {
    /// The positions of `self` that `other` does not have, ascending (what a sliding mask stopped
    /// reading between two queries).
    public func subtracting(_ other: KeyRanges) -> [Int] {
        var out: [Int] = []
        for r in [first, second] where !r.isEmpty {
            // r minus other.first minus other.second, interval by interval.
            var pieces = [r]
            for cut in [other.first, other.second] where !cut.isEmpty {
                pieces = pieces.flatMap { piece -> [Range<Int>] in
                    let below = (piece.lowerBound, Swift.min(piece.upperBound, cut.lowerBound))
                    let above = (Swift.max(piece.lowerBound, cut.upperBound), piece.upperBound)
                    return [below, above].filter { $0.0 < $0.1 }.map { $0.0..<$0.1 }
                }
            }
            for piece in pieces { out += piece }
        }
        return out
    }
}
