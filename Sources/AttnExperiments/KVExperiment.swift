import AttnEngine
import AttnTrace

/// The exact KV-cache size of a model at a context and batch (`attnlab kv`), with the techniques that
/// shrink it (a sliding window, eviction, quantized codes, a latent), a paged allocation of a batch of
/// requests, and how many requests fit on a GPU after the weights.
public struct KVExperiment: Experiment {
    public var model = ModelSpec()
    /// Element type of the stored K/V.
    public var dtype: DType = .bf16
    public var contextTokens = 4096
    public var batch = 1
    public var techniques = KVTechniqueSpec()
    /// Token slots per block of a paged cache (`--page-tokens`); nil: no paged allocation is counted.
    public var pageTokens: Int?
    /// Lengths in tokens of the requests a paged cache holds (`--requests`); nil: `batch` requests of
    /// `contextTokens`.
    public var requests: [Int]?
    /// The GPU's memory (`--gpu-memory`); nil: no fit is counted.
    public var gpuMemory: MemorySize?
    /// Element type of the weights, for what is left of the GPU's memory.
    public var weightsDtype: DType = .bf16

    public init() {}

    public init(_ r: inout FlagReader) throws(ConfigError) {
        model = try ModelSpec(&r)
        dtype = try r.choice(.dtype) ?? dtype
        contextTokens = try r.int(.context) ?? contextTokens
        batch = try r.int(.batch) ?? batch
        techniques = try KVTechniqueSpec(&r)
        pageTokens = try r.int(.pageTokens)
        requests = try r.string(.requests).map { text throws(ConfigError) in try parseList(text, field: .requests) }
        gpuMemory = try r.string(.gpuMemory).map { text throws(ConfigError) in try MemorySize.parse(text, field: .gpuMemory) }
        weightsDtype = try r.choice(.weightsDtype) ?? weightsDtype
    }

    public func validate() throws { _ = try run() }

    public func run() throws -> KVResult {
        let config = try model.decoderConfig()
        let budget = KVBudget(layout: config.attention, kvMap: config.kvMap, dtype: dtype)
        // The uncompressed cache at the full context: checks the context and batch, and that these
        // byte counts fit in 64 bits, with the errors a plain run has always given.
        let fullCacheBytes = try budget.cacheBytes(context: contextTokens, batch: batch)
        let fullMHABytes = try budget.mhaCacheBytes(context: contextTokens, batch: batch)
        let fullReadBytes = try budget.bytesReadPerStep(context: contextTokens, batch: batch)
        let storage = try techniques.storage(for: config)
        let eviction = try techniques.eviction(for: config)
        if case .quantized = storage, !dtype.isStorableByDecoder {
            throw ConfigError(.fields([.dtype, .kvQuant]), "the key rows of a group not yet quantized are kept in --dtype: give fp32, bf16 or fp16, not \(dtype.rawValue)")
        }
        let shape = CacheShape(config: config, storage: storage, eviction: eviction, dtype: dtype)
        let cached = shape.heldTokens(context: contextTokens)
        let plain = storage == .plain && cached == contextTokens
        let cacheBytes = plain ? fullCacheBytes : try shape.sequenceBytes(context: contextTokens, layers: config.kvMap.kvLayers, batch: batch)
        let read = plain ? fullReadBytes : try shape.sequenceBytes(context: contextTokens, layers: config.layers, batch: batch)
        // The MHA baseline keeps the architecture (its sliding window) and drops sharing and techniques.
        let mhaCacheBytes = config.slidingWindow == nil ? fullMHABytes : try budget.mhaCacheBytes(context: config.cachedTokens(context: contextTokens), batch: batch)
        let paged = try pageTokens.map { b throws(ConfigError) in try pagedReport(shape, pageTokens: b) }
        if requests != nil && paged == nil { throw ConfigError(.requests, "applies only with --page-tokens B") }
        let fit = try gpuMemory.map { gpu throws(ConfigError) in
            try fitReport(gpu, shape: shape, requestBytes: cacheBytes / batch, paged: paged)
        }
        return KVResult(experiment: self, config: config, budget: budget, storage: storage, eviction: eviction,
                        cachedTokens: cached, cacheBytes: cacheBytes, fullCacheBytes: fullCacheBytes, mhaCacheBytes: mhaCacheBytes,
                        bytesReadPerStep: read,
                        reductionVsMHA: plain ? budget.reductionVsMHA : 1 - Double(cacheBytes) / Double(mhaCacheBytes),
                        paged: paged, fit: fit)
    }

