/// The built-in character vocabulary of the random demo models: one token per character, so a
/// student can read prompts and traces without a tokenizer.
public struct CharVocabulary: Vocabulary {
    /// The vocabulary size of the model the tokens are for: a model given fewer tokens than there are
    /// characters cannot take the characters past its size.
    public let modelVocab: Int

    public init(modelVocab: Int = CharVocabulary.count) { self.modelVocab = modelVocab }

    /// Token id → text. Ids past this list (with a larger `--vocab`) print as `⟨id⟩`.
    public static let symbols: [Character] =
        Array(" \n") + Array("abcdefghijklmnopqrstuvwxyz") + Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
        + Array("0123456789") + Array(".,!?'-:;()\"")

    public static var count: Int { symbols.count }
    public var count: Int { Self.count }

    private static let ids: [Character: Int] = Dictionary(uniqueKeysWithValues: symbols.enumerated().map { ($1, $0) })

    /// Token ids of `text`, or an error naming the first character the vocabulary lacks.
    public static func encode(_ text: String, vocab: Int, field: Field = .prompt) throws(ConfigError) -> [Int] {
        var tokens: [Int] = []
        for ch in text {
            guard let id = ids[ch] else {
                throw ConfigError(field, "character '\(ch)' is not in the built-in vocabulary (letters, digits, space, newline and .,!?'-:;()\")")
            }
            guard id < vocab else {
                throw ConfigError(field, "character '\(ch)' is token \(id), outside a vocabulary of \(vocab) tokens (\(count) hold every character)")
            }
            tokens.append(id)
        }
        return tokens
    }

    public func encode(_ text: String, field: Field) throws(ConfigError) -> [Int] {
        try Self.encode(text, vocab: modelVocab, field: field)
    }

    /// Text of one token id.
    public func text(of id: Int) -> String {
        id >= 0 && id < Self.symbols.count ? String(Self.symbols[id]) : "⟨\(id)⟩"
    }

    public func decode(_ ids: [Int]) -> String { ids.map(text(of:)).joined() }
}
