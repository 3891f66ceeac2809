import Foundation
import Testing

/// Hostile input at the command line: huge and negative numbers, contradictory flags, broken model
/// files and scripts. Each must end in one line on stderr naming what to fix, exit 2, never a trap.
@Suite("attnlab refuses bad input in one line")
struct InputTests {
    /// Runs `arguments` and checks the one-line error, returning it.
    @discardableResult
    static func refused(_ arguments: [String], naming subject: String, _ comment: Comment? = nil) throws -> String {
        let run = try Run(arguments)
        #expect(run.status == 2, "\(arguments): exit \(run.status), stderr \(run.stderr)")
        #expect(run.stderr.hasPrefix("attnlab: error: \(subject)"), "\(arguments): \(run.stderr)")
        #expect(run.stderr.filter { $0 == "\n" }.count == 1, "\(arguments): \(run.stderr)")
        return run.stderr
    }

    static let hugeSizes: [[String]] = [
        ["tile", "run", "--sram-elements", "288230376151711744"],
        ["tile", "run", "--sram", "1152921504606846976"],
        ["tile", "run", "--sram", "1125899906842624KiB"],
        ["tile", "sweep", "--values", "2048,4611686018427387904"],
        ["bench", "--sram-elements", "9223372036854775807", "--no-numpy"],
        ["bench", "--model", "smollm2-135m", "--prompt-tokens", "9223372036854775807", "--tokens", "1"],
    ]

    @Test("sizes past the limits are refused before any arithmetic", arguments: hugeSizes)
    func hugeSize(arguments: [String]) throws {
        let flag = arguments.first { $0.hasPrefix("--") && $0 != "--no-numpy" && $0 != "--model" }!
        try Self.refused(arguments, naming: flag)
    }

