import AttnEngine
import AttnFigures
import AttnModels
import AttnTrace
import AttnTraining
import Foundation

/// What a run learns: next-token prediction on a corpus, or the synthetic recall task.
public enum TrainTask: String, CaseIterable, Sendable {
    case text
    /// Multi-query associative recall (Arora et al. 2023), over the 256 byte tokens.
    case mqar
}

/// Trains a decoder — any shape, K/V map and weight sharing the engine runs — with the hand-written
/// backward pass (`attnlab train`), and measures it on held-out data.
///
/// With `checkpoint` set, the run keeps three files there: the model as a GGUF checkpoint (`run.gguf`,
/// readable by every `--model` command), the optimizer state beside it (`run.optimizer.gguf`, for
/// `resume`) and the log (`run.log.jsonl`: step, loss, lr, grad norm and tokens, then each
/// validation). All three are the same bytes on every run of the same flags; wall-clock numbers
/// (tokens per second) are kept out of them and only printed.
public struct TrainExperiment: Experiment {
    public var model = ModelSpec()
    public var task: TrainTask = .text
    /// `python-docs` or a path to a UTF-8 text file.
    public var corpus = "python-docs"
    /// `bytes` or `bpe:N`; nil: the checkpoint's (with `from`), else `bpe:1024`.
    public var tokenizer: String?
    public var dataDir: String?
    /// Key → value pairs per recall sequence.
    public var mqarPairs = 8
    public var steps = 200
    public var batch = 16
    public var seq = 128
    public var seed: UInt64 = 1
    public var optimizer = OptimizerSettings()
    /// Validation tokens per evaluation.
    public var evalTokens = 16_384
    /// Where the checkpoint goes (nil: nowhere).
    public var checkpoint: String?
    public var checkpointType: CheckpointType = .f32
    /// A checkpoint to start from instead of random weights.
    public var from: String?
    /// Surgery on `from` first: `mqa`, `gqa:G`, `cla:S`, a K/V pattern, or `X+Y` (GQA paper uptraining).
    public var retrofit: String?
    /// Continue the run whose files are at `checkpoint`.
    public var resume = false
    /// R: train each producer's K and V through an R-element latent (MLA-style), the whole per-token
    /// cache of the trained model; nil: ordinary W_K, W_V.
    public var kvLatentRank: Int?

    /// Evaluations per run (evenly spaced, plus one before the first step).
    public static let evaluations = 10
    /// The recall task's vocabulary: the byte tokens, so a recall checkpoint carries a real tokenizer.
    public static let recallVocab = 256

    public init() {}

    public init(_ r: inout FlagReader) throws(ConfigError) {
        model = try ModelSpec(&r)
        task = try r.choice(.task) ?? task
        corpus = try r.string(.corpus) ?? corpus
        tokenizer = try r.string(.tokenizer)
        dataDir = try r.string(.dataDir)
        mqarPairs = try r.int(.mqarPairs) ?? mqarPairs
        steps = try r.int(.steps) ?? steps
        batch = try r.int(.batch) ?? batch
        seq = try r.int(.seq) ?? seq
        seed = try r.uint64(.seed) ?? seed
        optimizer.kind = try r.choice(.optimizer) ?? optimizer.kind
        if optimizer.kind == .sgd { optimizer.weightDecay = 0 }
        optimizer.lr = try r.double(.lr) ?? optimizer.lr
        optimizer.schedule = try r.choice(.schedule) ?? optimizer.schedule
        optimizer.warmupSteps = try r.int(.warmup) ?? optimizer.warmupSteps
        optimizer.weightDecay = try r.double(.weightDecay) ?? optimizer.weightDecay
        if let clip = try r.double(.clip) { optimizer.clipNorm = clip > 0 ? clip : nil }
        evalTokens = try r.int(.evalTokens) ?? evalTokens
        checkpoint = try r.string(.output)
        checkpointType = try r.choice(.checkpointType) ?? checkpointType
        from = try r.string(.from)
        retrofit = try r.string(.retrofit)
        resume = try r.flag(.resume)
        kvLatentRank = try r.int(.kvLatentRank)
    }

    public func validate() throws {
        try checkFlags()
        if from == nil {
            let c = try config(vocab: task == .mqar ? Self.recallVocab : model.vocab ?? 1024)
            if let kvLatentRank { try LatentKV.validate(rank: kvLatentRank, config: c) }
        }
    }

