import AttnFigures
import AttnTrace
import Foundation
import Testing

/// Whether this machine can run the browser test: Debian's chromium, chromium-driver, and
/// python3-selenium for Debian's own Python.
enum Browser {
    static let python = "/usr/bin/python3"
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let required = ProcessInfo.processInfo.environment["ATTNLAB_REQUIRE_BROWSER"] == "1"
    static let missing: [String] = {
        var missing: [String] = []
        for (tool, package) in [("/usr/bin/chromium", "chromium"), ("/usr/bin/chromedriver", "chromium-driver")] where !FileManager.default.isExecutableFile(atPath: tool) {
            missing.append(package)
        }
        let check = Process()
        check.executableURL = URL(fileURLWithPath: python)
        check.arguments = ["-c", "import selenium"]
        check.standardError = FileHandle.nullDevice
        if (try? check.run()) == nil { missing.append("python3-selenium") } else {
            check.waitUntilExit()
            if check.terminationStatus != 0 { missing.append("python3-selenium") }
        }
        return missing
    }()
    static let runs = missing.isEmpty || required
    static let skipReason: Comment = "no browser: apt-get install \(missing.joined(separator: " ")) (ATTNLAB_REQUIRE_BROWSER=1 makes this a failure)"
}

@Suite("attnlab view: traces to one interactive page")
struct ViewTests {
    /// A fresh folder for one test's files.
    func folder() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("attnlab-view-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    func attnlab(_ arguments: [String], in dir: URL) throws -> Run {
        let run = try Run(arguments, directory: dir)
        #expect(run.status == 0, "attnlab \(arguments.joined(separator: " ")): \(run.stderr)")
        return run
    }

    @Test("the same trace gives the same page, from a copy of the binary elsewhere too (no resource files needed)")
    func deterministicAndRelocatable() throws {
        let dir = try folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        _ = try attnlab(["decode", "--cla", "2", "--layers", "4", "--tokens", "4", "--trace-detail", "full", "--trace", "d.jsonl"], in: dir)
        _ = try attnlab(["view", "d.jsonl", "-o", "a.html"], in: dir)
        // The binary alone, in a folder of its own: the player's files are compiled into it.
        let exe = URL(fileURLWithPath: try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")).deletingLastPathComponent().appendingPathComponent("attnlab")
        let copy = dir.appendingPathComponent("bin/attnlab")
        try FileManager.default.createDirectory(at: copy.deletingLastPathComponent(), withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: exe, to: copy)
        let process = Process()
        process.executableURL = copy
        process.arguments = ["view", dir.appendingPathComponent("d.jsonl").path, "-o", dir.appendingPathComponent("b.html").path]
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let a = try Data(contentsOf: dir.appendingPathComponent("a.html")), b = try Data(contentsOf: dir.appendingPathComponent("b.html"))
        #expect(a == b)
        // The trace's name, never a folder: the page is the same wherever the trace was.
        #expect(!String(decoding: a, as: UTF8.self).contains(dir.path))
    }

    @Test("bad input: one line naming the file or flag, status 2, no page left", arguments: [
        (["view", "lesson.jsonl", "-o", "p.html"], "lesson.jsonl: is a 'lesson' trace"),
        (["view", "notes.txt", "-o", "p.html"], "notes.txt: line 1 is not a JSON object"),
        (["view", "missing.jsonl", "-o", "p.html"], "missing.jsonl: cannot be read (no such file)"),
        (["view", "d.jsonl", "-o", "p.png"], "-o: 'p.png' must end in .html"),
        (["view", "d.jsonl", "-o", "no/such/folder/p.html"], "-o: no/such/folder/p.html:"),
    ])
    func badInput(arguments: [String], message: String) throws {
        let dir = try folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        _ = try attnlab(["decode", "--tokens", "2", "--trace", "d.jsonl"], in: dir)
        try Data(#"{"type":"header","schema":"attnlab.trace/1","kind":"lesson","lesson":"x","language":"en","steps":0}"#.utf8).write(to: dir.appendingPathComponent("lesson.jsonl"))
        try Data("some notes\n".utf8).write(to: dir.appendingPathComponent("notes.txt"))
        let run = try Run(arguments, directory: dir)
        #expect(run.status == 2)
        #expect(run.stderr.hasPrefix("attnlab: error: \(message)"), "\(run.stderr)")
        #expect(run.stderr.split(separator: "\n").count == 1)
        let left = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".html") || $0.hasSuffix(".png") }
        #expect(left.isEmpty)
    }

