import Foundation
import Testing

/// Runs the built `attnlab` (it sits next to the test bundle) and captures what a user would see.
struct Run {
    let status: Int32
    let stdout: String
    let stderr: String

    /// - Parameters:
    ///   - timeoutSeconds: kill the run after this long (coreutils `timeout`: status 124, or 128 + the
    ///     signal when attnlab itself dies of one).
    ///   - directory: the working directory, for runs that may write relative paths.
    ///   - environment: variables set for the run besides this process's own.
    init(_ arguments: [String], timeoutSeconds: Int? = nil, directory: URL? = nil, environment: [String: String] = [:]) throws {
        let exe = URL(fileURLWithPath: try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
        let attnlab = exe.deletingLastPathComponent().appendingPathComponent("attnlab")
        let process = Process()
        if let timeoutSeconds {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
            process.arguments = ["--kill-after=5", String(timeoutSeconds), attnlab.path] + arguments
        } else {
            process.executableURL = attnlab
            process.arguments = arguments
        }
        if let directory { process.currentDirectoryURL = directory }
        if !environment.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        status = process.terminationStatus
        stdout = String(decoding: outData, as: UTF8.self)
        stderr = String(decoding: errData, as: UTF8.self)
    }

    func json() throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: Any])
    }

    /// Runs `attnlab` on a pseudo-terminal (util-linux `script`), typing `input`, with `environment`
    /// changed as given (nil removes a variable); returns its exit status and what the terminal showed.
    static func onTerminal(_ arguments: [String], input: String = "", environment: [String: String?] = [:]) throws -> (status: Int32, shown: String) {
        let exe = URL(fileURLWithPath: try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            .deletingLastPathComponent().appendingPathComponent("attnlab").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/script")
        process.arguments = ["-qec", ([exe] + arguments).map { "'\($0)'" }.joined(separator: " "), "/dev/null"]
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        process.environment = env
        let stdin = Pipe(), stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        try process.run()
        stdin.fileHandleForWriting.write(Data(input.utf8))
        try stdin.fileHandleForWriting.close()
        let shown = String(decoding: stdout.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, shown)
    }
}

/// Every file under `folder` by its relative path, with its bytes (a folder's entry is empty).
func contents(of folder: URL) throws -> [String: Data] {
    var files: [String: Data] = [:]
    for path in try FileManager.default.subpathsOfDirectory(atPath: folder.path) {
        var isFolder: ObjCBool = false
        let url = folder.appendingPathComponent(path)
        _ = FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder)
        files[path] = isFolder.boolValue ? Data() : try Data(contentsOf: url)
    }
    return files
}

