import Foundation
import Testing
import AttnTraining

@Suite struct DataSHA256Tests {
    /// FIPS 180-4's examples (NIST's "SHA256.pdf" and "SHA2_Additional.pdf").
    @Test func publishedVectors() {
        #expect(SHA256.hex([]) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(SHA256.hex([UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000))
                == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    /// Every length across the padding's edges (55, 56, 63, 64 bytes, two blocks) against coreutils'
    /// `sha256sum`, and a slice that does not start at index 0.
    @Test func agreesWithSha256sum() throws {
        let lengths = Array(0...130) + [1000, 4097]
        let messages = lengths.map { n in (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ n) } }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("attnlab-sha-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        var paths: [String] = []
        for (i, message) in messages.enumerated() {
            let path = folder.appendingPathComponent("m\(i)").path
            try Data(message).write(to: URL(fileURLWithPath: path))
            paths.append(path)
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["sha256sum"] + paths
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let lines = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).split(separator: "\n")
        process.waitUntilExit()
        try #require(lines.count == messages.count)
        for (message, line) in zip(messages, lines) {
            #expect(SHA256.hex(message) == String(line.prefix(64)), "\(message.count) bytes")
        }
        let long = messages.last!
        #expect(SHA256.hex(long[1...]) == SHA256.hex(Array(long.dropFirst())))
    }
}
