import AttnEngine
import Foundation
import Testing

/// Seeded mutation fuzzing through the built `attnlab`: mutated lesson files go through `check` and
/// (every few) `run --no-step`; mutated GGUF files through `model info` and `decode`. Whatever the
/// input, each process must exit by itself (no signal, no hang) with status 0, 1 or 2, print at most
/// one line on stderr (`check` one line per error, each a whole `attnlab: error:` line), and leave
/// no staging folder (`.tmp-`) behind.
///
/// The suite runs a few dozen cases; `scripts/fuzz.sh N` runs N of each kind by setting
/// `ATTNLAB_FUZZ_CASES` (and `ATTNLAB_FUZZ_SEED` for other mutants; `ATTNLAB_FUZZ_BINARY` to try
/// another build). A failing case's input is kept in the temporary folder the issue names, to
/// reproduce it by hand.
@Suite("fuzz: mutated lessons and GGUF files end in success or a one-line error, never a crash")
struct FuzzTests {
    static let environment = ProcessInfo.processInfo.environment
    static let cases = environment["ATTNLAB_FUZZ_CASES"].flatMap { Int($0) } ?? 24
    static let seed = environment["ATTNLAB_FUZZ_SEED"].flatMap { UInt64($0) } ?? 2026
    /// Every how many lesson mutants also run (a run takes about a second; `check` a few ms).
    static let runEvery = 4
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// A finished `attnlab` process.
    struct Outcome {
        let arguments: [String]
        let reason: Process.TerminationReason
        let status: Int32
        let stderr: String
        let timedOut: Bool

        /// What is wrong with how it ended, if anything.
        func problem(errorLinesAllowed: Int) -> String? {
            let lines = stderr.isEmpty ? [] : stderr.split(separator: "\n", omittingEmptySubsequences: false).dropLast(stderr.hasSuffix("\n") ? 1 : 0)
            if timedOut { return "did not finish within \(FuzzTests.timeoutSeconds) s" }
            if reason != .exit { return "ended by signal \(status)" }
            if ![0, 1, 2].contains(status) { return "exit status \(status)" }
            if lines.count > errorLinesAllowed { return "\(lines.count) lines on stderr" }
            if let bad = lines.first(where: { !$0.hasPrefix("attnlab: error: ") }) { return "stderr line is not one whole error: \(bad.prefix(200))" }
            return nil
        }
    }

    static let timeoutSeconds = 120.0

    /// Runs the built `attnlab` from the package root, killing it after `timeoutSeconds`.
    static func attnlab(_ arguments: [String]) throws -> Outcome {
        let exe = URL(fileURLWithPath: try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
        let process = Process()
        process.executableURL = environment["ATTNLAB_FUZZ_BINARY"].map { URL(fileURLWithPath: $0) }
            ?? exe.deletingLastPathComponent().appendingPathComponent("attnlab")
        process.arguments = arguments
        process.currentDirectoryURL = root
        let err = Pipe()
        process.standardOutput = FileHandle.nullDevice
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        let start = Date()
        try process.run()
        let timer = DispatchWorkItem { if process.isRunning { process.terminate() } }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeoutSeconds, execute: timer)
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        timer.cancel()
        let timedOut = Date().timeIntervalSince(start) >= timeoutSeconds
        return Outcome(arguments: arguments, reason: process.terminationReason, status: process.terminationStatus,
                       stderr: String(decoding: errData, as: UTF8.self), timedOut: timedOut)
    }

