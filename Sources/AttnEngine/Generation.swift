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
    /// Reads `prompt` one token per step, then generates `tokens` new tokens with `sampler`, or fewer
    /// when it generates `stop` (a pretrained model's end-of-turn token; it is kept in the output).
    ///
    /// Steps = prompt + tokens − 1: the last generated token is the output of the last step, not an
    /// input, so the cache ends with prompt + tokens − 1 rows. `progress` hears the number of tokens
    /// generated so far after each step (for a progress line; the engine itself prints nothing).
    public func generate(prompt: [Int], tokens: Int, sampler: inout Sampler, detail: RecordDetail = .summary, stop: Int? = nil,
                         progress: ((Int) -> Void)? = nil) -> DecodeResult {
        precondition(!prompt.isEmpty && tokens >= 1)
        let first = position
        // The prompt goes through in blocks; each of its records is what a single step would give.
        let prefill = forward(prompt, detail: detail)
        var steps = prefill.enumerated().map { i, record in
            DecodeStep(step: first + i, phase: .prefill, record: record, nextToken: nil)
        }
        var next = sampler.next(prefill.last!.logits)
        steps[steps.count - 1] = DecodeStep(step: first + prompt.count - 1, phase: .prefill, record: prefill.last!, nextToken: next)
        var generated = [next]
        while generated.count < tokens && next != stop {
            let s = position
            let record = step(token: next, detail: detail)
            next = sampler.next(record.logits)
            steps.append(DecodeStep(step: s, phase: .generate, record: record, nextToken: next))
            generated.append(next)
            progress?(generated.count)
        }
        return DecodeResult(steps: steps, promptTokens: prompt, generatedTokens: generated, cache: cache)
    }
}
