import Foundation
import Testing

/// `run --step` on a real terminal (a pseudo-terminal from util-linux `script`), with TERM and
/// NO_COLOR as a user's shell would have them.
@Suite("step-through colour", .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/script"), "needs util-linux script"))
struct ColourTests {
    static let lesson = """
        id: colour
        title: Colour
        steps:
          - title: One
            narration: "{{ kv_bytes_per_token }} bytes"
            action: {kv: {preset: llama-3-8b}}
            checks: [kv_bytes_per_token == 131072]
        """

    /// What the terminal shows of stepping through the lesson (Enter runs the step, q quits).
    static func shown(_ environment: [String: String?]) throws -> String {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("lesson.yaml")
        try Data(lesson.utf8).write(to: file)
        var env = environment
        env["NO_COLOR"] = environment["NO_COLOR"] ?? .some(nil)
        let text = try Run.onTerminal(["run", file.path, "--step", "--out", "\(dir.path)/out"], input: "\nq\n", environment: env).shown
        #expect(text.contains("131072"), "\(text)")
        return text
    }

    /// Whether `text` sets a colour or an attribute (an SGR sequence, ESC [ … m).
    static func coloured(_ text: String) -> Bool { text.contains(/\u{1B}\[[0-9;]*m/) }

    @Test("colour on a terminal with a TERM; none when TERM is dumb or unset, or NO_COLOR is set")
    func colour() throws {
        #expect(Self.coloured(try Self.shown(["TERM": "xterm-256color"])))
        #expect(!Self.coloured(try Self.shown(["TERM": "xterm-256color", "NO_COLOR": "1"])))
        // NO_COLOR turns off colour, not the cleared screen per step.
        #expect(try Self.shown(["TERM": "xterm-256color", "NO_COLOR": "1"]).contains("\u{1B}[2J"))
        // A terminal that cannot clear its screen gets no escape sequence at all.
        #expect(try !Self.shown(["TERM": "dumb"]).contains("\u{1B}["))
        #expect(try !Self.shown(["TERM": nil]).contains("\u{1B}["))
    }
}
