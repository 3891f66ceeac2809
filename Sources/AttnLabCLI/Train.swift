import ArgumentParser
import AttnEngine
import AttnExperiments
import AttnFigures
import AttnModels
import AttnRender
import AttnTrace
import AttnTraining
import Foundation

extension TrainTask: ExpressibleByArgument {}
extension OptimizerKind: ExpressibleByArgument {}
extension ScheduleKind: ExpressibleByArgument {}
extension CheckpointType: ExpressibleByArgument {}

/// What a run trains on and for how long, shared by `train` and `study`.
struct TrainDataFlags: ParsableArguments {
    @Option(help: "Training text: python-docs (fetched by `attnlab corpus fetch`) or a path to a UTF-8 text file.")
    var corpus = "python-docs"

    @Option(help: "bytes, or bpe:N — a byte-level BPE of N tokens that attnlab trains on the corpus. (default: bpe:1024, or the --from checkpoint's)")
    var tokenizer: String?

    @Option(name: .customLong("data-dir"), help: "Folder of corpora and token caches. (default: $ATTNLAB_DATA_DIR, else data)")
    var dataDir: String?

    @Option(parsing: .unconditional, help: "Training steps (batches).")
    var steps = 200

    @Option(parsing: .unconditional, help: "Sequences per batch.")
    var batch = 16

    @Option(parsing: .unconditional, help: "Tokens per sequence.")
    var seq = 128

    @Option(name: .customLong("eval-tokens"), parsing: .unconditional, help: "Validation tokens per evaluation (the same windows every time).")
    var evalTokens = 16_384
}

/// Every flag of a training run, shared by `train` and `draw loss-curve`.
struct TrainFlags: ParsableArguments {
    @OptionGroup var model: ModelOptions
    @Option(help: "text (next-token prediction on --corpus) or mqar (multi-query associative recall).")
    var task: TrainTask = .text
    @OptionGroup var data: TrainDataFlags
    @Option(name: .customLong("mqar-pairs"), parsing: .unconditional, help: "Key → value pairs per recall sequence.")
    var mqarPairs = 8
    @Option(parsing: .unconditional, help: "Seed of the weights and of the batches.")
    var seed: UInt64 = 1
    @Option(parsing: .unconditional, help: "Peak learning rate; a comma list trains once per rate and compares them.")
    var lr = "3e-3"
    @Option(help: "adamw or sgd.")
    var optimizer: OptimizerKind = .adamw
    @Option(help: "cosine (linear warmup, then cosine decay to 10%) or constant.")
    var schedule: ScheduleKind = .cosine
    @Option(parsing: .unconditional, help: "Warmup steps (cosine schedule).")
    var warmup = 0
    @Option(name: .customLong("weight-decay"), parsing: .unconditional, help: "Decoupled weight decay on projection matrices (not norms or embeddings). (default: 0.1, 0 with sgd)")
    var weightDecay: Double?
    @Option(parsing: .unconditional, help: "Clip the gradient to this global norm; 0 = never.")
    var clip = 1.0
    @Option(name: .customLong("checkpoint-type"), help: "Type of the checkpoint's matrices: f32 or f16.")
    var checkpointType: CheckpointType = .f32
    @Option(help: "Start from this checkpoint instead of random weights.")
    var from: String?
    @Option(help: "Surgery on --from before training: mqa, gqa:G, cla:S, a K/V pattern, or X+Y (the GQA paper's uptraining).")
    var retrofit: String?
    @Flag(help: "Continue the run saved at -o from its last checkpoint.")
    var resume = false
    @Option(name: .customLong("kv-latent-rank"), parsing: .unconditional,
            help: "Train K and V through one latent of R elements per token and layer (MLA-style); the checkpoint stores W_K, W_V as the products, and `ppl --kv-latent-rank R` runs it with an R-element cache.")
    var kvLatentRank: Int?

