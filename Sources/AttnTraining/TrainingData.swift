import AttnEngine
import AttnModels

/// What a run trains on, ready to give batches: a tokenized corpus, or the recall task.
public struct TrainingData: BatchSource {
    public enum Kind: Sendable {
        /// Next-token prediction on a corpus: windows drawn at random from the training split,
        /// fixed windows of the validation split.
        case text(TokenizedCorpus)
        /// Multi-query associative recall: only the answers are scored.
        case recall(MQAR)
    }

    public let kind: Kind
    public let seed: UInt64
    /// Validation tokens per evaluation (text), or validation sequences × T (recall).
    public let evalTokens: Int
    /// Text: the training windows' sampler and the fixed validation batches, built for one batch shape.
    private let sampler: BatchSampler?
    private let validation: [Batch]

    /// Data for batches of `batch` × `seq`.
    /// - Throws: `ConfigError` when the corpus's splits are too short for one window or for
    ///   `evalTokens` (naming `--seq` or `--eval-tokens`), or the recall task was built for another length.
    public init(_ kind: Kind, seed: UInt64, evalTokens: Int, batch: Int, seq: Int) throws(ConfigError) {
        self.kind = kind
        self.seed = seed
        self.evalTokens = evalTokens
        switch kind {
        case .text(let corpus):
            sampler = try BatchSampler(tokens: corpus.train, batchSize: batch, seq: seq, seed: seed)
            validation = try BatchSampler.validationBatches(tokens: corpus.validation, evalTokens: evalTokens, batchSize: batch, seq: seq)
        case .recall(let task):
            guard task.seq == seq else { throw ConfigError(.seq, "the recall task was built for \(task.seq) tokens, not \(seq)") }
            sampler = nil
            let sequences = max(1, evalTokens / seq)
            validation = stride(from: 0, to: sequences, by: batch).map { first in
                task.batch(seed: seed, step: first / batch, batchSize: min(batch, sequences - first), split: .validation)
            }
        }
    }

    public var vocab: Int {
        switch kind {
        case .text(let corpus): corpus.tokenizer.vocabSize
        case .recall(let task): task.vocabSize
        }
    }

    /// The tokenizer a checkpoint of this run carries: the corpus's, or the bytes for the recall
    /// task (whose token ids are not text).
    public var tokenizer: TrainingTokenizer {
        switch kind {
        case .text(let corpus): corpus.tokenizer
        case .recall: .bytes
        }
    }

    public func trainBatch(step: Int, batch: Int, seq: Int) -> Batch {
        switch kind {
        case .text:
            precondition(sampler!.batchSize == batch && sampler!.seq == seq, "the data was built for another batch shape")
            return sampler!.batch(step: step)
        case .recall(let task):
            return task.batch(seed: seed, step: step, batchSize: batch)
        }
    }

    public func validationBatches(batch: Int, seq: Int) -> [Batch] { validation }
}
