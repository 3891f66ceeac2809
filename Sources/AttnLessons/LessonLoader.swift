import AttnEngine
import AttnExperiments
import AttnTrace
import Foundation
import Yams

/// Reads lesson files, with errors that name the file, line and field.
public enum LessonLoader {
    /// Actions a step may run, and the figure kinds `draw` and `figure` take.
    public static let actions = ActionKind.allCases.map(\.rawValue) + ["compare", "draw"]
    public static let figures = FigureKind.allCases.map(\.rawValue)
    static let languages = Language.allCases.map(\.rawValue)

    /// The longest lesson id and compare-run name: an id names the output folder, a run name prefixes
    /// value names, and both appear in every report.
    public static let maxNameLength = 64

    /// Reads a lesson file; the first error in it, if any, is thrown.
    public static func load(file path: String) throws(LessonError) -> Lesson {
        let reading = read(file: path)
        if let error = reading.errors.first { throw error }
        return reading.lesson!
    }

    /// Parses a lesson's text; the first error in it, if any, is thrown.
    public static func parse(_ text: String, file: String) throws(LessonError) -> Lesson {
        let reading = read(text, file: file)
        if let error = reading.errors.first { throw error }
        return reading.lesson!
    }

    /// A lesson file as read: every error in it, and what could be read despite them.
    public struct Reading: Sendable {
        /// The lesson, when the file has no error.
        public let lesson: Lesson?
        /// The steps that read without error (each can be checked further on its own).
        public let steps: [LessonStep]
        /// Every error found, in the order of the file.
        public let errors: [LessonError]
    }

    /// Reads a lesson file, going on after an error to find the others.
    public static func read(file path: String) -> Reading {
        guard let data = FileManager.default.contents(atPath: path) else {
            return Reading(lesson: nil, steps: [], errors: [LessonError(file: path, line: nil, field: "file", reason: "cannot be read")])
        }
        guard let text = String(data: data, encoding: .utf8) else {
            return Reading(lesson: nil, steps: [], errors: [LessonError(file: path, line: nil, field: "file", reason: "is not UTF-8 text")])
        }
        return read(text, file: path)
    }

    /// Parses a lesson's text, going on after an error to find the others.
    public static func read(_ text: String, file: String) -> Reading {
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: text) else {
                return Reading(lesson: nil, steps: [], errors: [LessonError(file: file, line: nil, field: "file", reason: "is empty")])
            }
            root = node
        } catch let error as YamlError {
            return Reading(lesson: nil, steps: [], errors: [LessonError(file: file, line: yamlLine(error), field: "YAML", reason: yamlProblem(error))])
        } catch {
            return Reading(lesson: nil, steps: [], errors: [LessonError(file: file, line: nil, field: "YAML", reason: "\(error)")])
        }
        let reader = Reader(file: file)
        let lesson = reader.lesson(root)
        return Reading(lesson: reader.errors.isEmpty ? lesson : nil, steps: reader.steps, errors: reader.errors)
    }

    private static func yamlLine(_ error: YamlError) -> Int? {
        switch error {
        case let .scanner(_, _, mark, _), let .parser(_, _, mark, _), let .composer(_, _, mark, _): mark.line
        default: nil
        }
    }

    private static func yamlProblem(_ error: YamlError) -> String {
        switch error {
        case let .scanner(_, problem, _, _), let .parser(_, problem, _, _), let .composer(_, problem, _, _): problem
        default: "\(error)".split(separator: "\n").first.map(String.init) ?? "invalid YAML"
        }
    }
}

/// Walks the YAML tree, keeping the path of the field being read for errors. An error in one field
/// is recorded and reading goes on with the next, so one pass finds every error of a file.
private final class Reader {
    let file: String
    var errors: [LessonError] = []
    /// The steps read without error.
    var steps: [LessonStep] = []

    init(file: String) { self.file = file }

    func fail(_ node: Node?, _ field: String, _ reason: String) -> LessonError {
        LessonError(file: file, line: node?.mark?.line, field: field, reason: reason)
    }

