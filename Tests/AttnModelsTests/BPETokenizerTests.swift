import AttnEngine
import AttnModels
import Testing

/// GPT-2's `bytes_to_unicode`, written out again here from the paper's code so that the tests do
/// not borrow the tokenizer's own table: printable Latin-1 bytes stand for themselves, the other 68
/// take U+0100… in byte order.
private let byteAlphabet: [String] = {
    let printable = Array(0x21...0x7E) + Array(0xA1...0xAC) + Array(0xAE...0xFF)
    let shifted = (0...255).filter { !printable.contains($0) }
    var scalars = [Int](repeating: 0, count: 256)
    for byte in printable { scalars[byte] = byte }
    for (n, byte) in shifted.enumerated() { scalars[byte] = 0x100 + n }
    return scalars.map { String(Unicode.Scalar(UInt32($0))!) }
}()

/// A tokenizer over all 256 byte tokens (ids 0–255, in byte order), then `literals` with their
/// token types, then the result of each merge in merge order. Merges use "Ġ" for a space.
private func tokenizer(merges: [String], literals: [(String, Int32)] = []) throws -> BPETokenizer {
    var tokens = byteAlphabet + literals.map(\.0)
    for merge in merges {
        let merged = merge.split(separator: " ").joined()
        if !tokens.contains(merged) { tokens.append(merged) }
    }
    let types = [Int32](repeating: 1, count: 256) + literals.map(\.1) + [Int32](repeating: 1, count: tokens.count - 256 - literals.count)
    return try BPETokenizer(tokens: tokens, tokenTypes: types, merges: merges, file: "test.gguf")
}

/// The tokens of `text`, each as `text(of:)` shows it.
private func pieces(_ tokenizer: BPETokenizer, _ text: String) throws -> [String] {
    try tokenizer.encode(text, field: .prompt).map(tokenizer.text(of:))
}

/// The error `body` throws, or nil.
private func configError<T>(_ body: () throws(ConfigError) -> T) -> ConfigError? {
    do {
        _ = try body()
        return nil
    } catch {
        return error
    }
}

/// BPE by its definition, on token strings: while some adjacent pair has a merge, join the
/// leftmost pair of lowest rank. Quadratic, obvious, and independent of the tokenizer's heap.
private func referenceBPE(_ word: String, merges: [String]) -> [String] {
    let rank = Dictionary(uniqueKeysWithValues: merges.enumerated().map { ($1, $0) })
    var symbols = word.map(String.init)
    while true {
        let ranked = symbols.indices.dropLast().compactMap { i in rank["\(symbols[i]) \(symbols[i + 1])"].map { (rank: $0, at: i) } }
        guard let best = ranked.min(by: { ($0.rank, $0.at) < ($1.rank, $1.at) }) else { return symbols }
        symbols[best.at] += symbols[best.at + 1]
        symbols.remove(at: best.at + 1)
    }
}

@Suite("Byte-level BPE tokenizer (GPT-2 / SmolLM2)")
struct BPETokenizerTests {
    @Test("merges apply by rank, not by position: 'e l' before 'l l' and the reverse split 'hello' differently")
    func mergeOrder() throws {
        let elFirst = try tokenizer(merges: ["e l", "l l", "h el"])
        #expect(try pieces(elFirst, "hello") == ["hel", "l", "o"])
        let llFirst = try tokenizer(merges: ["l l", "e l", "h el"])
        #expect(try pieces(llFirst, "hello") == ["h", "e", "ll", "o"])
    }

    @Test("equal ranks merge leftmost first: 'aaa' → aa a, 'aaaaa' → aa aa a")
    func leftmostFirst() throws {
        let bpe = try tokenizer(merges: ["a a"])
        #expect(try pieces(bpe, "aaa") == ["aa", "a"])
        #expect(try pieces(bpe, "aaaaa") == ["aa", "aa", "a"])
    }

