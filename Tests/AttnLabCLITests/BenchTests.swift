import AttnLabCLI
import Foundation
import Testing

/// `bench`: its statistics against hand-computed values, and the structure of its output with fake
/// peers (small Python scripts printing fixed JSON lines), so that nothing here depends on a timing.
@Suite("attnlab bench")
struct BenchTests {
    @Test("median, min and max of samples, and rates taken before the median")
    func samples() {
        let odd = Samples([3, 1, 2])
        #expect(odd.median == 2 && odd.min == 1 && odd.max == 3)
        #expect(Samples([4, 1, 3, 2]).median == 2.5)
        #expect(Samples([7]).median == 7 && Samples([7]).spread(1) == "7.0–7.0")
        // 8 tokens in 2 s and in 4 s: rates 4 and 2, median rate 3 (not 8 ÷ the median time 3 s).
        let rates = Samples([2, 4]).map { 8 / $0 }
        #expect(rates.values == [4, 2] && rates.median == 3)
        #expect(rates.spread(2) == "2.00–4.00")
    }

    /// The absolute path of `python3` on PATH: the fake peer environment's interpreter.
    static func python3() throws -> String {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin"
        return try #require(path.split(separator: ":").map { "\($0)/python3" }.first { FileManager.default.isExecutableFile(atPath: $0) })
    }

    /// A folder with the tiny GGUF model and `script` as `peer.py`.
    static func folder(script: String) throws -> (dir: URL, model: String, peer: String) {
        let dir = try temporaryFolder()
        let model = dir.appendingPathComponent("tiny.gguf"), peer = dir.appendingPathComponent("peer.py")
        try Data(FuzzTests.tinyModel()).write(to: model)
        try script.write(to: peer, atomically: true, encoding: .utf8)
        return (dir, model.path, peer.path)
    }

    /// A llama.cpp peer that checks its arguments and reports the n-th of three runs: decode in 0.1,
    /// 0.2, 0.4 s (2 tokens: 20, 10, 5 tokens/s), prompt in 0.25 s (4 tokens: 16 tokens/s), load in
    /// 0.5 s, 100 MiB at its peak.
    static let fakeLlama = """
        import argparse, json, os
        p = argparse.ArgumentParser()
        for a in ["--model", "--prompt-ids", "--tokens", "--threads"]: p.add_argument(a)
        a = p.parse_args()
        ids = [int(x) for x in a.prompt_ids.split(",")]
        assert os.path.exists(a.model) and len(ids) == 4 and all(0 <= i < 8 for i in ids), a
        count = os.path.join(os.path.dirname(__file__), "runs")
        n = len(open(count).read()) if os.path.exists(count) else 0
        open(count, "a").write("x")
        print("llama.cpp says hello on its own line")
        print(json.dumps({"llama_cpp_python": "0.0.0", "threads": int(a.threads), "batch": 512}))
        print(json.dumps({"load_seconds": 0.5, "prefill_seconds": 0.25, "decode_seconds": [0.1, 0.2, 0.4][n % 3],
                          "prompt_tokens": len(ids), "tokens": int(a.tokens), "peak_rss_bytes": 100 << 20}))
        """

    static func modelBench(_ model: String, python: String, peer: String, repeats: Int = 3) -> [String] {
        ["bench", "--model", model, "--prompt-tokens", "4", "--tokens", "2", "--repeat", String(repeats),
         "--peer-python", python, "--llama-script", peer]
    }

