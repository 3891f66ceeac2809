/// Picks the next token from logits: greedy argmax, or seeded sampling from softmax(logits / T).
public struct Sampler: Sendable {
    public let temperature: Double
    private var rng: SplitMix64

    /// - Parameter temperature: 0 for greedy decoding.
    public init(temperature: Double, seed: UInt64) {
        self.temperature = temperature
        rng = SplitMix64(seed: seed, stream: "sampling")
    }

    public mutating func next(_ logits: [Float]) -> Int {
        if temperature == 0 { return Self.argmax(logits) }
        // Probabilities in Double, summed left to right, then one uniform draw on the CDF.
        let m = Double(logits.max()!)
        let weights = logits.map { DetMath.exp((Double($0) - m) / temperature) }
        let total = weights.reduce(0, +)
        var u = rng.nextUnitDouble() * total
        for (i, w) in weights.enumerated() {
            u -= w
            if u < 0 { return i }
        }
        return Self.argmax(logits)
    }

    /// The first index of the largest logit (ties go to the lower token id).
    public static func argmax(_ logits: [Float]) -> Int {
        var best = 0
        for i in logits.indices where logits[i] > logits[best] { best = i }
        return best
    }
}
