import AttnEngine

/// A byte-level BPE tokenizer (Sennrich et al. 2016, with GPT-2's byte alphabet), built from the
/// vocabulary and merges in a GGUF file and matching SmolLM2's HuggingFace tokenizer.
///
/// Encoding follows HuggingFace's order:
/// 1. control and user-defined tokens written literally in the text (`<|im_start|>`) become single
///    tokens, the longest first where several start at the same place;
/// 2. the text between them is split into pieces by ``PreTokenizer``;
/// 3. each piece's UTF-8 bytes become one-byte tokens of GPT-2's printable byte alphabet (byte 0x20
///    is "Ġ", 0x0A is "Ċ"), and adjacent pairs merge, the pair with the lowest merge rank first,
///    until no pair in the piece has a merge.
///
/// Decoding maps token strings back to bytes and reads them as UTF-8. No BOS token is added:
/// SmolLM2's GGUF sets `tokenizer.ggml.add_bos_token` to false.
public struct BPETokenizer: Vocabulary {
    /// Token strings by id, as the GGUF spells them (`tokenizer.ggml.tokens`).
    public let tokens: [String]
    /// Token types by id, as given (`tokenizer.ggml.token_type`).
    public let tokenTypes: [Int32]
    /// The merges as given, rank 0 first (`tokenizer.ggml.merges`): what a checkpoint writes back.
    public let mergeRules: [String]
    private let ids: [String: Int]
    /// Control (type 3) and user-defined (type 4) tokens: found in the text as written and decoded
    /// as written, like llama.cpp and HuggingFace's added tokens.
    private let isLiteral: [Bool]
    /// The literal tokens by their first scalar, longest first.
    private let literalsByFirstScalar: [Unicode.Scalar: [Literal]]
    /// The one-byte token of each byte value, -1 where the vocabulary has none.
    private let byteTokens: [Int32]
    /// Merge rank and result of each token pair, keyed by ``pairKey(_:_:)``.
    private let merges: [UInt64: Merge]
    /// What each token decodes to: token i is `bytes[byteOffsets[i]..<byteOffsets[i + 1]]`.
    private let bytes: [UInt8]
    private let byteOffsets: [Int]

    private struct Literal: Sendable {
        let scalars: [Unicode.Scalar]
        let id: Int
    }

    private struct Merge: Sendable {
        let rank: Int32
        let token: Int32
    }

