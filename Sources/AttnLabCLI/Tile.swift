import ArgumentParser
import AttnEngine
import AttnTiling
import AttnTrace
import Foundation

/// The flags that describe one simulated attention problem and memory.
struct TileFlags: ParsableArguments {
    @Option(parsing: .unconditional, help: "Sequence length N (query and key positions).")
    var n = 256

    @Option(parsing: .unconditional, help: "Head dimension d.")
    var d = 64

    @Option(name: .customLong("sram-elements"), parsing: .unconditional, help: "SRAM capacity M in elements.")
    var sramElements: Int?

    @Option(help: "SRAM capacity as a size, e.g. 96KiB or 192KB (elements = size / --dtype size).")
    var sram: String?

    @Option(help: "Element type for bytes: fp32, bf16, fp16, fp8, int8, int4 (the simulator computes in fp32).")
    var dtype: DType = .fp32

    @Flag(help: "Causal mask: blocks wholly above the diagonal are skipped, diagonal blocks masked.")
    var causal = false

    @Option(name: .customLong("q-heads"), parsing: .unconditional, help: "Query heads.")
    var qHeads = 1

    @Option(name: .customLong("kv-heads"), parsing: .unconditional, help: "K/V heads (GQA: a group's query heads share its K/V blocks). (default: q-heads)")
    var kvHeads: Int?

    @Option(parsing: .unconditional, help: "Seed of Q, K, V and dO.")
    var seed: UInt64 = 1

    /// M in elements from --sram-elements or --sram (default 16,384 elements = 64 KiB of fp32).
    func sramElementCount() throws(ConfigError) -> Int {
        switch (sramElements, sram) {
        case (_?, _?): throw ConfigError("--sram", "give either --sram or --sram-elements, not both")
        case (let m?, nil):
            guard m > 0 else { throw ConfigError("--sram-elements", "must be positive, got \(m)") }
            return m
        case (nil, let size?):
            let bytes = try parseSize(size)
            let elements = bytes * 8 / dtype.bits
            guard elements > 0 else { throw ConfigError("--sram", "\(size) holds no \(dtype.rawValue) element") }
            return elements
        case (nil, nil): return 16_384
        }
    }

    func problem() throws(ConfigError) -> TileProblem { try problem(n: n) }

    /// The problem with another sequence length (for sweeps over N).
    func problem(n: Int) throws(ConfigError) -> TileProblem {
        try TileProblem(n: n, d: d, qHeads: qHeads, kvHeads: kvHeads ?? qHeads, causal: causal, seed: seed)
    }

    /// "96KiB" → 98304, "192KB" → 192000, "4096" → 4096 bytes.
    private func parseSize(_ text: String) throws(ConfigError) -> Int {
        let units: [(String, Int)] = [("kib", 1024), ("mib", 1 << 20), ("kb", 1000), ("mb", 1_000_000), ("b", 1)]
        let t = text.lowercased().filter { $0 != " " }
        for (suffix, scale) in units where t.hasSuffix(suffix) {
            guard let value = Int(t.dropLast(suffix.count)), value > 0 else { break }
            return value * scale
        }
        if let value = Int(t), value > 0 { return value }
        throw ConfigError("--sram", "'\(text)' is not a size (examples: 96KiB, 192KB, 65536)")
    }
}

extension TileAlgorithm: ExpressibleByArgument {}
extension SweepAxis: ExpressibleByArgument {}

/// "1024,2048" → [1024, 2048], each positive, at least `minimum` of them.
func parseList(_ text: String, field: String, minimum: Int = 1) throws(ConfigError) -> [Int] {
    var list: [Int] = []
    for part in text.split(separator: ",") {
        guard let v = Int(part.filter { $0 != " " }), v > 0 else { throw ConfigError(field, "'\(part)' is not a positive integer") }
        list.append(v)
    }
    guard list.count >= minimum else {
        throw ConfigError(field, minimum == 2 ? "a sweep needs at least two values" : "needs at least \(minimum) value\(minimum == 1 ? "" : "s")")
    }
    return list
}

