import AttnFigures
import CCairo
import Synchronization

extension Renderer {
    /// Text widths from the fonts `write` draws with (DejaVu Sans, and Noto Sans CJK JP for the
    /// Japanese runs of a text: `fontRuns`), measured by Cairo with hinted metrics off — as every surface draws them —
    /// so a width scales exactly with the size and does not depend on the output's resolution.
    public static let metrics = TextMetrics { text, size, weight in
        scratch.withLock { $0.extents(text, size: size, weight: weight).advance }
    }

    /// The vertical offset from a text's centre line to its baseline, as `draw` places text.
    static func baselineOffset(_ text: String, size: Double, weight: FontWeight) -> Double {
        scratch.withLock { $0.extents(text, size: size, weight: weight).baseline }
    }

    /// One context on a 1×1 image, only for measuring; Cairo contexts are not thread-safe, so
    /// lessons drawing in parallel take turns.
    private static let scratch = Mutex(Scratch())

    struct Scratch: ~Copyable {
        let surface: OpaquePointer
        let cr: OpaquePointer

        init() {
            surface = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, 1, 1)
            cr = cairo_create(surface)
            Renderer.setFontOptions(cr)
        }

        /// The advance of `text`, run by run (`fontRuns`), and its baseline offset: the CJK font's
        /// when it has Japanese, so a line keeps one baseline whatever its runs.
        func extents(_ text: String, size: Double, weight: FontWeight) -> (advance: Double, baseline: Double) {
            var advance = 0.0
            for run in Renderer.fontRuns(text) {
                Renderer.selectFont(cr, cjk: run.cjk, size: size, weight: weight)
                var extents = cairo_text_extents_t()
                cairo_text_extents(cr, run.text, &extents)
                advance += extents.x_advance
            }
            Renderer.selectFont(cr, cjk: Renderer.isCJK(text), size: size, weight: weight)
            var font = cairo_font_extents_t()
            cairo_font_extents(cr, &font)
            return (advance, (font.ascent - font.descent) / 2)
        }

        deinit {
            cairo_destroy(cr)
            cairo_surface_destroy(surface)
        }
    }

    /// Hinted metrics off: advances are the font's own, at any size and on every surface.
    static func setFontOptions(_ cr: OpaquePointer) {
        let options = cairo_font_options_create()
        cairo_font_options_set_hint_metrics(options, CAIRO_HINT_METRICS_OFF)
        cairo_set_font_options(cr, options)
        cairo_font_options_destroy(options)
    }

    /// The CJK or the Latin font, in `weight` and `size`.
    static func selectFont(_ cr: OpaquePointer, cjk: Bool, size: Double, weight: FontWeight) {
        cairo_select_font_face(cr, cjk ? cjkFont.0 : latinFont.0, CAIRO_FONT_SLANT_NORMAL,
                               weight == .bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL)
        cairo_set_font_size(cr, size)
    }
}

extension Style {
    /// A 1600×900 light English figure whose text is measured by the fonts the renderer draws with.
    public init() { self.init(metrics: Renderer.metrics) }
}