    @Test("draw tiles and a lesson step refuse a huge SRAM and write nothing")
    func hugeSramInFigureAndLesson() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        try Self.refused(["draw", "tiles", "--sram-elements", "288230376151711744", "-o", dir.appendingPathComponent("t.png").path], naming: "--sram-elements")
        let lesson = dir.appendingPathComponent("huge.yaml")
        try """
            id: huge
            title: {en: Huge}
            summary: {en: A step with too much SRAM.}
            steps:
              - title: {en: Tiles}
                narration: {en: Counted.}
                action:
                  tile: {algo: fa2, n: 64, d: 16, sram: 1125899906842624KiB}

            """.write(to: lesson, atomically: true, encoding: .utf8)
        let out = dir.appendingPathComponent("out")
        let run = try Run(["run", lesson.path, "--out", out.path])
        #expect(run.status == 2 && run.stderr.contains("sram") && run.stderr.filter { $0 == "\n" }.count == 1, "\(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out.appendingPathComponent("huge").path))
    }

    /// Options whose values are names, paths or text: ArgumentParser may read `-1` there as a flag.
    static let nonNumericOptions: Set<String> = [
        "--model", "--models-dir", "--trace", "--trace-format", "--trace-detail", "--dtype", "--weight-sharing", "--output",
        "--theme", "--title", "--preset", "--numpy-script", "--llama-script", "--peer-python", "--text", "--out", "--lang", "--formats", "--algo", "--over",
        "--format", "--to", "--frames", "--corpus", "--data-dir", "--tokenizer", "--task", "--optimizer", "--schedule",
        "--checkpoint-type", "--from", "--retrofit", "--plot", "--jax-python", "--jax-script",
        "--kv-quant", "--evict", "--weights-dtype",
    ]

    /// Every option of every verb (from ArgumentParser's own description) with 0, −1, Int.max
    /// (2^63 − 1), Int.min and 2^62: no trap, no hang, at most one line on stderr, and a number is
    /// always read as the option's value.
    @Test("every option of every verb takes extreme numbers without trapping")
    func extremeNumbers() async throws {
        let root = try #require(try JSONSerialization.jsonObject(with: Data(try Run(["--experimental-dump-help"]).stdout.utf8)) as? [String: Any])
        var cases: [[String]] = []
        func walk(_ command: [String: Any], _ path: [String]) {
            let options = (command["arguments"] as? [[String: Any]] ?? []).filter { $0["kind"] as? String == "option" }
                .compactMap { ($0["names"] as? [[String: Any]])?.first { $0["kind"] as? String == "long" }?["name"] as? String }
            if !path.isEmpty && path != ["model", "fetch"] && path != ["corpus", "fetch"] {
                for option in options {
                    for value in ["0", "-1", "\(Int.max)", "\(Int.min)", "\(1 << 62)"] {
                        cases.append(path + ["--\(option)", value])
                    }
                }
            }
            for sub in command["subcommands"] as? [[String: Any]] ?? [] { walk(sub, path + [sub["commandName"] as! String]) }
        }
        walk(try #require(root["command"] as? [String: Any]), [])
        #expect(cases.count > 1200)

        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let lessonFile = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../lessons/01-kv-cache.yaml").standardized.path
        let text = dir.appendingPathComponent("text.txt")
        try "the cat sat on the mat.\n".write(to: text, atomically: true, encoding: .utf8)
        let corpus = dir.appendingPathComponent("corpus.txt")
        try (0..<1200).map { "line \($0): the cat sat on the mat.\n" }.joined().write(to: corpus, atomically: true, encoding: .utf8)
        // A training run the size of a unit test: one layer, two steps of two short sequences.
        let tinyTraining = ["--corpus", corpus.path, "--tokenizer", "bytes", "--steps", "2", "--batch", "2", "--seq", "16", "--eval-tokens", "32"]
        let tinyModel = ["--layers", "1", "--d-model", "16", "--q-heads", "2"]
        // Each run writes into the temporary folder and stays small; the option under test wins.
        func arguments(_ c: [String]) -> [String] {
            let option = c[c.count - 2]
            var extra: [String] = []
            switch c[0] {
            case "draw": extra = ["-o", dir.appendingPathComponent("figure.png").path] + (c[1] == "loss-curve" ? tinyTraining + tinyModel : [])
            case "train": extra = tinyTraining + tinyModel + ["-o", dir.appendingPathComponent("model.gguf").path]
            case "study": extra = ["albert-mini", "--seeds", "1", "--out", dir.appendingPathComponent("study").path] + tinyTraining
            case "gallery": extra = ["--out", dir.appendingPathComponent("gallery").path]
            case "bench": extra = ["--no-numpy", "--n", "64", "--repeat", "1"]
            case "run": return ["run", lessonFile] + c.dropFirst() + (option == "--out" ? [] : ["--out", dir.appendingPathComponent("lessons").path])
            case "ppl", "retrofit": extra = ["--text", text.path]
            case "decode", "tile": extra = ["--trace", dir.appendingPathComponent("trace.jsonl").path]
            default: break
            }
            // `--output` is `-o`: the value under test must not be overridden by the folder's file.
            var drop = Set<Int>()
            for (i, e) in extra.enumerated() where e == option || (e == "-o" && option == "--output") { drop.formUnion([i, i + 1]) }
            return c + extra.enumerated().filter { !drop.contains($0.offset) }.map(\.element)
        }
        let failures = await withTaskGroup(of: String?.self) { group in
            var failures: [String] = [], next = 0
            func add() {
                guard next < cases.count else { return }
                let args = arguments(cases[next])
                next += 1
                group.addTask {
                    guard let run = try? Run(args, timeoutSeconds: 60, directory: dir) else { return "\(args): timed out or did not start" }
                    let option = args.first { $0.hasPrefix("--") }!
                    if ![0, 1, 2].contains(run.status) { return "\(args): exit \(run.status) \(run.stderr.prefix(200))" }
                    if run.stderr.filter({ $0 == "\n" }).count > 1 { return "\(args): \(run.stderr.prefix(300))" }
                    if !Self.nonNumericOptions.contains(option) && run.stderr.contains("Missing value") { return "\(args): \(run.stderr)" }
                    return nil
                }
            }
            for _ in 0..<4 { add() }
            while let result = await group.next() {
                if let result { failures.append(result) }
                add()
            }
            return failures
        }
        #expect(failures.isEmpty, "\(failures.count) of \(cases.count) runs failed:\n\(failures.joined(separator: "\n"))")
    }
}

