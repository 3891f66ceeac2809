import AttnExperiments
import AttnLessons
import AttnTrace
import Foundation
import Testing

@Suite("Expressions are bounded: no input exhausts the stack")
struct ExpressionLimitTests {
    static func nested(_ depth: Int) -> String { String(repeating: "(", count: depth) + "1" + String(repeating: ")", count: depth) }

    @Test("the issue's inputs are refused with a reason, not a crash")
    func hostile() throws {
        for (text, reason) in [(Self.nested(27_547) + " == 1", "at most 4096"),
                               (String(repeating: "-", count: 58_178) + "1 == 1", "at most 4096"),
                               (Array(repeating: "1", count: 87_305).joined(separator: " + ") + " == 1", "at most 4096"),
                               (Self.nested(65) + " == 1", "more than 64 deep"),
                               (String(repeating: "-", count: 65) + "1 == 1", "more than 64 deep")] {
            #expect { try Comparison.parse(text) } throws: { ($0 as? ParseFailure)?.reason.contains(reason) == true }
            #expect(throws: ParseFailure.self) { try Template.validate("{{ \(text.dropLast(5)) }}") }
            #expect(throws: ParseFailure.self) { try Template.render("{{ \(text.dropLast(5)) }}", values: [:], texts: [:]) }
        }
    }

    @Test("at the limits: 64 levels and a 2,000-term sum parse and evaluate")
    func atLimits() throws {
        #expect(try Comparison.parse(Self.nested(64) + " == 1").evaluate([:]).holds)
        #expect(try Comparison.parse(String(repeating: "-", count: 64) + "x == 3").evaluate(["x": 3]).holds)
        let sum = Array(repeating: "x", count: 2_000).joined(separator: "+")
        #expect(try Comparison.parse(sum + " == 4000").evaluate(["x": 2]).holds)
        let quotient = "x" + String(repeating: "/2", count: 2_000)
        #expect(try Expression.parse(quotient).value(["x": 1]) == 1 / pow(2, 2_000))
        #expect(try Expression.parse("2 - 3 + 4 * 5 / 10 - -1").value([:]) == 2)
    }

    @Test("a lesson with such a check gives a one-line error")
    func inLesson() throws {
        let text = minimal.replacingOccurrences(of: "- kv_bytes_per_token == 131072", with: "- " + Self.nested(27_547) + " == 1")
        let errors = LessonLoader.read(text, file: "t.yaml").errors
        #expect(errors.map(\.description) == ["t.yaml:11: steps[0].checks[0]: '" + String(repeating: "(", count: 60)
                                              + "…': is 55100 characters long; an expression has at most 4096 (split it into several checks)"])
    }
}

/// `minimal` without the flags a kv run refuses, so it passes `check`.
private let validLesson = minimal.replacingOccurrences(of: ", log: false, verify: true", with: "")

/// Writes `text` as a lesson file and returns what `attnlab check` finds in it.
private func checked(_ text: String) throws -> [String] {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("attnlab-check-\(UUID().uuidString).yaml")
    try Data(text.utf8).write(to: url)
    defer { try? FileManager.default.removeItem(at: url) }
    return LessonRunner.check(file: url.path).errors.map { $0.description.replacingOccurrences(of: url.path, with: "t.yaml") }
}

