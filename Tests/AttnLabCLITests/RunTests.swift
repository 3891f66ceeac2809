import Foundation
import Testing

/// An `attnlab` process running in the background, its output going to files.
private final class Started {
    let process = Process()
    let stdout: URL, stderr: URL

    init(_ arguments: [String], in folder: URL, environment: [String: String] = [:]) throws {
        let exe = URL(fileURLWithPath: try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
        process.executableURL = exe.deletingLastPathComponent().appendingPathComponent("attnlab")
        process.arguments = arguments
        if !environment.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        let name = UUID().uuidString
        stdout = folder.appendingPathComponent("\(name).out")
        stderr = folder.appendingPathComponent("\(name).err")
        _ = FileManager.default.createFile(atPath: stdout.path, contents: nil)
        _ = FileManager.default.createFile(atPath: stderr.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: stdout)
        process.standardError = try FileHandle(forWritingTo: stderr)
        try process.run()
    }

    var output: String { (try? String(contentsOf: stdout, encoding: .utf8)) ?? "" }
    var errors: String { (try? String(contentsOf: stderr, encoding: .utf8)) ?? "" }

    /// Sends `signal` and returns the exit status as a shell reports it (128 + a killing signal).
    func stop(_ signal: Int32) -> Int32 {
        kill(process.processIdentifier, signal)
        process.waitUntilExit()
        return process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
    }

    /// Waits until `condition` holds, up to `seconds`.
    func wait(upTo seconds: Double, until condition: () -> Bool) -> Bool {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            if condition() { return true }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return condition()
    }
}

/// Folders and files a lesson's output folder holds when complete (`traces` only with engine traces).
private let lessonFiles: Set<String> = ["figures", "notes.pdf", "report.html", "report.md", "slides.pdf", "trace.jsonl", "trace.txt"]

/// The staging folders and temporary files in `out` (names starting with a dot).
private func debris(_ out: URL) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: out.path)) ?? []).filter { $0.hasPrefix(".") }.sorted()
}

/// The lesson folders in `out` that miss a file of a complete lesson.
private func incompleteLessons(_ out: URL) -> [String] {
    let names = ((try? FileManager.default.contentsOfDirectory(atPath: out.path)) ?? []).filter { !$0.hasPrefix(".") && $0 != "index.html" }
    return names.filter { name in
        let files = Set((try? FileManager.default.contentsOfDirectory(atPath: out.appendingPathComponent(name).path)) ?? [])
        return !lessonFiles.isSubset(of: files)
    }
}

@Suite("interrupted, concurrent and long runs", .serialized)
struct RunTests {
    /// Kills `run --all` (on two threads) at several moments (0.1 s in, later, after its first lesson) with SIGINT, SIGTERM and SIGKILL. SIGINT
    /// and SIGTERM remove the run's staging folders and exit 130 and 143; what SIGKILL leaves (at most
    /// the 2 × 2 lessons staged ahead and one replaced lesson being removed) the next run removes. Only
    /// complete lessons are ever in the output folder, and each finished lesson's ✓ line was printed
    /// (flushed into a file, which is block-buffered like a pipe) before the kill.
    @Test("killed runs leave only complete lessons, and the next run removes what SIGKILL left")
    func interrupted() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("out")
        for (signal, status) in [(SIGINT, Int32(130)), (SIGTERM, 143), (SIGKILL, 137)] {
            for delay in [0.1, 0.5, 1.0] {
                let run = try Started(["run", "--all", "--no-step", "--out", out.path], in: dir, environment: ["ATTNLAB_WORKERS": "2"])
                Thread.sleep(forTimeInterval: delay)
                // A whole run takes a second or two: the later signals may come after it finished (exit 0,
                // every lesson complete, checked below); the first always finds it running.
                let stopped = run.stop(signal)
                #expect(stopped == status || (delay > 0.1 && stopped == 0), "signal \(signal) after \(delay) s: \(run.errors)")
                if signal != SIGKILL { #expect(debris(out) == [], "signal \(signal) after \(delay) s") }
                #expect(debris(out).count <= 5, "signal \(signal) after \(delay) s: the next run removes a killed run's folders")
                #expect(incompleteLessons(out) == [], "signal \(signal) after \(delay) s")
            }
            // A moment after a lesson has finished: its line is already out.
            let run = try Started(["run", "--all", "--no-step", "--out", out.path], in: dir, environment: ["ATTNLAB_WORKERS": "2"])
            #expect(run.wait(upTo: 120) { run.output.contains("✓") }, "no ✓ line before the kill: \(run.errors)")
            #expect(run.stop(signal) == status)
            #expect(incompleteLessons(out) == [])
        }
        let again = try Started(["run", "--all", "--no-step", "--out", out.path], in: dir)
        again.process.waitUntilExit()
        #expect(again.process.terminationStatus == 0, "\(again.errors)")
        #expect(debris(out) == [])
        #expect(incompleteLessons(out) == [])
        let lessons = try FileManager.default.contentsOfDirectory(atPath: "lessons").filter { $0.hasSuffix(".yaml") }
        #expect(try FileManager.default.contentsOfDirectory(atPath: out.path).count == lessons.count + 1)
    }