    private func pagedReport(_ shape: CacheShape, pageTokens: Int) throws(ConfigError) -> PagedReport {
        if case .quantized = shape.storage {
            throw ConfigError(.fields([.pageTokens, .kvQuant]), "cannot be combined: a quantized cache's key groups and their unquantized rows do not fill token slots one by one")
        }
        let lengths = requests ?? Array(repeating: contextTokens, count: batch)
        if let long = lengths.first(where: { $0 > contextTokens }) {
            throw ConfigError(.fields([.requests, .context]), "a request of \(Format.grouped(long)) tokens is longer than the --context of \(Format.grouped(contextTokens)) every contiguous reservation is sized for")
        }
        let pager = try PagedKV(pageTokens: pageTokens, slotLimit: shape.slotLimit)
        let bytesPerSlot = try shape.sequenceBytes(context: 1, layers: shape.config.kvMap.kvLayers)
        return PagedReport(pager: pager, lengths: lengths, allocation: try pager.allocate(lengths: lengths), bytesPerSlot: bytesPerSlot,
                           reservedSlotsPerRequest: shape.heldTokens(context: contextTokens))
    }

    private func fitReport(_ gpu: MemorySize, shape: CacheShape, requestBytes: Int, paged: PagedReport?) throws(ConfigError) -> FitReport {
        let weights = WeightsSize(shape.config, weightsDtype)
        guard weights.bytes <= gpu.bytes else {
            throw ConfigError(.gpuMemory, "the weights alone are \(Format.bytes(weights.bytes, units: gpu.unit.units)) (\(weightsDtype.rawValue), \(weights.describedParams) parameters) > \(gpu.spelled)")
        }
        let given = [shape.storage.label, shape.eviction == .none ? "" : "--evict \(shape.eviction.name)"].filter { !$0.isEmpty }
        var rows = [FitRow(key: "as_given", label: (["as given"] + given).joined(separator: ", "), weightsBytes: weights.bytes, requestBytes: requestBytes, gpuBytes: gpu.bytes)]
        func add(_ key: String, _ label: String, _ variant: CacheShape) throws(ConfigError) {
            // A layout the model already has is its own row.
            if variant.storage == .plain && variant.eviction == .none && key != "model" && variant.config.attention == shape.config.attention
                && variant.config.kvMap == shape.config.kvMap { return }
            let w = WeightsSize(variant.config, weightsDtype).bytes
            rows.append(FitRow(key: key, label: label, weightsBytes: w, requestBytes: try variant.sequenceBytes(context: contextTokens, layers: variant.config.kvMap.kvLayers), gpuBytes: gpu.bytes))
        }
        // The model with a plain cache, then its K/V layout changed, then one technique at a time.
        let base = CacheShape(config: shape.config, storage: .plain, eviction: .none, dtype: dtype)
        let c = shape.config, a = c.attention
        if shape.storage != .plain || shape.eviction != .none { try add("model", "plain cache", base) }
        func layout(_ kvHeads: Int, _ kvMap: KVSourceMap) throws(ConfigError) -> CacheShape {
            let config = try DecoderConfig(layers: c.layers, dModel: c.dModel, attention: try AttentionLayout(qHeads: a.qHeads, kvHeads: kvHeads, headDim: a.headDim),
                                           ffn: c.ffn, vocab: c.vocab, kvMap: kvMap, weightSharing: c.weightSharing, tiedEmbeddings: c.tiedEmbeddings,
                                           ropeBase: c.ropeBase, normEps: c.normEps, slidingWindow: c.slidingWindow)
            return CacheShape(config: config, storage: .plain, eviction: .none, dtype: dtype)
        }
        let unshared = KVSourceMap.unshared(layers: c.layers)
        try add("mha", "MHA (\(a.qHeads) KV heads)", try layout(a.qHeads, unshared))
        if a.qHeads > 8 && a.qHeads % 8 == 0 { try add("gqa8", "GQA-8", try layout(8, unshared)) }
        if a.qHeads > 1 { try add("mqa", "MQA (1 KV head)", try layout(1, unshared)) }
        if c.layers >= 2 { try add("cla2", "CLA2 (\(a.name), \((c.layers + 1) / 2) of \(c.layers) layers store K/V)", try layout(a.kvHeads, try KVPattern.cla(2).map(layers: c.layers))) }
        // Eviction, a latent or codes given on the command line are the first row's; int8 and int4
        // are shown for every model the engine can quantize.
        let group = techniques.group ?? KVTechniqueSpec.defaultGroup
        let quants = [KVTechniqueSpec.Quant.int8, .int4] + (techniques.quant == .int2 ? [.int2] : [])
        let refused: String? = c.slidingWindow != nil ? "the engine does not quantize a sliding-window cache"
            : a.headDim % group != 0 ? "groups of \(group) do not divide head_dim \(a.headDim)"
            : !dtype.isStorableByDecoder ? "--dtype \(dtype.rawValue) cannot hold the key rows waiting for their group" : nil
        if refused == nil {
            for q in quants {
                let storage = KVStorage.quantized(try KVQuantization(bits: q.bits, group: group, preRoPE: techniques.preRoPE, headDim: a.headDim))
                try add(q.rawValue, "\(q.rawValue) codes, groups of \(group)", CacheShape(config: c, storage: storage, eviction: .none, dtype: dtype))
            }
        }
        if let paged {
            rows.append(paged.fitRow(weightsBytes: weights.bytes, gpuBytes: gpu.bytes, requestsGiven: requests != nil))
        }
        return FitReport(gpu: gpu, weightsDtype: weightsDtype, weights: weights, rows: rows, skipped: refused.map { ["int8/int4: \($0)"] } ?? [])
    }
}

