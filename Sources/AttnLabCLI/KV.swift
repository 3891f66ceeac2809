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
                A sliding window (--window, or a preset's own: mistral-7b 4096) or --evict with --kv-budget
                caches min(context, W) tokens per layer, a rolling buffer. --kv-quant and --kv-latent-rank
                change the bytes of a token: codes with fp16 scales and minima, or one latent of R elements.

                --page-tokens B counts a paged cache (vLLM): blocks of B tokens taken on demand for each of
                --requests (lengths in tokens), against contiguous reservations of --context each.
                --gpu-memory answers how many requests of --context tokens fit after the weights
                (params × bits of --weights-dtype), for the model as given and for every other layout and
                technique: 80GB = 80×10⁹ B (decimal), 80GiB = 80×2³⁰ B (binary).

                Examples:
                  attnlab kv --preset llama-3-8b --context 8192
                  attnlab kv --preset llama-3-8b --cla 2 --context 131072 --json
                  attnlab kv --layers 20 --q-heads 16 --kv-heads 1 --head-dim 128 --cla 2
                  attnlab kv --preset mistral-7b --context 32768        # 4,096 tokens cached
                  attnlab kv --preset llama-3-8b --kv-quant int4 --kv-group 32
                  attnlab kv --preset llama-3-8b --gpu-memory 80GiB --context 8192
                  attnlab kv --preset llama-3-8b --page-tokens 16 --requests 300,1000,4096,77
                """
        )

        @OptionGroup var model: ModelOptions

        @Option(help: "Element type of stored K/V: fp32, bf16, fp16, fp8, int8, int4.")
        var dtype: DType = .bf16

        @Option(parsing: .unconditional, help: "Context length in tokens.")
        var context = 4096

        @Option(parsing: .unconditional, help: "Sequences in the batch.")
        var batch = 1

        @OptionGroup var techniques: KVTechniqueOptions

        @Option(name: .customLong("page-tokens"), parsing: .unconditional, help: "Count a paged cache with blocks of B token slots.")
        var pageTokens: Int?

        @Option(parsing: .unconditional, help: "Lengths in tokens of the requests the paged cache holds, e.g. 300,1000,4096. (default: --batch requests of --context)")
        var requests: String?

        @Option(name: .customLong("gpu-memory"), parsing: .unconditional, help: "GPU memory: 80GiB = 80×2³⁰ B (binary), 80GB = 80×10⁹ B (decimal); also MB, MiB, TB, TiB, 1.5TB.")
        var gpuMemory: String?

        @Option(name: .customLong("weights-dtype"), help: "Element type of the weights for --gpu-memory: fp32, bf16, fp16, fp8, int8, int4 (codes only, no scales).")
        var weightsDtype: DType = .bf16

        @Flag(help: "Print JSON.")
        var json = false

        func experiment() throws -> KVExperiment {
            var e = KVExperiment()
            (e.model, e.dtype, e.contextTokens, e.batch) = (model.spec, dtype, context, batch)
            (e.techniques, e.pageTokens, e.weightsDtype) = (techniques.spec, pageTokens, weightsDtype)
            e.requests = try requests.map { text throws(ConfigError) in try parseList(text, field: .requests) }
            e.gpuMemory = try gpuMemory.map { text throws(ConfigError) in try MemorySize.parse(text, field: .gpuMemory) }
            return e
        }

        func run() throws {
            let r = try experiment().run()
            if json { return say(r.json.serialized()) }
            let (config, budget, cacheBytes, mhaCacheBytes, readPerStep) = (r.config, r.budget, r.cacheBytes, r.mhaCacheBytes, r.bytesReadPerStep)
            let a = config.attention
            let name = (model.pretrained ?? model.preset.last).map { "\($0.lowercased()) " } ?? ""
            let window = config.slidingWindow.map { ", sliding window \(Format.grouped($0))" } ?? ""
            let technique = [r.storage.label, r.eviction == .none ? "" : "--evict \(r.eviction.name)"].filter { !$0.isEmpty }.map { ", \($0)" }.joined()
            say("KV cache — \(name)(\(a.name)\(config.kvMap.kvLayers < config.layers ? ", \(config.kvMap.kvLayers) of \(config.layers) layers store K/V" : "")\(window)): \(config.layers) layers, \(a.qHeads) query heads → \(Format.plural(a.kvHeads, "KV head")), head_dim \(a.headDim), \(dtype.rawValue)\(technique)")
            let bytesPerElement = dtype.bits % 8 == 0 ? "\(dtype.bits / 8) B" : "\(dtype.bits) bits"
            let held = r.cachedTokens
            let tokens = r.isCapped ? "\(Format.grouped(held)) cached tokens" : "\(Format.grouped(context)) tokens"
            let perTokenRatio = r.storage == .plain && r.eviction == .none
                ? Double(budget.mhaBytesPerToken) / Double(budget.bytesPerToken) : Double(mhaCacheBytes) / Double(cacheBytes)
            var rows: [[String]] = [
                ["kv layers", "\(budget.kvLayers) of \(config.layers)", "layers that store K/V"],
                ["bytes per token", Format.grouped(budget.bytesPerToken) + " B",
                 "2 × \(Format.plural(budget.kvLayers, "layer")) × \(Format.plural(a.kvHeads, "head")) × \(a.headDim) × \(bytesPerElement)"],
            ]
            if let stored = storedRow(r) { rows.append(stored) }
            if r.isCapped { rows.append(["cached tokens", Format.grouped(held), cappedHow(r)]) }
            rows += [
                ["cache", Format.grouped(cacheBytes) + " B",
                 "\(Format.bytes(cacheBytes)) = \(Format.bytes(cacheBytes, units: .binary)) at \(tokens) × batch \(batch)\(residualNote(r))"],
            ]
            if r.fullCacheBytes != cacheBytes {
                rows.append(["every token, \(dtype.rawValue)", Format.grouped(r.fullCacheBytes) + " B",
                             "\(Format.bytes(r.fullCacheBytes)) without the window or technique: \(Format.fixed(Double(r.fullCacheBytes) / Double(cacheBytes), 2))× larger"])
            }
            rows += [
                ["MHA, no sharing", Format.grouped(budget.mhaBytesPerToken) + " B/token",
                 "\(Format.bytes(mhaCacheBytes)) at this context: \(Format.fixed(perTokenRatio, 2))× larger"],
                ["reduction vs MHA", Format.percent(r.reductionVsMHA), ""],
                ["read per decode step", Format.grouped(readPerStep) + " B",
                 "every layer reads its source's \(readWhat(r)) for all \(tokens)"],
            ]
            print(Format.table(["quantity", "value", "how"], rows, rightAligned: [1]), terminator: "")
            if let paged = r.paged { printPaged(paged) }
            if let fit = r.fit { printFit(fit) }
        }

        /// The bytes a token costs with codes or a latent, as the formula with the numbers.
        private func storedRow(_ r: KVResult) -> [String]? {
            let a = r.config.attention, layers = Format.plural(r.budget.kvLayers, "layer")
            let stored = r.storedBytesPerToken
            let value = (stored == stored.rounded() ? Format.grouped(Int(stored)) : Format.fixed(stored, 2)) + " B"
            switch r.storage {
            case .plain: return nil
            case .quantized(let q):
                let E = a.kvElements
                return ["stored per token", value,
                        "\(layers) × (2 × ⌈\(Format.grouped(E)) × \(q.bits) bits / 8⌉ codes + 2 × \(Format.grouped(E))/\(q.group) × 4 B fp16 scale and minimum)"]
            case .latent(let rank):
                let bytesPerElement = dtype.bits % 8 == 0 ? "\(dtype.bits / 8) B" : "\(dtype.bits) bits"
                return ["stored per token", value, "\(layers) × r \(rank) × \(bytesPerElement): one latent, no K or V"]
            }
        }

        private func cappedHow(_ r: KVResult) -> String {
            switch r.eviction {
            case .none: "min(context \(Format.grouped(context)), window \(Format.grouped(r.config.slidingWindow ?? 0))): a rolling buffer of the last tokens"
            case .window(let b): "min(context \(Format.grouped(context)), budget \(Format.grouped(b))): the last tokens, a rolling buffer"
            case let .sinks(s, b): "min(context \(Format.grouped(context)), budget \(Format.grouped(b))): \(s) sinks + the last \(Format.grouped(b - s))"
            case .h2o(let b): "min(context \(Format.grouped(context)), budget \(Format.grouped(b))): \(Format.grouped(b / 2)) heavy hitters + the last \(Format.grouped(KVEviction.h2oRecent(budget: b)))"
            }
        }

        /// For a quantized cache: the key rows still waiting for their group, which stay in --dtype.
        private func residualNote(_ r: KVResult) -> String {
            guard case .quantized(let q) = r.storage else { return "" }
            let waiting = r.cachedTokens % q.group
            return ", exactly: codes, scales and minima" + (waiting > 0 ? ", and \(Format.plural(waiting, "key row")) in \(dtype.rawValue) waiting for their group" : "")
        }

        private func readWhat(_ r: KVResult) -> String {
            switch r.storage {
            case .plain: "K and V"
            case .quantized: "K and V codes and scales"
            case .latent: "latent"
            }
        }

        private func printPaged(_ p: PagedReport) {
            let B = p.pager.pageTokens, slot = Format.grouped(p.bytesPerSlot)
            let held = p.pager.slotLimit.map { " (each holds at most \(Format.grouped($0)) tokens, a rolling buffer)" } ?? ""
            say()
            say("Paged cache — blocks of \(B) tokens, \(Format.plural(p.lengths.count, "request")) of \(p.lengths.map(Format.grouped).joined(separator: ", ")) tokens\(held); \(slot) B per token slot")
            let al = p.allocation
            let used = p.bytesUsed, reserved = p.contiguousBytesReserved
            let rows: [[String]] = [
                ["blocks", Format.grouped(al.blocks), "Σ ⌈held / \(B)⌉"],
                ["allocated", Format.grouped(p.bytesAllocated) + " B", "\(Format.grouped(al.blocks)) blocks × \(B) slots × \(slot) B"],
                ["used", Format.grouped(used) + " B", "Σ held = \(Format.grouped(al.usedSlotsTotal)) tokens × \(slot) B"],
                ["internal fragmentation", Format.grouped(al.fragmentationSlots * p.bytesPerSlot) + " B",
                 "\(Format.plural(al.fragmentationSlots, "empty slot")) in last blocks: Σ (\(B) − held mod \(B)) mod \(B), \(Format.percent(Double(al.fragmentationSlots) / Double(al.allocatedSlots))) of allocated"],
                ["contiguous reserved", Format.grouped(reserved) + " B",
                 "\(Format.plural(p.lengths.count, "request")) × \(Format.grouped(p.reservedSlotsPerRequest)) tokens × \(slot) B"],
                ["contiguous waste", Format.grouped(reserved - used) + " B",
                 "reserved − used (\(Format.percent(Double(reserved - used) / Double(reserved))) of reserved)"],
                ["peak blocks", Format.grouped(al.peakBlocks),
                 "requests start together; a finished one frees its blocks, the lowest free is taken first"],
            ]
            print(Format.table(["quantity", "value", "how"], rows, rightAligned: [1]), terminator: "")
            say("block tables (logical block → physical block):")
            for (i, table) in al.blockTables.enumerated() {
                say("  request \(i) (\(Format.grouped(p.lengths[i])) tokens): \(Self.ranges(table))")
            }
        }

        /// [0, 1, 2, 7, 9, 10] → "0–2, 7, 9–10".
        static func ranges(_ blocks: [Int]) -> String {
            var parts: [String] = [], start = 0
            while start < blocks.count {
                var end = start
                while end + 1 < blocks.count && blocks[end + 1] == blocks[end] + 1 { end += 1 }
                parts.append(end == start ? "\(blocks[start])" : "\(blocks[start])–\(blocks[end])")
                start = end + 1
            }
            return parts.joined(separator: ", ")
        }

        private func printFit(_ f: FitReport) {
            let units = f.gpu.unit.units
            say()
            say("What fits on \(f.gpu.spelled) (\(Format.grouped(f.gpu.bytes)) B), requests of \(Format.grouped(context)) tokens:")
            say("weights \(Format.bytes(f.weights.bytes, units: units)) (\(f.weights.describedParams) parameters × \(f.weightsDtype.bits) bits, \(f.weightsDtype.rawValue)) leave \(Format.bytes(f.freeBytes, units: units)) for the cache")
            let rows = f.rows.map { row in
                [row.label, Format.bytes(row.requestBytes, units: units), Format.bytes(row.weightsBytes, units: units), Format.grouped(row.maxBatch)]
            }
            print(Format.table(["cache", "bytes per request", "weights", "requests that fit"], rows, rightAligned: [1, 2, 3]), terminator: "")
            say("requests that fit = ⌊(GPU − weights) / bytes per request⌋" + (f.rows.contains { $0.key == "paged" } ? "; paged: requests of the mix in turn until the next one does not fit" : ""))
            for line in f.skipped { say("left out: \(line)") }
        }
    }
}
