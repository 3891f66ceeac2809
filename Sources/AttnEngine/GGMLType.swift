/// The ggml tensor types AttnLab reads, with their block layouts (ggml's `ggml-common.h`).
///
/// A quantized tensor is a sequence of blocks of 32 values; each block stores an fp16 scale `d`
/// (and for Q4_1 an fp16 minimum `m`) and one small integer per value:
/// - Q8_0 (34 bytes): `d`, 32 × int8 `q`;                 x = q·d
/// - Q4_0 (18 bytes): `d`, 16 bytes of two 4-bit `q` each; x = (q − 8)·d
/// - Q4_1 (20 bytes): `d`, `m`, 16 bytes of 4-bit `q`;      x = q·d + m
/// In the 4-bit types byte j holds value j in its low nibble and value j + 16 in its high nibble.
/// q·d is exact in Float32 (an 11-bit fp16 significand times an integer of at most 8 bits), so the
/// only rounding is Q4_1's `+ m`, and every reader gets the same Float32 values.
///
/// The engine keeps weight matrices in these types (`WeightMatrix`); `dequantize` is the plain
/// reference its C kernels (`attn_dequantize_row`, `attn_dot_row`) must match bit for bit.
public enum GGMLType: UInt32, Sendable, CaseIterable, CustomStringConvertible {
    case f32 = 0, f16 = 1, q4_0 = 2, q4_1 = 3, q8_0 = 8, bf16 = 30

    /// Values per block (1 for the plain float types).
    public var blockElements: Int {
        switch self {
        case .f32, .f16, .bf16: 1
        case .q4_0, .q4_1, .q8_0: 32
        }
    }

    public var blockBytes: Int {
        switch self {
        case .f32: 4
        case .f16, .bf16: 2
        case .q4_0: 18
        case .q4_1: 20
        case .q8_0: 34
        }
    }

    public var description: String {
        switch self {
        case .f32: "F32"
        case .f16: "F16"
        case .bf16: "BF16"
        case .q4_0: "Q4_0"
        case .q4_1: "Q4_1"
        case .q8_0: "Q8_0"
        }
    }

    /// Writes `elements` Float32 values decoded from `bytes` (which holds exactly their blocks).
    public static func dequantize(_ type: GGMLType, _ bytes: UnsafeRawBufferPointer, into y: UnsafeMutablePointer<Float>, elements: Int) {
        precondition(bytes.count == elements / type.blockElements * type.blockBytes, "byte count does not match \(elements) \(type) values")
        func f16(_ offset: Int) -> Float { Float(Float16(bitPattern: UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))) }
        switch type {
        case .f32:
            for i in 0..<elements { y[i] = Float(bitPattern: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))) }
        case .f16:
            for i in 0..<elements { y[i] = f16(2 * i) }
        case .bf16:
            // bf16 is the top half of a Float32.
            for i in 0..<elements { y[i] = Float(bitPattern: UInt32(UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) << 16) }
        case .q8_0:
            for b in 0..<(elements / 32) {
                let block = 34 * b, d = f16(block), out = y + 32 * b
                for j in 0..<32 { out[j] = Float(Int8(bitPattern: bytes[block + 2 + j])) * d }
            }
        case .q4_0:
            for b in 0..<(elements / 32) {
                let block = 18 * b, d = f16(block), out = y + 32 * b
                for j in 0..<16 {
                    let q = bytes[block + 2 + j]
                    out[j] = Float(Int(q & 0x0F) - 8) * d
                    out[j + 16] = Float(Int(q >> 4) - 8) * d
                }
            }
        case .q4_1:
            for b in 0..<(elements / 32) {
                let block = 20 * b, d = f16(block), m = f16(block + 2), out = y + 32 * b
                for j in 0..<16 {
                    let q = bytes[block + 4 + j]
                    out[j] = Float(q & 0x0F) * d + m
                    out[j + 16] = Float(q >> 4) * d + m
                }
            }
        }
    }
}