/// What one sequence's cache holds: the model's layout, how rows are stored, and which tokens stay.
struct CacheShape {
    let config: DecoderConfig
    let storage: KVStorage
    let eviction: KVEviction
    let dtype: DType

    /// Tokens a producer layer holds after `context`: the eviction budget or the sliding window.
    func heldTokens(context: Int) -> Int {
        eviction == .none ? config.cachedTokens(context: context) : eviction.heldTokens(context: context)
    }

    /// The most tokens a producer layer ever holds, nil when it keeps them all.
    var slotLimit: Int? { eviction == .none ? config.slidingWindow : eviction.budgetTokens }

    /// `layers` × the bytes of one producer layer's cache after `context` tokens (`KVStorage.bytes`),
    /// for one sequence: kv_layers of them are stored, all layers' worth is read per step.
    func sequenceBytes(context: Int, layers: Int, batch: Int = 1) throws(ConfigError) -> Int {
        let held = heldTokens(context: context)
        // No storage uses more than 16 bytes per element (fp32 K and V, or codes with a scale and a
        // minimum per element); checking that bound first keeps `KVStorage.bytes` inside 64 bits.
        let (bound, o1) = held.multipliedReportingOverflow(by: 16 * config.attention.kvElements)
        let (perSequence, o2) = storage.bytes(tokens: o1 ? 0 : held, layout: config.attention, dtype: dtype).multipliedReportingOverflow(by: layers)
        let (total, o3) = perSequence.multipliedReportingOverflow(by: batch)
        let (_, o4) = bound.multipliedReportingOverflow(by: layers * batch)
        guard !o1, !o2, !o3, !o4 else {
            throw ConfigError(.fields([.context, .batch]), "\(context) tokens × batch \(batch) overflow 64-bit byte counts")
        }
        return total
    }
}

/// The exact numbers of `attnlab kv`.
public struct KVResult: ExperimentOutput {
    public let experiment: KVExperiment
    public let config: DecoderConfig
    public let budget: KVBudget
    public let storage: KVStorage
    public let eviction: KVEviction
    /// Tokens each producer layer holds at the context: min(context, window or budget).
    public let cachedTokens: Int
    /// The cache as stored (window, eviction, codes or latent applied), all sequences.
    public let cacheBytes: Int
    /// Every token of the context in the element type, all sequences: the cache before any technique.
    public let fullCacheBytes: Int
    public let mhaCacheBytes: Int
    public let bytesReadPerStep: Int
    public let reductionVsMHA: Double
    public let paged: PagedReport?
    public let fit: FitReport?