    /// Staging folders and temporary files of processes that no longer exist are removed; those of a
    /// live process (a run still writing) are kept.
    @Test("a run removes the debris of dead processes only")
    func staleDebris() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("out")
        let gone = Process()
        gone.executableURL = URL(fileURLWithPath: "/bin/true")
        try gone.run()
        gone.waitUntilExit()
        let dead = gone.processIdentifier, alive = getpid()
        for name in [".02-gqa.tmp-\(dead)", ".02-gqa.old-\(dead)", ".02-gqa.tmp-\(alive)"] {
            try FileManager.default.createDirectory(at: out.appendingPathComponent("\(name)/figures"), withIntermediateDirectories: true)
        }
        for name in [".index.html.tmp-\(dead)", ".index.html.tmp-\(alive)", ".notes", "notes.tmp-\(dead)"] {
            _ = FileManager.default.createFile(atPath: out.appendingPathComponent(name).path, contents: Data("x".utf8))
        }
        let run = try Run(["run", "02-gqa", "--no-step", "--out", out.path])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(debris(out) == [".02-gqa.tmp-\(alive)", ".index.html.tmp-\(alive)", ".notes"])
        #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("notes.tmp-\(dead)").path))
    }

    /// Concurrent runs into one folder all succeed: each stages under its own process id and renames
    /// its finished lesson into place; the last one wins.
    @Test("concurrent runs into one output folder all succeed")
    func concurrent() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("out")
        for arguments in [["run", "--all"], ["run", "02-gqa"]] {
            let runs = try (0..<(arguments.count == 2 ? 2 : 3)).map { _ in try Started(arguments + ["--no-step", "--out", out.path], in: dir) }
            for run in runs {
                run.process.waitUntilExit()
                #expect(run.process.terminationStatus == 0, "\(arguments): \(run.errors)")
                #expect(run.errors == "")
            }
            #expect(debris(out) == [])
            #expect(incompleteLessons(out) == [])
        }
    }

    /// Lessons run on several threads, yet the tree and the lines are those of one thread: same
    /// files, same bytes, the ✓ lines in the order of the lessons.
    @Test("run --all on one and on two threads: the same tree, byte for byte, and the same lines", arguments: ["en", "ja"])
    func workers(lang: String) throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        var trees: [[String: Data]] = [], lines: [String] = []
        for workers in ["1", "2"] {
            let out = dir.appendingPathComponent(workers)
            let run = try Run(["run", "--all", "--no-step", "--lang", lang, "--out", out.path], environment: ["ATTNLAB_WORKERS": workers])
            #expect(run.status == 0, "\(run.stderr)")
            trees.append(try contents(of: out))
            lines.append(run.stdout.replacingOccurrences(of: out.path, with: "OUT"))
        }
        let lessons = try FileManager.default.contentsOfDirectory(atPath: "lessons").filter { $0.hasSuffix(".yaml") }.sorted()
        #expect(lines[0].split(separator: "\n").map { $0.split(separator: ":")[0] } == lessons.map { "✓ " + $0.dropLast(5) })
        #expect(trees[0].count > 100)
        #expect(trees[1] == trees[0])
        #expect(lines[1] == lines[0])
    }

    /// A lesson that fails stops the run there, as on one thread: the lessons before it are in
    /// place and printed, none after it is, even one a second thread had already finished, and no
    /// staging folder is left.
    @Test("a lesson failing in the middle of run --all on two threads leaves exactly the lessons before it")
    func failureInTheMiddle() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("lessons"), withIntermediateDirectories: true)
        for i in 1...6 {
            let narration = i == 3 ? "{{ nope }}" : "{{ kv_bytes_per_token }} bytes"
            let lesson = """
                id: l\(i)
                title: {en: Lesson \(i)}
                summary: {en: One step.}
                steps:
                  - title: {en: Bytes}
                    narration: {en: "\(narration)"}
                    action: {kv: {layers: \(i), q-heads: 4, kv-heads: 1, head-dim: 64}}
                    figure: {layers: {layers: 6, cla: 2}}
                """
            try Data(lesson.utf8).write(to: dir.appendingPathComponent("lessons/l\(i).yaml"))
        }
        for workers in ["1", "2"] {
            let out = dir.appendingPathComponent("out\(workers)")
            let run = try Run(["run", "--all", "--no-step", "--out", out.path], directory: dir, environment: ["ATTNLAB_WORKERS": workers])
            #expect(run.status == 2 && run.stderr.contains("unknown value 'nope'"), "\(run.stderr)")
            #expect(run.stdout.split(separator: "\n").map { String($0.prefix(4)) } == ["✓ l1", "✓ l2"])
            #expect(try FileManager.default.contentsOfDirectory(atPath: out.path).sorted() == ["l1", "l2"], "\(workers) threads")
            #expect(incompleteLessons(out) == [])
        }
    }

    /// Work over the budget is refused at once, with the estimate and the budget that would run it.
    static let overBudget: [([String], String)] = [
        (["decode", "--tokens", "40000"], "--tokens/--max-seconds: decoding 40,000 tokens"),
        (["decode", "--tokens", "4000", "--max-seconds", "1"], "--tokens/--max-seconds"),
        (["draw", "cache", "--tokens", "30000", "-o", "cache.svg"], "--tokens/--max-seconds"),
        (["bench", "--repeat", "1000"], "--repeat/--n/--max-seconds"),
        (["bench", "--repeat", "1000", "--no-numpy"], "--repeat/--n/--max-seconds"),
        (["bench", "--n", "65536", "--no-numpy"], "--repeat/--n/--max-seconds"),
        (["ppl", "--layers", "24", "--text", "TEXT", "--eval-window", "16384", "--max-tokens", "0"], "--max-tokens/--eval-window/--max-seconds: scoring 16,800 tokens"),
        (["retrofit", "--layers", "24", "--text", "TEXT", "--eval-window", "8192", "--max-tokens", "16384", "--to", "mqa"],
         "--max-tokens/--eval-window/--to/--max-seconds: scoring 16,384 tokens with 2 models"),
        (["decode", "--max-seconds", "0"], "--max-seconds: must be a positive number"),
        (["decode", "--max-seconds", "nan"], "--max-seconds: must be a positive number"),
    ]

    @Test("work over the budget is refused at once with the estimate and the flag", arguments: overBudget)
    func budget(arguments: [String], expected: String) throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        // 16,800 characters of the built-in vocabulary, one token each.
        let text = dir.appendingPathComponent("text.txt")
        try String(repeating: "the cat sat on the mat. ", count: 700).write(to: text, atomically: true, encoding: .utf8)
        let start = Date()
        let run = try Run(arguments.map { $0 == "TEXT" ? text.path : $0 == "cache.svg" ? dir.appendingPathComponent($0).path : $0 })
        #expect(Date().timeIntervalSince(start) < 20)
        #expect(run.status == 2)
        #expect(run.stdout == "")
        #expect(run.stderr.hasPrefix("attnlab: error: \(expected)"), "\(run.stderr)")
        #expect(run.stderr.split(separator: "\n").count == 1)
        if !expected.contains("positive") {
            #expect(run.stderr.contains("would take"))
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["text.txt"])
    }

    @Test("a run within a raised budget goes ahead")
    func raisedBudget() throws {
        let refused = try Run(["decode", "--tokens", "1500", "--max-seconds", "0.05", "--json"])
        #expect(refused.status == 2 && refused.stderr.contains("raise the budget to"), "\(refused.stderr)")
        let run = try Run(["decode", "--tokens", "1500", "--max-seconds", "60", "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr == "")
    }

    /// A killed `bench` takes its NumPy child with it, whatever the signal.
    @Test("bench's NumPy child dies with it", arguments: [SIGKILL, SIGTERM, SIGINT])
    func childDies(signal: Int32) throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        // A comparison that never ends, started before any kernel runs: the child runs when bench is killed.
        let slow = dir.appendingPathComponent("slow.py")
        try "import time\ntime.sleep(600)\n".write(to: slow, atomically: true, encoding: .utf8)
        let bench = try Started(["bench", "--n", "64", "--repeat", "1", "--numpy-script", slow.path], in: dir)
        let pid = bench.process.processIdentifier
        var children: [Int32] = []
        #expect(bench.wait(upTo: 30) {
            children = ((try? String(contentsOfFile: "/proc/\(pid)/task/\(pid)/children", encoding: .utf8)) ?? "")
                .split(separator: " ").compactMap { Int32($0) }
            return !children.isEmpty
        })
        // By now the child (ChildProcess's wrapper) runs the script as its own child: both must die.
        Thread.sleep(forTimeInterval: 1)
        for child in children {
            children += ((try? String(contentsOfFile: "/proc/\(child)/task/\(child)/children", encoding: .utf8)) ?? "")
                .split(separator: " ").compactMap { Int32($0) }
        }
        #expect(children.count >= 2, "no script under the wrapper: \(children)")
        _ = bench.stop(signal)
        for child in children {
            #expect(bench.wait(upTo: 5) {
                // Gone, or a zombie waiting for init: either way no longer running.
                guard let stat = try? String(contentsOfFile: "/proc/\(child)/stat", encoding: .utf8) else { return true }
                return stat.split(separator: ")").last?.split(separator: " ").first == "Z"
            }, "child \(child) of bench still runs after signal \(signal)")
        }
    }

    /// On a terminal a long decode shows its progress on stderr; in a pipe it does not.
    /// The line shows on a terminal only, and only for work longer than its delay (2 s; set to 0
    /// here, so that a short decode shows it).
    @Test("progress on a terminal only, after its delay")
    func progress() throws {
        let arguments = ["decode", "--tokens", "400", "--json"]
        let now = ["ATTNLAB_PROGRESS_AFTER": "0"]
        let piped = try Run(arguments, environment: now)
        #expect(piped.status == 0 && piped.stderr == "", "\(piped.stderr)")
        let (status, shown) = try Run.onTerminal(arguments, environment: now)
        #expect(status == 0)
        #expect(shown.contains("decode: token ") && shown.contains("400/400"), "\(shown.prefix(300))")
        let (_, quiet) = try Run.onTerminal(arguments)
        #expect(!quiet.contains("decode: token "), "a run shorter than 2 s showed progress: \(quiet.prefix(300))")
    }
}
