import AttnEngine
import AttnModels

/// Byte-pair encoding learned from a corpus (Sennrich, Haddow, Birch 2016, "Neural Machine
/// Translation of Rare Words with Subword Units", Algorithm 1, on GPT-2's bytes instead of
/// characters): start from the 256 byte tokens and repeatedly merge the most frequent adjacent pair
/// into a new token, until the vocabulary has the size asked for.
///
/// Pairs are counted within the pre-tokenizer's pieces ("words"), never across two, exactly as
/// ``BPETokenizer`` later applies the merges, so each distinct word is counted once with its
/// frequency. After a merge only the words that held the pair change, and only the pairs around each
/// merged occurrence change their counts (the incremental algorithm of HuggingFace's `BpeTrainer`):
/// a merge costs the occurrences it merges, not a recount of the corpus. The most frequent pair
/// comes from a max-heap whose entries may be stale: counts only ever fall, so an entry is an upper
/// bound, and an entry that no longer matches its pair's count goes back in with the true count when
/// it comes up.
///
/// Ties go to the pair whose left token's bytes come first, then its right token's (byte order), so
/// the merges depend on the words and their counts alone. A pair whose concatenation is already a
/// token (two merges can spell the same bytes: "ab"+"c" and "a"+"bc") is skipped: each merge then
/// makes a new token, so merge ranks only grow along a word and ``BPETokenizer/encode(_:field:)``,
/// which applies the lowest rank first, splits every training word exactly as the trainer did.
public enum BPETrainer {
    /// The merges learned from `words`, in rank order, each with the number of times it was applied
    /// (occurrences merged, summed over the words with their counts).
    ///
    /// - Parameters:
    ///   - words: each distinct pre-tokenizer piece as UTF-8 bytes, with how often it occurs.
    ///   - vocabSize: tokens wanted, the 256 bytes included; fewer if the words run out of pairs.
    public static func train(words: [[UInt8]: Int], vocabSize: Int) -> [(left: Int32, right: Int32, applied: Int)] {
        // Words in byte order, so nothing below depends on the dictionary's hashing.
        let sorted = words.sorted { $0.key.lexicographicallyPrecedes($1.key) }
        var symbols: [Int32] = []  // word w is symbols[wordStart[w] ..< wordStart[w] + wordLength[w]]
        var wordStart: [Int] = [], wordLength: [Int] = [], wordCount: [Int] = []
        for (word, count) in sorted {
            wordStart.append(symbols.count)
            wordLength.append(word.count)
            wordCount.append(count)
            for byte in word { symbols.append(Int32(byte)) }
        }

        // pass 1: count every adjacent pair, and note the words it occurs in
        var pairs = PairCounts()
        for w in 0..<wordStart.count {
            let start = wordStart[w]
            for i in start..<start + wordLength[w] - 1 {
                pairs.add(pairKey(symbols[i], symbols[i + 1]), wordCount[w], in: Int32(w))
            }
        }
        var tokenBytes: [[UInt8]] = (0...255).map { [UInt8($0)] }
        var tokenIds: [[UInt8]: Int32] = [:]
        for (id, bytes) in tokenBytes.enumerated() { tokenIds[bytes] = Int32(id) }
        var heap = PairHeap()
        for (pair, count) in pairs.count { heap.push(PairHeap.Entry(count: count, pair: pair), tokenBytes) }
        pairs.created = []

        // pass 2: merge the most frequent pair until the vocabulary is full
        var merges: [(left: Int32, right: Int32, applied: Int)] = []
        var visitedBy = [Int32](repeating: -1, count: wordStart.count)  // the merge that last rewrote word w
        while tokenBytes.count < vocabSize, let top = heap.pop(tokenBytes) {
            let count = pairs.count[top.pair] ?? 0
            if count != top.count {
                if count > 0 { heap.push(PairHeap.Entry(count: count, pair: top.pair), tokenBytes) }
                continue
            }
            let a = Int32(truncatingIfNeeded: top.pair >> 32), b = Int32(truncatingIfNeeded: top.pair)
            let bytes = tokenBytes[Int(a)] + tokenBytes[Int(b)]
            if tokenIds[bytes] != nil { continue }
            let t = Int32(tokenBytes.count)
            tokenBytes.append(bytes)
            tokenIds[bytes] = t

            var applied = 0
            for w in pairs.words.removeValue(forKey: top.pair) ?? [] where visitedBy[Int(w)] != t {
                visitedBy[Int(w)] = t
                let start = wordStart[Int(w)], end = start + wordLength[Int(w)], c = wordCount[Int(w)]
                // Left to right, rewriting in place: each (a, b) becomes t, and the pairs on either side
                // of it trade a or b for t. `previous` is the rewritten symbol before, so in "a b a b"
                // the second merge sees t on its left.
                var read = start, write = start
                while read < end {
                    if read + 1 < end && symbols[read] == a && symbols[read + 1] == b {
                        if write > start {
                            let previous = symbols[write - 1]
                            pairs.add(pairKey(previous, a), -c, in: w)
                            pairs.add(pairKey(previous, t), c, in: w)
                        }
                        if read + 2 < end {
                            let next = symbols[read + 2]
                            pairs.add(pairKey(b, next), -c, in: w)
                            pairs.add(pairKey(t, next), c, in: w)
                        }
                        symbols[write] = t
                        read += 2
                        applied += c
                    } else {
                        symbols[write] = symbols[read]
                        read += 1
                    }
                    write += 1
                }
                wordLength[Int(w)] = write - start
            }
            pairs.count[top.pair] = nil
            // The pairs with t, pushed once their counts are final.
            for pair in pairs.created where pairs.count[pair]! > 0 { heap.push(PairHeap.Entry(count: pairs.count[pair]!, pair: pair), tokenBytes) }
            pairs.created = []
            merges.append((a, b, applied))
        }
        return merges
    }