    /// Bytes per token once the cache is long, with quantization's scales shared out (`KVStorage.bytesPerTokenPerLayer`).
    public var storedBytesPerToken: Double {
        Double(config.kvMap.kvLayers) * storage.bytesPerTokenPerLayer(layout: config.attention, dtype: experiment.dtype)
    }

    /// Whether a window or an eviction budget caps the tokens held.
    public var isCapped: Bool { config.slidingWindow != nil || eviction != .none }

    public static let valueNames = ValueNames(
        numbers: ["layers", "q_heads", "kv_heads", "head_dim", "kv_map.#", "kv_layers", "kv_bytes_per_token", "context", "batch",
                  "kv_cache_bytes", "mha_kv_bytes_per_token", "mha_kv_cache_bytes", "reduction_vs_mha", "bytes_read_per_step",
                  "window", "kv_budget", "sinks", "cached_tokens",
                  "kv_bits", "kv_group", "kv_quant_pre_rope", "kv_latent_rank", "stored_bytes_per_token", "full_kv_cache_bytes",
                  "page_tokens", "requests.#", "paged_blocks", "paged_bytes_allocated", "paged_bytes_used", "paged_fragmentation_slots",
                  "paged_fragmentation_bytes", "paged_peak_blocks", "contiguous_bytes_reserved", "contiguous_waste_bytes", "block_tables.#.#",
                  "gpu_memory_bytes", "params", "weights_bytes", "free_bytes", "max_batch", "fit.*.weights_bytes", "fit.*.bytes_per_request",
                  "fit.*.max_batch"],
        texts: ["preset", "attention", "dtype", "evict", "kv_quant", "weights_dtype", "fit.*.label"])

    public var json: JSON {
        let a = config.attention, e = experiment
        var fields: [(String, JSON)] = []
        if let preset = e.model.preset { fields.append(("preset", .string(preset.lowercased()))) }
        fields += [
            ("layers", .int(config.layers)), ("q_heads", .int(a.qHeads)), ("kv_heads", .int(a.kvHeads)),
            ("head_dim", .int(a.headDim)), ("attention", .string(a.name)), ("dtype", .string(e.dtype.rawValue)),
            ("kv_map", .ints(config.kvMap.source)), ("kv_layers", .int(budget.kvLayers)),
            ("kv_bytes_per_token", .int(budget.bytesPerToken)),
            ("context", .int(e.contextTokens)), ("batch", .int(e.batch)), ("kv_cache_bytes", .int(cacheBytes)),
            ("mha_kv_bytes_per_token", .int(budget.mhaBytesPerToken)), ("mha_kv_cache_bytes", .int(mhaCacheBytes)),
            ("reduction_vs_mha", .double(reductionVsMHA)),
            ("bytes_read_per_step", .int(bytesReadPerStep)),
        ]
        // Only what the run asked for follows, so a plain run prints what it always printed.
        if let w = config.slidingWindow { fields.append(("window", .int(w))) }
        if eviction != .none { fields += [("evict", .string(eviction.name)), ("kv_budget", .int(eviction.budgetTokens ?? 0))] }
        if case .sinks(let s, _) = eviction { fields.append(("sinks", .int(s))) }
        if isCapped { fields.append(("cached_tokens", .int(cachedTokens))) }
        switch storage {
        case .plain: break
        case .quantized(let q):
            fields += [("kv_quant", .string("int\(q.bits)")), ("kv_bits", .int(q.bits)), ("kv_group", .int(q.group)), ("kv_quant_pre_rope", .bool(q.preRoPE))]
        case .latent(let r): fields.append(("kv_latent_rank", .int(r)))
        }
        if storage != .plain { fields.append(("stored_bytes_per_token", .double(storedBytesPerToken))) }
        if storage != .plain || isCapped { fields.append(("full_kv_cache_bytes", .int(fullCacheBytes))) }
        if let paged { fields += paged.json }
        if let fit { fields += fit.json }
        return .object(fields)
    }
}

/// A batch of requests in a paged cache against contiguous reservations of the maximum length.
public struct PagedReport: Sendable {
    public let pager: PagedKV
    /// Request lengths in tokens.
    public let lengths: [Int]
    public let allocation: PagedKV.Allocation
    /// Bytes of one token slot across the producer layers.
    public let bytesPerSlot: Int
    /// Slots a contiguous cache reserves per request: the context (or its window).
    public let reservedSlotsPerRequest: Int

