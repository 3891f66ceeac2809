import ArgumentParser
import AttnEngine
import AttnFigures
import AttnLessons
import AttnRender
import AttnTrace
import Foundation

/// Finds lessons: an id from `lessons/` or a path to a teacher's own file.
enum LessonFiles {
    static let folder = "lessons"

    static func all() throws(ConfigError) -> [String] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else {
            throw ConfigError("lessons", "no \(folder)/ folder in \(FileManager.default.currentDirectoryPath) (run from the repository root, or give a lesson file's path)")
        }
        return names.filter { $0.hasSuffix(".yaml") }.sorted().map { "\(folder)/\($0)" }
    }

    /// `02-gqa`, `02-gqa.yaml`, `lessons/02-gqa.yaml` or any path to a .yaml file.
    static func resolve(_ name: String) throws(ConfigError) -> String {
        if FileManager.default.fileExists(atPath: name) { return name }
        for candidate in ["\(folder)/\(name)", "\(folder)/\(name).yaml"] where FileManager.default.fileExists(atPath: candidate) { return candidate }
        // Otherwise the lesson whose id it is, whatever its file is called.
        if let files = try? all(), let file = files.first(where: { (try? LessonLoader.load(file: $0))?.id == name }) { return file }
        let known = ((try? all()) ?? []).map { URL(fileURLWithPath: $0).deletingPathExtension().lastPathComponent }
        let near = known.sorted { editDistance($0, name) < editDistance($1, name) }.prefix(3)
        throw ConfigError("LESSON", "no lesson '\(name)'" + (near.isEmpty ? "" : "; did you mean \(near.joined(separator: ", "))?"))
    }
}

/// Runs a lesson's actions through the same commands as the CLI.
struct LessonRunner {
    let language: String
    let folder: String
    let formats: Set<String>

    func run(_ lesson: Lesson) throws -> (LessonResult, svg: [String: String], slides: [Slides.StepSlide]) {
        var results: [StepResult] = []
        var svg: [String: String] = [:]
        var slides: [Slides.StepSlide] = []
        for step in lesson.steps {
            let (result, figureSVG, slide) = try run(step, of: lesson)
            results.append(result)
            if let name = result.figure, let figureSVG { svg[name] = figureSVG }
            slides.append(slide)
        }
        return (LessonResult(lesson: lesson, language: language, steps: results), svg, slides)
    }

    /// Runs one step: its action, its figure (written to `folder/figures`), its narration and checks.
    func run(_ step: LessonStep, of lesson: Lesson) throws -> (StepResult, svg: String?, slide: Slides.StepSlide) {
        let field = "steps[\(step.index)]"
        var numbers: [String: Double] = [:], texts: [String: String] = [:], commands: [String] = [], traces: [String] = []
        var drawCall: ActionCall? = step.figure
        let stepName = "step-" + (step.index + 1 < 10 ? "0" : "") + String(step.index + 1)
        switch step.action {
        case .single(let call):
            let (json, files) = try values(call, lesson, "\(field).action.\(call.command)", traceName: stepName)
            (numbers, texts) = json.flattened()
            traces += files
            commands.append(call.commandLine(draw: false))
        case .compare(let runs):
            for (name, call) in runs {
                let (json, files) = try values(call, lesson, "\(field).action.compare", traceName: "\(stepName)-\(name)")
                traces += files
                let (n, t) = json.flattened(prefix: name)
                numbers.merge(n) { a, _ in a }
                texts.merge(t) { a, _ in a }
                commands.append(call.commandLine(draw: false))
            }
        case .draw(let call):
            drawCall = call
        }
        var figureName: String? = nil, figureSVG: String? = nil
        var slideFigure: (Page, Double, Double)? = nil
        if let call = drawCall {
            let name = stepName
            let figure = try Self.figure(call, lesson, "\(field).\(step.figure == nil ? "action.draw" : "figure").\(call.command)",
                                         folder: "\(folder)/figures", name: name)
            // The SVG is always kept: report.html inlines it and report.md can link it.
            for ext in ["png", "svg", "pdf"] where formats.contains(ext) || ext == "svg" {
                try Renderer.write(figure, to: "\(folder)/figures/\(name).\(ext)", field: "\(lesson.file): \(field)")
            }
            // Each inlined figure gets its own ids: the glyphs of one must not draw another's text.
            figureSVG = Renderer.svgForInlining(try String(contentsOfFile: "\(folder)/figures/\(name).svg", encoding: .utf8), prefix: name + "-")
            commands.append(call.commandLine(draw: true))
            figureName = name
            slideFigure = (figure.pages[0], figure.width, figure.height)
        }
        // Every language is rendered, so a broken placeholder in the Japanese text fails an English run too.
        var narration = ""
        for lang in step.narration.byLanguage.keys.sorted() {
            do {
                let text = try Template.render(step.narration.byLanguage[lang]!, values: numbers, texts: texts)
                if lang == language { narration = text }
            } catch {
                throw LessonError(file: lesson.file, line: step.line, field: "\(field).narration.\(lang)", reason: error.reason)
            }
        }
        if step.narration.byLanguage[language] == nil {
            narration = (try? Template.render(step.narration.text(language), values: numbers, texts: texts)) ?? ""
        }
        var checks: [CheckResult] = []
        for check in step.checks {
            do {
                let (holds, left, right) = try check.expression.evaluate(numbers)
                checks.append(CheckResult(check: check, passed: holds, left: left, right: right))
            } catch {
                throw LessonError(file: lesson.file, line: check.line, field: "\(field).checks", reason: "'\(check.text)': \(error.reason)")
            }
        }
        let result = StepResult(step: step, values: numbers, texts: texts, commandLines: commands, narration: narration,
                                checks: checks, figure: figureName, engineTraces: traces)
        let slide = Slides.StepSlide(title: step.title.text(language), figure: slideFigure?.0,
                                     figureSize: (slideFigure?.1 ?? 1600, slideFigure?.2 ?? 900),
                                     lines: result.keyValues.prefix(8).map { "\($0.name) = \($0.value)" } + checks.map(\.summary))
        return (result, figureSVG, slide)
    }

