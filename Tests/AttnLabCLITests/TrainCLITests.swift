import Foundation
import Testing

/// `attnlab train` end to end on a corpus the test writes: determinism, resuming, learning, and bad input.
@Suite(.serialized) struct TrainCLITests {
    /// A small English-like corpus with structure a model can learn (subject–verb–object patterns).
    static func corpus(in dir: URL) throws -> String {
        let subjects = ["the cache", "a layer", "the model", "each head", "the student", "a teacher"]
        let verbs = ["stores", "reads", "shares", "writes", "computes", "counts"]
        let objects = ["the keys", "its values", "every token", "the queries", "one vector", "the bytes"]
        var rng: UInt64 = 7, text = ""
        for i in 0..<3000 {
            rng = rng &* 6364136223846793005 &+ 1442695040888963407
            let r = Int(rng >> 33)
            text += "\(subjects[r % 6]) \(verbs[(r / 6) % 6]) \(objects[(r / 36) % 6])" + (i % 7 == 6 ? ".\n" : ", ")
        }
        let path = dir.appendingPathComponent("corpus.txt").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static func folder() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("attnlab-train-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    static let tiny = ["--layers", "2", "--d-model", "32", "--q-heads", "4", "--kv-heads", "2", "--cla", "2", "--tokenizer", "bytes",
                       "--batch", "4", "--seq", "32", "--eval-tokens", "256"]

    @Test func sameSeedSameBytes() throws {
        let a = try Self.folder(), b = try Self.folder()
        defer { try? FileManager.default.removeItem(at: a); try? FileManager.default.removeItem(at: b) }
        for dir in [a, b] {
            let corpus = try Self.corpus(in: dir)
            let run = try Run(["train"] + Self.tiny + ["--corpus", corpus, "--steps", "8", "-o", dir.appendingPathComponent("m.gguf").path, "--json"], directory: dir)
            #expect(run.status == 0, "\(run.stderr)")
        }
        for file in ["m.gguf", "m.log.jsonl", "m.optimizer.gguf"] {
            let x = try Data(contentsOf: a.appendingPathComponent(file)), y = try Data(contentsOf: b.appendingPathComponent(file))
            #expect(x == y, "\(file) differs between two runs of the same seed")
        }
    }

    /// Five steps, then `--resume` to ten, is the ten-step run bit for bit (constant rate: the
    /// schedule does not depend on the total).
    @Test func resumeContinuesExactly() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let corpus = try Self.corpus(in: dir)
        let common = ["train"] + Self.tiny + ["--corpus", corpus, "--schedule", "constant", "--lr", "1e-2"]
        let whole = dir.appendingPathComponent("whole.gguf").path, parts = dir.appendingPathComponent("parts.gguf").path
        #expect(try Run(common + ["--steps", "10", "-o", whole], directory: dir).status == 0)
        #expect(try Run(common + ["--steps", "5", "-o", parts], directory: dir).status == 0)
        let resumed = try Run(common + ["--steps", "10", "-o", parts, "--resume"], directory: dir)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        for suffix in [".gguf", ".log.jsonl", ".optimizer.gguf"] {
            let x = try Data(contentsOf: URL(fileURLWithPath: whole.replacing(".gguf", with: suffix)))
            let y = try Data(contentsOf: URL(fileURLWithPath: parts.replacing(".gguf", with: suffix)))
            #expect(x == y, "resumed \(suffix) differs from the uninterrupted run's")
        }
    }

