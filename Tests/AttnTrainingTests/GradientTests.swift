import AttnEngine
import Testing
import AttnTraining

/// The hand-written backward pass against central finite differences of the float64 loss, for every
/// parameter tensor of every variant the trainer builds.
@Suite struct GradientTests {
    struct Variant: Sendable, CustomTestStringConvertible {
        let name: String
        let qHeads: Int, kvHeads: Int, layers: Int
        let pattern: KVPattern
        let sharing: WeightSharing
        let tied: Bool
        var testDescription: String { name }
    }

    static let variants: [Variant] = [
        Variant(name: "MHA", qHeads: 4, kvHeads: 4, layers: 3, pattern: .none, sharing: .none, tied: false),
        Variant(name: "GQA2", qHeads: 4, kvHeads: 2, layers: 3, pattern: .none, sharing: .none, tied: false),
        Variant(name: "MQA", qHeads: 4, kvHeads: 1, layers: 3, pattern: .none, sharing: .none, tied: true),
        Variant(name: "MQA-CLA2", qHeads: 4, kvHeads: 1, layers: 4, pattern: .cla(2), sharing: .none, tied: false),
        Variant(name: "GQA2-CLA3", qHeads: 4, kvHeads: 2, layers: 4, pattern: .cla(3), sharing: .none, tied: false),
        Variant(name: "explicit 0,0,2,0", qHeads: 4, kvHeads: 2, layers: 4, pattern: .explicit([0, 0, 2, 0]), sharing: .none, tied: false),
        Variant(name: "KeepEnds", qHeads: 4, kvHeads: 4, layers: 5, pattern: .keepEnds, sharing: .none, tied: false),
        Variant(name: "ALBERT all", qHeads: 4, kvHeads: 4, layers: 3, pattern: .none, sharing: .all, tied: true),
        Variant(name: "shared attention, CLA2", qHeads: 4, kvHeads: 2, layers: 3, pattern: .cla(2), sharing: .attention, tied: false),
        Variant(name: "shared FFN", qHeads: 4, kvHeads: 4, layers: 3, pattern: .none, sharing: .ffn, tied: false),
    ]

    static let batch = 2, seq = 5, vocab = 13

    static func config(_ v: Variant) throws -> DecoderConfig {
        try DecoderConfig(layers: v.layers, dModel: 16, attention: AttentionLayout(qHeads: v.qHeads, kvHeads: v.kvHeads, headDim: 4),
                          ffn: 24, vocab: vocab, kvMap: v.pattern.map(layers: v.layers), weightSharing: v.sharing,
                          tiedEmbeddings: v.tied)
    }

    /// Tokens and targets with one unscored position, as the recall task has.
    static func batchTokens() -> (inputs: [Int32], targets: [Int32]) {
        let inputs = (0..<(batch * seq)).map { Int32(($0 * 7 + 3) % vocab) }
        var targets = (0..<(batch * seq)).map { Int32(($0 * 5 + 1) % vocab) }
        targets[3] = -1
        return (inputs, targets)
    }

    @Test(arguments: variants)
    func backwardMatchesFiniteDifferences(_ v: Variant) throws {
        let c = try Self.config(v)
        var weights = DecoderWeights(config: c, seed: 7)
        // Norm gains away from 1, so their gradients are not a special case.
        for i in weights.attention.indices { weights.attention[i].norm = (0..<16).map { 1 + Float($0 % 5) / 10 - 0.2 } }
        for i in weights.ffn.indices { weights.ffn[i].norm = (0..<16).map { 1 - Float($0 % 3) / 10 } }
        let model = TrainingModel<Double>(config: c, weights: weights, maxSeq: Self.seq)
        let acts = TrainActivations<Double>(config: c, batch: Self.batch, seq: Self.seq)
        let (inputs, targets) = Self.batchTokens()
        let loss = model.forward(inputs: inputs, targets: targets, acts)
        model.gradients.zero()
        model.backward(inputs: inputs, targets: targets, acts, scoredTokens: loss.scoredTokens)

        let h = 1e-5
        var checked = 0
        for t in model.layout.tensors {
            // Up to 12 elements per tensor, spread over it.
            let picks = Set((0..<12).map { ($0 * 7919 + 13) % t.elements })
            for i in picks.sorted() {
                let p = model.parameters[t] + i, saved = p.pointee
                p.pointee = saved + h
                let up = model.forward(inputs: inputs, targets: targets, acts).loss
                p.pointee = saved - h
                let down = model.forward(inputs: inputs, targets: targets, acts).loss
                p.pointee = saved
                let numeric = (up - down) / (2 * h), analytic = model.gradients[t][i]
                #expect(abs(numeric - analytic) <= 1e-7 + 1e-5 * abs(numeric), "\(v.name) \(t.name)[\(i)]: numeric \(numeric), analytic \(analytic)")
                checked += 1
            }
        }
        #expect(checked >= model.layout.tensors.count)
    }

    /// A CLA consumer keeps no K/V and has no W_K/W_V; the memory report shows it.
    @Test func claConsumersKeepNoKV() throws {
        let v = Self.variants[3]
        let c = try Self.config(v)
        let acts = TrainActivations<Float>(config: c, batch: 2, seq: 5)
        let kv = acts.memory.perLayerKVBytes
        #expect(kv.count == 4 && kv[0] > 0 && kv[1] == 0 && kv[2] > 0 && kv[3] == 0)
        #expect(acts.memory.perLayerBytes[1] == acts.memory.perLayerBytes[0] - kv[0])
        let layout = ParameterLayout(config: c)
        #expect(layout.attention.map { $0.wk != nil } == [true, false, true, false])
    }
}