@Suite("check finds, without the engine, what the run would refuse")
struct StaticCheckTests {
    @Test("every error of a file, one line each, in file order")
    func allErrors() throws {
        let text = """
            id: broken
            title: Broken
            steps:
              - title: Unknown names
                narration: "{{ kv_bytes_per_tokn }} {{ generated_text }} {{ 3 }}"
                action: {kv: {preset: llama-3-8b}}
                checks: [kv_bytes_per_token == 131072, kv_byts == 3, attention == 1]
              - title: Too big to decode
                action: {decode: {layers: 4000, d-model: 4096}}
                checks: [kv_layers > 0]
              - title: Compare runs prefix their values
                action: {compare: [{name: a, kv: {}}, {name: b, kv: {}}]}
                checks: [kv_layers > 0, a.kv_layers == b.kv_layers]
              - title: Another step's values
                action: {tile: {n: 64, d: 16}}
                checks: [a.kv_layers > 0, forward.reads.Q > 0]
              - title: A figure has no values
                narration: "{{ n }}"
                action: {draw: {heads: {}}}
            """
        #expect(try checked(text) == [
            "t.yaml:4: steps[0].narration.en: unknown value 'kv_bytes_per_tokn' in this step's results",
            "t.yaml:4: steps[0].narration.en: unknown value 'generated_text' in this step's results",
            "t.yaml:4: steps[0].narration.en: unknown value '3' in this step's results",
            "t.yaml:7: steps[0].checks[1]: 'kv_byts == 3': unknown value 'kv_byts' in this step's results",
            "t.yaml:7: steps[0].checks[2]: 'attention == 1': 'attention' is text; checks compare numbers",
            "t.yaml:9: steps[1].action.decode.layers/d-model: the model has 806388330496 parameters (3076127 MiB as Float32), above the simulator's limit of 268435456 (1 GiB); `attnlab kv` and `attnlab params` handle full-size models",
            "t.yaml:13: steps[2].checks[0]: 'kv_layers > 0': unknown value 'kv_layers' in this step's results (did you mean a.kv_layers, b.kv_layers?)",
            "t.yaml:16: steps[3].checks[0]: 'a.kv_layers > 0': unknown value 'a.kv_layers' in this step's results",
            "t.yaml:17: steps[4].narration.en: unknown value 'n' in this step's results",
        ])
    }

    @Test("the loader goes on after an error: unknown fields, bad checks and a missing action all reported")
    func loaderGoesOn() throws {
        let text = validLesson.replacingOccurrences(of: "narration:", with: "narrate:")
            .replacingOccurrences(of: "== 131072", with: "=== 131072")
            .replacingOccurrences(of: "title: {en: Test, ja: テスト}", with: "title: {en: Test, ja: テスト}\nauthor: me")
        #expect(try checked(text).map { $0.prefix(while: { $0 != "'" }) } == ["t.yaml:3: author: unknown field ", "t.yaml:6: steps[0].narrate: unknown field ",
                                                                             "t.yaml:12: steps[0].checks[0]: "])
    }

    @Test("division by a constant zero, in a check or a placeholder, is refused when the file is read")
    func divisionByZero() throws {
        let check = validLesson.replacingOccurrences(of: "kv_bytes_per_token == 131072", with: "kv_bytes_per_token / (2 - 2) == 1")
        #expect(try checked(check) == ["t.yaml:11: steps[0].checks[0]: 'kv_bytes_per_token / (2 - 2) == 1': divides by zero"])
        let placeholder = validLesson.replacingOccurrences(of: "en: \"{{ kv_bytes_per_token | grouped }} bytes\"", with: "en: \"{{ kv_bytes_per_token / 0 }} bytes\"")
        #expect(try checked(placeholder) == ["t.yaml:6: steps[0].narration.en: '{{ kv_bytes_per_token / 0 }}': divides by zero"])
        #expect(try checked(validLesson.replacingOccurrences(of: "== 131072", with: "== 1 / 0.5")).isEmpty, "a non-zero constant divides fine")
    }

    @Test("ids and compare-run names are at most 64 characters")
    func longNames() throws {
        let id = String(repeating: "a", count: 65)
        #expect(try checked(validLesson.replacingOccurrences(of: "id: 99-test", with: "id: \(id)"))
                == ["t.yaml:1: id: '\(String(repeating: "a", count: 60))…' is 65 characters long; the most is 64"])
        #expect(try checked(validLesson.replacingOccurrences(of: "id: 99-test", with: "id: \(id.dropLast())")).isEmpty)
        let compare = validLesson.replacingOccurrences(of: "kv: {preset: llama-3-8b, context: 8192}",
                                                   with: "compare: [{name: \(id), kv: {}}, {name: b, kv: {}}]")
        #expect(try checked(compare).first?.contains("steps[0].action.compare[0].name: '") == true)
    }

    @Test("the example lesson passes check")
    func valid() throws { #expect(try checked(validLesson).isEmpty) }

    @Test("every lesson in lessons/ passes check")
    func curriculum() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("lessons")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".yaml") }
        #expect(files.count >= 11)
        for file in files {
            #expect(LessonRunner.check(file: folder.appendingPathComponent(file).path).errors.isEmpty, "\(file)")
        }
    }
}

@Suite("Lesson errors are one line")
struct OneLineErrorTests {
    static let cases: [(String, String)] = [
        (validLesson.replacingOccurrences(of: "id: 99-test", with: "id: \"a\\nb\""), "t.yaml:1: id: 'a\\nb' must be"),
        (validLesson.replacingOccurrences(of: "title: One", with: "title: One\n    \"x\\ny\": 1"), "t.yaml:5: steps[0].x\\ny: unknown field 'x\\ny'"),
        (validLesson.replacingOccurrences(of: "- kv_bytes_per_token == 131072", with: "- \"kv_bytes_per_token\\n=== 1\""), "t.yaml:11: steps[0].checks[0]: 'kv_bytes_per_token\\n=== 1':"),
        (validLesson.replacingOccurrences(of: "en: \"{{ kv_bytes_per_token | grouped }} bytes\"", with: "en: \"{{ a |\\n b | c }}\""),
         "t.yaml:6: steps[0].narration.en: '{{ a |\\n b | c }}' is not"),
        (validLesson.replacingOccurrences(of: "- kv_bytes_per_token == 131072", with: "- " + String(repeating: "x", count: 500) + " ="),
         "t.yaml:11: steps[0].checks[0]: '" + String(repeating: "x", count: 60) + "…': expected one of"),
    ]

    @Test("newlines in ids, keys, checks and narration are escaped; long quotes are cut", arguments: cases)
    func oneLine(text: String, expected: String) throws {
        let errors = try checked(text)
        #expect(errors.first?.hasPrefix(expected) == true, "\(errors)")
        #expect(errors.allSatisfy { !$0.contains("\n") && $0.count < 400 }, "\(errors)")
    }
}

