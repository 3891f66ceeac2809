import AttnExperiments
import AttnTrace

/// What one step produced when it ran.
public struct StepResult: Sendable {
    public let step: LessonStep
    /// Numeric values by name (`kv_bytes_per_token`, `mqa.kv_layers`, `forward.reads.Q`).
    public let values: [String: Double]
    /// Text values by name (`generated_text`, `model`).
    public let texts: [String: String]
    /// The commands that ran, as command lines.
    public let commandLines: [String]
    /// Narration in the chosen language, values filled in (Markdown).
    public let narration: String
    public let checks: [CheckResult]
    /// Base name of the step's figure files (`step-03`), if it drew one.
    public let figure: String?
    /// The engine traces of the step's decode and tile runs, relative to the lesson folder.
    public let engineTraces: [String]

    public init(step: LessonStep, values: [String: Double], texts: [String: String], commandLines: [String], narration: String,
                checks: [CheckResult], figure: String?, engineTraces: [String] = []) {
        self.engineTraces = engineTraces
        self.step = step
        self.values = values
        self.texts = texts
        self.commandLines = commandLines
        self.narration = narration
        self.checks = checks
        self.figure = figure
    }

    /// The values the step singles out, for value tables and slides: its labelled key numbers first
    /// (in the file's order, with their labels), then every other value the narration in `language`
    /// quotes, in the order it quotes them, then those only the checks name. A value is shown as the
    /// narration first formats it (`grouped`, `percent`, …), else grouped in thousands.
    public func keyValues(_ language: Language) -> [(name: String, label: String?, value: String)] {
        let narration = step.narration.text(language)
        var filters: [String: String?] = [:]
        for (name, filter) in Template.placeholders(in: narration) where filters[name] == nil { filters[name] = filter }
        var names: [String] = []
        for name in step.labels.map(\.name) + Template.names(in: narration) + step.checks.flatMap(\.expression.names)
            where !names.contains(name) && (values[name] != nil || texts[name] != nil) {
            names.append(name)
        }
        return names.map { name in
            let label = step.labels.first { $0.name == name }?.label.text(language)
            guard let v = values[name] else { return (name, label, texts[name]!) }
            let shown = filters[name].flatMap { $0 }.flatMap { try? Template.format(v, $0) } ?? Template.display(v)
            return (name, label, shown)
        }
    }
}

public struct CheckResult: Sendable {
    public let check: LessonCheck
    public let passed: Bool
    public let left: Double
    public let right: Double

    public init(check: LessonCheck, passed: Bool, left: Double, right: Double) {
        self.check = check
        self.passed = passed
        self.left = left
        self.right = right
    }

    /// "kv_bytes_per_token == 131072 ✓" or with both values when it failed.
    public var summary: String {
        guard !passed else { return "✓ \(check.text)" }
        return "✗ \(check.text) — left \(shownSides.left), right \(shownSides.right)"
    }

    /// The two sides as a failed check shows them: plain, or with every digit where they round alike.
    public var shownSides: (left: String, right: String) {
        let (l, r) = (Template.plain(left), Template.plain(right))
        return l == r ? (String(left), String(right)) : (l, r)
    }
}

/// A whole lesson run.
public struct LessonResult: Sendable {
    public let lesson: Lesson
    public let language: Language
    public let steps: [StepResult]
    public var passed: Bool { steps.allSatisfy { $0.checks.allSatisfy(\.passed) } }
    public var failures: [(step: Int, check: CheckResult)] {
        steps.flatMap { s in s.checks.filter { !$0.passed }.map { (s.step.index, $0) } }
    }

    public init(lesson: Lesson, language: Language, steps: [StepResult]) {
        self.lesson = lesson
        self.language = language
        self.steps = steps
    }
}

/// `{{ name }}` and `{{ name | filter }}` in narration.
public enum Template {
    public static let filters = ["grouped", "bytes", "percent", "fixed1", "fixed2", "fixed3", "sci"]