    /// Keeps a failing input and records the failure with where the input is.
    static func record(_ problem: String, _ outcome: Outcome, input: [UInt8], name: String) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("attnlab-fuzz-failures")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let kept = dir.appendingPathComponent(name)
        try? Data(input).write(to: kept)
        Issue.record("attnlab \(outcome.arguments.joined(separator: " ")): \(problem) — input kept in \(kept.path); stderr: \(outcome.stderr.prefix(300))")
    }

    /// Staging folders a run left in `folder`.
    static func debris(_ folder: URL) -> [String] {
        ((try? FileManager.default.subpathsOfDirectory(atPath: folder.path)) ?? []).filter { $0.contains(".tmp-") }
    }

    // MARK: - Lessons

    @Test("mutated lessons: check and run end cleanly")
    func lessons() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let sources = try FileManager.default.contentsOfDirectory(atPath: Self.root.appendingPathComponent("lessons").path)
            .filter { $0.hasSuffix(".yaml") }.sorted()
            .map { try String(contentsOf: Self.root.appendingPathComponent("lessons/\($0)"), encoding: .utf8) }
        var rng = SplitMix64(seed: Self.seed, stream: "lessons")
        var failures = 0, runs = 0
        for i in 0..<Self.cases {
            let source = sources[Int(rng.next() % UInt64(sources.count))]
            var mutant = source
            for _ in 0...(rng.next() % 3) { mutant = LessonMutation.apply(to: mutant, &rng) }
            let file = dir.appendingPathComponent("mutant.yaml")
            try Data(mutant.utf8).write(to: file)
            let name = "lesson-\(Self.seed)-\(i).yaml"
            let check = try Self.attnlab(["check", file.path])
            if let problem = check.problem(errorLinesAllowed: .max) {
                Self.record(problem, check, input: Array(mutant.utf8), name: name)
                failures += 1
            }
            guard check.status == 0, i % Self.runEvery == 0 else { continue }
            let out = dir.appendingPathComponent("out")
            let run = try Self.attnlab(["run", file.path, "--no-step", "--formats", "svg", "--out", out.path])
            runs += 1
            if let problem = run.problem(errorLinesAllowed: 1) ?? Self.debris(out).first.map({ "left \($0) behind" }) {
                Self.record(problem, run, input: Array(mutant.utf8), name: name)
                failures += 1
            }
            try? FileManager.default.removeItem(at: out)
        }
        print("fuzz lessons: \(Self.cases) cases (seed \(Self.seed)), \(runs) runs, \(failures) failures")
    }

    // MARK: - GGUF

    /// A whole one-layer Llama with 8 tokens, every tensor F32: small, and valid for `model info` and
    /// `decode`, so mutants reach every part of the reader and the loader.
    static func tinyModel() -> [UInt8] {
        var b = GGUFBuilder()
        let d = 8, ffn = 16, vocab = 8, kvElements = 4
        b.metadata = [
            ("general.architecture", .string("llama")), ("general.name", .string("tiny")),
            ("llama.block_count", .u32(1)), ("llama.embedding_length", .u32(UInt32(d))), ("llama.feed_forward_length", .u32(UInt32(ffn))),
            ("llama.attention.head_count", .u32(2)), ("llama.attention.head_count_kv", .u32(1)), ("llama.context_length", .u32(64)),
            ("llama.rope.freq_base", .f32(10_000)), ("llama.attention.layer_norm_rms_epsilon", .f32(1e-5)),
            ("tokenizer.ggml.model", .string("gpt2")), ("tokenizer.ggml.tokens", .strings(["a", "b", "c", "d", "e", "f", "g", "ab"])),
            ("tokenizer.ggml.token_type", .i32s(Array(repeating: 1, count: vocab))), ("tokenizer.ggml.merges", .strings(["a b"])),
            ("tokenizer.ggml.eos_token_id", .u32(7)),
        ]
        var rng = SplitMix64(seed: 1, stream: "tiny-model")
        func tensor(_ name: String, _ dims: [Int], ones: Bool = false) -> (name: String, dims: [UInt64], type: UInt32, data: [UInt8]) {
            let values = (0..<dims.reduce(1, *)).map { _ in ones ? Float(1) : Float(Int(rng.next() % 200) - 100) / 400 }
            return (name, dims.map(UInt64.init), 0, values.flatMap { v in withUnsafeBytes(of: v.bitPattern.littleEndian) { Array($0) } })
        }
        b.tensors = [
            tensor("token_embd.weight", [d, vocab]), tensor("output_norm.weight", [d], ones: true),
            tensor("blk.0.attn_norm.weight", [d], ones: true), tensor("blk.0.attn_q.weight", [d, d]),
            tensor("blk.0.attn_k.weight", [d, kvElements]), tensor("blk.0.attn_v.weight", [d, kvElements]),
            tensor("blk.0.attn_output.weight", [d, d]), tensor("blk.0.ffn_norm.weight", [d], ones: true),
            tensor("blk.0.ffn_gate.weight", [d, ffn]), tensor("blk.0.ffn_up.weight", [d, ffn]), tensor("blk.0.ffn_down.weight", [ffn, d]),
        ]
        return b.bytes()
    }

    static func ggufCommands(_ path: String) -> [[String]] {
        [["model", "info", "--model", path], ["decode", "--model", path, "--tokens", "1", "--prompt-ids", "1,2"]]
    }

    @Test("the tiny GGUF model the fuzzer mutates is valid: model info and decode succeed")
    func tinyModelRuns() throws {
        let path = try GGUFBuilder.write(Self.tinyModel(), "tiny.gguf")
        for arguments in Self.ggufCommands(path) {
            let outcome = try Self.attnlab(arguments)
            #expect(outcome.status == 0 && outcome.reason == .exit, "\(arguments): \(outcome.stderr)")
        }
    }

    @Test("mutated GGUF files: model info and decode end cleanly")
    func gguf() throws {
        let original = Self.tinyModel()
        let path = try GGUFBuilder.write(original, "mutant.gguf")
        var rng = SplitMix64(seed: Self.seed, stream: "gguf")
        var failures = 0
        for i in 0..<Self.cases {
            let mutant = GGUFMutation.apply(to: original, &rng)
            try Data(mutant).write(to: URL(fileURLWithPath: path))
            for arguments in Self.ggufCommands(path) {
                let outcome = try Self.attnlab(arguments)
                if let problem = outcome.problem(errorLinesAllowed: 1) {
                    Self.record(problem, outcome, input: mutant, name: "gguf-\(Self.seed)-\(i).gguf")
                    failures += 1
                }
            }
        }
        print("fuzz gguf: \(Self.cases) cases (seed \(Self.seed)), \(failures) failures")
    }
}