extension AttnLab {
    struct Tile: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Naive vs tiled (FlashAttention 1/2) attention on a modelled HBM + SRAM, with exact I/O counts.",
            subcommands: [TileRun.self, TileSweep.self],
            defaultSubcommand: TileRun.self
        )
    }

    struct TileRun: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "run",
            abstract: "Run one algorithm through the memory model and report every element it moved.",
            discussion: """
                Every load HBM→SRAM and store SRAM→HBM is counted per tensor; SRAM occupancy is tracked; \
                O (and with --backward dQ, dK, dV) is checked against a float64 reference.

                Examples:
                  attnlab tile --algo fa1 --n 1024 --d 64 --sram 96KiB
                  attnlab tile --algo fa2 --n 256 --d 64 --sram-elements 8192 --causal --trace output/fa2.txt
                  attnlab tile --algo naive --n 512 --d 64 --backward --json
                """
        )

        @Option(help: "naive (Algorithm 0), fa1 (FlashAttention Algorithm 1) or fa2 (FlashAttention-2).")
        var algo: TileAlgorithm = .fa2

        @OptionGroup var flags: TileFlags

        @Flag(help: "Also run the backward pass (standard for naive, recomputing for fa1/fa2).")
        var backward = false

        @Option(parsing: .unconditional, help: "Query rows per block (Br).")
        var br: Int?

        @Option(parsing: .unconditional, help: "Key columns per block (Bc).")
        var bc: Int?

        @Flag(name: .customLong("fit-sram"), help: "Use the blocks with the least HBM traffic whose working set fits in M.")
        var fitSram = false

        @Option(name: .customLong("watch-row"), parsing: .unconditional, help: "Query row (of head 0) whose online softmax the trace follows. (default: N − 1)")
        var watchRow: Int?

        @Option(help: "Write the step-by-step trace to this file.")
        var trace: String?

        @Option(name: .customLong("trace-format"), help: "jsonl, text or chrome. (default: text for .txt, chrome for .chrome.json, else jsonl)")
        var traceFormat: String?

        @Flag(help: "Print the result as JSON.")
        var json = false

        /// Runs the simulation (recording steps when `record`) without printing or writing anything.
        func execute(record: Bool) throws -> TileResult {
            let problem = try flags.problem()
            var options = TileOptions(algorithm: algo, sramElements: try flags.sramElementCount())
            options.dtype = flags.dtype
            options.backward = backward
            options.fitSram = fitSram
            if br != nil || bc != nil {
                guard !fitSram else { throw ConfigError("--fit-sram", "chooses the blocks itself; drop --br/--bc") }
                let defaults = algo.defaultBlocks(R: problem.rows, C: problem.n, d: problem.d, sramElements: options.sramElements)
                options.blocks = BlockSizes(br: br ?? defaults.br, bc: bc ?? defaults.bc)
            }
            options.watchRow = watchRow ?? problem.n - 1
            options.recordSteps = record
            return try TiledAttention.run(problem, options)
        }

        /// What `--json` prints (and what a lesson's `tile` action gives).
        func result() throws -> JSON { TileTrace.summary(try execute(record: false)) }

        func run() throws {
            let format = try traceFormatName()
            if let trace {
                do { try AtomicFile.checkWritable(trace) } catch { throw ConfigError("--trace", error.description) }
            }
            let result = try execute(record: trace != nil)
            if let trace {
                switch format {
                case "text": try AtomicFile.write(TileTrace.text(result), to: trace)
                case "chrome": try AtomicFile.write(TileTrace.chrome(result), to: trace)
                default: try AtomicFile.write(TileTrace.jsonl(result), to: trace)
                }
            }
            say(json ? TileTrace.summary(result).serialized() : report(result))
            if let e = result.maxAbsError, !(e <= 1e-5) || (result.maxAbsGradError.map { !($0 <= 1e-4) } ?? false) {
                throw CheckFailure(description: "check: max |O − O_ref| = \(e), gradients \(result.maxAbsGradError.map { "\($0)" } ?? "—") exceed the tolerance (1e-5, 1e-4)")
            }
        }

        private func traceFormatName() throws(ConfigError) -> String {
            if let traceFormat {
                guard ["jsonl", "text", "chrome"].contains(traceFormat) else {
                    throw ConfigError("--trace-format", "unknown format '\(traceFormat)' (expected jsonl, text or chrome)")
                }
                guard trace != nil else { throw ConfigError("--trace-format", "needs --trace FILE") }
                return traceFormat
            }
            guard let trace else { return "jsonl" }
            if trace.hasSuffix(".txt") { return "text" }
            if trace.hasSuffix(".chrome.json") { return "chrome" }
            return "jsonl"
        }

        private func report(_ r: TileResult) -> String {
            let R = r.rows, Tr = (R + r.blocks.br - 1) / r.blocks.br, Tc = (r.n + r.blocks.bc - 1) / r.blocks.bc
            var out = "AttnLab tile — \(r.algorithm.rawValue): \(r.algorithm.title), N = \(r.n), d = \(r.d)"
            out += r.layout.qHeads > 1 ? ", \(r.layout.qHeads) query / \(r.layout.kvHeads) KV heads" : ""
            out += r.causal ? ", causal\n" : "\n"
            out += "SRAM       M = \(Format.grouped(r.sramElements)) elements (\(Format.binaryBytes(r.sramElements * r.dtype.bits / 8)) of \(r.dtype.rawValue))\n"
            let source = switch r.blockSource {
            case .default: "published: Bc = ⌈M/4d⌉, Br = min(Bc, d)\(r.algorithm == .naive ? "; naive: largest Br with Br·d + Bc·d + Br·Bc ≤ M" : "")"
            case .given: "--br/--bc"
            case .fit: "--fit-sram: least traffic that fits"
            }
            out += "blocks     \(r.blocks) (\(source)); Tr = \(Tr), Tc = \(Tc)\n"
            out += "peak SRAM  \(Format.grouped(r.peakSram)) elements"
            out += r.exceedsSram
                ? " = \(Format.fixed(Double(r.peakSram) / Double(r.sramElements), 2))× M: these blocks overshoot SRAM (--fit-sram picks blocks that fit)\n"
                : " (\(Format.percent(Double(r.peakSram) / Double(r.sramElements), 1)) of M)\n"
            out += "HBM        \(Format.grouped(r.hbmReads)) reads + \(Format.grouped(r.hbmWrites)) writes = \(Format.grouped(r.hbmAccesses)) elements = \(Format.bytes(r.hbmBytes)) (\(r.dtype.rawValue))\n"
            if let c = r.closedForm(.forward) {
                out += "closed form forward reads \(Format.grouped(c.reads)), writes \(Format.grouped(c.writes)) (docs/io-model.md) \(c.equalsCount ? "✓ equal to the count" : "✗ differs from the count")\n"
            }
            out += "\n"
            var rows: [[String]] = []
            for t in TileTensor.allCases {
                let fr = r.forward.reads(t), fw = r.forward.writes(t), br = r.backward?.reads(t) ?? 0, bw = r.backward?.writes(t) ?? 0
                guard fr + fw + br + bw > 0 else { continue }
                rows.append([t.description, Format.grouped(fr), Format.grouped(fw)] + (r.backward == nil ? [] : [Format.grouped(br), Format.grouped(bw)]))
            }
            let header = ["tensor", "fwd reads", "fwd writes"] + (r.backward == nil ? [] : ["bwd reads", "bwd writes"])
            out += Format.table(header, rows, rightAligned: Set(1..<header.count))
            let f = r.flops
            out += "\nFLOPs      \(Format.grouped(f.total)) (matmul \(Format.grouped(f.matmul)), exp \(Format.grouped(f.exp)), max \(Format.grouped(f.max)), div \(Format.grouped(f.div)), other \(Format.grouped(f.other)))\n"
            if let e = r.maxAbsError {
                out += "check      max |O − O_ref| = \(Format.scientific(e)) over \(r.checkedRows == r.n ? "all \(r.n)" : "\(r.checkedRows) sampled") rows per head (float64 reference)\n"
            }
            if r.backward != nil {
                out += "           max |grad − grad_ref| = \(r.maxAbsGradError.map { Format.scientific($0) } ?? "not checked (too large for the float64 reference)") over dQ, dK, dV\n"
            }
            if let w = r.watchRow, let m = r.watchTrueMax, let l = r.watchTrueSum, r.algorithm != .naive {
                out += "watch row  \(w): the online softmax ends at m = \(Format.fixed(m, 4)), l = \(Format.fixed(l, 4)) (the true row max and sum); --trace shows every step\n"
            }
            if let trace { out += "trace      \(trace)\n" }
            return out
        }
    }
}
