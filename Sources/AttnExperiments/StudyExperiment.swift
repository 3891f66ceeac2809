import AttnEngine
import AttnFigures
import AttnTrace
import AttnTraining
import Foundation

/// A named design space trained here, several seeds each, at equal tokens (`attnlab study`).
public enum StudyName: String, CaseIterable, Sendable {
    /// The CLA paper's Table 1 in miniature: MHA, GQA, MQA at two head sizes, MQA-CLA2 at two head
    /// sizes, MQA-CLA3, and CLA2's KeepEnds / DenseFront / DenseBack, same width and depth.
    case claMini = "cla-mini"
    /// ALBERT's sharing: unshared, all shared, attention shared, FFN shared, at equal depth.
    case albertMini = "albert-mini"
    /// The GQA paper's uptraining: MHA trained, pooled to GQA / MQA or cut to CLA2, then 0, 5 % or 10 %
    /// more steps, against the same variant trained from scratch.
    case uptrainMini = "uptrain-mini"

    /// One trained variant: a study preset, and (cla-mini) the CLA paper's row it scales down.
    public struct Variant: Sendable, Hashable {
        public let preset: String
        public let paperRow: String?
    }

    public var variants: [Variant] {
        switch self {
        case .claMini:
            [("mini-mha", "H128-MHA"), ("mini-gqa2", "H128-GQA2"), ("mini-mqa", "H128-MQA"), ("mini-h16-mqa", "H64-MQA"),
             ("mini-mqa-cla2", "H128-MQA-CLA2"), ("mini-h64-mqa-cla2", "H256-MQA-CLA2"), ("mini-mqa-cla3", "H128-MQA-CLA3"),
             ("mini-mqa-cla2-keepends", "H128-MQA-CLA2-KeepEnds"), ("mini-mqa-cla2-densefront", "H128-MQA-CLA2-DenseFront"),
             ("mini-mqa-cla2-denseback", "H128-MQA-CLA2-DenseBack")].map { Variant(preset: $0.0, paperRow: $0.1) }
        case .albertMini:
            ["mini-mha", "mini-shared-all", "mini-shared-attention", "mini-shared-ffn"].map { Variant(preset: $0, paperRow: nil) }
        case .uptrainMini:
            ["mini-mha"].map { Variant(preset: $0, paperRow: nil) }
        }
    }

    /// uptrain-mini's conversions of the trained MHA model, and the same model trained from scratch
    /// (a preset, with CLA2 on top for the layer-sharing one: MHA-CLA2 keeps MHA's four K/V heads).
    public static let uptrainTargets: [(retrofit: String, preset: String, cla: Int?)] = [
        ("gqa:2", "mini-gqa2", nil), ("mqa", "mini-mqa", nil), ("cla:2", "mini-mha", 2),
    ]
    /// Extra steps after the surgery, as a fraction of the original run (the GQA paper's α = 0.05).
    public static let uptrainFractions = [0.0, 0.05, 0.1]
}

/// Trains every variant of a study with `seeds` seeds on the same tokens, and measures each on the
/// corpus's validation split and on the recall task.
public struct StudyExperiment: Experiment {
    public var name: StudyName = .claMini
    public var seeds = 2
    /// The corpus run of every variant (steps, batch, sequence, learning rate, data).
    public var text = TrainExperiment()
    /// The recall run of every variant.
    public var recall = TrainExperiment()

    /// Defaults sized so that cla-mini with 2 seeds takes well under 45 minutes on two cores.
    public init() {
        text.steps = 400
        text.optimizer.warmupSteps = 20
        text.evalTokens = 8192
        recall.task = .mqar
        recall.steps = 150
        recall.seq = 64
        recall.optimizer.warmupSteps = 15
        recall.evalTokens = 64 * 64
    }

