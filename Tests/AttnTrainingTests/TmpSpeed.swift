import AttnEngine
import Testing
import AttnTraining
import Foundation

struct Src: BatchSource {
    let vocab: Int
    func trainBatch(step: Int, batch: Int, seq: Int) -> (inputs: [Int32], targets: [Int32]) {
        var rng = SplitMix64(seed: UInt64(step))
        let x = (0..<(batch*seq+1)).map { _ in Int32(rng.next() % UInt64(vocab)) }
        return (Array(x[0..<(batch*seq)]), Array(x[1...]))
    }
    func validationBatches(batch: Int, seq: Int) -> [(inputs: [Int32], targets: [Int32])] { [trainBatch(step: 999, batch: batch, seq: seq)] }
}
@Suite struct TmpSpeed {
    @Test func speed() throws {
        let c = try DecoderConfig(layers: 6, dModel: 128, attention: AttentionLayout(qHeads: 4, kvHeads: 4, headDim: 32), ffn: 352, vocab: 1024)
        let m = TrainingModel<Float>(config: c, weights: DecoderWeights(config: c, seed: 1), maxSeq: 128)
        let t = Trainer(model: m, optimizer: Optimizer(settings: OptimizerSettings(), parameterCount: m.layout.count), batch: 16, seq: 128, totalSteps: 10)
        let s = Src(vocab: 1024)
        _ = t.step(s)
        let start = Date()
        for _ in 0..<3 { _ = t.step(s) }
        let dt = Date().timeIntervalSince(start) / 3
        print("STEP", dt, "tok/s", Double(16*128)/dt, "params", m.layout.count)
    }
}
