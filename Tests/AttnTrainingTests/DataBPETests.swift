import AttnEngine
import AttnModels
import Foundation
import Testing
import AttnTraining

@Suite struct DataBPETests {
    /// Wikipedia's example of byte-pair encoding ("aaabdaaabac" → "ZabdZabac" → "ZYdZYac" → "XdXac"
    /// with Z = aa, Y = ab, X = ZY), one pre-tokenizer piece. By hand: "aa" occurs 4 times counting
    /// overlaps, but merging left to right applies it twice (aa·a·b d aa·a·b a c); then "aa a" and "a b"
    /// both occur twice and the tie goes to the left token whose bytes come first ("a" < "aa"); then
    /// "aa ab" twice. Five tokens are left: 11 bytes − 3 merges × 2 applications.
    @Test func wikipediaExample() throws {
        let merges = BPETrainer.train(words: ["aaabdaaabac".utf8.map { $0 }: 1], vocabSize: 259)
        #expect(merges.map(\.applied) == [2, 2, 2])
        let tokenizer = TrainingTokenizer.train(on: ["aaabdaaabac"], vocabSize: 259)
        #expect(tokenizer.merges == ["a a", "a b", "aa ab"])
        #expect(Array(tokenizer.tokens[256...]) == ["aa", "ab", "aaab"])
        #expect(try tokenizer.encode("aaabdaaabac") == [258, Int32(UInt8(ascii: "d")), 258, Int32(UInt8(ascii: "a")), Int32(UInt8(ascii: "c"))])
        // The next merge would be the first pair of the last counts, all 1: (a, c), since "a" sorts first.
        #expect(TrainingTokenizer.train(on: ["aaabdaaabac"], vocabSize: 260).merges.last == "a c")
    }

    /// Pairs count only inside the pre-tokenizer's pieces ("the", " the", " the", " the"), with GPT-2's
    /// byte spellings ("Ġ" for the space): "t h" and "h e" both occur 4 times and the tie goes to "h"
    /// < "t"; then "t he" 4 times; then "Ġ the" 3 times. "e Ġ" across two words is never counted.
    @Test func mergesStayInsidePieces() throws {
        let tokenizer = TrainingTokenizer.train(on: ["the the the the"], vocabSize: 259)
        #expect(tokenizer.merges == ["h e", "t he", "Ġ the"])
        #expect(try tokenizer.tokenizer.decode(try tokenizer.encode("the the").map(Int.init)) == "the the")
        #expect(try tokenizer.encode(" the").count == 1)
    }

    @Test func bytesTokenizer() throws {
        let t = TrainingTokenizer.bytes
        #expect(t.vocabSize == 256 && t.merges.isEmpty && t.choice == .bytes)
        #expect(t.tokens[0x20] == "Ġ" && t.tokens[0x41] == "A" && t.tokens[0x0A] == "Ċ")
        let text = "naïve café — 日本語\n\tx = 2024\r\n"
        #expect(try t.encode(text) == text.utf8.map { Int32($0) })
    }

    /// encode → decode gives the text back, for every vocabulary size, with text the tokenizer was
    /// not trained on (other letters, digits, odd spacing).
    @Test func roundTrip() throws {
        let training = madeUpText(sentences: 400)
        let unseen = "Qu'est-ce   que c'est?\n\n  Ωμέγα 3.14159 — ZZZ\t\ttabs\r\nand they'll've\u{0}end"
        for size in [256, 300, 600] {
            let t = TrainingTokenizer.train(on: [training], vocabSize: size)
            for text in [training, unseen, ""] {
                #expect(try t.tokenizer.decode(try t.encode(text).map(Int.init)) == text)
            }
        }
    }

    /// What the trainer counted is what encoding gives: the training text's tokens from
    /// `BPETokenizer.encode` number its bytes minus the merges the trainer applied. (Each merge applied
    /// once removes one token; were encoding to split any training word differently — another merge
    /// order — the counts would part.)
    @Test func trainerCountsMatchEncoding() throws {
        let documents = (0..<12).map { madeUpText(sentences: 150, seed: UInt64($0)) }
        for size in [300, 512, 1000] {
            let merges = BPETrainer.train(words: BPETrainer.words(of: documents), vocabSize: size)
            let t = TrainingTokenizer.train(on: documents, vocabSize: size)
            let bytes = documents.reduce(0) { $0 + $1.utf8.count }
            let encoded = try documents.reduce(0) { $0 + (try t.encode($1)).count }
            #expect(encoded == bytes - merges.reduce(0) { $0 + $1.applied }, "vocabulary \(size)")
        }
    }

