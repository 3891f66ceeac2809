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
        @OptionGroup var data: TrainDataFlags
        @Option(parsing: .unconditional, help: "Peak learning rate of every run.")
        var lr = 3e-3
        @Option(help: "Folder for the table, figures and report. (default: output/study-NAME)")
        var out: String?
        @Flag(help: "Print the result as JSON.")
        var json = false

        var experiment: StudyExperiment {
            var e = StudyExperiment()
            e.name = study
            e.seeds = seeds
            (e.text.steps, e.text.batch, e.text.seq, e.text.optimizer.lr) = (data.steps, data.batch, data.seq, lr)
            (e.text.corpus, e.text.tokenizer, e.text.dataDir, e.text.evalTokens) = (data.corpus, data.tokenizer, data.dataDir, data.evalTokens)
            (e.recall.steps, e.recall.batch, e.recall.optimizer.lr) = (max(1, data.steps / 2), data.batch, lr)
            return e
        }

        func run() throws {
            let e = experiment
            try e.validate()
            let folder = out ?? "output/study-\(study.rawValue)"
            let output = try e.run()
            var style = Style()
            style.theme = .light
            let figures = [("tradeoff", try output.tradeoffFigure(style: style)), ("loss", try output.lossFigure(style: style))]
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            var svg: [String: String] = [:]
            for (name, figure) in figures {
                try Renderer.write(figure, to: "\(folder)/\(name).png", subject: .fields([.out]))
                try Renderer.write(figure, to: "\(folder)/\(name).svg", subject: .fields([.out]))
                svg[name] = try String(contentsOfFile: "\(folder)/\(name).svg", encoding: .utf8)
            }
            try AtomicFile.write(output.json.serialized() + "\n", to: "\(folder)/results.json")
            try AtomicFile.write(StudyReport.markdown(output), to: "\(folder)/report.md")
            try AtomicFile.write(StudyReport.html(output, svg: svg), to: "\(folder)/report.html")
            if json { return say(output.json.serialized()) }
            say("AttnLab study \(study.rawValue) — \(Format.plural(seeds, "seed")), \(Format.grouped(e.text.steps * e.text.batch * e.text.seq)) tokens of \(e.text.corpus) per run\n")
            say(output.markdownTable + "\n")
            say(StudyReport.findings(output).map { "- " + $0 }.joined(separator: "\n") + "\n")
            say("wrote \(folder)/report.html, report.md, tradeoff.png, loss.png, results.json")
        }
    }
}
