import AttnEngine

/// Where a run's batches come from: text windows or the recall task, the same batch for the same
/// (seed, step) every time — so a resumed run continues exactly as an uninterrupted one.
public protocol BatchSource: Sendable {
    /// Token ids in 0..<vocab.
    var vocab: Int { get }
    /// Training batch `step`: [batch × seq] inputs and targets (−1: not scored), row-major.
    func trainBatch(step: Int, batch: Int, seq: Int) -> Batch
    /// The fixed validation batches (the last may hold fewer sequences).
    func validationBatches(batch: Int, seq: Int) -> [Batch]
}

/// One logged training step. Everything here is the same bits on every run of the same seed;
/// the wall-clock side (tokens per second) is kept apart in `StepTiming`.
public struct StepLog: Sendable, Equatable {
    public let step: Int
    /// Mean training loss of the step's batch, nats per scored token.
    public let loss: Double
    public let lr: Double
    /// Global gradient norm before clipping.
    public let gradNorm: Double
    /// Tokens trained on so far.
    public let tokens: Int

    public init(step: Int, loss: Double, lr: Double, gradNorm: Double, tokens: Int) {
        (self.step, self.loss, self.lr, self.gradNorm, self.tokens) = (step, loss, lr, gradNorm, tokens)
    }
}

/// What a validation pass measured.
public struct Evaluation: Sendable, Equatable {
    /// Mean loss over every scored validation token, nats.
    public let loss: Double
    public var perplexity: Double { DetMath.exp(loss) }
    /// Scored tokens whose most likely prediction was the target (the recall task's accuracy).
    public let accuracy: Double
    public let scoredTokens: Int

    public init(loss: Double, accuracy: Double, scoredTokens: Int) {
        (self.loss, self.accuracy, self.scoredTokens) = (loss, accuracy, scoredTokens)
    }
}

/// Runs the optimisation loop over a model: batch, forward, backward, clip, update.
public final class Trainer {
    public let model: TrainingModel<Float>
    public let optimizer: Optimizer
    public let batch: Int, seq: Int
    /// Steps of the whole run (the schedule's length), including steps done before a resume.
    public let totalSteps: Int
    let acts: TrainActivations<Float>

    public init(model: TrainingModel<Float>, optimizer: Optimizer, batch: Int, seq: Int, totalSteps: Int) {
        precondition(seq <= model.maxSeq)
        self.model = model
        self.optimizer = optimizer
        self.batch = batch
        self.seq = seq
        self.totalSteps = totalSteps
        acts = TrainActivations(config: model.config, batch: batch, seq: seq, kvLatentRank: model.layout.kvLatentRank)
    }

    /// Memory allocated for the run: parameters, gradients, optimizer state, activations.
    public var memory: TrainingMemory {
        TrainingMemory(parameterBytes: model.parameters.bytes, gradientBytes: model.gradients.bytes,
                       optimizerBytes: optimizer.stateBytes, activations: acts.memory)
    }

    /// Takes the next step (number `optimizer.steps`) on `data`.
    public func step(_ data: BatchSource) -> StepLog {
        let s = optimizer.steps
        let b = data.trainBatch(step: s, batch: batch, seq: seq)
        let (inputs, targets) = (b.inputs, b.targets)
        let loss = model.forward(inputs: inputs, targets: targets, acts)
        model.gradients.zero()
        model.backward(inputs: inputs, targets: targets, acts, scoredTokens: loss.scoredTokens)
        let lr = optimizer.settings.learningRate(step: s, totalSteps: totalSteps)
        let norm = optimizer.step(parameters: model.parameters, gradients: model.gradients, layout: model.layout, lr: lr)
        return StepLog(step: s + 1, loss: loss.loss, lr: lr, gradNorm: norm, tokens: (s + 1) * batch * seq)
    }

    /// Loss and accuracy over `data`'s validation batches.
    public func evaluate(_ data: BatchSource) -> Evaluation {
        var sum = 0.0, scored = 0, correct = 0
        let V = model.config.vocab
        for b in data.validationBatches(batch: batch, seq: seq) {
            // A short last batch runs with its own activations.
            let acts = b.batchSize == batch ? self.acts : TrainActivations(config: model.config, batch: b.batchSize, seq: seq, kvLatentRank: model.layout.kvLatentRank)
            let (inputs, targets) = (b.inputs, b.targets)
            let loss = model.forward(inputs: inputs, targets: targets, acts)
            sum += loss.loss * Double(loss.scoredTokens)
            scored += loss.scoredTokens
            let probs = acts.logits.base
            for r in 0..<inputs.count where targets[r] >= 0 {
                let row = probs + r * V
                var best = 0
                for i in 1..<V where row[i] > row[best] { best = i }
                if best == Int(targets[r]) { correct += 1 }
            }
        }
        return Evaluation(loss: scored > 0 ? sum / Double(scored) : 0, accuracy: scored > 0 ? Double(correct) / Double(scored) : 0,
                          scoredTokens: scored)
    }
}
