import ArgumentParser
import AttnEngine
import AttnExperiments
import AttnTrace
import Foundation

extension AttnLab {
    struct Decode: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a Llama-style decoder (random weights, or a pretrained --model) token by token with a real KV cache, and trace it.",
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
        var traceFormat: TraceFormat?

        @Option(name: .customLong("trace-detail"), help: "summary (slots and bytes) or full (also K/V rows written and attention weights).")
        var traceDetail: RecordDetail = .summary

        @Flag(help: "Print the summary as JSON.")
        var json = false

        var experiment: DecodeExperiment {
            var e = DecodeExperiment()
            (e.model, e.decoding, e.verify, e.detail) = (model.spec, decoding.spec, verify, traceDetail)
            return e
        }

        func run() throws {
            let format = try traceFormatChosen()
            if let trace {
                do { try AtomicFile.checkWritable(trace) } catch { throw ConfigError(.trace, error.description) }
            }
            let output = try experiment.run()
            let decoded = output.run
            if let trace {
                switch format {
                case .text: try AtomicFile.write(DecodeTrace.text(decoded), to: trace)
                case .jsonl, .chrome: try AtomicFile.write(DecodeTrace.jsonl(decoded), to: trace)
                }
            }
            say(json ? output.json.serialized() : report(decoded))
            if output.verified == false {
                throw CheckFailure(description: "--verify: cached decode differs from recomputation by \(decoded.maxAbsDiff!) (> \(DecodeExperiment.verifyTolerance))")
            }
        }

        private func traceFormatChosen() throws(ConfigError) -> TraceFormat {
            if let traceFormat {
                guard traceFormat != .chrome else { throw ConfigError(.traceFormat, "chrome traces are for tile runs (expected jsonl or text)") }
                guard trace != nil else { throw ConfigError(.traceFormat, "needs --trace FILE") }
                return traceFormat
            }
            return trace?.hasSuffix(".txt") == true ? .text : .jsonl
        }

        /// The human summary: what went in and out, and per layer what the cache cost.
        private func report(_ run: DecodeRun) -> String {
            let c = run.config, a = c.attention, res = run.result, budget = run.budget
            var out = "AttnLab decode — \(run.model.map { "\($0), " } ?? "")\(c.layoutName): \(c.layers) layers, d_model \(c.dModel), \(a.qHeads) query heads → \(Format.plural(a.kvHeads, "KV head")), head_dim \(a.headDim)\n"
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
            let cache = res.cache
            if cache.storage == .plain && cache.eviction == .none {
                out += "\ncache      \(cache.tokens) tokens × \(c.kvMap.kvLayers) KV layers × \(Format.grouped(budget.bytesPerTokenPerLayer)) B = \(Format.grouped(cache.bytes)) B (\(run.cacheDType.rawValue))\n"
            } else {
                // What the technique keeps: tokens held, and the bytes of their codes, scales or latents.
                let held = cache.heldTokens
                out += "\ncache      \(held) of \(cache.tokens) tokens held × \(c.kvMap.kvLayers) KV layers = \(Format.grouped(cache.bytes)) B (\(KVTechnique.label(storage: cache.storage, retention: cache.eviction, slidingWindow: c.slidingWindow != nil)); plain \(run.cacheDType.rawValue) would be \(Format.grouped(cache.tokens * budget.bytesPerToken)) B)\n"
                let evictions = res.steps.reduce(0) { $0 + $1.record.layers.reduce(0) { $0 + ($1.evicted?.reduce(0) { $0 + $1.count } ?? 0) } }
                if evictions > 0 { out += "evicted    \(Format.grouped(evictions)) (layer, K/V head, token) rows over the run\n" }
            }
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
    @Option(parsing: .unconditional, help: "Prompt text: over the built-in characters for random weights; any UTF-8 text for a pretrained --model. (default: \(DecodeSpec.defaultPrompt))")
    var prompt: String?

    @Option(name: .customLong("prompt-ids"), parsing: .unconditional, help: "Prompt as token ids, e.g. 3,1,4 (instead of --prompt).")
    var promptIds: String?

    @Option(parsing: .unconditional, help: "Number of tokens to generate.")
    var tokens = 16

    @Option(parsing: .unconditional, help: "Seed of the weights and of sampling.")
    var seed: UInt64 = 1

    @Option(parsing: .unconditional, help: "0 = greedy (argmax); above 0, sample from softmax(logits / T).")
    var temperature = 0.0

    @Option(help: "Element type the cache stores K/V in (values are rounded to it): fp32, bf16, fp16.")
    var dtype: DType = .fp32

    @Flag(help: "Wrap the prompt in a pretrained chat model's template (<|im_start|>user … <|im_end|> <|im_start|>assistant), so an instruct model answers it.")
    var chat = false

    @OptionGroup var kv: KVTechniqueOptions

    @OptionGroup var budget: BudgetOption

    var spec: DecodeSpec {
        var d = DecodeSpec()
        (d.prompt, d.promptIds, d.tokens, d.seed, d.temperature, d.dtype, d.chat) = (prompt, promptIds, tokens, seed, temperature, dtype, chat)
        d.kv = kv.spec
        d.budget = budget.budget
        return d
    }
}
