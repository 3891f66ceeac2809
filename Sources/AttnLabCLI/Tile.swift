import ArgumentParser
import AttnEngine
import AttnExperiments
import AttnTiling
import AttnTrace
import Foundation

/// The flags that describe one simulated attention problem and memory.
struct TileFlags: ParsableArguments {
    @Option(parsing: .unconditional, help: "Sequence length N (query and key positions). (default: 256)")
    var n: Int?

    @Option(parsing: .unconditional, help: "Head dimension d.")
    var d = 64

    @Option(name: .customLong("sram-elements"), parsing: .unconditional, help: "SRAM capacity M in elements.")
    var sramElements: Int?

    @Option(parsing: .unconditional, help: "SRAM capacity as a size, e.g. 96KiB or 192KB (elements = size / --dtype size).")
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

    /// The same flags as the experiments layer reads them.
    var spec: TileSpec {
        var t = TileSpec()
        (t.n, t.d, t.sramElements, t.sram, t.dtype, t.causal, t.qHeads, t.kvHeads, t.seed) = (n, d, sramElements, sram, dtype, causal, qHeads, kvHeads, seed)
        return t
    }
}

extension TileAlgorithm: ExpressibleByArgument {}
extension SweepAxis: ExpressibleByArgument {}
extension TraceFormat: ExpressibleByArgument {}

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
                  attnlab tile --algo fa1 --n 1024 --d 64 --q-heads 16 --batch 64 --dtype fp16 --sram 192KB --backward
                    (GPT-2 medium as in FlashAttention's Figure 2: forward + backward HBM bytes)
                """
        )

        @Option(help: "naive (Algorithm 0), fa1 (FlashAttention Algorithm 1) or fa2 (FlashAttention-2).")
        var algo: TileAlgorithm = .fa2

        @OptionGroup var flags: TileFlags

        @Flag(help: "Also run the backward pass (standard for naive, recomputing for fa1/fa2).")
        var backward = false

        @Option(parsing: .unconditional, help: "Independent copies of the problem (batch size): one is simulated and checked, the counts are for all. (default: 1)")
        var batch = 1

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
        var traceFormat: TraceFormat?

        @Flag(help: "Print the result as JSON.")
        var json = false

        var experiment: TileExperiment {
            var e = TileExperiment()
            (e.algorithm, e.tile, e.backward, e.batch, e.br, e.bc, e.fitSram, e.watchRow) = (algo, flags.spec, backward, batch, br, bc, fitSram, watchRow)
            e.recordSteps = trace != nil
            return e
        }

        func run() throws {
            if traceFormat != nil && trace == nil { throw ConfigError(.traceFormat, "needs --trace FILE") }
            if let trace {
                do { try AtomicFile.checkWritable(trace) } catch { throw ConfigError(.trace, error.description) }
            }
            let output = try experiment.run()
            let result = output.result
            if let trace {
                switch traceFormat ?? TraceFormat.implied(by: trace) {
                case .text: try AtomicFile.write(TileTrace.text(result), to: trace)
                case .chrome: try AtomicFile.write(TileTrace.chrome(result), to: trace)
                case .jsonl: try AtomicFile.write(TileTrace.jsonl(result), to: trace)
                }
            }
            say(json ? output.json.serialized() : report(result))
            if !output.checked {
                let t = TileExperiment.tolerance
                throw CheckFailure(description: "check: max |O − O_ref| = \(result.maxAbsError.map { "\($0)" } ?? "—"), gradients \(result.maxAbsGradError.map { "\($0)" } ?? "—") exceed the tolerance (\(t.output), \(t.gradients))")
            }
        }

        private func report(_ r: TileResult) -> String {
            let R = r.rows, Tr = (R + r.blocks.br - 1) / r.blocks.br, Tc = (r.n + r.blocks.bc - 1) / r.blocks.bc
            var out = "AttnLab tile — \(r.algorithm.rawValue): \(r.algorithm.title), N = \(r.n), d = \(r.d)"
            out += r.layout.qHeads > 1 ? ", \(r.layout.qHeads) query / \(r.layout.kvHeads) KV heads" : ""
            out += r.batch > 1 ? ", batch \(r.batch) (one simulated; counts for all)" : ""
            out += r.causal ? ", causal\n" : "\n"
            out += "SRAM       M = \(Format.grouped(r.sramElements)) elements (\(Format.bytes(r.sramElements * r.dtype.bits / 8, units: .binary)) of \(r.dtype.rawValue))\n"
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
