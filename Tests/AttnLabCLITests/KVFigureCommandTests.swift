import Foundation
import Testing

@Suite("draw kv-evict, kv-quant and paged from the command line")
struct KVFigureCommandTests {
    static let small = ["--layers", "3", "--q-heads", "4", "--kv-heads", "2", "--d-model", "64"]
    static let figures: [[String]] = [
        ["draw", "kv-evict", "--tokens", "14", "--evict", "h2o", "--kv-budget", "6"] + small,
        ["draw", "kv-evict", "--tokens", "14", "--evict", "sinks", "--kv-budget", "6", "--sinks", "2", "--layer", "0,2"] + small,
        ["draw", "kv-quant", "--tokens", "20", "--kv-quant", "int4", "--kv-group", "8"] + small,
        ["draw", "paged", "--page-tokens", "64", "--requests", "300,1000,700", "--context", "2048"] + small,
    ]

    @Test("PNG and SVG: byte-identical when drawn twice", arguments: figures)
    func deterministic(arguments: [String]) throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        for ext in ["png", "svg"] {
            var files: [Data] = []
            for name in ["a", "b"] {
                let path = dir.appendingPathComponent("\(name).\(ext)").path
                let run = try Run(arguments + ["-o", path])
                #expect(run.status == 0, "\(arguments): \(run.stderr)")
                files.append(try Data(contentsOf: URL(fileURLWithPath: path)))
            }
            #expect(files[0] == files[1] && !files[0].isEmpty, "\(arguments[1]).\(ext)")
        }
    }

    static let badInputs: [([String], String)] = [
        (["draw", "kv-evict", "--tokens", "4"] + small, "--evict"),
        (["draw", "kv-evict", "--tokens", "4", "--evict", "window", "--kv-budget", "2", "--layer", "9"] + small, "--layer"),
        (["draw", "kv-quant", "--tokens", "4"] + small, "--kv-quant"),
        (["draw", "kv-quant", "--tokens", "4", "--kv-quant", "int4", "--kv-group", "16"] + small, "--tokens"),
        (["draw", "kv-quant", "--tokens", "20", "--kv-quant", "int4", "--kv-group", "8", "--step", "99"] + small, "--step"),
        (["draw", "paged", "--requests", "300"] + small, "--page-tokens"),
        (["draw", "paged", "--page-tokens", "16", "--requests", "1,2,3,4,5,6,7,8,9"] + small, "--requests"),
    ]

    @Test("bad input: one line on stderr naming the flag, exit 2, nothing written", arguments: badInputs)
    func badInput(arguments: [String], flag: String) throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let output = dir.appendingPathComponent("figure.png").path
        let run = try Run(arguments + ["-o", output])
        #expect(run.status == 2, "\(arguments): status \(run.status), stderr \(run.stderr)")
        #expect(run.stderr.split(separator: "\n").count == 1 && run.stderr.hasPrefix("attnlab: error: "), "\(arguments): \(run.stderr)")
        #expect(run.stderr.contains(flag), "\(arguments): \(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: output))
    }
}
