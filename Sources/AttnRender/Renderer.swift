import AttnEngine
import AttnFigures
import AttnTrace
import CCairo
import Foundation

/// Writes figures as PNG, SVG or PDF, chosen by the file extension; multi-page figures become one
/// PDF page per step (or, with `writeFrames`, one PNG per step). Output is deterministic: PDF dates
/// are fixed and SVG is written by AttnLab itself (`SVG`), and files appear whole or not at all (`AtomicFile`).
public enum Renderer {
    public enum Kind: String, Sendable { case png, svg, pdf }

    /// The output kind of `path`, or an error naming the extension.
    public static func kind(of path: String, subject: Subject = .fields([.output])) throws(RenderError) -> Kind {
        guard !path.isEmpty else { throw RenderError(subject, "the path is empty; give a .png, .svg or .pdf file") }
        let ext = URL(fileURLWithPath: path).pathExtension.lowercased()
        guard let kind = Kind(rawValue: ext) else {
            throw RenderError(subject, "unknown extension '.\(ext)' of \(path) (expected .png, .svg or .pdf)")
        }
        return kind
    }

    /// The fonts AttnLab draws with, and where Debian puts them.
    static let latinFont = ("DejaVu Sans", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "fonts-dejavu-core")
    static let cjkFont = ("Noto Sans CJK JP", "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", "fonts-noto-cjk")

    /// Fails with the package to install when a font the figure needs is missing (Cairo would
    /// silently substitute another one).
    public static func checkFonts(for figure: Figure) throws(RenderError) {
        guard FileManager.default.fileExists(atPath: latinFont.1) else {
            throw RenderError(.system("fonts"), "\(latinFont.0) is not installed (apt-get install \(latinFont.2))")
        }
        let needsCJK = figure.pages.contains { $0.items.contains { if case .text(let s, _, _, _, _, _, _) = $0.shape { isCJK(s) } else { false } } }
        if needsCJK && !FileManager.default.fileExists(atPath: cjkFont.1) {
            throw RenderError(.system("fonts"), "\(cjkFont.0) is not installed, needed for Japanese text (apt-get install \(cjkFont.2))")
        }
    }

    /// Renders page 0 (PNG, SVG) or every page (PDF) of `figure` to `path`, whole or not at all
    /// (`AtomicFile`: a device or FIFO is written through, a symbolic link's file replaced).
    ///
    /// - Throws: `RenderError` about `subject` (the flag or lesson step that chose the path) naming
    ///   `path` and the reason, or about `.scale` when a PNG would not be 1 to 32767 pixels a side
    ///   (`checkPNGScale`).
    public static func write(_ figure: Figure, to path: String, scale: Double = 1, subject: Subject = .fields([.output])) throws(RenderError) {
        let kind = try kind(of: path, subject: subject)
        try checkFonts(for: figure)
        // The path is checked before anything is drawn; a failure names the flag, then the file.
        do { try AtomicFile.checkWritable(path) } catch { throw RenderError(subject, error.description) }
        let bytes: [UInt8]
        do { bytes = try encode(figure, as: kind, scale: scale) } catch let error where error.subject == .fields([.scale]) {
            throw error
        } catch {
            throw RenderError(subject, "\(path): cannot draw it (\(error.reason))")
        }
        do { try AtomicFile.write(bytes, to: path) } catch { throw RenderError(subject, error.description) }
    }

    /// Throws unless `width × height` canvas px drawn at `scale` (at most `maxScale`) make a PNG
    /// Cairo can write: at least 1×1 pixel — Cairo rounds each side to whole pixels, so under half a
    /// pixel is none — and at most 32767 pixels a side, Cairo's limit for image surfaces.
    ///
    /// - Throws: `RenderError` about `.scale`, with the range of scales that work.
    public static func checkPNGScale(width: Double, height: Double, scale: Double, atMost maxScale: Double = .infinity) throws(RenderError) {
        let least = 0.5 / min(width, height), most = min(maxScale, 32_767 / max(width, height))
        guard scale.isFinite, scale >= least, scale <= most else {
            // Four decimals, rounded inwards, so both ends shown are scales that work.
            let shown = "[\((least * 10_000).rounded(.up) / 10_000), \((most * 10_000).rounded(.down) / 10_000)]"
            throw RenderError(.fields([.scale]), "\(Int(width))x\(Int(height)) at scale \(scale) is no PNG: it needs at least 1×1 pixel and at most 32767 a side; use a scale in \(shown)")
        }
    }

