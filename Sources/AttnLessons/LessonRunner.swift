import AttnEngine
import AttnExperiments
import AttnFigures
import AttnRender
import AttnTrace
import AttnViewer
import Foundation

/// Finds lessons: an id from `lessons/` or a path to a teacher's own file.
public enum LessonFiles {
    public static let folder = "lessons"

    /// Every lesson file in `lessons/`, sorted.
    public static func all() throws(ConfigError) -> [String] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else {
            throw ConfigError(.lesson, "no \(folder)/ folder in \(FileManager.default.currentDirectoryPath) (run from the repository root, or give a lesson file's path)")
        }
        return names.filter { $0.hasSuffix(".yaml") }.sorted().map { "\(folder)/\($0)" }
    }

    /// `02-gqa`, `02-gqa.yaml`, `lessons/02-gqa.yaml` or any path to a .yaml file.
    public static func resolve(_ name: String) throws(ConfigError) -> String {
        if FileManager.default.fileExists(atPath: name) { return name }
        for candidate in ["\(folder)/\(name)", "\(folder)/\(name).yaml"] where FileManager.default.fileExists(atPath: candidate) { return candidate }
        // Otherwise the lesson whose id it is, whatever its file is called.
        if let files = try? all(), let file = files.first(where: { (try? LessonLoader.load(file: $0))?.id == name }) { return file }
        let known = ((try? all()) ?? []).map { URL(fileURLWithPath: $0).deletingPathExtension().lastPathComponent }
        let near = known.sorted { editDistance($0, name) < editDistance($1, name) }.prefix(3)
        throw ConfigError(.lesson, "no lesson '\(name)'" + (near.isEmpty ? "" : "; did you mean \(near.joined(separator: ", "))?"))
    }
}

/// Runs a lesson's steps through the experiments layer: each step's action, its figure (drawn from
/// the same run when the figure shows the action's run), its narration and checks.
public struct LessonRunner {
    public let language: Language
    /// Where figures and traces go (`figures/`, `traces/`).
    public let folder: String
    /// Figure formats written besides the SVG that reports inline.
    public let formats: Set<String>

    public init(language: Language, folder: String, formats: Set<String>) {
        self.language = language
        self.folder = folder
        self.formats = formats
    }

    /// One step's results, its figure as SVG for inlining, and its slide.
    public struct StepOutput {
        public let result: StepResult
        public let svg: String?
        public let slide: Slides.StepSlide
    }

    public func run(_ lesson: Lesson) throws -> (LessonResult, svg: [String: String], slides: [Slides.StepSlide]) {
        var results: [StepResult] = []
        var svg: [String: String] = [:]
        var slides: [Slides.StepSlide] = []
        for step in lesson.steps {
            let out = try run(step, of: lesson)
            results.append(out.result)
            if let name = out.result.figure, let figureSVG = out.svg { svg[name] = figureSVG }
            slides.append(out.slide)
        }
        return (LessonResult(lesson: lesson, language: language, steps: results), svg, slides)
    }