    func experiment(lr: Double) -> TrainExperiment {
        var e = TrainExperiment()
        (e.model, e.task, e.corpus, e.tokenizer, e.dataDir, e.mqarPairs) = (model.spec, task, data.corpus, data.tokenizer, data.dataDir, mqarPairs)
        (e.steps, e.batch, e.seq, e.seed, e.evalTokens) = (data.steps, data.batch, data.seq, seed, data.evalTokens)
        (e.optimizer.kind, e.optimizer.lr, e.optimizer.schedule, e.optimizer.warmupSteps) = (optimizer, lr, schedule, warmup)
        e.optimizer.weightDecay = weightDecay ?? (optimizer == .sgd ? 0 : e.optimizer.weightDecay)
        e.optimizer.clipNorm = clip > 0 ? clip : nil
        (e.checkpointType, e.from, e.retrofit, e.resume, e.kvLatentRank) = (checkpointType, from, retrofit, resume, kvLatentRank)
        return e
    }

}

extension AttnLab {
    struct Train: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Train a decoder here (hand-written backward pass, AdamW or SGD) and measure it on held-out text or the recall task.",
            discussion: """
                The model is any shape the engine runs: a study preset (mini-mha, mini-mqa-cla2, … see
                `attnlab presets`) or the shape flags, with --kv-heads, --cla, --kv-pattern, --weight-sharing.
                -o writes a GGUF checkpoint every tenth of the run (and its optimizer state and log beside it);
                every --model command reads it. --lr 1e-3,3e-3,1e-2 trains once per rate and compares them.

                Examples:
                  attnlab train --preset mini-mqa-cla2 --steps 600 -o output/cla2.gguf
                  attnlab train --preset mini-mqa --task mqar --seq 64 --steps 300
                  attnlab train --from output/mha.gguf --retrofit mqa --steps 30 -o output/mqa-uptrained.gguf
                """)

        @OptionGroup var train: TrainFlags
        @Option(name: .shortAndLong, help: "Checkpoint to write (.gguf); its log (.log.jsonl) and optimizer state (.optimizer.gguf) go beside it.")
        var output: String?
        @Option(help: "Also draw the loss curve to this file (.png, .svg or .pdf).")
        var plot: String?
        @Flag(help: "Print the result as JSON.")
        var json = false

        func run() throws {
            let rates = try train.lr.split(separator: ",").map { text throws(ConfigError) -> Double in
                guard let v = Double(text.trimmingCharacters(in: .whitespaces)) else { throw ConfigError(.lr, "'\(text)' is not a number") }
                return v
            }
            guard !rates.isEmpty else { throw ConfigError(.lr, "is empty") }
            if rates.count > 1, output != nil { throw ConfigError(.fields([.lr, .output]), "a sweep over several rates writes no checkpoint; leave -o out") }
            if let plot {
                guard [".png", ".svg", ".pdf"].contains(where: { plot.lowercased().hasSuffix($0) }) else {
                    throw ConfigError(.named("plot"), "'\(plot)' must end in .png, .svg or .pdf")
                }
                do { try AtomicFile.checkWritable(plot) } catch { throw ConfigError(.named("plot"), error.description) }
            }
            var outputs: [TrainOutput] = []
            for rate in rates {
                var e = train.experiment(lr: rate)
                e.checkpoint = output
                try e.validate()
                outputs.append(try e.run())
            }
            if let plot {
                let names = rates.count > 1 ? outputs.map { "lr \($0.experiment.optimizer.lr)" } : nil
                try Renderer.write(try LossCurveFigure.figure(outputs, names: names, style: Style()), to: plot, subject: .named("plot"))
            }
            if json { return say(rates.count == 1 ? outputs[0].jsonWithTiming.serialized() : JSON.array(outputs.map(\.jsonWithTiming)).serialized()) }
            say(rates.count == 1 ? TrainSummary.text(outputs[0], plot: plot) : TrainSummary.sweep(outputs))
        }
    }
}

/// What `train` prints.
enum TrainSummary {
    static func subtitle(_ o: TrainOutput) -> String {
        let e = o.experiment
        return "\(e.task == .text ? e.corpus : "MQAR, \(e.mqarPairs) pairs"), \(Format.grouped(e.steps)) steps × \(e.batch) × \(e.seq) tokens, \(e.optimizer.kind.rawValue) lr \(e.optimizer.lr), seed \(e.seed)"
    }

