import ArgumentParser
import AttnEngine
import AttnExperiments
import AttnTrace

extension AttnLab {
    struct KV: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "kv",
            abstract: "Exact KV-cache size of a model: bytes per token, per sequence, per batch.",
            discussion: """
                kv_bytes_per_token = 2 (K and V) × kv_layers × kv_heads × head_dim × bytes_per_element
                kv_cache_bytes     = kv_bytes_per_token × context × batch
                kv_layers counts the layers that store K/V (ceil(L/S) with --cla S).

                Examples:
                  attnlab kv --preset llama-3-8b --context 8192
                  attnlab kv --preset llama-3-8b --cla 2 --context 131072 --json
                  attnlab kv --layers 20 --q-heads 16 --kv-heads 1 --head-dim 128 --cla 2
                """
        )

        @OptionGroup var model: ModelOptions

        @Option(help: "Element type of stored K/V: fp32, bf16, fp16, fp8, int8, int4.")
        var dtype: DType = .bf16

        @Option(parsing: .unconditional, help: "Context length in tokens.")
        var context = 4096

        @Option(parsing: .unconditional, help: "Sequences in the batch.")
        var batch = 1

        @Flag(help: "Print JSON.")
        var json = false

        var experiment: KVExperiment {
            var e = KVExperiment()
            (e.model, e.dtype, e.contextTokens, e.batch) = (model.spec, dtype, context, batch)
            return e
        }

        func run() throws {
            let r = try experiment.run()
            if json { return say(r.json.serialized()) }
            let (config, budget, cacheBytes, mhaCacheBytes, readPerStep) = (r.config, r.budget, r.cacheBytes, r.mhaCacheBytes, r.bytesReadPerStep)
            let a = config.attention
            let name = (model.pretrained ?? model.preset).map { "\($0.lowercased()) " } ?? ""
            say("KV cache — \(name)(\(a.name)\(config.kvMap.kvLayers < config.layers ? ", \(config.kvMap.kvLayers) of \(config.layers) layers store K/V" : "")): \(config.layers) layers, \(a.qHeads) query heads → \(Format.plural(a.kvHeads, "KV head")), head_dim \(a.headDim), \(dtype.rawValue)")
            let bytesPerElement = dtype.bits % 8 == 0 ? "\(dtype.bits / 8) B" : "\(dtype.bits) bits"
            let rows: [[String]] = [
                ["kv layers", "\(budget.kvLayers) of \(config.layers)", "layers that store K/V"],
                ["bytes per token", Format.grouped(budget.bytesPerToken) + " B",
                 "2 × \(Format.plural(budget.kvLayers, "layer")) × \(Format.plural(a.kvHeads, "head")) × \(a.headDim) × \(bytesPerElement)"],
                ["cache", Format.grouped(cacheBytes) + " B",
                 "\(Format.bytes(cacheBytes)) = \(Format.bytes(cacheBytes, units: .binary)) at \(Format.grouped(context)) tokens × batch \(batch)"],
                ["MHA, no sharing", Format.grouped(budget.mhaBytesPerToken) + " B/token",
                 "\(Format.bytes(mhaCacheBytes)) at this context: \(Format.fixed(Double(budget.mhaBytesPerToken) / Double(budget.bytesPerToken), 2))× larger"],
                ["reduction vs MHA", Format.percent(budget.reductionVsMHA), ""],
                ["read per decode step", Format.grouped(readPerStep) + " B",
                 "every layer reads its source's K and V for all \(Format.grouped(context)) tokens"],
            ]
            print(Format.table(["quantity", "value", "how"], rows, rightAligned: [1]), terminator: "")
        }
    }
}
