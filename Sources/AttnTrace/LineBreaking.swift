/// Line breaking for English and Japanese: where a line may end, and greedy filling to a width.
///
/// English breaks after spaces only, so a word is never split. Japanese has no spaces: a line may
/// break between any two characters, except before closing punctuation and small kana (。、」ゃ…,
/// which would start a line) and after opening brackets (「（…, which would end one) — the
/// basic rules of Japanese line breaking (JIS X 4051's 行頭禁則 and 行末禁則).
public enum LineBreaking {
    /// Characters that must not start a line.
    static let noBreakBefore: Set<Character> = Set("、。，．・：；？！）」』】〕〉》ー々ぁぃぅぇぉっゃゅょゎァィゥェォッャュョヮヵヶ…‥,.:;?!)]}%")
    /// Characters that must not end a line.
    static let noBreakAfter: Set<Character> = Set("（「『【〔〈《([{")

    static func isKatakana(_ ch: Character) -> Bool { ch.unicodeScalars.allSatisfy { (0x30A0...0x30FF).contains($0.value) } }

    /// `text` with the spaces between two Japanese characters removed: where YAML folds a
    /// Japanese paragraph's lines it puts spaces that Japanese does not have.
    public static func unfolded(_ text: String) -> String {
        let chars = Array(text)
        var out = ""
        for (i, ch) in chars.enumerated() {
            if ch == " ", i > 0, i + 1 < chars.count,
               chars[i - 1].unicodeScalars.contains(where: Format.isCJK) && chars[i + 1].unicodeScalars.contains(where: Format.isCJK) { continue }
            out.append(ch)
        }
        return out
    }

    /// `text` cut into the pieces no line may split: a word with the spaces after it, or one
    /// Japanese character with the punctuation that must stay with it.
    public static func units(_ text: String) -> [String] {
        var units: [String] = []
        var current = ""
        for ch in text {
            let cjk = ch.unicodeScalars.first.map(Format.isCJK) ?? false
            let previous = current.last
            let breaksHere: Bool
            if current.isEmpty || noBreakBefore.contains(ch) || previous.map(noBreakAfter.contains) == true {
                breaksHere = false
            } else if ch == " " {
                breaksHere = false  // spaces stay at the end of the word they follow
            } else if previous == " " {
                breaksHere = true
            } else if isKatakana(ch) && previous.map(isKatakana) == true {
                breaksHere = false  // a katakana word (バイト, キャッシュ) stays whole, like an English one
            } else {
                // Between two characters with no space: only where either is Japanese.
                breaksHere = cjk || previous.flatMap { $0.unicodeScalars.first }.map(Format.isCJK) == true
            }
            if breaksHere {
                units.append(current)
                current = ""
            }
            current.append(ch)
        }
        if !current.isEmpty { units.append(current) }
        return units
    }

    /// `text` in lines no wider than `width` by `measure`, filled greedily; trailing spaces are
    /// dropped. A single piece wider than `width` (a very long word) gets a line of its own, cut
    /// between characters only where it cannot fit otherwise.
    public static func wrap(_ text: String, width: Double, measure: (String) -> Double) -> [String] {
        var lines: [String] = []
        var line = ""
        func trimmed(_ s: String) -> String { String(s.reversed().drop { $0 == " " }.reversed()) }
        for unit in units(text) {
            if measure(trimmed(line + unit)) <= width {
                line += unit
                continue
            }
            if !line.isEmpty { lines.append(trimmed(line)) }
            line = ""
            if measure(trimmed(unit)) <= width {
                line = unit
                continue
            }
            // Too wide alone: cut it by characters.
            for ch in unit {
                if !line.isEmpty && measure(trimmed(line + String(ch))) > width {
                    lines.append(trimmed(line))
                    line = ""
                }
                line.append(ch)
            }
        }
        if !trimmed(line).isEmpty { lines.append(trimmed(line)) }
        return lines
    }
}