/// One random edit of a lesson's YAML: the kinds of mistakes a teacher makes, and hostile input.
enum LessonMutation: CaseIterable {
    case deleteLine, duplicateLine, swapLines, flipCharacter, replaceNumber, nestParentheses, chainMinus, longSum, unknownKey

    static func apply(to text: String, _ rng: inout SplitMix64) -> String {
        var lines = text.components(separatedBy: "\n")
        func pick(_ count: Int) -> Int { Int(rng.next() % UInt64(max(count, 1))) }
        let i = pick(lines.count)
        // A huge expression, or a small one just at the limits.
        func size() -> Int { [1, 63, 64, 65, 2_000, 30_000, 90_000][pick(7)] }
        let mutation = allCases[pick(allCases.count)]
        switch mutation {
        case .deleteLine: lines.remove(at: i)
        case .duplicateLine: lines.insert(lines[i], at: i)
        case .swapLines: lines.swapAt(i, pick(lines.count))
        case .flipCharacter:
            var chars = Array(lines[i])
            let replacements: [Character] = [":", "{", "}", "[", "]", "-", "#", "'", "\"", "\\", "|", "&", "*", "!", "%", "@", "\t", " ", "x", "0", "é", "\u{0}", "\u{7}", "\n"]
            if chars.isEmpty { chars = [replacements[pick(replacements.count)]] } else { chars[pick(chars.count)] = replacements[pick(replacements.count)] }
            lines[i] = String(chars)
        case .replaceNumber:
            let numbers = text.ranges(of: /[0-9]+(\.[0-9]+)?/)
            guard !numbers.isEmpty else { break }
            let values = ["0", "-1", "-9223372036854775808", "9223372036854775807", "99999999999999999999", "4294967296", "1e308", "1e-320", "nan", "0.5"]
            var mutated = text
            mutated.replaceSubrange(numbers[pick(numbers.count)], with: values[pick(values.count)])
            return mutated
        case .nestParentheses, .chainMinus, .longSum:
            // Into a check (`- a == b`, `[a == b]`) or a placeholder (`{{ a }}`).
            let targets = lines.indices.filter { lines[$0].contains("==") || lines[$0].contains("{{") }
            guard !targets.isEmpty else { break }
            let t = targets[pick(targets.count)]
            guard let at = lines[t].range(of: "{{") ?? lines[t].range(of: "- ") ?? lines[t].range(of: "[") else { break }
            let n = size()
            let (open, close): (String, String)
            switch mutation {
            case .nestParentheses: (open, close) = (String(repeating: "(", count: n), String(repeating: ")", count: n) + " ")
            case .chainMinus: (open, close) = (String(repeating: "-", count: n), " ")
            default: (open, close) = ("", String(repeating: " + 1", count: n) + " ")
            }
            var line = lines[t]
            // The first operand ends at the first space after it: wrap it.
            let start = line.index(at.upperBound, offsetBy: 1, limitedBy: line.endIndex) ?? line.endIndex
            let end = line[start...].firstIndex(of: " ") ?? line.endIndex
            line.insert(contentsOf: close, at: end)
            line.insert(contentsOf: open, at: start)
            lines[t] = line
        case .unknownKey:
            let indent = lines[i].prefix { $0 == " " }
            lines.insert("\(indent)bogus_key_\(pick(100)): \(["1", "{}", "[a, b]", "\"x\""][pick(4)])", at: i)
        }
        return lines.joined(separator: "\n")
    }
}

/// One random edit of a GGUF file's bytes, mostly in its header (metadata and tensor infos).
enum GGUFMutation {
    static func apply(to bytes: [UInt8], _ rng: inout SplitMix64) -> [UInt8] {
        var out = bytes
        func pick(_ count: Int) -> Int { Int(rng.next() % UInt64(max(count, 1))) }
        // The header ends before the first tensor's data; about 700 bytes for the tiny model.
        let header = min(out.count, 900)
        switch pick(10) {
        case 0..<6:
            for _ in 0...pick(4) { out[pick(header)] = UInt8(truncatingIfNeeded: rng.next()) }
        case 6:
            out.removeLast(pick(out.count))
        case 7:
            // A length or count set to something huge.
            let at = pick(header - 8)
            for k in 0..<8 { out[at + k] = k < 7 ? 0xFF : 0x7F }
        case 8:
            let at = pick(header - 8)
            for k in 0..<8 { out[at + k] = k == 0 ? UInt8(truncatingIfNeeded: rng.next()) : 0 }
        default:
            // Tensor data: NaN, infinities, anything.
            for _ in 0...pick(16) { out[header + pick(out.count - header)] = UInt8(truncatingIfNeeded: rng.next()) }
        }
        return out
    }
}