    public var bytesAllocated: Int { allocation.allocatedSlots * bytesPerSlot }
    public var bytesUsed: Int { allocation.usedSlotsTotal * bytesPerSlot }
    public var contiguousBytesReserved: Int { lengths.count * reservedSlotsPerRequest * bytesPerSlot }

    var json: [(String, JSON)] {
        [("page_tokens", .int(pager.pageTokens)), ("requests", .ints(lengths)), ("paged_blocks", .int(allocation.blocks)),
         ("paged_bytes_allocated", .int(bytesAllocated)), ("paged_bytes_used", .int(bytesUsed)),
         ("paged_fragmentation_slots", .int(allocation.fragmentationSlots)),
         ("paged_fragmentation_bytes", .int(allocation.fragmentationSlots * bytesPerSlot)),
         ("paged_peak_blocks", .int(allocation.peakBlocks)),
         ("contiguous_bytes_reserved", .int(contiguousBytesReserved)), ("contiguous_waste_bytes", .int(contiguousBytesReserved - bytesUsed)),
         ("block_tables", .array(allocation.blockTables.map { .ints($0) }))]
    }

    /// Requests that fit, taken from `lengths` in turn and over again until the next one does not.
    func fitRow(weightsBytes: Int, gpuBytes: Int, requestsGiven: Bool) -> FitRow {
        let perRequest = lengths.map { pager.blocks($0) * pager.pageTokens * bytesPerSlot }
        let free = gpuBytes - weightsBytes, cycle = perRequest.reduce(0, +)
        var fits = free / cycle * lengths.count, left = free % cycle
        for bytes in perRequest {
            guard bytes <= left else { break }
            left -= bytes
            fits += 1
        }
        let label = "paged, blocks of \(pager.pageTokens)" + (requestsGiven ? ", the --requests mix" : "")
        return FitRow(key: "paged", label: label, weightsBytes: weightsBytes, requestBytes: cycle / lengths.count, maxBatch: fits)
    }
}

/// Weights' bytes: parameters × bits / 8 (codes only; a quantized checkpoint's scales are not counted).
public struct WeightsSize: Sendable {
    public let params: Int
    public let bytes: Int

    init(_ config: DecoderConfig, _ dtype: DType) {
        params = config.paramCount.total
        bytes = (params * dtype.bits + 7) / 8
    }

    /// "8.03 B", "135 M".
    public var describedParams: String {
        params >= 1_000_000_000 ? Format.fixed(Double(params) / 1e9, 2) + " B" : Format.fixed(Double(params) / 1e6, 1) + " M"
    }
}

/// One way of storing the cache, and how many requests of the context fit next to the weights.
public struct FitRow: Sendable {
    /// The key under `fit` in the JSON (`mqa`, `int4`).
    public let key: String
    public let label: String
    public let weightsBytes: Int
    /// Cache bytes one request holds (for paged requests of a mix, their mean, rounded down).
    public let requestBytes: Int
    /// ⌊(GPU − weights) / bytes per request⌋, 0 when the weights alone do not fit.
    public let maxBatch: Int

    init(key: String, label: String, weightsBytes: Int, requestBytes: Int, gpuBytes: Int) {
        self.init(key: key, label: label, weightsBytes: weightsBytes, requestBytes: requestBytes,
                  maxBatch: weightsBytes > gpuBytes ? 0 : (gpuBytes - weightsBytes) / requestBytes)
    }

    init(key: String, label: String, weightsBytes: Int, requestBytes: Int, maxBatch: Int) {
        (self.key, self.label, self.weightsBytes, self.requestBytes, self.maxBatch) = (key, label, weightsBytes, requestBytes, maxBatch)
    }
}

/// How many requests fit on a GPU after the weights, for the run and for each other way of storing the cache.
public struct FitReport: Sendable {
    public let gpu: MemorySize
    public let weightsDtype: DType
    public let weights: WeightsSize
    /// The run as given first, then the model with a plain cache, other layouts and techniques.
    public let rows: [FitRow]
    /// Techniques left out of `rows`, with the reason.
    public let skipped: [String]

