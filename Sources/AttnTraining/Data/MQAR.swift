import AttnEngine

/// Multi-query associative recall (Arora, Eyuboglu et al. 2023, "Zoology: Measuring and Improving
/// Recall in Efficient Language Models", arXiv 2312.04927, §3 and their `multiquery_ar` generator):
/// a sequence shows N key → value pairs, then asks for N of the keys again; the model must answer
/// each with its value. It measures how many pairs a layer can still look up, exactly what sharing
/// K/V across heads or layers can cost.
///
/// One sequence of T tokens over a vocabulary of V, as Zoology lays it out:
///
///     k₁ v₁ k₂ v₂ … k_N v_N │ query region: key kᵢ at position 2N + 2gᵢ, random tokens elsewhere
///
/// - keys are N distinct tokens from 0..<V/2, values N distinct tokens from V/2..<V, both uniform;
/// - each key is queried once, at an even offset 2gᵢ of the query region, where the gaps gᵢ are N
///   distinct draws from 0..<(T − 2N)/2 with probability ∝ (g + 1)^(a − 1), a = 0.01 (drawn one by
///   one without replacement): a power law, so most queries come soon after the pairs, as repeated
///   bigrams do in real text, and some come late;
/// - every other position of the query region holds a uniform random token of 0..<V (Zoology's
///   `random_non_queries`), so the answer is never in the input;
/// - the target at a query's position is its key's value; every other target is ``Batch/noTarget``.
///
/// Sequence b of step s is drawn from ``SplitMix64`` on the stream "mqar SPLIT s" of the seed, so a
/// batch is a function of (seed, split, step) alone.
public struct MQAR: Sendable {
    /// V: token ids 0..<V; keys are the lower half, values the upper.
    public let vocabSize: Int
    /// T: tokens per sequence.
    public let seq: Int
    /// N: key → value pairs (and queries) per sequence.
    public let pairs: Int
    /// Zoology's `power_a`: the gap distribution's exponent is a − 1.
    public static let powerA = 0.01

    /// - Throws: `ConfigError` naming `--mqar-pairs` with `--vocab` or `--seq` if the pairs need more
    ///   keys and values than the vocabulary has, or more positions than the sequence.
    public init(vocabSize: Int, seq: Int, pairs: Int) throws(ConfigError) {
        guard pairs >= 1 else { throw ConfigError(.mqarPairs, "must be at least 1, got \(pairs)") }
        guard vocabSize / 2 >= pairs else {
            throw ConfigError(.fields([.vocab, .mqarPairs]), "\(pairs) pairs need \(pairs) distinct keys and \(pairs) distinct values, a vocabulary of at least \(2 * pairs) tokens; got \(vocabSize)")
        }
        guard seq >= 4 * pairs else {
            throw ConfigError(.fields([.seq, .mqarPairs]), "\(pairs) pairs need a sequence of at least \(4 * pairs) tokens (2 per pair, then \(pairs) queries with a slot after each); got \(seq)")
        }
        (self.vocabSize, self.seq, self.pairs) = (vocabSize, seq, pairs)
    }

    /// Even-offset slots of the query region: where the N queries can go.
    var querySlots: Int { (seq - 2 * pairs) / 2 }

    /// The batch of `step` in `split`: B sequences, each with its N answers as targets.
    public func batch(seed: UInt64, step: Int, batchSize: Int, split: CorpusSplit = .train) -> Batch {
        var rng = SplitMix64(seed: seed, stream: "mqar \(split) \(step)")
        var inputs = [Int32](repeating: 0, count: batchSize * seq)
        var targets = [Int32](repeating: Batch.noTarget, count: batchSize * seq)
        let half = vocabSize / 2
        // The gap weights (g + 1)^(a − 1), in AttnLab's own exp and log so they are the same everywhere.
        let weights = (0..<querySlots).map { DetMath.exp((Self.powerA - 1) * DetMath.log(Double($0 + 1))) }
        for b in 0..<batchSize {
            let row = b * seq
            let keys = Self.distinct(pairs, of: half, &rng)
            let values = Self.distinct(pairs, of: vocabSize - half, &rng).map { $0 + half }
            for i in 0..<pairs {
                inputs[row + 2 * i] = Int32(keys[i])
                inputs[row + 2 * i + 1] = Int32(values[i])
            }
            for t in 2 * pairs..<seq { inputs[row + t] = Int32(Self.uniform(vocabSize, &rng)) }
            var remaining = weights
            for i in 0..<pairs {
                let gap = Self.draw(&remaining, &rng)
                remaining[gap] = 0  // without replacement
                let t = row + 2 * pairs + 2 * gap
                inputs[t] = Int32(keys[i])
                targets[t] = Int32(values[i])
            }
        }
        return Batch(batchSize: batchSize, seq: seq, inputs: inputs, targets: targets)
    }

    /// Uniform in 0..<n (the high word of a 64 × 64-bit product: no modulo bias worth naming).
    static func uniform(_ n: Int, _ rng: inout SplitMix64) -> Int { Int(rng.next().multipliedFullWidth(by: UInt64(n)).high) }

    /// `count` distinct values of 0..<n, uniform, in draw order (a partial Fisher–Yates shuffle).
    static func distinct(_ count: Int, of n: Int, _ rng: inout SplitMix64) -> [Int] {
        var pool = Array(0..<n)
        for i in 0..<count { pool.swapAt(i, i + uniform(n - i, &rng)) }
        return Array(pool[..<count])
    }

    /// An index drawn with probability ∝ `weights` (summed in index order, so the draw is the same
    /// everywhere).
    static func draw(_ weights: inout [Double], _ rng: inout SplitMix64) -> Int {
        var total = 0.0
        for w in weights { total += w }
        var u = rng.nextUnitDouble() * total
        var last = 0
        for (i, w) in weights.enumerated() where w > 0 {
            if u < w { return i }
            u -= w
            last = i
        }
        return last  // u landed on the rounding left after the last weight
    }
}

/// How many queries a model answered: the argmax of its logits equals the target, over the positions
/// that have one.
public struct RecallAccuracy: Sendable, Equatable {
    public let correct: Int
    public let queries: Int

    /// correct / queries; 0 with no queries.
    public var fraction: Double { queries == 0 ? 0 : Double(correct) / Double(queries) }

    /// Scores logits rows against targets.
    ///
    /// - Parameters:
    ///   - logits: one row of `vocabSize` scores per position. // [positions × V]
    ///   - targets: one per position, ``Batch/noTarget`` where nothing is asked.
    /// - Returns: the positions with a target whose row's first maximum is at the target.
    public init(logits: [Float], vocabSize: Int, targets: [Int32]) {
        precondition(logits.count == targets.count * vocabSize)
        var correct = 0, queries = 0
        for (position, target) in targets.enumerated() where target != Batch.noTarget {
            let row = position * vocabSize
            var best = 0
            for v in 1..<vocabSize where logits[row + v] > logits[row + best] { best = v }
            queries += 1
            if best == Int(target) { correct += 1 }
        }
        (self.correct, self.queries) = (correct, queries)
    }
}
