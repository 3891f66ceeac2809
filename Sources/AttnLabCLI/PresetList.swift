import ArgumentParser
import AttnEngine
import AttnTrace

extension AttnLab {
    struct PresetList: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "presets",
            abstract: "List the published model configurations --preset accepts."
        )

        @Flag(help: "Print JSON.")
        var json = false

        func run() {
            if json {
                let items: [JSON] = Presets.all.map { p in
                    var fields: [(String, JSON)] = [("name", .string(p.name))]
                    switch p.model {
                    case .decoder(let c):
                        let budget = KVBudget(layout: c.attention, kvMap: c.kvMap, dtype: .bf16)
                        fields += [("kind", .string("decoder")), ("layers", .int(c.layers)), ("d_model", .int(c.dModel)),
                                   ("q_heads", .int(c.attention.qHeads)), ("kv_heads", .int(c.attention.kvHeads)),
                                   ("head_dim", .int(c.attention.headDim)), ("ffn", .int(c.ffn)), ("vocab", .int(c.vocab)),
                                   ("kv_map", .ints(c.kvMap.source)), ("kv_layers", .int(c.kvMap.kvLayers)),
                                   ("kv_bytes_per_token_bf16", .int(budget.bytesPerToken)), ("params", .int(c.paramCount.total))]
                    case .encoder(let c):
                        fields += [("kind", .string("encoder")), ("layers", .int(c.layers)), ("hidden", .int(c.hidden)),
                                   ("embedding", .int(c.embedding)), ("vocab", .int(c.vocab)),
                                   ("weight_sharing", .string(c.weightSharing.rawValue)), ("params", .int(c.paramCount.total))]
                    }
                    if let ppl = p.publishedValPerplexity { fields.append(("published_val_ppl", .double(ppl))) }
                    fields.append(("source", .string(p.source)))
                    return .object(fields)
                }
                say(JSON.array(items).serialized())
                return
            }
            let rows: [[String]] = Presets.all.map { p in
                switch p.model {
                case .decoder(let c):
                    let budget = KVBudget(layout: c.attention, kvMap: c.kvMap, dtype: .bf16)
                    return [p.name, "\(c.layers)", "\(c.dModel)", "\(c.attention.qHeads)/\(c.attention.kvHeads)", "\(c.attention.headDim)",
                            "\(c.kvMap.kvLayers)", Format.grouped(budget.bytesPerToken), c.paramCount.total < 100_000_000 ? Format.fixed(Double(c.paramCount.total) / 1e6, 2) + "M" : Format.fixed(Double(c.paramCount.total) / 1e9, 2) + "B",
                            p.publishedValPerplexity.map { Format.fixed($0, 2) } ?? ""]
                case .encoder(let c):
                    return [p.name, "\(c.layers)", "\(c.hidden)", "\(c.heads)", "64", "—", "—",
                            Format.fixed(Double(c.paramCount.total) / 1e6, 1) + "M", ""]
                }
            }
            print(Format.table(["preset", "layers", "d_model", "q/kv heads", "head_dim", "kv layers", "bf16 B/token", "params", "paper PPL"],
                               rows, rightAligned: [1, 2, 4, 5, 6, 7, 8]), terminator: "")
        }
    }
}
