import AttnEngine
import AttnExperiments
import AttnTrace
import Foundation

/// A study's report: its table, what the runs say about each claim of the papers, and its figures.
public enum StudyReport {
    /// A comparison of two rows: the change of validation perplexity from `base` to `variant`, and
    /// whether it stands out from the seeds' spread.
    struct Comparison {
        let claim: String
        let variant: String, base: String
        /// The sign the paper's claim predicts for perplexity(variant) − perplexity(base): +1 worse,
        /// −1 better, 0 "about the same".
        let expected: Int
    }

    static func comparisons(_ study: StudyName) -> [Comparison] {
        switch study {
        case .claMini:
            [Comparison(claim: "GQA keeps MHA's quality", variant: "H32-GQA2", base: "H32-MHA", expected: 0),
             Comparison(claim: "MQA-CLA2 halves MQA's cache at almost the same perplexity", variant: "H32-MQA-CLA2", base: "H32-MQA", expected: 0),
             Comparison(claim: "at MQA's cache, CLA2 with heads twice as wide beats MQA", variant: "H64-MQA-CLA2", base: "H32-MQA", expected: -1),
             Comparison(claim: "at equal cache, MQA-CLA2 beats MQA with heads half as wide", variant: "H32-MQA-CLA2", base: "H16-MQA", expected: -1),
             Comparison(claim: "CLA2 beats CLA3", variant: "H32-MQA-CLA3", base: "H32-MQA-CLA2", expected: 1),
             Comparison(claim: "KeepEnds is no better than plain CLA2 (the paper: 13.62 vs 13.60)", variant: "H32-MQA-CLA2-KeepEnds", base: "H32-MQA-CLA2", expected: 0),
             Comparison(claim: "DenseBack is the worst CLA2 layout", variant: "H32-MQA-CLA2-DenseBack", base: "H32-MQA-CLA2-DenseFront", expected: 1)]
        case .albertMini:
            [Comparison(claim: "sharing all weights costs quality (ALBERT: 1–2 points)", variant: "H32-MHA, all weights shared", base: "H32-MHA", expected: 1),
             Comparison(claim: "sharing the FFN costs more than sharing attention (ALBERT Table 4)", variant: "H32-MHA, FFN shared", base: "H32-MHA, attention shared", expected: 1)]
        case .uptrainMini:
            []
        }
    }

    /// One sentence per claim, from the runs: the difference, the noise, and the verdict.
    public static func findings(_ o: StudyOutput) -> [String] {
        var out: [String] = []
        // Guessing among the values (the upper half of the vocabulary) is right 1 time in V/2.
        let chance = 2 / Double(TrainExperiment.recallVocab)
        let recall = o.rows.compactMap(\.recallAccuracy?.mean)
        if !recall.isEmpty && recall.allSatisfy({ $0 < 3 * chance }) {
            out.append("No variant learned the recall task in \(Format.grouped(o.experiment.recall.steps)) steps: every MQAR accuracy is within 3× of chance (\(Format.fixed(chance * 100, 1)) %), so that column compares nothing yet. Recall is learned late and suddenly; `attnlab train --task mqar --steps 2000` trains longer.")
        }
        for c in comparisons(o.experiment.name) {
            guard let v = o.rows.first(where: { $0.name == c.variant }), let b = o.rows.first(where: { $0.name == c.base }) else { continue }
            let dv = v.validationPerplexity, db = b.validationPerplexity
            let delta = dv.mean - db.mean
            // Two standard errors of the difference of two means: below it the seeds cannot tell them apart.
            let noise = 2 * (dv.spread * dv.spread / Double(dv.values.count) + db.spread * db.spread / Double(db.values.count)).squareRoot()
            let seen = o.experiment.seeds < 2 ? 0 : abs(delta) <= noise ? 0 : delta > 0 ? 1 : -1
            let verdict: String
            switch (c.expected, seen) {
            case _ where o.experiment.seeds < 2: verdict = "one seed: no noise estimate, so no verdict"
            case (0, 0): verdict = "reproduced: the difference is within the seeds' noise"
            case (0, _): verdict = "not reproduced at this scale: \(seen > 0 ? "worse" : "better") by more than the noise"
            case (_, 0): verdict = "not distinguishable at this scale (within the noise)"
            case let (e, s) where e == s: verdict = "reproduced"
            default: verdict = "reversed at this scale"
            }
            let sign = delta >= 0 ? "+" : "−"
            out.append("\(c.claim): \(c.variant) \(Format.fixed(dv.mean, 2)) vs \(c.base) \(Format.fixed(db.mean, 2)) perplexity (\(sign)\(Format.fixed(abs(delta), 2)); noise ±\(Format.fixed(noise, 2))) — \(verdict).")
        }
        return out
    }