    /// The tokenizer of a GGUF vocabulary.
    ///
    /// - Parameters:
    ///   - tokens: `tokenizer.ggml.tokens`, byte-alphabet strings such as "Ġthe".
    ///   - tokenTypes: `tokenizer.ggml.token_type`, one per token (1 normal, 3 control,
    ///     4 user-defined, …).
    ///   - merges: `tokenizer.ggml.merges`, two tokens separated by a space ("Ġ t"), rank 0 first.
    ///   - file: the source, named in errors.
    /// - Throws: `ConfigError` naming `file` if the vocabulary is empty, has an empty or repeated
    ///   token, or a merge that is not two tokens whose concatenation is a token.
    public init(tokens: [String], tokenTypes: [Int32], merges: [String], file: String) throws(ConfigError) {
        guard !tokens.isEmpty else { throw ConfigError(file: file, "the vocabulary has no tokens") }
        guard tokens.count < Int32.max else {
            throw ConfigError(file: file, "\(tokens.count) tokens is above the tokenizer's limit of \(Int32.max - 1)")
        }
        guard tokenTypes.count == tokens.count else {
            throw ConfigError(file: file, "\(tokens.count) tokens but \(tokenTypes.count) token types")
        }
        var ids: [String: Int] = [:]
        ids.reserveCapacity(tokens.count)
        for (id, token) in tokens.enumerated() {
            guard !token.isEmpty else { throw ConfigError(file: file, "token \(id) is empty") }
            if let first = ids.updateValue(id, forKey: token) {
                throw ConfigError(file: file, "token \(Self.quoted(token)) appears twice, as ids \(first) and \(id)")
            }
        }

        var mergeTable: [UInt64: Merge] = [:]
        mergeTable.reserveCapacity(merges.count)
        for (rank, merge) in merges.enumerated() {
            // The two tokens part at the first space after the first byte, as llama.cpp reads
            // them; a byte-level token never contains a space ("Ġ" stands for it).
            guard let space = merge.utf8.dropFirst().firstIndex(of: UInt8(ascii: " ")) else {
                throw ConfigError(file: file, "merge \(rank) \(Self.quoted(merge)) is not two tokens separated by a space")
            }
            func id(_ token: String, _ role: String) throws(ConfigError) -> Int32 {
                guard let id = ids[token] else {
                    throw ConfigError(file: file, "merge \(rank) \(Self.quoted(merge)) \(role) \(Self.quoted(token)), which is not a token")
                }
                return Int32(id)
            }
            let left = String(merge[..<space]), right = String(merge[merge.index(after: space)...])
            let key = Self.pairKey(try id(left, "names"), try id(right, "names"))
            let merged = try id(left + right, "makes")
            // A repeated pair keeps its first, lowest rank, as in llama.cpp.
            if mergeTable[key] == nil { mergeTable[key] = Merge(rank: Int32(rank), token: merged) }
        }

        let isLiteral = tokenTypes.map { $0 == 3 || $0 == 4 }
        var literals: [Unicode.Scalar: [Literal]] = [:]
        var bytes: [UInt8] = []
        var byteOffsets = [0]
        for (id, token) in tokens.enumerated() {
            if isLiteral[id] {
                let scalars = Array(token.unicodeScalars)
                literals[scalars[0], default: []].append(Literal(scalars: scalars, id: id))
                bytes += token.utf8
            } else {
                // A scalar outside the byte alphabet cannot come from encoding; it decodes as itself.
                for scalar in token.unicodeScalars {
                    if let byte = ByteAlphabet.byte(of: scalar) { bytes.append(byte) } else { bytes += scalar.utf8 }
                }
            }
            byteOffsets.append(bytes.count)
        }

        self.tokens = tokens
        self.tokenTypes = tokenTypes
        self.mergeRules = merges
        self.ids = ids
        self.isLiteral = isLiteral
        self.literalsByFirstScalar = literals.mapValues { $0.sorted { $0.scalars.count > $1.scalars.count } }
        self.byteTokens = ByteAlphabet.scalars.map { scalar in ids[String(scalar)].map(Int32.init) ?? -1 }
        self.merges = mergeTable
        self.bytes = bytes
        self.byteOffsets = byteOffsets
    }

    /// Number of token ids, 0..<count.
    public var count: Int { tokens.count }

    /// The id of a token spelled exactly as in the vocabulary ("<|im_start|>", "Ġthe"), if any.
    public func id(of token: String) -> Int? { ids[token] }

    /// Token ids of `text`.
    ///
    /// - Throws: `ConfigError` naming `field` if `text` has a byte the vocabulary has no token
    ///   for (SmolLM2 lacks a few control characters, such as U+0004).
    public func encode(_ text: String, field: Field) throws(ConfigError) -> [Int] {
        let scalars = Array(text.unicodeScalars)
        var output: [Int] = []
        // Prose repeats its pieces ("Ġthe", "Ġof"), so each distinct piece is merged once per call.
        var cache: [[UInt8]: [Int]] = [:]
        var ordinaryStart = 0
        var i = 0
        while i < scalars.count {
            if let literal = literal(at: i, in: scalars) {
                try encodeOrdinary(scalars[ordinaryStart..<i], into: &output, cache: &cache, field: field)
                output.append(literal.id)
                i += literal.scalars.count
                ordinaryStart = i
            } else {
                i += 1
            }
        }
        try encodeOrdinary(scalars[ordinaryStart...], into: &output, cache: &cache, field: field)
        return output
    }