    /// Runs one step: its action, its figure (written to `folder/figures`), its narration and checks.
    public func run(_ step: LessonStep, of lesson: Lesson) throws -> StepOutput {
        let field = "steps[\(step.index)]"
        let runs = Runs()
        var numbers: [String: Double] = [:], texts: [String: String] = [:], commands: [String] = [], traces: [String] = []
        var figureCall: FigureCall? = step.figure
        let stepName = "step-" + (step.index + 1 < 10 ? "0" : "") + String(step.index + 1)
        switch step.action {
        case .single(let call):
            let (json, files) = try values(call, lesson, "\(field).action.\(call.kind.rawValue)", traceName: stepName, runs: runs)
            (numbers, texts) = json.flattened()
            traces += files
            commands.append(call.commandLine)
        case .compare(let list):
            for (name, call) in list {
                let (json, files) = try values(call, lesson, "\(field).action.compare", traceName: "\(stepName)-\(name)", runs: runs)
                traces += files
                let (n, t) = json.flattened(prefix: name)
                numbers.merge(n) { a, _ in a }
                texts.merge(t) { a, _ in a }
                commands.append(call.commandLine)
            }
        case .draw(let call):
            figureCall = call
        }
        var figureName: String? = nil, figureSVG: String? = nil
        var slideFigure: Figure? = nil
        if let call = figureCall {
            let name = stepName
            let figure = try Self.figure(call, lesson, "\(field).\(step.figure == nil ? "action.draw" : "figure").\(call.kind.rawValue)", runs: runs, language: language)
            // The SVG is always kept: report.html inlines it and report.md can link it.
            for ext in ["png", "svg", "pdf"] where formats.contains(ext) || ext == "svg" {
                try Renderer.write(figure, to: "\(folder)/figures/\(name).\(ext)", subject: .lesson(file: lesson.file, line: step.line, path: field))
            }
            figureSVG = try String(contentsOfFile: "\(folder)/figures/\(name).svg", encoding: .utf8)
            commands.append(call.commandLine)
            figureName = name
            slideFigure = figure
        }
        // Every language is rendered, so a broken placeholder in the Japanese text fails an English run too.
        var narration = ""
        for lang in step.narration.byLanguage.keys.sorted() {
            do {
                let text = try Template.render(step.narration.byLanguage[lang]!, values: numbers, texts: texts)
                if lang == language.rawValue { narration = text }
            } catch {
                throw LessonError(file: lesson.file, line: step.line, field: "\(field).narration.\(lang)", reason: error.reason)
            }
        }
        if step.narration.byLanguage[language.rawValue] == nil {
            narration = (try? Template.render(step.narration.text(language), values: numbers, texts: texts)) ?? ""
        }
        var checks: [CheckResult] = []
        for (i, check) in step.checks.enumerated() {
            do {
                let (holds, left, right) = try check.expression.evaluate(numbers)
                checks.append(CheckResult(check: check, passed: holds, left: left, right: right))
            } catch {
                throw LessonError(file: lesson.file, line: check.line, field: "\(field).checks[\(i)]", reason: "\(quoted(check.text)): \(error.reason)")
            }
        }
        let result = StepResult(step: step, values: numbers, texts: texts, commandLines: commands, narration: narration,
                                checks: checks, figure: figureName, engineTraces: traces)
        let slide = result.slide(language, figure: slideFigure)
        return StepOutput(result: result, svg: figureSVG, slide: slide)
    }

    /// The values of a computing action; its engine trace, if it has one, is written to
    /// `traces/<name>.jsonl` and `.txt`, whose relative paths are returned.
    func values(_ call: ActionCall, _ lesson: Lesson, _ field: String, traceName: String, runs: Runs) throws -> (JSON, [String]) {
        let output: any ExperimentOutput
        do { output = try runs.output(of: try call.kind.experiment(call.flags)) } catch {
            throw LessonError(file: lesson.file, line: call.line, path: field, error)
        }
        guard let trace = output.trace else { return (output.json, []) }
        try LessonOutput.makeFolder("\(folder)/traces")
        try AtomicFile.write(trace.jsonl, to: "\(folder)/traces/\(traceName).jsonl")
        try AtomicFile.write(trace.text, to: "\(folder)/traces/\(traceName).txt")
        return (output.json, ["traces/\(traceName).jsonl", "traces/\(traceName).txt"])
    }

    static func figure(_ call: FigureCall, _ lesson: Lesson, _ field: String, runs: Runs, language: Language) throws -> Figure {
        var style = Style()
        style.language = language
        do { return try call.kind.figure(call.flags).draw(style, allPages: false, runs: runs) } catch {
            throw LessonError(file: lesson.file, line: call.line, path: field, error)
        }
    }

    /// Everything `attnlab check` finds in a lesson file without running the engine, in the order of
    /// the file: what the loader refuses, then, step by step, what each action and figure refuses for
    /// its flags and every value a check or placeholder names that the step's run will not have.
    public static func check(file: String) -> (lesson: Lesson?, errors: [LessonError]) {
        let reading = LessonLoader.read(file: file)
        let errors = reading.errors + reading.steps.flatMap { check($0, file: file) }
        return (errors.isEmpty ? reading.lesson : nil, errors.sorted { ($0.line ?? 0) < ($1.line ?? 0) })
    }

