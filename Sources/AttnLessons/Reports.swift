import AttnTrace
import AttnViewer

/// The report files of a lesson run, as text: Markdown for notes, a self-contained HTML page,
/// and the trace log.
public enum Reports {
    /// `report.md`: figures linked from `figures/` (PNG, or `figureExtension` when PNGs were not made).
    public static func markdown(_ r: LessonResult, figureExtension: String = "png") -> String {
        let lang = r.language
        var out = "# \(r.lesson.title.text(lang))\n\n"
        let summary = r.lesson.summary.text(lang)
        if !summary.isEmpty { out += "\(summary)\n\n" }
        for s in r.steps {
            out += "## \(s.step.index + 1). \(s.step.title.text(lang))\n\n"
            if !s.narration.isEmpty { out += Markdown.separatingLists(s.narration).trimmingTrailingNewlines + "\n\n" }
            out += "```\n" + s.commandLines.joined(separator: "\n") + "\n```\n\n"
            let key = s.keyValues(lang)
            if !key.isEmpty {
                out += "| \(lang.en("quantity", ja: "量")) | \(lang.en("value", ja: "値")) | \(lang.en("name", ja: "名前")) |\n|---|--:|---|\n"
                out += key.map { "| \($0.label ?? "") | \($0.value) | `\($0.name)` |" }.joined(separator: "\n") + "\n\n"
            }
            if let f = s.figure { out += "![\(s.step.title.text(lang))](figures/\(f).\(figureExtension))\n\n" }
            let traces = s.engineTraces.filter { $0.hasSuffix(".txt") }
            if !traces.isEmpty { out += lang.en("Engine trace: ", ja: "エンジンのトレース:") + traces.map { "[\($0)](\($0))" }.joined(separator: ", ") + "\n\n" }
            for c in s.checks { out += "- \(c.summary)\n" }
            if !s.checks.isEmpty { out += "\n" }
        }
        let total = r.steps.reduce(0) { $0 + $1.checks.count }
        out += r.passed ? lang.en("All \(total) checks passed.\n", ja: "チェック\(total)件すべて成立。\n")
                        : lang.en("\(r.failures.count) of \(total) checks failed.\n", ja: "チェック\(total)件中\(r.failures.count)件が不成立。\n")
        return out
    }

    /// `report.html`: one file, inline CSS and SVG figures, no network; printable.
    /// - Parameter svg: the SVG text of a step's figure by its base name.
    /// - Parameter players: a step's trace player (`TracePlayer.embedded`) by step index, shown under
    ///   its figure; the figure stays, so the page reads the same without JavaScript.
    public static func html(_ r: LessonResult, svg: [String: String], players: [Int: String] = [:]) -> String {
        let lang = r.language
        var body = "<h1>\(escape(r.lesson.title.text(lang)))</h1>\n"
        let summary = r.lesson.summary.text(lang)
        if !summary.isEmpty { body += "<p class=\"summary\">\(Markdown.inlineHTML(LineBreaking.unfolded(summary)))</p>\n" }
        let total = r.steps.reduce(0) { $0 + $1.checks.count }
        body += "<p class=\"status \(r.passed ? "ok" : "bad")\">\(r.passed ? lang.en("✓ all \(total) checks passed", ja: "✓ チェック\(total)件すべて成立") : lang.en("✗ \(r.failures.count) of \(total) checks failed", ja: "✗ チェック\(total)件中\(r.failures.count)件が不成立"))</p>\n"
        for s in r.steps {
            body += "<section>\n<h2>\(s.step.index + 1). \(escape(s.step.title.text(lang)))</h2>\n"
            body += Markdown(s.narration).html
            body += "<pre>\(escape(s.commandLines.joined(separator: "\n")))</pre>\n"
            let key = s.keyValues(lang)
            if !key.isEmpty {
                body += "<table class=\"values\">\n" + key.map {
                    "<tr><td>\(escape($0.label ?? ""))</td><td class=\"n\">\(escape($0.value))</td><td><code>\(escape($0.name))</code></td></tr>"
                }.joined(separator: "\n") + "\n</table>\n"
            }
            if let f = s.figure, let text = svg[f] {
                body += "<figure>\(stripProlog(text))</figure>\n"
            }
            let traces = s.engineTraces.filter { $0.hasSuffix(".txt") }
            if !traces.isEmpty {
                body += "<p class=\"trace\">" + lang.en("Engine trace: ", ja: "エンジンのトレース:") + traces.map { "<a href=\"\(escape($0))\">\(escape($0))</a>" }.joined(separator: ", ") + "</p>\n"
            }
            body += players[s.step.index] ?? ""
            if !s.checks.isEmpty {
                body += "<ul class=\"checks\">\n" + s.checks.map { "<li class=\"\($0.passed ? "ok" : "bad")\">\(escape($0.summary))</li>" }.joined(separator: "\n") + "\n</ul>\n"
            }
            body += "</section>\n"
        }
        return """
            <!DOCTYPE html>
            <html lang="\(lang)">
            <head>
            <meta charset="utf-8">
            <title>\(escape(r.lesson.title.text(lang))) — AttnLab</title>
            <style>
            body { font-family: "DejaVu Sans", "Noto Sans CJK JP", sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #1f2328; line-height: 1.5; }
            h1 { font-size: 2rem; margin-bottom: .25rem; } h2 { margin-top: 2.5rem; border-bottom: 1px solid #d8dee4; }
            .summary { color: #57606a; font-size: 1.1rem; }
            pre { background: #f4f6f8; padding: .75rem; overflow-x: auto; font-size: .9rem; }
            table { border-collapse: collapse; margin: 1rem 0; } td { border: 1px solid #d8dee4; padding: .25rem .6rem; font-variant-numeric: tabular-nums; } td.n { text-align: right; }
            figure { margin: 1rem 0; } figure svg { width: 100%; height: auto; }
            .checks { list-style: none; padding-left: 0; } .ok { color: #1a7f37; } .bad { color: #cf222e; font-weight: bold; }
            .status { font-weight: bold; }
            code { font-family: "DejaVu Sans Mono", monospace; }
            @media print { section { page-break-inside: avoid; } }
            </style>
            </head>
            <body>
            \(body)\(players.isEmpty ? "" : TracePlayer.assets)<footer><p>Made by AttnLab from lesson <code>\(escape(r.lesson.id))</code>; every number above was computed by this run.</p></footer>
            </body>
            </html>

            """
    }

