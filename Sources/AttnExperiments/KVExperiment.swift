import AttnEngine
import AttnTrace

/// The exact KV-cache size of a model at a context and batch (`attnlab kv`).
public struct KVExperiment: Experiment {
    public var model = ModelSpec()
    /// Element type of the stored K/V.
    public var dtype: DType = .bf16
    public var contextTokens = 4096
    public var batch = 1

    public init() {}

    public init(_ r: inout FlagReader) throws(ConfigError) {
        model = try ModelSpec(&r)
        dtype = try r.choice(.dtype) ?? dtype
        contextTokens = try r.int(.context) ?? contextTokens
        batch = try r.int(.batch) ?? batch
    }

    public func validate() throws { _ = try run() }

    public func run() throws -> KVResult {
        let config = try model.decoderConfig()
        let budget = KVBudget(layout: config.attention, kvMap: config.kvMap, dtype: dtype)
        return KVResult(experiment: self, config: config, budget: budget,
                        cacheBytes: try budget.cacheBytes(context: contextTokens, batch: batch),
                        mhaCacheBytes: try budget.mhaCacheBytes(context: contextTokens, batch: batch),
                        bytesReadPerStep: try budget.bytesReadPerStep(context: contextTokens, batch: batch))
    }
}

public struct KVResult: ExperimentOutput {
    public let experiment: KVExperiment
    public let config: DecoderConfig
    public let budget: KVBudget
    public let cacheBytes: Int
    public let mhaCacheBytes: Int
    public let bytesReadPerStep: Int

    public static let valueNames = ValueNames(
        numbers: ["layers", "q_heads", "kv_heads", "head_dim", "kv_map.#", "kv_layers", "kv_bytes_per_token", "context", "batch",
                  "kv_cache_bytes", "mha_kv_bytes_per_token", "mha_kv_cache_bytes", "reduction_vs_mha", "bytes_read_per_step"],
        texts: ["preset", "attention", "dtype"])

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
            ("reduction_vs_mha", .double(budget.reductionVsMHA)),
            ("bytes_read_per_step", .int(bytesReadPerStep)),
        ]
        return .object(fields)
    }
}
