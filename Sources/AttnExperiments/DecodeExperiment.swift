import AttnEngine
import AttnModels
import AttnTrace

/// The prompt and sampling of a decode, shared by `decode`, `draw cache` and `draw attention`.
public struct DecodeSpec: Sendable, Hashable {
    /// Prompt text: over the built-in characters for random weights, any UTF-8 for a pretrained model;
    /// nil for `defaultPrompt` (kept apart so that a prompt given beside `promptIds` is refused).
    public var prompt: String?
    /// The prompt as token ids, e.g. "3,1,4" (instead of `prompt`).
    public var promptIds: String?
    /// Tokens to generate.
    public var tokens = 16
    /// Seed of the weights and of sampling.
    public var seed: UInt64 = 1
    /// 0 = greedy; above 0, sample from softmax(logits / T).
    public var temperature = 0.0
    /// The type the cache stores K/V in (values are rounded to it).
    public var dtype: DType = .fp32
    /// Wrap the prompt in the pretrained model's chat template.
    public var chat = false
    /// Quantized, latent or evicting cache.
    public var kv = KVTechniqueSpec()
    /// How long the decode may be estimated to take.
    public var budget = WorkBudget()

    /// The prompt when neither `prompt` nor `promptIds` is given.
    public static let defaultPrompt = "the cat sat"

    public init() {}

    public init(_ r: inout FlagReader) throws(ConfigError) {
        prompt = try r.string(.prompt)
        promptIds = try r.string(.promptIds)
        tokens = try r.int(.tokens) ?? tokens
        seed = try r.uint64(.seed) ?? seed
        temperature = try r.double(.temperature) ?? temperature
        dtype = try r.choice(.dtype) ?? dtype
        chat = try r.flag(.chat)
        kv = try KVTechniqueSpec(&r)
        budget = try WorkBudget(&r)
    }

    /// The settings' own checks, before any model is read.
    private func checkSettings() throws(ConfigError) {
        guard dtype.isStorableByDecoder else {
            throw ConfigError(.dtype, "the decoder stores K/V as fp32, bf16 or fp16; \(dtype.rawValue) is available in `attnlab kv`")
        }
        try Limits.require(tokens, .tokens)
        guard temperature >= 0, temperature.isFinite else { throw ConfigError(.temperature, "must be 0 or positive, got \(temperature)") }
    }

    /// What a decode of `model` checks before it draws or reads any weight: the settings, the model's
    /// shape, the prompt and the size limits for the cache rows the run needs. A pretrained model's
    /// text prompt counts as one token here (its tokenizer is in the model file; the run checks again).
    public func validate(_ model: ModelSpec) throws(ConfigError) {
        try checkSettings()
        let config = try model.decoderConfig()
        try kv.check(config)
        try Limits.check(config, tokens: tokens, sizeFields: model.sizeFields)
        let promptTokens = model.pretrained == nil || promptIds != nil
            ? try promptTokenIDs(vocab: config.vocab, vocabulary: CharVocabulary(), name: nil, chatTemplate: nil).count : 1
        try Limits.check(config, tokens: promptTokens + tokens - 1, sizeFields: model.sizeFields)
    }

    /// Loads (or draws) the model and decodes; returns the run and the weights it used. With `verify`,
    /// the budget counts the caller's uncached recomputation too.
    public func decode(_ model: ModelSpec, detail: RecordDetail, verify: Bool = false) throws(ConfigError) -> (DecodeRun, DecoderWeights) {
        try checkSettings()
        let loaded = try model.load(seed: seed, tokens: tokens)
        let config = loaded.config
        let promptTokens = try promptTokenIDs(vocab: config.vocab, vocabulary: loaded.vocabulary, name: loaded.name, chatTemplate: loaded.chatTemplate)
        let capacity = promptTokens.count + tokens - 1
        try Limits.check(config, tokens: capacity, sizeFields: model.sizeFields)
        try checkBudget(config, promptTokens: promptTokens.count, passes: verify ? 2 : 1)
        let decoder = Decoder(config: config, weights: loaded.weights, capacityTokens: capacity, cacheDType: dtype,
                              technique: try kv.technique(config, loaded.weights))
        var sampler = Sampler(temperature: temperature, seed: seed)
        let progress = ProgressLine("decode: token", total: tokens)
        let result = decoder.generate(prompt: promptTokens, tokens: tokens, sampler: &sampler, detail: detail, stop: loaded.endToken,
                                      progress: { progress.update($0) })
        progress.clear()
        // A model file with NaN weights decodes garbage that looks like tokens: refused, not printed.
        if let bad = result.steps.first(where: { !$0.record.logits.allSatisfy(\.isFinite) }) {
            throw ConfigError(.fields(model.sizeFields), "step \(bad.step)'s logits are not finite (NaN or infinite): the model's weights or metadata are broken")
        }
        return (DecodeRun(config: config, seed: seed, temperature: temperature, cacheDType: dtype, detail: detail, result: result,
                          maxAbsDiff: nil, vocabulary: loaded.vocabulary, model: loaded.name), loaded.weights)
    }

