import AttnEngine
import AttnModels
import Foundation

/// Where corpora live, and how python-docs gets there.
///
/// **python-docs** is the reStructuredText sources of the Python 3.11 documentation as Debian ships
/// them in `python3.11-doc` (the files under `usr/share/doc/python3.11/html/_sources/`): 497 files,
/// 11 MB of English prose with code examples. The Python documentation is © Python Software
/// Foundation and licensed under the PSF License Version 2 (code examples in it also under the
/// Zero-Clause BSD licence), as the package's `/usr/share/doc/python3.11-doc/copyright` and the
/// corpus' own `license.rst.txt` state. `apt-get download` fetches the package without installing it
/// (no root needed), so the only network it needs is a Debian mirror; the version is pinned, so every
/// machine trains on the same bytes.
///
/// The folder is `--data-dir`, else `$ATTNLAB_DATA_DIR`, else `data` under the current folder
/// (git-ignored). python-docs is kept there as one file, `python-docs.txt`: the files sorted by path
/// (byte order), each as a record `U+001E path LF contents` (the ASCII record separator, which no
/// file contains), so that a load is one read and one SHA-256.
public enum CorpusStore {
    public static let environmentVariable = "ATTNLAB_DATA_DIR"

    /// The Debian package and version python-docs comes from.
    public static let package = "python3.11-doc"
    public static let packageVersion = "3.11.2-6+deb12u9"
    /// The folder inside the package whose files make the corpus.
    static let member = "./usr/share/doc/python3.11/html/_sources"
    /// The corpus file's name in the data folder.
    public static let fileName = "python-docs.txt"
    /// SHA-256 and size of `python-docs.txt` built from that version.
    public static let checksum = "3862569ab3b3726f800861681f28969f1c36030f8b10cb57d696eae1ce4b868d"
    public static let fileBytes = 11_061_074

    static let recordSeparator: UInt8 = 0x1E

    /// The data folder: the flag, else the environment variable, else `data`.
    public static func directory(_ flag: String?) -> String {
        if let flag, !flag.isEmpty { return flag }
        if let env = ProcessInfo.processInfo.environment[environmentVariable], !env.isEmpty { return env }
        return "data"
    }

    /// Where tokenized corpora are cached (see ``TokenizedCorpus/load(_:tokenizer:cacheDirectory:)``).
    public static func cacheDirectory(_ directory: String) -> String { directory + "/cache" }

    /// Path of python-docs in `directory`.
    public static func path(directory: String) -> String { directory + "/" + fileName }

    /// The folder `fetch` works in until it renames the corpus into place; an interrupted fetch leaves
    /// it behind, so the caller may remove it on an interrupt.
    public static func stagingFolder(directory: String) -> String {
        directory + "/.fetch-python-docs-\(ProcessInfo.processInfo.processIdentifier)"
    }

    /// How to fetch python-docs into `directory`, for error messages.
    static func fetchCommand(directory: String, force: Bool = false) -> String {
        "attnlab corpus fetch\(force ? " --force" : "")\(directory == "data" ? "" : " --data-dir \(directory)")"
    }

    /// Downloads `python3.11-doc` with `apt-get download` into a staging folder inside `directory`,
    /// extracts `_sources/`, builds `python-docs.txt`, checks its SHA-256 and renames it into place.
    /// Returns the path and whether it had to fetch (false: a valid copy was already there).
    ///
    /// - Throws: `ConfigError` if a command fails or the result is not the expected corpus; the
    ///   corpus already there, if any, stays as it was.
    public static func fetch(directory: String, force: Bool, log: (String) -> Void) throws(ConfigError) -> (path: String, fetched: Bool) {
        let fm = FileManager.default
        let path = path(directory: directory)
        if !force, (try? loadPythonDocs(directory: directory)) != nil { return (path, false) }
        do { try fm.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
            throw ConfigError(.dataDir, "cannot create \(directory) (\(error.localizedDescription))")
        }
        // In the target folder, so the final rename never crosses file systems.
        let staging = stagingFolder(directory: directory)
        try? fm.removeItem(atPath: staging)
        defer { try? fm.removeItem(atPath: staging) }
        do { try fm.createDirectory(atPath: staging + "/root", withIntermediateDirectories: true) } catch {
            throw ConfigError(.dataDir, "cannot create \(staging) (\(error.localizedDescription))")
        }

        let requirement = "\(package)=\(packageVersion)"
        log("apt-get download \(requirement)")
        try run(["apt-get", "download", requirement], in: staging,
                hint: "is this Debian 12 (bookworm) with its security archive in apt's sources, and has `apt-get update` run? `apt-cache policy \(package)` lists the versions apt can fetch")
        let debs = ((try? fm.contentsOfDirectory(atPath: staging)) ?? []).filter { $0.hasSuffix(".deb") }
        guard debs.count == 1 else { throw ConfigError(.system("apt-get download \(requirement)"), "downloaded \(debs.count) .deb files, expected 1") }
        log("extract \(member.dropFirst(2))/ from \(debs[0])")
        try run(["dpkg-deb", "--fsys-tarfile", debs[0]], in: staging, standardOutput: staging + "/data.tar", hint: "is dpkg-deb installed?")
        try run(["tar", "-x", "-f", "data.tar", "-C", "root", member], in: staging, hint: "is tar installed?")

        let bytes = try corpusFile(from: staging + "/root/" + member.dropFirst(2))
        let sum = SHA256.hex(bytes)
        guard sum == checksum else {
            throw ConfigError(.system("apt-get download \(requirement)"),
                              "the extracted corpus has SHA-256 \(sum) (\(bytes.count) bytes), expected \(checksum) (\(fileBytes) bytes) for \(package) \(packageVersion); nothing was written — try `\(fetchCommand(directory: directory, force: true))` again, and if it persists, train on a text file of your own with --corpus PATH")
        }
        log("write \(path) (\(bytes.count) bytes, SHA-256 \(sum))")
        do { try Data(bytes).write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
            throw ConfigError(file: path, "cannot write (\(error.localizedDescription))")
        }
        return (path, true)
    }

