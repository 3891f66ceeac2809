import AttnEngine
import AttnModels
import CKernels
import Foundation
import Testing
import AttnTraining

/// Training with latent K/V (`--kv-latent-rank`): c = W_a·h, K = W_kb·c, V = W_vb·c. The backward pass
/// through the factors against finite differences, Float32 against float64, the same bits on every
/// SIMD level and thread count, the memory it counts, and the checkpoint of products that a latent
/// cache of the same rank runs exactly.
@Suite struct LatentTrainingTests {
    struct Variant: Sendable, CustomTestStringConvertible {
        let name: String
        let kvHeads: Int, layers: Int, rank: Int
        let pattern: KVPattern
        let sharing: WeightSharing
        var testDescription: String { name }
    }

    static let variants: [Variant] = [
        Variant(name: "MHA r6", kvHeads: 4, layers: 3, rank: 6, pattern: .none, sharing: .none),
        Variant(name: "GQA2-CLA2 r5", kvHeads: 2, layers: 4, rank: 5, pattern: .cla(2), sharing: .none),
        Variant(name: "shared attention, CLA2 r3", kvHeads: 2, layers: 3, rank: 3, pattern: .cla(2), sharing: .attention),
    ]

    static func config(_ v: Variant, d: Int = 16, vocab: Int = GradientTests.vocab) throws -> DecoderConfig {
        try DecoderConfig(layers: v.layers, dModel: d, attention: AttentionLayout(qHeads: 4, kvHeads: v.kvHeads, headDim: d / 4),
                          ffn: 24, vocab: vocab, kvMap: v.pattern.map(layers: v.layers), weightSharing: v.sharing)
    }

    /// The factors replace W_K, W_V on producers only, with their llama.cpp-style names and shapes.
    @Test func layoutHasFactorsOnProducers() throws {
        let v = Self.variants[1], c = try Self.config(v)
        let layout = ParameterLayout(config: c, kvLatentRank: 5)
        #expect(layout.attention.allSatisfy { $0.wk == nil && $0.wv == nil })
        #expect(layout.attention.map { $0.latent != nil } == [true, false, true, false])
        let f = try #require(layout.attention[2].latent)
        #expect(f.wa.name == "blk.2.attn_kv_a.weight" && f.wa.rows == 5 && f.wa.cols == 16)
        #expect(f.wkb.name == "blk.2.attn_k_b.weight" && f.wkb.rows == 8 && f.wkb.cols == 5 && f.wvb.rows == 8)
        #expect(f.wa.isProjection && f.wkb.isProjection && f.wvb.isProjection)
        // Each producer trades W_K, W_V (2·E·d) for R·d + 2·E·R.
        #expect(layout.count == ParameterLayout(config: c).count - 2 * (2 * 8 * 16) + 2 * (5 * 16 + 2 * 8 * 5))
    }

    @Test(arguments: variants)
    func backwardMatchesFiniteDifferences(_ v: Variant) throws {
        let c = try Self.config(v)
        let model = TrainingModel<Double>(config: c, weights: DecoderWeights(config: c, seed: 7), maxSeq: GradientTests.seq,
                                          kvLatentRank: v.rank, seed: 3)
        let acts = TrainActivations<Double>(config: c, batch: GradientTests.batch, seq: GradientTests.seq, kvLatentRank: v.rank)
        let (inputs, targets) = GradientTests.batchTokens()
        let loss = model.forward(inputs: inputs, targets: targets, acts)
        model.gradients.zero()
        model.backward(inputs: inputs, targets: targets, acts, scoredTokens: loss.scoredTokens)

        let h = 1e-5
        var factors = 0
        for t in model.layout.tensors {
            let isFactor = t.name.contains("attn_kv_a") || t.name.contains("_b.weight")
            if isFactor { factors += 1 }
            // Every element of the factors, up to 12 of the other tensors.
            let picks = isFactor ? Array(0..<t.elements) : Set((0..<12).map { ($0 * 7919 + 13) % t.elements }).sorted()
            for i in picks {
                let p = model.parameters[t] + i, saved = p.pointee
                p.pointee = saved + h
                let up = model.forward(inputs: inputs, targets: targets, acts).loss
                p.pointee = saved - h
                let down = model.forward(inputs: inputs, targets: targets, acts).loss
                p.pointee = saved
                let numeric = (up - down) / (2 * h), analytic = model.gradients[t][i]
                #expect(abs(numeric - analytic) <= 1e-7 + 1e-5 * abs(numeric), "\(v.name) \(t.name)[\(i)]: numeric \(numeric), analytic \(analytic)")
            }
        }
        #expect(factors == 3 * model.layout.attention.filter { $0.latent != nil }.count && factors > 0)
    }

