import CKernels

/// A weight matrix as the decoder multiplies by it: `rows` rows of `cols` values, kept in the type
/// they are stored in — Float32 for the random models, a GGUF file's F16, BF16, Q8_0, Q4_0 or Q4_1
/// for a pretrained one, read in place from the memory-mapped file — and dequantized block by block
/// inside the products (`Kernels.matmul`), so no Float32 copy of a quantized matrix is ever made.
/// Every value it yields is exactly what `GGMLType.dequantize` writes.
public struct WeightMatrix: @unchecked Sendable {
    public let type: GGMLType
    public let rows: Int
    public let cols: Int
    /// Bytes from one row to the next.
    public let rowBytes: Int
    /// The first row (valid while `owner` lives).
    let base: UnsafeRawPointer
    /// What keeps the bytes alive: the matrix's own Float32 buffer, or the mapped file.
    private let owner: AnyObject

    /// A Float32 matrix of `floats`, row-major.                   // [rows × cols]
    public init(rows: Int, cols: Int, floats: [Float]) {
        precondition(floats.count == rows * cols, "\(floats.count) values are not \(rows) × \(cols)")
        let storage = FloatStorage(floats)
        self.init(type: .f32, rows: rows, cols: cols, bytes: UnsafeRawPointer(storage.elements.baseAddress!), owner: storage)
    }

    /// Rows stored as `type` from `bytes` on (each `cols / type.blockElements` blocks), kept alive by
    /// `owner` — e.g. the memory-mapped file they are in.
    public init(type: GGMLType, rows: Int, cols: Int, bytes: UnsafeRawPointer, owner: AnyObject) {
        precondition(cols % type.blockElements == 0, "a row of \(cols) values is not whole \(type) blocks")
        self.type = type
        self.rows = rows
        self.cols = cols
        rowBytes = cols / type.blockElements * type.blockBytes
        base = bytes
        self.owner = owner
    }

    public var elements: Int { rows * cols }

    /// The bytes the matrix occupies in its stored type: what one product with it reads.
    public var bytes: Int { rows * rowBytes }

    /// Writes row `r`, dequantized, to `out`.                      // [cols]
    public func row(_ r: Int, into out: UnsafeMutablePointer<Float>) {
        precondition(r >= 0 && r < rows)
        attn_dequantize_row(kernelType, base + r * rowBytes, out, cols)
    }

    /// Every value dequantized, row-major: for weight surgery and for reference paths that multiply
    /// the plain way.                                               // [rows × cols]
    public var floats: [Float] {
        [Float](unsafeUninitializedCapacity: elements) { out, count in
            GGMLType.dequantize(type, UnsafeRawBufferPointer(start: base, count: rows * rowBytes), into: out.baseAddress!, elements: elements)
            count = elements
        }
    }

    /// The type as the C kernels name it (the same ggml ids).
    var kernelType: attn_weight_type { attn_weight_type(rawValue: type.rawValue) }

    /// A Float32 matrix's own memory, allocated once and never written after init.
    private final class FloatStorage {
        let elements: UnsafeMutableBufferPointer<Float>

        init(_ values: [Float]) {
            elements = .allocate(capacity: max(1, values.count))
            _ = elements.initialize(from: values)
        }

        deinit { elements.deallocate() }
    }
}