    /// A piece of narration as `segments` cuts it.
    public enum Segment: Equatable, Sendable {
        /// Text outside placeholders, as written.
        case literal(Substring)
        /// What stands between `{{` and `}}`, spaces included.
        case placeholder(Substring)
        /// A `{{` without a `}}`: the text from that `{{` to the end.
        case unclosed(Substring)
    }

    /// `text` cut into literal text and placeholders, in order: the one scanner of `{{ … }}` that
    /// rendering, checking, name listing and the terminal's step-through all read.
    public static func segments(_ text: String) -> [Segment] {
        var segments: [Segment] = []
        var rest = Substring(text)
        while let open = rest.range(of: "{{") {
            if open.lowerBound > rest.startIndex { segments.append(.literal(rest[..<open.lowerBound])) }
            guard let close = rest[open.upperBound...].range(of: "}}") else {
                segments.append(.unclosed(rest[open.lowerBound...]))
                return segments
            }
            segments.append(.placeholder(rest[open.upperBound..<close.lowerBound]))
            rest = rest[close.upperBound...]
        }
        if !rest.isEmpty { segments.append(.literal(rest)) }
        return segments
    }

    /// Fills in every placeholder; an unknown name or filter is an error naming it.
    public static func render(_ text: String, values: [String: Double], texts: [String: String]) throws(ParseFailure) -> String {
        var out = ""
        for segment in segments(text) {
            let inside: Substring
            switch segment {
            case .literal(let s): out += s; continue
            case .unclosed: throw ParseFailure("'{{' without '}}'")
            case .placeholder(let s): inside = s
            }
            let inner = inside.split(separator: "|").map { String($0).trimmingSpaces }
            let name = inner.first ?? ""
            let filter = inner.count > 1 ? inner[1] : nil
            if let v = values[name] {
                out += try format(v, filter)
            } else if let t = texts[name] {
                out += t
            } else if name.contains(where: { "+-*/(".contains($0) }) {
                // An expression of values: {{ a / b | percent }}.
                out += try format(try Expression.parse(name).value(values), filter)
            } else {
                let near = (Array(values.keys) + Array(texts.keys)).sorted().filter { $0.hasSuffix(name.split(separator: ".").last.map(String.init) ?? name) }
                throw ParseFailure("unknown value \(quoted(name))" + (near.isEmpty ? "" : " (did you mean \(near.prefix(3).joined(separator: ", "))?)"))
            }
        }
        return out
    }

    /// Checks the placeholders' syntax and filters without values (what `attnlab check` can know), and
    /// refuses a division by a constant zero.
    public static func validate(_ text: String) throws(ParseFailure) {
        for segment in segments(text) {
            switch segment {
            case .literal: continue
            case .unclosed: throw ParseFailure("'{{' without '}}'")
            case .placeholder(let inside):
                let inner = inside.split(separator: "|", omittingEmptySubsequences: false).map { String($0).trimmingSpaces }
                guard inner.count <= 2, let name = inner.first, !name.isEmpty else {
                    throw ParseFailure("\(quoted("{{\(inside)}}")) is not {{ value }} or {{ value | filter }}")
                }
                do throws(ParseFailure) {
                    if let problem = try Expression.parse(name).staticProblem() { throw problem }
                } catch {
                    throw ParseFailure("\(quoted("{{\(inside)}}")): \(error.reason)")
                }
                if inner.count == 2, !filters.contains(inner[1]) {
                    throw ParseFailure("unknown filter \(quoted(inner[1])) (expected one of \(filters.joined(separator: ", ")))")
                }
            }
        }
    }

    /// Every placeholder that names a value a run with these names will not have, as `render` reads
    /// them: a lone name may be a number or a text, an expression computes with numbers only.
    /// - Parameter kind: what a name is in the run, nil when the run has no such value.
    public static func problems(_ text: String, kind: (String) -> ValueNames.Kind?) -> [ParseFailure] {
        var problems: [ParseFailure] = []
        for segment in segments(text) {
            guard case .placeholder(let inside) = segment, let name = inside.split(separator: "|").first.map({ String($0).trimmingSpaces }) else { continue }
            if kind(name) != nil { continue }
            // `render` computes only what holds an operator; a lone number or unknown name is looked up and missing.
            let names = name.contains(where: { "+-*/(".contains($0) }) ? (try? Expression.parse(name).names) ?? [] : [name]
            for n in names where kind(n) != .number {
                problems.append(ParseFailure(kind(n) == .text ? "\(quoted(n)) is text; only numbers compute" : "unknown value \(quoted(n))"))
            }
        }
        return problems
    }

