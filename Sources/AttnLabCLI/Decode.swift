import ArgumentParser
import AttnEngine
import AttnTrace
import Foundation

extension AttnLab {
    struct Decode: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a random-weight Llama-style decoder token by token with a real KV cache, and trace it.",
            discussion: """
                The prompt is read one token per step (prefill), then --tokens new tokens are chosen \
                greedily (or sampled with --temperature). Each step every producer layer writes one \
                K/V row; every layer — CLA consumers too — reads its source layer's whole cache.

                Example:
                  attnlab decode --layers 6 --q-heads 8 --kv-heads 2 --cla 2 --prompt "the cat" \\
                      --tokens 8 --verify --trace output/decode.jsonl
                """
        )

        @OptionGroup var model: ModelOptions

        @OptionGroup var decoding: DecodeFlags

        @Flag(help: "Recompute every step by one full causal forward pass without the cache (same kernels, no cache) and report the largest logit difference (must be ≤ 1e-4). It checks the cache bookkeeping; the test suite checks the numbers against an independent float64 decoder.")
        var verify = false

        @Option(help: "Write the trace to this file.")
        var trace: String?

        @Option(name: .customLong("trace-format"), help: "jsonl or text. (default: text for a .txt file, else jsonl)")
        var traceFormat: String?

        @Option(name: .customLong("trace-detail"), help: "summary (slots and bytes) or full (also K/V rows written and attention weights).")
        var traceDetail: RecordDetail = .summary

        @Flag(help: "Print the summary as JSON.")
        var json = false

        /// Decodes (and recomputes, with --verify) without printing or writing anything.
        func execute() throws -> DecodeRun {
            let config = try model.decoderConfig()
            let (result, weights) = try decoding.decode(config, detail: traceDetail, field: model.preset.map { "--preset \($0)" } ?? "--layers/--d-model")
            var maxAbsDiff: Float? = nil
            if verify {
                let reference = FullForward.logits(config: config, weights: weights, tokens: result.processedTokens, cacheDType: decoding.dtype)
                var diff: Float = 0
                for s in result.steps {
                    for (i, logit) in s.record.logits.enumerated() {
                        diff = max(diff, abs(logit - reference[s.step * config.vocab + i]))
                    }
                }
                maxAbsDiff = diff
            }
            return DecodeRun(config: config, seed: decoding.seed, temperature: decoding.temperature, cacheDType: decoding.dtype,
                             detail: traceDetail, result: result, maxAbsDiff: maxAbsDiff)
        }

        /// What `--json` prints (and what a lesson's `decode` action gives).
        func result() throws -> JSON { DecodeTrace.summary(try execute()) }

        func run() throws {
            let format = try traceFormatName()
            if let trace {
                do { try AtomicFile.checkWritable(trace) } catch { throw ConfigError("--trace", error.description) }
            }
            let decoded = try execute()
            if let trace {
                if format == "text" { try AtomicFile.write(DecodeTrace.text(decoded), to: trace) } else { try AtomicFile.write(DecodeTrace.jsonl(decoded), to: trace) }
            }
            say(json ? DecodeTrace.summary(decoded).serialized() : report(decoded))
            if let maxAbsDiff = decoded.maxAbsDiff, !(maxAbsDiff <= 1e-4) {
                throw CheckFailure(description: "--verify: cached decode differs from recomputation by \(maxAbsDiff) (> 1e-4)")
            }
        }

        private func traceFormatName() throws(ConfigError) -> String {
            if let traceFormat {
                guard ["jsonl", "text"].contains(traceFormat) else {
                    throw ConfigError("--trace-format", "unknown format '\(traceFormat)' (expected jsonl or text)")
                }
                guard trace != nil else { throw ConfigError("--trace-format", "needs --trace FILE") }
                return traceFormat
            }
            return trace?.hasSuffix(".txt") == true ? "text" : "jsonl"
        }

        /// The human summary: what went in and out, and per layer what the cache cost.
        private func report(_ run: DecodeRun) -> String {
            let c = run.config, a = c.attention, res = run.result, budget = run.budget
            var out = "AttnLab decode — \(c.layoutName): \(c.layers) layers, d_model \(c.dModel), \(a.qHeads) query heads → \(Format.plural(a.kvHeads, "KV head")), head_dim \(a.headDim)\n"
            out += "heads      \(DecodeTrace.headGroups(a))\n"
            out += "kv map     \(c.kvMap.source.map(String.init).joined(separator: " ")) (\(c.kvMap.kvLayers) of \(c.layers) layers store K/V)\n"
            out += "prompt     \"\(run.vocabulary.decode(res.promptTokens).replacing("\n", with: "\\n"))\" (\(res.promptTokens.count) tokens)\n"
            out += "generated  \"\(run.vocabulary.decode(res.generatedTokens).replacing("\n", with: "\\n"))\" (\(res.generatedTokens.count) tokens, "
            out += run.temperature == 0 ? "greedy)\n\n" : "temperature \(run.temperature), seed \(run.seed))\n\n"
            let rows = (0..<c.layers).map { l -> [String] in
                let steps = res.steps.map { $0.record.layers[l] }
                return [String(l), c.kvMap.isProducer(l) ? "own" : "← layer \(c.kvMap.source[l])",
                        Format.grouped(steps.reduce(0) { $0 + $1.bytesWritten }),
                        Format.grouped(steps.reduce(0) { $0 + $1.bytesRead })]
            }
            out += Format.table(["layer", "K/V", "bytes written", "bytes read"], rows, rightAligned: [0, 2, 3])
            out += "\ncache      \(res.cache.tokens) tokens × \(c.kvMap.kvLayers) KV layers × \(Format.grouped(budget.bytesPerTokenPerLayer)) B = \(Format.grouped(res.cache.bytes)) B (\(run.cacheDType.rawValue))\n"
            out += "steps      \(res.steps.count): wrote \(Format.grouped(res.kvBytesWritten)) B, read \(Format.grouped(res.kvBytesRead)) B\n"
            if let diff = run.maxAbsDiff {
                out += "verify     max |cached − recomputed| logit = \(diff) over \(res.steps.count) steps × \(c.vocab) logits (tolerance 1e-4)\n"
            }
            if let trace { out += "trace      \(trace)\n" }
            return out
        }
    }

}