    /// Text of a sequence of tokens. Bytes that do not form whole characters become U+FFFD, and
    /// ids outside 0..<count show as `⟨id⟩`.
    public func decode(_ ids: [Int]) -> String {
        var text: [UInt8] = []
        for id in ids {
            if tokens.indices.contains(id) {
                text += bytes[byteOffsets[id]..<byteOffsets[id + 1]]
            } else {
                text += "⟨\(id)⟩".utf8
            }
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// Text of one token on its own: literal tokens as written, others as UTF-8 where their bytes
    /// form whole characters and `<0xE3>` for each byte that is only part of one.
    public func text(of id: Int) -> String {
        guard tokens.indices.contains(id) else { return "⟨\(id)⟩" }
        if isLiteral[id] { return tokens[id] }
        let tokenBytes = bytes[byteOffsets[id]..<byteOffsets[id + 1]]
        var text = ""
        var parser = Unicode.UTF8.ForwardParser()
        var input = tokenBytes.makeIterator()
        var position = tokenBytes.startIndex
        while true {
            switch parser.parseScalar(from: &input) {
            case .valid(let encoded):
                text.unicodeScalars.append(UTF8.decode(encoded))
                position += encoded.count
            case .error(let length):
                for byte in tokenBytes[position..<position + length] { text += "<0x\(ByteAlphabet.hex(byte))>" }
                position += length
            case .emptyInput:
                return text
            }
        }
    }

    /// The longest literal token starting at scalar `i`, if any.
    private func literal(at i: Int, in scalars: [Unicode.Scalar]) -> Literal? {
        literalsByFirstScalar[scalars[i]]?.first { literal in
            i + literal.scalars.count <= scalars.count && scalars[i..<i + literal.scalars.count].elementsEqual(literal.scalars)
        }
    }

    /// Appends the tokens of text that holds no literal token: pre-tokenized, then BPE per piece.
    private func encodeOrdinary(
        _ text: ArraySlice<Unicode.Scalar>, into output: inout [Int], cache: inout [[UInt8]: [Int]], field: Field
    ) throws(ConfigError) {
        for piece in PreTokenizer.pieces(of: text) {
            var pieceBytes: [UInt8] = []
            for scalar in text[piece] { pieceBytes += scalar.utf8 }
            if let cached = cache[pieceBytes] {
                output += cached
                continue
            }
            var symbols: [Int32] = []
            symbols.reserveCapacity(pieceBytes.count)
            for scalar in text[piece] {
                for byte in scalar.utf8 {
                    let token = byteTokens[Int(byte)]
                    guard token >= 0 else {
                        throw ConfigError(field, "byte 0x\(ByteAlphabet.hex(byte)) of \(Self.quoted(String(scalar))) has no token in this vocabulary")
                    }
                    symbols.append(token)
                }
            }
            let merged = merge(symbols)
            cache[pieceBytes] = merged
            output += merged
        }
    }

    /// Merges one piece's byte tokens, the pair of lowest rank first and the leftmost of equal
    /// ranks, as HuggingFace's `Word::merge_all` does: a heap of candidate pairs, where a
    /// candidate whose pair has since changed is dropped when it comes up. A heap rather than a
    /// rescan after every merge keeps long pieces (a row of "=====", a run of spaces) O(n log n).
    private func merge(_ symbols: [Int32]) -> [Int] {
        let n = symbols.count
        var token = symbols  // token at each position; a merged-away position keeps its old token
        var next = Array(1...n)  // next live position; n past the end
        var previous = Array(-1..<n - 1)  // previous live position; -1 before the start
        var mergedAway = [Bool](repeating: false, count: n)
        var candidates = MinHeap<Candidate>()
        func propose(_ left: Int) {
            if let merge = merges[Self.pairKey(token[left], token[next[left]])] {
                candidates.push(Candidate(rank: merge.rank, left: left, token: merge.token))
            }
        }
        for left in 0..<n - 1 { propose(left) }
        while let candidate = candidates.pop() {
            let left = candidate.left
            guard !mergedAway[left], next[left] < n else { continue }
            let right = next[left]
            guard merges[Self.pairKey(token[left], token[right])]?.token == candidate.token else { continue }
            token[left] = candidate.token
            mergedAway[right] = true
            next[left] = next[right]
            if next[left] < n { previous[next[left]] = left }
            if previous[left] >= 0 { propose(previous[left]) }
            if next[left] < n { propose(left) }
        }
        var result: [Int] = []
        var position = 0  // position 0 is always the left of its merges, so it stays live
        while position < n {
            result.append(Int(token[position]))
            position = next[position]
        }
        return result
    }

    /// A pair of adjacent tokens that a merge would join, ordered rank first, then leftmost.
    private struct Candidate: Comparable {
        let rank: Int32
        let left: Int
        let token: Int32

        static func < (a: Candidate, b: Candidate) -> Bool { (a.rank, a.left) < (b.rank, b.left) }
    }

    private static func pairKey(_ left: Int32, _ right: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
    }

    /// `token` in quotes, with control characters escaped so an error message stays on one line.
    private static func quoted(_ token: String) -> String {
        "\"" + token.unicodeScalars.map { $0.properties.generalCategory == .control ? $0.escaped(asASCII: false) : String($0) }.joined() + "\""
    }
}

/// GPT-2's `bytes_to_unicode`: every byte value as a printable scalar, so that BPE tokens are
/// readable strings without spaces. Printable Latin-1 bytes stand for themselves; the other 68
/// (controls, space, DEL, NBSP, soft hyphen) take U+0100…U+0143 in byte order (0x20 → "Ġ").
public enum ByteAlphabet {
    /// The scalar of each byte value.
    public static let scalars: [Unicode.Scalar] = {
        var shifted: UInt32 = 0x100
        return (0...255).map { (byte: UInt32) in
            if isPrintable(byte) { return Unicode.Scalar(byte)! }
            defer { shifted += 1 }
            return Unicode.Scalar(shifted)!
        }
    }()

    /// The byte a scalar of the alphabet stands for; nil for any other scalar.
    static func byte(of scalar: Unicode.Scalar) -> UInt8? {
        if scalar.value < 0x100 { return isPrintable(scalar.value) ? UInt8(scalar.value) : nil }
        return scalar.value < 0x144 ? shiftedBytes[Int(scalar.value - 0x100)] : nil
    }

    /// Two hex digits, upper case: 0xE3 → "E3".
    static func hex(_ byte: UInt8) -> String {
        let digits = String(byte, radix: 16, uppercase: true)
        return byte < 0x10 ? "0" + digits : digits
    }

    /// The bytes that do not stand for themselves, in the order they take U+0100….
    private static let shiftedBytes: [UInt8] = (0...255).filter { !isPrintable(UInt32($0)) }.map(UInt8.init)

    private static func isPrintable(_ byte: UInt32) -> Bool {
        (0x21...0x7E).contains(byte) || (0xA1...0xAC).contains(byte) || (0xAE...0xFF).contains(byte)
    }
}

/// A binary min-heap: the merge candidates of one piece, smallest (rank, position) on top.
private struct MinHeap<Element: Comparable> {
    private var elements: [Element] = []

    mutating func push(_ element: Element) {
        elements.append(element)
        var child = elements.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard elements[child] < elements[parent] else { break }
            elements.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> Element? {
        guard !elements.isEmpty else { return nil }
        elements.swapAt(0, elements.count - 1)
        let top = elements.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < elements.count && elements[left] < elements[smallest] { smallest = left }
            if right < elements.count && elements[right] < elements[smallest] { smallest = right }
            if smallest == parent { return top }
            elements.swapAt(parent, smallest)
            parent = smallest
        }
    }
}