@Suite("Value names: each action's list is what its runs give")
struct ValueNameTests {
    /// Runs `kind` with `flags` and returns its flattened value names.
    static func names(_ kind: ActionKind, _ flags: [(String, String?)]) throws -> (numbers: Set<String>, texts: Set<String>) {
        let output = try Runs().output(of: try kind.experiment(Flags(flags.map { Flags.Flag($0.0, $0.1) })))
        let (numbers, texts) = output.json.flattened()
        return (Set(numbers.keys), Set(texts.keys))
    }

    static func textFile() throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("attnlab-names-\(UUID().uuidString).txt")
        try Data(String(repeating: "the cat sat on the mat. ", count: 8).utf8).write(to: url)
        return url.path
    }

    /// A text long enough for a training split and a validation split (8 chunks of 4 KiB).
    static func corpusFile() throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("attnlab-corpus-\(UUID().uuidString).txt")
        try Data((0..<1200).map { "line \($0): the cat sat on the mat.\n" }.joined().utf8).write(to: url)
        return url.path
    }

    /// Runs between them give every name of each list (`preset` only with a preset, `backward` only with --backward, …).
    static func runs() throws -> [ActionKind: [[(String, String?)]]] {
        let text = try textFile()
        let corpus = try corpusFile()
        let small: [(String, String?)] = [("layers", "2"), ("d-model", "16"), ("q-heads", "2"), ("ffn", "32")]
        return [
            .kv: [[("preset", "llama-3-8b")], [("layers", "4")],
                  [("preset", "mistral-7b"), ("context", "32768"), ("gpu-memory", "24GiB")],
                  [("preset", "llama-3-8b"), ("kv-quant", "int4"), ("kv-quant-pre-rope", nil), ("gpu-memory", "80GiB")],
                  [("preset", "llama-3-8b"), ("evict", "sinks"), ("kv-budget", "512"), ("page-tokens", "16"), ("requests", "300,1000")],
                  [("preset", "llama-3-8b"), ("kv-latent-rank", "256")]],
            .params: [[("preset", "llama-3-8b")], [("encoder", nil)]],
            .decode: [small + [("tokens", "3"), ("verify", nil)]],
            .tile: [[("n", "32"), ("d", "8"), ("sram-elements", "512"), ("backward", nil)],
                    [("n", "16"), ("d", "8"), ("sram-elements", "256"), ("q-heads", "2"), ("batch", "3")]],
            .sweep: [[("over", "n"), ("values", "16,32"), ("d", "8")]],
            .ppl: [small + [("text", text), ("eval-window", "8"), ("max-tokens", "32")],
                   small + [("text", text), ("eval-window", "8"), ("max-tokens", "32"), ("kv-quant", "int8"), ("kv-group", "8")]],
            .retrofit: [small + [("text", text), ("eval-window", "8"), ("max-tokens", "32"), ("to", "mqa")]],
            .compareKV: [small + [("text", text), ("eval-window", "8"), ("max-tokens", "32"), ("to", "mqa h2o:4")]],
            .train: [small + [("corpus", corpus), ("tokenizer", "bytes"), ("steps", "2"), ("batch", "2"), ("seq", "16"), ("eval-tokens", "32")]],
            .study: [[("study", "cla-mini"), ("seeds", "1"), ("corpus", corpus), ("tokenizer", "bytes"), ("steps", "1"), ("batch", "1"),
                      ("seq", "16"), ("eval-tokens", "16")]],
        ]
    }

    @Test("every name a run gives is in its action's list, with its kind; every pattern of the list is given by some run")
    func listsMatchRuns() throws {
        let runs = try Self.runs()
        #expect(Set(runs.keys) == Set(ActionKind.allCases))
        for kind in ActionKind.allCases {
            let list = kind.valueNames
            var given: (numbers: Set<String>, texts: Set<String>) = ([], [])
            for flags in runs[kind] ?? [] {
                let n = try Self.names(kind, flags)
                given.numbers.formUnion(n.numbers)
                given.texts.formUnion(n.texts)
            }
            for name in given.numbers { #expect(list.kind(of: name) == .number, "\(kind): \(name) is a number") }
            for name in given.texts { #expect(list.kind(of: name) == .text, "\(kind): \(name) is a text") }
            for pattern in list.numbers { #expect(given.numbers.contains { ValueNames.matches(pattern, $0) }, "\(kind): no run gives \(pattern)") }
            for pattern in list.texts { #expect(given.texts.contains { ValueNames.matches(pattern, $0) }, "\(kind): no run gives \(pattern)") }
        }
    }

    @Test("patterns: # is a list index, * any one key")
    func patterns() {
        #expect(ValueNames.matches("kv_map.#", "kv_map.12"))
        #expect(!ValueNames.matches("kv_map.#", "kv_map.x"))
        #expect(!ValueNames.matches("kv_map.#", "kv_map"))
        #expect(ValueNames.matches("forward.reads.*", "forward.reads.Q"))
        #expect(!ValueNames.matches("forward.reads.*", "forward.reads.Q.x"))
        #expect(KVResult.valueNames.prefixed("mqa").kind(of: "mqa.kv_layers") == .number)
    }
}