    @Test("bench --model with a peer: medians and spreads of both sides, their ratio, the roofline of each")
    func modelWithPeer() throws {
        let (dir, model, peer) = try Self.folder(script: Self.fakeLlama)
        defer { try? FileManager.default.removeItem(at: dir) }
        let run = try Run(Self.modelBench(model, python: try Self.python3(), peer: peer))
        try #require(run.status == 0, "\(run.stderr)")
        #expect(run.stderr == "")
        let lines = run.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines[0].hasPrefix("tiny.gguf (") && lines[0].contains("tensors 11 F32"), "\(lines[0])")
        #expect(lines[1] == "Medians of 3 alternating runs (llama.cpp, AttnLab), spread = min–max")
        #expect(lines[2].hasPrefix("\(ProcessInfo.processInfo.activeProcessorCount) cores (AttnLab's kernels: ") && lines[2].contains(" busy with other processes just before the runs (load average "), "\(lines[2])")
        func cells(_ phase: String) throws -> [String] {
            let row = try #require(lines.first { $0.hasPrefix(phase) }, "no row \(phase)")
            return row.dropFirst(phase.count).split(separator: " ").map(String.init)
        }
        let header = try #require(lines.first { $0.hasPrefix("phase") })
        #expect(header.split(separator: " ").joined(separator: " ") == "phase tokens AttnLab spread llama.cpp spread AttnLab ÷ llama.cpp")
        // tokens, AttnLab median, spread, llama.cpp median, spread, ratio.
        #expect(try cells("load, s").dropFirst(3).prefix(2) == ["0.500", "0.500–0.500"])
        #expect(try cells("prompt, tokens/s").dropFirst(3).prefix(2) == ["16.0", "16.0–16.0"])
        let decode = try cells("decode, tokens/s")
        #expect(decode[0] == "2" && decode[3] == "10.0" && decode[4] == "5.0–20.0", "\(decode)")
        let ratio = try #require(Double(decode[5].dropLast())), ownDecode = try #require(Double(decode[1]))
        #expect(decode[5].hasSuffix("×") && abs(ratio - ownDecode / 10) < 0.02, "\(decode)")
        #expect(try cells("peak memory, MiB").dropFirst(3).prefix(2) == ["100", "100–100"])
        #expect(lines.contains("Prompt: AttnLab in blocks of 32 tokens; llama.cpp (llama-cpp-python 0.0.0, \(ProcessInfo.processInfo.activeProcessorCount) threads) in batches of 512; logits for its last token only."))
        #expect(lines.contains { $0.hasPrefix("Memory read bandwidth: ") && $0.contains(" GB/s (") })
        for who in ["  AttnLab   ", "  llama.cpp "] {
            #expect(lines.contains { $0.hasPrefix(who) && $0.contains(" per token (weights ") && $0.contains("% of the bound") }, "\(who)")
        }
        // The tiny model is all F32 with tied embeddings, so as held and as stored it reads the same
        // bytes: 4 × (embedding 8·8 + norms 3·8 + W_Q 64 + W_K 32 + W_V 32 + W_O 64 + FFN 3·128) = 2,656.
        #expect(lines.contains { $0.contains("(weights 2.66 kB as AttnLab holds them + KV cache ") && $0.contains(" in fp32)") })
        #expect(lines.contains { $0.contains("(weights 2.66 kB as stored: F32 + KV cache ") && $0.contains(" in fp16)") })
        #expect(try String(contentsOf: dir.appendingPathComponent("runs"), encoding: .utf8) == "xxx")
    }

    @Test("bench --model without the peer environment says how to make it, in one line, and runs AttnLab alone")
    func modelWithoutPeer() throws {
        let (dir, model, peer) = try Self.folder(script: Self.fakeLlama)
        defer { try? FileManager.default.removeItem(at: dir) }
        let missing = dir.appendingPathComponent("no-venv/bin/python").path
        let run = try Run(Self.modelBench(model, python: missing, peer: peer, repeats: 1))
        try #require(run.status == 0, "\(run.stderr)")
        let lines = run.stdout.split(separator: "\n").map(String.init)
        #expect(lines[0] == "llama.cpp: no peer environment (\(missing) not found); `bash bench/setup.sh` creates it (minutes, once). AttnLab alone:")
        #expect(lines.filter { $0.contains("llama.cpp") }.count == 1, "\(run.stdout)")
        let header = try #require(lines.first { $0.hasPrefix("phase") })
        #expect(header.split(separator: " ").joined(separator: " ") == "phase tokens AttnLab spread")
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("runs").path))
    }

    @Test("a failing or silent llama.cpp peer is one line naming --llama-script", arguments: [
        ("raise RuntimeError('no llama here')\n", "RuntimeError: no llama here"),
        ("print('hello')\n", "printed no version and timings"),
    ])
    func brokenPeer(script: String, says: String) throws {
        let (dir, model, peer) = try Self.folder(script: script)
        defer { try? FileManager.default.removeItem(at: dir) }
        let stderr = try InputTests.refused(Self.modelBench(model, python: try Self.python3(), peer: peer), naming: "--llama-script")
        #expect(stderr.contains(says) && stderr.contains("bash bench/setup.sh"), "\(stderr)")
    }

    @Test("bench with a NumPy peer: every algorithm's medians beside NumPy's median, spread and ratio")
    func kernelsWithPeer() throws {
        let numpy = """
            import json, sys
            n = int(sys.argv[sys.argv.index("--n") + 1])
            print(json.dumps({"n": n, "d": 16, "seconds": 0.002, "gflops": 1.0}))
            print(json.dumps({"numpy": "0.0", "blas": "none"}))
            """
        let (dir, _, peer) = try Self.folder(script: numpy)
        defer { try? FileManager.default.removeItem(at: dir) }
        let run = try Run(["bench", "--n", "64,128", "--d", "16", "--repeat", "3", "--numpy-script", peer, "--peer-python", try Self.python3()])
        try #require(run.status == 0, "\(run.stderr)")
        let lines = run.stdout.split(separator: "\n").map(String.init)
        #expect(lines[0].hasSuffix("medians of 3 alternating runs (NumPy, counted, bare), spread = min–max"), "\(lines[0])")
        #expect(lines[1].hasPrefix("\(ProcessInfo.processInfo.activeProcessorCount) cores (AttnLab's kernels: ") && lines[1].contains(" busy with other processes just before the runs (load average "), "\(lines[1])")
        #expect(lines[2].split(separator: " ").joined(separator: " ") == "N algo ms spread GFLOP/s bare ms counting NumPy ms spread vs NumPy")
        let rows = lines.dropFirst(4).prefix { !$0.isEmpty && !$0.hasPrefix("NumPy") }.map { $0.split(separator: " ").map(String.init) }
        #expect(rows.map { $0[0] + " " + $0[1] } == ["64 naive", "64 fa1", "64 fa2", "128 naive", "128 fa1", "128 fa2"])
        for row in rows {
            #expect(row.count == 10 && row[7] == "2.0" && row[8] == "2.0–2.0" && row[9].hasSuffix("×"), "\(row)")
            // The ratio is the median ms over NumPy's 2 ms.
            #expect(abs(Double(row[9].dropLast())! - Double(row[2])! / 2) <= 0.04, "\(row)")
        }
        #expect(lines.last == "NumPy 0.0, BLAS none, from \(try Self.python3()) (naive attention: S, softmax, PV in float32); vs NumPy = AttnLab's ms ÷ NumPy's (below 1× AttnLab is faster)")
    }
}