    /// Builds the pages with the release binary, then drives them in Chromium with
    /// Tests/browser/test_player.py, which checks the numbers shown against the JSONL; saves
    /// screenshots (the README's with `ATTNLAB_SCREENSHOTS=docs/images`).
    @Test("the player in a real browser shows the trace's numbers, requests nothing, logs no error",
          .enabled(if: Browser.runs, Browser.skipReason))
    func browser() throws {
        try #require(Browser.missing.isEmpty, "ATTNLAB_REQUIRE_BROWSER=1 but \(Browser.missing.joined(separator: ", ")) missing: apt-get install chromium chromium-driver python3-selenium")
        let dir = try folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        func path(_ name: String) -> String { dir.appendingPathComponent(name).path }
        var pages: [[String: Any]] = []
        func view(_ traces: [String], _ page: String, screenshot: String? = nil, language: Language = .en) throws {
            _ = try attnlab(["view"] + traces + ["-o", page, "--lang", language.rawValue], in: dir)
            var spec: [String: Any] = ["page": path(page), "traces": traces.map(path), "lang": language.rawValue]
            if let screenshot { spec["screenshot"] = screenshot }
            pages.append(spec)
        }
        // Decode: CLA2 + GQA with full detail (arrows, cache heatmap, attention), a synthetic preset.
        _ = try attnlab(["decode", "--layers", "6", "--q-heads", "4", "--kv-heads", "2", "--cla", "2", "--prompt", "the cat sat",
                         "--tokens", "8", "--trace-detail", "full", "--trace", "cla.jsonl"], in: dir)
        try view(["cla.jsonl"], "decode.html", screenshot: "player-decode.png")
        _ = try attnlab(["decode", "--preset", "mini-mha", "--tokens", "6", "--trace", "mini.jsonl"], in: dir)
        try view(["mini.jsonl"], "mini.html")
        // SmolLM2 with its real tokens, when the model is fetched (CI fetches it).
        if (try? Run(["decode", "--model", "smollm2-135m", "--models-dir", Browser.root.appendingPathComponent("models").path, "--prompt", "The capital of France is",
                      "--tokens", "4", "--trace-detail", "full", "--trace", "smol.jsonl"], directory: dir))?.status == 0 {
            try view(["smol.jsonl"], "smol.html")
        }
        // Tiles: FA2 forward and backward, causal; naive vs FA1 vs FA2 side by side.
        for algo in ["naive", "fa1", "fa2"] {
            _ = try attnlab(["tile", "--algo", algo, "--n", "256", "--d", "64", "--sram-elements", "16384", "--causal", "--backward", "--trace", "\(algo).jsonl"], in: dir)
        }
        try view(["fa2.jsonl"], "fa2.html", screenshot: "player-tile.png")
        try view(["naive.jsonl", "fa1.jsonl", "fa2.jsonl"], "tiles.html", screenshot: "player-side-by-side.png")
        // Over the 4 MiB limit: sampled, with the note.
        _ = try attnlab(["tile", "--algo", "fa1", "--n", "2048", "--d", "64", "--sram-elements", "4096", "--trace", "long.jsonl"], in: dir)
        try view(["long.jsonl"], "long.html")
        // A training log.
        _ = try attnlab(["train", "--task", "mqar", "--seq", "32", "--batch", "2", "--steps", "8", "--eval-tokens", "64", "-o", "run.gguf"], in: dir)
        try view(["run.log.jsonl"], "train.html")
        // The same players in Japanese: the same numbers, and no label left in English.
        try view(["cla.jsonl"], "decode-ja.html", language: .ja)
        try view(["fa2.jsonl"], "fa2-ja.html", screenshot: "player-tile-ja.png", language: .ja)
        try view(["long.jsonl"], "long-ja.html", language: .ja)
        try view(["run.log.jsonl"], "train-ja.html", language: .ja)

        // Lesson reports with players embedded: CLA decodes (lesson 03), naive vs FA1 vs FA2 (lesson 07).
        for (lesson, players, language) in [("03-cla", 1, Language.en), ("07-flashattention", 4, .en), ("07-flashattention", 4, .ja)] {
            let out = path("lessons-" + language.rawValue)
            let run = try Run(["run", lesson, "--no-step", "--lang", language.rawValue, "--out", out], directory: Browser.root)
            #expect(run.status == 0, "attnlab run \(lesson): \(run.stderr)")
            pages.append(["page": "\(out)/\(lesson)/report.html", "report": true, "players": players, "traces": [String](), "lang": language.rawValue])
        }
        // Screenshots go to a scratch folder, or where ATTNLAB_SCREENSHOTS says (docs/images for the
        // README's): a test run never changes the repository.
        let images = ProcessInfo.processInfo.environment["ATTNLAB_SCREENSHOTS"].map { URL(fileURLWithPath: $0) } ?? dir.appendingPathComponent("shots")
        try FileManager.default.createDirectory(at: images, withIntermediateDirectories: true)
        func css(_ c: Color) -> String { "#" + [c.r, c.g, c.b].map { String(format: "%02x", Int(($0 * 255).rounded())) }.joined() }
        let manifest: [String: Any] = [
            "pages": pages, "screenshots": images.path,
            // The figures' palette and dark background (Sources/AttnFigures/Theme.swift), as CSS spells them.
            "palette": Theme.light.palette.map(css), "dark_background": css(Theme.dark.background),
        ]
        try JSONSerialization.data(withJSONObject: manifest).write(to: dir.appendingPathComponent("manifest.json"))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
        process.arguments = ["--kill-after=10", "240", Browser.python, Browser.root.appendingPathComponent("Tests/browser/test_player.py").path, path("manifest.json")]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = out
        try process.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(text)")
        #expect(text.contains("all browser checks passed"), "\(text)")
    }
}
