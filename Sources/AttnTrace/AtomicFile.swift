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
        try write(to: path, wrap: { $0 }) { temp throws(WriteError) in
            do { try data.write(to: URL(fileURLWithPath: temp)) } catch {
                throw WriteError(path: path, reason: "cannot write (\(error.localizedDescription))")
            }
        }
    }

    /// Writes `path` whole or not at all with a writer that creates the file itself (Cairo's PNG,
    /// SVG and PDF surfaces): `produce` writes to the temporary path it is given, beside `path` so
    /// the rename stays on one file system, and that file then replaces `path`. On any failure the
    /// temporary file is removed.
    ///
    /// - Parameters:
    ///   - wrap: turns this function's own failures (the checks of `checkWritable`, the rename) into
    ///     the caller's error type, so that the caller throws one type.
    ///   - produce: writes the whole content to the temporary path.
    /// - Throws: what `produce` throws, or a wrapped `WriteError`.
    public static func write<E: Error>(
        to path: String, wrap: (WriteError) -> E, produce: (_ temporaryPath: String) throws(E) -> Void
    ) throws(E) {
        do { try checkWritable(path) } catch { throw wrap(error) }
        let url = URL(fileURLWithPath: path)
        let temp = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())").path
        do { try produce(temp) } catch {
            try? FileManager.default.removeItem(atPath: temp)
            throw error
        }
        guard rename(temp, path) == 0 else {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(atPath: temp)
            throw wrap(WriteError(path: path, reason: "cannot rename into place (\(reason))"))
        }
    }
}
