import AttnEngine
import AttnModels

/// Which tokenizer a run trains with: `--tokenizer bytes` or `--tokenizer bpe:N`.
public enum TokenizerChoice: Sendable, Hashable, CustomStringConvertible {
    /// The 256 byte values, token id = byte.
    case bytes
    /// A byte-level BPE of `vocabSize` tokens (the 256 bytes and `vocabSize − 256` merges) that
    /// AttnLab learns from the corpus' training split.
    case bpe(vocabSize: Int)

    /// The vocabulary sizes `bpe:N` accepts: enough merges to matter, few enough that the embedding
    /// does not swamp a small model.
    public static let bpeVocabSizes = 257...8192

    /// Reads a `--tokenizer` value: `bytes` or `bpe:N` (e.g. `bpe:1024`).
    ///
    /// - Throws: `ConfigError(.tokenizer)` for anything else, or a size outside ``bpeVocabSizes``.
    public init(parsing value: String) throws(ConfigError) {
        let lowered = value.lowercased()
        if lowered == "bytes" {
            self = .bytes
            return
        }
        guard lowered.hasPrefix("bpe:"), let size = Int(lowered.dropFirst(4)) else {
            throw ConfigError(.tokenizer, "unknown tokenizer '\(value)' (known: bytes, bpe:N with N in \(Self.bpeVocabSizes.lowerBound)…\(Self.bpeVocabSizes.upperBound), e.g. bpe:1024)")
        }
        guard Self.bpeVocabSizes.contains(size) else {
            throw ConfigError(.tokenizer, "bpe:\(size): the vocabulary size must be in \(Self.bpeVocabSizes.lowerBound)…\(Self.bpeVocabSizes.upperBound)")
        }
        self = .bpe(vocabSize: size)
    }

    /// `bytes` or `bpe:1024`, as `--tokenizer` takes it.
    public var description: String {
        switch self {
        case .bytes: "bytes"
        case .bpe(let size): "bpe:\(size)"
        }
    }
}

/// The tokenizer a model trains with, as a GGUF file stores it (`tokenizer.ggml.model = gpt2`) and
/// as ``BPETokenizer`` reads it back: the byte tokenizer is the same thing with no merges.
///
/// Token ids 0…255 are the bytes, spelled in GPT-2's byte alphabet (0x20 is "Ġ"), so a byte's id
/// is its value; merge r makes token 256 + r, the concatenation of its two tokens.
public struct TrainingTokenizer: Sendable {
    public let choice: TokenizerChoice
    /// `tokenizer.ggml.tokens`: byte-alphabet spellings by id.
    public let tokens: [String]
    /// `tokenizer.ggml.merges`: "left right", rank 0 first.
    public let merges: [String]
    /// Encodes and decodes with these tokens and merges.
    public let tokenizer: BPETokenizer
    /// The merges as pairs of token ids, rank order.
    let mergePairs: [(left: Int32, right: Int32)]

    /// Number of token ids, 0..<vocabSize. A BPE trained on little text may stop below its
    /// choice's size when no pair is left to merge.
    public var vocabSize: Int { tokens.count }

    /// `tokenizer.ggml.token_type`: every token is a normal one (1).
    public var tokenTypes: [Int32] { [Int32](repeating: 1, count: tokens.count) }

    /// The 256 byte tokens and no merges.
    public static let bytes = TrainingTokenizer(choice: .bytes, merges: [])!

    /// The tokenizer made of `merges`, pairs of earlier token ids in rank order; nil if two merges
    /// make the same token.
    init?(choice: TokenizerChoice, merges pairs: [(left: Int32, right: Int32)]) {
        var tokens = ByteAlphabet.scalars.map { String($0) }
        var merges: [String] = []
        for (left, right) in pairs {
            merges.append(tokens[Int(left)] + " " + tokens[Int(right)])
            tokens.append(tokens[Int(left)] + tokens[Int(right)])
        }
        self.choice = choice
        self.tokens = tokens
        self.merges = merges
        self.mergePairs = pairs
        guard let tokenizer = try? BPETokenizer(tokens: tokens, tokenTypes: [Int32](repeating: 1, count: tokens.count), merges: merges, file: choice.description) else { return nil }
        self.tokenizer = tokenizer
    }

    /// Learns a BPE of `vocabSize` tokens from `texts` (see ``BPETrainer``).
    public static func train(on texts: some Sequence<String>, vocabSize: Int) -> TrainingTokenizer {
        let merges = BPETrainer.train(words: BPETrainer.words(of: texts), vocabSize: vocabSize)
        // The trainer never makes a token twice (it skips such pairs).
        return TrainingTokenizer(choice: .bpe(vocabSize: vocabSize), merges: merges.map { ($0.left, $0.right) })!
    }

    /// Token ids of `text`, by ``BPETokenizer/encode(_:field:)``. Every byte has a token here, so
    /// it succeeds on any text; the error stays typed rather than a trap should that ever change.
    public func encode(_ text: String) throws(ConfigError) -> [Int32] {
        try tokenizer.encode(text, field: .corpus).map { Int32($0) }
    }
}