extension InputTests {
    static let contradictions: [([String], String)] = [
        (["params", "--preset", "llama-3-8b", "--encoder"], "--preset/--encoder"),
        (["params", "--encoder", "--cla", "2"], "--encoder/--cla"),
        (["params", "--encoder", "--kv-heads", "2"], "--encoder/--kv-heads"),
        (["params", "--encoder", "--kv-map", "0,0"], "--encoder/--kv-map"),
        (["params", "--preset", "bert-base", "--kv-heads", "1"], "--preset/--kv-heads"),
        (["params", "--preset", "albert-base", "--head-dim", "64"], "--preset/--head-dim"),
        (["decode", "--prompt-ids", "1,2", "--prompt", "abc"], "--prompt/--prompt-ids"),
        (["draw", "cache", "--prompt-ids", "1,2", "--prompt", "abc", "-o", "/tmp/attnlab-never-written.png"], "--prompt/--prompt-ids"),
    ]

    @Test("contradictory flags are refused, naming both", arguments: contradictions)
    func contradiction(arguments: [String], subject: String) throws {
        try Self.refused(arguments, naming: subject)
    }

    static let messages: [([String], String)] = [
        (["decode", "--layers", "-1"], "--layers: must be positive, got -1"),
        (["decode", "--kv-map", "-1,0,0,0"], "--kv-map: layer 0 points at layer -1"),
        (["decode", "--prompt-ids", "-1"], "--prompt-ids: token -1 is outside"),
        (["tile", "run", "--sram", "-5"], "--sram: '-5' is not a size"),
        (["tile", "sweep", "--values", "-1,2"], "--values: '-1' is not a positive integer"),
        (["draw", "kv-chart", "--contexts", "-1,2", "-o", "/tmp/attnlab-never-written.png"], "--contexts"),
        (["bench", "--n", "-64", "--no-numpy"], "--n"),
        (["decode", "--kv-pattern", "0"], "--kv-pattern: has 1 entries"),
        (["decode", "--kv-pattern", "0,0,1,3"], "--kv-pattern: layer"),
        (["decode", "--prompt-ids", "1,\n2"], "--prompt-ids: '\\n2' is not a token id"),
        (["decode", "--preset", "llama\n3"], "--preset: unknown preset 'llama\\n3'"),
        (["decode", "--prompt", "é"], "--prompt: character 'é' is not in the built-in vocabulary"),
    ]

    @Test("negative numbers reach the range checks, the field given is named, and quoted text stays on one line", arguments: messages)
    func message(arguments: [String], expected: String) throws {
        let stderr = try Self.refused(arguments, naming: String(expected.prefix { $0 != ":" }))
        #expect(stderr.contains(expected), "\(stderr)")
    }

