import AttnFigures
import AttnLessons
import AttnRender
import AttnTrace
import Foundation
import Testing

/// Slides are checked the way a projector shows them: every text's box, measured with the font
/// it is drawn in, stays inside the margin; and rendered, the margin bands hold nothing but the
/// background (so no glyph, line or figure crosses them either).
@Suite("Slides")
struct SlideTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Every text item of `page` whose box leaves [margin, width − margin] × [margin/3, height − margin/3].
    static func outside(_ page: Page, style: Style) -> [String] {
        let m = Slides.margin * style.unit
        var problems: [String] = []
        for item in page.items {
            guard case let .text(s, at, size, _, anchor, weight, rotation) = item.shape, rotation == 0 else { continue }
            let w = Renderer.metrics.width(s, size, weight)
            let x0 = anchor == .start ? at.x : anchor == .middle ? at.x - w / 2 : at.x - w
            if x0 < m - 0.5 || x0 + w > style.width - m + 0.5 || at.y - size / 2 < m / 3 || at.y + size / 2 > style.height - m / 3 {
                problems.append("'\(s)' spans x \(Int(x0))–\(Int(x0 + w)), y \(Int(at.y))")
            }
        }
        return problems
    }

    /// Pixels in the left and right margin bands that are not the background (the title slide's
    /// accent bar at the very edge excepted).
    static func inkInMargins(_ figure: Figure, page: Int) throws -> Int {
        let scale = 0.5
        let (w, h, argb) = try Renderer.pixels(figure, page: page, scale: scale)
        let background = argb[h / 2 * w + w - 1]
        let m = Int(Slides.margin * scale)
        var ink = 0
        for y in 0..<h {
            for x in Array((m / 3)..<(m - 2)) + Array((w - m + 2)..<w) where argb[y * w + x] != background { ink += 1 }
        }
        return ink
    }

    /// Every lesson in lessons/ (about 4 minutes on 2 cores: the training and real-model lessons run
    /// too, in both languages).
    static let lessons: [String] = ((try? FileManager.default.contentsOfDirectory(atPath: repository.appendingPathComponent("lessons").path)) ?? [])
        .filter { $0.hasSuffix(".yaml") }.map { String($0.dropLast(5)) }.sorted()

    @Test("every page of a lesson's slides and notes keeps its text inside the margin, in English and Japanese",
          arguments: lessons, Language.allCases)
    func margins(lessonID: String, language: Language) throws {
        #expect(Self.lessons.count >= 16)
        let lesson = try LessonLoader.load(file: Self.repository.appendingPathComponent("lessons/\(lessonID).yaml").path)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("slides-\(lessonID)-\(language)-\(getpid())").path
        try FileManager.default.createDirectory(atPath: folder + "/figures", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let (_, _, slides) = try LessonRunner(language: language, folder: folder, formats: ["svg"]).run(lesson)
        var style = Style()
        style.language = language
        let title = lesson.title.text(language), summary = lesson.summary.text(language)
        let deck = Slides.deck(id: lesson.id, title: title, summary: summary, steps: slides, style: style)
        #expect(deck.pages.count == slides.count + 2)
        for (i, page) in deck.pages.enumerated() {
            #expect(Self.outside(page, style: style).isEmpty, "slide \(i + 1): \(Self.outside(page, style: style))")
            #expect(try Self.inkInMargins(deck, page: i) == 0, "slide \(i + 1) has ink in its margins")
        }
        let notes = Slides.notes(id: lesson.id, title: title, summary: summary, steps: slides, style: style)
        #expect(notes.pages.count == deck.pages.count)
        for (i, page) in notes.pages.enumerated() {
            #expect(Self.outside(page, style: style).isEmpty, "notes page \(i + 1): \(Self.outside(page, style: style))")
        }
        // A step slide shows its labelled key numbers and its takeaway, in the lesson's language.
        for (slide, step) in zip(slides, lesson.steps) {
            #expect(slide.numbers.count == step.labels.count)
            #expect(slide.numbers.map(\.label) == step.labels.map { $0.label.text(language) })
            #expect(!slide.takeaway.isEmpty)
        }
    }
}
