import AttnEngine

extension DecodeTrace {
    /// The trace for reading in a terminal: a header block, then one block per step with a row per
    /// layer (what it wrote, which cache it read), then the totals.
    public static func text(_ run: DecodeRun) -> String {
        let c = run.config, a = c.attention, res = run.result
        let budget = run.budget
        var out = "AttnLab decode trace (\(schema))\n"
        out += "model   \(c.layers) layers, d_model \(c.dModel), \(a.qHeads) query heads → \(Format.plural(a.kvHeads, "KV head")) (\(a.name)), head_dim \(a.headDim), FFN \(c.ffn), vocab \(c.vocab)"
        out += c.weightSharing == .none ? "\n" : ", weights shared: \(c.weightSharing.rawValue)\n"
        out += "kv map  \(c.kvMap.source.map(String.init).joined(separator: " "))   producers \(c.kvMap.producers.map(String.init).joined(separator: ", ")) → \(c.kvMap.kvLayers) of \(c.layers) layers store K/V\n"
        out += "heads   " + headGroups(a) + "\n"
        out += "cache   \(run.cacheDType.rawValue): \(Format.grouped(budget.bytesPerTokenPerLayer)) B per token per KV layer, \(Format.grouped(budget.bytesPerToken)) B per token\n"
        if res.cache.storage != .plain || res.cache.eviction != .none {
            out += "kept    \(KVTechnique.label(storage: res.cache.storage, retention: res.cache.eviction, slidingWindow: c.slidingWindow != nil))\n"
        }
        out += "prompt  \"\(escape(run.vocabulary.decode(res.promptTokens)))\" (\(res.promptTokens.count) tokens), seed \(run.seed), "
        out += run.temperature == 0 ? "greedy\n" : "temperature \(run.temperature)\n"
        for s in res.steps {
            let r = s.record
            var title = "\nstep \(s.step)  \(s.phase.rawValue)  position \(r.position)  in '\(escape(run.vocabulary.text(of: r.token)))'"
            if let next = s.nextToken { title += "  → '\(escape(run.vocabulary.text(of: next)))'" }
            out += title + "\n"
            let rows = r.layers.map { ls -> [String] in
                [String(ls.layer),
                 ls.writtenPosition == nil ? "← \(ls.sourceLayer)" : "own",
                 ls.writtenPosition.map { "slot \($0)" } ?? "—",
                 ls.bytesWritten == 0 ? "—" : Format.grouped(ls.bytesWritten) + " B",
                 "\(ls.tokensRead) tok",
                 Format.grouped(ls.bytesRead) + " B"]
            }
            out += indent(Format.table(["layer", "K/V", "wrote", "bytes", "read", "bytes"], rows, rightAligned: [0, 3, 4, 5]))
            let written = r.layers.reduce(0) { $0 + $1.bytesWritten }, read = r.layers.reduce(0) { $0 + $1.bytesRead }
            let held = res.cache.eviction.heldTokens(context: r.position + 1)
            out += "  step wrote \(Format.grouped(written)) B, read \(Format.grouped(read)) B; cache \(Format.plural(held, "token")) × \(Format.plural(c.kvMap.kvLayers, "KV layer")) = \(Format.grouped(r.cacheBytes)) B\n"
            for ls in r.layers {
                if let evicted = ls.evicted {
                    out += "  layer \(ls.layer) stops reading: " + evicted.enumerated().map { "kv\($0) position \($1.map(String.init).joined(separator: ", "))" }.joined(separator: "; ") + "\n"
                }
            }
            if case .quantized(let q) = res.cache.storage, (r.position + 1) % q.group == 0 {
                out += "  key group \(r.position + 1 - q.group)–\(r.position) quantized to int\(q.bits) in every producer, one scale per channel\n"
            }
            for ls in r.layers {
                if let k = ls.writtenK { out += "  layer \(ls.layer) K row: \(preview(k))\n" }
                if let v = ls.writtenV { out += "  layer \(ls.layer) V row: \(preview(v))\n" }
                if ls.writtenV != nil, let p = ls.writtenPosition, let row = res.cache.quantizedRow(.v, layer: ls.layer, kvHead: 0, position: p) {
                    out += "  layer \(ls.layer) V codes (kv0): \(row.codes.prefix(8).map(String.init).joined(separator: " "))\(row.codes.count > 8 ? " …" : ""), "
                    out += "group scales \(preview(row.scales.map(\.scale), limit: 4)), minima \(preview(row.scales.map(\.min), limit: 4))\n"
                }
                if ls.writtenV != nil, let p = ls.writtenPosition, let c = res.cache.latentRow(layer: ls.layer, position: p) {
                    out += "  layer \(ls.layer) latent stored: \(preview(c))\n"
                }
                if let w = ls.attention {
                    for hq in 0..<a.qHeads {
                        let row = w[(hq * ls.tokensRead)..<((hq + 1) * ls.tokensRead)]
                        out += "  layer \(ls.layer) head \(hq) (kv \(a.kvHead(forQueryHead: hq))) attends: \(preview(Array(row)))\n"
                    }
                }
            }
        }
        out += "\ntotal   \(res.steps.count) steps, generated \"\(escape(run.vocabulary.decode(res.generatedTokens)))\"\n"
        out += "        cache \(Format.grouped(res.cache.bytes)) B (\(res.cache.tokens) tokens), written \(Format.grouped(res.kvBytesWritten)) B, read \(Format.grouped(res.kvBytesRead)) B\n"
        if let diff = run.maxAbsDiff { out += "verify  max |cached − recomputed| logit = \(diff)\n" }
        return out
    }

    /// "q0–q3 → kv0, q4–q7 → kv1".
    public static func headGroups(_ a: AttentionLayout) -> String {
        (0..<a.kvHeads).map { g in
            let first = g * a.groupSize, last = first + a.groupSize - 1
            return (first == last ? "q\(first)" : "q\(first)–q\(last)") + " → kv\(g)"
        }.joined(separator: ", ")
    }

    private static func indent(_ s: String) -> String {
        s.split(separator: "\n", omittingEmptySubsequences: false).map { $0.isEmpty ? "" : "  " + $0 }.joined(separator: "\n")
    }

    private static func preview(_ values: [Float], limit: Int = 8) -> String {
        let shown = values.prefix(limit).map { Format.fixed(Double($0), 3) }.joined(separator: " ")
        return values.count > limit ? shown + " … (\(values.count) values)" : shown
    }

    private static func escape(_ s: String) -> String { s.replacing("\n", with: "\\n") }
}