    /// `index.html` of `attnlab run --all`: every lesson with its summary and check status.
    public static func index(_ results: [LessonResult], language: Language) -> String {
        let items = results.map { r -> String in
            let total = r.steps.reduce(0) { $0 + $1.checks.count }
            let status = r.passed ? "<span class=\"ok\">" + language.en("✓ \(total) checks", ja: "✓ チェック\(total)件") + "</span>"
                : "<span class=\"bad\">" + language.en("✗ \(r.failures.count) of \(total) checks failed", ja: "✗ チェック\(total)件中\(r.failures.count)件が不成立") + "</span>"
            return "<li><a href=\"\(escape(r.lesson.id))/report.html\">\(escape(r.lesson.title.text(language)))</a> \(status)"
                + " · <a href=\"\(escape(r.lesson.id))/slides.pdf\">\(language.en("slides", ja: "スライド"))</a>"
                + " · <a href=\"\(escape(r.lesson.id))/notes.pdf\">\(language.en("speaker notes", ja: "発表者ノート"))</a>"
                + "<br><span class=\"summary\">\(Markdown.inlineHTML(LineBreaking.unfolded(r.lesson.summary.text(language))))</span></li>"
        }.joined(separator: "\n")
        return """
            <!DOCTYPE html>
            <html lang="\(language)">
            <head>
            <meta charset="utf-8">
            <title>\(language.en("AttnLab lessons", ja: "AttnLab レッスン"))</title>
            <style>
            body { font-family: "DejaVu Sans", "Noto Sans CJK JP", sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #1f2328; line-height: 1.5; }
            li { margin-bottom: 1rem; } a { font-weight: bold; } .summary { color: #57606a; }
            .ok { color: #1a7f37; } .bad { color: #cf222e; font-weight: bold; }
            </style>
            </head>
            <body>
            <h1>\(language.en("AttnLab lessons", ja: "AttnLab レッスン"))</h1>
            <ol>
            \(items)
            </ol>
            </body>
            </html>

            """
    }

    /// `trace.jsonl`: a header, then one `lesson_step` event per step with its commands, values
    /// and checks (schema attnlab.trace/1, docs/trace-format.md).
    public static func trace(_ r: LessonResult) -> [UInt8] {
        var out: [UInt8] = []
        let header = JSON.object([("type", .string("header")), ("schema", .string(DecodeTrace.schema)), ("kind", .string("lesson")),
                                  ("lesson", .string(r.lesson.id)), ("language", .string(r.language.rawValue)), ("steps", .int(r.steps.count))])
        header.write(to: &out)
        out.append(UInt8(ascii: "\n"))
        for s in r.steps {
            let event = JSON.object([
                ("type", .string("lesson_step")), ("step", .int(s.step.index)), ("title", .string(s.step.title.text(r.language))),
                ("commands", .array(s.commandLines.map(JSON.string))),
                ("values", .object(s.values.keys.sorted().map { ($0, .double(s.values[$0]!)) })),
                ("texts", .object(s.texts.keys.sorted().map { ($0, .string(s.texts[$0]!)) })),
                ("checks", .array(s.checks.map { .object([("check", .string($0.check.text)), ("passed", .bool($0.passed)),
                                                         ("left", .double($0.left)), ("right", .double($0.right))]) })),
                ("figure", s.figure.map(JSON.string) ?? .null),
                ("engine_traces", .array(s.engineTraces.map(JSON.string))),
            ])
            event.write(to: &out)
            out.append(UInt8(ascii: "\n"))
        }
        return out
    }

    /// `trace.txt`: the same, for reading in a terminal.
    public static func traceText(_ r: LessonResult) -> String {
        var out = "AttnLab lesson trace (\(DecodeTrace.schema)) — \(r.lesson.id), \(r.language)\n"
        for s in r.steps {
            out += "\nstep \(s.step.index + 1)  \(s.step.title.text(r.language))\n"
            for c in s.commandLines { out += "  $ \(c)\n" }
            let rows = s.keyValues(r.language).map { [$0.label ?? "", $0.value, $0.name] }
            if !rows.isEmpty { out += Format.table([r.language.en("quantity", ja: "量"), r.language.en("value", ja: "値"), r.language.en("name", ja: "名前")], rows, rightAligned: [1]).split(separator: "\n").map { "  " + $0 }.joined(separator: "\n") + "\n" }
            for c in s.checks { out += "  \(c.summary)\n" }
            for t in s.engineTraces where t.hasSuffix(".txt") { out += "  engine trace: \(t)\n" }
        }
        return out
    }

    static func escape(_ s: String) -> String { Format.xmlEscaped(s) }

    static func stripProlog(_ svg: String) -> String {
        guard let start = svg.range(of: "<svg") else { return svg }
        return String(svg[start.lowerBound...])
    }
}

extension String {
    var trimmingTrailingNewlines: String {
        var s = self
        while s.hasSuffix("\n") { s.removeLast() }
        return s
    }
}
