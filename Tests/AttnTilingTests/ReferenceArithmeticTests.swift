import AttnEngine
import AttnTiling
import Testing

/// The float64 reference's bulk passes (eight keys at a time, out held in registers) against its own
/// one-key-at-a-time `score` and `accumulate`: the same bits, so the reference stays the plain loop.
@Suite("Float64 reference: bulk passes = one key at a time, bit for bit")
struct ReferenceArithmeticTests {
    @Test("scores and accumulate over ranges of 0 to 21 keys, head sizes 1 to 70", arguments: [1, 7, 8, 9, 16, 40, 64, 70])
    func bulk(d: Int) {
        var rng = SplitMix64(seed: 3, stream: "reference \(d)")
        var floats = [Float](repeating: 0, count: 30 * d + d)
        rng.fillNormal(&floats, std: 1)
        let x = floats.map(Double.init), arithmetic = Float64Reference()
        x.withUnsafeBufferPointer { x in
            let q = x.baseAddress!, rows = KVRows(base: q + d, stride: d)
            for first in [0, 3] {
                for count in 0...21 {
                    let range = first..<(first + count)
                    var bulk = [Double](repeating: .nan, count: count), single = bulk
                    arithmetic.scores(q, rows, range, d, into: &bulk)
                    for (n, j) in range.enumerated() { single[n] = arithmetic.score(q, rows[j], d) }
                    #expect(bulk.map(\.bitPattern) == single.map(\.bitPattern), "scores d \(d) \(range)")

                    var outBulk = Array(x[0..<d]), outSingle = outBulk
                    arithmetic.accumulate(single, rows, range, d, &outBulk)
                    for (n, j) in range.enumerated() { arithmetic.accumulate(single[n], rows[j], &outSingle, d) }
                    #expect(outBulk.map(\.bitPattern) == outSingle.map(\.bitPattern), "accumulate d \(d) \(range)")
                }
            }
        }
    }
}