    /// The placeholders that quote one value by name, with their filter, in order.
    public static func placeholders(in text: String) -> [(name: String, filter: String?)] {
        segments(text).compactMap { segment in
            guard case .placeholder(let inside) = segment else { return nil }
            let inner = inside.split(separator: "|").map { String($0).trimmingSpaces }
            guard let name = inner.first, !name.contains(where: { "+-*/(".contains($0) }) else { return nil }
            return (name, inner.count > 1 ? inner[1] : nil)
        }
    }

    /// The value names placeholders refer to (inside expressions too).
    public static func names(in text: String) -> [String] {
        segments(text).flatMap { segment -> [String] in
            guard case .placeholder(let inside) = segment, let inner = inside.split(separator: "|").first.map({ String($0).trimmingSpaces }) else { return [] }
            return (try? Expression.parse(inner).names) ?? [inner]
        }
    }

    static func format(_ v: Double, _ filter: String?) throws(ParseFailure) -> String {
        guard v.isFinite else { throw ParseFailure("the value is \(v) (a division by zero?)") }
        // Integer formats need an integer that fits; beyond 1e15 show the number in scientific form.
        if abs(v) >= 1e15, filter != nil, filter != "sci" { return Format.scientific(v) }
        switch filter {
        case nil: return plain(v)
        case "grouped": return Format.grouped(Int(v.rounded()))
        case "bytes": return Format.bytes(Int(v.rounded()))
        case "percent": return Format.percent(v)
        case "fixed1": return Format.fixed(v, 1)
        case "fixed2": return Format.fixed(v, 2)
        case "fixed3": return Format.fixed(v, 3)
        case "sci": return Format.scientific(v)
        case let other?: throw ParseFailure("unknown filter '\(other)' (expected one of \(filters.joined(separator: ", ")))")
        }
    }

    /// For tables: integers grouped in thousands, other numbers as `plain`.
    public static func display(_ v: Double) -> String {
        v == v.rounded() && abs(v) < 1e15 ? Format.grouped(Int(v)) : plain(v)
    }

    /// Integers as integers, other numbers with up to 6 decimals.
    public static func plain(_ v: Double) -> String {
        if v == v.rounded() && abs(v) < 1e15 { return String(Int(v)) }
        if abs(v) < 1e-4 || abs(v) >= 1e15 { return Format.scientific(v, 3) }
        var s = Format.fixed(v, 6)
        while s.hasSuffix("0") { s.removeLast() }
        if s.hasSuffix(".") { s.removeLast() }
        return s
    }
}

extension JSON {
    /// Numbers and strings of a JSON object by dotted path (`forward.reads.Q`, `kv_map.3`); list items
    /// by index; booleans as 0/1.
    public func flattened(prefix: String = "") -> (numbers: [String: Double], texts: [String: String]) {
        var numbers: [String: Double] = [:], texts: [String: String] = [:]
        func walk(_ value: JSON, _ path: String) {
            switch value {
            case .int(let i): numbers[path] = Double(i)
            case .double(let d): numbers[path] = d
            case .decimal(let units, let digits):
                var scale = 1.0
                for _ in 0..<digits { scale *= 10 }
                numbers[path] = Double(units) / scale
            case .bool(let b): numbers[path] = b ? 1 : 0
            case .string(let s): texts[path] = s
            case .object(let fields): for (k, v) in fields { walk(v, path.isEmpty ? k : "\(path).\(k)") }
            case .array(let items): for (i, v) in items.enumerated() { walk(v, path.isEmpty ? String(i) : "\(path).\(i)") }
            case .null: break
            }
        }
        walk(self, prefix)
        return (numbers, texts)
    }
}
