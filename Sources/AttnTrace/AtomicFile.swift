import AttnEngine
import Foundation

/// Writes files whole or not at all: into a temporary file beside the target, then `rename(2)`, so
/// a failure never leaves a half-written file behind.
public enum AtomicFile {
    public struct WriteError: AttnLabError, CustomStringConvertible {
        public let path: String
        public let reason: String
        public var subject: Subject { .file(path) }
        public var description: String { "\(path): \(reason)" }
    }

    /// Checks, before any work, that `path` could be written: its folder exists and is writable and
    /// the path is not a folder.
    public static func checkWritable(_ path: String) throws(WriteError) {
        let url = URL(fileURLWithPath: path)
        let folder = url.deletingLastPathComponent().path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw WriteError(path: path, reason: "folder \(folder) does not exist")
        }
        guard access(folder, W_OK) == 0 else { throw WriteError(path: path, reason: "folder \(folder) is not writable") }
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            throw WriteError(path: path, reason: "is a folder")
        }
    }

    public static func write(_ text: String, to path: String) throws(WriteError) {
        try write(Data(text.utf8), to: path)
    }

    public static func write(_ bytes: [UInt8], to path: String) throws(WriteError) {
        try write(Data(bytes), to: path)
    }

    public static func write(_ data: Data, to path: String) throws(WriteError) {
        try checkWritable(path)
        let url = URL(fileURLWithPath: path)
        let temp = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())")
        do {
            try data.write(to: temp)
        } catch {
            try? FileManager.default.removeItem(at: temp)
            throw WriteError(path: path, reason: "cannot write (\(error.localizedDescription))")
        }
        guard rename(temp.path, path) == 0 else {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(at: temp)
            throw WriteError(path: path, reason: "cannot rename into place (\(reason))")
        }
    }
}
