import Foundation
import Testing

@Suite("draw: repeated flags, several models, --lang")
struct DrawFlagTests {
    static let kinds = ["heads", "layers", "tiles", "cache", "attention", "kv-chart", "io-chart", "tradeoff", "loss-curve", "kv-evict", "kv-quant", "paged"]

    @Test("every draw kind refuses a flag given twice, in one line naming it, before writing anything", arguments: kinds)
    func repeated(kind: String) throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let output = dir.appendingPathComponent("figure.png").path
        for (arguments, flag) in [(["--theme", "dark", "--theme", "light"], "--theme"), (["-o", output, "--output"], "-o"),
                                  (["--lang=ja", "--lang", "en"], "--lang")] {
            let run = try Run(["draw", kind] + arguments + ["-o", output].suffix(arguments.contains("--output") ? 1 : 2))
            #expect(run.status == 2, "\(kind) \(arguments): status \(run.status), \(run.stderr)")
            #expect(run.stderr.split(separator: "\n").count == 1 && run.stderr.hasPrefix("attnlab: error: \(flag): "), "\(kind): \(run.stderr)")
            #expect(!FileManager.default.fileExists(atPath: output))
        }
    }

    @Test("kv-chart honours --preset once per model (one chart with both); another kind refuses a second --preset")
    func severalModels() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let both = dir.appendingPathComponent("both.svg").path
        let run = try Run(["draw", "kv-chart", "--preset", "llama-2-7b", "--preset", "llama-3-8b", "-o", both])
        #expect(run.status == 0, "\(run.stderr)")
        let svg = try String(contentsOfFile: both, encoding: .utf8)
        #expect(!svg.isEmpty)
        let heads = try Run(["draw", "heads", "--preset", "llama-2-7b", "--preset", "llama-3-8b", "-o", dir.appendingPathComponent("h.png").path])
        #expect(heads.status == 2 && heads.stderr.hasPrefix("attnlab: error: --preset: "), "\(heads.stderr)")
    }

    @Test("--lang ja draws, and the same figure in en and ja differ")
    func language() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        var files: [Data] = []
        for lang in ["en", "ja"] {
            let path = dir.appendingPathComponent("\(lang).png").path
            let run = try Run(["draw", "tradeoff", "--lang", lang, "-o", path])
            #expect(run.status == 0, "\(run.stderr)")
            files.append(try Data(contentsOf: URL(fileURLWithPath: path)))
        }
        #expect(files[0] != files[1])
        let bad = try Run(["draw", "tradeoff", "--lang", "fr", "-o", dir.appendingPathComponent("fr.png").path])
        #expect(bad.status == 2 && bad.stderr.contains("--lang"), "\(bad.stderr)")
    }
}
