import AttnEngine
import CCairo

/// A Cairo failure, with the status Cairo reported.
public struct RenderError: AttnLabError, CustomStringConvertible {
    public let subject: Subject
    public let reason: String
    public init(_ subject: Subject, _ reason: String) { self.subject = subject; self.reason = reason }
    public var description: String { "\(subject): \(reason)" }
}

/// Turns a Cairo status into a thrown error.
func check(_ status: cairo_status_t, _ what: String) throws(RenderError) {
    guard status == CAIRO_STATUS_SUCCESS else {
        throw RenderError(.system("Cairo \(what)"), String(cString: cairo_status_to_string(status)))
    }
}

/// An owned `cairo_surface_t`: created in `init`, checked, destroyed in `deinit`.
final class Surface {
    let pointer: OpaquePointer

    private init(_ pointer: OpaquePointer?, _ what: String) throws(RenderError) {
        guard let pointer else { throw RenderError(.system("Cairo \(what)"), "Cairo returned no surface") }
        self.pointer = pointer
        do { try check(cairo_surface_status(pointer), what) } catch {
            cairo_surface_destroy(pointer)
            throw error
        }
    }

    static func image(width: Int, height: Int) throws(RenderError) -> Surface {
        try Surface(cairo_image_surface_create(CAIRO_FORMAT_ARGB32, Int32(width), Int32(height)), "png")
    }

    static func svg(path: String, width: Double, height: Double) throws(RenderError) -> Surface {
        let s = try Surface(cairo_svg_surface_create(path, width, height), path)
        cairo_svg_surface_restrict_to_version(s.pointer, CAIRO_SVG_VERSION_1_1)
        return s
    }

    /// A PDF whose metadata is fixed, so the same figure gives the same bytes.
    static func pdf(path: String, width: Double, height: Double, title: String) throws(RenderError) -> Surface {
        let s = try Surface(cairo_pdf_surface_create(path, width, height), path)
        cairo_pdf_surface_set_metadata(s.pointer, CAIRO_PDF_METADATA_CREATE_DATE, "2024-01-01T00:00:00Z")
        cairo_pdf_surface_set_metadata(s.pointer, CAIRO_PDF_METADATA_MOD_DATE, "2024-01-01T00:00:00Z")
        cairo_pdf_surface_set_metadata(s.pointer, CAIRO_PDF_METADATA_CREATOR, "AttnLab")
        cairo_pdf_surface_set_metadata(s.pointer, CAIRO_PDF_METADATA_TITLE, title)
        return s
    }

    func finish() throws(RenderError) {
        cairo_surface_finish(pointer)
        try check(cairo_surface_status(pointer), "surface")
    }

    func writePNG(to path: String) throws(RenderError) {
        try check(cairo_surface_write_to_png(pointer, path), path)
    }

    deinit { cairo_surface_destroy(pointer) }
}

/// An owned `cairo_t` drawing on a `Surface`.
final class Context {
    let cr: OpaquePointer
    let surface: Surface  // keeps the surface alive while drawing

    init(_ surface: Surface) throws(RenderError) {
        guard let cr = cairo_create(surface.pointer) else { throw RenderError(.system("Cairo context"), "Cairo returned no context") }
        self.cr = cr
        self.surface = surface
        do { try check(cairo_status(cr), "context") } catch {
            cairo_destroy(cr)
            throw error
        }
    }

    func status() throws(RenderError) { try check(cairo_status(cr), "drawing") }

    deinit { cairo_destroy(cr) }
}
