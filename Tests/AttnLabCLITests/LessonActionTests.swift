import Foundation
import Testing

@Suite("lesson actions: ppl and retrofit, as the CLI runs them")
struct LessonActionTests {
    @Test("a lesson's ppl and retrofit values equal what the CLI prints for the command line its report shows")
    func pplAndRetrofit() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let text = dir.appendingPathComponent("text.txt").path
        try "the cat sat on the mat. the dog sat on the log. a cache keeps keys and values.\n".write(toFile: text, atomically: true, encoding: .utf8)
        let lesson = """
            id: actions
            title: {en: Actions}
            steps:
              - title: {en: "Perplexity of random weights, and of two retrofits"}
                narration: {en: "{{ base.perplexity | fixed2 }}, ×{{ r.variants.1.perplexity_vs_original | fixed2 }}"}
                action:
                  compare:
                    - {name: base, ppl: {layers: 2, kv-heads: 2, text: \(text), eval-window: 16}}
                    - {name: r, retrofit: {layers: 2, kv-heads: 2, text: \(text), eval-window: 16, to: "mqa cla:2"}}
                checks:
                  - base.perplexity == r.variants.0.perplexity
                  - r.variants.1.kv_bytes_per_token * 2 == r.variants.0.kv_bytes_per_token
            """
        let file = dir.appendingPathComponent("actions.yaml").path
        try lesson.write(toFile: file, atomically: true, encoding: .utf8)
        let run = try Run(["run", file, "--no-step", "--out", dir.appendingPathComponent("out").path])
        #expect(run.status == 0, "\(run.stderr)")
        let report = try String(contentsOf: dir.appendingPathComponent("out/actions/report.md"), encoding: .utf8)
        // Each command line the report shows runs as it stands and gives the values the lesson quoted.
        let lines = report.split(separator: "\n").filter { $0.hasPrefix("attnlab ppl") || $0.hasPrefix("attnlab retrofit") }
        #expect(lines.count == 2)
        for line in lines {
            let words: [String] = String(line.dropFirst("attnlab ".count)).replacing("\"mqa cla:2\"", with: "mqa\u{0}cla:2")
                .split(separator: " ").map { String($0).replacing("\u{0}", with: " ") }
            let cli = try Run(words + ["--json"])
            #expect(cli.status == 0, "\(line): \(cli.stderr)")
            let json = try cli.json()
            if line.hasPrefix("attnlab ppl") {
                #expect(report.contains(String(format: "%.2f", json["perplexity"] as! Double)))
            } else {
                let variants = try #require(json["variants"] as? [[String: Any]])
                #expect(variants.map { $0["name"] as? String } == ["original", "mqa", "cla:2"])
                #expect(report.contains("×" + String(format: "%.2f", variants[1]["perplexity_vs_original"] as! Double)))
            }
        }
    }
}

@Suite("contradictions the hardening pass found late")
struct LateContradictionTests {
    @Test("tile sweep --over n refuses an --n it would ignore")
    func sweepOverNRefusesN() throws {
        let run = try Run(["tile", "sweep", "--over", "n", "--n", "512", "--values", "256,512"])
        #expect(run.status == 2 && run.stderr == "attnlab: error: --n: N is what --over n varies; give the lengths with --values\n", "\(run.stderr)")
        #expect(try Run(["tile", "sweep", "--over", "n", "--values", "256,512"]).status == 0)
    }
}
