import ArgumentParser
import AttnEngine
import AttnExperiments
import AttnTiling
import AttnTrace

extension AttnLab {
    struct TileSweep: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "sweep",
            abstract: "Run naive, fa1 and fa2 over a range of SRAM sizes, sequence lengths or block sizes, and fit the scaling laws.",
            discussion: """
                --over sram   HBM accesses vs M at fixed N: Θ(Nd + N²) for naive, Θ(N²d²/M) for FlashAttention
                              (while Br = min(⌈M/4d⌉, d) is below d, i.e. M ≤ 4d²).
                --over n      HBM accesses vs N at fixed M: all three grow as N².
                --over bc     HBM accesses vs the block size Bc (Br = min(Bc, d), M = the working set), the
                              shape of FlashAttention Figure 2 (middle).
                The exponent printed for each algorithm is the least-squares slope of log(accesses) on log(value).

                Example:
                  attnlab tile sweep --over sram --n 1024 --d 64 --values 2048,4096,8192,16384
                """
        )

        @Option(help: "What to vary: sram, n or bc.")
        var over: SweepAxis = .sram

        @Option(parsing: .unconditional, help: "Comma-separated values. (default: sram 2048,4096,8192,16384; n 256,512,1024,2048; bc 16,32,64,128,256)")
        var values: String?

        @OptionGroup var flags: TileFlags

        @Flag(help: "Include the backward pass in the counts.")
        var backward = false

        @Option(help: "table, csv or json.")
        var format: OutputFormat = .table

        func run() throws {
            let output = try experiment.run()
            switch format {
            case .csv: print(csv(output.rows), terminator: "")
            case .json: say(output.json.serialized())
            case .table: say(table(output.rows, output.exponents))
            }
        }

        enum OutputFormat: String, CaseIterable, ExpressibleByArgument { case table, csv, json }

        var experiment: SweepExperiment {
            get throws {
                var e = SweepExperiment()
                (e.axis, e.tile, e.backward) = (over, flags.spec, backward)
                e.values = try values.map { text throws(ConfigError) in try parseList(text, field: .values, minimum: 2) }
                return e
            }
        }

        private var theory: [TileAlgorithm: String] {
            switch over {
            case .n: [.naive: "2 (Θ(Nd + N²))", .fa1: "2 (Θ(N²d²/M))", .fa2: "2 (Θ(N²d²/M))"]
            case .bc: [.naive: "— (no blocks of its own)", .fa1: "−1 (reads ∝ Tc = N/Bc)", .fa2: "−1 while Br = Bc ≤ d"]
            case .sram: [.naive: "0 (Θ(Nd + N²); only its matmul rereads shrink)", .fa1: "−1 (Θ(N²d²/M))", .fa2: "−1 while M ≤ 4d², then 0"]
            }
        }

        private func table(_ rows: [SweepPoint], _ exponents: [(algorithm: TileAlgorithm, exponent: Double)]) -> String {
            let label = [SweepAxis.sram: "M", .n: "N", .bc: "Bc"][over]!
            let cells = rows.map { row -> [String] in
                let r = row.result
                return [Format.grouped(row.value), r.algorithm.rawValue, String(r.blocks.br), String(r.blocks.bc)]
                    + (over == .sram ? [] : [Format.grouped(r.sramElements)])
                    + [Format.grouped(r.hbmReads), Format.grouped(r.hbmWrites), Format.grouped(r.hbmAccesses),
                        Format.grouped(r.peakSram) + (r.exceedsSram ? " ▲" : ""), Format.grouped(r.flops.total)]
            }
            var out = "HBM accesses (elements) of N = \(over == .n ? "…" : String(flags.spec.sequenceLength)), d = \(flags.d)\(flags.causal ? ", causal" : "")\(backward ? ", forward + backward" : ", forward")\n\n"
            let header = [label, "algo", "Br", "Bc"] + (over == .sram ? [] : ["M"]) + ["reads", "writes", "accesses", "peak SRAM", "FLOPs"]
            out += Format.table(header, cells, rightAligned: Set([0] + Array(2..<header.count)))
            out += "\n▲ = the published blocks' working set exceeds M.\n\nobserved exponent of accesses in \(label):\n"
            for (algo, e) in exponents {
                out += "  \(algo.rawValue.padding(toLength: 6, withPad: " ", startingAt: 0)) \(Format.fixed(e, 2))   theory \(theory[algo]!)\n"
            }
            return out
        }

        private func csv(_ rows: [SweepPoint]) -> String {
            var out = "\(over.rawValue),algo,block_rows,block_cols,sram_elements,hbm_reads,hbm_writes,hbm_accesses,peak_sram,flops\n"
            for row in rows {
                let r = row.result
                out += "\(row.value),\(r.algorithm.rawValue),\(r.blocks.br),\(r.blocks.bc),\(r.sramElements),\(r.hbmReads),\(r.hbmWrites),\(r.hbmAccesses),\(r.peakSram),\(r.flops.total)\n"
            }
            return out
        }
    }
}