func temporaryFolder() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("attnlab-test-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

@Suite("attnlab command line")
struct CLITests {
    /// Bad input → one line on stderr naming the flag, exit 2, nothing written.
    static let badInputs: [([String], String)] = [
        (["decode", "--q-heads", "8", "--kv-heads", "3"], "--kv-heads"),
        (["decode", "--kv-heads", "0"], "--kv-heads"),
        (["decode", "--layers", "0"], "--layers"),
        (["decode", "--layers", "-3"], "--layers"),
        (["decode", "--d-model", "0"], "--d-model"),
        (["decode", "--tokens", "0"], "--tokens"),
        (["decode", "--head-dim", "7"], "--head-dim"),
        (["decode", "--kv-map", "0,1,3,3"], "--kv-map"),
        (["decode", "--kv-map", "0,0,1,3"], "--kv-map"),
        (["decode", "--kv-map", "0,0"], "--kv-map"),
        (["decode", "--cla", "2", "--kv-pattern", "keep-ends"], "--cla"),
        (["decode", "--kv-pattern", "dense-middle"], "--kv-pattern"),
        (["decode", "--cla", "9"], "--cla"),
        (["decode", "--prompt-ids", "1,,2"], "--prompt-ids"),
        (["decode", "--d-model", "4000000000"], "--d-model"),
        (["kv", "--preset", "llama-3-8b", "--q-heads", "7"], "--q-heads"),
        (["kv", "--preset", "llama-2-70b", "--context", "2147483648", "--batch", "2000"], "--context"),
        (["params", "--layers", "100000"], "--layers"),
        (["decode", "--preset", "llama-3-8"], "--preset"),
        (["decode", "--preset", "llama-2-70b"], "--preset: the model has 68976648192 parameters"),
        (["decode", "--preset", "bert-base"], "--preset"),
        (["decode", "--d-model", "65536", "--layers", "64"], "--layers/--d-model"),
        (["decode", "--tokens", "70000"], "--tokens"),
        (["decode", "--dtype", "int4"], "--dtype"),
        (["decode", "--prompt", "café"], "--prompt"),
        (["decode", "--prompt-ids", "1,999"], "--prompt-ids"),
        (["decode", "--temperature", "-1"], "--temperature"),
        (["decode", "--trace-format", "xml", "--trace", "t.xml"], "--trace-format"),
        (["decode", "--weight-sharing", "some"], "--weight-sharing"),
        (["kv", "--context", "0"], "--context"),
        (["kv", "--batch", "-1"], "--batch"),
        (["kv", "--dtype", "fp64"], "int4"),
        (["kv", "--preset", "llama-3-70b", "--context", "9223372036854775807"], "--context"),
        (["kv", "--kv-quant", "int3"], "--kv-quant"),
        (["kv", "--preset", "llama-3-8b", "--kv-quant", "int4", "--kv-group", "48"], "--kv-group: 48 does not divide head_dim 128"),
        (["kv", "--evict", "h2o", "--kv-budget", "0"], "--kv-budget"),
        (["kv", "--window", "0"], "--window"),
        (["kv", "--kv-latent-rank", "0"], "--kv-latent-rank"),
        (["kv", "--kv-quant", "int8", "--kv-group", "8", "--kv-latent-rank", "8"], "--kv-quant/--kv-latent-rank: cannot be combined"),
        (["kv", "--preset", "mistral-7b", "--kv-quant", "int8"], "--window/--kv-quant: cannot be combined"),
        (["kv", "--preset", "llama-3-8b", "--gpu-memory", "12GB"], "--gpu-memory: the weights alone are 16.06 GB (bf16, 8.03 B parameters) > 12 GB = 12×10⁹ B"),
        (["kv", "--gpu-memory", "80"], "--gpu-memory"),
        (["kv", "--page-tokens", "16", "--requests", "100,5000"], "--requests/--context"),
        (["params", "--embedding", "128"], "--embedding"),
        (["params", "--frobnicate"], "--frobnicate"),
        (["decode", "--model", "smollm2-135m", "--models-dir", "/nonexistent-models"], "--model"),
        (["decode", "--model", "nosuch"], "--model"),
        (["decode", "--model", "/nonexistent/x.gguf"], "--model"),
        (["decode", "--chat"], "--chat"),
        (["ppl", "--text", "README.md", "--eval-window", "1"], "--eval-window"),
        (["ppl", "--text", "/nonexistent.txt"], "--text"),
        (["ppl", "--text", "README.md"], "--text: README.md: character '#'"),
        (["retrofit", "--text", "README.md", "--to", "gqa:3"], "--to"),
        (["retrofit", "--text", "README.md", "--to", "mha"], "--to"),
        (["retrofit", "--text", "README.md", "--to", "cla:2+shuffle"], "--to"),
        (["model", "fetch", "--model", "gpt-5"], "--model"),
    ]

    @Test("bad input: one line on stderr naming the flag, exit 2, nothing on stdout", arguments: badInputs)
    func badInput(arguments: [String], flag: String) throws {
        let run = try Run(arguments)
        #expect(run.status == 2, "\(arguments): status \(run.status), stderr \(run.stderr)")
        #expect(run.stdout.isEmpty)
        let lines = run.stderr.split(separator: "\n")
        #expect(lines.count == 1, "\(arguments): \(run.stderr)")
        #expect(run.stderr.hasPrefix("attnlab: error: "))
        #expect(run.stderr.contains(flag), "\(arguments): \(run.stderr)")
    }

    @Test("a broken model file is refused naming the file, with how to fetch a fresh copy")
    func brokenModel() throws {
        let folder = try temporaryFolder()
        let known = folder.appendingPathComponent("SmolLM2-135M-Instruct.Q4_1.gguf")
        try Data("GGUF but not really".utf8).write(to: known)
        var run = try Run(["decode", "--model", "smollm2-135m", "--models-dir", folder.path])
        #expect(run.status == 2 && run.stderr.split(separator: "\n").count == 1)
        #expect(run.stderr.contains(known.path) && run.stderr.contains("attnlab model fetch --force"))
        let other = folder.appendingPathComponent("other.gguf")
        try Data(repeating: 0x41, count: 4096).write(to: other)
        run = try Run(["ppl", "--model", other.path, "--text", "README.md"])
        #expect(run.status == 2 && run.stderr.contains("bad magic"))
    }

    @Test("an unknown preset lists the near matches")
    func nearMatches() throws {
        let run = try Run(["kv", "--preset", "llama-3-8"])
        #expect(run.stderr.contains("llama-3-8b"))
    }

    @Test("a trace path that cannot be written fails before any work and leaves nothing behind")
    func unwritableTrace() throws {
        let folder = try temporaryFolder()
        for path in [folder.appendingPathComponent("missing/t.jsonl").path, folder.path] {
            let run = try Run(["decode", "--trace", path])
            #expect(run.status == 2)
            #expect(run.stderr.contains("--trace"))
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).isEmpty)
    }

    @Test("decode --verify --json: cached equals recomputed, trace written whole")
    func decodeVerify() throws {
        let folder = try temporaryFolder()
        let trace = folder.appendingPathComponent("t.jsonl").path
        let run = try Run(["decode", "--layers", "6", "--q-heads", "8", "--kv-heads", "2", "--cla", "3", "--tokens", "12",
                           "--verify", "--json", "--trace", trace])
        #expect(run.status == 0, "\(run.stderr)")
        let summary = try run.json()
        #expect((summary["max_abs_diff"] as? Double).map { $0 <= 1e-4 } == true)
        #expect(summary["kv_layers"] as? Int == 2)
        #expect(summary["tokens"] as? Int == 12)
        let steps = summary["steps"] as! Int
        // 2 KV layers × 2 heads × head_dim 8 (= 64 / 8) × 2 (K, V) × 4 bytes per token.
        #expect(summary["kv_cache_bytes"] as? Int == steps * 2 * 2 * 8 * 2 * 4)
        #expect(summary["kv_bytes_written"] as? Int == summary["kv_cache_bytes"] as? Int)
        let text = try String(contentsOfFile: trace, encoding: .utf8)
        #expect(text.hasPrefix(#"{"type":"header","schema":"attnlab.trace/1""#))
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["t.jsonl"])
    }

    @Test("decode writes a text trace for .txt and the same bytes twice")
    func textTraceDeterministic() throws {
        let folder = try temporaryFolder()
        let a = folder.appendingPathComponent("a.txt").path, b = folder.appendingPathComponent("b.txt").path
        for path in [a, b] {
            #expect(try Run(["decode", "--temperature", "0.7", "--seed", "3", "--trace", path, "--trace-detail", "full"]).status == 0)
        }
        let first = try Data(contentsOf: URL(fileURLWithPath: a))
        #expect(first == (try Data(contentsOf: URL(fileURLWithPath: b))))
        #expect(String(decoding: first, as: UTF8.self).hasPrefix("AttnLab decode trace"))
    }

    @Test("kv --json for Llama 3 8B at 8k context: 131,072 B/token, 1 GiB, 75% below MHA")
    func kvLlama3() throws {
        let json = try Run(["kv", "--preset", "llama-3-8b", "--context", "8192", "--json"]).json()
        #expect(json["kv_layers"] as? Int == 32)
        #expect(json["kv_bytes_per_token"] as? Int == 131_072)
        #expect(json["kv_cache_bytes"] as? Int == 1 << 30)
        #expect(json["mha_kv_bytes_per_token"] as? Int == 524_288)
        #expect(json["reduction_vs_mha"] as? Double == 0.75)
    }

    @Test("kv from flags reproduces H128-MQA-CLA2 (5,120 B/token) and a preset can be overridden")
    func kvFlags() throws {
        let json = try Run(["kv", "--layers", "20", "--q-heads", "16", "--kv-heads", "1", "--head-dim", "128", "--cla", "2", "--json"]).json()
        #expect(json["kv_bytes_per_token"] as? Int == 5120)
        #expect(json["kv_layers"] as? Int == 10)
        let cla = try Run(["kv", "--preset", "llama-3-8b", "--cla", "2", "--json"]).json()
        #expect(cla["kv_bytes_per_token"] as? Int == 65_536)
        #expect(try Run(["kv", "--preset", "llama-3-8b"]).stdout.contains("131,072 B"))
    }

    @Test("params --json for BERT-base and ALBERT-base")
    func params() throws {
        let bert = try Run(["params", "--preset", "bert-base", "--json"]).json()
        #expect(bert["total_params"] as? Int == 109_482_240)
        let albert = try Run(["params", "--preset", "albert-base", "--json"]).json()
        #expect(albert["total_params"] as? Int == 11_683_584)
        let unshared = try Run(["params", "--preset", "albert-base", "--weight-sharing", "none", "--json"]).json()
        #expect(unshared["total_params"] as? Int == 89_650_176)
        let breakdown = try #require(bert["breakdown"] as? [String: Int])
        #expect(breakdown.values.reduce(0, +) == 109_482_240)
    }

    @Test("presets lists every published configuration")
    func presets() throws {
        let run = try Run(["presets", "--json"])
        let list = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [[String: Any]])
        let names = Set(list.compactMap { $0["name"] as? String })
        for name in ["llama-2-7b", "llama-2-13b", "llama-2-70b", "llama-3-8b", "llama-3-70b", "mistral-7b", "bert-base", "bert-large",
                     "albert-base", "albert-large", "albert-xlarge", "albert-xxlarge", "cla1b-h128-mqa-cla2", "cla1b-h128-mqa-cla2-denseback"] {
            #expect(names.contains(name), "\(name)")
        }
        #expect(list.filter { ($0["name"] as? String)?.hasPrefix("cla1b-") == true }.count == 20)
    }

    @Test("help explains each verb")
    func help() throws {
        for verb in ["decode", "kv", "params", "presets"] {
            let run = try Run([verb, "--help"])
            #expect(run.status == 0)
            #expect(run.stdout.contains("USAGE"))
        }
    }
}

