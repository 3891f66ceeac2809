import AttnEngine
import Foundation

/// A corpus as token streams: its tokenizer (trained on the training split for BPE), and the
/// documents of each split encoded one by one and joined in corpus order.
public struct TokenizedCorpus: Sendable {
    /// The corpus' SHA-256 (see ``Corpus/checksum``).
    public let checksum: String
    public let tokenizer: TrainingTokenizer
    /// Token ids of the training documents.
    public let train: [Int32]
    /// Token ids of the validation documents.
    public let validation: [Int32]

    /// The stream of one split.
    public func tokens(in split: CorpusSplit) -> [Int32] { split == .train ? train : validation }

    /// Tokenizes `corpus` (see ``init(_:tokenizer:)``), or reads the result of an earlier run from
    /// `cacheDirectory`.
    ///
    /// Training a BPE and encoding python-docs take a few seconds, every run; the result is a function
    /// of the corpus' bytes and the tokenizer choice alone, so it is kept in
    /// `cacheDirectory/CHECKSUM-TOKENIZER.tokens` (written whole or not at all) and read back when
    /// both match. A cache file that does not check out — another corpus, a truncated or edited file —
    /// is rebuilt and replaced; a cache that cannot be written is skipped, since it only saves time.
    public static func load(_ corpus: Corpus, tokenizer choice: TokenizerChoice, cacheDirectory: String) throws(ConfigError) -> TokenizedCorpus {
        let path = cacheDirectory + "/" + cacheFileName(checksum: corpus.checksum, tokenizer: choice)
        if let bytes = FileManager.default.contents(atPath: path), let cached = TokenizedCorpus(cache: [UInt8](bytes), checksum: corpus.checksum, tokenizer: choice) {
            return cached
        }
        let tokenized = try TokenizedCorpus(corpus, tokenizer: choice)
        try? FileManager.default.createDirectory(atPath: cacheDirectory, withIntermediateDirectories: true)
        try? Data(tokenized.cacheFile()).write(to: URL(fileURLWithPath: path), options: .atomic)
        return tokenized
    }

    /// `3862569ab3b3726f-bpe-1024.tokens`: the checksum's first 16 hex digits and the tokenizer.
    package static func cacheFileName(checksum: String, tokenizer: TokenizerChoice) -> String {
        "\(checksum.prefix(16))-\(tokenizer.description.replacingOccurrences(of: ":", with: "-")).tokens"
    }

    /// Tokenizes `corpus`: the byte tokenizer, or a BPE trained on its training documents.
    public init(_ corpus: Corpus, tokenizer choice: TokenizerChoice) throws(ConfigError) {
        let tokenizer: TrainingTokenizer
        switch choice {
        case .bytes: tokenizer = .bytes
        case .bpe(let size): tokenizer = .train(on: corpus.documents(in: .train).lazy.map(\.text), vocabSize: size)
        }
        var streams: [CorpusSplit: [Int32]] = [.train: [], .validation: []]
        for document in corpus.documents { streams[document.split]! += try tokenizer.encode(document.text) }
        self.init(checksum: corpus.checksum, tokenizer: tokenizer, train: streams[.train]!, validation: streams[.validation]!)
    }

    package init(checksum: String, tokenizer: TrainingTokenizer, train: [Int32], validation: [Int32]) {
        (self.checksum, self.tokenizer, self.train, self.validation) = (checksum, tokenizer, train, validation)
    }

    /// The cache file: a header line naming the corpus, the tokenizer and the counts; the merges as
    /// pairs of token ids and then the training and validation tokens, all UInt16 little-endian (a
    /// vocabulary has at most 8,192 tokens); then the SHA-256 of everything before it.
    func cacheFile() -> [UInt8] {
        var ids: [Int32] = []  // every UInt16 of the file, in order
        ids.reserveCapacity(2 * tokenizer.mergePairs.count + train.count + validation.count)
        for (left, right) in tokenizer.mergePairs { ids += [left, right] }
        ids += train
        ids += validation
        var bytes = Array("\(Self.cacheMagic) corpus=\(checksum) tokenizer=\(tokenizer.choice) merges=\(tokenizer.mergePairs.count) train=\(train.count) validation=\(validation.count)\n".utf8)
        let header = bytes.count
        bytes += [UInt8](repeating: 0, count: 2 * ids.count)
        for (i, id) in ids.enumerated() {
            bytes[header + 2 * i] = UInt8(truncatingIfNeeded: id)
            bytes[header + 2 * i + 1] = UInt8(truncatingIfNeeded: id >> 8)
        }
        return bytes + SHA256.digest(bytes)
    }

    private static let cacheMagic = "attnlab-tokens-v1"

    /// Reads a cache file; nil unless its digest, corpus, tokenizer, counts and every id check out.
    package init?(cache bytes: [UInt8], checksum: String, tokenizer choice: TokenizerChoice) {
        guard bytes.count > 32, SHA256.digest(bytes[..<(bytes.count - 32)]) == Array(bytes[(bytes.count - 32)...]),
              let lineEnd = bytes.firstIndex(of: UInt8(ascii: "\n")) else { return nil }
        let fields = String(decoding: bytes[..<lineEnd], as: UTF8.self).split(separator: " ")
        guard fields.count == 6, fields[0] == Self.cacheMagic, fields[1] == "corpus=\(checksum)", fields[2] == "tokenizer=\(choice)" else { return nil }
        let counts = zip(fields[3...], ["merges", "train", "validation"]).compactMap { field, name in
            field.hasPrefix(name + "=") ? Int(field.dropFirst(name.count + 1)) : nil
        }
        guard counts.count == 3, counts.allSatisfy({ (0...bytes.count).contains($0) }) else { return nil }
        let (merges, trainCount, validationCount) = (counts[0], counts[1], counts[2])
        let header = lineEnd + 1
        guard bytes.count == header + 2 * (2 * merges + trainCount + validationCount) + 32 else { return nil }
        var ids = [Int32](repeating: 0, count: 2 * merges + trainCount + validationCount)
        for i in 0..<ids.count { ids[i] = Int32(bytes[header + 2 * i]) | Int32(bytes[header + 2 * i + 1]) << 8 }
        var pairs: [(left: Int32, right: Int32)] = []
        for r in 0..<merges {
            // Merge r may only name the bytes and the tokens of earlier merges.
            guard ids[2 * r] < 256 + r, ids[2 * r + 1] < 256 + r else { return nil }
            pairs.append((ids[2 * r], ids[2 * r + 1]))
        }
        let tokens = ids[(2 * merges)...]
        guard !tokens.contains(where: { $0 >= 256 + merges }) else { return nil }
        let train = Array(tokens.prefix(trainCount)), validation = Array(tokens.suffix(validationCount))
        guard let tokenizer = TrainingTokenizer(choice: choice, merges: pairs) else { return nil }
        self.init(checksum: checksum, tokenizer: tokenizer, train: train, validation: validation)
    }

    /// The unigram entropy of the training tokens.
    public var unigramEntropy: UnigramEntropy { UnigramEntropy(tokens: train, vocabSize: tokenizer.vocabSize) }
}