    /// What `read` gives, or nil with its error recorded.
    func attempt<T>(_ read: () throws(LessonError) -> T) -> T? {
        do { return try read() } catch {
            errors.append(error)
            return nil
        }
    }

    /// The fields of a map; an unknown field is recorded and left out.
    func mapping(_ node: Node, _ field: String, allowed: [String]) throws(LessonError) -> [(String, Node, Node)] {
        guard let map = node.mapping else { throw fail(node, field, "expected a map of fields") }
        var pairs: [(String, Node, Node)] = []
        for (key, value) in map {
            guard let name = key.string else {
                errors.append(fail(key, field, "field names must be text"))
                continue
            }
            guard allowed.contains(name) else {
                errors.append(fail(key, field.isEmpty ? name : "\(field).\(name)", "unknown field \(quoted(name))" + suggestion(name, allowed)))
                continue
            }
            pairs.append((name, key, value))
        }
        return pairs
    }

    func suggestion(_ word: String, _ choices: [String]) -> String {
        guard word.count <= 64, let best = choices.min(by: { editDistance($0, word) < editDistance($1, word) }), editDistance(best, word) <= 3 else {
            return " (expected one of \(choices.joined(separator: ", ")))"
        }
        return " — did you mean '\(best)'?"
    }

    func string(_ node: Node, _ field: String) throws(LessonError) -> String {
        guard case .scalar(let s) = node, !(s.style == .plain && ["~", "null", ""].contains(s.string)) else {
            throw fail(node, field, "expected text")
        }
        return s.string
    }

    func localized(_ node: Node, _ field: String) throws(LessonError) -> LocalizedText {
        if case .scalar(let s) = node { return LocalizedText(["en": s.string]) }
        var texts: [String: String] = [:]
        for (name, _, value) in try mapping(node, field, allowed: LessonLoader.languages) { texts[name] = try string(value, "\(field).\(name)") }
        guard texts["en"] != nil else { throw fail(node, field, "needs an 'en' text") }
        return LocalizedText(texts)
    }

    /// A name that goes into paths or value names: letters, digits and `extra`, starting with a letter,
    /// `_` or (with `digitFirst`) a digit, at most `maxNameLength` long.
    func name(_ node: Node, _ field: String, extra: Set<Character>, digitFirst: Bool, rule: String) throws(LessonError) -> String {
        let text = try string(node, field)
        guard let first = text.first, first.isLetter || first == "_" || digitFirst && first.isNumber,
              text.allSatisfy({ $0.isLetter || $0.isNumber || extra.contains($0) }) else {
            throw fail(node, field, "\(quoted(text)) must \(rule)")
        }
        guard text.count <= LessonLoader.maxNameLength else {
            throw fail(node, field, "\(quoted(text)) is \(text.count) characters long; the most is \(LessonLoader.maxNameLength)")
        }
        return text
    }

    func lesson(_ root: Node) -> Lesson? {
        var id: String?, title: LocalizedText?, summary: LocalizedText?
        guard let pairs = attempt({ () throws(LessonError) in try mapping(root, "", allowed: ["id", "title", "summary", "steps"]) }) else { return nil }
        for (name, key, value) in pairs {
            switch name {
            case "id":
                id = attempt { () throws(LessonError) in
                    try self.name(value, "id", extra: ["-", "_"], digitFirst: true, rule: "be letters, digits, '-' and '_', not starting with '-' (it names the output folder)")
                }
            case "title": title = attempt { () throws(LessonError) in try localized(value, "title") }
            case "summary": summary = attempt { () throws(LessonError) in try localized(value, "summary") }
            default:
                guard case .sequence(let list) = value, !list.isEmpty else {
                    errors.append(fail(key, "steps", "expected a list of at least one step"))
                    continue
                }
                for (i, node) in list.enumerated() {
                    if let step = step(node, index: i) { steps.append(step) }
                }
            }
        }
        let given = Set(pairs.map(\.0))
        for field in ["id", "title", "steps"] where !given.contains(field) { errors.append(fail(root, field, "missing")) }
        guard let id, let title, !steps.isEmpty else { return nil }
        return Lesson(id: id, title: title, summary: summary ?? LocalizedText([:]), steps: steps, file: file)
    }

