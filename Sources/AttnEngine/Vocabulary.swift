/// Token ids ↔ text. The random demo models use the built-in character vocabulary; a pretrained
/// model brings its own tokenizer. Traces and figures print tokens through this, whichever it is.
public protocol Vocabulary: Sendable {
    /// Number of token ids, 0..<count.
    var count: Int { get }
    /// Token ids of `text`, or an error naming `field` and what could not be encoded.
    func encode(_ text: String, field: Field) throws(ConfigError) -> [Int]
    /// Text of a sequence of tokens (bytes that do not form whole characters show as U+FFFD).
    func decode(_ ids: [Int]) -> String
    /// Text of one token on its own, readable in a trace: for a byte-level tokenizer, bytes that are
    /// only part of a character show as `<0xE3>`.
    func text(of id: Int) -> String
}
