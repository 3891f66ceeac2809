import AttnEngine

/// The language-modelling loss: the mean over scored rows of −log softmax(logits)[target]. A target
/// of −1 scores nothing (the recall task scores only its answers).
enum CrossEntropy {
    /// Turns each row of logits into probabilities in place and writes its loss (0 where unscored).
    static func forward<T: TrainScalar>(_ logits: UnsafeMutablePointer<T>, targets: [Int32], vocab V: Int,
                                        losses: UnsafeMutablePointer<Double>) {
        let p = Unchecked((logits, losses))
        targets.withUnsafeBufferPointer { tp in
            let targets = Unchecked(tp.baseAddress!)
            forEachSlice(tp.count) { _, range in
                let (logits, losses) = p.value
                for r in range {
                    let z = logits + r * V
                    var m = -T.infinity
                    for i in 0..<V { m = max(m, z[i]) }
                    for i in 0..<V { z[i] -= m }
                    let target = Int(targets.value[r])
                    let zTarget = target >= 0 ? z[target] : 0
                    T.exp(z, V)
                    var l: T = 0
                    for i in 0..<V { l += z[i] }
                    let inv = 1 / l
                    for i in 0..<V { z[i] *= inv }
                    // −log p_target = log Σ e^(z − m) − (z_target − m), in float64.
                    losses[r] = target >= 0 ? DetMath.log(Double(l)) - Double(zTarget) : 0
                }
            }
        }
    }

    /// Probabilities → dlogits in place: (p − onehot(target)) / scored, 0 on unscored rows.
    static func backward<T: TrainScalar>(_ probs: UnsafeMutablePointer<T>, targets: [Int32], vocab V: Int, scored: Int) {
        let scale = 1 / T(scored)
        let p = Unchecked(probs)
        targets.withUnsafeBufferPointer { tp in
            let targets = Unchecked(tp.baseAddress!)
            forEachSlice(tp.count) { _, range in
                for r in range {
                    let z = p.value + r * V, target = Int(targets.value[r])
                    guard target >= 0 else {
                        z.update(repeating: 0, count: V)
                        continue
                    }
                    for i in 0..<V { z[i] *= scale }
                    z[target] -= scale
                }
            }
        }
    }
}