    public var freeBytes: Int { gpu.bytes - weights.bytes }

    var json: [(String, JSON)] {
        [("gpu_memory_bytes", .int(gpu.bytes)), ("weights_dtype", .string(weightsDtype.rawValue)), ("params", .int(weights.params)),
         ("weights_bytes", .int(weights.bytes)), ("free_bytes", .int(freeBytes)), ("max_batch", .int(rows[0].maxBatch)),
         ("fit", .object(rows.dropFirst().map { row in
             (row.key, .object([("label", .string(row.label)), ("weights_bytes", .int(row.weightsBytes)),
                                ("bytes_per_request", .int(row.requestBytes)), ("max_batch", .int(row.maxBatch))]))
         }))]
    }
}

/// A memory size as a person writes it, decimal or binary: `80GB` is 80×10⁹ B, `80GiB` 80×2³⁰ B.
public struct MemorySize: Sendable, Hashable {
    public enum Unit: String, CaseIterable, Sendable {
        case B, kB, KiB, MB, MiB, GB, GiB, TB, TiB

        public var bytes: Int {
            switch self {
            case .B: 1
            case .kB: 1_000
            case .KiB: 1 << 10
            case .MB: 1_000_000
            case .MiB: 1 << 20
            case .GB: 1_000_000_000
            case .GiB: 1 << 30
            case .TB: 1_000_000_000_000
            case .TiB: 1 << 40
            }
        }

        /// "10⁹", "2³⁰".
        public var power: String {
            switch self {
            case .B: "1"
            case .kB: "10³"
            case .KiB: "2¹⁰"
            case .MB: "10⁶"
            case .MiB: "2²⁰"
            case .GB: "10⁹"
            case .GiB: "2³⁰"
            case .TB: "10¹²"
            case .TiB: "2⁴⁰"
            }
        }

        public var units: Format.ByteUnits { rawValue.contains("i") ? .binary : .decimal }
    }

    /// The number as written ("80", "1.5").
    public let number: String
    public let unit: Unit
    /// number × unit, rounded down to a whole byte.
    public let bytes: Int

    /// "80 GB = 80×10⁹ B".
    public var spelled: String { "\(number) \(unit.rawValue) = \(number)×\(unit.power) B" }

    /// Parses `80GiB`, `80 GB`, `1.5TB`, `512MiB` (units in any letter case; an `i` makes them binary).
    /// - Throws: `ConfigError` naming `field` for a missing or unknown unit, or a number that is not
    ///   positive or past 64-bit byte counts.
    public static func parse(_ text: String, field: Field) throws(ConfigError) -> MemorySize {
        let t = text.filter { $0 != " " }
        guard !t.hasPrefix("-") else { throw ConfigError(field, "must be positive, got '\(text)'") }
        let number = String(t.prefix { $0.isASCII && ($0.isNumber || $0 == ".") })
        let unitText = t.dropFirst(number.count).lowercased()
        let units = Unit.allCases.map(\.rawValue).joined(separator: ", ")
        guard !unitText.isEmpty else { throw ConfigError(field, "'\(text)' needs a unit: \(units) (80GB = 80×10⁹ B, 80GiB = 80×2³⁰ B)") }
        guard let unit = Unit.allCases.first(where: { $0.rawValue.lowercased() == unitText }) else {
            throw ConfigError(field, "unknown unit '\(t.dropFirst(number.count))' in '\(text)' (expected \(units))")
        }
        let parts = number.split(separator: ".", omittingEmptySubsequences: false)
        let fraction = parts.count == 2 ? parts[1] : ""
        guard parts.count <= 2, !parts[0].isEmpty || !fraction.isEmpty, fraction.count <= 9,
              let mantissa = Int(parts[0] + fraction) else {
            throw ConfigError(field, "'\(text)' is not a number followed by a unit")
        }
        var scale = 1
        for _ in 0..<fraction.count { scale *= 10 }
        let (product, overflow) = mantissa.multipliedReportingOverflow(by: unit.bytes)
        guard !overflow else { throw ConfigError(field, "'\(text)' is past 64-bit byte counts") }
        let bytes = product / scale
        guard bytes > 0 else { throw ConfigError(field, "must be positive, got '\(text)'") }
        return MemorySize(number: number, unit: unit, bytes: bytes)
    }
}
