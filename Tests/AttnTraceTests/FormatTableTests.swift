import AttnTrace
import Testing

@Suite("Table formatting")
struct FormatTableTests {
    /// The regular expression the trim replaced, as the independent truth: every line of the table
    /// as `Format.table` lays it out (cells padded to the widest in terminal columns), with `/\s+$/`
    /// removed.
    private func regexTable(_ header: [String], _ rows: [[String]], rightAligned: Set<Int>) -> String {
        let all = [header] + rows
        let widths = header.indices.map { c in all.map { $0.count > c ? Format.columns($0[c]) : 0 }.max() ?? 0 }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { c, cell in
                let pad = String(repeating: " ", count: widths[c] - Format.columns(cell))
                return rightAligned.contains(c) ? pad + cell : cell + pad
            }.joined(separator: "  ").replacing(/\s+$/, with: "")
        }
        let rule = widths.map { String(repeating: "─", count: $0) }.joined(separator: "  ")
        return ([line(header), rule] + rows.map(line)).joined(separator: "\n") + "\n"
    }

    @Test("trailing padding and whitespace in cells are trimmed as /\\s+$/ trims them; inner spaces stay")
    func trimming() {
        let header = ["name", "value", ""]
        let rows: [[String]] = [
            ["a", "1", ""], ["long name", "22", "x"], ["tab\t", "3", " "], ["", "", ""],
            ["nbsp", "4", "\u{A0}"], ["ideographic", "5", "全角\u{3000}"], ["crlf", "6", "a\r\n"], ["nel", "7", "b\u{85}"],
            ["inner  gap", "8", "c  d"], ["é", "9", "e\u{301} "], ["zero width", "10", "\u{200B}"], ["line", "11", "\u{2028}"],
            // A prepended mark joins the space after it into one character that is not whitespace.
            ["prepend", "12", "x\u{600} "], ["prepend", "13", "\u{600} "], ["space", "14", " "], ["del", "15", "\u{7F}"],
        ]
        for right in [Set<Int>(), [1], [1, 2], [0, 1, 2]] {
            let table = Format.table(header, rows, rightAligned: right)
            #expect(table == regexTable(header, rows, rightAligned: right), "right-aligned \(right)")
            #expect(!table.split(separator: "\n").contains { $0.last?.isWhitespace == true })
        }
        #expect(Format.table(["a", "b"], [["1", ""]]) == "a  b\n─  ─\n1\n")
    }

    @Test("columns are aligned by terminal width: a Japanese character takes two")
    func japanese() {
        // 日本 is 4 columns wide, as wide as abcd; ｱ (half-width katakana) is 1.
        #expect(Format.table(["id", "title"], [["日本", "x"], ["abcd", "y"], ["ｱ", "z"]]) == "id    title\n────  ─────\n日本  x\nabcd  y\nｱ     z\n")
        #expect(Format.columns("KVキャッシュ") == 2 + 5 * 2)
    }
}