    /// `figure` encoded as `kind`, in memory: page 0 as PNG or SVG, every page as PDF.
    static func encode(_ figure: Figure, as kind: Kind, scale: Double) throws(RenderError) -> [UInt8] {
        switch kind {
        case .png:
            try checkPNGScale(width: figure.width, height: figure.height, scale: scale)
            let surface = try Surface.image(width: Int((figure.width * scale).rounded()), height: Int((figure.height * scale).rounded()))
            let context = try Context(surface)
            cairo_scale(context.cr, scale, scale)
            try draw(figure.pages[0], figure, context)
            return try surface.png()
        case .svg:
            return Array(SVG.document(figure.pages[0], figure).utf8)
        case .pdf:
            let surface = try Surface.pdf(width: figure.width, height: figure.height, title: figure.title)
            let context = try Context(surface)
            for page in figure.pages {
                try draw(page, figure, context)
                cairo_show_page(context.cr)
            }
            try context.status()
            return try surface.finish()
        }
    }

    /// Page `page` of `figure` rasterized: `width × height` pixels, each 0xAARRGGBB (premultiplied
    /// alpha, as Cairo stores them), row by row.
    public static func pixels(_ figure: Figure, page: Int = 0, scale: Double = 1) throws(RenderError) -> (width: Int, height: Int, argb: [UInt32]) {
        try checkFonts(for: figure)
        let w = Int((figure.width * scale).rounded()), h = Int((figure.height * scale).rounded())
        let surface = try Surface.image(width: w, height: h)
        let context = try Context(surface)
        cairo_scale(context.cr, scale, scale)
        try draw(figure.pages[page], figure, context)
        cairo_surface_flush(surface.pointer)
        let stride = Int(cairo_image_surface_get_stride(surface.pointer))
        guard let data = cairo_image_surface_get_data(surface.pointer) else { throw RenderError(.system("Cairo PNG"), "Cairo returned no pixels") }
        var argb = [UInt32](repeating: 0, count: w * h)
        for y in 0..<h {
            let row = UnsafeRawPointer(data + y * stride)
            for x in 0..<w { argb[y * w + x] = row.load(fromByteOffset: x * 4, as: UInt32.self) }
        }
        return (w, h, argb)
    }

    /// The pixels of a PNG file, read back through Cairo (for checking what was written).
    public static func pixels(ofPNG path: String) throws(RenderError) -> (width: Int, height: Int, argb: [UInt32]) {
        guard let pointer = cairo_image_surface_create_from_png(path) else { throw RenderError(.file(path), "Cairo returned no surface") }
        defer { cairo_surface_destroy(pointer) }
        try check(cairo_surface_status(pointer), path)
        let w = Int(cairo_image_surface_get_width(pointer)), h = Int(cairo_image_surface_get_height(pointer))
        let stride = Int(cairo_image_surface_get_stride(pointer))
        guard let data = cairo_image_surface_get_data(pointer) else { throw RenderError(.file(path), "Cairo returned no pixels") }
        var argb = [UInt32](repeating: 0, count: w * h)
        for y in 0..<h {
            let row = UnsafeRawPointer(data + y * stride)
            for x in 0..<w { argb[y * w + x] = row.load(fromByteOffset: x * 4, as: UInt32.self) }
        }
        return (w, h, argb)
    }