    /// One step's errors that need no engine run.
    static func check(_ step: LessonStep, file: String) -> [LessonError] {
        let field = "steps[\(step.index)]"
        var errors: [LessonError] = []
        var actions: [(ActionCall, String)] = [], figures: [(FigureCall, String)] = []
        let names: ValueNames
        switch step.action {
        case .single(let c):
            actions.append((c, "\(field).action.\(c.kind.rawValue)"))
            names = c.kind.valueNames
        case .compare(let list):
            actions += list.map { ($0.call, "\(field).action.compare") }
            names = list.map { $0.call.kind.valueNames.prefixed($0.name) }.reduce(ValueNames(numbers: [], texts: []), +)
        case .draw(let c):
            figures.append((c, "\(field).action.draw.\(c.kind.rawValue)"))
            names = ValueNames(numbers: [], texts: [])
        }
        if let f = step.figure { figures.append((f, "\(field).figure.\(f.kind.rawValue)")) }
        for (call, path) in actions {
            do { try call.kind.experiment(call.flags).validate() } catch {
                errors.append(LessonError(file: file, line: call.line, path: path, error))
            }
        }
        for (call, path) in figures {
            do { try call.kind.figure(call.flags).validate() } catch {
                errors.append(LessonError(file: file, line: call.line, path: path, error))
            }
        }
        // A value the run will not have fails the run after its work is done; name it now.
        func near(_ name: String) -> String {
            let last = name.split(separator: ".").last
            let near = names.numbers.filter { $0.split(separator: ".").last == last }.prefix(3)
            return near.isEmpty ? "" : " (did you mean \(near.joined(separator: ", "))?)"
        }
        for (lang, body) in step.narration.byLanguage.sorted(by: { $0.key < $1.key }) {
            for problem in Template.problems(body, kind: names.kind(of:)) {
                errors.append(LessonError(file: file, line: step.line, field: "\(field).narration.\(lang)", reason: "\(problem.reason) in this step's results"))
            }
        }
        for key in step.labels where names.kind(of: key.name) == nil {
            errors.append(LessonError(file: file, line: step.line, field: "\(field).labels.\(key.name)", reason: "unknown value \(quoted(key.name)) in this step's results\(near(key.name))"))
        }
        for (i, check) in step.checks.enumerated() {
            for name in check.expression.names where names.kind(of: name) != .number {
                let reason = names.kind(of: name) == .text ? "\(quoted(name)) is text; checks compare numbers" : "unknown value \(quoted(name)) in this step's results\(near(name))"
                errors.append(LessonError(file: file, line: check.line, field: "\(field).checks[\(i)]", reason: "\(quoted(check.text)): \(reason)"))
                break
            }
        }
        return errors
    }
}

/// Writes a lesson's whole output folder: report.md/html, traces, figures and slides.
///
/// Every run stages under its own process id (`.<id>.tmp-<pid>`) and renames the finished folder
/// into place, so runs into one output folder never see each other's half-written files: two at
/// once both succeed and the last to finish wins. What a killed run leaves behind is named after
/// its process, so the next run can tell it from a live run's and remove it (`removeDebris`).
public enum LessonOutput {
    /// Runs `lesson` into `out/<id>`. The run writes into a staging folder beside the final one and
    /// replaces it only when everything is written: a failed run leaves the previous output as it was.
    /// An `out/<id>` that is not a folder (a file, a link, a device) is refused, never replaced.
    public static func write(_ lesson: Lesson, language: Language, formats: Set<String>, out: String) throws -> LessonResult {
        try commit(try stage(lesson, language: language, formats: formats, out: out))
    }

    /// A lesson run whose every file is written in its staging folder, not yet in place.
    public struct Staged: Sendable {
        public let result: LessonResult
        /// `out/<id>`, where `commit` puts it.
        let final: String
        let folder: String
        let aside: String
    }