    /// The --json result of a computing action.
    /// The --json result of a computing action; its engine trace, if it has one, is written to
    /// `traces/<name>.jsonl` and `.txt`, whose relative paths are returned.
    func values(_ call: ActionCall, _ lesson: Lesson, _ field: String, traceName: String) throws -> (JSON, [String]) {
        let traced: (json: JSON, trace: (jsonl: [UInt8], text: String)?)
        do { traced = try Self.resultCommand(call).tracedResult() } catch {
            throw LessonError(file: lesson.file, line: call.line, field: field, reason: Self.describe(error))
        }
        guard let trace = traced.trace else { return (traced.json, []) }
        try AttnLab.Run.makeFolder("\(folder)/traces")
        try AtomicFile.write(trace.jsonl, to: "\(folder)/traces/\(traceName).jsonl")
        try AtomicFile.write(trace.text, to: "\(folder)/traces/\(traceName).txt")
        return (traced.json, ["traces/\(traceName).jsonl", "traces/\(traceName).txt"])
    }

    static func figure(_ call: ActionCall, _ lesson: Lesson, _ field: String, folder: String, name: String) throws -> Figure {
        do { return try figureCommand(call, output: "\(folder)/\(name).png").makeFigure() } catch {
            throw LessonError(file: lesson.file, line: call.line, field: field, reason: describe(error))
        }
    }

    /// The command a computing action names, parsed from its flags.
    static func resultCommand(_ call: ActionCall) throws -> any ResultCommand {
        switch call.command {
        case "kv": try AttnLab.KV.parse(call.arguments)
        case "params": try AttnLab.Params.parse(call.arguments)
        case "decode": try AttnLab.Decode.parse(call.arguments)
        case "tile": try AttnLab.TileRun.parse(call.arguments)
        default: try AttnLab.TileSweep.parse(call.arguments)
        }
    }

    /// The `draw` verb a figure names, parsed from its flags with `-o output`.
    static func figureCommand(_ call: ActionCall, output: String) throws -> any FigureCommand {
        let args = call.arguments + ["-o", output]
        return switch call.command {
        case "heads": try AttnLab.DrawHeads.parse(args)
        case "layers": try AttnLab.DrawLayers.parse(args)
        case "tiles": try AttnLab.DrawTiles.parse(args)
        case "cache": try AttnLab.DrawCache.parse(args)
        case "attention": try AttnLab.DrawAttention.parse(args)
        case "kv-chart": try AttnLab.DrawKVChart.parse(args)
        case "io-chart": try AttnLab.DrawIOChart.parse(args)
        default: try AttnLab.DrawTradeoff.parse(args)
        }
    }

