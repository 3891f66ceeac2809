/// Rotary position embedding (Su et al. 2021) as in Meta's Llama code: dimensions (2i, 2i+1) of each
/// head form a pair rotated by the angle `position · base^(−2i/head_dim)`.
public struct RoPE: Sendable {
    public let headDim: Int
    public let positions: Int
    private let cos: [Float]                                        // [positions × head_dim/2]
    private let sin: [Float]                                        // [positions × head_dim/2]

    public init(headDim: Int, positions: Int, base: Double) {
        self.headDim = headDim
        self.positions = positions
        let pairs = headDim / 2
        var cos = [Float](repeating: 0, count: positions * pairs)
        var sin = cos
        let logBase = DetMath.log(base)
        for i in 0..<pairs {
            let theta = DetMath.exp(-Double(2 * i) / Double(headDim) * logBase)
            for p in 0..<positions {
                let (s, c) = DetMath.sincos(Double(p) * theta)
                cos[p * pairs + i] = Float(c)
                sin[p * pairs + i] = Float(s)
            }
        }
        self.cos = cos
        self.sin = sin
    }

    /// Rotates `heads` consecutive heads of `x` in place for `position`.
    public func apply(_ x: UnsafeMutablePointer<Float>, heads: Int, position: Int) {
        let pairs = headDim / 2
        cos.withUnsafeBufferPointer { cp in
            sin.withUnsafeBufferPointer { sp in
                let c = cp.baseAddress! + position * pairs, s = sp.baseAddress! + position * pairs
                for h in 0..<heads {
                    let v = x + h * headDim
                    for i in 0..<pairs {
                        let a = v[2 * i], b = v[2 * i + 1]
                        v[2 * i] = a * c[i] - b * s[i]
                        v[2 * i + 1] = a * s[i] + b * c[i]
                    }
                }
            }
        }
    }
}
