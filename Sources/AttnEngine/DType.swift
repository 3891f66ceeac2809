/// Element types for stored K/V and weights, with their exact size in bits.
public enum DType: String, CaseIterable, Sendable, Codable {
    case fp32, bf16, fp16, fp8, int8, int4

    public var bits: Int {
        switch self {
        case .fp32: 32
        case .bf16, .fp16: 16
        case .fp8, .int8: 8
        case .int4: 4
        }
    }

    /// Whether the decoder can store its cache in this type for real (it rounds every K/V element to
    /// it when writing the cache); the others exist for the calculators.
    public var isStorableByDecoder: Bool { self == .fp32 || self == .bf16 || self == .fp16 }

    /// `x` rounded to the nearest value of this type (ties to even), returned as Float.
    @inline(__always)
    public func round(_ x: Float) -> Float {
        switch self {
        case .bf16:
            // bfloat16 keeps the upper 16 bits of a Float32; round the lower 16 to nearest even.
            if x.isNaN { return x }
            let bits = x.bitPattern
            let rounded = bits &+ 0x7fff &+ ((bits >> 16) & 1)
            return Float(bitPattern: rounded & 0xffff_0000)
        case .fp16:
            return Float(Float16(x))
        default:
            return x
        }
    }
}
