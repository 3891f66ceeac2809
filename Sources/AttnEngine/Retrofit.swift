/// K/V sharing put onto a trained model *without* training: the weight surgery the GQA and CLA
/// papers start from before they uptrain or train.
///
/// - Fewer K/V heads (GQA → MQA, or GQA-G → GQA-G′ with G′ dividing G): the W_K and W_V rows of the
///   heads that a new group joins are mean-pooled into one head — "the projection matrices of all
///   heads in a group are mean-pooled" (Ainslie et al. 2023, §2.1). Query heads keep their order;
///   query head h reads K/V head h / (q_heads / G′), which pools exactly the old heads its group read.
/// - Cross-layer sharing (a `KVSourceMap`): a consumer layer drops its own W_K and W_V and attends
///   over the cache of the layer the map names (Brandon et al. 2024, §2), its queries unchanged.
///
/// The result is an ordinary config and weights, run by the same decoder as every other model. The
/// base may itself share K/V or weights (a trained CLA or ALBERT checkpoint): a retrofit can only take
/// K/V away, so every producer of the new map must have W_K and W_V in the base, and a weight set that
/// several layers share is pooled once, for all of them.
public enum Retrofit {
    /// The config of `base` with `kvHeads` K/V heads and `kvMap`, everything else kept.
    public static func config(_ base: DecoderConfig, kvHeads: Int, kvMap: KVSourceMap, field: Field) throws(ConfigError) -> DecoderConfig {
        let a = base.attention
        guard kvHeads > 0, a.kvHeads % kvHeads == 0 else {
            throw ConfigError(field, "\(kvHeads) K/V heads cannot be pooled from \(a.kvHeads) (it must divide \(a.kvHeads): pooling merges whole groups)")
        }
        for l in kvMap.producers where !base.attentionSetHasKV(base.weightSharing.attentionSet(layer: l)) {
            throw ConfigError(field, "layer \(l) would need K/V of its own, but the model's layer \(l) reads layer \(base.kvMap.source[l])'s and has no W_K, W_V (a retrofit can only remove K/V)")
        }
        return try DecoderConfig(
            layers: base.layers, dModel: base.dModel,
            attention: try AttentionLayout(qHeads: a.qHeads, kvHeads: kvHeads, headDim: a.headDim),
            ffn: base.ffn, vocab: base.vocab, kvMap: kvMap, weightSharing: base.weightSharing,
            tiedEmbeddings: base.tiedEmbeddings, ropeBase: base.ropeBase, normEps: base.normEps, slidingWindow: base.slidingWindow)
    }

    /// `weights` of a model with config `base`, rewritten for `target` (from `config(_:kvHeads:kvMap:)`).
    public static func weights(_ weights: DecoderWeights, from base: DecoderConfig, to target: DecoderConfig) -> DecoderWeights {
        let d = base.dModel, hd = base.attention.headDim
        let pooled = base.attention.kvHeads / target.attention.kvHeads
        var out = weights
        // One attention weight set per layer unless they are shared.
        for s in weights.attention.indices {
            guard target.attentionSetHasKV(s) else {
                out.attention[s].wk = nil
                out.attention[s].wv = nil
                continue
            }
            if pooled > 1 {
                // Pooled in Float32 from the dequantized values; the pooled rows stay Float32.
                let rows = target.attention.kvElements
                out.attention[s].wk = WeightMatrix(rows: rows, cols: d, floats: meanPool(weights.attention[s].wk!.floats, heads: base.attention.kvHeads, by: pooled, rows: hd, cols: d))
                out.attention[s].wv = WeightMatrix(rows: rows, cols: d, floats: meanPool(weights.attention[s].wv!.floats, heads: base.attention.kvHeads, by: pooled, rows: hd, cols: d))
            }
        }
        return out
    }

    /// Heads `[heads × rows × cols]` → `[heads/by × rows × cols]`, each the mean of `by` consecutive
    /// heads, summed in head order.
    static func meanPool(_ w: [Float], heads: Int, by: Int, rows: Int, cols: Int) -> [Float] {
        let headElements = rows * cols
        var out = [Float](repeating: 0, count: heads / by * headElements)
        for g in 0..<(heads / by) {
            for i in 0..<headElements {
                var sum: Float = 0
                for j in 0..<by { sum += w[(g * by + j) * headElements + i] }
                out[g * headElements + i] = sum / Float(by)
            }
        }
        return out
    }
}