    /// One line for any error a command can throw.
    static func describe(_ error: Error) -> String {
        if error is ConfigError || error is FigureError || error is RenderError { return "\(error)" }
        return AttnLab.message(for: error).split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }.joined(separator: " ")
    }

    /// Every action parses (flags known, values valid, calculator configurations sound) — what
    /// `attnlab check` adds to the file checks, without running the engine.
    static func dryParse(_ lesson: Lesson) throws {
        for step in lesson.steps {
            var calls: [(ActionCall, Bool, String)] = []
            switch step.action {
            case .single(let c): calls.append((c, false, "steps[\(step.index)].action.\(c.command)"))
            case .compare(let runs): calls += runs.map { ($0.call, false, "steps[\(step.index)].action.compare") }
            case .draw(let c): calls.append((c, true, "steps[\(step.index)].action.draw.\(c.command)"))
            }
            if let f = step.figure { calls.append((f, true, "steps[\(step.index)].figure.\(f.command)")) }
            for (call, draw, field) in calls {
                do {
                    if draw { _ = try figureCommand(call, output: "x.png") } else { try resultCommand(call).validateCheaply() }
                } catch {
                    throw LessonError(file: lesson.file, line: call.line, field: field, reason: describe(error))
                }
            }
        }
    }
}

/// A command whose `--json` output a lesson step can use as its values.
protocol ResultCommand: ParsableCommand {
    func result() throws -> JSON
    /// The result and, for commands that trace, the engine trace of the same run (JSONL, text).
    func tracedResult() throws -> (json: JSON, trace: (jsonl: [UInt8], text: String)?)
    /// Checks what can be checked without running the engine.
    func validateCheaply() throws
}

extension ResultCommand {
    func tracedResult() throws -> (json: JSON, trace: (jsonl: [UInt8], text: String)?) { (try result(), nil) }
}

extension AttnLab.KV: ResultCommand {
    func validateCheaply() throws { _ = try result() }
}

extension AttnLab.Params: ResultCommand {
    func validateCheaply() throws { _ = try result() }
}

extension AttnLab.Decode: ResultCommand {
    func validateCheaply() throws { _ = try model.decoderConfig() }

    func tracedResult() throws -> (json: JSON, trace: (jsonl: [UInt8], text: String)?) {
        let run = try execute()
        return (DecodeTrace.summary(run), (DecodeTrace.jsonl(run), DecodeTrace.text(run)))
    }
}

extension AttnLab.TileRun: ResultCommand {
    func validateCheaply() throws { _ = try flags.sramElementCount() }

    func tracedResult() throws -> (json: JSON, trace: (jsonl: [UInt8], text: String)?) {
        let result = try execute(record: true)
        return (TileTrace.summary(result), (TileTrace.jsonl(result), TileTrace.text(result)))
    }
}

extension AttnLab.TileSweep: ResultCommand {
    func validateCheaply() throws {}
}