@Suite("attnlab tile")
struct TileCLITests {
    static let badInputs: [([String], String)] = [
        (["tile", "--algo", "fa1", "--d", "128", "--sram-elements", "64"], "--d"),
        (["tile", "--n", "0"], "--n"),
        (["tile", "--d", "-4"], "--d"),
        (["tile", "--algo", "fa2", "--n", "64", "--d", "16", "--sram-elements", "1024", "--br", "64", "--bc", "64"], "--br/--bc"),
        (["tile", "--algo", "naive", "--n", "40000", "--d", "16"], "--n"),
        (["tile", "--algo", "fa3"], "--algo"),
        (["tile", "--sram", "lots"], "--sram"),
        (["tile", "--sram", "64KiB", "--sram-elements", "100"], "--sram"),
        (["tile", "--sram-elements", "60", "--d", "16"], "--sram-elements"),
        (["tile", "--fit-sram", "--br", "4"], "--fit-sram"),
        (["tile", "--watch-row", "9999"], "--watch-row"),
        (["tile", "--trace-format", "svg", "--trace", "x"], "--trace-format"),
        (["tile", "--q-heads", "4", "--kv-heads", "3"], "--kv-heads"),
        (["tile", "sweep", "--over", "heads"], "--over"),
        (["tile", "sweep", "--values", "1024"], "--values"),
        (["tile", "sweep", "--format", "xml"], "--format"),
        (["tile", "sweep", "--over", "n", "--values", "64,64"], "--values"),
        (["tile", "sweep", "--over", "bc", "--values", "512,1024", "--n", "128"], "--values"),
        (["tile", "sweep", "--over", "sram", "--sram-elements", "4096"], "--sram-elements"),
        (["tile", "--n", "3000000000"], "--n"),
        (["tile", "--n", "60000", "--d", "4", "--sram-elements", "64"], "--sram-elements"),
        (["bench", "--numpy-script", "/nonexistent.py"], "--numpy-script"),
    ]

