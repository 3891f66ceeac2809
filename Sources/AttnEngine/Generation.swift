/// A step of a whole decode: a prompt token (prefill) or a generated one.
public struct DecodeStep: Sendable {
    public enum Phase: String, Sendable { case prefill, generate }
    /// 0-based step number (= position of the token processed).
    public let step: Int
    public let phase: Phase
    public let record: StepRecord
    /// The token chosen from this step's logits, when one was chosen (the last prefill step and every
    /// generate step); nil while the prompt is still being read.
    public let nextToken: Int?
}

/// Everything a decode produced.
public struct DecodeResult: Sendable {
    public let steps: [DecodeStep]
    public let promptTokens: [Int]
    public let generatedTokens: [Int]
    public let cache: KVCache

    public var kvBytesWritten: Int { steps.reduce(0) { $0 + $1.record.layers.reduce(0) { $0 + $1.bytesWritten } } }
    public var kvBytesRead: Int { steps.reduce(0) { $0 + $1.record.layers.reduce(0) { $0 + $1.bytesRead } } }
    /// Every token that went in, prompt then generated (the last generated token is never fed back).
    public var processedTokens: [Int] { steps.map(\.record.token) }
}

extension Decoder {
    /// Reads `prompt` one token per step, then generates `tokens` new tokens with `sampler`.
    ///
    /// Steps = prompt + tokens − 1: the last generated token is the output of the last step, not an
    /// input, so the cache ends with prompt + tokens − 1 rows.
    public func generate(prompt: [Int], tokens: Int, sampler: inout Sampler, detail: RecordDetail = .summary) -> DecodeResult {
        precondition(!prompt.isEmpty && tokens >= 1)
        var steps: [DecodeStep] = []
        var generated: [Int] = []
        var input = prompt[0]
        while generated.count < tokens {
            let s = position
            let record = step(token: input, detail: detail)
            let inPrompt = s + 1 < prompt.count
            let next: Int? = inPrompt ? nil : sampler.next(record.logits)
            steps.append(DecodeStep(step: s, phase: s < prompt.count ? .prefill : .generate, record: record, nextToken: next))
            if let next { generated.append(next) }
            input = inPrompt ? prompt[s + 1] : (next ?? 0)
        }
        return DecodeResult(steps: steps, promptTokens: prompt, generatedTokens: generated, cache: cache)
    }
}
