import AttnLessons
import AttnTrace
import Testing

/// The narration's Markdown against HTML and terminal lines written out by hand.
@Suite("Markdown: one parser, HTML and terminal renderers")
struct MarkdownTests {
    @Test("a list right after a paragraph line is a list, not more of the paragraph (lesson 10 steps 1–2)")
    func listAfterParagraph() {
        let text = "From each config:\n- **Llama 2 7B**, 32 layers:\n  524,288 bytes.\n- Llama 3 8B: 131,072.\n\nThe 70B model."
        #expect(Markdown(text).html == """
            <p>From each config:</p>
            <ul>
            <li><strong>Llama 2 7B</strong>, 32 layers: 524,288 bytes.</li>
            <li>Llama 3 8B: 131,072.</li>
            </ul>
            <p>The 70B model.</p>

            """)
        #expect(Markdown("Two steps:\n1. load\n2. store").html == "<p>Two steps:</p>\n<ol>\n<li>load</li>\n<li>store</li>\n</ol>\n")
        #expect(Markdown("3. third\n4. fourth").html == "<ol start=\"3\">\n<li>third</li>\n<li>fourth</li>\n</ol>\n")
        // report.md: the same text, with the blank line many Markdown readers need before a list.
        #expect(Markdown.separatingLists(text) == "From each config:\n\n- **Llama 2 7B**, 32 layers:\n  524,288 bytes.\n- Llama 3 8B: 131,072.\n\nThe 70B model.")
        #expect(Markdown.separatingLists("- a\n- b\n\nText") == "- a\n- b\n\nText")
    }

    @Test("strong and emphasis nest either way; code and lone stars stay as written; text is escaped")
    func inline() {
        #expect(Markdown("**bold *it* bold** and *it **b** it*").html == "<p><strong>bold <em>it</em> bold</strong> and <em>it <strong>b</strong> it</em></p>\n")
        #expect(Markdown("***both***").html == "<p><strong><em>both</em></strong></p>\n")
        #expect(Markdown("2 * 3 * 4 and `a*b*` and *open").html == "<p>2 * 3 * 4 and <code>a*b*</code> and *open</p>\n")
        #expect(Markdown("a < b & \"c\"").html == "<p>a &lt; b &amp; &quot;c&quot;</p>\n")
    }

    @Test("YAML's line breaks: a space between English words, nothing beside a Japanese character")
    func joining() {
        #expect(Markdown("the cache\ngrows.").html == "<p>the cache grows.</p>\n")
        #expect(Markdown("キャッシュは\n増える。\nLlama 3は\n*層の間*で共有").html == "<p>キャッシュは増える。Llama 3は<em>層の間</em>で共有</p>\n")
        // YAML's folded style has already turned a line break into a space; after 、 it goes.
        #expect(Markdown("コスト、 80 GBに Llama 3 と Mistral").html == "<p>コスト、80 GBに Llama 3 と Mistral</p>\n")
    }

    @Test("terminal lines: reflowed at spaces, attributes as ANSI, lists with hanging indents")
    func terminal() {
        #expect(Markdown("The quick brown fox jumps over the lazy dog").terminalLines(width: 20, style: .plain)
                == ["The quick brown fox", "jumps over the lazy", "dog"])
        #expect(Markdown("a **b** *c* `d` **x *y***").terminalLines(width: 80, style: .ansi)
                == ["a \u{1B}[1mb\u{1B}[0m \u{1B}[3mc\u{1B}[0m \u{1B}[36md\u{1B}[0m \u{1B}[1mx\u{1B}[0m \u{1B}[1;3my\u{1B}[0m"])
        #expect(Markdown("a **b** c").terminalLines(width: 80, style: .plain) == ["a b c"])
        #expect(Markdown("Models:\n- alpha beta gamma delta\n- e").terminalLines(width: 16, style: .plain)
                == ["Models:", "", "  • alpha beta", "    gamma delta", "  • e"])
        let ten = (1...10).map { "\($0). x" }.joined(separator: "\n")
        #expect(Markdown(ten).terminalLines(width: 20, style: .plain).suffix(2) == ["   9. x", "  10. x"])
        // Never split an English word, unless it is wider than the line.
        #expect(Markdown("aa supercalifragilistic").terminalLines(width: 10, style: .plain) == ["aa", "supercalif", "ragilistic"])
    }

    @Test("Japanese breaks between characters (2 columns each), never before 。、」 or after 「")
    func kinsoku() {
        // 9 characters fill 18 of 20 columns; こ may not be parted from the 。 after it, so both move down.
        #expect(Markdown("あいうえおかきくけこ。さしすせそ").terminalLines(width: 20, style: .plain) == ["あいうえおかきくけ", "こ。さしすせそ"])
        #expect(Markdown("ああああ「いい」").terminalLines(width: 10, style: .plain) == ["ああああ", "「いい」"])
        // A break may come between an English word and Japanese, but not inside the word.
        #expect(Markdown("Llama 3の文脈").terminalLines(width: 7, style: .plain) == ["Llama 3", "の文脈"])
        #expect(Format.columns("日本語abc") == 9)
        #expect(Format.columns("\u{1B}[1mx\u{1B}[0m、") == 3)
    }
}
