/// Integer K/V with a scale and a minimum per group, as KIVI stores them (Liu et al. 2024), with keys
/// and values grouped along different axes for the reason KVQuant gives (Hooper et al. 2024): a few
/// key *channels* carry outliers in every token, so a scale per token would spend its range on them.
///
/// - Keys, per channel: one scale and minimum per channel for each `group` consecutive tokens. A
///   group is quantized when its last token has been written; until then its rows stay in the cache's
///   element type (KIVI's full-precision residual), and a query reads them as they are.
/// - Values, per token: one scale and minimum per `group` consecutive channels of a row, at once.
///
/// Each group is asymmetric: code c = round((x − min)/scale) in 0...2^bits − 1, read back as
/// min + c·scale. Scale and minimum are stored as fp16 (4 bytes a group), the minimum rounded down
/// and the scale up, so every x of the group lies in [min, min + (2^bits − 1)·scale] and rounds to
/// within scale/2 of itself.
///
/// With `preRoPE` the keys are quantized before the rotary embedding and rotated after they are read
/// back (KVQuant: before RoPE the outlier channels stay in place; RoPE mixes each pair of channels by
/// a position-dependent angle).
public struct KVQuantization: Hashable, Sendable {
    /// 2, 4 or 8.
    public let bits: Int
    /// Tokens per key scale, and channels per value scale.
    public let group: Int
    public let preRoPE: Bool

    /// The bit widths a code may have.
    public static let supportedBits = [2, 4, 8]

    /// - Throws: `ConfigError` naming `--kv-quant` for other bit widths and `--kv-group` for a group
    ///   that does not divide `headDim` (a value group may not span two heads).
    public init(bits: Int, group: Int, preRoPE: Bool = false, headDim: Int) throws(ConfigError) {
        guard Self.supportedBits.contains(bits) else {
            throw ConfigError(.kvQuant, "must be int8, int4 or int2, got \(bits) bits")
        }
        guard group >= 1 else { throw ConfigError(.kvGroup, "must be positive, got \(group)") }
        guard headDim % group == 0 else {
            throw ConfigError(.kvGroup, "\(group) does not divide head_dim \(headDim); a value group must not span two heads (try \(Self.divisors(headDim).filter { $0 >= 4 }.map(String.init).joined(separator: ", ")))")
        }
        self.bits = bits
        self.group = group
        self.preRoPE = preRoPE
    }

    /// The largest code, 2^bits − 1.
    public var maxCode: Int { (1 << bits) - 1 }

    /// "int4, groups of 32", with "keys before RoPE" when `preRoPE`.
    public var label: String { "int\(bits), groups of \(group)" + (preRoPE ? ", keys before RoPE" : "") }

    /// Bytes of one layer's cache holding `tokens` tokens of `kvElements` K and V elements each:
    ///
    ///     values: tokens · ⌈E·bits/8⌉ + tokens · (E/group) · 4
    ///     keys:   full · group · ⌈E·bits/8⌉ + full · E · 4 + (tokens − full·group) · E · residual bytes
    ///
    /// with `full` = ⌊tokens/group⌋ quantized key groups and 4 bytes for an fp16 scale and minimum.
    public func bytes(tokens: Int, kvElements E: Int, residualDType: DType) -> Int {
        let codeBytesPerRow = (E * bits + 7) / 8, scaleBytes = 4
        let values = tokens * codeBytesPerRow + tokens * (E / group) * scaleBytes
        let full = tokens / group
        let keys = full * group * codeBytesPerRow + full * E * scaleBytes + (tokens - full * group) * E * residualDType.bits / 8
        return values + keys
    }

    /// Bytes the token at `position` writes into one layer's cache: its value codes and scales, its
    /// key row in `residualDType`, and — when it completes a key group — the group's key codes and
    /// channel scales. More than the cache grows by then: the group's waiting rows are freed.
    public func bytesWritten(position: Int, kvElements E: Int, residualDType: DType) -> Int {
        let codeBytesPerRow = (E * bits + 7) / 8
        let row = codeBytesPerRow + (E / group) * 4 + E * residualDType.bits / 8
        return row + ((position + 1) % group == 0 ? group * codeBytesPerRow + E * 4 : 0)
    }

    /// One group's fp16 scale and minimum.
    public struct Scale: Equatable, Sendable {
        public let scale: Float
        public let min: Float
    }

    /// Quantizes `count` values read at `x[n·stride]` into `codes[n·stride]` and returns the group's
    /// scale and minimum; `dequantized[n·stride]` gets min + code·scale, what a reader sees.
    public func quantize(_ x: UnsafePointer<Float>, count: Int, stride: Int,
                         codes: UnsafeMutablePointer<UInt8>, dequantized: UnsafeMutablePointer<Float>) -> Scale {
        var lo = x[0], hi = x[0]
        for n in 1..<count {
            lo = Swift.min(lo, x[n * stride])
            hi = Swift.max(hi, x[n * stride])
        }
        let s = Self.fp16Scale(lo: lo, hi: hi, maxCode: maxCode)
        let top = Float(maxCode)
        for n in 0..<count {
            // (x − min)/scale ≤ maxCode up to rounding; the clamp keeps a code in range.
            let c = s.scale > 0 ? Swift.min(Swift.max(((x[n * stride] - s.min) / s.scale).rounded(), 0), top) : 0
            codes[n * stride] = UInt8(c)
            dequantized[n * stride] = s.min + c * s.scale
        }
        return s
    }

    /// fp16 minimum ≤ `lo` and fp16 scale with min + maxCode·scale ≥ `hi`: the group's range is
    /// covered after the scale and minimum are stored.
    static func fp16Scale(lo: Float, hi: Float, maxCode: Int) -> Scale {
        var min16 = Float16(lo)
        if Float(min16) > lo { min16 = min16.nextDown }
        let raw = (hi - Float(min16)) / Float(maxCode)
        var scale16 = Float16(raw)
        if Float(scale16) < raw { scale16 = scale16.nextUp }
        // A scale that rounds to the top of fp16's range, or past it, cannot cover the group: keep
        // it finite and let the codes clamp (values this large are not activations of a working model).
        if !scale16.isFinite { scale16 = Float16.greatestFiniteMagnitude }
        return Scale(scale: Float(scale16), min: Float(min16))
    }

    private static func divisors(_ n: Int) -> [Int] { (1...n).filter { n % $0 == 0 } }
}