    @Test("bad input: one line naming the flag, exit 2", arguments: badInputs)
    func badInput(arguments: [String], flag: String) throws {
        let run = try Run(arguments)
        #expect(run.status == 2, "\(arguments): \(run.stderr)")
        #expect(run.stdout.isEmpty)
        #expect(run.stderr.split(separator: "\n").count == 1)
        #expect(run.stderr.contains(flag), "\(arguments): \(run.stderr)")
    }

    @Test("tile --json: FA1's reads equal 2Nd + Tc(2Nd + 2N) and O passes its float64 check")
    func json() throws {
        let json = try Run(["tile", "--algo", "fa1", "--n", "300", "--d", "32", "--sram-elements", "4096", "--json"]).json()
        let n = 300, d = 32, bc = 32, Tc = (n + bc - 1) / bc
        #expect(json["block_cols"] as? Int == bc && json["block_rows"] as? Int == 32)
        #expect(json["hbm_reads"] as? Int == 2 * n * d + Tc * (2 * n * d + 2 * n))
        #expect(json["hbm_writes"] as? Int == Tc * (n * d + 2 * n))
        #expect(json["hbm_accesses"] as? Int == (json["hbm_reads"] as! Int) + (json["hbm_writes"] as! Int))
        #expect(json["hbm_bytes"] as? Int == 4 * (json["hbm_accesses"] as! Int))
        #expect((json["max_abs_error"] as? Double).map { $0 <= 1e-5 } == true)
        for key in ["algo", "n", "d", "sram_elements", "peak_sram", "flops"] { #expect(json[key] != nil, "\(key)") }
    }

    @Test("--sram 96KiB with --dtype fp16 is 49,152 elements")
    func sramSize() throws {
        let json = try Run(["tile", "--sram", "96KiB", "--dtype", "fp16", "--json", "--n", "128"]).json()
        #expect(json["sram_elements"] as? Int == 49_152)
    }

    @Test("traces: JSONL with a tile event per step, a text view and a Chrome timeline, each byte-identical twice")
    func traces() throws {
        let folder = try temporaryFolder()
        for (name, check) in [("t.jsonl", "{\"type\":\"header\""), ("t.txt", "AttnLab tile trace"), ("t.chrome.json", "{\"traceEvents\":[")] {
            let a = folder.appendingPathComponent("a-" + name).path, b = folder.appendingPathComponent("b-" + name).path
            for path in [a, b] {
                let run = try Run(["tile", "--algo", "fa1", "--n", "64", "--d", "16", "--sram-elements", "1024", "--causal", "--backward", "--trace", path])
                #expect(run.status == 0, "\(run.stderr)")
            }
            let bytes = try Data(contentsOf: URL(fileURLWithPath: a))
            #expect(bytes == (try Data(contentsOf: URL(fileURLWithPath: b))))
            #expect(String(decoding: bytes, as: UTF8.self).hasPrefix(check))
            if name.hasSuffix("chrome.json") {
                let object = try #require(try JSONSerialization.jsonObject(with: bytes) as? [String: Any])
                #expect((object["traceEvents"] as? [Any])?.count ?? 0 > 10)
            }
            if name == "t.jsonl" {
                let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n")
                let events = try lines.map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
                let tiles = events.filter { $0["type"] as? String == "tile" }
                #expect(tiles.map { $0["step"] as! Int } == Array(0..<tiles.count))
                // The HBM totals only grow, across the forward and backward passes.
                let reads = tiles.map { $0["hbm_reads"] as! Int }
                #expect(zip(reads, reads.dropFirst()).allSatisfy { $0 <= $1 })
                let summary = try #require(events.last)
                #expect(summary["type"] as? String == "summary")
                #expect(summary["hbm_reads"] as? Int == reads.last)
                #expect(tiles.contains { $0["watch"] != nil })
            }
        }
    }

    @Test("sweep over N fits exponent 2 for every algorithm; over M, −1 for FlashAttention")
    func sweep() throws {
        let overN = try Run(["tile", "sweep", "--over", "n", "--values", "256,512,1024", "--d", "64", "--sram-elements", "4096", "--format", "json"]).json()
        let e = try #require(overN["exponents"] as? [String: Double])
        for algo in ["naive", "fa1", "fa2"] { #expect(abs(e[algo]! - 2) < 0.15, "\(algo): \(e[algo]!)") }
        let overM = try Run(["tile", "sweep", "--over", "sram", "--n", "1024", "--values", "2048,4096,8192,16384", "--format", "json"]).json()
        let m = try #require(overM["exponents"] as? [String: Double])
        #expect(m["fa1"]! < -0.9 && m["fa2"]! < -0.9)
        #expect((overM["rows"] as? [Any])?.count == 12)
        let csv = try Run(["tile", "sweep", "--over", "bc", "--values", "16,32", "--n", "128", "--format", "csv"])
        #expect(csv.stdout.hasPrefix("bc,algo,block_rows"))
        #expect(csv.stdout.split(separator: "\n").count == 7)
    }
}

@Suite("attnlab draw and gallery")
struct DrawCLITests {
    @Test("every figure kind writes PNG, SVG and PDF files", arguments: [
        ["heads", "--preset", "llama-3-8b"], ["layers", "--layers", "10", "--cla", "3"],
        ["tiles", "--algo", "fa2", "--n", "128", "--d", "32", "--sram-elements", "4096"], ["cache", "--tokens", "4"],
        ["kv-chart", "--preset", "mistral-7b"], ["io-chart", "--n", "256", "--d", "32"], ["tradeoff"],
    ])
    func kinds(arguments: [String]) throws {
        let dir = try temporaryFolder()
        for ext in ["png", "svg", "pdf"] {
            let path = dir.appendingPathComponent("f.\(ext)").path
            let run = try Run(["draw"] + arguments + ["-o", path, "--theme", "dark"])
            #expect(run.status == 0, "\(arguments) \(ext): \(run.stderr)")
            #expect(run.stdout.hasPrefix("wrote \(path)"))
            #expect(try Data(contentsOf: URL(fileURLWithPath: path)).count > 1000)
        }
    }

    @Test("tile steps: one PDF page per step and --frames PNGs")
    func frames() throws {
        let dir = try temporaryFolder()
        let run = try Run(["draw", "tiles", "--algo", "fa1", "--n", "64", "--d", "16", "--sram-elements", "1024", "--causal",
                           "-o", dir.appendingPathComponent("t.pdf").path, "--frames", dir.appendingPathComponent("frames").path])
        #expect(run.status == 0, "\(run.stderr)")
        let frames = try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("frames").path).sorted()
        #expect(frames.first == "frame-0001.png")
        #expect(run.stdout.contains("(\(frames.count) pages"))
    }

    static let badInputs: [([String], String)] = [
        (["draw", "heads", "-o", "out.gif"], "-o"),
        (["draw", "heads", "-o", "/nonexistent/h.png"], "-o"),
        (["draw", "heads", "-o", "h.png", "--size", "100x100"], "--size"),
        (["draw", "heads", "-o", "h.png", "--size", "800x450"], "--size"),
        (["draw", "heads", "-o", "h.png", "--theme", "pink"], "--theme"),
        (["draw", "heads", "-o", "h.png", "--scale", "0"], "--scale"),
        (["draw", "layers", "--layers", "80", "-o", "l.png"], "--size"),
        (["draw", "tiles", "--n", "4096", "--d", "8", "--sram-elements", "256", "-o", "t.png"], "--n"),
        (["draw", "cache", "--step", "99", "-o", "c.png"], "--step"),
        (["draw", "kv-chart", "--contexts", "1024", "-o", "k.png"], "--contexts"),
        (["draw", "kv-chart", "--contexts", "1024,4611686018427387904", "-o", "k.png"], "--contexts"),
        (["draw", "heads", "-o", "h.png", "--size", "1600.5x900"], "--size"),
        (["draw", "heads", "-o", "h.png", "--size", "10000x10000", "--scale", "8"], "--scale"),
        (["gallery", "--out", "g.png", "--theme", "pink"], "--theme"),
    ]

    @Test("bad input: one line naming the flag, exit 2, no file", arguments: badInputs)
    func badInput(arguments: [String], flag: String) throws {
        let dir = try temporaryFolder()
        let args = arguments.map { $0.hasSuffix(".png") || $0.hasSuffix(".gif") ? ($0.hasPrefix("/") ? $0 : dir.appendingPathComponent($0).path) : $0 }
        let run = try Run(args)
        #expect(run.status == 2, "\(arguments): \(run.stderr)")
        #expect(run.stderr.split(separator: "\n").count == 1 && run.stderr.contains(flag), "\(arguments): \(run.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
    }

    @Test("gallery renders one of every figure, the same bytes on one thread as on two")
    func gallery() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        var trees: [[String: Data]] = []
        for workers in ["1", "2"] {
            let out = dir.appendingPathComponent(workers)
            let run = try Run(["gallery", "--out", out.path], environment: ["ATTNLAB_WORKERS": workers])
            #expect(run.status == 0, "\(run.stderr)")
            trees.append(try contents(of: out))
        }
        let files = Set(trees[0].keys)
        for name in ["heads", "layers", "tiles", "cache", "attention", "kv-chart", "io-chart", "tradeoff"] {
            #expect(files.contains("\(name).png") && files.contains("\(name).svg"), "\(name)")
        }
        #expect(files.contains("tiles-steps.pdf"))
        #expect(files.count == 17)
        #expect(trees[0] == trees[1])
    }
}

