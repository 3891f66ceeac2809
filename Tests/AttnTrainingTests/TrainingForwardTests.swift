import AttnEngine
import Testing
import AttnTraining

/// The Float32 training path against independent paths: the inference decoder, the float64 model,
/// and an SGD step worked out by hand.
@Suite struct TrainingForwardTests {
    static func config(_ pattern: KVPattern = .cla(2), kvHeads: Int = 2) throws -> DecoderConfig {
        try DecoderConfig(layers: 4, dModel: 32, attention: AttentionLayout(qHeads: 4, kvHeads: kvHeads, headDim: 8),
                          ffn: 64, vocab: 40, kvMap: pattern.map(layers: 4))
    }

    /// The training forward's probabilities are the cached decoder's softmax(logits), token by token.
    @Test(arguments: [KVPattern.none, .cla(2), .keepEnds])
    func forwardMatchesCachedDecoder(_ pattern: KVPattern) throws {
        let c = try Self.config(pattern)
        let weights = DecoderWeights(config: c, seed: 3)
        let T = 9
        let tokens = (0..<T).map { ($0 * 11 + 5) % c.vocab }
        let model = TrainingModel<Float>(config: c, weights: weights, maxSeq: T)
        let acts = TrainActivations<Float>(config: c, batch: 1, seq: T)
        model.forward(inputs: tokens.map(Int32.init), targets: [Int32](repeating: 0, count: T), acts)
        let probs = acts.probabilities

        let decoder = Decoder(config: c, weights: weights, capacityTokens: T)
        for (t, token) in tokens.enumerated() {
            var logits = decoder.step(token: token).logits.map(Double.init)
            let m = logits.max()!
            logits = logits.map { detExp($0 - m) }
            let s = logits.reduce(0, +)
            for i in 0..<c.vocab {
                #expect(abs(Double(probs[t * c.vocab + i]) - logits[i] / s) < 2e-6, "t \(t) token \(i)")
            }
        }
    }

    /// Float32 gradients agree with the float64 model's (which finite differences check).
    @Test func floatGradientsMatchDouble() throws {
        let c = try Self.config(.cla(2), kvHeads: 1)
        let weights = DecoderWeights(config: c, seed: 5)
        let B = 2, T = 8
        let inputs = (0..<(B * T)).map { Int32(($0 * 13 + 1) % c.vocab) }
        let targets = (0..<(B * T)).map { Int32(($0 * 17 + 2) % c.vocab) }
        let f = TrainingModel<Float>(config: c, weights: weights, maxSeq: T)
        let d = TrainingModel<Double>(config: c, weights: weights, maxSeq: T)
        let fa = TrainActivations<Float>(config: c, batch: B, seq: T), da = TrainActivations<Double>(config: c, batch: B, seq: T)
        let lf = f.forward(inputs: inputs, targets: targets, fa), ld = d.forward(inputs: inputs, targets: targets, da)
        #expect(abs(lf.loss - ld.loss) < 1e-5)
        f.gradients.zero(); d.gradients.zero()
        f.backward(inputs: inputs, targets: targets, fa, scoredTokens: lf.scoredTokens)
        d.backward(inputs: inputs, targets: targets, da, scoredTokens: ld.scoredTokens)
        for t in f.layout.tensors {
            var err = 0.0, size = 0.0
            for i in 0..<t.elements {
                err = max(err, abs(Double(f.gradients[t][i]) - d.gradients[t][i]))
                size = max(size, abs(d.gradients[t][i]))
            }
            #expect(err <= 1e-4 * size + 1e-7, "\(t.name): max error \(err) of max \(size)")
        }
    }

    /// Plain SGD: after one step every weight is w − lr·g, with g from the same batch.
    @Test func sgdStepByHand() throws {
        let c = try Self.config()
        let model = TrainingModel<Float>(config: c, weights: DecoderWeights(config: c, seed: 9), maxSeq: 6)
        let acts = TrainActivations<Float>(config: c, batch: 1, seq: 6)
        let inputs: [Int32] = [1, 2, 3, 4, 5, 6], targets: [Int32] = [2, 3, 4, 5, 6, 7]
        let before = model.parameters.array
        let loss = model.forward(inputs: inputs, targets: targets, acts)
        model.gradients.zero()
        model.backward(inputs: inputs, targets: targets, acts, scoredTokens: loss.scoredTokens)
        let g = model.gradients.array
        let opt = Optimizer(settings: .plainSGD(lr: 0.5), parameterCount: model.layout.count)
        opt.step(parameters: model.parameters, gradients: model.gradients, layout: model.layout, lr: 0.5)
        let after = model.parameters.array
        for i in 0..<before.count { #expect(after[i] == before[i] - 0.5 * g[i]) }
        #expect(model.forward(inputs: inputs, targets: targets, acts).loss < loss.loss)
    }
}

private func detExp(_ x: Double) -> Double { DetMath.exp(x) }