    func step(_ node: Node, index: Int) -> LessonStep? {
        let field = "steps[\(index)]"
        let before = errors.count
        var title: LocalizedText?, narration: LocalizedText?, takeaway: LocalizedText?, action: LessonAction?, figure: FigureCall?
        var checks: [LessonCheck] = [], labels: [KeyValue] = []
        let fields = ["title", "narration", "takeaway", "labels", "action", "figure", "checks"]
        guard let pairs = attempt({ () throws(LessonError) in try mapping(node, field, allowed: fields) }) else {
            return nil
        }
        for (name, _, value) in pairs {
            switch name {
            case "title": title = attempt { () throws(LessonError) in try localized(value, "\(field).title") }
            case "narration":
                guard let text = attempt({ () throws(LessonError) in try localized(value, "\(field).narration") }) else { continue }
                for (lang, body) in text.byLanguage.sorted(by: { $0.key < $1.key }) {
                    do { try Template.validate(body) } catch { errors.append(fail(value, "\(field).narration.\(lang)", error.reason)) }
                }
                narration = text
            case "takeaway": takeaway = attempt { () throws(LessonError) in try localized(value, "\(field).takeaway") }
            case "labels": labels = attempt { () throws(LessonError) in try self.labels(value, "\(field).labels") } ?? []
            case "action": action = attempt { () throws(LessonError) in try self.action(value, "\(field).action") }
            case "figure": figure = attempt { () throws(LessonError) in try drawCall(value, "\(field).figure") }
            default:
                guard case .sequence(let list) = value else {
                    errors.append(fail(value, "\(field).checks", "expected a list of comparisons"))
                    continue
                }
                for (i, item) in list.enumerated() {
                    guard let text = attempt({ () throws(LessonError) in try string(item, "\(field).checks[\(i)]") }) else { continue }
                    do throws(ParseFailure) {
                        let comparison = try Comparison.parse(text)
                        if let problem = comparison.staticProblem() { throw problem }
                        checks.append(LessonCheck(text: text, expression: comparison, line: item.mark?.line ?? 0))
                    } catch {
                        errors.append(fail(item, "\(field).checks[\(i)]", "\(quoted(text)): \(error.reason)"))
                    }
                }
            }
        }
        let given = Set(pairs.map(\.0))
        for required in ["title", "action"] where !given.contains(required) { errors.append(fail(node, "\(field).\(required)", "missing")) }
        guard errors.count == before, let title, let action else { return nil }
        return LessonStep(index: index, title: title, narration: narration ?? LocalizedText([:]), takeaway: takeaway, labels: labels,
                          action: action, figure: figure, checks: checks, line: node.mark?.line ?? 0)
    }

    /// `{kv_bytes_per_token: {en: KV cache per token, ja: …}, …}`: at most `LessonStep.maxKeyValues`
    /// value names (as the narration quotes them, `mqa.kv_bytes_per_token`) with their labels.
    func labels(_ node: Node, _ field: String) throws(LessonError) -> [KeyValue] {
        guard let map = node.mapping else { throw fail(node, field, "expected a map of value name → label") }
        guard map.count <= LessonStep.maxKeyValues else {
            throw fail(node, field, "\(map.count) labels; a slide shows at most \(LessonStep.maxKeyValues) key numbers, so label the \(LessonStep.maxKeyValues) that matter most")
        }
        var out: [KeyValue] = []
        for (key, value) in map {
            let name = try self.name(key, field, extra: ["_", "."], digitFirst: false, rule: "be a value name (letters, digits, '_' and '.')")
            out.append(KeyValue(name: name, label: try localized(value, "\(field).\(name)")))
        }
        return out
    }