    /// The prompt as token ids of a model with `vocab` tokens read by `vocabulary`; `name` is nil for
    /// random weights (the built-in characters).
    private func promptTokenIDs(vocab: Int, vocabulary: any Vocabulary, name: String?, chatTemplate: ChatTemplate?) throws(ConfigError) -> [Int] {
        guard let promptIds else {
            let prompt = self.prompt ?? Self.defaultPrompt
            guard !prompt.isEmpty else { throw ConfigError(.prompt, "is empty; give at least one character") }
            guard let name else {
                if chat { throw ConfigError(.chat, "needs a pretrained --model (the built-in vocabulary has no chat template)") }
                do { return try CharVocabulary.encode(prompt, vocab: vocab) } catch {
                    throw ConfigError(error.subject, error.reason + "; or give raw token ids with --prompt-ids")
                }
            }
            guard chat else { return try vocabulary.encode(prompt, field: .prompt) }
            guard let chatTemplate else { throw ConfigError(.chat, "\(name) has no chat template (no <|im_start|>/<|im_end|> tokens)") }
            return try vocabulary.encode(chatTemplate.userTurn(prompt), field: .prompt)
        }
        if prompt != nil { throw ConfigError(.fields([.prompt, .promptIds]), "give the prompt as text or as token ids, not both") }
        if chat { throw ConfigError(.chat, "applies to --prompt text, not --prompt-ids") }
        var ids: [Int] = []
        for part in promptIds.split(separator: ",", omittingEmptySubsequences: false) {
            guard let id = Int(part.filter { $0 != " " }) else { throw ConfigError(.promptIds, "'\(part)' is not a token id") }
            guard id >= 0 && id < vocab else { throw ConfigError(.promptIds, "token \(id) is outside the vocabulary 0..<\(vocab)") }
            ids.append(id)
        }
        guard !ids.isEmpty else { throw ConfigError(.promptIds, "is empty") }
        return ids
    }
}

/// A decode with a real KV cache, traced per step and layer (`attnlab decode`).
public struct DecodeExperiment: Experiment {
    public var model = ModelSpec()
    public var decoding = DecodeSpec()
    /// Recompute every step by one full causal forward pass without the cache and record the largest
    /// logit difference.
    public var verify = false
    /// What each step records: summary, or full (K/V rows written and attention weights).
    public var detail: RecordDetail = .summary

    /// The largest |cached − recomputed| logit `verify` accepts.
    public static let verifyTolerance: Float = 1e-4

    public init() {}

    public init(_ r: inout FlagReader) throws(ConfigError) {
        model = try ModelSpec(&r)
        decoding = try DecodeSpec(&r)
        verify = try r.flag(.verify)
        detail = try r.choice(.traceDetail) ?? detail
    }

    public func validate() throws {
        try decoding.validate(model)
        try checkVerify()
    }

    /// `verify` recomputes without a cache: a window, sinks or a latent recompute the same way, but
    /// no recomputation has quantized codes or H2O's scores to compare with.
    private func checkVerify() throws(ConfigError) {
        guard verify else { return }
        if let quant = decoding.kv.quant {
            throw ConfigError(.fields([.verify, .kvQuant]), "cannot be combined: an uncached recomputation has no \(quant.rawValue) codes to compare with; `attnlab ppl` measures what quantization costs")
        }
        if decoding.kv.evict == .h2o {
            throw ConfigError(.fields([.verify, .evict]), "cannot be combined with h2o: an uncached recomputation has no accumulated scores to evict by; `attnlab ppl` measures what eviction costs")
        }
    }

    public func run() throws(ConfigError) -> DecodeOutput {
        try checkVerify()
        let (decoded, weights) = try decoding.decode(model, detail: detail, verify: verify)
        let config = decoded.config, result = decoded.result
        var maxAbsDiff: Float? = nil
        if verify {
            // One uncached causal pass gives every step's logits at once: position t sees only tokens ≤ t.
            let technique = try decoding.kv.technique(config, weights)
            let reference = FullForward.logits(config: config, weights: weights, tokens: result.processedTokens, cacheDType: decoding.dtype,
                                               mask: technique.mask(config), latent: technique.latent)
            var diff: Float = 0
            for s in result.steps {
                for (i, logit) in s.record.logits.enumerated() {
                    diff = max(diff, abs(logit - reference[s.step * config.vocab + i]))
                }
            }
            maxAbsDiff = diff
        }
        return DecodeOutput(run: DecodeRun(config: config, seed: decoding.seed, temperature: decoding.temperature, cacheDType: decoding.dtype,
                                           detail: detail, result: result, maxAbsDiff: maxAbsDiff, vocabulary: decoded.vocabulary,
                                           model: decoded.model))
    }
}

public struct DecodeOutput: ExperimentOutput {
    public let run: DecodeRun

    public var json: JSON { DecodeTrace.summary(run) }
    /// `DecodeTrace.summary`'s fields.
    public static let valueNames = ValueNames(
        numbers: ["kv_layers", "kv_bytes_per_token", "prompt_tokens", "tokens", "steps", "cache_tokens", "kv_cache_bytes",
                  "kv_bytes_written", "kv_bytes_read", "generated_tokens.#", "max_abs_diff"],
        texts: ["layout", "generated_text"])
    public var trace: EngineTrace? { EngineTrace(jsonl: DecodeTrace.jsonl(run), text: DecodeTrace.text(run)) }
    /// Whether `verify` ran and found the cached logits within `DecodeExperiment.verifyTolerance`.
    public var verified: Bool? { run.maxAbsDiff.map { $0 <= DecodeExperiment.verifyTolerance } }
}