    /// The first half of `write`: runs `lesson` into its staging folder (removed again on failure).
    /// Lessons stage in parallel (each has its own folder); `commit` or `discard` each result.
    public static func stage(_ lesson: Lesson, language: Language, formats: Set<String>, out: String) throws -> Staged {
        let final = "\(out)/\(lesson.id)"
        var existing = stat()
        if lstat(final, &existing) == 0 && existing.st_mode & S_IFMT != S_IFDIR {
            throw ConfigError(.out, "\(final) is there and is not a folder; move it away or choose another --out")
        }
        let folder = "\(out)/.\(lesson.id).tmp-\(getpid())"
        try? FileManager.default.removeItem(atPath: folder)
        try makeFolder("\(folder)/figures")
        do {
            let runner = LessonRunner(language: language, folder: folder, formats: formats)
            let (result, svg, slides) = try runner.run(lesson)
            try AtomicFile.write(Reports.markdown(result, figureExtension: formats.contains("png") ? "png" : "svg"), to: "\(folder)/report.md")
            try AtomicFile.write(Reports.html(result, svg: svg, players: try tracePlayers(result, folder: folder)), to: "\(folder)/report.html")
            try AtomicFile.write(Reports.trace(result), to: "\(folder)/trace.jsonl")
            try AtomicFile.write(Reports.traceText(result), to: "\(folder)/trace.txt")
            var style = Style()
            style.language = language
            let (title, summary) = (lesson.title.text(language), LineBreaking.unfolded(lesson.summary.text(language)))
            try Renderer.write(Slides.deck(id: lesson.id, title: title, summary: summary, steps: slides, style: style), to: "\(folder)/slides.pdf", subject: .fields([.out]))
            try Renderer.write(Slides.notes(id: lesson.id, title: title, summary: summary, steps: slides, style: style), to: "\(folder)/notes.pdf", subject: .fields([.out]))
            return Staged(result: result, final: final, folder: folder, aside: "\(out)/.\(lesson.id).old-\(getpid())")
        } catch {
            try? FileManager.default.removeItem(atPath: folder)
            throw naming(final, for: folder, in: error)
        }
    }

    /// The second half of `write`: moves a staged lesson into place and returns its result. Under
    /// `lock`, as `abandon` sets its flag: an interruption never removes a lesson half moved, and
    /// after it none is moved.
    public static func commit(_ staged: Staged) throws -> LessonResult {
        do {
            lock.lock()
            defer { lock.unlock() }
            guard !abandoned else { throw ConfigError(.out, "the run was interrupted") }
            try replace(staged.final, with: staged.folder, aside: staged.aside)
        } catch {
            try? FileManager.default.removeItem(atPath: staged.folder)
            throw naming(staged.final, for: staged.folder, in: error)
        }
        return staged.result
    }

    /// The trace player of every step that wrote engine traces (`traces/*.jsonl`), by step index: one
    /// player, or several side by side for a `compare`, each sampled to `TracePlayer.Limit.report`.
    static func tracePlayers(_ result: LessonResult, folder: String) throws -> [Int: String] {
        var players: [Int: String] = [:]
        for s in result.steps {
            let files = s.engineTraces.filter { $0.hasSuffix(".jsonl") }
            guard !files.isEmpty else { continue }
            let traces = try files.map { file in
                try PlayerTrace(name: file, bytes: [UInt8](try Data(contentsOf: URL(fileURLWithPath: "\(folder)/\(file)"))))
            }
            let step = "step-" + (s.step.index + 1 < 10 ? "0" : "") + String(s.step.index + 1)
            let summary = switch (result.language, files.count) {
            case (.en, 1): "Step through this run (\(files[0]))"
            case (.en, let n): "Step through these \(n) runs side by side"
            case (.ja, 1): "この実行を1ステップずつ見る（\(files[0])）"
            case (.ja, let n): "この\(n)つの実行を並べて1ステップずつ見る"
            }
            players[s.step.index] = TracePlayer.embedded(traces, id: "player-" + step, summary: summary, language: result.language)
        }
        return players
    }

    /// Removes a staged lesson that will not be put in place.
    public static func discard(_ staged: Staged) {
        try? FileManager.default.removeItem(atPath: staged.folder)
    }

