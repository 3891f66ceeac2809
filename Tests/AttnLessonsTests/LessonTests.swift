import AttnExperiments
import AttnLessons
import AttnTrace
import Foundation
import Testing

let minimal = """
    id: 99-test
    title: {en: Test, ja: テスト}
    steps:
      - title: One
        narration:
          en: "{{ kv_bytes_per_token | grouped }} bytes"
          ja: "{{ kv_bytes_per_token | grouped }} バイト"
        action:
          kv: {preset: llama-3-8b, context: 8192, log: false, verify: true}
        checks:
          - kv_bytes_per_token == 131072
    """

@Suite("Lesson files")
struct LessonFileTests {
    @Test("a lesson parses into steps, actions as command-line flags, checks and both languages")
    func parse() throws {
        let lesson = try LessonLoader.parse(minimal, file: "t.yaml")
        #expect(lesson.id == "99-test")
        #expect(lesson.title.text(.ja) == "テスト" && lesson.title.text(.en) == "Test")
        #expect(LocalizedText(["en": "only English"]).text(.ja) == "only English", "a missing language falls back to English")
        let step = try #require(lesson.steps.first)
        #expect(step.action == .single(ActionCall(kind: .kv, flags: Flags([.init("preset", "llama-3-8b"), .init("context", "8192"), .init("verify", nil)]), line: 9)))
        #expect(step.checks.map(\.text) == ["kv_bytes_per_token == 131072"])
        #expect(step.checks[0].line == 11)
    }

    /// Each broken file and the start of the one-line error it must give.
    static let broken: [(String, String)] = [
        (minimal.replacingOccurrences(of: "kv: {preset", with: "kb: {preset"), "t.yaml:9: steps[0].action.kb: unknown field 'kb' — did you mean 'kv'?"),
        (minimal.replacingOccurrences(of: "narration:", with: "narrate:"), "t.yaml:5: steps[0].narrate: unknown field 'narrate'"),
        (minimal.replacingOccurrences(of: "== 131072", with: "=== 131072"), "t.yaml:11: steps[0].checks[0]: '"),
        (minimal.replacingOccurrences(of: "id: 99-test", with: "id: ../escape"), "t.yaml:1: id: '../escape' must be"),
        (minimal.replacingOccurrences(of: "    action:\n      kv: {preset: llama-3-8b, context: 8192, log: false, verify: true}\n", with: ""), "t.yaml:4: steps[0].action: missing"),
        ("id: x\ntitle: a: b\n", "t.yaml:2: YAML: mapping values are not allowed"),
        (minimal.replacingOccurrences(of: "{en: Test, ja: テスト}", with: "{ja: テスト}"), "t.yaml:2: title: needs an 'en' text"),
    ]

    @Test("errors name the file, the line and the field", arguments: broken)
    func errors(text: String, expected: String) {
        do {
            _ = try LessonLoader.parse(text, file: "t.yaml")
            Issue.record("no error for \(expected)")
        } catch {
            #expect(error.description.hasPrefix(expected), "\(error.description)")
            #expect(!error.description.contains("\n"))
        }
    }

    @Test("compare runs need distinct names made of letters, digits and _")
    func compareNames() {
        let text = minimal.replacingOccurrences(of: "kv: {preset: llama-3-8b, context: 8192, log: false, verify: true}",
                                                with: "compare:\n        - {name: a-b, kv: {preset: llama-3-8b}}\n        - {name: c, kv: {preset: llama-3-8b}}")
        #expect(throws: LessonError.self) { try LessonLoader.parse(text, file: "t.yaml") }
    }
}

@Suite("Checks and narration")
struct CheckTests {
    @Test("arithmetic, precedence, comparisons and the tolerant ~=")
    func evaluate() throws {
        let values = ["a.b": 10.0, "c": 4, "tiny": 1e-7]
        func holds(_ text: String) throws -> Bool { try Comparison.parse(text).evaluate(values).holds }
        #expect(try holds("a.b * 2 == c * 5"))
        #expect(try holds("a.b - c / 2 == 8"))
        #expect(try holds("(a.b - c) / 2 == 3"))
        #expect(try holds("-c < 0"))
        #expect(try holds("tiny <= 1e-6"))
        #expect(try holds("0.1 + 0.2 ~= 0.3"))
        #expect(try !holds("0.1 + 0.2 == 0.3"))
        #expect(try holds("80e9 / a.b >= 1e9"))
        #expect(throws: ParseFailure.self) { try Comparison.parse("a.b = 3") }
        #expect(throws: ParseFailure.self) { try Comparison.parse("(a.b == 3") }
        #expect(throws: ParseFailure.self) { try Comparison.parse("zzz == 3").evaluate(values) }
    }

    @Test("templates quote values with filters and refuse unknown names")
    func templates() throws {
        let text = try Template.render("{{ n | grouped }} B = {{ n | bytes }}, {{ f | percent }}, {{ f | fixed2 }}, {{ s }}, {{ n }}",
                                       values: ["n": 33_554_432, "f": 0.875], texts: ["s": "hi"])
        #expect(text == "33,554,432 B = 33.55 MB, 87.50%, 0.88, hi, 33554432")
        #expect(try Template.render("{{ n / 1024 | grouped }} KiB, {{ 1 - f | percent }}", values: ["n": 33_554_432, "f": 0.875], texts: [:])
                == "32,768 KiB, 12.50%")
        #expect(throws: ParseFailure.self) { try Template.render("{{ nope }}", values: [:], texts: [:]) }
        #expect(throws: ParseFailure.self) { try Template.render("{{ n | shout }}", values: ["n": 1], texts: [:]) }
    }

    @Test("a command's JSON flattens to dotted names")
    func flatten() {
        let json = JSON.object([("a", .int(1)), ("b", .object([("c", .double(0.5)), ("d", .string("x"))])), ("e", .bool(true)),
                                ("m", .ints([0, 0, 2]))])
        let (numbers, texts) = json.flattened(prefix: "run")
        #expect(numbers == ["run.a": 1, "run.b.c": 0.5, "run.e": 1, "run.m.0": 0, "run.m.1": 0, "run.m.2": 2])
        #expect(texts == ["run.b.d": "x"])
    }
}