/// The flags of a decode run, shared by `decode` and `draw cache`.
struct DecodeFlags: ParsableArguments {
    @Option(help: "Prompt text over the built-in character vocabulary.")
    var prompt = "the cat sat"

    @Option(name: .customLong("prompt-ids"), help: "Prompt as token ids, e.g. 3,1,4 (instead of --prompt).")
    var promptIds: String?

    @Option(parsing: .unconditional, help: "Number of tokens to generate.")
    var tokens = 16

    @Option(parsing: .unconditional, help: "Seed of the weights and of sampling.")
    var seed: UInt64 = 1

    @Option(parsing: .unconditional, help: "0 = greedy (argmax); above 0, sample from softmax(logits / T).")
    var temperature = 0.0

    @Option(help: "Element type the cache stores K/V in (values are rounded to it): fp32, bf16, fp16.")
    var dtype: DType = .fp32

    /// Draws the weights and decodes; `field` names the flag that sized the model, for the limit check.
    func decode(_ config: DecoderConfig, detail: RecordDetail, field: String) throws -> (DecodeResult, DecoderWeights) {
        guard dtype.isStorableByDecoder else {
            throw ConfigError("--dtype", "the decoder stores K/V as fp32, bf16 or fp16; \(dtype.rawValue) is available in `attnlab kv`")
        }
        guard tokens > 0 else { throw ConfigError("--tokens", "must be positive, got \(tokens)") }
        guard temperature >= 0, temperature.isFinite else { throw ConfigError("--temperature", "must be 0 or positive, got \(temperature)") }
        let promptTokens = try promptTokenIDs(vocab: config.vocab)
        let capacity = promptTokens.count + tokens - 1
        try Limits.check(config, tokens: capacity, field: field)
        let weights = DecoderWeights(config: config, seed: seed)
        let decoder = Decoder(config: config, weights: weights, capacityTokens: capacity, cacheDType: dtype)
        var sampler = Sampler(temperature: temperature, seed: seed)
        return (decoder.generate(prompt: promptTokens, tokens: tokens, sampler: &sampler, detail: detail), weights)
    }

    private func promptTokenIDs(vocab: Int) throws(ConfigError) -> [Int] {
        guard let promptIds else {
            guard !prompt.isEmpty else { throw ConfigError("--prompt", "is empty; give at least one character") }
            return try CharVocabulary.encode(prompt, vocab: vocab)
        }
        var ids: [Int] = []
        for part in promptIds.split(separator: ",", omittingEmptySubsequences: false) {
            guard let id = Int(part.filter { $0 != " " }) else { throw ConfigError("--prompt-ids", "'\(part)' is not a token id") }
            guard id >= 0 && id < vocab else { throw ConfigError("--prompt-ids", "token \(id) is outside the vocabulary 0..<\(vocab)") }
            ids.append(id)
        }
        guard !ids.isEmpty else { throw ConfigError("--prompt-ids", "is empty") }
        return ids
    }

}
