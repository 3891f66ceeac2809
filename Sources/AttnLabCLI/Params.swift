import ArgumentParser
import AttnEngine
import AttnExperiments
import AttnTrace

extension AttnLab {
    struct Params: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Exact parameter counts, part by part, for decoders and BERT/ALBERT encoders.",
            discussion: """
                Decoders: CLA consumer layers have no W_K, W_V; shared weights (--share-weights) count once.
                Encoders (--encoder or a bert/albert preset): ALBERT's factorized embedding (--embedding E)
                and cross-layer sharing (--weight-sharing all|attention|ffn).

                Examples:
                  attnlab params --preset llama-2-7b
                  attnlab params --preset albert-base --weight-sharing none
                  attnlab params --encoder --layers 12 --d-model 768 --embedding 128 --vocab 30000 --share-weights
                """
        )

        @OptionGroup var model: ModelOptions

        @Flag(help: "Count a BERT-style encoder instead of a decoder.")
        var encoder = false

        @Option(parsing: .unconditional, help: "Encoder embedding size E (ALBERT factorization); default = d-model.")
        var embedding: Int?

        @Flag(help: "Print JSON.")
        var json = false

        var experiment: ParamsExperiment {
            var e = ParamsExperiment()
            (e.model, e.encoder, e.embedding) = (model.spec, encoder, embedding)
            return e
        }

        func run() throws {
            let r = try experiment.run()
            if json { return say(r.json.serialized()) }
            let (title, count) = (r.title, r.count)
            say("Parameters — \(title)")
            let rows = count.parts.map { [$0.name, Format.grouped($0.params), Format.percent(Double($0.params) / Double(count.total), 1)] }
                + [["total", Format.grouped(count.total), "≈ \(Format.fixed(Double(count.total) / 1e6, 1))M"]]
            print(Format.table(["part", "parameters", "share"], rows, rightAligned: [1, 2]), terminator: "")
        }
    }
}