    /// The corpus file built from the extracted folder: its files in path order, each as a record.
    package static func corpusFile(from folder: String) throws(ConfigError) -> [UInt8] {
        guard let walker = FileManager.default.enumerator(atPath: folder) else {
            throw ConfigError(file: folder, "the package has no \(member.dropFirst(2))/ folder")
        }
        var files: [String] = []
        while let relative = walker.nextObject() as? String {
            var isFolder: ObjCBool = false
            if FileManager.default.fileExists(atPath: folder + "/" + relative, isDirectory: &isFolder), !isFolder.boolValue {
                files.append(relative)
            }
        }
        files.sort { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        var corpus: [UInt8] = []
        for file in files {
            let contents = try Corpus.readFile(folder + "/" + file)
            guard !contents.contains(recordSeparator) else { throw ConfigError(file: file, "holds byte 0x1E, the corpus file's record separator") }
            corpus.append(recordSeparator)
            corpus += file.utf8
            corpus.append(UInt8(ascii: "\n"))
            corpus += contents
        }
        return corpus
    }

    /// Reads `python-docs.txt`, checks its SHA-256 and splits it into its records.
    static func loadPythonDocs(directory: String) throws(ConfigError) -> Corpus {
        let path = path(directory: directory)
        guard FileManager.default.fileExists(atPath: path) else {
            throw ConfigError(.corpus, "python-docs is not in \(directory)/ (no \(fileName)); fetch it with `\(fetchCommand(directory: directory))`")
        }
        let bytes = try Corpus.readFile(path)
        let sum = SHA256.hex(bytes)
        guard sum == checksum else {
            throw ConfigError(file: path, "has SHA-256 \(sum), expected \(checksum) (\(package) \(packageVersion)); fetch a fresh copy with `\(fetchCommand(directory: directory, force: true))`")
        }
        return Corpus(choice: .pythonDocs, checksum: sum, documents: records(of: bytes))
    }

    /// The (path, contents) records of a corpus file that ``corpusFile(from:)`` built.
    package static func records(of bytes: [UInt8]) -> [(name: String, text: String)] {
        var records: [(name: String, text: String)] = []
        var start = 0  // at a record separator
        while start < bytes.count {
            let nameEnd = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) ?? bytes.count
            let end = bytes[nameEnd...].firstIndex(of: recordSeparator) ?? bytes.count
            records.append((String(decoding: bytes[start + 1..<nameEnd], as: UTF8.self), String(decoding: bytes[min(nameEnd + 1, end)..<end], as: UTF8.self)))
            start = end
        }
        return records
    }

    /// Runs a command found on PATH in `folder`; its messages are kept and the last one shown if it
    /// fails. The command dies with AttnLab.
    private static func run(_ arguments: [String], in folder: String, standardOutput: String? = nil, hint: String) throws(ConfigError) {
        let p = ChildProcess.make(arguments)
        p.currentDirectoryURL = URL(fileURLWithPath: folder)
        let messages = Pipe()
        p.standardError = messages
        if let standardOutput {
            guard FileManager.default.createFile(atPath: standardOutput, contents: nil), let out = FileHandle(forWritingAtPath: standardOutput) else {
                throw ConfigError(file: standardOutput, "cannot create")
            }
            p.standardOutput = out
        } else {
            p.standardOutput = messages
        }
        do { try p.run() } catch { throw ConfigError(.system(arguments[0]), "cannot run (\(error.localizedDescription))") }
        let output = String(decoding: messages.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            let last = output.split(separator: "\n").last.map { " (\($0))" } ?? ""
            throw ConfigError(.system(arguments[0]), "\(arguments.joined(separator: " ")) failed with exit \(p.terminationStatus)\(last); \(hint)")
        }
    }
}