    @Test("merges build a word with its leading space: ' the' → one token Ġthe")
    func wordWithSpace() throws {
        let bpe = try tokenizer(merges: ["Ġ t", "h e", "Ġt he"])
        let ids = try bpe.encode("the the", field: .prompt)
        #expect(ids.map(bpe.text(of:)) == ["t", "he", " the"])
        #expect(bpe.id(of: "Ġthe") == ids[2])
    }

    @Test("the heap merge agrees with BPE by definition on random words and merge lists")
    func agreesWithReference() throws {
        var rng = SplitMix64(seed: 7)
        for _ in 0..<50 {
            // Each merge joins two tokens made so far into a new one, as BPE training does.
            var made = ["a", "b", "c", "d"]
            var merges: [String] = []
            while merges.count < 40 {
                let left = made.randomElement(using: &rng)!, right = made.randomElement(using: &rng)!
                guard !made.contains(left + right) else { continue }
                made.append(left + right)
                merges.append("\(left) \(right)")
            }
            let bpe = try tokenizer(merges: merges)
            for _ in 0..<20 {
                let word = String((0..<Int.random(in: 1...60, using: &rng)).map { _ in "abcd".randomElement(using: &rng)! })
                #expect(try pieces(bpe, word) == referenceBPE(word, merges: merges), "\(word) with \(merges)")
            }
        }
    }

    @Test("a character without merges falls back to its UTF-8 bytes, shown as <0x..> alone")
    func byteFallback() throws {
        let bpe = try tokenizer(merges: [])
        let ids = try bpe.encode("é", field: .prompt)
        #expect(ids == [0xC3, 0xA9])
        #expect(ids.map(bpe.text(of:)) == ["<0xC3>", "<0xA9>"])
        #expect(bpe.decode(ids) == "é")
        #expect(bpe.decode([0xC3]) == "\u{FFFD}")
        #expect(try pieces(bpe, "キ") == ["<0xE3>", "<0x82>", "<0xAD>"])
    }

    @Test("every digit is its own piece, so no merge joins digits or a space to a digit")
    func digitsSplit() throws {
        let bpe = try tokenizer(merges: ["1 2", "Ġ 4", "Ġ x"])
        #expect(try pieces(bpe, "12") == ["1", "2"])
        #expect(try pieces(bpe, " 42 x") == [" ", "4", "2", " x"])
        #expect(try pieces(bpe, "½²") == ["<0xC2>", "<0xBD>", "<0xC2>", "<0xB2>"])
    }

    @Test("GPT-2 pieces: contractions, one space leads a word, the last space of a run leads the next word")
    func preTokenizerPieces() throws {
        let bpe = try tokenizer(merges: ["n '", "' t", "Ġ Ġ", "Ġ b", "Ċ Ċ", "ĉ ĉ", "a Ġ"])
        #expect(try pieces(bpe, "don't") == ["d", "o", "n", "'t"])
        #expect(try pieces(bpe, "a  b") == ["a", " ", " b"])
        #expect(try pieces(bpe, "a   b") == ["a", "  ", " b"])
        #expect(try pieces(bpe, "a  ") == ["a", "  "])
        #expect(try pieces(bpe, "\n\nb") == ["\n", "\n", "b"])
        #expect(try pieces(bpe, "\t\tb") == ["\t", "\t", "b"])
        #expect(try pieces(bpe, "\n\n") == ["\n\n"])
    }