    /// `{kv: {preset: llama-3-8b}}`, `{compare: [{name: a, kv: {…}}, …]}` or `{draw: {heads: {…}}}`.
    func action(_ node: Node, _ field: String) throws(LessonError) -> LessonAction {
        let pairs = try mapping(node, field, allowed: LessonLoader.actions)
        guard pairs.count == 1, let (name, key, value) = pairs.first else { throw fail(node, field, "give exactly one action") }
        switch name {
        case "draw": return .draw(try drawCall(value, "\(field).draw"))
        case "compare":
            guard case .sequence(let list) = value, list.count >= 2 else { throw fail(key, "\(field).compare", "expected a list of at least two runs") }
            var runs: [(String, ActionCall)] = []
            for (i, item) in list.enumerated() {
                let itemField = "\(field).compare[\(i)]"
                let fields = try mapping(item, itemField, allowed: ["name"] + LessonLoader.actions.filter { !["compare", "draw"].contains($0) })
                guard let nameNode = fields.first(where: { $0.0 == "name" })?.2 else { throw fail(item, "\(itemField).name", "missing") }
                let runName = try self.name(nameNode, "\(itemField).name", extra: ["_"], digitFirst: false,
                                            rule: "start with a letter and use only letters, digits and '_' (it prefixes value names)")
                guard !runs.contains(where: { $0.0 == runName }) else { throw fail(nameNode, "\(itemField).name", "\(quoted(runName)) is used twice") }
                let calls = fields.filter { $0.0 != "name" }
                guard calls.count == 1, let (command, _, flags) = calls.first else { throw fail(item, itemField, "give exactly one action besides 'name'") }
                runs.append((runName, try actionCall(command, flags, "\(itemField).\(command)")))
            }
            return .compare(runs)
        default:
            return .single(try actionCall(name, value, "\(field).\(name)"))
        }
    }

    func drawCall(_ node: Node, _ field: String) throws(LessonError) -> FigureCall {
        let pairs = try mapping(node, field, allowed: LessonLoader.figures)
        guard pairs.count == 1, let (name, _, flagsNode) = pairs.first, let kind = FigureKind(rawValue: name) else {
            throw fail(node, field, "give exactly one figure kind")
        }
        return FigureCall(kind: kind, flags: try flags(flagsNode, "\(field).\(name)"), line: flagsNode.mark?.line ?? 0)
    }

    /// `mapping(allowed:)` has already checked the name against `LessonLoader.actions`.
    func actionCall(_ name: String, _ node: Node, _ field: String) throws(LessonError) -> ActionCall {
        guard let kind = ActionKind(rawValue: name) else { throw fail(node, field, "unknown action \(quoted(name))") }
        return ActionCall(kind: kind, flags: try flags(node, field), line: node.mark?.line ?? 0)
    }

    /// A flags map, in the file's order; `true` is a bare switch, `false` leaves the flag out. A bad
    /// flag is recorded and left out.
    func flags(_ node: Node, _ field: String) throws(LessonError) -> Flags {
        var flags = Flags()
        if case .scalar(let s) = node, s.string.isEmpty || s.string == "~" || s.string == "null" { return flags }
        guard let map = node.mapping else { throw fail(node, field, "expected a map of flags, e.g. {preset: llama-3-8b}") }
        for (key, value) in map {
            guard let flag = key.string, !flag.isEmpty, !flag.hasPrefix("-") else {
                errors.append(fail(key, field, "flags are written without dashes"))
                continue
            }
            // Where results go is the runner's business: a lesson cannot write anywhere else.
            guard !["o", "output", "trace", "trace-format", "frames", "json", "format", "out"].contains(flag) else {
                errors.append(fail(key, "\(field).\(flag)", "is set by the runner (results go to the lesson's output folder)"))
                continue
            }
            guard case .scalar(let scalar) = value else {
                errors.append(fail(value, "\(field).\(flag)", "expected a single value"))
                continue
            }
            switch scalar.string {
            case "true" where scalar.style == .plain: flags.list.append(.init(flag, nil))
            case "false" where scalar.style == .plain: break
            default: flags.list.append(.init(flag, scalar.string))
            }
        }
        return flags
    }
}
