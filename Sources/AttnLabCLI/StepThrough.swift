import AttnLessons
import AttnTrace
import Foundation

/// `attnlab run --step`: a lesson in the terminal, one step at a time. Each step shows its narration,
/// waits for Enter, runs its action and shows the results; then Enter/n next, b back, g N go to step N,
/// r re-run, q quit (each followed by Enter).
struct StepThrough {
    let runner: LessonRunner
    let lesson: Lesson
    /// ANSI colour: see `wantsColour`.
    let colour: Bool

    /// Colour only on a terminal that understands it: TERM set and not `dumb`, and no NO_COLOR
    /// (https://no-color.org).
    static var wantsColour: Bool { wantsColour(environment: ProcessInfo.processInfo.environment, terminal: isatty(STDOUT_FILENO) != 0) }

    static func wantsColour(environment: [String: String], terminal: Bool) -> Bool {
        guard terminal, environment["NO_COLOR"] == nil, let term = environment["TERM"], !term.isEmpty, term != "dumb" else { return false }
        return true
    }

    private func bold(_ s: String) -> String { colour ? "\u{1B}[1m\(s)\u{1B}[0m" : s }
    private func dim(_ s: String) -> String { colour ? "\u{1B}[2m\(s)\u{1B}[0m" : s }
    private func mark(_ ok: Bool, _ s: String) -> String { colour ? "\u{1B}[\(ok ? 32 : 31)m\(s)\u{1B}[0m" : s }

    /// Reads one command; end of input quits.
    private func ask(_ prompt: String) -> String {
        print(dim(prompt) + "\n> ", terminator: "")
        fflush(nil)  // the prompt has no newline; flush it before waiting
        return readLine()?.trimmingCharacters(in: .whitespaces).lowercased() ?? "q"
    }

    func run() throws {
        let language = runner.language
        print(bold("\(lesson.title.text(language))") + dim("  (\(lesson.id), \(lesson.steps.count) steps)"))
        let summary = lesson.summary.text(language)
        if !summary.isEmpty { print(summary) }
        var index = 0
        while index < lesson.steps.count {
            let step = lesson.steps[index]
            print("\n" + bold("━━ Step \(index + 1)/\(lesson.steps.count) · \(step.title.text(language)) ") + dim(String(repeating: "━", count: 20)))
            // Before the run, computed values show as ⟨name⟩.
            print(placeholders(step.narration.text(language)))
            var reply = ask("[Enter] run · b back · g N go to step N · q quit")
            while !["", "n", "q", "b"].contains(reply) && navigate(reply, index) == nil {
                reply = ask("'\(reply)'? [Enter] run · b back · g N (1–\(lesson.steps.count)) · q quit")
            }
            if let moved = navigate(reply, index) { index = moved; continue }
            if reply == "q" { return }
            while true {
                let result = try runner.run(step, of: lesson).result
                show(result)
                reply = ask("[Enter/n] next · b back · g N go to step N · r re-run · q quit")
                while !["", "n", "q", "b", "r"].contains(reply) && navigate(reply, index) == nil {
                    reply = ask("'\(reply)'? [Enter/n] next · b back · g N (1–\(lesson.steps.count)) · r re-run · q quit")
                }
                if reply == "r" { continue }
                break
            }
            if reply == "q" { return }
            index = navigate(reply, index) ?? index + 1
        }
        print(dim("\nEnd of the lesson."))
    }

    /// b, g N: the step to go to; nil for anything else.
    private func navigate(_ reply: String, _ index: Int) -> Int? {
        if reply == "b" { return max(0, index - 1) }
        if reply.hasPrefix("g"), let n = Int(reply.dropFirst().trimmingCharacters(in: .whitespaces)), n >= 1, n <= lesson.steps.count { return n - 1 }
        return nil
    }

    /// Narration before its step runs: each placeholder shows as ⟨name⟩.
    private func placeholders(_ text: String) -> String {
        Template.segments(text).map { segment in
            switch segment {
            case .literal(let s), .unclosed(let s): String(s)
            case .placeholder(let inside): "⟨\(inside.split(separator: "|").first.map { String($0).trimmingCharacters(in: .whitespaces) } ?? "")⟩"
            }
        }.joined()
    }

    private func show(_ r: StepResult) {
        print("")
        for c in r.commandLines { print(dim("$ \(c)")) }
        print("\n" + r.narration.trimmingCharacters(in: .newlines) + "\n")
        let rows = r.keyValues(runner.language).map { [$0.label ?? $0.name, $0.value] }
        if !rows.isEmpty { print(Format.table(["value", ""], rows), terminator: "") }
        let diagram = Self.diagram(r)
        if !diagram.isEmpty { print("\n" + diagram) }
        for c in r.checks { print(mark(c.passed, c.summary)) }
        if let f = r.figure { print(dim("figure: \(runner.folder)/figures/\(f).png")) }
    }

    /// A small text picture of the step: the tile grid of a `tile` run, the cache rows of a `decode`,
    /// the bytes per token of a `kv` against MHA.
    static func diagram(_ r: StepResult) -> String {
        let v = r.values
        if let n = v["n"], let br = v["block_rows"], let bc = v["block_cols"], v["q_heads"] == 1 {
            let Tr = Int((n + br - 1) / br), Tc = Int((n + bc - 1) / bc)
            guard Tr <= 32, Tc <= 48 else { return "" }
            let causal = v["causal"] == 1
            var lines = ["tiles (rows i = Q blocks, columns j = K/V blocks; ■ computed, · skipped):"]
            for i in 0..<Tr {
                let lastRow = min(Int(n), (i + 1) * Int(br)) - 1
                lines.append("  " + (0..<Tc).map { j in !causal || j * Int(bc) <= lastRow ? "■" : "·" }.joined(separator: " "))
            }
            return lines.joined(separator: "\n")
        }
        if let layers = v["kv_layers"], let tokens = v["cache_tokens"], layers <= 16 {
            let bar = String(repeating: "▮", count: min(48, Int(tokens)))
            return (0..<Int(layers)).map { "  KV layer \($0): \(bar) \(Int(tokens)) rows" }.joined(separator: "\n")
        }
        if let bytes = v["kv_bytes_per_token"], let mha = v["mha_kv_bytes_per_token"], mha > 0 {
            let width = 48.0
            return "  this model \(String(repeating: "█", count: max(1, Int(width * bytes / mha))))\n  MHA        \(String(repeating: "█", count: Int(width)))"
        }
        return ""
    }
}