    /// The checks that need no data and no model.
    func checkFlags() throws(ConfigError) {
        guard steps >= 0 && steps <= 10_000_000 else { throw ConfigError(.steps, "must be in 0...10,000,000, got \(steps)") }
        guard batch >= 1 && batch <= 4096 else { throw ConfigError(.batch, "must be in 1...4,096, got \(batch)") }
        guard seq >= 2 && seq <= Limits.maxTokens else { throw ConfigError(.seq, "must be in 2...\(Limits.maxTokens), got \(seq)") }
        guard optimizer.lr > 0 && optimizer.lr.isFinite else { throw ConfigError(.lr, "must be a positive number, got \(optimizer.lr)") }
        guard optimizer.weightDecay >= 0 && optimizer.weightDecay.isFinite else { throw ConfigError(.weightDecay, "must be 0 or positive, got \(optimizer.weightDecay)") }
        guard optimizer.warmupSteps >= 0 else { throw ConfigError(.warmup, "must be 0 or more steps, got \(optimizer.warmupSteps)") }
        guard evalTokens >= seq else { throw ConfigError(.evalTokens, "must be at least one sequence (\(seq) tokens), got \(evalTokens)") }
        guard model.pretrained == nil else { throw ConfigError(.model, "train starts from random weights or from a checkpoint: give it as --from") }
        if retrofit != nil && from == nil { throw ConfigError(.retrofit, "retrofits a checkpoint: give --from CKPT.gguf") }
        if resume && checkpoint == nil { throw ConfigError(.resume, "continues the run saved at -o: give -o CKPT.gguf") }
        if resume && from != nil { throw ConfigError(.fields([.resume, .from]), "give one: --resume continues a run, --from starts a new one from a checkpoint") }
        if kvLatentRank != nil && from != nil {
            throw ConfigError(.fields([.kvLatentRank, .from]), "cannot be combined: a latent model's factors start from random weights (--from's W_K, W_V would be dropped); train it from scratch")
        }
        if task == .mqar && tokenizer != nil { throw ConfigError(.tokenizer, "the recall task uses the 256 byte tokens; leave --tokenizer out") }
        if let checkpoint {
            guard checkpoint.hasSuffix(".gguf") else { throw ConfigError(.output, "'\(checkpoint)' must end in .gguf (the checkpoint's log and optimizer state go beside it)") }
            do { try AtomicFile.checkWritable(checkpoint) } catch { throw ConfigError(.output, error.reason) }
        }
    }

    /// The model the flags describe, with `vocab` tokens (the data's).
    func config(vocab: Int) throws(ConfigError) -> DecoderConfig {
        var spec = model
        if let given = spec.vocab, given != vocab {
            throw ConfigError(.vocab, "is \(given) but the \(task == .mqar ? "recall task" : "tokenizer") has \(vocab) tokens; leave --vocab out (it comes from --tokenizer)")
        }
        let shapeGiven = [spec.layers, spec.dModel, spec.qHeads, spec.kvHeads, spec.headDim, spec.ffn].contains { $0 != nil }
        if spec.preset == nil && !shapeGiven { spec.preset = "mini-mha" }
        spec.vocab = vocab
        return try spec.decoderConfig()
    }

    /// The tokenizer choice: the flag, else the one `from` was trained with, else BPE 1,024.
    func tokenizerChoice(fromFile: GGUFFile?) throws(ConfigError) -> TokenizerChoice {
        if let tokenizer { return try TokenizerChoice(parsing: tokenizer) }
        if let recorded = fromFile?.value(TrainKeys.tokenizer)?.string { return try TokenizerChoice(parsing: recorded) }
        return try TokenizerChoice(parsing: "bpe:1024")
    }

    /// The data, tokenized (or the task, built), for this run's batches.
    func data(fromFile: GGUFFile?) throws(ConfigError) -> TrainingData {
        switch task {
        case .mqar:
            return try TrainingData(.recall(try MQAR(vocabSize: Self.recallVocab, seq: seq, pairs: mqarPairs)), seed: seed,
                                    evalTokens: evalTokens, batch: batch, seq: seq)
        case .text:
            let choice = try CorpusChoice(parsing: corpus)
            let directory = CorpusStore.directory(dataDir)
            let text = try Corpus.load(choice, dataDirectory: directory)
            let tokens = try TokenizedCorpus.load(text, tokenizer: try tokenizerChoice(fromFile: fromFile), cacheDirectory: directory)
            return try TrainingData(.text(tokens), seed: seed, evalTokens: evalTokens, batch: batch, seq: seq)
        }
    }