    /// `error` told with the path the user will look for: the staging folder's name is ours, the
    /// lesson's output folder is theirs.
    static func naming(_ final: String, for staging: String, in error: any Error) -> any Error {
        guard let e = error as? any AttnLabError else { return error }
        var subject = e.subject
        if case .file(let path) = subject { subject = .file(path.replacing(staging, with: final)) }
        let reason = e.reason.replacing(staging, with: final)
        return subject == e.subject && reason == e.reason ? error : ConfigError(subject, reason)
    }

    /// Renames `staging` to `final`. A previous `final` is first renamed to `aside` and removed there,
    /// so that no one ever sees it half-removed; when another run puts its own `final` in place in
    /// between, the rename is tried again (the last run to finish wins).
    static func replace(_ final: String, with staging: String, aside: String) throws(ConfigError) {
        for _ in 0..<100 {
            if rename(staging, final) == 0 { return }
            // Linux says ENOTEMPTY for a folder in the way, other systems EEXIST; ENOTDIR for a file.
            guard [ENOTEMPTY, EEXIST, ENOTDIR].contains(errno) else { break }
            try? FileManager.default.removeItem(atPath: aside)
            if rename(final, aside) == 0 { try? FileManager.default.removeItem(atPath: aside) }
        }
        throw ConfigError(.out, "cannot move the lesson's output into \(final) (\(String(cString: strerror(errno))))")
    }

    /// Set by `abandon`, under `lock`: no folder is created after it.
    nonisolated(unsafe) private static var abandoned = false
    private static let lock = NSLock()

    /// Stops this run writing (a folder being created or a lesson being moved into place is
    /// finished first, none is created or moved after) and removes what it has staged in `out`:
    /// called when the run is interrupted, from another thread.
    /// Without the stop, the run could create its staging folder again just after it was removed.
    public static func abandon(_ out: String) {
        lock.lock()
        abandoned = true
        lock.unlock()
        removeDebris(in: out, of: getpid())
    }

    /// Removes from `out` the staging folders and temporary files (`.NAME.tmp-PID`, `.NAME.old-PID`)
    /// of runs that were killed: those of process `pid`, or with nil, of every process that no longer
    /// exists. A running process's files are never touched, so concurrent runs stay safe.
    public static func removeDebris(in out: String, of pid: pid_t? = nil) {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: out)) ?? [] {
            guard let owner = debrisOwner(name) else { continue }
            let dead = kill(owner, 0) == -1 && errno == ESRCH
            guard pid.map({ $0 == owner }) ?? dead else { continue }
            // A run still writing into the folder (a lesson on another thread) can refill it while
            // it is removed: try again. Once it is gone, nothing is written there: the folder is
            // not created again after `abandon`.
            for _ in 0..<100 where FileManager.default.fileExists(atPath: "\(out)/\(name)") {
                try? FileManager.default.removeItem(atPath: "\(out)/\(name)")
            }
        }
    }

    /// The process id in a staging or temporary name (`.02-gqa.tmp-4711` → 4711), nil for other names.
    static func debrisOwner(_ name: String) -> pid_t? {
        guard name.hasPrefix("."), let dash = name.lastIndex(of: "-"), let pid = pid_t(name[name.index(after: dash)...]), pid > 0 else { return nil }
        let stem = name[..<dash]
        return stem.hasSuffix(".tmp") || stem.hasSuffix(".old") ? pid : nil
    }

    /// Creates a folder (and its parents), refusing a file where the output folder should be.
    public static func makeFolder(_ path: String) throws(ConfigError) {
        lock.lock()
        defer { lock.unlock() }
        guard !abandoned else { throw ConfigError(.out, "the run was interrupted") }
        var isDirectory: ObjCBool = false
        let parent = URL(fileURLWithPath: path).deletingLastPathComponent().deletingLastPathComponent().path
        if FileManager.default.fileExists(atPath: parent, isDirectory: &isDirectory), !isDirectory.boolValue {
            throw ConfigError(.out, "\(parent) is a file, not a folder")
        }
        do { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) } catch {
            throw ConfigError(.out, "cannot create \(path) (\(error.localizedDescription))")
        }
    }
}