@Suite("draw: nothing written on failure")
struct DrawNoPartialOutputTests {
    @Test("--frames that is a file fails before the figure is written")
    func framesIsAFile() throws {
        let dir = try temporaryFolder()
        let file = dir.appendingPathComponent("f.txt").path
        try Data("x".utf8).write(to: URL(fileURLWithPath: file))
        let run = try Run(["draw", "tiles", "--n", "64", "--d", "16", "--sram-elements", "1024", "-o", dir.appendingPathComponent("t.png").path,
                           "--frames", file])
        #expect(run.status == 2 && run.stderr.contains("--frames"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["f.txt"])
    }
}

@Suite("attnlab lessons, check and run")
struct LessonCLITests {
    static let lesson = """
        id: cli-test
        title: {en: CLI test, ja: CLIテスト}
        summary: {en: Checks itself., ja: 自分で確かめる。}
        steps:
          - title: {en: MQA-CLA2 halves MQA}
            narration: {en: "{{ mqa_cla2.kv_bytes_per_token | grouped }} vs {{ mqa.kv_bytes_per_token | grouped }} bytes.", ja: "{{ mqa.kv_bytes_per_token }} バイト。"}
            action:
              compare:
                - {name: mqa, kv: {layers: 20, q-heads: 16, kv-heads: 1, head-dim: 128}}
                - {name: mqa_cla2, kv: {layers: 20, q-heads: 16, kv-heads: 1, head-dim: 128, cla: 2}}
            figure: {layers: {layers: 6, cla: 2}}
            checks:
              - mqa_cla2.kv_bytes_per_token * 2 == mqa.kv_bytes_per_token
              - mqa.kv_bytes_per_token == 10240
          - title: {en: Cached equals recomputed}
            narration: {en: "{{ max_abs_diff }}"}
            action: {decode: {layers: 2, tokens: 4, verify: true}}
            checks: [max_abs_diff <= 1e-4]
        """

