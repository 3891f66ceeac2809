import AttnEngine
import AttnExperiments
import AttnTrace
import AttnTraining
import Foundation

/// `bench --train`: training steps per second of the study models and a wider one, beside the same
/// model and step in JAX on the CPU (bench/jax_train.py, two threads), alternating runs.
struct TrainBench {
    /// A model and batch shape to time.
    struct Case {
        let name: String
        let config: DecoderConfig
        let batch: Int, seq: Int
    }

    static func cases() throws -> [Case] {
        func preset(_ name: String) throws -> DecoderConfig {
            var spec = ModelSpec()
            spec.preset = name
            return try spec.decoderConfig()
        }
        let wide = try DecoderConfig(layers: 4, dModel: 512, attention: AttentionLayout(qHeads: 8, kvHeads: 8, headDim: 64),
                                     ffn: DecoderConfig.llamaFFN(dModel: 512), vocab: 1024)
        return [Case(name: "study H32-MHA", config: try preset("mini-mha"), batch: 16, seq: 128),
                Case(name: "study H32-MQA-CLA2", config: try preset("mini-mqa-cla2"), batch: 16, seq: 128),
                Case(name: "d_model 512, 4 layers", config: wide, batch: 8, seq: 256)]
    }

    /// Floating-point operations of one training step, counted as the peer counts them: three times
    /// the forward's 2 × multiply-adds (every matrix product, the LM head, and attention's two T × T
    /// products at full size).
    static func flops(_ c: Case) -> Double {
        let m = c.config, a = m.attention, rows = Double(c.batch * c.seq)
        var macs = rows * Double(m.vocab * m.dModel)
        for l in 0..<m.layers {
            let kv = m.kvMap.isProducer(l) ? 2 * a.kvElements * m.dModel : 0
            macs += rows * Double(2 * a.qElements * m.dModel + kv + 3 * m.ffn * m.dModel)
            macs += 2 * Double(c.batch * c.seq * c.seq * a.qHeads * a.headDim)
        }
        return 3 * 2 * macs
    }

    /// Random tokens, as the peer trains on: the step's arithmetic is what is timed.
    struct RandomTokens: BatchSource {
        let vocab: Int
        func trainBatch(step: Int, batch: Int, seq: Int) -> Batch {
            var rng = SplitMix64(seed: 1, stream: "bench batch \(step)")
            let tokens = (0...(batch * seq)).map { _ in Int32(rng.next() % UInt64(vocab)) }
            return Batch(batchSize: batch, seq: seq, inputs: Array(tokens.dropLast()), targets: Array(tokens.dropFirst()))
        }
        func validationBatches(batch: Int, seq: Int) -> [Batch] { [] }
    }

    /// Median seconds of `steps` AttnLab steps (after two untimed ones).
    static func attnlabStepSeconds(_ c: Case, trainer: Trainer, data: RandomTokens, steps: Int) -> [Double] {
        let clock = ContinuousClock()
        return (0..<steps).map { _ in
            let start = clock.now
            _ = trainer.step(data)
            return seconds(clock.now - start)
        }
    }

    static func peerInput(_ c: Case, steps: Int) -> String {
        let m = c.config, a = m.attention
        return JSON.object([
            ("d_model", .int(m.dModel)), ("layers", .int(m.layers)), ("q_heads", .int(a.qHeads)), ("kv_heads", .int(a.kvHeads)),
            ("head_dim", .int(a.headDim)), ("ffn", .int(m.ffn)), ("vocab", .int(m.vocab)), ("kv_source_map", .ints(m.kvMap.source)),
            ("weight_sharing", .string(m.weightSharing.rawValue)), ("tied_embeddings", .bool(m.tiedEmbeddings)),
            ("batch", .int(c.batch)), ("seq", .int(c.seq)), ("lr", .double(1e-3)), ("steps", .int(steps)), ("warmup", .int(2)), ("seed", .int(1)),
        ]).serialized()
    }
}