extension AttnLab {
    struct LessonList: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "lessons", abstract: "List the lessons in lessons/ (id, title, steps).")

        @Option(help: "en or ja.")
        var lang = "en"

        @Flag(help: "Print JSON.")
        var json = false

        func run() throws {
            guard ["en", "ja"].contains(lang) else { throw ConfigError("--lang", "unknown language '\(lang)' (expected en or ja)") }
            let lessons = try LessonFiles.all().map { try LessonLoader.load(file: $0) }
            if json {
                say(JSON.array(lessons.map { .object([("id", .string($0.id)), ("title", .string($0.title.text(lang))), ("steps", .int($0.steps.count))]) }).serialized())
                return
            }
            print(Format.table(["id", "title", "steps"], lessons.map { [$0.id, $0.title.text(lang), String($0.steps.count)] }, rightAligned: [2]), terminator: "")
        }
    }

    struct LessonCheckCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "check", abstract: "Validate lesson files without running them: fields, actions, flags and checks.",
            discussion: "Example: attnlab check lessons/*.yaml")

        @Argument(help: "Lesson files.")
        var files: [String]

        func run() throws {
            var bad = 0
            for file in files {
                do {
                    let lesson = try LessonLoader.load(file: file)
                    try LessonRunner.dryParse(lesson)
                    say("ok \(file): \(lesson.id), \(Format.plural(lesson.steps.count, "step")), \(Format.plural(lesson.steps.reduce(0) { $0 + $1.checks.count }, "check"))")
                } catch {
                    bad += 1
                    if files.count == 1 { throw error }
                    AttnLab.printError("\(error)")
                }
            }
            if bad > 0 { throw ExitCode(2) }
        }
    }

    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a lesson (or all of them) and write its report, figures and trace to output/<lesson-id>/.",
            discussion: """
                Each step runs its action on the real engine, draws its figure and evaluates its checks; \
                a failed check is marked ✗ in the report and makes the run exit 1.

                Examples:
                  attnlab run 02-gqa
                  attnlab run --all --lang ja
                  attnlab run my-lesson.yaml --out /tmp/class
                """)

        @Argument(help: "A lesson id from lessons/ or the path of a lesson file.")
        var lesson: String?

        @Flag(help: "Run every lesson in lessons/.")
        var all = false

        @Option(help: "Output folder (one sub-folder per lesson).")
        var out = "output"

        @Option(help: "en or ja.")
        var lang = "en"

        @Option(help: "Figure formats besides the SVG inlined in report.html: png, svg, pdf.")
        var formats = "png,svg"

        @Flag(inversion: .prefixedNo, help: "Step through in the terminal: narration, Enter, results. (default: on when stdin and stdout are a terminal)")
        var step: Bool?

        func run() throws {
            guard ["en", "ja"].contains(lang) else { throw ConfigError("--lang", "unknown language '\(lang)' (expected en or ja)") }
            let formatSet = Set(formats.split(separator: ",").map(String.init))
            guard !formatSet.isEmpty, formatSet.isSubset(of: ["png", "svg", "pdf"]) else {
                throw ConfigError("--formats", "'\(formats)' (expected a list of png, svg, pdf)")
            }
            let files: [String]
            switch (lesson, all) {
            case (nil, false): throw ConfigError("LESSON", "give a lesson id or file, or --all")
            case (_?, true): throw ConfigError("--all", "give either a lesson or --all")
            case (let name?, false): files = [try LessonFiles.resolve(name)]
            case (nil, true): files = try LessonFiles.all()
            }
            guard !out.isEmpty else { throw ConfigError("--out", "is empty; give a folder") }
            let lessons = try files.map { try LessonLoader.load(file: $0) }
            if let duplicate = Dictionary(grouping: lessons, by: \.id).first(where: { $0.value.count > 1 }) {
                throw ConfigError("--all", "lesson id '\(duplicate.key)' is used by \(duplicate.value.map(\.file).joined(separator: " and ")); ids name output folders and must differ")
            }
            var failed: [String] = []
            var results: [LessonResult] = []
            let interactive = step ?? (isatty(STDIN_FILENO) != 0 && isatty(STDOUT_FILENO) != 0)
            for lesson in lessons {
                let final = "\(out)/\(lesson.id)"
                if interactive {
                    // Stepping through writes each step's figure where the user will look for it.
                    try Self.makeFolder("\(final)/figures")
                    try StepThrough(runner: LessonRunner(language: lang, folder: final, formats: formatSet), lesson: lesson,
                                    colour: StepThrough.wantsColour).run()
                }
                // The run writes into a temporary folder beside the final one and replaces it only
                // when everything is written: a failed run leaves the previous output as it was.
                let folder = "\(out)/.\(lesson.id).tmp-\(getpid())"
                try? FileManager.default.removeItem(atPath: folder)
                try Self.makeFolder("\(folder)/figures")
                defer { try? FileManager.default.removeItem(atPath: folder) }
                let runner = LessonRunner(language: lang, folder: folder, formats: formatSet)
                let (result, svg, slides) = try runner.run(lesson)
                try AtomicFile.write(Reports.markdown(result, figureExtension: formatSet.contains("png") ? "png" : "svg"), to: "\(folder)/report.md")
                try AtomicFile.write(Reports.html(result, svg: svg), to: "\(folder)/report.html")
                try AtomicFile.write(Reports.trace(result), to: "\(folder)/trace.jsonl")
                try AtomicFile.write(Reports.traceText(result), to: "\(folder)/trace.txt")
                try Renderer.write(Slides.deck(title: lesson.title.text(lang), summary: lesson.summary.text(lang), steps: slides, style: Style()),
                                   to: "\(folder)/slides.pdf")
                try? FileManager.default.removeItem(atPath: final)
                guard rename(folder, final) == 0 else { throw ConfigError("--out", "cannot move the lesson's output into \(final)") }
                let total = result.steps.reduce(0) { $0 + $1.checks.count }
                say("\(result.passed ? "✓" : "✗") \(lesson.id): \(Format.plural(lesson.steps.count, "step")), \(total - result.failures.count)/\(total) checks → \(final)/report.html")
                for (step, check) in result.failures { say("    step \(step + 1): \(check.summary)") }
                if !result.passed { failed.append(lesson.id) }
                results.append(result)
            }
            if all { try AtomicFile.write(Reports.index(results, language: lang), to: "\(out)/index.html") }
            if !failed.isEmpty { throw CheckFailure(description: "checks failed in \(failed.joined(separator: ", "))") }
        }

        static func makeFolder(_ path: String) throws {
            var isDirectory: ObjCBool = false
            let parent = URL(fileURLWithPath: path).deletingLastPathComponent().deletingLastPathComponent().path
            if FileManager.default.fileExists(atPath: parent, isDirectory: &isDirectory), !isDirectory.boolValue {
                throw ConfigError("--out", "\(parent) is a file, not a folder")
            }
            do { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) } catch {
                throw ConfigError("--out", "cannot create \(path) (\(error.localizedDescription))")
            }
        }
    }
}
