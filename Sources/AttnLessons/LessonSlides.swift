import AttnFigures
import AttnTrace

/// What a step's slide says, taken from its run: the title, the takeaway (the step's `takeaway:`, or
/// the sentence of the narration that holds its first bold passage), the labelled key numbers as
/// the narration formats them, the narration as plain paragraphs, and the checks.
extension StepResult {
    func slide(_ language: Language, figure: Figure?) -> Slides.StepSlide {
        Slides.StepSlide(
            title: step.title.text(language),
            takeaway: step.takeaway.map { SlideText.plain($0.text(language)) } ?? SlideText.takeaway(narration),
            figure: figure?.pages[0], figureSize: (figure?.width ?? 1600, figure?.height ?? 900),
            numbers: keyValues(language).compactMap { v in v.label.map { ($0, v.value) } },
            paragraphs: SlideText.paragraphs(narration),
            checks: checks.map { ($0.check.text, $0.passed) }
        )
    }
}

/// Narration Markdown as the plain text slides set, read by the one Markdown parser.
enum SlideText {
    /// Paragraphs, and each list item as its own "• " or "1. " paragraph, without emphasis and code
    /// markers.
    static func paragraphs(_ markdown: String) -> [String] { units(markdown).map { LineBreaking.unfolded($0.text) } }

    /// The sentence holding the first bold passage, or the first sentence.
    static func takeaway(_ markdown: String) -> String {
        let all = units(markdown)
        guard let unit = all.first(where: { $0.firstStrong != nil }) ?? all.first else { return "" }
        let listMark = unit.text.hasPrefix("• ") ? 2 : 0
        let text = String(unit.text.dropFirst(listMark))
        let at = max(0, (unit.firstStrong ?? 0) - listMark)
        var start = 0
        for sentence in sentences(text) {
            if at < start + sentence.count { return LineBreaking.unfolded(sentence.trimmingSpaces) }
            start += sentence.count
        }
        return LineBreaking.unfolded(text.trimmingSpaces)
    }

    /// Plain text with YAML's folding spaces between Japanese characters removed.
    static func plain(_ s: String) -> String {
        LineBreaking.unfolded(Markdown(s).blocks.map { block in
            switch block {
            case .paragraph(let inlines): flatten(inlines).text
            case .list(_, let items): items.map { flatten($0).text }.joined(separator: " ")
            }
        }.joined(separator: " "))
    }

    /// Each paragraph and list item as plain text (still folded), with where its first bold passage starts.
    static func units(_ markdown: String) -> [(text: String, firstStrong: Int?)] {
        Markdown(markdown).blocks.flatMap { block -> [(text: String, firstStrong: Int?)] in
            switch block {
            case .paragraph(let inlines):
                let f = flatten(inlines)
                return [(f.text, f.firstStrong)]
            case let .list(start, items):
                return items.enumerated().map { i, item in
                    let f = flatten(item), mark = start.map { "\($0 + i). " } ?? "• "
                    return (mark + f.text, f.firstStrong.map { $0 + mark.count })
                }
            }
        }
    }

    /// The text of `inlines` and the character offset of its first bold passage.
    static func flatten(_ inlines: [Markdown.Inline]) -> (text: String, firstStrong: Int?) {
        var text = "", firstStrong: Int? = nil
        func walk(_ list: [Markdown.Inline]) {
            for inline in list {
                switch inline {
                case .text(let t), .code(let t): text += t
                case .strong(let inner):
                    if firstStrong == nil { firstStrong = text.count }
                    walk(inner)
                case .emphasis(let inner): walk(inner)
                }
            }
        }
        walk(inlines)
        return (text, firstStrong)
    }

    /// A paragraph cut after each sentence's end — ". ", "! ", "? " (not after "e.g." and the like)
    /// or "。" — keeping every character, so offsets into the paragraph still count.
    static func sentences(_ paragraph: String) -> [String] {
        var out: [String] = [], current = ""
        var chars = Array(paragraph)[...]
        while let ch = chars.popFirst() {
            current.append(ch)
            let abbreviation = ["e.g.", "i.e.", "vs.", "cf.", "et al."].contains { current.hasSuffix($0) }
            if ch == "。" || (".!?".contains(ch) && chars.first == " " && !abbreviation) {
                out.append(current)
                current = ""
            }
        }
        if !current.isEmpty { out.append(current) }
        return out
    }
}
