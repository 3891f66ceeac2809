import AttnEngine
import Foundation

/// An independent float64 decoder written the plain way — nested loops, Foundation's libm, no
/// cache, no SIMD — used as ground truth for the engine. It reads the engine's weights, dequantized
/// by the plain Swift reference (`WeightMatrix.floats`), but none of its code paths.
enum ReferenceDecoder {
    /// Logits at every position of `tokens`.                        // [T][vocab]
    static func logits(config c: DecoderConfig, weights w: DecoderWeights, tokens: [Int]) -> [[Double]] {
        let T = tokens.count, d = c.dModel, hd = c.attention.headDim
        let qH = c.attention.qHeads, kvH = c.attention.kvHeads
        func linear(_ W: [Float], _ x: [Double], rows: Int) -> [Double] {
            (0..<rows).map { r in (0..<x.count).reduce(0.0) { $0 + Double(W[r * x.count + $1]) * x[$1] } }
        }
        func rmsNorm(_ x: [Double], _ gain: [Float]) -> [Double] {
            let ms = x.map { $0 * $0 }.reduce(0, +) / Double(x.count)
            let inv = 1 / (ms + Double(c.normEps)).squareRoot()
            return x.indices.map { x[$0] * inv * Double(gain[$0]) }
        }
        func rope(_ v: [Double], heads: Int, position: Int) -> [Double] {
            var out = v
            for h in 0..<heads {
                for i in 0..<(hd / 2) {
                    let angle = Double(position) * pow(c.ropeBase, -Double(2 * i) / Double(hd))
                    let a = v[h * hd + 2 * i], b = v[h * hd + 2 * i + 1]
                    out[h * hd + 2 * i] = a * cos(angle) - b * sin(angle)
                    out[h * hd + 2 * i + 1] = a * sin(angle) + b * cos(angle)
                }
            }
            return out
        }
        let embedding = w.embedding.floats
        var x: [[Double]] = tokens.map { t in (0..<d).map { Double(embedding[t * d + $0]) } }
        var keys: [Int: [[Double]]] = [:], values: [Int: [[Double]]] = [:]
        for l in 0..<c.layers {
            let aw = w.attention[c.weightSharing == .all || c.weightSharing == .attention ? 0 : l]
            let h = x.map { rmsNorm($0, aw.norm) }
            if c.kvMap.source[l] == l {
                let wk = aw.wk!.floats, wv = aw.wv!.floats
                keys[l] = (0..<T).map { rope(linear(wk, h[$0], rows: kvH * hd), heads: kvH, position: $0) }
                values[l] = (0..<T).map { linear(wv, h[$0], rows: kvH * hd) }
            }
            let K = keys[c.kvMap.source[l]]!, V = values[c.kvMap.source[l]]!
            let wq = aw.wq.floats, wo = aw.wo.floats
            for t in 0..<T {
                let q = rope(linear(wq, h[t], rows: qH * hd), heads: qH, position: t)
                var out = [Double](repeating: 0, count: qH * hd)
                for head in 0..<qH {
                    let g = head * kvH / qH  // consecutive query heads form a group
                    var scores = (0...t).map { j in
                        (0..<hd).reduce(0.0) { $0 + q[head * hd + $1] * K[j][g * hd + $1] } / Double(hd).squareRoot()
                    }
                    let m = scores.max()!
                    scores = scores.map { exp($0 - m) }
                    let z = scores.reduce(0, +)
                    for j in 0...t {
                        for e in 0..<hd { out[head * hd + e] += scores[j] / z * V[j][g * hd + e] }
                    }
                }
                let o = linear(wo, out, rows: d)
                for i in 0..<d { x[t][i] += o[i] }
            }
            let fw = w.ffn[c.weightSharing == .all || c.weightSharing == .ffn ? 0 : l]
            let w1 = fw.w1.floats, w3 = fw.w3.floats, w2 = fw.w2.floats
            for t in 0..<T {
                let hn = rmsNorm(x[t], fw.norm)
                let gate = linear(w1, hn, rows: c.ffn), up = linear(w3, hn, rows: c.ffn)
                let act = (0..<c.ffn).map { gate[$0] / (1 + exp(-gate[$0])) * up[$0] }
                let down = linear(w2, act, rows: d)
                for i in 0..<d { x[t][i] += down[i] }
            }
        }
        let head = (w.lmHead ?? w.embedding).floats
        return x.map { linear(head, rmsNorm($0, w.finalNorm), rows: c.vocab) }
    }
}