    public init(_ r: inout FlagReader) throws(ConfigError) {
        self.init()
        name = try r.choice(.study) ?? name
        seeds = try r.int(.seeds) ?? seeds
        if let steps = try r.int(.steps) {
            guard steps >= 1 && steps <= 10_000_000 else { throw ConfigError(.steps, "must be in 1...10,000,000, got \(steps)") }
            // The recall runs keep their share of the corpus runs' steps.
            recall.steps = max(1, steps * recall.steps / text.steps)
            text.steps = steps
        }
        text.batch = try r.int(.batch) ?? text.batch
        text.seq = try r.int(.seq) ?? text.seq
        text.optimizer.lr = try r.double(.lr) ?? text.optimizer.lr
        text.corpus = try r.string(.corpus) ?? text.corpus
        text.tokenizer = try r.string(.tokenizer)
        text.dataDir = try r.string(.dataDir)
        if let tokens = try r.int(.evalTokens) {
            text.evalTokens = tokens
            // Fewer validation tokens asked for: the recall runs measure no more than that either.
            recall.evalTokens = max(recall.seq, min(recall.evalTokens, tokens))
        }
        recall.batch = text.batch
        recall.optimizer.lr = text.optimizer.lr
    }

    public func validate() throws {
        guard seeds >= 1 && seeds <= 16 else { throw ConfigError(.seeds, "must be in 1...16, got \(seeds)") }
        try text.checkFlags()
        try recall.checkFlags()
    }

    /// One training of the study, with the table row it counts toward.
    struct Cell {
        let row: String
        let paperRow: String?
        let text: TrainExperiment
        let recall: TrainExperiment?
    }

    /// The runs of one seed, in the order they must run (uptraining reads the MHA run's checkpoint,
    /// kept in `scratch`).
    func cells(seed: Int, scratch: String) throws(ConfigError) -> [Cell] {
        func both(_ preset: String) -> (TrainExperiment, TrainExperiment) {
            var t = text, m = recall
            (t.model.preset, t.seed, m.model.preset, m.seed) = (preset, UInt64(seed), preset, UInt64(seed))
            return (t, m)
        }
        guard name == .uptrainMini else {
            return try name.variants.map { v throws(ConfigError) in
                let (t, m) = both(v.preset)
                // The preset's label: layout names cannot tell KeepEnds from DenseFront (both KV4of6).
                let label = try t.model.namedPreset()?.label
                return Cell(row: label ?? v.preset, paperRow: v.paperRow, text: t, recall: m)
            }
        }
        var mha = both("mini-mha").0
        mha.checkpoint = scratch + "/mha-seed\(seed).gguf"
        var cells = [Cell(row: "MHA, trained", paperRow: nil, text: mha, recall: nil)]
        for target in StudyName.uptrainTargets {
            for fraction in StudyName.uptrainFractions {
                var u = text
                (u.from, u.retrofit, u.seed) = (mha.checkpoint, target.retrofit, UInt64(seed))
                u.steps = Int((Double(text.steps) * fraction).rounded())
                u.optimizer.warmupSteps = min(text.optimizer.warmupSteps, u.steps / 10)
                cells.append(Cell(row: "MHA → \(target.retrofit), +\(Int((fraction * 100).rounded())) % steps", paperRow: nil, text: u, recall: nil))
            }
            var scratch = both(target.preset).0
            scratch.model.cla = target.cla
            cells.append(Cell(row: "\(target.retrofit), from scratch", paperRow: nil, text: scratch, recall: nil))
        }
        return cells
    }

    public func run() throws -> StudyOutput {
        try validate()
        let scratch = try TemporaryFolder()
        var byRow: [(row: String, paperRow: String?, text: [TrainOutput], recall: [TrainOutput])] = []
        for seed in 1...seeds {
            for cell in try cells(seed: seed, scratch: scratch.path) {
                let t = try cell.text.run(), m = try cell.recall?.run()
                if let k = byRow.firstIndex(where: { $0.row == cell.row }) {
                    byRow[k].text.append(t)
                    if let m { byRow[k].recall.append(m) }
                } else {
                    byRow.append((cell.row, cell.paperRow, [t], m.map { [$0] } ?? []))
                }
            }
        }
        return StudyOutput(experiment: self, rows: byRow.map { StudyRow(name: $0.row, paperRow: $0.paperRow, text: $0.text, recall: $0.recall) })
    }
}

/// A folder of its own under the system's temporary folder, removed with everything in it when
/// the value goes away (uptraining's intermediate checkpoints).
final class TemporaryFolder {
    let path: String

