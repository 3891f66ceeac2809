import AttnTrace

/// The Markdown of lesson narration, parsed once and rendered twice: HTML for `report.html`, ANSI
/// text reflowed to a width for the terminal's step-through.
///
/// What it reads: paragraphs separated by blank lines; `- `, `* ` and `1. ` list items, which may
/// follow a paragraph line directly (the lessons write "From each config:\n- …"); an item's next
/// lines, indented or not, continue it (CommonMark's lazy continuation); `**strong**`, `*emphasis*`
/// (nested either way) and `` `code` ``. The lines of a paragraph or item are YAML's line breaks,
/// not the author's: they are joined with a space, or with nothing beside a Japanese character.
public struct Markdown: Equatable, Sendable {
    /// Text inside a block.
    public indirect enum Inline: Equatable, Sendable {
        case text(String)
        case code(String)
        case strong([Inline])
        case emphasis([Inline])
    }

    public enum Block: Equatable, Sendable {
        case paragraph([Inline])
        /// `start`: the first item's number of a numbered list, nil for bullets.
        case list(start: Int?, items: [[Inline]])
    }

    public let blocks: [Block]

    /// Parses `text`; anything it does not read stays text.
    public init(_ text: String) {
        var blocks: [Block] = []
        var paragraph: [String] = []
        var list: (start: Int?, items: [[String]])? = nil
        func flush() {
            if !paragraph.isEmpty { blocks.append(.paragraph(Self.inlines(Self.joinLines(paragraph)))) }
            if let l = list { blocks.append(.list(start: l.start, items: l.items.map { Self.inlines(Self.joinLines($0)) })) }
            paragraph = []
            list = nil
        }
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if line.trimmingSpaces.isEmpty {
                flush()
            } else if let (number, content) = Self.listMarker(line) {
                // A paragraph line or a list of the other kind ends where this list starts.
                if list.map({ ($0.start == nil) != (number == nil) }) ?? true {
                    flush()
                    list = (number, [])
                }
                list!.items.append([content])
            } else if list != nil {
                list!.items[list!.items.count - 1].append(line)
            } else {
                paragraph.append(line)
            }
        }
        flush()
        self.blocks = blocks
    }

    /// `- item`, `* item`, `12. item` (up to three spaces before the marker): the item's number (nil
    /// for a bullet) and its text.
    static func listMarker(_ line: String) -> (Int?, String)? {
        let indent = line.prefix { $0 == " " }.count
        guard indent <= 3 else { return nil }
        let rest = line.dropFirst(indent)
        if rest.hasPrefix("- ") || rest.hasPrefix("* ") { return (nil, String(rest.dropFirst(2))) }
        let digits = rest.prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, digits.count <= 9, rest.dropFirst(digits.count).hasPrefix(". "), let n = Int(digits) else { return nil }
        return (n, String(rest.dropFirst(digits.count + 2)))
    }

    /// Lines of a paragraph joined with a space, except beside a Japanese character, where a
    /// line break is not a word break. A space after Japanese punctuation goes too: it is what
    /// YAML's folded style (`>`) makes of a line break there ("コスト、\n80 GB" → "コスト、 80 GB").
    static func joinLines(_ lines: [String]) -> String {
        func cjk(_ c: Character?) -> Bool { c?.unicodeScalars.first.map(Format.isCJK) ?? false }
        var out = ""
        for line in lines.map(\.trimmingSpaces) where !line.isEmpty {
            if !out.isEmpty && !(cjk(out.last) || cjk(line.first)) { out += " " }
            out += line
        }
        return out.replacing(/([、。，．：；！？）」』]) +/) { String($0.output.1) }
    }

    // MARK: - Inline text

    /// `text` cut into code, strong, emphasis and plain text. A `*` opens only before a non-space
    /// and closes only after one, so `2 * 3` stays text; an unclosed one is text too.
    static func inlines(_ text: String) -> [Inline] {
        let chars = Array(text)
        return inlines(chars, chars.startIndex..<chars.endIndex)
    }

    private static func inlines(_ c: [Character], _ range: Range<Int>) -> [Inline] {
        var out: [Inline] = []
        var plain = ""
        func flush() {
            if !plain.isEmpty { out.append(.text(plain)) }
            plain = ""
        }
        var i = range.lowerBound
        while i < range.upperBound {
            if c[i] == "`", let close = c[(i + 1)..<range.upperBound].firstIndex(of: "`"), close > i + 1 {
                flush()
                out.append(.code(String(c[(i + 1)..<close])))
                i = close + 1
                continue
            }
            if c[i] == "*" {
                let double = i + 1 < range.upperBound && c[i + 1] == "*"
                let open = i + (double ? 2 : 1)
                if open < range.upperBound, !c[open].isWhitespace, let close = closing(c, from: open, to: range.upperBound, double: double) {
                    flush()
                    let inner = inlines(c, open..<close)
                    out.append(double ? .strong(inner) : .emphasis(inner))
                    i = close + (double ? 2 : 1)
                    continue
                }
            }
            plain.append(c[i])
            i += 1
        }
        flush()
        return out
    }

    /// Where the `**` (`double`) or `*` that closes a span opened before `from` stands, skipping
    /// code and spans of the other kind opened inside it; nil if it is never closed.
    private static func closing(_ c: [Character], from: Int, to end: Int, double: Bool) -> Int? {
        var j = from
        while j < end {
            if c[j] == "`", let close = c[(j + 1)..<end].firstIndex(of: "`") {
                j = close + 1
                continue
            }
            guard c[j] == "*" else {
                j += 1
                continue
            }
            let run = c[j..<end].prefix { $0 == "*" }.count
            let closes = j > from && !c[j - 1].isWhitespace
            if closes && run >= (double ? 2 : 1) { return j }
            // Not this span's end: a span of the other kind may open here.
            let innerDouble = !double
            let width = innerDouble ? 2 : 1
            if run >= width, j + width < end, !c[j + width].isWhitespace,
               let inner = closing(c, from: j + width, to: end, double: innerDouble) {
                j = inner + width
                continue
            }
            j += run
        }
        return nil
    }

    // MARK: - HTML

    /// `<p>`, `<ul>`/`<ol>` with `<li>`, `<strong>`, `<em>`, `<code>`; text escaped.
    public var html: String {
        blocks.map { block in
            switch block {
            case .paragraph(let text): "<p>\(Self.html(text))</p>\n"
            case .list(let start, let items):
                (start == nil ? "<ul>\n" : start == 1 ? "<ol>\n" : "<ol start=\"\(start!)\">\n")
                    + items.map { "<li>\(Self.html($0))</li>" }.joined(separator: "\n") + (start == nil ? "\n</ul>\n" : "\n</ol>\n")
            }
        }.joined()
    }

    static func html(_ text: [Inline]) -> String {
        text.map { piece in
            switch piece {
            case .text(let s): Reports.escape(s)
            case .code(let s): "<code>\(Reports.escape(s))</code>"
            case .strong(let inner): "<strong>\(html(inner))</strong>"
            case .emphasis(let inner): "<em>\(html(inner))</em>"
            }
        }.joined()
    }

    /// One paragraph's inline Markdown as HTML, lines joined (a lesson's summary).
    public static func inlineHTML(_ text: String) -> String {
        html(inlines(joinLines(text.split(separator: "\n").map(String.init))))
    }

    /// The Markdown source as written, with a blank line inserted before a list that follows a
    /// paragraph line: many Markdown readers take such a list for more of the paragraph.
    public static func separatingLists(_ text: String) -> String {
        var out: [String] = []
        var inParagraph = false, inList = false
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if line.trimmingSpaces.isEmpty {
                (inParagraph, inList) = (false, false)
            } else if listMarker(line) != nil {
                if inParagraph { out.append("") }
                (inParagraph, inList) = (false, true)
            } else if !inList {
                // An item's next lines belong to the item, not to a paragraph.
                inParagraph = true
            }
            out.append(line)
        }
        return out.joined(separator: "\n")
    }

    // MARK: - Terminal

    /// How text is drawn in the terminal: with ANSI attributes (bold, italic, code in cyan) or plain.
    public enum TerminalStyle: Sendable {
        case ansi, plain
    }

    /// The text as terminal lines no wider than `width` columns (by `Format.columns`): paragraphs reflowed,
    /// lists with hanging indents, a blank line between blocks. English breaks only at spaces;
    /// Japanese between any two characters, except before closing punctuation (。、」…) and after
    /// opening brackets (kinsoku). A word longer than a line is cut.
    public func terminalLines(width: Int, style: TerminalStyle) -> [String] {
        var lines: [String] = []
        for (b, block) in blocks.enumerated() {
            if b > 0 { lines.append("") }
            switch block {
            case .paragraph(let text):
                lines += Self.reflow(text, width: width, first: "", rest: "", style: style)
            case .list(let start, let items):
                let markers = items.indices.map { i in start.map { "\($0 + i)." } ?? "•" }
                let markerWidth = markers.map { Format.columns($0) }.max() ?? 1
                for (item, marker) in zip(items, markers) {
                    let pad = String(repeating: " ", count: markerWidth - Format.columns(marker))
                    lines += Self.reflow(item, width: width, first: "  " + pad + marker + " ",
                                         rest: String(repeating: " ", count: markerWidth + 3), style: style)
                }
            }
        }
        return lines
    }

    /// Terminal attributes of a piece of text.
    struct Attributes: OptionSet, Hashable {
        let rawValue: Int
        static let strong = Attributes(rawValue: 1), emphasis = Attributes(rawValue: 2), code = Attributes(rawValue: 4)

        var sgr: String {
            var codes: [String] = []
            if contains(.strong) { codes.append("1") }
            if contains(.emphasis) { codes.append("3") }
            if contains(.code) { codes.append("36") }
            return codes.isEmpty ? "" : "\u{1B}[" + codes.joined(separator: ";") + "m"
        }
    }

    /// Text that stays on one line: a word, or a Japanese character with the punctuation that may
    /// not be parted from it; `space` if a space stood before it.
    struct Cluster {
        var pieces: [(text: String, attributes: Attributes)] = []
        var columns = 0
        var space = false

        mutating func append(_ c: Character, _ a: Attributes) {
            if let last = pieces.last, last.attributes == a { pieces[pieces.count - 1].text.append(c) } else { pieces.append((String(c), a)) }
            columns += Format.columns(c)
        }
    }

    /// Characters a line may not start with (closing punctuation, small kana, the long-vowel mark).
    static let noBreakBefore = Set("、。，．・：；？！）」』】〕〉》〟ー〜…‥々ぁぃぅぇぉっゃゅょゎァィゥェォッャュョヮヵヶ)]},.;:!?%")
    /// Characters a line may not end with (opening brackets).
    static let noBreakAfter = Set("「『（【〔〈《〝([{")

    static func clusters(_ text: [Inline]) -> [Cluster] {
        var clusters: [Cluster] = []
        var space = false
        var previous: Character? = nil
        func cjk(_ c: Character?) -> Bool { c?.unicodeScalars.first.map(Format.isCJK) ?? false }
        func add(_ s: String, _ a: Attributes) {
            for ch in s {
                if ch.isWhitespace {
                    space = !clusters.isEmpty
                    continue
                }
                let breaks = clusters.isEmpty || space
                    || ((cjk(ch) || cjk(previous)) && !noBreakBefore.contains(ch) && !noBreakAfter.contains(previous ?? " "))
                if breaks {
                    clusters.append(Cluster(space: space))
                }
                clusters[clusters.count - 1].append(ch, a)
                space = false
                previous = ch
            }
        }
        func walk(_ text: [Inline], _ a: Attributes) {
            for piece in text {
                switch piece {
                case .text(let s): add(s, a)
                case .code(let s): add(s, a.union(.code))
                case .strong(let inner): walk(inner, a.union(.strong))
                case .emphasis(let inner): walk(inner, a.union(.emphasis))
                }
            }
        }
        walk(text, [])
        return clusters
    }

    /// Greedy line filling of `text`'s clusters; `first` and `rest` lead the first and the other lines.
    static func reflow(_ text: [Inline], width: Int, first: String, rest: String, style: TerminalStyle) -> [String] {
        var lines: [String] = []
        var line = first, used = Format.columns(first), empty = true
        func draw(_ c: Cluster) {
            for p in c.pieces {
                let sgr = style == .ansi ? p.attributes.sgr : ""
                line += sgr.isEmpty ? p.text : sgr + p.text + "\u{1B}[0m"
            }
            used += c.columns
            empty = false
        }
        func newLine() {
            lines.append(line)
            line = rest
            used = Format.columns(rest)
            empty = true
        }
        for var c in clusters(text) {
            let gap = c.space && !empty ? 1 : 0
            if !empty && used + gap + c.columns > width { newLine() }
            if !empty && c.space { line += " "; used += 1 }
            // A word wider than a whole line is cut where the line ends.
            while c.columns > width - used, width - used > 0 {
                var head = Cluster(), tail = Cluster()
                for p in c.pieces {
                    for ch in p.text {
                        if tail.pieces.isEmpty && head.columns + Format.columns(ch) <= width - used { head.append(ch, p.attributes) } else { tail.append(ch, p.attributes) }
                    }
                }
                guard !head.pieces.isEmpty else { break }
                draw(head)
                newLine()
                c = tail
            }
            draw(c)
        }
        if !empty || lines.isEmpty { lines.append(line) }
        return lines
    }
}
