import AttnLessons
import Testing

@Suite("Lesson expressions: floor, ceil, min, max")
struct ExpressionFunctionTests {
    static func value(_ text: String, _ values: [String: Double] = [:]) throws -> Double { try Expression.parse(text).value(values) }

    static func failure(_ text: String) -> String? {
        do { _ = try Expression.parse(text) } catch { return error.reason }
        return nil
    }

    @Test("values, nesting and precedence")
    func values() throws {
        #expect(try Self.value("floor(7 / 2)") == 3)
        #expect(try Self.value("ceil(7 / 2)") == 4)
        #expect(try Self.value("floor(-0.5)") == -1)
        #expect(try Self.value("ceil(-0.5)") == 0)
        #expect(try Self.value("min(3, 1, 2)") == 1)
        #expect(try Self.value("max(3, 1, 2)") == 3)
        #expect(try Self.value("2 * max(1, min(5, 4)) + 1") == 9)
        #expect(try Self.value("floor( max ( a , b ) / 2 )", ["a": 3, "b": 7]) == 3)
        #expect(try Self.value("-min(1, 2)") == -1)
        // The question `kv --gpu-memory` answers, computed in a lesson.
        let fit = ["free_bytes": 72_422_514_688.0, "fit.mqa.bytes_per_request": 67_108_864.0]
        #expect(try Comparison.parse("floor(free_bytes / fit.mqa.bytes_per_request) == 1079").evaluate(fit).holds)
    }

    @Test("names and static problems reach into the arguments")
    func names() throws {
        let c = try Comparison.parse("min(a.x, floor(b / 2), 3) <= max(c, d)")
        #expect(c.names == ["a.x", "b", "c", "d"])
        #expect(try Comparison.parse("floor(a / 0) == 1").staticProblem()?.reason == "divides by zero")
        #expect(try Comparison.parse("max(1, a / (2 - 2)) == 1").staticProblem()?.reason == "divides by zero")
        #expect(try Comparison.parse("max(1, a / 2) == 1").staticProblem() == nil)
    }

    @Test("parse errors: unknown function, wrong arity, unclosed or bad argument lists")
    func errors() {
        #expect(Self.failure("flor(1)") == "unknown function 'flor' (known: floor, ceil, min, max)")
        #expect(Self.failure("floor(1, 2)") == "floor takes exactly 1 argument, got 2")
        #expect(Self.failure("ceil()") == "ceil takes exactly 1 argument, got 0")
        #expect(Self.failure("min(1)") == "min takes at least 2 arguments, got 1")
        #expect(Self.failure("max(1, 2") == "missing ')'")
        #expect(Self.failure("max(1 2)") == "expected ',' or ')' after 'max(1'")
        #expect(Self.failure("max(1,)") != nil)
    }

    @Test("calls count toward the nesting limit")
    func depth() {
        let deep = String(repeating: "floor(", count: 65) + "1" + String(repeating: ")", count: 65)
        #expect(Self.failure(deep)?.contains("more than 64 deep") == true)
        let ok = String(repeating: "floor(", count: 64) + "1" + String(repeating: ")", count: 64)
        #expect(Self.failure(ok) == nil)
    }
}
