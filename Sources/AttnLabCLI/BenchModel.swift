import AttnEngine
import AttnExperiments
import AttnModels
import AttnTrace
import Foundation

extension AttnLab.Bench {
    /// Seconds of each phase of one run.
    struct ModelRun {
        var load: Double, prefill: Double, decode: Double
    }

    /// What one llama.cpp run reported.
    struct PeerRun {
        var run: ModelRun
        var peakBytes: Int
    }

    /// Load, prompt and decode rates of a pretrained model, alternating with llama.cpp on the same file
    /// and token ids when the peer environment exists; then the roofline of decoding.
    func benchModel(_ name: String) throws {
        try Limits.require(promptTokens, .promptTokens)
        try Limits.require(tokens, .tokens)
        guard promptTokens + tokens <= Limits.maxTokens else {
            throw ConfigError(.promptTokens, "prompt + tokens must be in 2...\(Limits.maxTokens)")
        }
        let directory = ModelStore.directory(models.dir)
        let config = try ModelStore.config(of: name, directory: directory)
        let path = try ModelStore.path(of: name, directory: directory).path
        let llama = hasPeerEnvironment ? PeerScript(
            python: peerPython, script: llamaScript, field: .llamaScript,
            hint: "is llama-cpp-python installed (\(PeerScript.setupCommand)), and is this the llama.cpp comparison script?") : nil
        if llama != nil && !FileManager.default.fileExists(atPath: llamaScript) {
            throw ConfigError(.llamaScript, "\(llamaScript) not found (run from the repository root or give its path)")
        }
        let once = WorkEstimate.loadSeconds(config) + WorkEstimate.decoderSeconds(config, tokens: promptTokens, inBlocks: true)
            + WorkEstimate.decoderSeconds(config, tokens: promptTokens + tokens, inBlocks: false)
            - WorkEstimate.decoderSeconds(config, tokens: promptTokens, inBlocks: false)
        // The peer is assumed no faster than AttnLab, plus a second to start Python and llama.cpp.
        let perRound = llama == nil ? once : 2 * once + 1
        try budget.budget.check(WorkEstimate(what: "\(Format.grouped(repeats)) × (load, \(Format.grouped(promptTokens)) prompt tokens, \(Format.grouped(tokens)) decoded)",
                                             seconds: Double(repeats) * perRound, fields: [.repeats, .promptTokens, .tokens]))
        if llama == nil {
            say("llama.cpp: no peer environment (\(peerPython) not found); `\(PeerScript.setupCommand)` creates it (minutes, once). AttnLab alone:\n")
        }

        // A fixed, deterministic prompt: the ids cycle through the vocabulary past its 256 byte tokens.
        let skipped = config.vocab > 512 ? 256 : 0
        let prompt = (0..<promptTokens).map { skipped + ($0 &* 7919) % (config.vocab - skipped) }
        let threads = ProcessInfo.processInfo.activeProcessorCount
        let load = MachineLoad()
        var own: [ModelRun] = [], peer: [PeerRun] = []
        var footprint: ModelFootprint? = nil, title = "", peerInfo = ""
        // Each round runs llama.cpp first, so that a broken peer fails before AttnLab spends its time.
        for _ in 0..<repeats {
            if let llama {
                let (run, info) = try runLlama(llama, path: path, prompt: prompt, threads: threads)
                peer.append(run)
                peerInfo = info
            }
            own.append(try runAttnLab(name, directory: directory, prompt: prompt) { model in
                guard footprint == nil else { return }
                let file = try GGUFFile(path: path)
                footprint = ModelFootprint(model: model, file: file)
                let c = model.config
                title = "\(model.name) (\(c.layoutName), \(Format.grouped(c.paramCount.total)) parameters; file \(Format.bytes(file.fileBytes, units: .binary))"
                    + ", tensors \(model.tensorTypes.map { "\($0.tensors) \($0.type)" }.joined(separator: ", ")))"
            })
        }
        // Taken before the bandwidth buffer below is allocated.
        let ownPeakBytes = peakResidentBytes()
        let bandwidth = MemoryBandwidth.measure(threads: threads)

        say(title)
        say("Medians of \(Format.grouped(repeats)) alternating runs (\(llama == nil ? "" : "llama.cpp, ")AttnLab), spread = min–max")
        say(load.line(spinning: llama == nil ? nil : "llama.cpp") + "\n")
        let ownPrefill = Samples(own.map { Double(promptTokens) / $0.prefill }), ownDecode = Samples(own.map { Double(tokens) / $0.decode })
        let ownLoad = Samples(own.map(\.load))
        let mib = Double(1 << 20)
        var header = ["phase", "tokens", "AttnLab", "spread"]
        var rows = [
            ["load, s", "—", Format.fixed(ownLoad.median, 3), ownLoad.spread(3)],
            ["prompt, tokens/s", Format.grouped(promptTokens), Format.fixed(ownPrefill.median, 1), ownPrefill.spread(1)],
            ["decode, tokens/s", Format.grouped(tokens), Format.fixed(ownDecode.median, 1), ownDecode.spread(1)],
            ["peak memory, MiB", "—", Format.fixed(Double(ownPeakBytes) / mib, 0), "—"],
        ]
        if !peer.isEmpty {
            header += ["llama.cpp", "spread", "AttnLab ÷ llama.cpp"]
            let columns = [Samples(peer.map(\.run.load)), Samples(peer.map { Double(promptTokens) / $0.run.prefill }),
                           Samples(peer.map { Double(tokens) / $0.run.decode }), Samples(peer.map { Double($0.peakBytes) / mib })]
            let ownMedians = [ownLoad.median, ownPrefill.median, ownDecode.median, Double(ownPeakBytes) / mib]
            for (i, (samples, decimals)) in zip(columns, [3, 1, 1, 0]).enumerated() {
                rows[i] += [Format.fixed(samples.median, decimals), samples.spread(decimals), Format.fixed(ownMedians[i] / samples.median, 2) + "×"]
            }
        }
        print(Format.table(header, rows, rightAligned: Set(1..<header.count)), terminator: "")
        say("\nPrompt: AttnLab in blocks of \(Decoder.defaultBlockTokens) tokens\(peer.isEmpty ? "" : "; \(peerInfo)"); logits for its last token only.")

        // The roofline: a decoded token reads every weight once and the KV cache of its context, so
        // bytes per token ÷ bytes per second bounds tokens per second.
        let bytesPerSecond = bandwidth.median
        let meanContext = Double(promptTokens) + Double(tokens + 1) / 2
        func kvBytes(_ dtype: DType) -> Double {
            Double(KVBudget(layout: config.attention, kvMap: config.kvMap, dtype: dtype).bytesReadPerContextToken) * meanContext
        }
        func line(_ who: String, weights: Int, weightsAre: String, kv dtype: DType, measured: Samples) -> String {
            let kv = kvBytes(dtype), bound = bytesPerSecond / (Double(weights) + kv)
            return "  \(who) \(Format.bytes(Int(Double(weights) + kv))) per token (weights \(Format.bytes(weights)) \(weightsAre) + KV cache "
                + "\(Format.bytes(Int(kv))) in \(dtype)) → at most \(Format.fixed(bound, 1)) tokens/s; measured \(Format.fixed(measured.median, 1)), "
                + "\(Format.percent(measured.median / bound, 0)) of the bound"
        }
        say("\nMemory read bandwidth: \(Format.fixed(bytesPerSecond / 1e9, 2)) GB/s (\(threads) threads summing 256 MiB; median of "
            + "\(bandwidth.values.count) passes, \(bandwidth.map { $0 / 1e9 }.spread(2)))")
        say("Decoding reads every weight once per token, and the KV cache of its context (\(Format.fixed(meanContext, 1)) tokens on average here):")
        let f = footprint!
        say(line("AttnLab  ", weights: f.heldBytesPerToken, weightsAre: "as AttnLab holds them", kv: .fp32, measured: ownDecode))
        if !peer.isEmpty {
            say(line("llama.cpp", weights: f.storedBytesPerToken, weightsAre: "as stored: \(f.storedTypes.joined(separator: ", "))", kv: .fp16,
                     measured: Samples(peer.map { Double(tokens) / $0.run.decode })))
        }
        say("Peak memory is each process's high-water resident set (getrusage): AttnLab's is this whole bench process over all its runs "
            + "(one model loaded at a time, the decoder's buffers, the runtime)\(peer.isEmpty ? "" : "; llama.cpp's its own Python process in each run (the interpreter and NumPy included)").")
    }

    /// One AttnLab run: load, prompt, decode; `loaded` sees the model while it is in memory. The model
    /// is freed when the run returns, so the next load does not hold two.
    private func runAttnLab(_ name: String, directory: String, prompt: [Int], loaded: (PretrainedModel) throws -> Void) throws -> ModelRun {
        let clock = ContinuousClock()
        var start = clock.now
        let model = try ModelStore.load(name, directory: directory)
        let load = seconds(clock.now - start)
        try loaded(model)
        let decoder = Decoder(config: model.config, weights: model.weights, capacityTokens: promptTokens + tokens)
        start = clock.now
        var next = Sampler.argmax(decoder.forward(prompt, logits: .last).last!.logits)
        let prefill = seconds(clock.now - start)
        start = clock.now
        for _ in 0..<tokens { next = Sampler.argmax(decoder.step(token: next).logits) }
        return ModelRun(load: load, prefill: prefill, decode: seconds(clock.now - start))
    }

    /// One llama.cpp run in its own process, and its description ("llama-cpp-python 0.3.36, …").
    private func runLlama(_ llama: PeerScript, path: String, prompt: [Int], threads: Int) throws -> (PeerRun, String) {
        var run: PeerRun? = nil, info: String? = nil
        let objects = try llama.run(["--model", path, "--prompt-ids", prompt.map(String.init).joined(separator: ","),
                                     "--tokens", String(tokens), "--threads", String(threads)])
        for o in objects {
            if let version = o["llama_cpp_python"] as? String, let batch = o["batch"] as? Int, let t = o["threads"] as? Int {
                info = "llama.cpp (llama-cpp-python \(version), \(t) threads) in batches of \(batch)"
            }
            if let load = o["load_seconds"] as? Double, let prefill = o["prefill_seconds"] as? Double, let decode = o["decode_seconds"] as? Double,
               let peak = o["peak_rss_bytes"] as? Int, o["prompt_tokens"] as? Int == prompt.count, o["tokens"] as? Int == tokens {
                run = PeerRun(run: ModelRun(load: load, prefill: prefill, decode: decode), peakBytes: peak)
            }
        }
        guard let run, let info else { throw llama.silent("version and timings for \(prompt.count) prompt tokens and \(tokens) decoded") }
        return (run, info)
    }
}