    @Test("control tokens written in the text are single tokens, longest first, and decode as written")
    func specialTokens() throws {
        let bpe = try tokenizer(
            merges: ["H i"],
            literals: [("<|im", 3), ("<|im_start|>", 3), ("<|im_end|>", 3), ("<user>", 4), ("<plain>", 1)]
        )
        let start = try #require(bpe.id(of: "<|im_start|>")), end = try #require(bpe.id(of: "<|im_end|>"))
        let ids = try bpe.encode("<|im_start|>user\nHi<|im_end|>", field: .prompt)
        #expect(ids.first == start && ids.last == end)
        #expect(ids.map(bpe.text(of:)) == ["<|im_start|>", "u", "s", "e", "r", "\n", "Hi", "<|im_end|>"])
        #expect(try pieces(bpe, "<|im_sta") == ["<|im", "_", "s", "t", "a"])
        let user = try #require(bpe.id(of: "<user>"))
        #expect(try bpe.encode("a<user>", field: .prompt) == [Int(UInt8(ascii: "a")), user])
        #expect(try bpe.encode("<plain>", field: .prompt).count == 7, "a normal token is not matched in the text")
        #expect(bpe.decode(ids) == "<|im_start|>user\nHi<|im_end|>")
    }

    @Test(
        "decode(encode(s)) == s",
        arguments: [
            "The capital of France is", "  leading and trailing  ", "キャッシュを共有する", "😀👍🏽 👨‍👩‍👧‍👦 🇫🇷",
            "e\u{301} café naïve", "line1\r\nline2\r\n", "a  \n\n  b\t\tc", "   ", "", "12345 3.14",
            "don't I'll 'S", "<|im_start|>user\nHi<|im_end|>\n", "\u{A0}nbsp\u{3000}ideo\u{200B}zw", "x\u{0}y\u{7F}",
        ]
    )
    func roundTrip(text: String) throws {
        let bpe = try tokenizer(merges: ["Ġ t", "h e", "Ġt he", "ã Ĥ", "Ġ Ġ", "Ċ Ċ"], literals: [("<|im_start|>", 3), ("<|im_end|>", 3)])
        #expect(bpe.decode(try bpe.encode(text, field: .prompt)) == text)
    }

    @Test("ids outside the vocabulary decode as ⟨id⟩ instead of trapping")
    func outOfRangeIds() throws {
        let bpe = try tokenizer(merges: [])
        #expect(bpe.decode([Int(UInt8(ascii: "a")), -1, bpe.count, Int(UInt8(ascii: "b"))]) == "a⟨-1⟩⟨256⟩b")
        #expect(bpe.text(of: -3) == "⟨-3⟩")
        #expect(bpe.text(of: 1_000_000) == "⟨1000000⟩")
    }

    @Test("a byte the vocabulary has no token for is an error naming the field and the character")
    func missingByte() throws {
        let bpe = try BPETokenizer(tokens: ["a", "b"], tokenTypes: [1, 1], merges: [], file: "tiny.gguf")
        #expect(try bpe.encode("ab", field: .prompt) == [0, 1])
        let error = try #require(configError { () throws(ConfigError) in try bpe.encode("aé", field: .prompt) })
        #expect(error.subject == .fields([.prompt]))
        #expect(error.reason.contains("0xC3") && error.reason.contains("é"))
    }

    @Test("malformed vocabularies are errors naming the file, not crashes")
    func malformed() throws {
        func error(_ tokens: [String], _ types: [Int32]? = nil, _ merges: [String] = []) -> ConfigError? {
            configError { () throws(ConfigError) in
                try BPETokenizer(tokens: tokens, tokenTypes: types ?? tokens.map { _ in 1 }, merges: merges, file: "bad.gguf")
            }
        }
        let cases: [(ConfigError?, String)] = [
            (error([]), "no tokens"),
            (error(["a", "b", "a"]), "appears twice, as ids 0 and 2"),
            (error(["a", ""]), "token 1 is empty"),
            (error(["a", "b"], [1]), "2 tokens but 1 token types"),
            (error(["a", "b", "ab"], nil, ["a c"]), "names \"c\", which is not a token"),
            (error(["a", "b"], nil, ["a b"]), "makes \"ab\", which is not a token"),
            (error(["a", "b", "ab"], nil, ["ab"]), "not two tokens separated by a space"),
        ]
        for (error, reason) in cases {
            #expect(error?.subject == .file("bad.gguf"))
            #expect(error?.reason.contains(reason) == true, "\(String(describing: error)) should say \(reason)")
        }
    }
}