    static func text(_ o: TrainOutput, plot: String?) -> String {
        let e = o.experiment, c = o.config, a = c.attention, m = o.memory
        var out = "AttnLab train — \(c.layoutName): \(c.layers) layers, d_model \(c.dModel), \(a.qHeads) query heads → \(Format.plural(a.kvHeads, "KV head")), head_dim \(a.headDim), FFN \(c.ffn), vocab \(Format.grouped(c.vocab))\n"
        out += "kv map     \(c.kvMap.source.map(String.init).joined(separator: " ")) (\(c.kvMap.kvLayers) of \(c.layers) layers store K/V)\n"
        if c.weightSharing != .none { out += "sharing    \(c.weightSharing.rawValue) (ALBERT)\n" }
        if let R = e.kvLatentRank { out += "kv latent  \(R) elements per token and producer layer (K = W_kb·c, V = W_vb·c, c = W_a·h)\n" }
        out += "params     \(Format.grouped(o.parameters))\n"
        out += "data       \(subtitle(o))\n\n"
        out += "Training memory (allocated by this run, Float32):\n"
        let rows = (0..<c.layers).map { l in
            [String(l), c.kvMap.isProducer(l) ? "own" : "← layer \(c.kvMap.source[l])",
             Format.bytes(m.activations.perLayerBytes[l], units: .binary), Format.bytes(m.activations.perLayerKVBytes[l], units: .binary)]
        }
        out += Format.table(["layer", "K/V", "kept for backward", "of which K/V"], rows, rightAligned: [0, 2, 3])
        out += Format.table(["part", "bytes"], [
            ["parameters", Format.bytes(m.parameterBytes, units: .binary)], ["gradients", Format.bytes(m.gradientBytes, units: .binary)],
            ["optimizer state", Format.bytes(m.optimizerBytes, units: .binary)],
            ["activations (all layers, final norm, logits)", Format.bytes(m.activations.perLayerBytes.reduce(0, +) + m.activations.finalBytes, units: .binary)],
            ["backward scratch", Format.bytes(m.activations.backwardScratchBytes, units: .binary)], ["total", Format.bytes(m.totalBytes, units: .binary)],
        ], rightAligned: [1])
        out += "\n"
        out += "train loss \(Format.fixed(o.trainLoss, 4)) nats/token (mean of the last tenth of the steps)\n"
        out += "validation loss \(Format.fixed(o.validation.loss, 4)), perplexity \(Format.fixed(o.validation.perplexity, 2))"
        out += e.task == .mqar ? ", recall accuracy \(Format.fixed(o.validation.accuracy * 100, 1)) %\n" : "\n"
        if let u = o.unigram { out += "unigram    \(Format.fixed(u.natsPerToken, 4)) nats/token: the loss of a model that ignores context\n" }
        out += "speed      \(Format.grouped(Int(o.tokensPerSecond.rounded()))) tokens/s, \(Format.grouped(e.steps * e.batch * e.seq)) tokens in \(Format.fixed(o.seconds, 1)) s\n"
        if let path = e.checkpoint { out += "wrote      \(path), \(e.logPath!), \(e.optimizerPath!)\n" }
        if let plot { out += "plot       \(plot)\n" }
        return out
    }

    static func sweep(_ outputs: [TrainOutput]) -> String {
        var out = "AttnLab train — learning-rate sweep of \(outputs[0].config.layoutName), \(subtitle(outputs[0]).replacing(/, adamw lr [^,]*|, sgd lr [^,]*/, with: ""))\n"
        out += Format.table(["lr", "train loss", "validation loss", "validation perplexity"], outputs.map { o in
            ["\(o.experiment.optimizer.lr)", Format.fixed(o.trainLoss, 4), Format.fixed(o.validation.loss, 4), Format.fixed(o.validation.perplexity, 2)]
        }, rightAligned: [1, 2, 3])
        return out
    }
}
