import ArgumentParser
import AttnExperiments

/// The K/V-cache technique flags of `kv`, `decode` and `ppl`: quantized codes, a latent, eviction.
struct KVTechniqueOptions: ParsableArguments {
    @Option(name: .customLong("kv-quant"),
            help: "Store K/V as integer codes: int8, int4 or int2, with a scale and a minimum per group (keys per channel, values per token).")
    var quant: KVTechniqueSpec.Quant?

    @Option(name: .customLong("kv-group"), parsing: .unconditional,
            help: "Tokens per key scale and channels per value scale; must divide head_dim. (default: \(KVTechniqueSpec.defaultGroup))")
    var group: Int?

    @Flag(name: .customLong("kv-quant-pre-rope"), help: "Quantize keys before RoPE (KVQuant); the bytes are the same.")
    var preRoPE = false

    @Option(name: .customLong("kv-latent-rank"), parsing: .unconditional,
            help: "Cache one latent of R elements per token and layer instead of K and V (MLA); 1 ≤ R ≤ min(2·kv_heads·head_dim, d_model).")
    var latentRank: Int?

    @Option(help: "Drop tokens past a budget: window (the last B), sinks (the first --sinks and the last B − sinks), h2o (heavy hitters and recent tokens).")
    var evict: KVTechniqueSpec.Evict?

    @Option(name: .customLong("kv-budget"), parsing: .unconditional, help: "Tokens each layer keeps with --evict.")
    var budget: Int?

    @Option(parsing: .unconditional, help: "Attention sinks kept by --evict sinks. (default: \(KVTechniqueSpec.defaultSinks))")
    var sinks: Int?

    /// The same flags as the experiments layer reads them.
    var spec: KVTechniqueSpec {
        var t = KVTechniqueSpec()
        (t.quant, t.group, t.preRoPE, t.latentRank) = (quant, group, preRoPE, latentRank)
        (t.evict, t.budget, t.sinks) = (evict, budget, sinks)
        return t
    }
}

extension KVTechniqueSpec.Quant: ExpressibleByArgument {}
extension KVTechniqueSpec.Evict: ExpressibleByArgument {}