    func write(_ text: String) throws -> (URL, String) {
        let dir = try temporaryFolder()
        let file = dir.appendingPathComponent("lesson.yaml")
        try Data(text.utf8).write(to: file)
        return (dir, file.path)
    }

    @Test("run writes the report, slides, trace and figures; the same bytes twice")
    func run() throws {
        let (dir, file) = try write(Self.lesson)
        for out in ["a", "b"] {
            let run = try Run(["run", file, "--no-step", "--out", dir.appendingPathComponent(out).path, "--lang", "ja"])
            #expect(run.status == 0, "\(run.stderr)")
            #expect(run.stdout.hasPrefix("✓ cli-test: 2 steps, 3/3 checks"))
        }
        let a = dir.appendingPathComponent("a/cli-test"), b = dir.appendingPathComponent("b/cli-test")
        let files = try FileManager.default.subpathsOfDirectory(atPath: a.path).sorted()
        #expect(files == ["figures", "figures/step-01.png", "figures/step-01.svg", "notes.pdf", "report.html", "report.md", "slides.pdf", "trace.jsonl", "trace.txt",
                          "traces", "traces/step-02.jsonl", "traces/step-02.txt"])
        // The decode step's engine trace is exactly what `attnlab decode … --trace` writes.
        let own = dir.appendingPathComponent("own.jsonl").path
        #expect(try Run(["decode", "--layers", "2", "--tokens", "4", "--verify", "--trace", own]).status == 0)
        #expect(try Data(contentsOf: a.appendingPathComponent("traces/step-02.jsonl")) == (try Data(contentsOf: URL(fileURLWithPath: own))))
        for f in files where f.contains(".") {
            #expect(try Data(contentsOf: a.appendingPathComponent(f)) == (try Data(contentsOf: b.appendingPathComponent(f))), "\(f)")
        }
        let html = try String(contentsOf: a.appendingPathComponent("report.html"), encoding: .utf8)
        #expect(html.contains("<svg") && html.contains("5,120 vs 10,240") == false && html.contains("10240 バイト"))
        // No network: the only URIs are the SVG namespaces.
        let uris = html.matches(of: /https?:\/\/[^"\s]+/).map { String($0.output) }
        #expect(Set(uris).isSubset(of: ["http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"]), "\(Set(uris))")
        let trace = try String(contentsOf: a.appendingPathComponent("trace.jsonl"), encoding: .utf8)
        #expect(trace.hasPrefix(#"{"type":"header","schema":"attnlab.trace/1","kind":"lesson""#))
    }

    @Test("a failed check is marked ✗ with both values, the report is still written, exit 1")
    func failedCheck() throws {
        let (dir, file) = try write(Self.lesson.replacingOccurrences(of: "== 10240", with: "== 10000"))
        let run = try Run(["run", file, "--no-step", "--out", dir.path])
        #expect(run.status == 1)
        #expect(run.stdout.contains("✗ mqa.kv_bytes_per_token == 10000 — left 10240, right 10000"))
        #expect(run.stderr.contains("checks failed in cli-test"))
        let md = try String(contentsOf: dir.appendingPathComponent("cli-test/report.md"), encoding: .utf8)
        #expect(md.contains("✗ mqa.kv_bytes_per_token == 10000"))
    }

    static let brokenLessons: [(String, String, String)] = [
        ("{decode: {layers: 2", "{decod: {layers: 2", "lesson.yaml:17: steps[1].action.decod: unknown field 'decod' — did you mean 'decode'?"),
        ("{decode: {layers: 2, tokens: 4", "{decode: {layerz: 2, tokens: 4", "lesson.yaml:17: steps[1].action.decode.layerz: unknown flag for this action — did you mean 'layers'?"),
        ("cla: 2}}\n", "cla: 0}}\n", "lesson.yaml:10: steps[0].action.compare.cla: the sharing factor must be positive"),
        ("max_abs_diff <= 1e-4", "max_abs_dif <= 1e-4", "steps[1].checks[0]: 'max_abs_dif <= 1e-4': unknown value 'max_abs_dif'"),
        ("max_abs_diff <= 1e-4", "max_abs_diff / 0 <= 1e-4", "lesson.yaml:18: steps[1].checks[0]: 'max_abs_diff / 0 <= 1e-4': divides by zero"),
        ("{decode: {layers: 2, tokens: 4", "{decode: {trace: /tmp/x.jsonl, layers: 2, tokens: 4", "lesson.yaml:17: steps[1].action.decode.trace: is set by the runner"),
        ("{{ max_abs_diff }}", "{{ max_abs_diff | loud }}", "lesson.yaml:16: steps[1].narration.en: unknown filter 'loud'"),
        ("{{ mqa.kv_bytes_per_token }} バイト", "{{ mqa.kv_bytes_pr_token }} バイト", "steps[0].narration.ja: unknown value 'mqa.kv_bytes_pr_token'"),
    ]

    @Test("check and run name the file, line and field of a broken lesson", arguments: brokenLessons)
    func broken(old: String, new: String, message: String) throws {
        let (dir, file) = try write(Self.lesson.replacingOccurrences(of: old, with: new))
        let check = try Run(["check", file])
        let run = try Run(["run", file, "--no-step", "--out", dir.path])
        // What the run refuses, check finds without running the engine.
        #expect(check.status == 2 && check.stderr.contains(message), "\(check.stderr)")
        #expect(run.status == 2 && run.stderr.contains(message), "\(run.stderr)")
        #expect(run.stderr.split(separator: "\n").count == 1)
    }

    @Test("report.html: inlined figures write their labels as real <text> and carry no ids, so figures on one page never collide")
    func inlinedFigureText() throws {
        let (dir, file) = try write(Self.lesson.replacingOccurrences(of: "checks: [max_abs_diff <= 1e-4]",
                                                                     with: "figure: {heads: {q-heads: 8, kv-heads: 2}}\n    checks: [max_abs_diff <= 1e-4]"))
        #expect(try Run(["run", file, "--no-step", "--out", dir.path]).status == 0)
        let html = try String(contentsOf: dir.appendingPathComponent("cli-test/report.html"), encoding: .utf8)
        let figures = html.matches(of: /<figure>(?s:.*?)<\/figure>/).map { String($0.output) }
        #expect(figures.count == 2)
        #expect(figures.contains { $0.contains(">Query heads sharing K/V heads: MHA, GQA, MQA</text>") })
        for figure in figures {
            #expect(figure.contains("<text ") && !figure.contains(" id=\"") && !figure.contains("<path"))
        }
        // Whatever else on the page has ids (the trace player), each is unique.
        let ids = html.matches(of: /id="([^"]+)"/).map { String($0.output.1) }
        #expect(Set(ids).count == ids.count)
    }

    @Test("a run that fails leaves the previous output untouched; --out must name a folder")
    func failedRunKeepsOutput() throws {
        let (dir, file) = try write(Self.lesson)
        #expect(try Run(["run", file, "--no-step", "--out", dir.path]).status == 0)
        let before = try Data(contentsOf: dir.appendingPathComponent("cli-test/report.md"))
        try Data(Self.lesson.replacingOccurrences(of: "{{ max_abs_diff }}", with: "{{ nope }}").utf8).write(to: URL(fileURLWithPath: file))
        let run = try Run(["run", file, "--no-step", "--out", dir.path])
        #expect(run.status == 2 && run.stderr.contains("unknown value 'nope'"))
        #expect(try Data(contentsOf: dir.appendingPathComponent("cli-test/report.md")) == before)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == ["cli-test", "lesson.yaml"])
        #expect(try Run(["run", file, "--no-step", "--out", ""]).stderr.contains("--out"))
    }

    @Test("the lessons in lessons/ are listed and all pass their checks")
    func curriculum() throws {
        let list = try Run(["lessons", "--json"])
        #expect(list.status == 0, "\(list.stderr)")
        let lessons = try #require(try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]])
        #expect(!lessons.isEmpty)
        let dir = try temporaryFolder()
        let run = try Run(["run", "--all", "--no-step", "--out", dir.path])
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("index.html").path))
    }

    @Test("the step-through mode, driven through tmux")
    func stepThrough() throws {
        let exe = URL(fileURLWithPath: try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = ["scripts/test-step-through.sh", exe.deletingLastPathComponent().appendingPathComponent("attnlab").path]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(output)")
    }
}

