import AttnTrace
import Foundation
import Testing

@Suite("AtomicFile: whole files or a reason")
struct AtomicFileTests {
    func folder() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("attnlab-atomic-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// A device, `null` or `full`: the test's own node when root may make one, so that a writer
    /// that wrongly renames over it replaces only that node; otherwise the system's, which a user
    /// who is not root cannot replace.
    func device(_ name: String) throws -> String {
        let path = try folder().appendingPathComponent(name).path
        guard getuid() == 0, mknod(path, mode_t(S_IFCHR | 0o666), dev_t(1 << 8 | (name == "null" ? 3 : 7))) == 0 else { return "/dev/\(name)" }
        return path
    }

    /// What `body` throws, as a `WriteError`.
    func failure(_ body: () throws(AtomicFile.WriteError) -> Void) -> AtomicFile.WriteError? {
        do { try body() } catch { return error }
        return nil
    }

    @Test("/dev/full: the write fails with the system's reason and the device stays")
    func devFull() throws {
        let full = try device("full")
        let error = failure { () throws(AtomicFile.WriteError) in try AtomicFile.write("x", to: full) }
        #expect(error?.path == full)
        #expect(error?.reason.contains("No space left on device") == true, "\(String(describing: error))")
        var info = stat()
        #expect(stat(full, &info) == 0 && info.st_mode & S_IFMT == S_IFCHR)
    }

    @Test("/dev/null is written through, not replaced")
    func devNull() throws {
        let null = try device("null")
        try AtomicFile.write("x", to: null)
        var info = stat()
        #expect(stat(null, &info) == 0 && info.st_mode & S_IFMT == S_IFCHR)
    }

    @Test("a link to a file: the file is replaced, the link stays, nothing else is left")
    func link() throws {
        let dir = try folder()
        let target = dir.appendingPathComponent("target.txt"), link = dir.appendingPathComponent("link.txt")
        try Data("old".utf8).write(to: target)
        try FileManager.default.createSymbolicLink(at: link, withDestinationURL: target)
        try AtomicFile.write("new", to: link.path)
        #expect(try String(contentsOf: target, encoding: .utf8) == "new")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: link.path) == target.path)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == ["link.txt", "target.txt"])
    }

    @Test("refused before writing: an empty path, a folder, a link to nothing, a missing folder")
    func refused() throws {
        let dir = try folder()
        let dangling = dir.appendingPathComponent("dangling.txt").path
        try FileManager.default.createSymbolicLink(atPath: dangling, withDestinationPath: dir.appendingPathComponent("nothing").path)
        for (path, reason) in [("", "empty"), (dir.path, "is a folder"), (dangling, "missing file"), (dir.path + "/no/file.txt", "does not exist")] {
            let error = failure { () throws(AtomicFile.WriteError) in try AtomicFile.write("x", to: path) }
            #expect(error?.reason.contains(reason) == true, "\(path): \(String(describing: error))")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["dangling.txt"])
    }
}