    public func run() throws -> TrainOutput { try TrainRun(self).run() }

    /// The checkpoint's companion files.
    public var logPath: String? { checkpoint.map { String($0.dropLast(5)) + ".log.jsonl" } }
    public var optimizerPath: String? { checkpoint.map { String($0.dropLast(5)) + ".optimizer.gguf" } }
}

/// The `attnlab.train.*` metadata a checkpoint carries about its run.
enum TrainKeys {
    static let steps = "attnlab.train.steps", seed = "attnlab.train.seed", task = "attnlab.train.task"
    static let corpus = "attnlab.train.corpus", tokenizer = "attnlab.train.tokenizer", tokens = "attnlab.train.tokens"
    static let valLoss = "attnlab.train.val_loss", lr = "attnlab.train.lr", optimizer = "attnlab.train.optimizer"
    /// The training state's record of the run's flags: `attnlab.run.steps`, `attnlab.run.lr`, …
    static let run = "attnlab.run."
}

/// One run of a `TrainExperiment`: data, model, optimizer, the loop, checkpoints and the log.
struct TrainRun {
    let e: TrainExperiment

    init(_ experiment: TrainExperiment) { e = experiment }

    func run() throws -> TrainOutput {
        try e.checkFlags()
        let fromFile = try e.from.map { path throws(ConfigError) in
            guard FileManager.default.fileExists(atPath: path) else { throw ConfigError(.from, "no file \(path)") }
            return try GGUFFile(path: path)
        }
        // A resumed run's state: the tokenizer it recorded is the default, as with --from.
        let state = try resumeState()
        let data = try e.data(fromFile: fromFile ?? state?.file)
        let (config, weights, startStep, startLog) = try start(data: data, state: state)
        var log = startLog
        if let R = e.kvLatentRank { try LatentKV.validate(rank: R, config: config) }
        let model = TrainingModel<Float>(config: config, weights: weights, maxSeq: e.seq, kvLatentRank: e.kvLatentRank, seed: e.seed)
        let optimizer = Optimizer(settings: e.optimizer, parameterCount: model.layout.count)
        if let state { try restore(state, model: model, optimizer: optimizer) }
        let trainer = Trainer(model: model, optimizer: optimizer, batch: e.batch, seq: e.seq, totalSteps: e.steps)

        let evalSteps = Set((0...TrainExperiment.evaluations).map { $0 * e.steps / TrainExperiment.evaluations })
        let progress = ProgressLine("train: step", total: e.steps)
        defer { progress.clear() }
        let clock = ContinuousClock(), began = clock.now
        var lastEval = log.evaluations.last?.evaluation
        if startStep == 0 && evalSteps.contains(0) {
            let v = trainer.evaluate(data)
            log.record(step: 0, tokens: 0, v)
            lastEval = v
        }
        for _ in startStep..<e.steps {
            let s = trainer.step(data)
            // Checked before anything is saved: a diverged step never overwrites the last good checkpoint.
            guard s.loss.isFinite && s.gradNorm.isFinite else {
                throw ConfigError(.lr, "the \(s.loss.isFinite ? "gradient" : "loss") became \(s.loss.isFinite ? s.gradNorm : s.loss) at step \(s.step) (the run diverged); try a lower learning rate than \(e.optimizer.lr)")
            }
            log.steps.append(s)
            if evalSteps.contains(s.step) {
                let v = trainer.evaluate(data)
                log.record(step: s.step, tokens: s.tokens, v)
                lastEval = v
            }
            if Self.checkpointSteps(e.steps).contains(s.step) { try save(trainer, data: data, log: log, valLoss: lastEval?.loss) }
            let seconds = (clock.now - began).seconds
            let rate = Double((s.step - startStep) * e.batch * e.seq) / max(seconds, 1e-9)
            progress.update(s.step, detail: "loss \(Format.fixed(s.loss, 3)) · \(Format.grouped(Int(rate))) tokens/s · ETA \(TrainOutput.spelled(Double(e.steps - s.step) * Double(e.batch * e.seq) / max(rate, 1e-9)))")
        }
        if e.steps == 0 || startStep == e.steps { try save(trainer, data: data, log: log, valLoss: lastEval?.loss) }
        let seconds = (clock.now - began).seconds
        let trained = (e.steps - startStep) * e.batch * e.seq
        let unigram: UnigramEntropy? = if case .text(let corpus) = data.kind { corpus.unigramEntropy } else { nil }
        return TrainOutput(experiment: e, config: config, parameters: model.layout.count, memory: trainer.memory, log: log,
                           validation: lastEval ?? trainer.evaluate(data), unigram: unigram,
                           tokensPerSecond: trained > 0 ? Double(trained) / max(seconds, 1e-9) : 0, seconds: seconds)
    }

