import ArgumentParser
import AttnExperiments
import AttnEngine
import AttnFigures
import AttnLessons
import AttnRender
import AttnTrace
import Foundation

extension AttnLab {
    struct LessonList: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "lessons", abstract: "List the lessons in lessons/ (id, title, steps).")

        @Option(help: "en or ja.")
        var lang: Language = .en

        @Flag(help: "Print JSON.")
        var json = false

        func run() throws {
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

        /// Every error of every file, one line each, then exit 2 if there was any.
        func run() throws {
            var bad = false
            for file in files {
                let (lesson, errors) = LessonRunner.check(file: file)
                for error in errors { AttnLab.printError("\(AttnLab.spelled(error.subject)): \(error.reason)") }
                guard let lesson else {
                    bad = true
                    continue
                }
                say("ok \(file): \(lesson.id), \(Format.plural(lesson.steps.count, "step")), \(Format.plural(lesson.steps.reduce(0) { $0 + $1.checks.count }, "check"))")
            }
            // The errors are printed: exit without the one-line message `AttnLab.main` prints for a thrown error.
            if bad { Interruption.exit(2) }
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
        var lang: Language = .en

        @Option(help: "Figure formats besides the SVG inlined in report.html: png, svg, pdf.")
        var formats = "png,svg"

        @Flag(inversion: .prefixedNo, help: "Step through in the terminal: narration, Enter, results. (default: on when stdin and stdout are a terminal)")
        var step: Bool?

        func run() throws {
            let formatSet = Set(formats.split(separator: ",").map(String.init))
            guard !formatSet.isEmpty, formatSet.isSubset(of: ["png", "svg", "pdf"]) else {
                throw ConfigError(.formats, "'\(formats)' (expected a list of png, svg, pdf)")
            }
            let files: [String]
            switch (lesson, all) {
            case (nil, false): throw ConfigError(.lesson, "give a lesson id or file, or --all")
            case (_?, true): throw ConfigError(.all, "give either a lesson or --all")
            case (let name?, false): files = [try LessonFiles.resolve(name)]
            case (nil, true): files = try LessonFiles.all()
            }
            guard !out.isEmpty else { throw ConfigError(.out, "is empty; give a folder") }
            // What killed runs left behind goes first; an interruption of this run removes its own.
            LessonOutput.removeDebris(in: out)
            let interactive = step ?? (isatty(STDIN_FILENO) != 0 && isatty(STDOUT_FILENO) != 0)
            let screen = interactive && StepThrough.wantsScreen
            // An interruption while stepping through leaves the step-through's screen too.
            Interruption.onInterrupt { [out] in
                if screen {
                    Keyboard.stop()
                    Terminal.leaveScreen()
                }
                LessonOutput.abandon(out)
            }
            let lessons = try files.map { try LessonLoader.load(file: $0) }
            if let duplicate = Dictionary(grouping: lessons, by: \.id).first(where: { $0.value.count > 1 }) {
                throw ConfigError(.all, "lesson id '\(duplicate.key)' is used by \(duplicate.value.map(\.file).joined(separator: " and ")); ids name output folders and must differ")
            }
            var failed: [String] = []
            var results: [LessonResult] = []
            // Stepping through talks to the user itself; a progress line would write over it.
            let progress = interactive ? nil : ProgressLine("run: lessons done", total: lessons.count)
            // A staged lesson goes into place, and its line is printed, in the order of the lessons.
            func finish(_ index: Int, _ staged: LessonOutput.Staged) throws {
                let result = try LessonOutput.commit(staged)
                let lesson = result.lesson, final = "\(out)/\(lesson.id)"
                let total = result.steps.reduce(0) { $0 + $1.checks.count }
                progress?.clear()
                say("\(result.passed ? "✓" : "✗") \(lesson.id): \(Format.plural(lesson.steps.count, "step")), \(total - result.failures.count)/\(total) checks → \(final)/report.html")
                for (step, check) in result.failures { say("    step \(step + 1): \(check.summary)") }
                // Each lesson's line as it completes, into a pipe too (where output is block-buffered).
                fflush(nil)
                if !result.passed { failed.append(lesson.id) }
                results.append(result)
                if index + 1 < lessons.count { progress?.update(index + 1) }
            }
            if interactive {
                for (index, lesson) in lessons.enumerated() {
                    // Stepping through writes each step's figure where the user will look for it.
                    try LessonOutput.makeFolder("\(out)/\(lesson.id)/figures")
                    try StepThrough(runner: LessonRunner(language: lang, folder: "\(out)/\(lesson.id)", formats: formatSet), lesson: lesson,
                                    colour: StepThrough.wantsColour, screen: screen).run()
                    try finish(index, try LessonOutput.stage(lesson, language: lang, formats: formatSet, out: out))
                }
            } else {
                // Lessons run on every core, each into its own staging folder; only this thread
                // moves them into place, so an error or an interruption leaves only whole lessons.
                try Workers.inOrder(lessons.count, job: { [lang, out] in try LessonOutput.stage(lessons[$0], language: lang, formats: formatSet, out: out) },
                                    take: finish, discard: LessonOutput.discard)
            }
            if all { try AtomicFile.write(Reports.index(results, language: lang), to: "\(out)/index.html") }
            if !failed.isEmpty { throw CheckFailure(description: "checks failed in \(failed.joined(separator: ", "))") }
        }
    }
}

extension Language: ExpressibleByArgument {}