/// The fetched SmolLM2 model (see Tests/AttnEngineTests/SmolLM2Tests.swift): skipped when absent on
/// a developer's machine, required under CI.
enum FetchedModel {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("models").path
    static let runs = FileManager.default.fileExists(atPath: directory + "/SmolLM2-135M-Instruct.Q4_1.gguf")
        || (ProcessInfo.processInfo.environment["CI"].map { !$0.isEmpty && $0 != "false" } ?? false)
}

@Suite("attnlab with the real SmolLM2 model", .enabled(if: FetchedModel.runs, "the model is not fetched (attnlab model fetch)"))
struct RealModelCLITests {
    @Test("decode --model writes real text, and the trace shows 3 KV heads serving 9 query heads in every layer")
    func decode() throws {
        let trace = try temporaryFolder().appendingPathComponent("t.jsonl").path
        let run = try Run(["decode", "--model", "smollm2-135m", "--models-dir", FetchedModel.directory,
                           "--prompt", "The capital of France is", "--tokens", "4", "--json", "--trace", trace])
        #expect(run.status == 0, "\(run.stderr)")
        #expect((try run.json()["generated_text"] as? String)?.hasPrefix(" Paris") == true)
        let lines = try String(contentsOfFile: trace, encoding: .utf8).split(separator: "\n")
        let header = try #require(try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
        let config = try #require(header["config"] as? [String: Any])
        #expect(header["model"] as? String == "smollm2-135m")
        #expect(config["q_heads"] as? Int == 9 && config["kv_heads"] as? Int == 3 && config["layers"] as? Int == 30)
        #expect(config["head_map"] as? [Int] == [0, 0, 0, 1, 1, 1, 2, 2, 2])
        let writes = lines.filter { $0.contains("\"type\":\"kv_write\"") }
        // 5 prompt tokens + 3 fed-back tokens, each written by all 30 layers: 2 × 3 × 64 × 4 bytes.
        #expect(writes.count == 8 * 30)
        #expect(writes.allSatisfy { $0.contains("\"bytes\":1536") })
    }

    @Test("retrofit --to gqa:3 reproduces the original perplexity exactly; mqa costs more")
    func retrofit() throws {
        let run = try Run(["retrofit", "--model", "smollm2-135m", "--models-dir", FetchedModel.directory, "--text", "README.md",
                           "--max-tokens", "96", "--to", "gqa:3", "--to", "mqa", "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        let variants = try #require(try run.json()["variants"] as? [[String: Any]])
        let ppl = variants.map { $0["perplexity"] as! Double }
        #expect(ppl[1] == ppl[0] && ppl[2] > ppl[0])
        #expect(variants.map { $0["kv_bytes_per_token"] as! Int } == [23040, 23040, 7680])
    }
}