    public static func markdown(_ o: StudyOutput) -> String {
        let e = o.experiment, t = e.text
        var md = "# attnlab study \(e.name.rawValue)\n\n"
        md += "Every number below comes from runs of this study: \(Format.plural(e.seeds, "seed")) per variant, \(Format.grouped(t.steps)) steps × \(t.batch) × \(t.seq) = \(Format.grouped(t.steps * t.batch * t.seq)) tokens of \(t.corpus) per run, AdamW at peak lr \(t.optimizer.lr), cosine schedule. Validation perplexity is measured on the corpus's held-out documents; MQAR accuracy on the recall task (\(e.recall.mqarPairs) pairs in \(e.recall.seq) tokens) after \(Format.grouped(e.recall.steps)) steps. ± is the sample standard deviation over seeds.\n\n"
        md += o.markdownTable(speed: false) + "\n\n"
        let found = findings(o)
        if !found.isEmpty { md += "## What the runs say\n\n" + found.map { "- " + $0 }.joined(separator: "\n") + "\n\n" }
        md += "Scale: these models have ~\(Format.fixed(Double(o.rows[0].parameters) / 1e6, 1)) M parameters and see \(Format.grouped(t.steps * t.batch * t.seq)) tokens; the CLA paper's have 1 B and see 30 B. Differences of a few percent between variants are within what a change of seed moves, and the order of close variants can change with scale and tokens.\n\n"
        md += "![trade-off](tradeoff.png)\n\n"
        if o.experiment.name == .claMini { md += "The paper's Table 1, for comparison (1B models, perplexities as published):\n\n![paper](paper.png)\n\n" }
        md += "![loss](loss.png)\n"
        return md
    }

    public static func html(_ o: StudyOutput, svg: [String: String]) -> String {
        let md = markdown(o)
        var body = ""
        for block in md.split(separator: "\n\n", omittingEmptySubsequences: true).map(String.init) {
            if block.hasPrefix("# ") {
                body += "<h1>\(Markdown.inlineHTML(String(block.dropFirst(2))))</h1>\n"
            } else if block.hasPrefix("## ") {
                body += "<h2>\(Markdown.inlineHTML(String(block.dropFirst(3))))</h2>\n"
            } else if block.hasPrefix("|") {
                let rows = block.split(separator: "\n").map { $0.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) } }
                body += "<table>\n" + rows.enumerated().filter { $0.offset != 1 }.map { i, cells in
                    "<tr>" + cells.map { i == 0 ? "<th>\(Reports.escape($0))</th>" : "<td>\(Reports.escape($0))</td>" }.joined() + "</tr>"
                }.joined(separator: "\n") + "\n</table>\n"
            } else if block.hasPrefix("![") {
                for name in ["tradeoff", "paper", "loss"] where block.contains("(\(name).png)") {
                    if let text = svg[name] { body += "<figure>\(Reports.stripProlog(text))</figure>\n" }
                }
            } else {
                body += Markdown(block).html
            }
        }
        return """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <title>attnlab study \(o.experiment.name.rawValue)</title>
            <style>
            body { font-family: "DejaVu Sans", sans-serif; max-width: 64rem; margin: 2rem auto; padding: 0 1rem; color: #1f2328; line-height: 1.5; }
            table { border-collapse: collapse; margin: 1rem 0; font-size: .9rem; } td, th { border: 1px solid #d8dee4; padding: .25rem .5rem; font-variant-numeric: tabular-nums; }
            figure { margin: 1rem 0; } figure svg { width: 100%; height: auto; }
            </style>
            </head>
            <body>
            \(body)</body>
            </html>

            """
    }
}
