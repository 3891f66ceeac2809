import AttnEngine
import Foundation

/// Writes files whole or not at all, and says why when it cannot.
///
/// What happens depends on what the path is:
/// - a regular file, or no file yet: the bytes go into a temporary file beside it, are flushed to the
///   disk (`fsync`) and the temporary file is renamed over the path, so a failure — a full disk
///   included — leaves the old file as it was and no temporary file behind;
/// - a symbolic link to a regular file: the file it points to is replaced the same way, beside itself,
///   and the link stays a link (a link to nothing is refused);
/// - a device or a FIFO (`/dev/null`, `/dev/full`, a named pipe, `/dev/stdout` onto a terminal or a
///   pipe): it cannot be replaced, so the bytes are written through, in place (`/dev/stdout`
///   redirected into a file is a link to that file, replaced as above);
/// - a folder, a socket or an empty path: refused.
///
/// Every `write(2)`, `fsync(2)`, `close(2)` and `rename(2)` is checked; an error names the path the
/// user gave and the system's reason ("No space left on device").
public enum AtomicFile {
    public struct WriteError: AttnLabError, CustomStringConvertible {
        public let path: String
        public let reason: String
        public var subject: Subject { .file(path) }
        public var description: String { path.isEmpty ? reason : "\(path): \(reason)" }
    }

    /// Where the bytes for a path go.
    enum Destination {
        /// Replace this regular file (the path given, or the file its symbolic link points to).
        case replace(String)
        /// Write through the path, in place: a device or a FIFO.
        case through
    }

    /// Checks, before any work, that `path` could be written: see `AtomicFile` for what each kind of
    /// path accepts.
    public static func checkWritable(_ path: String) throws(WriteError) {
        _ = try destination(of: path)
    }

    /// Whether `path` is the file standard output writes to (`/dev/stdout`, `/proc/self/fd/1`, …), so
    /// that a command writing its output there can keep its own messages out of it.
    public static func isStandardOutput(_ path: String) -> Bool {
        var target = stat(), output = stat()
        return stat(path, &target) == 0 && fstat(STDOUT_FILENO, &output) == 0 && output.st_dev == target.st_dev && output.st_ino == target.st_ino
    }

    static func destination(of path: String) throws(WriteError) -> Destination {
        guard !path.isEmpty else { throw WriteError(path: path, reason: "the path is empty; give a file name") }
        var target = stat()
        guard stat(path, &target) == 0 else {
            let error = errno
            var link = stat()
            if error == ENOENT && lstat(path, &link) == 0 {
                throw WriteError(path: path, reason: "is a symbolic link to a missing file; give the file itself")
            }
            guard error == ENOENT else { throw WriteError(path: path, reason: systemReason(error)) }
            try checkFolder(of: path, for: path)
            return .replace(path)
        }
        switch target.st_mode & S_IFMT {
        case S_IFDIR: throw WriteError(path: path, reason: "is a folder; give a file name")
        case S_IFSOCK: throw WriteError(path: path, reason: "is a socket; give a file name")
        case S_IFREG:
            var link = stat()
            let file = lstat(path, &link) == 0 && link.st_mode & S_IFMT == S_IFLNK ? resolved(path) : path
            try checkFolder(of: file, for: path)
            return .replace(file)
        default:
            guard access(path, W_OK) == 0 else { throw WriteError(path: path, reason: "is not writable (\(systemReason(errno)))") }
            return .through
        }
    }

    /// The folder of `file` must exist and be writable, for the temporary file and the rename.
    private static func checkFolder(of file: String, for path: String) throws(WriteError) {
        let folder = URL(fileURLWithPath: file).deletingLastPathComponent().path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw WriteError(path: path, reason: "folder \(folder) does not exist")
        }
        guard access(folder, W_OK) == 0 else { throw WriteError(path: path, reason: "folder \(folder) is not writable") }
    }

    /// The file a symbolic link finally points to.
    private static func resolved(_ path: String) -> String {
        guard let real = realpath(path, nil) else { return path }
        defer { free(real) }
        return String(cString: real)
    }

    public static func write(_ text: String, to path: String) throws(WriteError) {
        try write(Data(text.utf8), to: path)
    }

    public static func write(_ bytes: [UInt8], to path: String) throws(WriteError) {
        try write(Data(bytes), to: path)
    }

    /// Writes `data` to `path` whole or not at all (see `AtomicFile`).
    ///
    /// - Throws: `WriteError` naming `path` and the system's reason.
    public static func write(_ data: Data, to path: String) throws(WriteError) {
        switch try destination(of: path) {
        case .through:
            let fd = open(path, O_WRONLY | O_CLOEXEC)
            guard fd >= 0 else { throw WriteError(path: path, reason: "cannot open (\(systemReason(errno)))") }
            do { try writeAll(data, to: fd, path) } catch {
                close(fd)
                throw error
            }
            guard close(fd) == 0 else { throw WriteError(path: path, reason: "cannot write (\(systemReason(errno)))") }
        case .replace(let file):
            let url = URL(fileURLWithPath: file)
            let temp = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())").path
            // A leftover of a killed run with the same process id is ours to replace; O_EXCL then
            // refuses to follow anything put there since.
            unlink(temp)
            let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
            guard fd >= 0 else { throw WriteError(path: path, reason: "cannot create a file beside it (\(systemReason(errno)))") }
            do throws(WriteError) {
                try writeAll(data, to: fd, path)
                // A file system may report a full disk only when the data reaches it.
                guard fsync(fd) == 0 else { throw WriteError(path: path, reason: "cannot write (\(systemReason(errno)))") }
            } catch {
                close(fd)
                unlink(temp)
                throw error
            }
            guard close(fd) == 0 else {
                let reason = systemReason(errno)
                unlink(temp)
                throw WriteError(path: path, reason: "cannot write (\(reason))")
            }
            guard rename(temp, file) == 0 else {
                let reason = systemReason(errno)
                unlink(temp)
                throw WriteError(path: path, reason: "cannot rename into place (\(reason))")
            }
        }
    }

    /// `write(2)` until every byte is written, retrying an interrupted or partial write.
    private static func writeAll(_ data: Data, to fd: Int32, _ path: String) throws(WriteError) {
        let error: Int32? = data.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = Foundation.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                offset += written
            }
            return nil
        }
        if let error { throw WriteError(path: path, reason: "cannot write (\(systemReason(error)))") }
    }

    /// The system's words for an `errno`: "No space left on device".
    static func systemReason(_ code: Int32) -> String { String(cString: strerror(code)) }
}
