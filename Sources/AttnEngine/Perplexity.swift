/// Perplexity: how surprised a model is by a text, exp of the mean negative log-likelihood of each
/// token given the tokens before it, `PPL = exp(−(1/N) Σ_t log p(x_t | x_<t))`.
///
/// Long texts are cut into consecutive windows of at most `windowTokens`; each window starts with an
/// empty cache, and its first token is context only (nothing precedes it to predict it from), so a
/// text of T tokens in W windows scores T − W tokens. The same windows for every model, so the
/// numbers compare.
public struct PerplexityResult: Sendable, Equatable {
    /// Tokens predicted (and scored).
    public let scoredTokens: Int
    public let windows: Int
    public let windowTokens: Int
    /// Σ −log p over the scored tokens, in nats.
    public let totalNLL: Double

    public var meanNLL: Double { totalNLL / Double(scoredTokens) }
    public var perplexity: Double { DetMath.exp(meanNLL) }
}

extension Decoder {
    /// −log softmax(logits)[target] in nats: the row's maximum is subtracted before exponentiating,
    /// and the sum is kept in Double in index order.
    public static func negativeLogLikelihood(_ logits: [Float], target: Int) -> Double {
        var shifted = logits
        let m = logits.max()!
        var sum = 0.0
        shifted.withUnsafeMutableBufferPointer { Kernels.expShifted($0.baseAddress!, $0.count, shift: m) }
        for e in shifted { sum += Double(e) }
        return Double(m) + DetMath.log(sum) - Double(logits[target])
    }
}

public enum Perplexity {
    /// Scores `tokens` with the model, window by window, K/V stored as `cacheDType` and kept as
    /// `technique` says. `progress` hears the number of tokens read so far after each window.
    public static func evaluate(config: DecoderConfig, weights: DecoderWeights, tokens: [Int], windowTokens: Int,
                                cacheDType: DType = .fp32, technique: KVTechnique = KVTechnique(),
                                progress: ((Int) -> Void)? = nil) -> PerplexityResult {
        precondition(tokens.count >= 2 && windowTokens >= 2)
        var total = 0.0, scored = 0, windows = 0
        var start = 0
        while start < tokens.count - 1 {
            let window = Array(tokens[start..<min(tokens.count, start + windowTokens)])
            let decoder = Decoder(config: config, weights: weights, capacityTokens: window.count, cacheDType: cacheDType, technique: technique)
            // One block of tokens at a time, each token's logits scored against the next token and
            // dropped: only a block's logits are held, never the window's (512 × 49,152 floats).
            var blockStart = 0
            while blockStart < window.count {
                let blockEnd = min(window.count, blockStart + decoder.blockTokens)
                for (t, record) in zip(blockStart..., decoder.forward(Array(window[blockStart..<blockEnd]))) where t + 1 < window.count {
                    total += Decoder.negativeLogLikelihood(record.logits, target: window[t + 1])
                }
                blockStart = blockEnd
            }
            scored += window.count - 1
            windows += 1
            start += window.count
            progress?(start)
        }
        return PerplexityResult(scoredTokens: scored, windows: windows, windowTokens: windowTokens, totalNLL: total)
    }
}
