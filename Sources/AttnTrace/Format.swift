/// Number formatting shared by text traces, tables and reports. Pure string work, no locale: the
/// same output on every machine.
public enum Format {
    /// 33554432 → "33,554,432".
    public static func grouped(_ n: Int) -> String {
        let digits = String(n.magnitude)
        var out = ""
        for (i, ch) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out += "," }
            out.append(ch)
        }
        return n < 0 ? "-" + out : out
    }

    /// The unit system of `bytes`.
    public enum ByteUnits: Sendable {
        /// Powers of 1000 as the papers use them: kB, MB, GB…
        case decimal
        /// Powers of 1024: KiB, MiB, GiB…
        case binary
    }

    /// Bytes with two decimals in the largest unit below the value: "33.55 MB", "512 B", "1.10 TB";
    /// with `.binary` units, "32.00 MiB".
    public static func bytes(_ n: Int, units: ByteUnits = .decimal) -> String {
        let (base, names) = switch units {
        case .decimal: (1000.0, ["B", "kB", "MB", "GB", "TB", "PB", "EB"])
        case .binary: (1024.0, ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"])
        }
        var value = Double(n), unit = 0
        while abs(value) >= base && unit < names.count - 1 {
            value /= base
            unit += 1
        }
        return unit == 0 ? "\(n) B" : "\(fixed(value, 2)) \(names[unit])"
    }

    /// `x` with exactly `decimals` decimals, rounded half away from zero ("0.875" → "87.50" as %).
    public static func fixed(_ x: Double, _ decimals: Int) -> String {
        guard x.isFinite else { return String(x) }
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let scaled = (abs(x) * scale).rounded(.toNearestOrAwayFromZero)
        let whole = Int(scaled / scale)
        var frac = String(Int(scaled - Double(whole) * scale))
        frac = String(repeating: "0", count: max(0, decimals - frac.count)) + frac
        let sign = x < 0 && scaled != 0 ? "-" : ""
        return decimals == 0 ? "\(sign)\(whole)" : "\(sign)\(whole).\(frac)"
    }

    /// 3.1483e-07 → "3.15e-7"; 0 → "0".
    public static func scientific(_ x: Double, _ decimals: Int = 2) -> String {
        guard x != 0, x.isFinite else { return x == 0 ? "0" : String(x) }
        var exponent = 0, m = abs(x)
        while m >= 10 { m /= 10; exponent += 1 }
        while m < 1 { m *= 10; exponent -= 1 }
        var digits = fixed(m, decimals)
        if digits.hasPrefix("10") { digits = fixed(m / 10, decimals); exponent += 1 }
        return (x < 0 ? "-" : "") + digits + "e" + String(exponent)
    }

    /// "1 token", "2 tokens".
    public static func plural(_ n: Int, _ noun: String) -> String { n == 1 ? "1 \(noun)" : "\(grouped(n)) \(noun)s" }

    /// 0.875 → "87.50%".
    public static func percent(_ fraction: Double, _ decimals: Int = 2) -> String { fixed(fraction * 100, decimals) + "%" }

    /// Whether `scalar` is Chinese, Japanese or Korean script as AttnLab treats it: CJK punctuation,
    /// kana and ideographs (U+3000–9FFF), compatibility ideographs (U+F900–FAFF) and full-width
    /// forms (U+FF00–FFEF). Such a character is a full em wide, needs the CJK font, and a line break
    /// beside it is not a word break. The one table for figures, the renderer and reports.
    /// `s` safe inside XML and HTML text and attribute values: & < > " escaped.
    public static func xmlEscaped(_ s: String) -> String {
        s.replacing("&", with: "&amp;").replacing("<", with: "&lt;").replacing(">", with: "&gt;").replacing("\"", with: "&quot;")
    }

    public static func isCJK(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x3000...0x9FFF, 0xF900...0xFAFF, 0xFF00...0xFFEF: true
        default: false
        }
    }

    /// The columns `s` takes in a terminal: 2 for a full-width (Japanese) character, 0 for a
    /// combining mark and for an ANSI escape sequence, 1 for anything else.
    public static func columns(_ s: some StringProtocol) -> Int {
        var total = 0, escape = false
        for ch in s {
            if escape {
                if ch.isLetter { escape = false }
                continue
            }
            if ch == "\u{1B}" {
                escape = true
                continue
            }
            total += columns(ch)
        }
        return total
    }

    /// The columns one character takes in a terminal (see `columns(_:)` of a string).
    public static func columns(_ ch: Character) -> Int {
        guard let scalar = ch.unicodeScalars.first else { return 0 }
        switch scalar.value {
        case 0xFF61...0xFFDC, 0xFFE8...0xFFEE: return 1  // half-width katakana and forms
        case 0x0300...0x036F, 0x200B...0x200F: return 0  // combining marks, zero-width spaces
        case 0x1100...0x115F, 0x2E80...0x2FFF, 0xAC00...0xD7A3, 0x1F300...0x1FAFF: return 2  // Hangul, radicals, emoji
        default: return isCJK(scalar) ? 2 : 1
        }
    }

    /// Left-aligned table with a header row and a rule, columns separated by two spaces.
    /// Columns listed in `rightAligned` are aligned right (numbers).
    public static func table(_ header: [String], _ rows: [[String]], rightAligned: Set<Int> = []) -> String {
        let all = [header] + rows
        // Widths in terminal columns: a Japanese title takes two per character.
        let widths = header.indices.map { c in all.map { $0.count > c ? columns($0[c]) : 0 }.max() ?? 0 }
        func line(_ cells: [String]) -> String {
            var line = cells.enumerated().map { c, cell in
                let pad = String(repeating: " ", count: widths[c] - columns(cell))
                return rightAligned.contains(c) ? pad + cell : cell + pad
            }.joined(separator: "  ")
            trimTrailingWhitespace(&line)
            return line
        }
        let rule = widths.map { String(repeating: "─", count: $0) }.joined(separator: "  ")
        return ([line(header), rule] + rows.map(line)).joined(separator: "\n") + "\n"
    }

    /// Removes the whitespace characters (spaces, tabs, newlines…: `Character.isWhitespace`, what
    /// a regex's `\s` matches) at the end of `s`, looking only at the end.
    ///
    /// Most lines end in an ASCII letter, digit or sign, or in padding: those are decided by their
    /// last bytes. A character ending in such a byte is no whitespace, and a space after an ASCII
    /// byte is a character of its own (only a non-ASCII "prepend" mark could join it); anything
    /// else is asked of `Character`.
    static func trimTrailingWhitespace(_ s: inout String) {
        while let last = s.utf8.last {
            if last > 0x20 && last < 0x80 { return }
            let utf8 = s.utf8
            let spaceAlone = last == 0x20 && (utf8.count == 1 || utf8[utf8.index(utf8.endIndex, offsetBy: -2)] < 0x80)
            guard spaceAlone || s.last!.isWhitespace else { return }
            s.removeLast()
        }
    }
}
