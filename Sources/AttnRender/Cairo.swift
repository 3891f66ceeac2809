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

/// Collects the bytes Cairo writes to a stream: figures are encoded in memory and then written by
/// `AtomicFile`, which checks every write and names the user's file when one fails.
final class ByteSink {
    var bytes: [UInt8] = []

    /// A `cairo_write_func_t` appending to the `ByteSink` passed as its closure.
    static let append: cairo_write_func_t = { closure, data, length in
        guard let closure, let data else { return CAIRO_STATUS_WRITE_ERROR }
        Unmanaged<ByteSink>.fromOpaque(closure).takeUnretainedValue().bytes.append(contentsOf: UnsafeBufferPointer(start: data, count: Int(length)))
        return CAIRO_STATUS_SUCCESS
    }

    var closure: UnsafeMutableRawPointer { Unmanaged.passUnretained(self).toOpaque() }
}

/// An owned `cairo_surface_t`: created in `init`, checked, destroyed in `deinit`.
final class Surface {
    let pointer: OpaquePointer
    /// Where a vector surface writes; kept alive as long as the surface.
    let sink: ByteSink

    private init(_ pointer: OpaquePointer?, _ what: String, sink: ByteSink = ByteSink()) throws(RenderError) {
        guard let pointer else { throw RenderError(.system("Cairo \(what)"), "Cairo returned no surface") }
        self.pointer = pointer
        self.sink = sink
        do { try check(cairo_surface_status(pointer), what) } catch {
            cairo_surface_destroy(pointer)
            throw error
        }
    }

    static func image(width: Int, height: Int) throws(RenderError) -> Surface {
        try Surface(cairo_image_surface_create(CAIRO_FORMAT_ARGB32, Int32(width), Int32(height)), "png")
    }

    /// A PDF surface writing into `sink` (read it after `finish()`), whose metadata is fixed, so the
    /// same figure gives the same bytes.
    static func pdf(width: Double, height: Double, title: String) throws(RenderError) -> Surface {
        let sink = ByteSink()
        let s = try Surface(cairo_pdf_surface_create_for_stream(ByteSink.append, sink.closure, width, height), "pdf", sink: sink)
        cairo_pdf_surface_set_metadata(s.pointer, CAIRO_PDF_METADATA_CREATE_DATE, "2024-01-01T00:00:00Z")
        cairo_pdf_surface_set_metadata(s.pointer, CAIRO_PDF_METADATA_MOD_DATE, "2024-01-01T00:00:00Z")
        cairo_pdf_surface_set_metadata(s.pointer, CAIRO_PDF_METADATA_CREATOR, "AttnLab")
        cairo_pdf_surface_set_metadata(s.pointer, CAIRO_PDF_METADATA_TITLE, title)
        return s
    }

    /// Ends a vector surface and returns what it wrote; Cairo's status after finishing covers every
    /// write it made.
    func finish() throws(RenderError) -> [UInt8] {
        cairo_surface_finish(pointer)
        try check(cairo_surface_status(pointer), "surface")
        return sink.bytes
    }

    /// An image surface encoded as PNG.
    func png() throws(RenderError) -> [UInt8] {
        cairo_surface_flush(pointer)
        let png = ByteSink()
        try withExtendedLifetime(png) { () throws(RenderError) in
            try check(cairo_surface_write_to_png_stream(pointer, ByteSink.append, png.closure), "png")
        }
        return png.bytes
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