    /// The words of `texts` for ``train(words:vocabSize:)``: every piece of ``PreTokenizer`` as UTF-8
    /// bytes, with how often it occurs.
    public static func words(of texts: some Sequence<String>) -> [[UInt8]: Int] {
        var counts: [[UInt8]: Int] = [:]
        for text in texts {
            let scalars = Array(text.unicodeScalars)
            for piece in PreTokenizer.pieces(of: scalars[...]) {
                var bytes: [UInt8] = []
                for scalar in scalars[piece] { bytes += scalar.utf8 }
                counts[bytes, default: 0] += 1
            }
        }
        return counts
    }

    static func pairKey(_ left: Int32, _ right: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
    }
}

/// How often each adjacent pair occurs, summed over the words with their counts, and the words it
/// occurs in.
private struct PairCounts {
    var count: [UInt64: Int] = [:]
    /// Words that held the pair when it was counted; some may have lost it since, so they are checked
    /// on use.
    var words: [UInt64: [Int32]] = [:]
    /// Pairs seen for the first time since this was last emptied.
    var created: [UInt64] = []

    /// Adds `delta` occurrences of `pair` in word `w`.
    mutating func add(_ pair: UInt64, _ delta: Int, in w: Int32) {
        count[pair, default: 0] += delta
        guard delta > 0 else { return }
        if words[pair] == nil { created.append(pair) }
        if words[pair]?.last != w { words[pair, default: []].append(w) }
    }
}

/// A binary max-heap of (count, pair): the highest count on top, ties to the pair whose tokens'
/// bytes come first.
private struct PairHeap {
    struct Entry {
        let count: Int
        let pair: UInt64
    }

    private var entries: [Entry] = []

    /// Whether `x` comes out before `y`.
    private static func precedes(_ x: Entry, _ y: Entry, _ tokenBytes: [[UInt8]]) -> Bool {
        if x.count != y.count { return x.count > y.count }
        let xLeft = tokenBytes[Int(x.pair >> 32)], yLeft = tokenBytes[Int(y.pair >> 32)]
        if xLeft != yLeft { return xLeft.lexicographicallyPrecedes(yLeft) }
        return tokenBytes[Int(x.pair & 0xFFFF_FFFF)].lexicographicallyPrecedes(tokenBytes[Int(y.pair & 0xFFFF_FFFF)])
    }

    mutating func push(_ entry: Entry, _ tokenBytes: [[UInt8]]) {
        entries.append(entry)
        var child = entries.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard Self.precedes(entries[child], entries[parent], tokenBytes) else { break }
            entries.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop(_ tokenBytes: [[UInt8]]) -> Entry? {
        guard !entries.isEmpty else { return nil }
        entries.swapAt(0, entries.count - 1)
        let top = entries.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var first = parent
            if left < entries.count && Self.precedes(entries[left], entries[first], tokenBytes) { first = left }
            if right < entries.count && Self.precedes(entries[right], entries[first], tokenBytes) { first = right }
            if first == parent { return top }
            entries.swapAt(parent, first)
            parent = first
        }
    }
}
