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
        let exe = URL(fileURLWithPath: try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            .deletingLastPathComponent().appendingPathComponent("attnlab")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/script")
        process.arguments = ["-qec", "'\(exe.path)' run '\(file.path)' --step --out '\(dir.path)/out'", "/dev/null"]
        var env = ProcessInfo.processInfo.environment
        env["NO_COLOR"] = nil
        for (key, value) in environment { env[key] = value }
        process.environment = env
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        input.fileHandleForWriting.write(Data("\nq\n".utf8))
        try input.fileHandleForWriting.close()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
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
