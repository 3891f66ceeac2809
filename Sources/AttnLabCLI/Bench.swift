import ArgumentParser
import AttnEngine
import AttnExperiments
import AttnModels
import AttnTiling
import AttnTrace
import Foundation

extension AttnLab {
    struct Bench: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Time the attention kernels (naive, fa1, fa2) with and without counting, beside NumPy.",
            discussion: """
                Throughput counts the useful 4·N²·d FLOPs of the two products, for all three algorithms and \
                NumPy alike. "counting" is the cost of the memory model's bookkeeping: the same run with \
                every load/store/allocate call returning at once. Build in release mode first.

                With --model, times a pretrained model instead: loading (parse + dequantize), prompt \
                processing (the prompt pushed through in blocks) and decoding (one token per step, trace off).

                Examples:
                  swift build -c release && .build/release/attnlab bench
                  .build/release/attnlab bench --model smollm2-135m
                """
        )

        @Option(help: "Time this pretrained model (e.g. smollm2-135m) instead of the attention kernels.")
        var model: String?

        @OptionGroup var models: ModelsDirOption

        @Option(name: .customLong("prompt-tokens"), parsing: .unconditional, help: "With --model: prompt length to process.")
        var promptTokens = 256

        @Option(parsing: .unconditional, help: "With --model: tokens to decode after the prompt.")
        var tokens = 128

        @Option(parsing: .unconditional, help: "Sequence lengths.")
        var n = "1024,2048,4096"

        @Option(parsing: .unconditional, help: "Head dimension.")
        var d = 64

        @Option(name: .customLong("sram-elements"), parsing: .unconditional, help: "SRAM capacity M (default: 192 KiB of fp32, one A100 SM).")
        var sramElements = 49_152

        @Option(name: .customLong("repeat"), parsing: .unconditional, help: "Runs per measurement; the fastest counts.")
        var repeats = 3

        @Option(name: .customLong("numpy-script"), help: "The NumPy comparison to run.")
        var numpyScript = "bench/numpy_attention.py"

        @Flag(name: .customLong("no-numpy"), help: "Skip the NumPy comparison.")
        var noNumpy = false

        @OptionGroup var budget: BudgetOption

        func run() throws {
            try Limits.require(repeats, .repeats)
            if let model { return try benchModel(model) }
            let sizes = try parseList(n, field: .n)
            // Checked before NumPy runs and before any size is multiplied.
            for size in sizes { try Limits.require(size, .n) }
            try Limits.require(d, .d)
            try Limits.require(sramElements, .sramElements)
            try checkBudget(sizes)
            if !noNumpy && !FileManager.default.fileExists(atPath: numpyScript) {
                throw ConfigError(.numpyScript, "\(numpyScript) not found (run from the repository root, give its path, or --no-numpy)")
            }
            let (numpy, numpyInfo) = noNumpy ? ([:], nil) : try runNumPy(sizes)
            var rows: [[String]] = []
            for size in sizes {
                let problem = try TileProblem(n: size, d: d, seed: 1)
                let flops = 4.0 * Double(size) * Double(size) * Double(d)
                for algo in TileAlgorithm.allCases {
                    let counted = try time(problem, algo, counting: true)
                    let bare = try time(problem, algo, counting: false)
                    let overhead = (counted - bare) / bare
                    var row = [Format.grouped(size), algo.rawValue, Format.fixed(counted * 1000, 1), Format.fixed(flops / counted / 1e9, 2),
                               Format.percent(overhead, 1)]
                    if let np = numpy[size] { row += [Format.fixed(np * 1000, 1), Format.fixed(counted / np, 1) + "×"] }
                    rows.append(row)
                }
            }
            var header = ["N", "algo", "ms", "GFLOP/s", "counting"]
            if !noNumpy { header += ["NumPy ms", "vs NumPy"] }
            say("Attention forward, d = \(d), M = \(Format.grouped(sramElements)) elements, one core, fastest of \(repeats)\n")
            print(Format.table(header, rows, rightAligned: [0, 2, 3, 4, 5, 6]), terminator: "")
            if let info = numpyInfo { say("\nNumPy \(info) (naive attention: S, softmax, PV in float32)") }
        }

        /// Load, prompt and decode rates of a pretrained model; the fastest of the repeats counts.
        private func benchModel(_ name: String) throws {
            try Limits.require(promptTokens, .promptTokens)
            try Limits.require(tokens, .tokens)
            guard promptTokens + tokens <= Limits.maxTokens else {
                throw ConfigError(.promptTokens, "prompt + tokens must be in 2...\(Limits.maxTokens)")
            }
            let config = try ModelStore.config(of: name, directory: ModelStore.directory(models.dir))
            let once = WorkEstimate.loadSeconds(config) + WorkEstimate.decoderSeconds(config, tokens: promptTokens, inBlocks: true)
                + WorkEstimate.decoderSeconds(config, tokens: promptTokens + tokens, inBlocks: false)
                - WorkEstimate.decoderSeconds(config, tokens: promptTokens, inBlocks: false)
            try budget.budget.check(WorkEstimate(what: "\(Format.grouped(repeats)) × (load, \(Format.grouped(promptTokens)) prompt tokens, \(Format.grouped(tokens)) decoded)",
                                                 seconds: Double(repeats) * once, fields: [.repeats, .promptTokens, .tokens]))
            let clock = ContinuousClock()
            func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18 }
            var load = Double.infinity, prefill = Double.infinity, decode = Double.infinity
            var m: PretrainedModel? = nil
            for _ in 0..<repeats {
                let start = clock.now
                m = try ModelStore.load(name, directory: ModelStore.directory(models.dir))
                load = min(load, seconds(clock.now - start))
            }
            let model = m!
            // A fixed, deterministic prompt: the ids cycle through the ordinary vocabulary.
            let prompt = (0..<promptTokens).map { 256 + ($0 * 7919) % (model.config.vocab - 256) }
            for _ in 0..<repeats {
                let decoder = Decoder(config: model.config, weights: model.weights, capacityTokens: promptTokens + tokens)
                var start = clock.now
                var next = Sampler.argmax(decoder.forward(prompt).last!.logits)
                prefill = min(prefill, seconds(clock.now - start))
                start = clock.now
                for _ in 0..<tokens { next = Sampler.argmax(decoder.step(token: next).logits) }
                decode = min(decode, seconds(clock.now - start))
            }
            let c = model.config
            say("\(model.name) (\(c.layoutName), \(Format.grouped(c.paramCount.total)) parameters as Float32), \(ProcessInfo.processInfo.activeProcessorCount) cores, fastest of \(repeats)\n")
            print(Format.table(["phase", "tokens", "seconds", "tokens/s"], [
                ["load (parse + dequantize)", "—", Format.fixed(load, 3), "—"],
                ["prompt (blocks of \(Decoder.defaultBlockTokens))", Format.grouped(promptTokens),
                 Format.fixed(prefill, 3), Format.fixed(Double(promptTokens) / prefill, 1)],
                ["decode (one token per step)", Format.grouped(tokens), Format.fixed(decode, 3), Format.fixed(Double(tokens) / decode, 1)],
            ], rightAligned: [1, 2, 3]), terminator: "")
        }

        /// Refuses kernel timings estimated over the budget: each size runs three algorithms with and
        /// without counting, `repeats` times, and NumPy (at a conservative 1 GFLOP/s, plus its start).
        private func checkBudget(_ sizes: [Int]) throws(ConfigError) {
            var seconds = 0.0
            for size in sizes {
                seconds += WorkEstimate.tiledSeconds(n: size, d: d, runs: Double(repeats) * Double(2 * TileAlgorithm.allCases.count))
                if !noNumpy { seconds += Double(repeats) * 4 * Double(size) * Double(size) * Double(d) / 1e9 }
            }
            if !noNumpy { seconds += 2 }
            try budget.budget.check(WorkEstimate(what: "\(Format.grouped(repeats)) × 6 kernel runs at N = \(n), d = \(d)", seconds: seconds, fields: [.repeats, .n]))
        }

        private func time(_ p: TileProblem, _ algo: TileAlgorithm, counting: Bool) throws -> Double {
            var options = TileOptions(algorithm: algo, sramElements: sramElements)
            options.check = false
            options.counting = counting
            var best = Double.infinity
            let clock = ContinuousClock()
            for _ in 0..<repeats {
                let start = clock.now
                _ = try TiledAttention.run(p, options)
                let elapsed = clock.now - start
                best = min(best, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18)
            }
            return best
        }

        /// Seconds per N from the NumPy script, run with OpenBLAS's core-type overrides removed (they
        /// slow a current NumPy; see the machine notes).
        private func runNumPy(_ sizes: [Int]) throws -> ([Int: Double], String?) {
            let process = ChildProcess.make(["python3", numpyScript, "--n", sizes.map(String.init).joined(separator: ","), "--d", String(d), "--repeat", String(repeats)])
            var environment = ProcessInfo.processInfo.environment
            environment["OPENBLAS_CORETYPE"] = nil
            environment["OPENBLAS_L2_SIZE"] = nil
            process.environment = environment
            // Errors share the output's pipe: a traceback cannot fill a second pipe while this one is
            // read, and its last line, the exception, goes into the one-line error.
            let pipe = Pipe()
            process.standardOutput = pipe
            process.standardError = pipe
            try process.run()
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            let lines = String(decoding: data, as: UTF8.self).split(separator: "\n")
            guard process.terminationStatus == 0 else {
                let last = lines.last.map { ": \($0.trimmingCharacters(in: .whitespaces))" } ?? ""
                throw ConfigError(.numpyScript, "python3 \(numpyScript) failed (status \(process.terminationStatus))\(last); is NumPy installed, and is this the NumPy comparison script? (or --no-numpy)")
            }
            var result: [Int: Double] = [:], info: String? = nil
            for line in lines {
                guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { continue }
                if let n = object["n"] as? Int, let s = object["seconds"] as? Double { result[n] = s }
                if let version = object["numpy"] as? String { info = "\(version), BLAS \(object["blas"] as? String ?? "unknown")" }
            }
            guard Set(result.keys) == Set(sizes) else {
                throw ConfigError(.numpyScript, "python3 \(numpyScript) printed no timing for N = \(sizes.filter { result[$0] == nil }.map(String.init).joined(separator: ", ")); is this the NumPy comparison script? (or --no-numpy)")
            }
            return (result, info)
        }
    }
}