    init() throws(ConfigError) {
        let template = FileManager.default.temporaryDirectory.path + "/attnlab-study-XXXXXX"
        var bytes = Array(template.utf8CString)
        guard let made = mkdtemp(&bytes) else { throw ConfigError(.system("the temporary folder"), "cannot create \(template): \(String(cString: strerror(errno)))") }
        path = String(cString: made)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// Mean and spread of one measurement over a study's seeds.
public struct SeedStatistic: Sendable, Equatable {
    public let values: [Double]
    public var mean: Double { values.reduce(0, +) / Double(values.count) }
    /// The sample standard deviation (n − 1), 0 for one seed.
    public var spread: Double {
        guard values.count > 1 else { return 0 }
        let m = mean
        return (values.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(values.count - 1)).squareRoot()
    }

    /// "3.412 ± 0.008".
    public func spelled(_ decimals: Int) -> String {
        values.count > 1 ? "\(Format.fixed(mean, decimals)) ± \(Format.fixed(spread, decimals))" : Format.fixed(mean, decimals)
    }
}

/// One row of a study's table: a variant's runs over the seeds.
public struct StudyRow {
    public let name: String
    /// The CLA paper's row this variant scales down, with its published perplexity.
    public let paperRow: String?
    public let text: [TrainOutput]
    public let recall: [TrainOutput]

    public var config: DecoderConfig { text[0].config }
    public var parameters: Int { text[0].parameters }
    public var kvBytesPerToken: Int { text[0].kvBytesPerToken }
    public var validationLoss: SeedStatistic { SeedStatistic(values: text.map(\.validation.loss)) }
    public var validationPerplexity: SeedStatistic { SeedStatistic(values: text.map(\.validation.perplexity)) }
    public var recallAccuracy: SeedStatistic? { recall.isEmpty ? nil : SeedStatistic(values: recall.map(\.validation.accuracy)) }
    public var tokensPerSecond: SeedStatistic { SeedStatistic(values: text.map(\.tokensPerSecond)) }
    public var paperPerplexity: Double? { paperRow.flatMap { Presets.named("cla1b-" + $0.lowercased())?.publishedValPerplexity } }
}

/// A finished study: its table, figures and report text, all from its own runs.
public struct StudyOutput: ExperimentOutput {
    public let experiment: StudyExperiment
    public let rows: [StudyRow]

    public static let valueNames = ValueNames(
        numbers: ["seeds", "steps", "tokens_per_run", "rows.#.params", "rows.#.kv_bytes_per_token", "rows.#.val_loss", "rows.#.val_loss_spread",
                  "rows.#.val_ppl", "rows.#.val_ppl_spread", "rows.#.mqar_accuracy", "rows.#.mqar_accuracy_spread",
                  "rows.#.paper_ppl", "rows.#.unigram_entropy"],
        texts: ["study", "corpus", "rows.#.name", "rows.#.paper_row"])

    public var json: JSON {
        let e = experiment
        return .object([
            ("study", .string(e.name.rawValue)), ("seeds", .int(e.seeds)), ("steps", .int(e.text.steps)),
            ("tokens_per_run", .int(e.text.steps * e.text.batch * e.text.seq)), ("corpus", .string(e.text.corpus)),
            ("rows", .array(rows.map { r in
                var f: [(String, JSON)] = [
                    ("name", .string(r.name)), ("params", .int(r.parameters)), ("kv_bytes_per_token", .int(r.kvBytesPerToken)),
                    ("val_loss", .double(r.validationLoss.mean)), ("val_loss_spread", .double(r.validationLoss.spread)),
                    ("val_ppl", .double(r.validationPerplexity.mean)), ("val_ppl_spread", .double(r.validationPerplexity.spread)),
                ]
                if let a = r.recallAccuracy { f += [("mqar_accuracy", .double(a.mean)), ("mqar_accuracy_spread", .double(a.spread))] }
                if let row = r.paperRow, let ppl = r.paperPerplexity { f += [("paper_row", .string(row)), ("paper_ppl", .double(ppl))] }
                if let u = r.text[0].unigram { f.append(("unigram_entropy", .double(u.natsPerToken))) }
                return .object(f)
            })),
        ])
    }

    public var timing: [(String, JSON)] { [("tokens_per_second", .array(rows.map { .double($0.tokensPerSecond.mean) }))] }

    /// The table as Markdown: one row per variant, mean ± sample standard deviation over the seeds;
    /// with `speed` a column of training tokens per second (wall clock: the terminal's table has it,
    /// the written report does not, so that it is the same bytes on every run).
    public func markdownTable(speed: Bool) -> String {
        let recall = rows.contains { $0.recallAccuracy != nil }, paper = rows.contains { $0.paperPerplexity != nil }
        var header = ["variant", "parameters", "KV bytes/token (bf16)", "validation loss", "validation perplexity"]
        if recall { header.append("MQAR accuracy") }
        if speed { header.append("tokens/s") }
        if paper { header.append("paper's row (1B, Table 1 ppl)") }
        var lines = ["| " + header.joined(separator: " | ") + " |", "|" + header.map { _ in "---" }.joined(separator: "|") + "|"]
        for r in rows {
            var cells = [r.name, Format.grouped(r.parameters), Format.grouped(r.kvBytesPerToken), r.validationLoss.spelled(3), r.validationPerplexity.spelled(2)]
            if recall { cells.append(r.recallAccuracy.map { "\(SeedStatistic(values: $0.values.map { $0 * 100 }).spelled(1)) %" } ?? "—") }
            if speed { cells.append(Format.grouped(Int(r.tokensPerSecond.mean.rounded()))) }
            if paper { cells.append(r.paperRow.map { "\($0) (\(r.paperPerplexity.map { Format.fixed($0, 2) } ?? "—"))" } ?? "—") }
            lines.append("| " + cells.joined(separator: " | ") + " |")
        }
        return lines.joined(separator: "\n")
    }

    /// KV bytes per token against validation perplexity, every point from this study's runs.
    public func tradeoffFigure(style: Style) throws -> Figure {
        let e = experiment.text
        return try Charts.tradeoff(
            rows.filter { $0.text[0].experiment.from == nil || $0.text[0].experiment.steps > 0 }.map {
                TradeoffPoint(name: $0.name, bytesPerToken: $0.kvBytesPerToken, perplexity: $0.validationPerplexity.mean, family: Charts.tradeoffFamily($0.config),
                              kind: SeriesKind($0.config.attention))
            },
            title: style.en("\(experiment.name.rawValue): cache size vs quality, trained here", ja: "\(experiment.name.rawValue):キャッシュサイズと品質(ここで学習)"),
            subtitle: style.en("d_model \(rows[0].config.dModel), \(rows[0].config.layers) layers, \(Format.grouped(e.steps * e.batch * e.seq)) tokens of \(e.corpus) per run; mean of \(Format.plural(experiment.seeds, "seed"))",
                               ja: "d_model \(rows[0].config.dModel)、\(rows[0].config.layers)層、1回あたり\(e.corpus)の\(Format.grouped(e.steps * e.batch * e.seq))トークン。シード\(experiment.seeds)個の平均"),
            yLabel: style.en("validation perplexity (lower is better)", ja: "検証パープレキシティ(低いほど良い)"),
            footnote: style.en("Every point trained and measured by attnlab study \(experiment.name.rawValue) (bytes/token at bf16). Compare Brandon et al. 2024, Table 1 (1B models, 30B tokens).",
                               ja: "どの点もattnlab study \(experiment.name.rawValue)で学習・測定(バイト/トークンはbf16)。Brandon et al. 2024の表1(1Bモデル、30Bトークン)と比べる。"),
            style: style)
    }

    /// Every run's loss curve (first seed), on one chart.
    public func lossFigure(style: Style) throws -> Figure {
        let unigram = rows.first?.text.first?.unigram
        return try Charts.lossCurve(rows.map { r in
            let s = r.text[0].lossSeries
            return LossSeries(name: r.name, train: s.train, validation: s.validation, kind: SeriesKind(r.config.attention))
        }, title: style.en("\(experiment.name.rawValue): loss while training", ja: "\(experiment.name.rawValue):学習中の損失"),
           subtitle: style.en("seed 1 of each variant, \(experiment.text.corpus)", ja: "各バリアントのシード1、\(experiment.text.corpus)"),
           reference: unigram.map { (style.en("unigram entropy", ja: "ユニグラムエントロピー"), $0.natsPerToken) },
           footnote: style.en("Training loss per step (mean over windows) and validation loss, from the runs of this study.",
                              ja: "ステップごとの学習損失(ウィンドウ平均)と検証損失。このスタディの実行から。"), style: style)
    }
}
