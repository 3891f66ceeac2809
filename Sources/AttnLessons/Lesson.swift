import AttnEngine
import AttnTrace
import AttnExperiments

/// Text in one or more languages; `en` is the fallback.
public struct LocalizedText: Sendable, Equatable {
    public var byLanguage: [String: String]

    public init(_ byLanguage: [String: String]) { self.byLanguage = byLanguage }

    public func text(_ language: Language) -> String { byLanguage[language.rawValue] ?? byLanguage["en"] ?? byLanguage.values.sorted().first ?? "" }
}

/// One command a step runs — an action (`kv`, `decode`, …) or a figure (`heads`, `tiles`, …) — with
/// its flags as the lesson file gives them.
public struct Call<Kind: CommandKind>: Sendable, Equatable {
    public let kind: Kind
    public let flags: Flags
    /// Where it stands in the file, for errors.
    public let line: Int

    public init(kind: Kind, flags: Flags, line: Int) {
        self.kind = kind
        self.flags = flags
        self.line = line
    }

    /// The equivalent command line, shown in reports.
    public var commandLine: String {
        (["attnlab", kind.verb] + flags.arguments.map { $0.contains(" ") || $0.isEmpty ? "\"\($0)\"" : $0 }).joined(separator: " ")
    }
}

public typealias ActionCall = Call<ActionKind>
public typealias FigureCall = Call<FigureKind>

/// What a step runs.
public enum LessonAction: Sendable, Equatable {
    case single(ActionCall)
    /// Several runs whose values are prefixed with their names.
    case compare([(name: String, call: ActionCall)])
    /// A figure only.
    case draw(FigureCall)

    public static func == (a: LessonAction, b: LessonAction) -> Bool {
        switch (a, b) {
        case let (.single(x), .single(y)): x == y
        case let (.draw(x), .draw(y)): x == y
        case let (.compare(x), .compare(y)): x.elementsEqual(y) { $0.name == $1.name && $0.call == $1.call }
        default: false
        }
    }
}

/// One check: a comparison evaluated on the step's values.
public struct LessonCheck: Sendable, Equatable {
    public let text: String
    public let expression: Comparison
    public let line: Int
}

/// A value a step singles out, with the words a slide and a value table show for it.
public struct KeyValue: Sendable, Equatable {
    /// The value's name, as checks and the narration use it (`mqa.kv_bytes_per_token`).
    public let name: String
    public let label: LocalizedText
}

public struct LessonStep: Sendable {
    /// Key numbers per step: what a slide can show in large type beside its figure.
    public static let maxKeyValues = 3

    public let index: Int
    public let title: LocalizedText
    public let narration: LocalizedText
    /// The one sentence a slide states; without it, the narration's first bold passage.
    public let takeaway: LocalizedText?
    /// The step's key numbers, in the order the file gives them.
    public let labels: [KeyValue]
    public let action: LessonAction
    /// A figure drawn beside a computing action.
    public let figure: FigureCall?
    public let checks: [LessonCheck]
    public let line: Int
}

public struct Lesson: Sendable {
    public let id: String
    public let title: LocalizedText
    public let summary: LocalizedText
    public let steps: [LessonStep]
    /// The file it was read from, as given.
    public let file: String
}

/// A problem in a lesson file: `lessons/03-cla.yaml:41: steps[3].action: unknown action 'decod'`.
public struct LessonError: AttnLabError, CustomStringConvertible {
    public let file: String
    public let line: Int?
    /// The path of the field at fault: `steps[1].action.decode.layers`.
    public let field: String
    public let reason: String

    /// Newlines and other control characters in any part are escaped: the error prints as one line
    /// whatever the file's name, keys and texts hold.
    public init(file: String, line: Int?, field: String, reason: String) {
        self.file = oneLine(file)
        self.line = line
        self.field = oneLine(field)
        self.reason = oneLine(reason)
    }

    /// An error an action or figure threw, placed in the lesson: a field it names becomes the key
    /// under `path` that the lesson spells it with (`steps[1].action.decode` + `layers`).
    public init(file: String, line: Int?, path: String, _ error: any Error) {
        guard let e = error as? any AttnLabError else {
            self.init(file: file, line: line, field: path, reason: "\(error)")
            return
        }
        switch e.subject {
        case .fields(let fields): self.init(file: file, line: line, field: "\(path).\(fields.map(\.flagName).joined(separator: "/"))", reason: e.reason)
        case .named(let name): self.init(file: file, line: line, field: "\(path).\(name)", reason: e.reason)
        case .file(let f): self.init(file: file, line: line, field: path, reason: "\(f): \(e.reason)")
        case .system(let s): self.init(file: file, line: line, field: path, reason: "\(s): \(e.reason)")
        case .lesson(let f, let l, let p): self.init(file: f, line: l, field: p, reason: e.reason)
        }
    }

    public var subject: Subject { .lesson(file: file, line: line, path: field) }

    public var description: String { "\(file)\(line.map { ":\($0)" } ?? ""): \(field): \(reason)" }
}
