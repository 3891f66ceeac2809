import AttnEngine
import Foundation
import Testing
import AttnTraining

/// A temporary folder that removes itself.
final class TemporaryFolder {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("attnlab-data-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// Writes `text` to `name` inside the folder and returns its path.
    func write(_ text: String, to name: String) throws -> String {
        let file = path + "/" + name
        try FileManager.default.createDirectory(atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(text.utf8).write(to: URL(fileURLWithPath: file))
        return file
    }
}

/// English-like lines made up by the tests: `count` sentences of words from a small list and
/// random lower-case ones (one in four), deterministic.
func madeUpText(sentences count: Int, seed: UInt64 = 1) -> String {
    let words = ["the", "cat", "sat", "on", "a", "mat", "and", "then", "it", "ran", "to", "another", "house", "where",
                 "dogs", "don't", "sleep", "naïve", "café", "2024", "list(x)", "print", "value", "key", "=", "—"]
    var rng = SplitMix64(seed: seed)
    func word() -> String {
        guard rng.next() % 4 == 0 else { return words[Int(rng.next() % UInt64(words.count))] }
        return String((0..<2 + Int(rng.next() % 6)).map { _ in Character(Unicode.Scalar(UInt8(ascii: "a") + UInt8(rng.next() % 26))) })
    }
    var text = ""
    for i in 0..<count {
        text += (0..<3 + Int(rng.next() % 9)).map { _ in word() }.joined(separator: " ")
        text += i % 7 == 6 ? ".\n\n" : ".\n"
    }
    return text
}

@Suite struct DataCorpusTests {
    @Test func choiceParsing() throws {
        let folder = try TemporaryFolder()
        let file = try folder.write("hello\n", to: "notes.txt")
        #expect(try CorpusChoice(parsing: "python-docs") == .pythonDocs)
        #expect(try CorpusChoice(parsing: "Python-Docs") == .pythonDocs)
        #expect(try CorpusChoice(parsing: file) == .file(file))
        #expect(throws: ConfigError(.corpus, "unknown corpus 'wikipedia' (known: python-docs; or give a path to a UTF-8 text file)")) {
            try CorpusChoice(parsing: "wikipedia")
        }
        #expect(throws: ConfigError(.corpus, "no file \(folder.path)/missing.txt")) { try CorpusChoice(parsing: folder.path + "/missing.txt") }
        #expect(throws: ConfigError(.corpus, "\(folder.path) is a folder; give a UTF-8 text file")) { try CorpusChoice(parsing: folder.path) }
    }

    /// Document i is validation exactly when i mod 20 == 7.
    @Test func splitRule() {
        let documents = (0..<45).map { (name: "d\($0)", text: "text \($0)\n") }
        let corpus = Corpus(choice: .pythonDocs, checksum: "", documents: documents)
        #expect(corpus.documents(in: .validation).map(\.name) == ["d7", "d27"])
        #expect(corpus.documents(in: .train).count == 43)
        #expect(corpus.textBytes() == corpus.textBytes(in: .train) + corpus.textBytes(in: .validation))
    }

    /// A text file's chunks hold whole lines, reach 4 KiB before they end (all but the last), and
    /// join back into the file.
    @Test func textFileChunks() throws {
        let text = madeUpText(sentences: 3000)
        let folder = try TemporaryFolder()
        let corpus = try Corpus.load(.file(try folder.write(text, to: "t.txt")), dataDirectory: folder.path)
        #expect(corpus.documents.map(\.text).joined() == text)
        #expect(corpus.documents.count > 20)
        for document in corpus.documents.dropLast() {
            #expect(document.text.utf8.count >= Corpus.chunkBytes)
            #expect(document.text.hasSuffix("\n"))
            #expect(document.text.dropLast().utf8.count < Corpus.chunkBytes + 200)  // the line that crossed 4 KiB ends it
        }
        #expect(corpus.documents[7].split == .validation && corpus.documents[8].split == .train)
        #expect(corpus.checksum == SHA256.hex(Array(text.utf8)))
    }

    @Test func textFileErrors() throws {
        let folder = try TemporaryFolder()
        let path = folder.path + "/latin1.txt"
        try Data([0x63, 0x61, 0x66, 0xE9, 0x0A]).write(to: URL(fileURLWithPath: path))
        #expect(throws: ConfigError(file: path, "is not UTF-8 text (the corpus must be UTF-8)")) {
            try Corpus.load(.file(path), dataDirectory: folder.path)
        }
    }

    @Test func pythonDocsNotFetched() throws {
        let folder = try TemporaryFolder()
        #expect(throws: ConfigError(.corpus, "python-docs is not in \(folder.path)/ (no python-docs.txt); fetch it with `attnlab corpus fetch --data-dir \(folder.path)`")) {
            try Corpus.load(.pythonDocs, dataDirectory: folder.path)
        }
        // A file that is there but not the pinned corpus is refused with both checksums and the fix.
        let path = try folder.write("\u{1E}a.rst.txt\nnot the docs\n", to: "python-docs.txt")
        let actual = SHA256.hex(Array("\u{1E}a.rst.txt\nnot the docs\n".utf8))
        #expect(throws: ConfigError(file: path, "has SHA-256 \(actual), expected \(CorpusStore.checksum) (python3.11-doc \(CorpusStore.packageVersion)); fetch a fresh copy with `attnlab corpus fetch --force --data-dir \(folder.path)`")) {
            try Corpus.load(.pythonDocs, dataDirectory: folder.path)
        }
    }

    /// The corpus file of an extracted folder: files in byte order of their paths (so "Z" before "a",
    /// a folder's files by their full path), each a record, and read back into the same documents.
    @Test func corpusFileRecords() throws {
        let folder = try TemporaryFolder()
        let files = ["b.rst.txt": "bee\n", "a/z.rst.txt": "zed\nline two\n", "Z.rst.txt": "capital", "a.rst.txt": ""]
        for (name, text) in files { _ = try folder.write(text, to: "src/" + name) }
        let bytes = try CorpusStore.corpusFile(from: folder.path + "/src")
        #expect(bytes == Array("\u{1E}Z.rst.txt\ncapital\u{1E}a.rst.txt\n\u{1E}a/z.rst.txt\nzed\nline two\n\u{1E}b.rst.txt\nbee\n".utf8))
        let records = CorpusStore.records(of: bytes)
        #expect(records.map(\.name) == ["Z.rst.txt", "a.rst.txt", "a/z.rst.txt", "b.rst.txt"])
        #expect(records.map(\.text) == ["capital", "", "zed\nline two\n", "bee\n"])

        _ = try folder.write("one\u{1E}two", to: "src/c.rst.txt")
        #expect(throws: ConfigError(file: "c.rst.txt", "holds byte 0x1E, the corpus file's record separator")) {
            try CorpusStore.corpusFile(from: folder.path + "/src")
        }
    }
}
