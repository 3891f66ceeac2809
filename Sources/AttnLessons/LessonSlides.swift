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

/// Narration Markdown as the plain text slides set.
enum SlideText {
    /// Paragraphs with their lines joined, and each list item as its own "• " paragraph; emphasis
    /// and code markers removed.
    static func paragraphs(_ markdown: String) -> [String] { units(markdown).map(plain) }

    /// The sentence holding the first `**bold**` passage, or the first sentence.
    static func takeaway(_ markdown: String) -> String {
        let sentences = units(markdown).flatMap(self.sentences)
        let sentence = plain(sentences.first { $0.contains("**") } ?? sentences.first ?? "")
        return sentence.hasPrefix("• ") ? String(sentence.dropFirst(2)) : sentence
    }

    /// `**a**`, `*a*` and `` `a` `` as `a`.
    static func plain(_ s: String) -> String {
        LineBreaking.unfolded(s).replacing(/\*\*([^*]+)\*\*/) { String($0.output.1) }.replacing(/\*([^*]+)\*/) { String($0.output.1) }
            .replacing(/`([^`]+)`/) { String($0.output.1) }
    }

    /// Paragraphs and list items, still in Markdown: a list item starts at "- " or "1. " and runs
    /// to the next item, blank line or end.
    static func units(_ markdown: String) -> [String] {
        var units: [String] = [], lines: [String] = []
        func flush() {
            if !lines.isEmpty { units.append(Reports.joinLines(lines)) }
            lines = []
        }
        for raw in markdown.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = String(raw).trimmingSpaces
            if line.isEmpty { flush(); continue }
            if line.hasPrefix("- ") || line.hasPrefix("* ") {
                flush()
                lines = ["• " + line.dropFirst(2)]
            } else if let dot = line.firstIndex(of: "."), dot > line.startIndex, line[..<dot].allSatisfy(\.isNumber),
                      line[line.index(after: dot)...].hasPrefix(" ") {
                flush()
                lines = [line]
            } else {
                lines.append(line)
            }
        }
        flush()
        return units
    }

    /// A paragraph cut after each sentence's end: ". ", "! ", "? " (not after "e.g." and the like) or "。".
    static func sentences(_ paragraph: String) -> [String] {
        var out: [String] = [], current = ""
        var chars = Array(paragraph)[...]
        while let ch = chars.popFirst() {
            current.append(ch)
            let abbreviation = ["e.g.", "i.e.", "vs.", "cf.", "et al."].contains { current.hasSuffix($0) }
            let ends = ch == "。" || (".!?".contains(ch) && chars.first == " " && !abbreviation)
            if ends {
                out.append(current.trimmingSpaces)
                current = ""
            }
        }
        if !current.trimmingSpaces.isEmpty { out.append(current.trimmingSpaces) }
        return out
    }
}
