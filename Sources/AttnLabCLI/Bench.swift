import ArgumentParser
import AttnEngine
import AttnExperiments
import AttnModels
import AttnTiling
import AttnTrace
import AttnTraining
import Foundation

extension AttnLab {
    struct Bench: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Time the attention kernels (naive, fa1, fa2) with and without counting beside NumPy, or a real model beside llama.cpp.",
            discussion: """
                Every measurement is --repeat runs, alternating between AttnLab and its peers so that all \
                see the same moments of a busy machine; tables give the median and the spread (min–max).

                Kernels: throughput counts the useful 4·N²·d FLOPs of the two products, for all three \
                algorithms and NumPy alike. "ms" is a run with full counting; "bare ms" the same run with \
                every load/store/allocate call of the memory model returning at once; "counting" the \
                difference of the medians.

                With --model: loading, prompt processing (the prompt pushed through in blocks) and decoding \
                (one token per step, trace off), beside llama.cpp on the same file and the same token ids \
                when the peer environment (\(PeerScript.environment)) exists; then the weight bytes each \
                decoded token reads against the measured memory bandwidth, the bound on decoding.

                Peers: `\(PeerScript.setupCommand)` creates \(PeerScript.environment) with pinned NumPy and \
                llama-cpp-python (compiles llama.cpp: minutes, once). Without it, NumPy runs from python3 \
                on PATH and --model times AttnLab alone. Build in release mode first.

                Examples:
                  swift build -c release && .build/release/attnlab bench
                  .build/release/attnlab bench --model smollm2-135m
                  .build/release/attnlab bench --train

                With --train: steps of AttnLab's training (forward, hand-written backward, AdamW) on the \
                study models and a d_model 512 model, beside the same model and step in JAX (jax[cpu], two \
                threads; `bash bench/setup-jax.sh` makes bench/.venv-jax) when that environment exists. \
                GFLOP/s count 3 × the forward's 2 × multiply-adds, attention at full T × T, for both.
                """
        )

        @Option(help: "Time this pretrained model (e.g. smollm2-135m) instead of the attention kernels.")
        var model: String?

        @Flag(help: "Time training steps of the study models and a d_model 512 model instead, beside JAX on the CPU (bash bench/setup-jax.sh).")
        var train = false

        @Option(name: .customLong("jax-python"), help: "With --train: the Python of the JAX environment.")
        var jaxPython = "bench/.venv-jax/bin/python"

        @Option(name: .customLong("jax-script"), help: "With --train: the JAX comparison to run.")
        var jaxScript = "bench/jax_train.py"

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

        @Option(name: .customLong("repeat"), parsing: .unconditional, help: "Runs per measurement (AttnLab's and each peer's, alternating); the median counts.")
        var repeats = 3

        @Option(name: .customLong("numpy-script"), help: "The NumPy comparison to run.")
        var numpyScript = "bench/numpy_attention.py"

        @Flag(name: .customLong("no-numpy"), help: "Skip the NumPy comparison.")
        var noNumpy = false

        @Option(name: .customLong("llama-script"), help: "With --model: the llama.cpp comparison to run.")
        var llamaScript = "bench/llama_cpp_model.py"

        @Option(name: .customLong("peer-python"), help: "The Python of the peer environment (made by \(PeerScript.setupCommand)).")
        var peerPython = PeerScript.defaultPython

        @OptionGroup var budget: BudgetOption

        /// Whether the peer environment is there.
        var hasPeerEnvironment: Bool { FileManager.default.fileExists(atPath: peerPython) }

        func run() throws {
            try Limits.require(repeats, .repeats)
            if let model { return try benchModel(model) }
            if train { return try benchTrain() }
            let sizes = try parseList(n, field: .n)
            // Checked before NumPy runs and before any size is multiplied.
            for size in sizes { try Limits.require(size, .n) }
            try Limits.require(d, .d)
            try Limits.require(sramElements, .sramElements)
            try checkBudget(sizes)
            if !noNumpy && !FileManager.default.fileExists(atPath: numpyScript) {
                throw ConfigError(.numpyScript, "\(numpyScript) not found (run from the repository root, give its path, or --no-numpy)")
            }
            let numpy = noNumpy ? nil : PeerScript(
                python: hasPeerEnvironment ? peerPython : "python3", script: numpyScript, field: .numpyScript,
                hint: "is NumPy installed, and is this the NumPy comparison script? (or --no-numpy)")
            let load = MachineLoad()
            var numpyInfo: String? = nil
            var rows: [[String]] = []
            let algorithms = TileAlgorithm.allCases
            for size in sizes {
                let problem = try TileProblem(n: size, d: d, seed: 1)
                let flops = 4.0 * Double(size) * Double(size) * Double(d)
                // Seconds per run. Each round runs NumPy once (first, so that a broken script fails
                // before AttnLab spends its time), then every algorithm counted and bare.
                var counted = [[Double]](repeating: [], count: algorithms.count), bare = counted, numpyRuns: [Double] = []
                for _ in 0..<repeats {
                    if let numpy {
                        let (seconds, info) = try numpySeconds(numpy, size)
                        numpyRuns.append(seconds)
                        numpyInfo = info ?? numpyInfo
                    }
                    for (i, algo) in algorithms.enumerated() {
                        counted[i].append(try time(problem, algo, counting: true))
                        bare[i].append(try time(problem, algo, counting: false))
                    }
                }
                let np = numpyRuns.isEmpty ? nil : Samples(numpyRuns).map { $0 * 1000 }
                for (i, algo) in algorithms.enumerated() {
                    let ms = Samples(counted[i]).map { $0 * 1000 }, bareMs = Samples(bare[i]).map { $0 * 1000 }
                    var row = [Format.grouped(size), algo.rawValue, Format.fixed(ms.median, 1), ms.spread(1),
                               Format.fixed(flops / ms.median / 1e6, 2), Format.fixed(bareMs.median, 1),
                               Format.percent(ms.median / bareMs.median - 1, 1)]
                    if let np { row += [Format.fixed(np.median, 1), np.spread(1), Format.fixed(ms.median / np.median, 2) + "×"] }
                    rows.append(row)
                }
            }
            var header = ["N", "algo", "ms", "spread", "GFLOP/s", "bare ms", "counting"]
            if !noNumpy { header += ["NumPy ms", "spread", "vs NumPy"] }
            say("Attention forward, d = \(d), M = \(Format.grouped(sramElements)) elements; "
                + "medians of \(Format.grouped(repeats)) alternating runs (\(noNumpy ? "" : "NumPy, ")counted, bare), spread = min–max")
            say(load.line() + "\n")
            print(Format.table(header, rows, rightAligned: Set(0..<header.count).subtracting([1])), terminator: "")
            if let numpy {
                say("\nNumPy \(numpyInfo ?? "") from \(numpy.python) (naive attention: S, softmax, PV in float32); vs NumPy = AttnLab's ms ÷ NumPy's (below 1× AttnLab is faster)")
            }
        }

        /// `--train`: per case, `repeats` rounds of (JAX run, AttnLab steps), medians.
        private func benchTrain() throws {
            let cases = try TrainBench.cases()
            let jax = FileManager.default.fileExists(atPath: jaxPython) && FileManager.default.fileExists(atPath: jaxScript)
                ? PeerScript(python: jaxPython, script: jaxScript, field: .jaxScript, hint: "is this bench/jax_train.py, and does bash bench/setup-jax.sh run?")
                : nil
            let stepsPerRound = 5
            let load = MachineLoad()
            var rows: [[String]] = [], jaxVersion: String? = nil
            for c in cases {
                let model = TrainingModel<Float>(config: c.config, weights: DecoderWeights(config: c.config, seed: 1), maxSeq: c.seq)
                let trainer = Trainer(model: model, optimizer: Optimizer(settings: OptimizerSettings(), parameterCount: model.layout.count),
                                      batch: c.batch, seq: c.seq, totalSteps: 1_000_000)
                let data = TrainBench.RandomTokens(vocab: c.config.vocab)
                _ = TrainBench.attnlabStepSeconds(c, trainer: trainer, data: data, steps: 2)
                var ours: [Double] = [], theirs: [Double] = []
                for _ in 0..<repeats {
                    if let jax {
                        for object in try jax.run([], input: TrainBench.peerInput(c, steps: stepsPerRound)) {
                            if let s = object["step_seconds_median"] as? Double { theirs.append(s) }
                            if let v = object["jax"] as? String { jaxVersion = v }
                        }
                    }
                    ours.append(Samples(TrainBench.attnlabStepSeconds(c, trainer: trainer, data: data, steps: stepsPerRound)).median)
                }
                let flops = TrainBench.flops(c), tokens = Double(c.batch * c.seq)
                let us = Samples(ours).map { $0 * 1000 }
                var row = [c.name, Format.grouped(model.layout.count), "\(c.batch) × \(c.seq)", Format.fixed(us.median, 1), us.spread(1),
                           Format.grouped(Int((tokens / us.median * 1000).rounded())), Format.fixed(flops / us.median / 1e6, 1)]
                if jax != nil {
                    guard !theirs.isEmpty else { throw ConfigError(.jaxScript, "\(jaxScript) printed no step time") }
                    let them = Samples(theirs).map { $0 * 1000 }
                    row += [Format.fixed(them.median, 1), them.spread(1), Format.grouped(Int((tokens / them.median * 1000).rounded())),
                            Format.fixed(flops / them.median / 1e6, 1), Format.fixed(them.median / us.median, 2) + "×"]
                }
                rows.append(row)
            }
            var header = ["model", "params", "batch", "ms/step", "spread", "tokens/s", "GFLOP/s"]
            if jax != nil { header += ["JAX ms", "spread", "tokens/s", "GFLOP/s", "speed vs JAX"] }
            say("Training steps (forward, backward, AdamW), Float32; medians of \(Format.grouped(repeats)) alternating rounds of \(stepsPerRound) steps each\(jax == nil ? "" : " (JAX, then AttnLab)"), spread = min–max")
            say(load.line() + "\n")
            print(Format.table(header, rows, rightAligned: Set(1..<header.count).subtracting([2])), terminator: "")
            if jax != nil {
                say("\nJAX \(jaxVersion ?? "") on the CPU, two threads, jitted step with the same model, loss and AdamW; speed vs JAX = JAX's ms ÷ AttnLab's (above 1× AttnLab is faster)")
            } else {
                say("\nNo JAX environment (\(jaxPython)): AttnLab alone. `bash bench/setup-jax.sh` makes it.")
            }
        }

        /// Refuses kernel timings estimated over the budget: each size runs three algorithms with and
        /// without counting, `repeats` times, and NumPy (half a second to start Python, then its
        /// warm-ups and its run at a conservative 1 GFLOP/s for one run: BLAS runs far faster).
        private func checkBudget(_ sizes: [Int]) throws(ConfigError) {
            var seconds = 0.0
            for size in sizes {
                seconds += WorkEstimate.tiledSeconds(n: size, d: d, runs: Double(repeats) * Double(2 * TileAlgorithm.allCases.count))
                if !noNumpy { seconds += Double(repeats) * (0.5 + 4 * Double(size) * Double(size) * Double(d) / 1e9) }
            }
            try budget.budget.check(WorkEstimate(what: "\(Format.grouped(repeats)) × 6 kernel runs at N = \(n), d = \(d)", seconds: seconds, fields: [.repeats, .n]))
        }

        /// Seconds of one run.
        private func time(_ p: TileProblem, _ algo: TileAlgorithm, counting: Bool) throws -> Double {
            var options = TileOptions(algorithm: algo, sramElements: sramElements)
            options.check = false
            options.counting = counting
            let clock = ContinuousClock()
            let start = clock.now
            _ = try TiledAttention.run(p, options)
            return seconds(clock.now - start)
        }

        /// Seconds of one NumPy run at `size` (after its warm-up), and its version line.
        private func numpySeconds(_ numpy: PeerScript, _ size: Int) throws -> (Double, String?) {
            var result: Double? = nil, info: String? = nil
            for object in try numpy.run(["--n", String(size), "--d", String(d), "--repeat", "1"]) {
                if object["n"] as? Int == size, let s = object["seconds"] as? Double { result = s }
                if let version = object["numpy"] as? String { info = "\(version), BLAS \(object["blas"] as? String ?? "unknown")," }
            }
            guard let result else { throw numpy.silent("timing for N = \(size)") }
            return (result, info)
        }
    }
}