    /// Checkpoints per run: a run keeps its latest of these.
    static let checkpoints = 10

    static func checkpointSteps(_ steps: Int) -> Set<Int> {
        Set((1...checkpoints).map { $0 * steps / checkpoints }).subtracting([0])
    }

    /// The corpus by name, or a file by its name and contents: never a path, so the same run from
    /// another folder writes the same bytes.
    static func corpusRecord(_ data: TrainingData, _ e: TrainExperiment) -> String {
        guard case .text(let c) = data.kind else { return "mqar" }
        guard case .file = try? CorpusChoice(parsing: e.corpus) else { return e.corpus }
        return "\(e.corpus.split(separator: "/").last.map(String.init) ?? e.corpus) (SHA-256 \(c.checksum))"
    }

    /// What a run records to be resumed: the flags that change its arithmetic, in order. A resume with
    /// any of them different would not continue the same run — except `--steps` under a constant
    /// rate, which extends a run (the schedule does not depend on the total).
    func signature(_ data: TrainingData) -> [(flag: Field, value: String)] {
        let o = e.optimizer
        return [(.task, e.task.rawValue), (.corpus, Self.corpusRecord(data, e)), (.tokenizer, data.tokenizer.choice.description),
                (.mqarPairs, String(e.mqarPairs)), (.steps, o.schedule == .constant ? "any" : String(e.steps)), (.batch, String(e.batch)), (.seq, String(e.seq)), (.seed, String(e.seed)),
                (.optimizer, o.kind.rawValue), (.lr, "\(o.lr)"), (.schedule, o.schedule.rawValue), (.warmup, String(o.warmupSteps)),
                (.weightDecay, "\(o.weightDecay)"), (.clip, o.clipNorm.map { "\($0)" } ?? "0"), (.evalTokens, String(e.evalTokens))]
    }

    /// The saved training state to resume from, nil for a fresh run (no --resume, or nothing saved yet).
    func resumeState() throws(ConfigError) -> (file: GGUFFile, steps: Int)? {
        guard e.resume, let path = e.optimizerPath, let checkpoint = e.checkpoint else { return nil }
        guard FileManager.default.fileExists(atPath: path) else {
            guard !FileManager.default.fileExists(atPath: checkpoint) else {
                throw ConfigError(.resume, "\(checkpoint) has no training state beside it (\(path)); start again without --resume")
            }
            return nil
        }
        let file = try GGUFFile(path: path)
        guard let done = file.value(TrainKeys.steps)?.int, done >= 0, done <= e.steps else {
            throw ConfigError(file: path, "records no step count at or below --steps \(e.steps); start again without --resume")
        }
        return (file, done)
    }

