import AttnLessons
import AttnTrace
import Foundation

/// `attnlab run --step`: a lesson in the terminal, one screen per step, for a presenter. A step's
/// screen shows its narration (Markdown rendered, reflowed to the terminal's width) with ▢ where its
/// numbers will stand; Enter runs the step and redraws the same screen with the numbers in place,
/// the step's text picture and its checks. Then Enter/n next, b back, g N go to step N, r re-run,
/// c compact view, q quit, listed in the footer.
///
/// On a terminal that can clear its screen each step is drawn on a cleared alternate screen, fitted
/// to the terminal's rows (the least important parts go first), and each command is one key press:
/// → ↓ PageDown and space advance like Enter, ← ↑ PageUp go back like b (what a presenter's remote
/// sends), Home and End go to the first and last step, g or a digit opens a step-number field.
/// Otherwise the screens follow one another as plain text, the narration only once it has its
/// numbers, and each command is a line (the letter, then Enter).
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
        case next, back, go(Int), rerun, compact, more, quit
        /// Nothing (a step number's field cancelled, a key with no use): the screen is drawn again.
        case redraw
        case unknown(String)

        /// `steps`: the lesson's number of steps, for `g N` (N counts from 1; `go` holds the index).
        init(_ reply: String, steps: Int) {
            switch reply {
            case "", "n": self = .next
            case "b": self = .back
            case "r": self = .rerun
            case "c": self = .compact
            case "m": self = .more
            case "q": self = .quit
            default:
                if reply.hasPrefix("g"), let n = Int(reply.dropFirst().trimmingCharacters(in: .whitespaces)), n >= 1, n <= steps {
                    self = .go(n - 1)
                } else {
                    self = .unknown(reply)
                }
            }
        }

        /// What one key press asks for; nil for g and the digits, which open the step-number field.
        /// Letters count in either case (Caps Lock on); Ctrl-D quits as end of input does.
        init?(key: Keyboard.Key, steps: Int) {
            let key = if case .character(let c) = key, c.isASCII { Keyboard.Key.character(Character(c.lowercased())) } else { key }
            switch key {
            case .enter, .right, .down, .pageDown, .character(" "), .character("n"): self = .next
            case .left, .up, .pageUp, .character("b"): self = .back
            case .home: self = .go(0)
            case .end: self = .go(steps - 1)
            case .character("r"): self = .rerun
            case .character("c"): self = .compact
            case .character("m"): self = .more
            case .character("q"), .control(4): self = .quit
            case .character(let c) where c == "g" || (c.isASCII && c.isNumber): return nil
            case .character(let c): self = .unknown(String(c))
            case .escape, .backspace, .control, .redraw: self = .redraw
            }
        }
    }

    /// What the screen shows.
    struct View {
        var index = 0
        /// The step's results once it ran.
        var result: StepResult? = nil
        var compact = false
        /// The first narration line shown, when the narration is taller than the screen.
        var narrationLine = 0
        /// A line for the footer instead of the keys (a reply not understood, a step running).
        var note: String? = nil

        /// Moves to `step`; staying on the step (← on the first) keeps what it showed.
        mutating func show(step: Int) {
            guard step != index else { return }
            (index, result, narrationLine) = (step, nil, 0)
        }
    }

    func run() throws {
        if screen { Terminal.enterScreen() }
        // Single keys on a screen we redraw; lines (each echoed as typed) otherwise.
        let keys = screen && Keyboard.start()
        defer {
            if keys { Keyboard.stop() }
            if screen { Terminal.leaveScreen() }
        }
        var view = View()
        while view.index < lesson.steps.count {
            let more = draw(view, keys: keys)
            view.note = nil
            // End of input quits.
            let command = keys ? keyCommand(view)
                : Command(readLine()?.trimmingCharacters(in: .whitespaces).lowercased() ?? "q", steps: lesson.steps.count)
            switch command {
            case .next where endsHere(view, keys: keys):
                // A click too many on a remote must not end the lesson in front of the class.
                view.note = language.en("This is the last step: q ends the lesson, ← goes back.", ja: "最後のステップ:q でレッスンを終える。← で前へ。")
            case .next where view.result != nil: view.show(step: view.index + 1)
            case .next, .rerun:
                // The Enter just typed moved the screen up a line; redraw it while the step runs.
                if screen {
                    view.note = language.en("Running step \(view.index + 1)…", ja: "ステップ\(view.index + 1)を実行中…")
                    _ = draw(view, keys: keys)
                    view.note = nil
                }
                (view.result, view.narrationLine) = (try runner.run(lesson.steps[view.index], of: lesson).result, 0)
                // Keys pressed while it ran would skip past its results.
                if keys { Keyboard.discardTypedAhead() }
            case .back: view.show(step: max(0, view.index - 1))
            case .go(let n): view.show(step: n)
            case .compact: (view.compact, view.narrationLine) = (!view.compact, 0)
            case .more: view.narrationLine = more ?? 0
            case .quit: return
            case .redraw: break
            case .unknown(let r) where keys:
                view.note = language.en("'\(r)'? Keys: → or Enter next, ← back, q quit, g N Enter step N, r, c, m.",
                                          ja: "「\(r)」?キー: →/Enter 次へ、← 前へ、q 終了、g N Enter ステップNへ、r、c、m。")
            case .unknown(let r):
                view.note = language.en("'\(r)'? Type Enter, n, b, g N (N from 1 to \(lesson.steps.count)), r, c, m or q, then Enter.",
                                          ja: "「\(r)」?Enter、n、b、g N(Nは1〜\(lesson.steps.count))、r、c、m、qのどれかを入力してEnter。")
            }
        }
        if !screen { print(dim(language.en("End of the lesson.", ja: "レッスンはここまで。"))) }
    }

    /// The command of the next key press. g or a digit opens a field in the footer for a step
    /// number, which Enter takes (or, out of range, keeps open saying so) and Esc cancels. End of
    /// input quits.
    private func keyCommand(_ view: View) -> Command {
        let steps = lesson.steps.count
        guard let key = Keyboard.read() else { return .quit }
        if let command = Command(key: key, steps: steps) { return command }
        var digits = "", refused = false
        if case .character(let c) = key, c != "g" { digits = String(c) }
        var field = view
        while true {
            field.note = refused
                ? language.en("Go to step: \(digits)▏ — there is no step \(digits), only 1–\(steps); Esc cancels",
                              ja: "ステップへ移動: \(digits)▏ — ステップ\(digits)はない(1〜\(steps))。Escで取り消し")
                : language.en("Go to step: \(digits)▏ (1–\(steps); Enter goes, Esc cancels)",
                              ja: "ステップへ移動: \(digits)▏(1〜\(steps)。Enterで移動、Escで取り消し)")
            _ = draw(field, keys: true)
            switch Keyboard.read() {
            case nil: return .quit
            case .character(let c)? where c.isASCII && c.isNumber:
                // After a refused number the next digit starts a new one.
                digits = (refused ? "" : digits) + String(c)
                refused = false
            case .backspace?:
                if !digits.isEmpty { digits.removeLast() }
                refused = false
            case .enter?:
                if let n = Int(digits), (1...steps).contains(n) { return .go(n - 1) }
                refused = !digits.isEmpty
            case .escape?: return .redraw
            default: continue
            }
        }
    }

    /// Whether `view` is the last step with its results, under single keys: there "next" is not
    /// offered, so a click too many on a remote does not end the lesson.
    private func endsHere(_ view: View, keys: Bool) -> Bool {
        keys && view.result != nil && view.index == lesson.steps.count - 1
    }

    /// Draws the screen of `view`, its footer naming single keys or line commands (`keys`); returns
    /// the narration line `m` shows next when the narration does not fit (nil when it does).
    private func draw(_ view: View, keys single: Bool) -> Int? {
        let size = Terminal.size
        let width = max(20, size.columns)
        // Header, then the body, then the footer and the prompt line.
        let rows = screen ? max(6, size.rows - 3) : Int.max
        let (body, more) = self.body(view, width: width, rows: rows)
        // The keys by importance, as a narrow terminal cuts the end: on, back, quit, then the rest.
        let (advance, back) = single ? ("Enter/→", "←") : ("Enter", "b")
        let last = endsHere(view, keys: single)
        var keys: [String] = []
        if view.result == nil {
            keys.append(language.en("\(advance) run", ja: "\(advance) 実行"))
        } else if !last {
            keys.append(language.en("\(advance) next", ja: "\(advance) 次へ"))
        }
        keys.append(language.en("\(back) back", ja: "\(back) 前へ"))
        keys.append(last ? language.en("q end the lesson", ja: "q レッスンを終える") : language.en("q quit", ja: "q 終了"))
        keys.append(language.en("g N go to step N", ja: "g N ステップNへ"))
        if view.result != nil { keys.append(language.en("r re-run", ja: "r 再実行")) }
        if more != nil { keys.append(language.en("m more", ja: "m 続き")) }
        keys.append(view.compact ? language.en("c full view", ja: "c 詳細表示") : language.en("c compact", ja: "c 簡易表示"))
        let footer = view.note.map { Self.clip($0, width) } ?? dim(Self.clip(keys.joined(separator: " · "), width))
        let header = self.header(view.index, width: width)
        if screen {
            let padding = Array(repeating: "", count: max(0, rows - body.count))
            // A line command is typed after a prompt; a key press needs none.
            Terminal.write(Terminal.clear + ([header] + body + padding + [footer]).joined(separator: "\n") + (single ? "" : "\n> "))
        } else {
            print(([header] + body + [footer]).joined(separator: "\n"))
            // A prompt for a person typing; input from a pipe is not echoed, and the next screen
            // would start on the prompt's line.
            if isatty(STDIN_FILENO) != 0 {
                print("> ", terminator: "")
                fflush(nil)  // the prompt has no newline; flush it before waiting
            }
        }
        return more
    }

    /// "━━ Step 2/4 · Title ━━━━━━ Lesson title ━━" across the width.
    private func header(_ index: Int, width: Int) -> String {
        let step = lesson.steps[index]
        let left = Self.clip("━━ " + language.en("Step", ja: "ステップ") + " \(index + 1)/\(lesson.steps.count) · \(step.title.text(language)) ", width)
        let right = " " + lesson.title.text(language) + " ━━"
        let room = width - Format.columns(left)
        guard room > 0 else { return bold(left) }
        let fill = Format.columns(right) + 3 <= room ? String(repeating: "━", count: room - Format.columns(right)) + right : String(repeating: "━", count: room)
        return bold(left) + dim(fill)
    }

    /// The lines under the header, at most `rows` of them, and the narration line `m` shows next:
    /// with everything when it fits, else without the commands, then with the checks in one line,
    /// then without the picture, then with the narration shown a screenful at a time.
    private func body(_ view: View, width: Int, rows: Int) -> (lines: [String], more: Int?) {
        let style: Markdown.TerminalStyle = colour ? .ansi : .plain
        // The lesson's summary opens its first step.
        let summary = view.index == 0 && !lesson.summary.text(language).isEmpty
            ? [""] + Markdown(lesson.summary.text(language)).terminalLines(width: width, style: style).map(dim) : []
        guard let r = view.result else {
            let hint = dim(Self.clip(language.en("Enter runs the step: its numbers appear in place of ▢.",
                                                   ja: "Enterでステップを実行すると、▢の所に数値が入る。"), width))
            // Without a screen to redraw, the narration is shown once, with its numbers.
            guard screen else { return (summary + ["", hint], nil) }
            let narration = summary + [""] + Markdown(Self.placeholders(lesson.steps[view.index].narration.text(language)))
                .terminalLines(width: width, style: style)
            return Self.fit(narration, [hint], from: view.narrationLine, rows: rows)
        }
        let narration = summary + [""] + Markdown(r.narration).terminalLines(width: width, style: style)
        let checks = r.checks.map { mark($0.passed, Self.clip(checkLine($0), width)) }
        let failed = r.checks.filter { !$0.passed }
        let checksInOneLine = failed.isEmpty
            ? (r.checks.isEmpty ? [] : [mark(true, language.en("✓ all \(r.checks.count) checks hold", ja: "✓ \(r.checks.count)件の検査がすべて成立"))])
            : [mark(false, language.en("✗ \(failed.count) of \(r.checks.count) checks failed", ja: "✗ \(r.checks.count)件中\(failed.count)件の検査が不成立"))]
                + failed.map { mark(false, Self.clip(checkLine($0), width)) }
        if view.compact { return Self.fit(narration, checksInOneLine, from: view.narrationLine, rows: rows) }
        let picture = StepPictures.lines(r, folder: runner.folder, width: width, maxRows: rows - narration.count - checksInOneLine.count - 2,
                                         language: language)
        let commands = r.commandLines.map { dim(Self.clip("$ \($0)", width)) }
            + (r.figure.map { [dim(Self.clip(language.en("figure: ", ja: "図: ") + "\(runner.folder)/figures/\($0).png", width))] } ?? [])
        if view.narrationLine == 0 {
            for sections in [[narration, picture, checks, commands], [narration, picture, checks], [narration, picture, checksInOneLine]] {
                let lines = Self.joined(sections)
                if lines.count <= rows { return (lines, nil) }
            }
        }
        return Self.fit(narration, checksInOneLine, from: view.narrationLine, rows: rows)
    }

    /// A check as the step-through shows it, in the lesson's language.
    private func checkLine(_ c: CheckResult) -> String {
        guard !c.passed else { return "✓ \(c.check.text)" }
        let (l, r) = c.shownSides
        return "✗ \(c.check.text) — " + language.en("left \(l), right \(r)", ja: "左辺 \(l)、右辺 \(r)")
    }

    /// Non-empty sections with a blank line between them.
    private static func joined(_ sections: [[String]]) -> [String] {
        sections.filter { !$0.isEmpty }.enumerated().flatMap { $0.offset == 0 ? $0.element : [""] + $0.element }
    }

    /// `narration` and `rest` (a blank line between) when they fit in `rows`; else the narration
    /// from line `start`, as much of it as fits above `rest`, with … where lines are left out, and
    /// the line to start from next (0 again after the last screenful).
    private static func fit(_ narration: [String], _ rest: [String], from start: Int, rows: Int) -> (lines: [String], more: Int?) {
        let all = joined([narration, rest])
        if start == 0 && all.count <= rows { return (all, nil) }
        let tail = rest.isEmpty ? [] : [""] + rest
        // Two lines for the … above and below.
        let room = max(1, rows - tail.count - 2)
        let from = min(start, max(0, narration.count - 1))
        let shown = Array(narration[from...].prefix(room))
        let end = from + shown.count
        return ((from > 0 ? ["…"] : []) + shown + (end < narration.count ? ["…"] : []) + tail, end < narration.count ? end : 0)
    }

    /// `s` cut to `width` columns, with … where it was cut.
    static func clip(_ s: String, _ width: Int) -> String {
        guard Format.columns(s) > width else { return s }
        var out = "", used = 0
        for ch in s {
            let w = Format.columns(String(ch))
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