    @Test("ppl and retrofit never suggest --prompt-ids, which they do not take")
    func textHints() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let text = dir.appendingPathComponent("hash.txt")
        try "# a heading\n".write(to: text, atomically: true, encoding: .utf8)
        for verb in ["ppl", "retrofit"] {
            let stderr = try Self.refused([verb, "--text", text.path], naming: "--text")
            #expect(!stderr.contains("prompt-ids") && stderr.contains("--model"), "\(stderr)")
        }
        // A random model's --vocab below the characters' ids is refused, not a trap.
        try Self.refused(["ppl", "--vocab", "10", "--text", text.path], naming: "--text")
        #expect(try Self.refused(["decode", "--prompt", "#"], naming: "--prompt").contains("--prompt-ids"))
    }

    @Test("gallery's write errors name --out")
    func galleryOut() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        // A folder where the first figure's file should go makes the write fail after the folder exists.
        for name in ["kv-chart", "heads", "layers", "cache", "attention", "tiles", "io-chart", "tradeoff"] {
            for ext in ["png", "svg"] {
                try FileManager.default.createDirectory(at: dir.appendingPathComponent("\(name).\(ext)"), withIntermediateDirectories: true)
            }
        }
        try Self.refused(["gallery", "--out", dir.path], naming: "--out")
    }

    @Test("a --numpy-script that is not the comparison fails in one line")
    func numpyScript() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let notPython = dir.appendingPathComponent("notes.txt"), silent = dir.appendingPathComponent("silent.py")
        try "These are — notes, not Python.\n".write(to: notPython, atomically: true, encoding: .utf8)
        try "print('hello')\n".write(to: silent, atomically: true, encoding: .utf8)
        #expect(try Self.refused(["bench", "--n", "64", "--repeat", "1", "--numpy-script", notPython.path], naming: "--numpy-script").contains("SyntaxError"))
        try Self.refused(["bench", "--n", "64", "--repeat", "1", "--numpy-script", silent.path], naming: "--numpy-script")
    }

    @Test("a model file with a broken number is refused by model info, decode and ppl, naming the file and key")
    func brokenMetadata() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let text = dir.appendingPathComponent("text.txt")
        try "the cat sat on the mat.\n".write(to: text, atomically: true, encoding: .utf8)
        let corpus = dir.appendingPathComponent("corpus.txt")
        try (0..<1200).map { "line \($0): the cat sat on the mat.\n" }.joined().write(to: corpus, atomically: true, encoding: .utf8)
        // A training run the size of a unit test: one layer, two steps of two short sequences.
        let tinyTraining = ["--corpus", corpus.path, "--tokenizer", "bytes", "--steps", "2", "--batch", "2", "--seq", "16", "--eval-tokens", "32"]
        let tinyModel = ["--layers", "1", "--d-model", "16", "--q-heads", "2"]
        for (key, value) in [("llama.rope.freq_base", GGUFBuilder.Value.f32(.nan)), ("llama.rope.freq_base", .f32(.infinity)),
                             ("llama.rope.freq_base", .f32(0)), ("llama.rope.freq_base", .f32(-1)),
                             ("llama.attention.layer_norm_rms_epsilon", .f32(.nan))] {
            let path = try GGUFBuilder.tinyLlama(metadata: [(key, value)]).write()
            defer { try? FileManager.default.removeItem(atPath: URL(fileURLWithPath: path).deletingLastPathComponent().path) }
            for arguments in [["model", "info"], ["decode", "--prompt-ids", "1,2"], ["ppl", "--text", text.path]] {
                #expect(try Self.refused(arguments + ["--model", path], naming: path).contains(key))
            }
        }
    }

    @Test("NaN weights are refused instead of printing nan")
    func nanWeights() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let text = dir.appendingPathComponent("text.txt")
        try "the cat sat on the mat.\n".write(to: text, atomically: true, encoding: .utf8)
        let corpus = dir.appendingPathComponent("corpus.txt")
        try (0..<1200).map { "line \($0): the cat sat on the mat.\n" }.joined().write(to: corpus, atomically: true, encoding: .utf8)
        // A training run the size of a unit test: one layer, two steps of two short sequences.
        let tinyTraining = ["--corpus", corpus.path, "--tokenizer", "bytes", "--steps", "2", "--batch", "2", "--seq", "16", "--eval-tokens", "32"]
        let tinyModel = ["--layers", "1", "--d-model", "16", "--q-heads", "2"]
        let good = try GGUFBuilder.tinyLlama().write(), bad = try GGUFBuilder.tinyLlama(poison: .nan).write()
        defer { for p in [good, bad] { try? FileManager.default.removeItem(atPath: URL(fileURLWithPath: p).deletingLastPathComponent().path) } }
        #expect(try Run(["ppl", "--model", good, "--text", text.path]).status == 0)
        #expect(try Run(["decode", "--model", good, "--prompt-ids", "1,2", "--tokens", "2"]).status == 0)
        for arguments in [["ppl", "--text", text.path], ["retrofit", "--text", text.path, "--to", "mqa"], ["decode", "--prompt-ids", "1,2", "--tokens", "2"],
                          ["decode", "--prompt-ids", "1,2", "--tokens", "2", "--temperature", "0.7"]] {
            let stderr = try Self.refused(arguments + ["--model", bad], naming: "--model")
            #expect(stderr.contains("not finite") || stderr.contains("not a number"), "\(stderr)")
        }
    }
}