    /// The model and how far it got: fresh, from a checkpoint (with surgery), or resumed.
    func start(data: TrainingData, state: (file: GGUFFile, steps: Int)?) throws -> (DecoderConfig, DecoderWeights, Int, TrainLog) {
        if let state, let path = e.checkpoint {
            for (flag, value) in signature(data) {
                let recorded = state.file.value(TrainKeys.run + flag.flagName)?.string
                guard recorded == value else {
                    throw ConfigError(.fields([flag, .resume]), "the run saved at \(path) used \(recorded ?? "none"), not \(value); give the same flags to resume it")
                }
            }
            let saved = try ModelStore.load(path, directory: ".")
            let expected = try e.config(vocab: data.vocab)
            guard saved.config == expected else {
                throw ConfigError(.fields([.output, .resume]), "\(path) holds \(Self.describe(saved.config)); the flags ask for \(Self.describe(expected))")
            }
            guard saved.kvLatentRank == e.kvLatentRank else {
                throw ConfigError(.fields([.kvLatentRank, .resume]), "the run saved at \(path) has \(saved.kvLatentRank.map { "latent rank \($0)" } ?? "no latent"), not \(e.kvLatentRank.map { "rank \($0)" } ?? "none"); give the same --kv-latent-rank to resume it")
            }
            let log = try TrainLog.read(e.logPath!, upTo: state.steps)
            guard log.steps.last?.step ?? 0 == state.steps else {
                throw ConfigError(file: e.logPath!, "ends before step \(state.steps), the saved state's; start again without --resume")
            }
            return (saved.config, saved.weights, state.steps, log)
        }
        if let from = e.from {
            let saved = try ModelStore.load(from, directory: ".")
            guard saved.config.vocab == data.vocab, saved.tokenizer.tokens == data.tokenizer.tokens else {
                throw ConfigError(.fields([.from, .tokenizer]), "\(from) has a \(saved.config.vocab)-token vocabulary that is not --tokenizer \(data.tokenizer.choice)'s on this corpus; give the tokenizer it was trained with")
            }
            var target = saved.config
            if let spec = e.retrofit {
                do { target = try RetrofitExperiment.config(spec, base: saved.config) } catch {
                    throw ConfigError(.retrofit, error.reason)
                }
            }
            // Model flags next to --from must describe the model that comes out of it, not another.
            if e.model != ModelSpec() {
                let asked = try e.config(vocab: data.vocab)
                guard asked == target else {
                    throw ConfigError(.from, "\(from) gives a \(target.layoutName) model (\(target.layers) layers, d_model \(target.dModel)); the model flags ask for \(asked.layoutName) (\(asked.layers) layers, d_model \(asked.dModel)); leave them out or use --retrofit")
                }
            }
            return (target, target == saved.config ? saved.weights : Retrofit.weights(saved.weights, from: saved.config, to: target), 0, TrainLog())
        }
        let config = try e.config(vocab: data.vocab)
        return (config, DecoderWeights(config: config, seed: e.seed), 0, TrainLog())
    }

    /// Writes the log, the training state and the checkpoint, in that order, each whole or not at all.
    /// The state (every weight in Float32, AdamW's moments, the step and the run's flags) is what a
    /// resume reads: a run stopped between two writes resumes from the state, and the log is cut to
    /// its step. The checkpoint is the model for every `--model` command (F16 if asked: a resume
    /// still continues from the Float32 weights).
    func save(_ trainer: Trainer, data: TrainingData, log: TrainLog, valLoss: Double?) throws(ConfigError) {
        guard let path = e.checkpoint, let statePath = e.optimizerPath, let logPath = e.logPath else { return }
        let steps = trainer.optimizer.steps
        do { try AtomicFile.write(log.jsonl, to: logPath) } catch { throw ConfigError(file: logPath, error.reason) }
        var state = GGUFWriter()
        state.set(TrainKeys.steps, .u32(UInt32(steps)))
        for (flag, value) in signature(data) { state.set(TrainKeys.run + flag.flagName, .string(value)) }
        state.addTensor("parameters", trainer.model.parameters.array, as: .f32)
        if let m = trainer.optimizer.m, let v = trainer.optimizer.v {
            state.addTensor("optimizer.m", m.array, as: .f32)
            state.addTensor("optimizer.v", v.array, as: .f32)
        }
        do { try AtomicFile.write(state.data(), to: statePath) } catch { throw ConfigError(file: statePath, error.reason) }
        var extras: [(key: String, value: GGUFWriter.Value)] = [
            (TrainKeys.steps, .u32(UInt32(steps))), (TrainKeys.seed, .u64(e.seed)), (TrainKeys.task, .string(e.task.rawValue)),
            (TrainKeys.tokens, .u64(UInt64(steps * e.batch * e.seq))), (TrainKeys.optimizer, .string(e.optimizer.kind.rawValue)),
            (TrainKeys.lr, .f64(e.optimizer.lr)),
        ]
        if e.task == .text {
            extras += [(TrainKeys.corpus, .string(Self.corpusRecord(data, e))), (TrainKeys.tokenizer, .string(data.tokenizer.choice.description))]
        }
        if let valLoss { extras.append((TrainKeys.valLoss, .f64(valLoss))) }
        let m = trainer.model
        try Checkpoint.write(path: path, config: m.config, weights: m.weights, tokenizer: data.tokenizer.tokenizer,
                             contextTokens: e.seq, tensorType: e.checkpointType, name: "AttnLab \(m.config.layoutName)",
                             kvLatentRank: m.layout.kvLatentRank, extras: extras)
    }

