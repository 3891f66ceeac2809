import AttnFigures
import AttnRender

// Reusable checks of a figure's text: the words left in English, and the boxes text takes.

/// The width the renderer sets `s` in (its real font metrics).
func textWidth(_ s: String, size: Double, weight: FontWeight = .regular) -> Double { Renderer.metrics.width(s, size, weight) }

/// Lowercase ASCII words of three letters or more that a Japanese figure may keep: function names
/// of formulas (`softmax`, `min`, `max`, `rowsum`), the unit `nat` and the program's name.
/// Identifiers with `_` or digits (`kv_heads`, `bf16`, `q0`), capitalised words and symbols (N, d,
/// MQA, FA2, GB, ms) are never counted as English.
let symbolWords: Set<String> = ["softmax", "min", "max", "rowsum", "nat", "attnlab"]

/// Every word of every text item on `page` that reads as English: a run of three or more ASCII
/// letters, all lowercase, not part of an identifier (no `_` or digit in it) and not in
/// `allowed`. Text quoted in 「…」 (a cited title, a prompt) is the source's own and skipped.
func englishWords(in page: Page, allowed: Set<String> = symbolWords) -> [String] {
    var words: [String] = []
    for item in page.items {
        guard case .text(let s, _, _, _, _, _, _) = item.shape else { continue }
        var unquoted = "", depth = 0
        for ch in s {
            if ch == "「" { depth += 1 } else if ch == "」" { depth = max(0, depth - 1) } else if depth == 0 { unquoted.append(ch) }
        }
        var token = ""
        for ch in unquoted + " " {
            if ch.isASCII && (ch.isLetter || ch.isNumber || ch == "_") {
                token.append(ch)
                continue
            }
            if token.count >= 3, token.allSatisfy({ $0.isLowercase }), !allowed.contains(token) { words.append(token) }
            token = ""
        }
    }
    return words
}

/// The box a text item takes: its advance by 1.2 × its size, placed by its anchor (unrotated text).
func textBox(_ text: String, at p: Point, size: Double, anchor: TextAnchor) -> Rect {
    let w = textWidth(text, size: size), h = size * 1.2
    return Rect(anchor == .start ? p.x : anchor == .middle ? p.x - w / 2 : p.x - w, p.y - h / 2, w, h)
}

/// The plot frame of a chart: the axis line (left edge down, then the bottom edge), in the theme's
/// foreground colour.
func plotFrame(_ page: Page, theme: Theme) -> Rect? {
    for item in page.items {
        if case .line(let p, let color, _, _, _) = item.shape, color == theme.foreground, p.count == 3, p[0].x == p[1].x, p[1].y == p[2].y {
            return Rect(p[0].x, p[0].y, p[2].x - p[0].x, p[1].y - p[0].y)
        }
    }
    return nil
}
