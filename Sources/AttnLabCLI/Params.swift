import ArgumentParser
import AttnEngine
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

        /// What `--json` prints (and what a lesson's `params` action gives).
        func result() throws -> JSON {
            let (title, count) = try resolve()
            return .object([("model", .string(title)), ("total_params", .int(count.total)),
                            ("breakdown", .object(count.parts.map { ($0.name, JSON.int($0.params)) }))])
        }

        func run() throws {
            if json {
                say(try result().serialized())
                return
            }
            let (title, count) = try resolve()
            say("Parameters — \(title)")
            let rows = count.parts.map { [$0.name, Format.grouped($0.params), Format.percent(Double($0.params) / Double(count.total), 1)] }
                + [["total", Format.grouped(count.total), "≈ \(Format.fixed(Double(count.total) / 1e6, 1))M"]]
            print(Format.table(["part", "parameters", "share"], rows, rightAligned: [1, 2]), terminator: "")
        }

        private func resolve() throws(ConfigError) -> (String, ParamCount) {
            let preset = try model.namedPreset()
            if encoder || preset?.encoder != nil {
                let b = preset?.encoder
                let hidden = model.dModel ?? b?.hidden ?? 768
                let config = try EncoderConfig(
                    layers: model.layers ?? b?.layers ?? 12, hidden: hidden,
                    embedding: embedding ?? (model.dModel == nil ? b?.embedding : nil) ?? hidden,
                    heads: model.qHeads ?? b?.heads, ffn: model.ffn ?? (model.dModel == nil ? b?.ffn : nil),
                    vocab: model.vocab ?? b?.vocab ?? 30522,
                    weightSharing: try model.sharing() ?? b?.weightSharing ?? .none)
                let title = (preset?.name ?? "encoder") + ": \(config.layers) layers, H \(config.hidden), E \(config.embedding), FFN \(config.ffn), vocab \(config.vocab), weight sharing \(config.weightSharing.rawValue)"
                return (title, config.paramCount)
            }
            guard embedding == nil else { throw ConfigError("--embedding", "applies to encoders; add --encoder") }
            let config = try model.decoderConfig()
            let a = config.attention
            let title = (model.pretrained ?? preset?.name ?? "decoder") + ": \(config.layers) layers, d_model \(config.dModel), \(a.qHeads) query / \(a.kvHeads) KV heads × \(a.headDim), FFN \(config.ffn), vocab \(config.vocab), W_K/W_V in \(config.kvMap.kvLayers) of \(config.layers) layers, weight sharing \(config.weightSharing.rawValue)"
            return (title, config.paramCount)
        }
    }
}
