import AttnEngine

/// B sequences of T tokens and what the model should predict at each position.
public struct Batch: Sendable, Equatable {
    /// `targets` value at a position that takes no loss (MQAR's filler, for instance).
    public static let noTarget: Int32 = -1

    /// B: sequences in the batch.
    public let batchSize: Int
    /// T: tokens per sequence.
    public let seq: Int
    /// Token ids, row-major. // [B × T]
    public var inputs: [Int32]
    /// The token id to predict at each position, or ``noTarget``. // [B × T]
    public var targets: [Int32]

    public init(batchSize: Int, seq: Int, inputs: [Int32], targets: [Int32]) {
        precondition(inputs.count == batchSize * seq && targets.count == batchSize * seq)
        (self.batchSize, self.seq, self.inputs, self.targets) = (batchSize, seq, inputs, targets)
    }

    /// Positions with a target: the tokens the loss averages over.
    public var targetCount: Int { targets.reduce(0) { $0 + ($1 == Self.noTarget ? 0 : 1) } }
}

/// A token stream's training batches: each a function of (seed, step) alone, so a run resumed at
/// step s sees exactly the batches the uninterrupted run would have.
///
/// Batch s draws B window starts uniformly from the stream with ``SplitMix64`` on the stream
/// "train batch s" of the seed; a window's inputs are T tokens and its targets the same tokens
/// shifted by one (next-token prediction). Windows may overlap and cross document boundaries.
public struct BatchSampler: Sendable {
    public let tokens: [Int32]
    /// B and T.
    public let batchSize: Int, seq: Int
    public let seed: UInt64

    /// - Throws: `ConfigError(.seq)` if the stream has no T + 1 tokens for one window.
    public init(tokens: [Int32], batchSize: Int, seq: Int, seed: UInt64) throws(ConfigError) {
        guard tokens.count > seq else {
            throw ConfigError(.seq, "\(seq) tokens per sequence need \(seq + 1) tokens of training text (a target after each), but there are \(tokens.count)")
        }
        (self.tokens, self.batchSize, self.seq, self.seed) = (tokens, batchSize, seq, seed)
    }

    /// The batch of step `step`.
    public func batch(step: Int) -> Batch {
        var rng = SplitMix64(seed: seed, stream: "train batch \(step)")
        let starts = UInt64(tokens.count - seq)  // windows [s, s + T] with s in 0..<starts
        var inputs = [Int32](repeating: 0, count: batchSize * seq)
        var targets = inputs
        for b in 0..<batchSize {
            let start = Int(rng.next().multipliedFullWidth(by: starts).high)  // uniform in 0..<starts
            for t in 0..<seq {
                inputs[b * seq + t] = tokens[start + t]
                targets[b * seq + t] = tokens[start + t + 1]
            }
        }
        return Batch(batchSize: batchSize, seq: seq, inputs: inputs, targets: targets)
    }

    /// The validation batches of a token stream: ⌊evalTokens / T⌋ windows of T tokens (plus the
    /// target after the last), spread evenly over the stream without overlapping, B to a batch (the
    /// last batch may hold fewer). The same list on every call, so every evaluation of a run, and of
    /// every run on the same corpus, measures the same tokens.
    ///
    /// - Throws: `ConfigError(.evalTokens)` if it asks for less than one window or more windows than
    ///   the stream holds.
    public static func validationBatches(tokens: [Int32], evalTokens: Int, batchSize: Int, seq: Int) throws(ConfigError) -> [Batch] {
        let windows = evalTokens / seq
        guard windows >= 1 else {
            throw ConfigError(.evalTokens, "\(evalTokens) is less than one sequence of \(seq) tokens")
        }
        // Window w starts at w × stride; stride ≥ T keeps them apart and the last ends by the stream's end.
        let stride = (tokens.count - 1) / windows
        guard stride >= seq else {
            throw ConfigError(.evalTokens, "\(windows) windows of \(seq) tokens need \(windows * seq + 1) validation tokens, but the split has \(tokens.count)")
        }
        var batches: [Batch] = []
        for first in Swift.stride(from: 0, to: windows, by: batchSize) {
            let rows = min(batchSize, windows - first)
            var inputs = [Int32](repeating: 0, count: rows * seq)
            var targets = inputs
            for b in 0..<rows {
                let start = (first + b) * stride
                for t in 0..<seq {
                    inputs[b * seq + t] = tokens[start + t]
                    targets[b * seq + t] = tokens[start + t + 1]
                }
            }
            batches.append(Batch(batchSize: rows, seq: seq, inputs: inputs, targets: targets))
        }
        return batches
    }
}

/// The entropy of a token stream's unigram distribution, H = −Σ p(v) ln p(v): the loss of a model
/// that predicts every token from its frequency alone, ignoring context. A model that learned
/// anything from context has a validation loss below it.
public struct UnigramEntropy: Sendable, Equatable {
    /// H in nats per token, the unit of a cross-entropy loss with natural logarithms.
    public let natsPerToken: Double
    /// H in bits per token: natsPerToken / ln 2.
    public var bitsPerToken: Double { natsPerToken / DetMath.log(2) }

    /// The entropy of `tokens`' frequencies; `vocabSize` bounds the ids.
    public init(tokens: [Int32], vocabSize: Int) {
        var counts = [Int](repeating: 0, count: vocabSize)
        for token in tokens { counts[Int(token)] += 1 }
        let n = Double(tokens.count)
        var h = 0.0
        // Summed in id order, with AttnLab's own log, so the value is the same on every machine.
        for count in counts where count > 0 {
            let p = Double(count) / n
            h -= p * DetMath.log(p)
        }
        natsPerToken = h
    }
}
