/// SplitMix64 (Steele, Lea, Flood 2014; Vigna's reference `splitmix64.c`): a tiny seeded generator
/// whose output is fixed by its seed on every platform, unlike the system generator.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    /// A generator for one named stream of a seed, so that e.g. layer 3's W_Q is the same tensor
    /// whether or not the model also has W_K in layer 2 (MHA, GQA and CLA models then differ only in
    /// what they really change).
    public init(seed: UInt64, stream: String) {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a over the stream name
        for byte in stream.utf8 {
            h = (h ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
        }
        var mixer = SplitMix64(seed: seed ^ h)
        state = mixer.next()
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 53 random bits.
    public mutating func nextUnitDouble() -> Double {
        Double(next() >> 11) * 0x1p-53
    }

    /// Fills `buffer` with N(0, std²) draws by the Box–Muller transform, two draws per pair of
    /// uniforms, using `DetMath` so the values are the same on every machine.
    public mutating func fillNormal(_ buffer: inout [Float], std: Double) {
        var i = 0
        while i < buffer.count {
            let u1 = 1.0 - nextUnitDouble()  // (0, 1]: log stays finite
            let u2 = nextUnitDouble()
            let radius = (-2.0 * DetMath.log(u1)).squareRoot() * std
            let (s, c) = DetMath.sincos(2.0 * Double.pi * u2)
            buffer[i] = Float(radius * c)
            if i + 1 < buffer.count { buffer[i + 1] = Float(radius * s) }
            i += 2
        }
    }
}
