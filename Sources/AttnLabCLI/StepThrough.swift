import AttnLessons
import AttnTrace
import Foundation

/// `attnlab run --step`: a lesson in the terminal, one screen per step, for a presenter. A step's
/// screen shows its narration (Markdown rendered, reflowed to the terminal's width) with ▢ where its
/// numbers will stand; Enter runs the step and redraws the same screen with the numbers in place,
/// the step's text picture and its checks. Then Enter/n next, b back, g N go to step N, r re-run,
/// c compact view, q quit (each followed by Enter), listed in the footer.
///
/// On a terminal that can clear its screen each step is drawn on a cleared alternate screen, fitted
/// to the terminal's rows (the least important parts go first). Otherwise the screens follow one
/// another as plain text, the narration only once it has its numbers.
struct StepThrough {
    let runner: LessonRunner
    let lesson: Lesson
    /// ANSI attributes and colour: see `wantsColour`.
    let colour: Bool
    /// Full-screen drawing: see `wantsScreen`.
    let screen: Bool

    /// Colour only on a terminal that understands it: TERM set and not `dumb`, and no NO_COLOR
    /// (https://no-color.org).
    static var wantsColour: Bool { wantsColour(environment: ProcessInfo.processInfo.environment, terminal: isatty(STDOUT_FILENO) != 0) }

    static func wantsColour(environment: [String: String], terminal: Bool) -> Bool {
        wantsScreen(environment: environment, terminal: terminal) && environment["NO_COLOR"] == nil
    }

    /// A cleared screen per step on a terminal that can clear one: TERM set and not `dumb`
    /// (NO_COLOR turns off colour, not screen control).
    static var wantsScreen: Bool { wantsScreen(environment: ProcessInfo.processInfo.environment, terminal: isatty(STDOUT_FILENO) != 0) }

    static func wantsScreen(environment: [String: String], terminal: Bool) -> Bool {
        guard terminal, let term = environment["TERM"], !term.isEmpty, term != "dumb" else { return false }
        return true
    }

    private var language: Language { runner.language }
    private func bold(_ s: String) -> String { colour ? "\u{1B}[1m\(s)\u{1B}[0m" : s }
    private func dim(_ s: String) -> String { colour ? "\u{1B}[2m\(s)\u{1B}[0m" : s }
    private func mark(_ ok: Bool, _ s: String) -> String { colour ? "\u{1B}[\(ok ? 32 : 31)m\(s)\u{1B}[0m" : s }

    /// What a reply asks for.
    enum Command: Equatable {
        case next, back, go(Int), rerun, compact, quit
        case unknown(String)

        /// `steps`: the lesson's number of steps, for `g N` (N counts from 1; `go` holds the index).
        init(_ reply: String, steps: Int) {
            switch reply {
            case "", "n": self = .next
            case "b": self = .back
            case "r": self = .rerun
            case "c": self = .compact
            case "q": self = .quit
            default:
                if reply.hasPrefix("g"), let n = Int(reply.dropFirst().trimmingCharacters(in: .whitespaces)), n >= 1, n <= steps {
                    self = .go(n - 1)
                } else {
                    self = .unknown(reply)
                }
            }
        }
    }

    func run() throws {
        if screen { Terminal.enterScreen() }
        defer { if screen { Terminal.leaveScreen() } }
        var index = 0, compact = false
        var result: StepResult? = nil, note: String? = nil
        while index < lesson.steps.count {
            draw(index, result, compact: compact, note: note)
            note = nil
            // End of input quits.
            let reply = readLine()?.trimmingCharacters(in: .whitespaces).lowercased() ?? "q"
            switch Command(reply, steps: lesson.steps.count) {
            case .next where result != nil: (index, result) = (index + 1, nil)
            case .next, .rerun: result = try runner.run(lesson.steps[index], of: lesson).result
            case .back: (index, result) = (max(0, index - 1), nil)
            case .go(let n): (index, result) = (n, nil)
            case .compact: compact.toggle()
            case .quit: return
            case .unknown(let r):
                note = language.pick("'\(r)'? g N takes a step number from 1 to \(lesson.steps.count).",
                                     "「\(r)」?g Nのステップ番号は1から\(lesson.steps.count)まで。")
            }
        }
        if !screen { print(dim(language.pick("End of the lesson.", "レッスンはここまで。"))) }
    }

    /// Draws step `index`'s screen: before it runs (`result` nil) or after.
    private func draw(_ index: Int, _ result: StepResult?, compact: Bool, note: String?) {
        let size = Terminal.size
        let width = max(20, size.columns)
        // Header, then the body, then the footer and the prompt line.
        let rows = screen ? max(4, size.rows - 3) : Int.max
        let body = self.body(index, result, compact: compact, width: width, rows: rows)
        var keys = result == nil
            ? language.pick("Enter run · b back · g N go to step N · ", "Enter 実行 · b 前へ · g N ステップNへ · ")
            : language.pick("Enter next · b back · g N go to step N · r re-run · ", "Enter 次へ · b 前へ · g N ステップNへ · r 再実行 · ")
        keys += compact ? language.pick("c full view · q quit", "c 詳細表示 · q 終了") : language.pick("c compact · q quit", "c 簡易表示 · q 終了")
        let footer = note.map { Self.clip($0, width) } ?? dim(Self.clip(keys, width))
        let header = self.header(index, width: width)
        if screen {
            let padding = Array(repeating: "", count: max(0, rows - body.count))
            Terminal.write(Terminal.clear + ([header] + body + padding + [footer]).joined(separator: "\n") + "\n> ")
        } else {
            print(([header] + body + [footer]).joined(separator: "\n"))
            print("> ", terminator: "")
            fflush(nil)  // the prompt has no newline; flush it before waiting
        }
    }

