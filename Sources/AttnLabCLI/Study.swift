import ArgumentParser
import AttnEngine
import AttnExperiments
import AttnFigures
import AttnLessons
import AttnRender
import AttnTrace
import Foundation

extension StudyName: ExpressibleByArgument {}

extension AttnLab {
    struct Study: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Train a named design space with several seeds at equal tokens; write its table, trade-off figure and report.",
            discussion: """
                cla-mini: the CLA paper's Table 1 in miniature; albert-mini: shared vs unshared weights;
                uptrain-mini: MHA pooled to GQA/MQA or cut to CLA2, then 0/5/10 % more steps, vs scratch.

                Example:
                  attnlab study cla-mini --seeds 2
                """)

        @Argument(help: "The study: \(StudyName.allCases.map(\.rawValue).joined(separator: ", ")).")
        var study: StudyName
        @Option(parsing: .unconditional, help: "Seeds per variant (mean ± sample standard deviation over them).")
        var seeds = 2
        @Option(help: "Training text: python-docs or a path to a UTF-8 text file.")
        var corpus = "python-docs"
        @Option(help: "bytes or bpe:N. (default: bpe:1024)")
        var tokenizer: String?
        @Option(name: .customLong("data-dir"), help: "Folder of corpora and token caches. (default: $ATTNLAB_DATA_DIR, else data)")
        var dataDir: String?
        @Option(parsing: .unconditional, help: "Steps of each corpus run (the recall runs take the same share as by default). (default: 400)")
        var steps: Int?
        @Option(parsing: .unconditional, help: "Sequences per batch. (default: 16)")
        var batch: Int?
        @Option(parsing: .unconditional, help: "Tokens per corpus sequence. (default: 128)")
        var seq: Int?
        @Option(name: .customLong("eval-tokens"), parsing: .unconditional, help: "Validation tokens per evaluation. (default: 8,192)")
        var evalTokens: Int?
        @Option(parsing: .unconditional, help: "Peak learning rate of every run. (default: 3e-3)")
        var lr: Double?
        @Option(help: "Folder for the table, figures and report. (default: output/study-NAME)")
        var out: String?
        @Flag(help: "Print the result as JSON.")
        var json = false

        /// The same experiment a lesson's `study:` map builds, by the same reader.
        func experiment() throws -> StudyExperiment {
            var flags: [(Field, String?)] = [(.study, study.rawValue), (.seeds, String(seeds)), (.corpus, corpus), (.tokenizer, tokenizer),
                                             (.dataDir, dataDir), (.steps, steps.map(String.init)), (.batch, batch.map(String.init)),
                                             (.seq, seq.map(String.init)), (.evalTokens, evalTokens.map(String.init)), (.lr, lr.map { "\($0)" })]
            flags.removeAll { $0.1 == nil }
            return try FlagReader.read(Flags(flags.map { Flags.Flag($0.0.flagName, $0.1) })) { r throws(ConfigError) in try StudyExperiment(&r) }
        }

        func run() throws {
            let e = try experiment()
            try e.validate()
            let folder = out ?? "output/study-\(study.rawValue)"
            // Checked before the hour of training, not after it.
            do { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) } catch {
                throw ConfigError(.out, "cannot create \(folder): \(error.localizedDescription)")
            }
            do { try AtomicFile.checkWritable(folder + "/results.json") } catch { throw ConfigError(.out, error.reason) }
            let output = try e.run()
            var style = Style()
            style.theme = .light
            var figures = [("tradeoff", try output.tradeoffFigure(style: style)), ("loss", try output.lossFigure(style: style))]
            // The published design space the miniature scales down, beside it.
            if study == .claMini { figures.append(("paper", try TradeoffFigure().draw(style, allPages: false, runs: Runs()))) }
            var svg: [String: String] = [:]
            for (name, figure) in figures {
                try Renderer.write(figure, to: "\(folder)/\(name).png", subject: .fields([.out]))
                try Renderer.write(figure, to: "\(folder)/\(name).svg", subject: .fields([.out]))
                svg[name] = try String(contentsOfFile: "\(folder)/\(name).svg", encoding: .utf8)
            }
            try AtomicFile.write(output.json.serialized() + "\n", to: "\(folder)/results.json")
            try AtomicFile.write(StudyReport.markdown(output), to: "\(folder)/report.md")
            try AtomicFile.write(StudyReport.html(output, svg: svg), to: "\(folder)/report.html")
            if json { return say(output.jsonWithTiming.serialized()) }
            say("AttnLab study \(study.rawValue) — \(Format.plural(seeds, "seed")), \(Format.grouped(e.text.steps * e.text.batch * e.text.seq)) tokens of \(e.text.corpus) per run\n")
            say(output.markdownTable(speed: true) + "\n")
            say(StudyReport.findings(output).map { "- " + $0 }.joined(separator: "\n") + "\n")
            say("wrote \(folder)/report.html, report.md, tradeoff.png, loss.png, results.json")
        }
    }
}
