import AttnEngine
import AttnExperiments
import Foundation
import Yams

/// Reads lesson files, with errors that name the file, line and field.
public enum LessonLoader {
    /// Actions a step may run, and the figure kinds `draw` and `figure` take.
    public static let actions = ActionKind.allCases.map(\.rawValue) + ["compare", "draw"]
    public static let figures = FigureKind.allCases.map(\.rawValue)
    static let languages = Language.allCases.map(\.rawValue)

    public static func load(file path: String) throws(LessonError) -> Lesson {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw LessonError(file: path, line: nil, field: "file", reason: "cannot be read")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw LessonError(file: path, line: nil, field: "file", reason: "is not UTF-8 text")
        }
        return try parse(text, file: path)
    }

    public static func parse(_ text: String, file: String) throws(LessonError) -> Lesson {
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: text) else { throw LessonError(file: file, line: nil, field: "file", reason: "is empty") }
            root = node
        } catch let error as LessonError {
            throw error
        } catch let error as YamlError {
            throw LessonError(file: file, line: yamlLine(error), field: "YAML", reason: yamlProblem(error))
        } catch {
            throw LessonError(file: file, line: nil, field: "YAML", reason: "\(error)")
        }
        var reader = Reader(file: file)
        return try reader.lesson(root)
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

/// Walks the YAML tree, keeping the path of the field being read for errors.
private struct Reader {
    let file: String

    func fail(_ node: Node?, _ field: String, _ reason: String) -> LessonError {
        LessonError(file: file, line: node?.mark?.line, field: field, reason: reason)
    }

    func mapping(_ node: Node, _ field: String, allowed: [String]) throws(LessonError) -> [(String, Node, Node)] {
        guard let map = node.mapping else { throw fail(node, field, "expected a map of fields") }
        var pairs: [(String, Node, Node)] = []
        for (key, value) in map {
            guard let name = key.string else { throw fail(key, field, "field names must be text") }
            guard allowed.contains(name) else {
                throw fail(key, field.isEmpty ? name : "\(field).\(name)", "unknown field '\(name)'" + suggestion(name, allowed))
            }
            pairs.append((name, key, value))
        }
        return pairs
    }

    func suggestion(_ word: String, _ choices: [String]) -> String {
        guard let best = choices.min(by: { editDistance($0, word) < editDistance($1, word) }), editDistance(best, word) <= 3 else {
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

    mutating func lesson(_ root: Node) throws(LessonError) -> Lesson {
        var id: String?, title: LocalizedText?, summary: LocalizedText?, steps: [LessonStep] = []
        for (name, key, value) in try mapping(root, "", allowed: ["id", "title", "summary", "steps"]) {
            switch name {
            case "id":
                let text = try string(value, "id")
                guard !text.isEmpty, text.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }), text.first != "-" else {
                    throw fail(value, "id", "'\(text)' must be letters, digits, '-' and '_' (it names the output folder)")
                }
                id = text
            case "title": title = try localized(value, "title")
            case "summary": summary = try localized(value, "summary")
            default:
                guard case .sequence(let list) = value, !list.isEmpty else { throw fail(key, "steps", "expected a list of at least one step") }
                for (i, node) in list.enumerated() { steps.append(try step(node, index: i)) }
            }
        }
        guard let id else { throw fail(root, "id", "missing") }
        guard let title else { throw fail(root, "title", "missing") }
        guard !steps.isEmpty else { throw fail(root, "steps", "missing") }
        return Lesson(id: id, title: title, summary: summary ?? LocalizedText([:]), steps: steps, file: file)
    }

    func step(_ node: Node, index: Int) throws(LessonError) -> LessonStep {
        let field = "steps[\(index)]"
        var title: LocalizedText?, narration: LocalizedText?, action: LessonAction?, figure: FigureCall?, checks: [LessonCheck] = []
        for (name, _, value) in try mapping(node, field, allowed: ["title", "narration", "action", "figure", "checks"]) {
            switch name {
            case "title": title = try localized(value, "\(field).title")
            case "narration":
                let text = try localized(value, "\(field).narration")
                for (lang, body) in text.byLanguage.sorted(by: { $0.key < $1.key }) {
                    do { try Template.validate(body) } catch { throw fail(value, "\(field).narration.\(lang)", error.reason) }
                }
                narration = text
            case "action": action = try self.action(value, "\(field).action")
            case "figure": figure = try drawCall(value, "\(field).figure")
            default:
                guard case .sequence(let list) = value else { throw fail(value, "\(field).checks", "expected a list of comparisons") }
                for (i, item) in list.enumerated() {
                    let text = try string(item, "\(field).checks[\(i)]")
                    do {
                        checks.append(LessonCheck(text: text, expression: try Comparison.parse(text), line: item.mark?.line ?? 0))
                    } catch {
                        throw fail(item, "\(field).checks[\(i)]", "'\(text)': \(error.reason)")
                    }
                }
            }
        }
        guard let title else { throw fail(node, "\(field).title", "missing") }
        guard let action else { throw fail(node, "\(field).action", "missing") }
        return LessonStep(index: index, title: title, narration: narration ?? LocalizedText([:]), action: action, figure: figure,
                          checks: checks, line: node.mark?.line ?? 0)
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
                let runName = try string(nameNode, "\(itemField).name")
                guard let first = runName.first, first.isLetter || first == "_",
                      runName.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
                    throw fail(nameNode, "\(itemField).name", "'\(runName)' must start with a letter and use only letters, digits and '_' (it prefixes value names)")
                }
                guard !runs.contains(where: { $0.0 == runName }) else { throw fail(nameNode, "\(itemField).name", "'\(runName)' is used twice") }
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
        guard let kind = ActionKind(rawValue: name) else { throw fail(node, field, "unknown action '\(name)'") }
        return ActionCall(kind: kind, flags: try flags(node, field), line: node.mark?.line ?? 0)
    }

    /// A flags map, in the file's order; `true` is a bare switch, `false` leaves the flag out.
    func flags(_ node: Node, _ field: String) throws(LessonError) -> Flags {
        var flags = Flags()
        if case .scalar(let s) = node, s.string.isEmpty || s.string == "~" || s.string == "null" { return flags }
        guard let map = node.mapping else { throw fail(node, field, "expected a map of flags, e.g. {preset: llama-3-8b}") }
        for (key, value) in map {
            guard let flag = key.string, !flag.isEmpty, !flag.hasPrefix("-") else { throw fail(key, field, "flags are written without dashes") }
            // Where results go is the runner's business: a lesson cannot write anywhere else.
            guard !["o", "output", "trace", "trace-format", "frames", "json", "format", "out"].contains(flag) else {
                throw fail(key, "\(field).\(flag)", "is set by the runner (results go to the lesson's output folder)")
            }
            guard case .scalar(let scalar) = value else { throw fail(value, "\(field).\(flag)", "expected a single value") }
            switch scalar.string {
            case "true" where scalar.style == .plain: flags.list.append(.init(flag, nil))
            case "false" where scalar.style == .plain: break
            default: flags.list.append(.init(flag, scalar.string))
            }
        }
        return flags
    }
}
