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

    /// Whether the terminal output of stepping through the lesson holds an escape sequence.
    static func coloured(_ environment: [String: String?]) throws -> Bool {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("lesson.yaml")
        try Data(lesson.utf8).write(to: file)
        var env = environment
        env["NO_COLOR"] = environment["NO_COLOR"] ?? .some(nil)
        let text = try Run.onTerminal(["run", file.path, "--step", "--out", "\(dir.path)/out"], input: "\nq\n", environment: env).shown
        #expect(text.contains("131072"), "\(text)")
        return text.contains("\u{1B}[")
    }

    @Test("colour on a terminal with a TERM; none when TERM is dumb or unset, or NO_COLOR is set")
    func colour() throws {
        #expect(try Self.coloured(["TERM": "xterm-256color"]))
        #expect(try !Self.coloured(["TERM": "dumb"]))
        #expect(try !Self.coloured(["TERM": nil]))
        #expect(try !Self.coloured(["TERM": "xterm-256color", "NO_COLOR": "1"]))
    }
}
