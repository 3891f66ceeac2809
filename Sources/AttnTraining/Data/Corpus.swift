import AttnEngine
import Foundation

/// Which text a run trains on: `--corpus python-docs` or `--corpus PATH`.
public enum CorpusChoice: Sendable, Hashable, CustomStringConvertible {
    /// The reStructuredText sources of the Python 3.11 documentation (see ``CorpusStore``), fetched by
    /// `attnlab corpus fetch`.
    case pythonDocs
    /// Any UTF-8 text file, cut into documents of about 4 KiB at line ends (see ``Corpus``).
    case file(String)

    /// The names `--corpus` knows, besides a path.
    public static let names = ["python-docs"]

    /// Reads a `--corpus` value: `python-docs`, or a path to a text file.
    ///
    /// - Throws: `ConfigError(.corpus)` for a value that is neither a known name nor a file.
    public init(parsing value: String) throws(ConfigError) {
        if value.lowercased() == "python-docs" {
            self = .pythonDocs
            return
        }
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: value, isDirectory: &isFolder) else {
            throw ConfigError(.corpus, value.contains("/") || value.contains(".")
                ? "no file \(value)"
                : "unknown corpus '\(value)' (known: \(Self.names.joined(separator: ", ")); or give a path to a UTF-8 text file)")
        }
        guard !isFolder.boolValue else { throw ConfigError(.corpus, "\(value) is a folder; give a UTF-8 text file") }
        self = .file(value)
    }

    /// `python-docs`, or the path.
    public var description: String {
        switch self {
        case .pythonDocs: "python-docs"
        case .file(let path): path
        }
    }
}

/// Whether a document is trained on or held out to measure validation loss.
public enum CorpusSplit: Sendable, Hashable, CaseIterable {
    case train, validation
}

/// A corpus in memory: its documents in a fixed order, each assigned to a split by its index alone.
///
/// **The split.** Document `i` is held out for validation when `i mod 20 == 7`, about one document in
/// twenty (5%); everything else is trained on. The rule needs nothing but the order, so it is the
/// same on every machine and never moves a document when another changes size. python-docs' documents
/// are its files sorted by path. A text file given by path is cut into documents first: each ends at
/// the first line end at or after ``chunkBytes`` bytes (or at the end of the file), so a document holds
/// whole lines and a file needs at least 8 of them (≈ 32 KiB) to hold out any text.
public struct Corpus: Sendable {
    /// One document: a file of python-docs, or a chunk of a text file.
    public struct Document: Sendable {
        /// Its path inside the corpus (`library/os.rst.txt`), or `chunk 12` of a text file.
        public let name: String
        public let text: String
        public let split: CorpusSplit
    }

    public let choice: CorpusChoice
    /// SHA-256 of the corpus file, 64 hex digits: what caches of its tokens are keyed by.
    public let checksum: String
    public let documents: [Document]

    /// Size a text file's documents reach before they end at the next line end.
    public static let chunkBytes = 4096

    /// The split of document `index`: every twentieth document, starting with the eighth, is
    /// validation.
    public static func split(ofDocument index: Int) -> CorpusSplit { index % 20 == 7 ? .validation : .train }

    /// A corpus of named documents, split by ``split(ofDocument:)``.
    public init(choice: CorpusChoice, checksum: String, documents: [(name: String, text: String)]) {
        self.choice = choice
        self.checksum = checksum
        self.documents = documents.enumerated().map { i, d in Document(name: d.name, text: d.text, split: Self.split(ofDocument: i)) }
    }

    /// Reads a corpus: python-docs from `dataDirectory` (checked against its known SHA-256), or a text
    /// file, cut into documents.
    ///
    /// - Throws: `ConfigError` naming `--corpus` if python-docs is not fetched, or the file if it
    ///   cannot be read, is not UTF-8, or does not have the expected checksum.
    public static func load(_ choice: CorpusChoice, dataDirectory: String) throws(ConfigError) -> Corpus {
        switch choice {
        case .pythonDocs: return try CorpusStore.loadPythonDocs(directory: dataDirectory)
        case .file(let path):
            let bytes = try readFile(path)
            guard let text = String(validating: bytes, as: UTF8.self) else {
                throw ConfigError(file: path, "is not UTF-8 text (the corpus must be UTF-8)")
            }
            return Corpus(choice: choice, checksum: SHA256.hex(bytes), documents: chunks(of: text))
        }
    }

    /// `text` cut after the first line end at or after every ``chunkBytes`` bytes.
    static func chunks(of text: String) -> [(name: String, text: String)] {
        var chunks: [(name: String, text: String)] = []
        let utf8 = text.utf8
        var start = utf8.startIndex
        var bytes = 0
        for i in utf8.indices {
            bytes += 1
            if bytes >= chunkBytes && utf8[i] == UInt8(ascii: "\n") {
                let end = utf8.index(after: i)
                chunks.append(("chunk \(chunks.count)", String(text[start..<end])))
                start = end
                bytes = 0
            }
        }
        if start < utf8.endIndex { chunks.append(("chunk \(chunks.count)", String(text[start...]))) }
        return chunks
    }

    /// The documents of one split, in corpus order.
    public func documents(in split: CorpusSplit) -> [Document] { documents.filter { $0.split == split } }

    /// UTF-8 bytes of the documents of one split (`nil`: all of them).
    public func textBytes(in split: CorpusSplit? = nil) -> Int {
        documents.reduce(0) { $0 + ($1.split == split || split == nil ? $1.text.utf8.count : 0) }
    }

    /// The whole file, as bytes.
    static func readFile(_ path: String) throws(ConfigError) -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError(file: path, FileManager.default.fileExists(atPath: path) ? "cannot be read" : "does not exist")
        }
        return [UInt8](data)
    }
}