    /// Float32 loss and gradients agree with the float64 model's.
    @Test func floatMatchesDouble() throws {
        let v = Self.variants[1], c = try Self.config(v, d: 32, vocab: 40)
        let weights = DecoderWeights(config: c, seed: 5)
        let B = 2, T = 8
        let inputs = (0..<(B * T)).map { Int32(($0 * 13 + 1) % c.vocab) }
        let targets = (0..<(B * T)).map { Int32(($0 * 17 + 2) % c.vocab) }
        let f = TrainingModel<Float>(config: c, weights: weights, maxSeq: T, kvLatentRank: 7)
        let d = TrainingModel<Double>(config: c, weights: weights, maxSeq: T, kvLatentRank: 7)
        let fa = TrainActivations<Float>(config: c, batch: B, seq: T, kvLatentRank: 7)
        let da = TrainActivations<Double>(config: c, batch: B, seq: T, kvLatentRank: 7)
        let lf = f.forward(inputs: inputs, targets: targets, fa), ld = d.forward(inputs: inputs, targets: targets, da)
        #expect(abs(lf.loss - ld.loss) < 1e-5)
        let pf = fa.probabilities, pd = da.probabilities
        #expect(zip(pf, pd).allSatisfy { abs(Double($0) - $1) < 2e-6 })
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

    /// A few AdamW steps of a model large enough that its products split between threads: every
    /// parameter's bits are the same at each SIMD level and with one thread or all.
    @Test func sameBitsEverywhere() throws {
        let v = Variant(name: "", kvHeads: 2, layers: 2, rank: 64, pattern: .none, sharing: .none)
        let c = try Self.config(v, d: 128, vocab: 50)
        let B = 2, T = 64
        func run() -> [UInt32] {
            let model = TrainingModel<Float>(config: c, weights: DecoderWeights(config: c, seed: 2), maxSeq: T, kvLatentRank: v.rank)
            let acts = TrainActivations<Float>(config: c, batch: B, seq: T, kvLatentRank: v.rank)
            let opt = Optimizer(settings: OptimizerSettings(), parameterCount: model.layout.count)
            for step in 0..<3 {
                let inputs = (0..<(B * T)).map { Int32(($0 * 7 + step) % c.vocab) }
                let targets = (0..<(B * T)).map { Int32(($0 * 11 + 3 * step) % c.vocab) }
                let loss = model.forward(inputs: inputs, targets: targets, acts)
                model.gradients.zero()
                model.backward(inputs: inputs, targets: targets, acts, scoredTokens: loss.scoredTokens)
                opt.step(parameters: model.parameters, gradients: model.gradients, layout: model.layout, lr: 1e-2)
            }
            return model.parameters.array.map(\.bitPattern)
        }
        defer { attn_simd_use(attn_simd_best()) }
        var results: [[UInt32]] = []
        for level in [attn_simd_portable, attn_simd_avx2] {
            attn_simd_use(level)
            for single in [true, false] { results.append(Parallel.$singleThreaded.withValue(single) { run() }) }
        }
        #expect(results.allSatisfy { $0 == results[0] })
    }

    /// The latent is R elements per token on each producer and nothing on a consumer; the factors are
    /// counted in the parameter, gradient and optimizer bytes.
    @Test func memoryCountsLatent() throws {
        let v = Self.variants[1], c = try Self.config(v)
        let acts = TrainActivations<Float>(config: c, batch: 2, seq: 5, kvLatentRank: 5)
        #expect(acts.memory.perLayerLatentBytes == [10 * 5 * 4, 0, 10 * 5 * 4, 0])
        let plain = TrainActivations<Float>(config: c, batch: 2, seq: 5)
        #expect(plain.memory.perLayerLatentBytes == [0, 0, 0, 0])
        #expect(acts.memory.perLayerKVBytes[0] == plain.memory.perLayerKVBytes[0] + 10 * 5 * 4)
        let model = TrainingModel<Float>(config: c, weights: DecoderWeights(config: c, seed: 1), maxSeq: 5, kvLatentRank: 5)
        let trainer = Trainer(model: model, optimizer: Optimizer(settings: OptimizerSettings(), parameterCount: model.layout.count),
                              batch: 2, seq: 5, totalSteps: 1)
        #expect(trainer.memory.parameterBytes == model.layout.count * 4 && trainer.memory.optimizerBytes == 2 * model.layout.count * 4)
        #expect(trainer.memory.activations.perLayerLatentBytes == [200, 0, 200, 0])
    }

    /// A trained latent model's checkpoint: W_K, W_V are the products W_kb·W_a, W_vb·W_a, the rank is
    /// read back, and a decoder with a latent cache of that rank gives the plain decoder's perplexity.
    @Test func checkpointRunsWithLatentCache() throws {
        let R = 12
        let v = Variant(name: "", kvHeads: 4, layers: 3, rank: R, pattern: .cla(2), sharing: .none)
        let tokenizer = TrainingTokenizer.bytes
        let c = try Self.config(v, d: 32, vocab: tokenizer.vocabSize)
        let B = 2, T = 16
        let model = TrainingModel<Float>(config: c, weights: DecoderWeights(config: c, seed: 4), maxSeq: T, kvLatentRank: R)
        let acts = TrainActivations<Float>(config: c, batch: B, seq: T, kvLatentRank: R)
        let opt = Optimizer(settings: OptimizerSettings(), parameterCount: model.layout.count)
        let text = Array("the cat sat on the mat and the dog sat on the log".utf8).map(Int32.init)
        for step in 0..<5 {
            let inputs = (0..<(B * T)).map { text[($0 + step) % text.count] }
            let targets = (0..<(B * T)).map { text[($0 + step + 1) % text.count] }
            let loss = model.forward(inputs: inputs, targets: targets, acts)
            model.gradients.zero()
            model.backward(inputs: inputs, targets: targets, acts, scoredTokens: loss.scoredTokens)
            opt.step(parameters: model.parameters, gradients: model.gradients, layout: model.layout, lr: 1e-2)
        }

        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("attnlab-latent-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("run.gguf").path
        try Checkpoint.write(path: path, config: c, weights: model.weights, tokenizer: tokenizer.tokenizer, contextTokens: T,
                             tensorType: .f32, name: "latent", kvLatentRank: R)
        let saved = try PretrainedModel(file: try GGUFFile(path: path), name: "run")
        #expect(saved.kvLatentRank == R && saved.config == c)

        // The written W_K of layer 0 against W_kb·W_a summed in float64.
        let f = try #require(model.layout.attention[0].latent)
        let wk = saved.weights.attention[0].wk!.floats, E = c.attention.kvElements, d = c.dModel
        var err = 0.0, size = 0.0
        for i in 0..<E {
            for j in 0..<d {
                var s = 0.0
                for r in 0..<R { s += Double(model.parameters[f.wkb][i * R + r]) * Double(model.parameters[f.wa][r * d + j]) }
                err = max(err, abs(Double(wk[i * d + j]) - s))
                size = max(size, abs(s))
            }
        }
        #expect(err <= 1e-6 * size)
        #expect(try PretrainedModel(file: try GGUFFile(path: dir.appendingPathComponent("run.gguf").path), name: "run").notes
            .contains { $0.key == Checkpoint.kvLatentRankKey })

        // Perplexity of the text, plain cache against a latent cache of rank R.
        let latent = try LatentBasis(config: saved.config, weights: saved.weights).truncated(rank: R)
        func nll(_ technique: KVTechnique) -> Double {
            let decoder = Decoder(config: saved.config, weights: saved.weights, capacityTokens: text.count, technique: technique)
            var sum = 0.0
            for t in 0..<(text.count - 1) {
                let logits = decoder.step(token: Int(text[t])).logits.map(Double.init)
                let m = logits.max()!
                let z = logits.reduce(0) { $0 + DetMath.exp($1 - m) }
                sum -= logits[Int(text[t + 1])] - m - DetMath.log(z)
            }
            return sum / Double(text.count - 1)
        }
        let plain = DetMath.exp(nll(KVTechnique())), cached = DetMath.exp(nll(try KVTechnique(storage: .latent(rank: R), latent: latent)))
        #expect(abs(cached - plain) <= 1e-4 * plain, "perplexity \(cached) with the latent cache, \(plain) without")
    }
}
