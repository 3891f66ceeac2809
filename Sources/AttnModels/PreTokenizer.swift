/// The split of text into pieces before BPE, as SmolLM2's HuggingFace tokenizer does it
/// (`Sequence[Digits(individual_digits=true), ByteLevel(use_regex=true)]`; llama.cpp calls it the
/// "smollm" pre-tokenizer). BPE then merges within a piece, never across two.
///
/// First every number scalar becomes a piece of its own, so "2024" is always four tokens. Each
/// stretch between them is then split by GPT-2's regular expression (Radford et al. 2019):
///
///     's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
///
/// written out by hand over Unicode scalars: at each position the alternatives are tried in that
/// order, as the regex engine tries them, and the first that matches takes its (greedy) run.
/// Scalars, not Swift `Character`s: the regex sees "\r\n" as two, and "e" + U+0301 as a letter
/// followed by a mark.
public enum PreTokenizer {
    /// The pieces of `text`, as index ranges of `text`, in order and covering all of it.
    public static func pieces(of text: ArraySlice<Unicode.Scalar>) -> [Range<Int>] {
        let classes = text.map(ScalarClass.init)  // classes[i - text.startIndex]
        var pieces: [Range<Int>] = []
        var stretchStart = text.startIndex
        for i in text.indices where classes[i - text.startIndex] == .number {
            splitGPT2(text, classes, stretchStart..<i, into: &pieces)
            pieces.append(i..<i + 1)
            stretchStart = i + 1
        }
        splitGPT2(text, classes, stretchStart..<text.endIndex, into: &pieces)
        return pieces
    }

    /// GPT-2's regex over `range` of `text`, appending each match to `pieces`.
    private static func splitGPT2(
        _ text: ArraySlice<Unicode.Scalar>, _ classes: [ScalarClass], _ range: Range<Int>,
        into pieces: inout [Range<Int>]
    ) {
        func scalarClass(_ i: Int) -> ScalarClass { classes[i - text.startIndex] }
        let end = range.upperBound
        var start = range.lowerBound
        while start < end {
            var pieceEnd: Int
            if let length = contractionLength(text, at: start, end: end) {
                pieceEnd = start + length
            } else {
                // ` ?`: one ASCII space (only U+0020) may lead a run of letters, numbers or symbols.
                let runStart = text[start] == " " && start + 1 < end && scalarClass(start + 1) != .space ? start + 1 : start
                let runClass = scalarClass(runStart)
                pieceEnd = runStart + 1
                while pieceEnd < end && scalarClass(pieceEnd) == runClass { pieceEnd += 1 }
                // `\s+(?!\S)` leaves the last space of a run before a word to lead that word
                // ("a   b" → "a", "  ", " b"); a lone space before a word falls to `\s+`.
                if runClass == .space && pieceEnd < end && pieceEnd - start > 1 { pieceEnd -= 1 }
            }
            pieces.append(start..<pieceEnd)
            start = pieceEnd
        }
    }

    /// Length of the English contraction ('s 't 're 've 'm 'll 'd, lower case only) at `i`, if any.
    private static func contractionLength(_ text: ArraySlice<Unicode.Scalar>, at i: Int, end: Int) -> Int? {
        guard text[i] == "'", i + 1 < end else { return nil }
        switch text[i + 1] {
        case "s", "t", "m", "d": return 2
        case "r", "v": return i + 2 < end && text[i + 2] == "e" ? 3 : nil
        case "l": return i + 2 < end && text[i + 2] == "l" ? 3 : nil
        default: return nil
        }
    }

    /// What GPT-2's regex tells apart about a scalar: `\p{L}`, `\p{N}`, `\s` (Unicode White_Space, as
    /// in Oniguruma, the regex engine HuggingFace uses), or none of these.
    private enum ScalarClass {
        case letter, number, space, other

        init(_ scalar: Unicode.Scalar) {
            self = scalar.isASCII ? Self.ascii[Int(scalar.value)] : Self(classifying: scalar)
        }

        /// The ASCII classes looked up once: nearly every scalar of English text or code is ASCII.
        private static let ascii: [ScalarClass] = (0..<128).map { Self(classifying: Unicode.Scalar(UInt8($0))) }

        private init(classifying scalar: Unicode.Scalar) {
            let properties = scalar.properties
            if properties.isWhitespace {
                self = .space
                return
            }
            switch properties.generalCategory {
            case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: self = .letter
            case .decimalNumber, .letterNumber, .otherNumber: self = .number
            default: self = .other
            }
        }
    }
}