    /// After a small budget the validation loss is below the corpus's unigram entropy: the model uses context.
    @Test func lossFallsBelowUnigramEntropy() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let corpus = try Self.corpus(in: dir)
        let run = try Run(["train"] + Self.tiny + ["--corpus", corpus, "--steps", "60", "--lr", "1e-2", "--json"], directory: dir)
        #expect(run.status == 0, "\(run.stderr)")
        let j = try run.json()
        let val = try #require(j["val_loss"] as? Double), unigram = try #require(j["unigram_entropy"] as? Double)
        #expect(val < unigram, "validation loss \(val) is not below the unigram entropy \(unigram)")
        let memory = try #require(j["memory"] as? [String: Any]), kv = try #require(memory["kv_per_layer"] as? [Int])
        #expect(kv.count == 2 && kv[0] > 0 && kv[1] == 0, "CLA2: the consumer layer keeps no K/V")
    }

    @Test(arguments: [
        (["--lr", "0"], "--lr"),
        (["--corpus", "no-such-corpus"], "--corpus"),
        (["--retrofit", "mqa"], "--retrofit"),
        (["--seq", "100000"], "--seq"),
        (["--task", "mqar", "--tokenizer", "bytes"], "--tokenizer"),
        (["-o", "/nonexistent-folder/x.gguf"], "-o"),
        (["--from", "/nonexistent.gguf"], "--from"),
    ] as [([String], String)])
    func badInputIsOneLine(_ flags: [String], _ named: String) throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        var args = ["train", "--steps", "2", "--batch", "2", "--seq", "16", "--eval-tokens", "32"]
        if !flags.contains("--corpus") && !flags.contains("--task") { args += ["--corpus", try Self.corpus(in: dir), "--tokenizer", "bytes"] }
        let run = try Run(args + flags, directory: dir)
        #expect(run.status == 2)
        let lines = run.stderr.split(separator: "\n")
        #expect(lines.count == 1 && lines[0].hasPrefix("attnlab: error: \(named)"), "\(run.stderr)")
        let left = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0 != "corpus.txt" && !$0.hasPrefix("tokens-") }
        #expect(left.isEmpty, "left behind: \(left)")
    }

    /// A checkpoint whose shape is not the flags' is refused on --resume, and the file stays as it was.
    @Test func resumeRefusesOtherShapes() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let corpus = try Self.corpus(in: dir)
        let path = dir.appendingPathComponent("m.gguf").path
        #expect(try Run(["train"] + Self.tiny + ["--corpus", corpus, "--steps", "2", "-o", path], directory: dir).status == 0)
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        let run = try Run(["train"] + Self.tiny + ["--corpus", corpus, "--steps", "2", "-o", path, "--resume", "--d-model", "64"], directory: dir)
        #expect(run.status == 2 && run.stderr.contains("holds a"), "\(run.stderr)")
        // Another learning rate (or cosine length) would not continue the same run either.
        let lr = try Run(["train"] + Self.tiny + ["--corpus", corpus, "--steps", "4", "-o", path, "--resume"], directory: dir)
        #expect(lr.status == 2 && lr.stderr.hasPrefix("attnlab: error: --steps/--resume:"), "\(lr.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
    }

    /// Ctrl-C during a run leaves the last complete checkpoint, which loads.
    @Test func interruptKeepsLastCheckpoint() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let corpus = try Self.corpus(in: dir)
        let path = dir.appendingPathComponent("m.gguf").path
        let exe = URL(fileURLWithPath: try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")).deletingLastPathComponent().appendingPathComponent("attnlab")
        let p = Process()
        p.executableURL = exe
        p.arguments = ["train", "--layers", "2", "--d-model", "64", "--tokenizer", "bytes", "--corpus", corpus, "--batch", "8", "--seq", "64",
                       "--eval-tokens", "128", "--steps", "2000", "-o", path]
        p.currentDirectoryURL = dir
        p.standardError = FileHandle.nullDevice
        try p.run()
        let deadline = Date().addingTimeInterval(60)
        while !FileManager.default.fileExists(atPath: path) && Date() < deadline { usleep(20_000) }
        kill(p.processIdentifier, SIGINT)
        p.waitUntilExit()
        #expect(p.terminationStatus == 130)
        let info = try Run(["ppl", "--model", path, "--text", corpus, "--max-tokens", "64"], directory: dir)
        #expect(info.status == 0, "\(info.stderr)")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
        #expect(files.allSatisfy { !$0.contains(".tmp") && !$0.hasPrefix(".") }, "\(files)")
    }
}
