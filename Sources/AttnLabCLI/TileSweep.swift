import ArgumentParser
import AttnEngine
import AttnTiling
import AttnTrace
import Foundation

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
        var over = "sram"

        @Option(help: "Comma-separated values. (default: sram 2048,4096,8192,16384; n 256,512,1024,2048; bc 16,32,64,128,256)")
        var values: String?

        @OptionGroup var flags: TileFlags

        @Flag(help: "Include the backward pass in the counts.")
        var backward = false

        @Option(help: "table, csv or json.")
        var format = "table"

        struct Row {
            let value: Int
            let result: TileResult
        }

        func run() throws {
            guard ["sram", "n", "bc"].contains(over) else { throw ConfigError("--over", "unknown '\(over)' (expected sram, n or bc)") }
            guard ["table", "csv", "json"].contains(format) else { throw ConfigError("--format", "unknown '\(format)' (expected table, csv or json)") }
            let list = try parseValues()
            var rows: [Row] = []
            for value in list {
                for algo in TileAlgorithm.allCases {
                    rows.append(Row(value: value, result: try runOne(algo, value)))
                }
            }
            let exponents = TileAlgorithm.allCases.map { algo in
                (algo, slope(rows.filter { $0.result.algorithm == algo }.map { (Double($0.value), Double($0.result.hbmAccesses)) }))
            }
            switch format {
            case "csv": print(csv(rows), terminator: "")
            case "json": say(json(rows, exponents).serialized())
            default: say(table(rows, exponents))
            }
        }

        private func parseValues() throws(ConfigError) -> [Int] {
            guard let values else {
                switch over {
                case "n": return [256, 512, 1024, 2048]
                case "bc": return [16, 32, 64, 128, 256]
                default: return [2048, 4096, 8192, 16384]
                }
            }
            var list: [Int] = []
            for part in values.split(separator: ",") {
                guard let v = Int(part.filter { $0 != " " }), v > 0 else { throw ConfigError("--values", "'\(part)' is not a positive integer") }
                list.append(v)
            }
            guard list.count >= 2 else { throw ConfigError("--values", "a sweep needs at least two values") }
            return list
        }

        private func runOne(_ algo: TileAlgorithm, _ value: Int) throws -> TileResult {
            let n = over == "n" ? value : flags.n
            let problem = try TileProblem(n: n, d: flags.d, qHeads: flags.qHeads, kvHeads: flags.kvHeads ?? flags.qHeads,
                                          causal: flags.causal, seed: flags.seed)
            var M = over == "sram" ? value : try flags.sramElementCount()
            var blocks: BlockSizes? = nil
            if over == "bc" {
                let b = BlockSizes(br: min(value, flags.d, problem.rows), bc: min(value, problem.n))
                // The smallest SRAM that holds FlashAttention's working set at these blocks.
                M = [TileAlgorithm.fa1, .fa2].map { a in
                    max(IOModel.peakSram(a, backward: false, R: problem.rows, C: problem.n, d: flags.d, blocks: b, sramElements: 0),
                        backward ? IOModel.peakSram(a, backward: true, R: problem.rows, C: problem.n, d: flags.d, blocks: b, sramElements: 0) : 0)
                }.max()!
                if algo != .naive { blocks = b }
            }
            var options = TileOptions(algorithm: algo, sramElements: M)
            options.blocks = blocks
            options.backward = backward
            options.dtype = flags.dtype
            options.check = false
            return try TiledAttention.run(problem, options)
        }

        /// Least-squares slope of log y on log x.
        private func slope(_ points: [(Double, Double)]) -> Double {
            let xs = points.map { Foundation.log($0.0) }, ys = points.map { Foundation.log($0.1) }
            let mx = xs.reduce(0, +) / Double(xs.count), my = ys.reduce(0, +) / Double(ys.count)
            let sxy = zip(xs, ys).reduce(0.0) { $0 + ($1.0 - mx) * ($1.1 - my) }
            let sxx = xs.reduce(0.0) { $0 + ($1 - mx) * ($1 - mx) }
            return sxy / sxx
        }

        private var theory: [TileAlgorithm: String] {
            switch over {
            case "n": [.naive: "2 (Θ(Nd + N²))", .fa1: "2 (Θ(N²d²/M))", .fa2: "2 (Θ(N²d²/M))"]
            case "bc": [.naive: "— (no blocks of its own)", .fa1: "−1 (reads ∝ Tc = N/Bc)", .fa2: "−1 while Br = Bc ≤ d"]
            default: [.naive: "0 (Θ(Nd + N²); only its matmul rereads shrink)", .fa1: "−1 (Θ(N²d²/M))", .fa2: "−1 while M ≤ 4d², then 0"]
            }
        }

        private func table(_ rows: [Row], _ exponents: [(TileAlgorithm, Double)]) -> String {
            let label = ["sram": "M", "n": "N", "bc": "Bc"][over]!
            let cells = rows.map { row -> [String] in
                let r = row.result
                return [Format.grouped(row.value), r.algorithm.rawValue, String(r.blocks.br), String(r.blocks.bc)]
                    + (over == "sram" ? [] : [Format.grouped(r.sramElements)])
                    + [Format.grouped(r.hbmReads), Format.grouped(r.hbmWrites), Format.grouped(r.hbmAccesses),
                        Format.grouped(r.peakSram) + (r.exceedsSram ? " ▲" : ""), Format.grouped(r.flops.total)]
            }
            var out = "HBM accesses (elements) of N = \(over == "n" ? "…" : String(flags.n)), d = \(flags.d)\(flags.causal ? ", causal" : "")\(backward ? ", forward + backward" : ", forward")\n\n"
            let header = [label, "algo", "Br", "Bc"] + (over == "sram" ? [] : ["M"]) + ["reads", "writes", "accesses", "peak SRAM", "FLOPs"]
            out += Format.table(header, cells, rightAligned: Set([0] + Array(2..<header.count)))
            out += "\n▲ = the published blocks' working set exceeds M.\n\nobserved exponent of accesses in \(label):\n"
            for (algo, e) in exponents {
                out += "  \(algo.rawValue.padding(toLength: 6, withPad: " ", startingAt: 0)) \(Format.fixed(e, 2))   theory \(theory[algo]!)\n"
            }
            return out
        }

        private func csv(_ rows: [Row]) -> String {
            var out = "\(over),algo,block_rows,block_cols,sram_elements,hbm_reads,hbm_writes,hbm_accesses,peak_sram,flops\n"
            for row in rows {
                let r = row.result
                out += "\(row.value),\(r.algorithm.rawValue),\(r.blocks.br),\(r.blocks.bc),\(r.sramElements),\(r.hbmReads),\(r.hbmWrites),\(r.hbmAccesses),\(r.peakSram),\(r.flops.total)\n"
            }
            return out
        }

        private func json(_ rows: [Row], _ exponents: [(TileAlgorithm, Double)]) -> JSON {
            .object([
                ("over", .string(over)), ("n", .int(flags.n)), ("d", .int(flags.d)), ("causal", .bool(flags.causal)), ("backward", .bool(backward)),
                ("rows", .array(rows.map { row in
                    let r = row.result
                    return .object([("value", .int(row.value)), ("algo", .string(r.algorithm.rawValue)), ("block_rows", .int(r.blocks.br)),
                                    ("block_cols", .int(r.blocks.bc)), ("sram_elements", .int(r.sramElements)), ("hbm_reads", .int(r.hbmReads)),
                                    ("hbm_writes", .int(r.hbmWrites)), ("hbm_accesses", .int(r.hbmAccesses)), ("peak_sram", .int(r.peakSram)),
                                    ("flops", .int(r.flops.total))])
                })),
                ("exponents", .object(exponents.map { ($0.0.rawValue, .double(($0.1 * 1000).rounded() / 1000)) })),
            ])
        }
    }
}