    /// Puts the saved weights and moments back.
    func restore(_ state: (file: GGUFFile, steps: Int), model: TrainingModel<Float>, optimizer: Optimizer) throws(ConfigError) {
        let (file, path, count) = (state.file, e.optimizerPath!, model.layout.count)
        func tensor(_ name: String) throws(ConfigError) -> [Float] {
            guard let t = file.tensor(name), t.dims == [count] else {
                throw ConfigError(file: path, "tensor '\(name)' is missing or not \(count) values (the model's parameters); start again without --resume")
            }
            return file.floats(t)
        }
        model.parameters.base.update(from: try tensor("parameters"), count: count)
        let adam = optimizer.settings.kind == .adamw
        optimizer.restore(steps: state.steps, m: adam ? try tensor("optimizer.m") : nil, v: adam ? try tensor("optimizer.v") : nil)
    }

    /// "an H32-MQA-CLA2 model: 6 layers, d_model 128, FFN 352, vocabulary 1,024".
    static func describe(_ c: DecoderConfig) -> String {
        "a \(c.layoutName) model: \(c.layers) layers, d_model \(c.dModel), FFN \(c.ffn), vocabulary \(Format.grouped(c.vocab))"
    }
}

/// A run's log: every step, and the validations.
public struct TrainLog: Sendable {
    public var steps: [StepLog] = []
    public var evaluations: [(step: Int, tokens: Int, evaluation: Evaluation)] = []

    mutating func record(step: Int, tokens: Int, _ v: Evaluation) { evaluations.append((step, tokens, v)) }

    /// JSON Lines, in step order; a validation follows the step it was measured after.
    public var jsonl: String {
        var out = ""
        var next = 0
        func validation(_ k: Int) {
            let (step, tokens, v) = evaluations[k]
            out += JSON.object([("step", .int(step)), ("tokens", .int(tokens)), ("val_loss", .double(v.loss)),
                                ("val_ppl", .double(v.perplexity)), ("val_accuracy", .double(v.accuracy))]).serialized() + "\n"
        }
        while next < evaluations.count && evaluations[next].step == 0 { validation(next); next += 1 }
        for s in steps {
            out += JSON.object([("step", .int(s.step)), ("loss", .double(s.loss)), ("lr", .double(s.lr)),
                                ("grad_norm", .double(s.gradNorm)), ("tokens", .int(s.tokens))]).serialized() + "\n"
            while next < evaluations.count && evaluations[next].step == s.step { validation(next); next += 1 }
        }
        return out
    }

    /// The log of a run saved at step `step` (a resume starts from it).
    static func read(_ path: String, upTo step: Int) throws(ConfigError) -> TrainLog {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw ConfigError(file: path, "cannot read the run's log (it is written beside the checkpoint); start again without --resume")
        }
        var log = TrainLog()
        for line in text.split(separator: "\n") {
            // The log's own flat records of numbers, read with Swift's exact `Double(_:)` (a JSON
            // library's parser may round the last bit, and the resumed log would then differ).
            var fields: [Substring: Double] = [:]
            for pair in line.dropFirst().dropLast().split(separator: ",") {
                let kv = pair.split(separator: ":", maxSplits: 1)
                if kv.count == 2, let v = Double(kv[1]) { fields[kv[0].dropFirst().dropLast()] = v }
            }
            guard line.hasPrefix("{") && line.hasSuffix("}"), let s = fields["step"].flatMap({ Int(exactly: $0) }),
                  let tokens = fields["tokens"].flatMap({ Int(exactly: $0) }) else {
                throw ConfigError(file: path, "a line is not a log record: \(line.prefix(60))")
            }
            guard s <= step else { break }
            if let loss = fields["val_loss"] {
                log.record(step: s, tokens: tokens, Evaluation(loss: loss, accuracy: fields["val_accuracy"] ?? 0, scoredTokens: 0))
            } else if let loss = fields["loss"], let lr = fields["lr"], let norm = fields["grad_norm"] {
                log.steps.append(StepLog(step: s, loss: loss, lr: lr, gradNorm: norm, tokens: tokens))
            } else {
                throw ConfigError(file: path, "a line is not a log record: \(line.prefix(60))")
            }
        }
        return log
    }
}