    /// The incremental trainer against a plain one that recounts every pair of every word before each
    /// merge (the same counting, tie-break and skip rules, none of the bookkeeping).
    @Test func agreesWithRecountingTrainer() throws {
        let documents = (0..<4).map { madeUpText(sentences: 120, seed: UInt64(10 + $0)) } + ["aaaa aaaaa abab ababab zzz"]
        let words = BPETrainer.words(of: documents)
        let fast = BPETrainer.train(words: words, vocabSize: 700)
        let slow = Self.recountingTrainer(words: words, vocabSize: 700)
        #expect(fast.count == slow.count)
        #expect(fast.map(\.left) == slow.map(\.left) && fast.map(\.right) == slow.map(\.right) && fast.map(\.applied) == slow.map(\.applied))
    }

    /// BPE by the book: count all pairs, merge the best one everywhere, repeat.
    static func recountingTrainer(words: [[UInt8]: Int], vocabSize: Int) -> [(left: Int32, right: Int32, applied: Int)] {
        var segmented = words.map { (symbols: $0.key.map { Int32($0) }, count: $0.value) }
        var tokenBytes: [[UInt8]] = (0...255).map { [UInt8($0)] }
        var merges: [(left: Int32, right: Int32, applied: Int)] = []
        var skipped = Set<[Int32]>()
        while tokenBytes.count < vocabSize {
            var counts: [[Int32]: Int] = [:]
            for word in segmented where word.symbols.count > 1 {
                for i in 0..<word.symbols.count - 1 { counts[[word.symbols[i], word.symbols[i + 1]], default: 0] += word.count }
            }
            let best = counts.filter { !skipped.contains($0.key) && $0.value > 0 }.min { x, y in
                if x.value != y.value { return x.value > y.value }
                let (xl, yl) = (tokenBytes[Int(x.key[0])], tokenBytes[Int(y.key[0])])
                if xl != yl { return xl.lexicographicallyPrecedes(yl) }
                return tokenBytes[Int(x.key[1])].lexicographicallyPrecedes(tokenBytes[Int(y.key[1])])
            }
            guard let best else { break }
            let (a, b) = (best.key[0], best.key[1])
            let merged = tokenBytes[Int(a)] + tokenBytes[Int(b)]
            if tokenBytes.contains(merged) {
                skipped.insert(best.key)
                continue
            }
            let t = Int32(tokenBytes.count)
            tokenBytes.append(merged)
            var applied = 0
            for w in segmented.indices {
                var out: [Int32] = [], i = 0
                let s = segmented[w].symbols
                while i < s.count {
                    if i + 1 < s.count && s[i] == a && s[i + 1] == b {
                        out.append(t)
                        applied += segmented[w].count
                        i += 2
                    } else {
                        out.append(s[i])
                        i += 1
                    }
                }
                segmented[w].symbols = out
            }
            merges.append((a, b, applied))
        }
        return merges
    }

    /// Same text → same merges, whatever the order of the documents (only the word counts matter).
    @Test func deterministic() throws {
        let documents = (0..<6).map { madeUpText(sentences: 100, seed: UInt64(20 + $0)) }
        let a = TrainingTokenizer.train(on: documents, vocabSize: 600)
        let b = TrainingTokenizer.train(on: documents.reversed(), vocabSize: 600)
        #expect(a.merges == b.merges && a.tokens == b.tokens)
        #expect(a.vocabSize == 600)
    }

    /// With fewer pairs than merges asked for, training stops when none is left: the vocabulary is
    /// smaller, and still valid.
    @Test func stopsWhenPairsRunOut() throws {
        let t = TrainingTokenizer.train(on: ["ab ab"], vocabSize: 8192)
        #expect(t.merges == ["a b", "Ġ ab"])
        #expect(t.vocabSize == 258)
    }

    /// The tokenizer rebuilt from its tokens and merges as a GGUF stores them (strings), as a reader
    /// of that file would, encodes identically.
    @Test func rebuiltFromStringsEncodesTheSame() throws {
        let text = madeUpText(sentences: 300)
        let t = TrainingTokenizer.train(on: [text], vocabSize: 500)
        let rebuilt = try BPETokenizer(tokens: t.tokens, tokenTypes: t.tokenTypes, merges: t.merges, file: "checkpoint.gguf")
        #expect(try rebuilt.encode(text, field: .text) == t.encode(text).map(Int.init))
    }

    @Test func choiceParsing() throws {
        #expect(try TokenizerChoice(parsing: "bytes") == .bytes)
        #expect(try TokenizerChoice(parsing: "BPE:1024") == .bpe(vocabSize: 1024))
        #expect(TokenizerChoice.bpe(vocabSize: 512).description == "bpe:512")
        #expect(throws: ConfigError(.tokenizer, "unknown tokenizer 'words' (known: bytes, bpe:N with N in 257…8192, e.g. bpe:1024)")) {
            try TokenizerChoice(parsing: "words")
        }
        #expect(throws: ConfigError(.tokenizer, "bpe:9000: the vocabulary size must be in 257…8192")) { try TokenizerChoice(parsing: "bpe:9000") }
        #expect(throws: ConfigError.self) { try TokenizerChoice(parsing: "bpe:") }
    }
}