    /// "━━ Step 2/4 · Title ━━━━━━ Lesson title ━━" across the width.
    private func header(_ index: Int, width: Int) -> String {
        let step = lesson.steps[index]
        let left = Self.clip("━━ " + language.pick("Step", "ステップ") + " \(index + 1)/\(lesson.steps.count) · \(step.title.text(language)) ", width)
        let right = " " + lesson.title.text(language) + " ━━"
        let room = width - Markdown.columns(left)
        guard room > 0 else { return bold(left) }
        let fill = Markdown.columns(right) + 3 <= room ? String(repeating: "━", count: room - Markdown.columns(right)) + right : String(repeating: "━", count: room)
        return bold(left) + dim(fill)
    }

    /// The lines under the header, at most `rows` of them: with everything when they fit, else
    /// without the commands, then with the checks in one line, then without the picture.
    private func body(_ index: Int, _ result: StepResult?, compact: Bool, width: Int, rows: Int) -> [String] {
        let style: Markdown.TerminalStyle = colour ? .ansi : .plain
        // The lesson's summary opens its first step.
        let summary = index == 0 && !lesson.summary.text(language).isEmpty
            ? [""] + Markdown(lesson.summary.text(language)).terminalLines(width: width, style: style).map(dim) : []
        guard let r = result else {
            let hint = dim(Self.clip(language.pick("Enter runs the step: its numbers appear in place of ▢.",
                                                   "Enterでステップを実行すると、▢の所に数値が入る。"), width))
            // Without a screen to redraw, the narration is shown once, with its numbers.
            guard screen else { return summary + ["", hint] }
            let narration = summary + [""] + Markdown(Self.placeholders(lesson.steps[index].narration.text(language))).terminalLines(width: width, style: style)
            return Self.fit([narration, [hint]], rows: rows, width: width)
        }
        let narration = summary + [""] + Markdown(r.narration).terminalLines(width: width, style: style)
        let checks = r.checks.map { mark($0.passed, Self.clip(checkLine($0), width)) }
        let failed = r.checks.filter { !$0.passed }
        let checksInOneLine = failed.isEmpty
            ? (r.checks.isEmpty ? [] : [mark(true, language.pick("✓ all \(r.checks.count) checks hold", "✓ \(r.checks.count)件の検査がすべて成立"))])
            : [mark(false, language.pick("✗ \(failed.count) of \(r.checks.count) checks failed", "✗ \(r.checks.count)件中\(failed.count)件の検査が不成立"))]
                + failed.map { mark(false, Self.clip(checkLine($0), width)) }
        let picture = StepPictures.lines(r, folder: runner.folder, width: width, maxRows: rows - narration.count - checksInOneLine.count - 2,
                                         language: language)
        let commands = r.commandLines.map { dim(Self.clip("$ \($0)", width)) }
            + (r.figure.map { [dim(Self.clip(language.pick("figure: ", "図: ") + "\(runner.folder)/figures/\($0).png", width))] } ?? [])
        if compact { return Self.fit([narration, checksInOneLine], rows: rows, width: width) }
        for sections in [[narration, picture, checks, commands], [narration, picture, checks], [narration, picture, checksInOneLine]] {
            let lines = Self.joined(sections)
            if lines.count <= rows { return lines }
        }
        return Self.fit([narration, checksInOneLine], rows: rows, width: width)
    }

    /// A check as the step-through shows it, in the lesson's language.
    private func checkLine(_ c: CheckResult) -> String {
        guard !c.passed else { return "✓ \(c.check.text)" }
        let (l, r) = c.shownSides
        return "✗ \(c.check.text) — " + language.pick("left \(l), right \(r)", "左辺 \(l)、右辺 \(r)")
    }

    /// Non-empty sections with a blank line between them.
    private static func joined(_ sections: [[String]]) -> [String] {
        sections.filter { !$0.isEmpty }.enumerated().flatMap { $0.offset == 0 ? $0.element : [""] + $0.element }
    }

    /// `sections` joined; when they are taller than `rows`, the first (the narration) is cut so
    /// that the last (the checks) still shows, and a line says that the text goes on.
    private static func fit(_ sections: [[String]], rows: Int, width: Int) -> [String] {
        let lines = joined(sections)
        guard lines.count > rows, let first = sections.first else { return lines }
        let rest = joined(Array(sections.dropFirst()))
        let keep = max(1, rows - rest.count - (rest.isEmpty ? 1 : 2))
        return Array(first.prefix(keep)) + [clip("…", width)] + (rest.isEmpty ? [] : [""] + rest)
    }

    /// `s` cut to `width` columns, with … where it was cut.
    static func clip(_ s: String, _ width: Int) -> String {
        guard Markdown.columns(s) > width else { return s }
        var out = "", used = 0
        for ch in s {
            let w = Markdown.columns(String(ch))
            if used + w > width - 1 { break }
            out.append(ch)
            used += w
        }
        return out + "…"
    }

    /// Narration before its step runs: each placeholder shows as ▢, where its number will stand.
    static func placeholders(_ text: String) -> String {
        Template.segments(text).map { segment in
            switch segment {
            case .literal(let s), .unclosed(let s): String(s)
            case .placeholder: "▢"
            }
        }.joined()
    }
}