/// A finished run: what it trained, how well, how fast, and the memory it took.
public struct TrainOutput: ExperimentOutput {
    public let experiment: TrainExperiment
    public let config: DecoderConfig
    public let parameters: Int
    public let memory: TrainingMemory
    public let log: TrainLog
    /// The last validation.
    public let validation: Evaluation
    /// The corpus's unigram entropy (text runs): a model below it has learned from context.
    public let unigram: UnigramEntropy?
    public let tokensPerSecond: Double
    public let seconds: Double

    /// The KV cache per token at inference, bf16 as the CLA paper counts it (R elements per producer
    /// layer for a latent model).
    public var kvBytesPerToken: Int {
        guard let R = experiment.kvLatentRank else { return KVBudget(layout: config.attention, kvMap: config.kvMap, dtype: .bf16).bytesPerToken }
        return config.kvMap.kvLayers * KVStorage.latent(rank: R).bytes(tokens: 1, layout: config.attention, dtype: .bf16)
    }

    /// The mean training loss over the last tenth of the steps (at least one).
    public var trainLoss: Double {
        let tail = log.steps.suffix(max(1, log.steps.count / 10))
        return tail.isEmpty ? validation.loss : tail.reduce(0) { $0 + $1.loss } / Double(tail.count)
    }

    public static let valueNames = ValueNames(
        numbers: ["train_loss", "val_loss", "val_ppl", "val_accuracy", "tokens", "params",
                  "kv_bytes_per_token", "kv_layers", "kv_heads", "steps", "unigram_entropy",
                  "memory.parameters", "memory.gradients", "memory.optimizer", "memory.activations", "memory.total",
                  "memory.activations_per_layer.#", "memory.kv_per_layer.#"],
        texts: ["layout", "task", "corpus"])

    public var json: JSON {
        let e = experiment, m = memory
        var fields: [(String, JSON)] = [
            ("layout", .string(config.layoutName)), ("task", .string(e.task.rawValue)), ("corpus", .string(e.task == .text ? e.corpus : "mqar")),
            ("steps", .int(e.steps)), ("tokens", .int(e.steps * e.batch * e.seq)),
            ("train_loss", .double(trainLoss)), ("val_loss", .double(validation.loss)), ("val_ppl", .double(validation.perplexity)),
            ("val_accuracy", .double(validation.accuracy)),
            ("params", .int(parameters)), ("kv_bytes_per_token", .int(kvBytesPerToken)),
            ("kv_layers", .int(config.kvMap.kvLayers)), ("kv_heads", .int(config.attention.kvHeads)),
        ]
        if let unigram { fields.append(("unigram_entropy", .double(unigram.natsPerToken))) }
        fields.append(("memory", .object([
            ("parameters", .int(m.parameterBytes)), ("gradients", .int(m.gradientBytes)), ("optimizer", .int(m.optimizerBytes)),
            ("activations", .int(m.activations.totalBytes)), ("total", .int(m.totalBytes)),
            ("activations_per_layer", .ints(m.activations.perLayerBytes)), ("kv_per_layer", .ints(m.activations.perLayerKVBytes)),
        ])))
        return .object(fields)
    }

    public var timing: [(String, JSON)] { [("tokens_per_second", .double(tokensPerSecond)), ("seconds", .double(seconds))] }

    /// The curve of this run.
    public var lossSeries: LossSeries {
        LossSeries(name: config.layoutName, train: log.steps.map { ($0.tokens, $0.loss) },
                   validation: log.evaluations.map { ($0.tokens, $0.evaluation.loss) })
    }

    /// "12.3 s", "4 min 10 s".
    static func spelled(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "—" }
        if seconds < 60 { return "\(Format.fixed(seconds, 1)) s" }
        let s = Int(seconds.rounded())
        return s < 3600 ? "\(s / 60) min \(s % 60) s" : "\(s / 3600) h \(s % 3600 / 60) min"
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}
