import AttnEngine
import Foundation

/// Builds the bytes of a GGUF file (version 3), the format `GGUFFile` reads (ggml's `docs/gguf.md`).
///
/// Layout: magic `GGUF`, version 3 (u32), tensor count (u64), metadata count (u64); each key/value
/// (key string, u32 type, value); each tensor info (name, dimension count, dims fastest-varying
/// first, ggml type, offset from the data section's start); zero padding to the alignment; the
/// tensor data, each tensor starting on a multiple of the alignment. Integers are little-endian and
/// strings are a u64 byte count then UTF-8 without a terminator.
///
/// The bytes depend only on what is added and in which order: metadata and tensors are written in
/// the order given, padding is zeros, and nothing about the machine, the time or a path goes in.
public struct GGUFWriter {
    /// A metadata value with the GGUF type it is written as (readers such as llama.cpp check the
    /// type: `llama.rope.freq_base` must be an f32, `llama.block_count` a u32).
    public enum Value: Sendable, Equatable {
        case u32(UInt32), i32(Int32), u64(UInt64), f32(Float), f64(Double), bool(Bool), string(String)
        /// An array of strings (`tokenizer.ggml.tokens`).
        case strings([String])
        /// An array of i32 (`tokenizer.ggml.token_type`, `attnlab.kv_source_map`).
        case i32s([Int32])
    }

    /// `general.alignment`'s default, which every tensor offset here is a multiple of.
    public static let alignment = 32

    /// Metadata in the order it is written.
    public private(set) var metadata: [(key: String, value: Value)] = []
    private var tensors: [Tensor] = []

    /// One tensor: its name, its GGUF dims, the type it is written in, and the matrix whose rows
    /// (dequantized, then encoded in `type`) are its data.
    private struct Tensor {
        let name: String
        let dims: [Int]
        let type: GGMLType
        let source: WeightMatrix

        var bytes: Int { dims.reduce(1, *) * type.blockBytes }
    }

    public init() {}

    /// Whether `key` has been set.
    public func has(_ key: String) -> Bool { metadata.contains { $0.key == key } }

    /// Appends a key/value. A GGUF key appears once (llama.cpp refuses a file that repeats one).
    public mutating func set(_ key: String, _ value: Value) {
        precondition(!has(key), "metadata key '\(key)' is set twice")
        metadata.append((key, value))
    }

    /// Appends a matrix as a 2-D tensor `[cols, rows]` (GGUF's fastest-first order) in `type`.
    public mutating func addTensor(_ name: String, _ matrix: WeightMatrix, as type: GGMLType) {
        add(Tensor(name: name, dims: [matrix.cols, matrix.rows], type: type, source: matrix))
    }

    /// Appends a vector (a norm gain) as a 1-D tensor in `type`.
    public mutating func addTensor(_ name: String, _ vector: [Float], as type: GGMLType) {
        add(Tensor(name: name, dims: [vector.count], type: type, source: WeightMatrix(rows: 1, cols: vector.count, floats: vector)))
    }

    private mutating func add(_ t: Tensor) {
        precondition(t.type == .f32 || t.type == .f16, "the writer encodes F32 and F16 tensors, not \(t.type)")
        precondition(!tensors.contains { $0.name == t.name }, "tensor '\(t.name)' is added twice")
        tensors.append(t)
    }

    /// The whole file. Each tensor is encoded straight into place row by row, so a Float32 model is
    /// never copied whole on the way.
    public func data() -> Data {
        var header: [UInt8] = []
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { header += $0 } }
        func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { header += $0 } }
        func string(_ s: String) {
            u64(UInt64(s.utf8.count))
            header += s.utf8
        }
        header += Array("GGUF".utf8)
        u32(3)
        u64(UInt64(tensors.count))
        u64(UInt64(metadata.count))
        for (key, value) in metadata {
            string(key)
            switch value {
            case .u32(let v): u32(ValueType.u32); u32(v)
            case .i32(let v): u32(ValueType.i32); u32(UInt32(bitPattern: v))
            case .u64(let v): u32(ValueType.u64); u64(v)
            case .f32(let v): u32(ValueType.f32); u32(v.bitPattern)
            case .f64(let v): u32(ValueType.f64); u64(v.bitPattern)
            case .bool(let v): u32(ValueType.bool); header.append(v ? 1 : 0)
            case .string(let v): u32(ValueType.string); string(v)
            case .strings(let list):
                u32(ValueType.array); u32(ValueType.string); u64(UInt64(list.count))
                list.forEach(string)
            case .i32s(let list):
                u32(ValueType.array); u32(ValueType.i32); u64(UInt64(list.count))
                list.forEach { u32(UInt32(bitPattern: $0)) }
            }
        }
        var offsets: [Int] = []
        var dataBytes = 0
        for t in tensors {
            offsets.append(dataBytes)
            dataBytes += Self.padded(t.bytes)
        }
        for (t, offset) in zip(tensors, offsets) {
            string(t.name)
            u32(UInt32(t.dims.count))
            t.dims.forEach { u64(UInt64($0)) }
            u32(t.type.rawValue)
            u64(UInt64(offset))
        }
        let dataStart = Self.padded(header.count)
        // Zero-filled: the padding between tensors is zeros.
        var file = Data(count: dataStart + dataBytes)
        file.withUnsafeMutableBytes { (out: UnsafeMutableRawBufferPointer) in
            header.withUnsafeBytes { out.copyMemory(from: $0) }
            for (t, offset) in zip(tensors, offsets) {
                Self.encode(t, into: out.baseAddress! + dataStart + offset)
            }
        }
        return file
    }

    /// Writes `t`'s rows, dequantized to Float32 and encoded in `t.type`, from `out` on.
    private static func encode(_ t: Tensor, into out: UnsafeMutableRawPointer) {
        let m = t.source, rowBytes = m.cols * t.type.blockBytes
        let row = UnsafeMutablePointer<Float>.allocate(capacity: m.cols)
        defer { row.deallocate() }
        for r in 0..<m.rows {
            m.row(r, into: row)
            let target = out + r * rowBytes
            switch t.type {
            case .f16:
                // Float16(x) rounds to the nearest fp16, ties to even — the rounding `DType.fp16` uses.
                for i in 0..<m.cols { target.storeBytes(of: Float16(row[i]).bitPattern.littleEndian, toByteOffset: 2 * i, as: UInt16.self) }
            default:
                for i in 0..<m.cols { target.storeBytes(of: row[i].bitPattern.littleEndian, toByteOffset: 4 * i, as: UInt32.self) }
            }
        }
    }

    private static func padded(_ bytes: Int) -> Int { (bytes + alignment - 1) / alignment * alignment }

    /// GGUF's metadata value type ids.
    private enum ValueType {
        static let u32: UInt32 = 4, i32: UInt32 = 5, f32: UInt32 = 6, bool: UInt32 = 7, string: UInt32 = 8
        static let array: UInt32 = 9, u64: UInt32 = 10, f64: UInt32 = 12
    }
}