    /// One PNG per page into `folder` (created if missing, inside an existing folder):
    /// frame-0001.png, frame-0002.png, … On a failure the frames written so far are removed, and the
    /// folder too if this call created it, so no partial set of frames is left.
    public static func writeFrames(_ figure: Figure, to folder: String, scale: Double = 1) throws(RenderError) {
        var created = true
        do { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false) } catch CocoaError.fileWriteFileExists {
            created = false
        } catch {
            throw RenderError(.fields([.frames]), "cannot create \(folder) (\(error.localizedDescription))")
        }
        var written: [String] = []
        do {
            for (i, page) in figure.pages.enumerated() {
                let one = Figure(width: figure.width, height: figure.height, background: figure.background, pages: [page], title: figure.title)
                let name = "frame-" + String(repeating: "0", count: max(0, 4 - String(i + 1).count)) + String(i + 1) + ".png"
                let path = (folder as NSString).appendingPathComponent(name)
                try write(one, to: path, scale: scale, subject: .fields([.frames]))
                written.append(path)
            }
        } catch {
            for path in written { try? FileManager.default.removeItem(atPath: path) }
            if created { try? FileManager.default.removeItem(atPath: folder) }
            throw error
        }
    }

    /// Whether `s` needs the CJK font anywhere (`Format.isCJK`).
    static func isCJK(_ s: String) -> Bool { s.unicodeScalars.contains(where: Format.isCJK) }

    /// `s` cut where it changes between Japanese (set in Noto Sans CJK JP) and everything else (set
    /// in DejaVu Sans, which has the math signs, superscripts and arrows the CJK font lacks), so
    /// English inside Japanese, and ⌈x⌉ or 2³⁰ inside either, keep their own font.
    static func fontRuns(_ s: String) -> [(text: String, cjk: Bool)] {
        var runs: [(text: String, cjk: Bool)] = []
        for ch in s {
            let cjk = ch.unicodeScalars.contains(where: Format.isCJK)
            if let last = runs.last, last.cjk == cjk { runs[runs.count - 1].text.append(ch) } else { runs.append((String(ch), cjk)) }
        }
        return runs
    }

    // MARK: - Drawing

    static func draw(_ page: Page, _ figure: Figure, _ context: Context) throws(RenderError) {
        let cr = context.cr
        set(cr, figure.background)
        cairo_rectangle(cr, 0, 0, figure.width, figure.height)
        cairo_fill(cr)
        cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND)
        cairo_set_line_cap(cr, CAIRO_LINE_CAP_ROUND)
        setFontOptions(cr)
        for item in page.items { draw(item.shape, cr) }
        try context.status()
    }

    private static func set(_ cr: OpaquePointer, _ c: Color) { cairo_set_source_rgba(cr, c.r, c.g, c.b, c.a) }

    private static func draw(_ shape: Shape, _ cr: OpaquePointer) {
        switch shape {
        case let .rect(r, fill, stroke, lineWidth, radius):
            roundedRect(cr, r, radius)
            if let fill { set(cr, fill); stroke == nil ? cairo_fill(cr) : cairo_fill_preserve(cr) }
            if let stroke { set(cr, stroke); cairo_set_line_width(cr, lineWidth); cairo_stroke(cr) }
        case let .line(points, color, width, dash, arrow):
            guard points.count >= 2 else { return }
            set(cr, color)
            cairo_set_line_width(cr, width)
            dash.withUnsafeBufferPointer { cairo_set_dash(cr, $0.baseAddress, Int32(dash.count), 0) }
            cairo_move_to(cr, points[0].x, points[0].y)
            for p in points.dropFirst() { cairo_line_to(cr, p.x, p.y) }
            cairo_stroke(cr)
            cairo_set_dash(cr, nil, 0, 0)
            if arrow, let head = arrowhead(from: points[points.count - 2], to: points[points.count - 1], size: max(8, width * 4)) {
                cairo_move_to(cr, head[0].x, head[0].y)
                for p in head.dropFirst() { cairo_line_to(cr, p.x, p.y) }
                cairo_close_path(cr)
                cairo_fill(cr)
            }
        case let .polygon(points, fill):
            guard let first = points.first else { return }
            set(cr, fill)
            cairo_move_to(cr, first.x, first.y)
            for p in points.dropFirst() { cairo_line_to(cr, p.x, p.y) }
            cairo_close_path(cr)
            cairo_fill(cr)
        case let .circle(c, radius, fill, stroke, lineWidth):
            cairo_new_path(cr)
            cairo_arc(cr, c.x, c.y, radius, 0, 2 * Double.pi)
            if let fill { set(cr, fill); stroke == nil ? cairo_fill(cr) : cairo_fill_preserve(cr) }
            if let stroke { set(cr, stroke); cairo_set_line_width(cr, lineWidth); cairo_stroke(cr) }
        case let .text(s, at, size, color, anchor, weight, rotation):
            let width = metrics.width(s, size, weight)
            let dx = anchor == .start ? 0 : anchor == .middle ? -width / 2 : -width
            let baseline = baselineOffset(s, size: size, weight: weight)
            cairo_save(cr)
            cairo_translate(cr, at.x, at.y)
            if rotation != 0 { cairo_rotate(cr, rotation) }
            set(cr, color)
            cairo_move_to(cr, dx, baseline)
            // Each run in its own font, one after the other from the current point.
            for run in fontRuns(s) {
                selectFont(cr, cjk: run.cjk, size: size, weight: weight)
                cairo_show_text(cr, run.text)
            }
            cairo_restore(cr)
        }
    }

    private static func roundedRect(_ cr: OpaquePointer, _ r: Rect, _ radius: Double) {
        cairo_new_path(cr)
        let rad = min(radius, r.w / 2, r.h / 2)
        guard rad > 0 else { cairo_rectangle(cr, r.x, r.y, r.w, r.h); return }
        cairo_arc(cr, r.maxX - rad, r.y + rad, rad, -Double.pi / 2, 0)
        cairo_arc(cr, r.maxX - rad, r.maxY - rad, rad, 0, Double.pi / 2)
        cairo_arc(cr, r.x + rad, r.maxY - rad, rad, Double.pi / 2, Double.pi)
        cairo_arc(cr, r.x + rad, r.y + rad, rad, Double.pi, 3 * Double.pi / 2)
        cairo_close_path(cr)
    }

    /// The three corners of an arrowhead of `size` at `b`, pointing from `a`; nil when a = b.
    static func arrowhead(from a: Point, to b: Point, size: Double) -> [Point]? {
        let dx = b.x - a.x, dy = b.y - a.y, length = (dx * dx + dy * dy).squareRoot()
        guard length > 0 else { return nil }
        let ux = dx / length, uy = dy / length
        return [b, Point(b.x - size * ux + size * 0.5 * uy, b.y - size * uy - size * 0.5 * ux),
                Point(b.x - size * ux - size * 0.5 * uy, b.y - size * uy + size * 0.5 * ux)]
    }
}
