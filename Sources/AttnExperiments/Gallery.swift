import AttnEngine
import AttnFigures
import AttnTiling
import AttnTrace

/// One of every figure kind, from small real runs: what `attnlab gallery` renders and the README shows.
public enum GalleryFigures {
    /// The tile run the gallery shows: causal FlashAttention-2, N = 256, d = 64, M = 8,192, every step recorded.
    static func tiles() throws(ConfigError) -> TileResult {
        var options = TileOptions(algorithm: .fa2, sramElements: 8192)
        options.recordSteps = true
        options.watchRow = 255
        return try TiledAttention.run(try TileProblem(n: 256, d: 64, causal: true), options)
    }

    /// The figures, named as their files, in the order the README shows them.
    public enum Name: String, CaseIterable, Sendable {
        case heads, layers, tiles, cache, attention, kvChart = "kv-chart", ioChart = "io-chart", tradeoff
    }

    /// The figure `name`, drawn from its own small run: each can be drawn on its own thread.
    public static func figure(_ name: Name, style: Style) throws -> Figure {
        let llama3 = Presets.named("llama-3-8b")!.decoder!
        switch name {
        case .heads: return try HeadsDiagram.figure(llama3, dtype: .bf16, style: style)
        case .layers:
            let cla3 = try DecoderConfig(layers: 10, dModel: 512, attention: AttentionLayout(qHeads: 8, kvHeads: 2, headDim: 64), ffn: 1376,
                                         vocab: 32000, kvMap: KVPattern.cla(3).map(layers: 10))
            return try LayersDiagram.figure(cla3, dtype: .bf16, style: style)
        case .tiles: return try TilesDiagram.figure(try tiles(), steps: false, style: style)
        case .cache:
            let decode = try smallDecode()
            return try CacheDiagram.figure(decode, step: decode.result.steps.count - 1, style: style)
        case .attention:
            let decode = try smallDecode()
            return try AttentionDiagram.figure(decode, layer: decode.config.layers - 1, style: style)
        case .kvChart:
            return try Charts.kvChart(Charts.kvSeries(for: llama3, name: "Llama 3 8B", dtype: .bf16), contexts: [1024, 8192, 32768, 65536, 131072],
                                      logY: false, subtitle: style.en("Llama 3 8B: 32 layers, 32 query heads × 128, bf16, batch 1", ja: "Llama 3 8B:32層、クエリヘッド32 × 128、bf16、バッチ1"), style: style)
        case .ioChart:
            let ioRuns = try Sweep.run(over: .sram, values: SweepAxis.sram.defaultValues, sramElements: 0, dtype: .fp32, backward: false,
                                       problem: { n throws(ConfigError) in try TileProblem(n: n, d: 64) }, n: 1024)
            return try Charts.ioChart(ioRuns, over: .sram, subtitle: style.en("N = 1024, d = 64, forward pass; every count from a real run", ja: "N = 1024、d = 64、順伝播。どの数も実際の実行から"), style: style)
        case .tradeoff: return try Charts.tradeoff(Presets.all.filter { $0.name.hasPrefix("cla1b-") }, style: style)
        }
    }

    /// The decode the cache and attention figures show: a 4-layer CLA-2 decoder with random
    /// weights, "the cat sat on the mat" and six greedy tokens, every attention weight kept.
    static func smallDecode() throws -> DecodeRun {
        let small = try DecoderConfig(layers: 4, dModel: 64, attention: AttentionLayout(qHeads: 4, kvHeads: 2, headDim: 16), ffn: 192,
                                      vocab: CharVocabulary.count, kvMap: KVPattern.cla(2).map(layers: 4))
        let prompt = try CharVocabulary.encode("the cat sat on the mat", vocab: small.vocab)
        let decoder = Decoder(config: small, weights: DecoderWeights(config: small, seed: 1), capacityTokens: prompt.count + 5)
        var sampler = Sampler(temperature: 0, seed: 1)
        // Full detail keeps the attention weights for the attention figure; the cache figure ignores them.
        return DecodeRun(config: small, seed: 1, temperature: 0, cacheDType: .fp32, detail: .full,
                         result: decoder.generate(prompt: prompt, tokens: 6, sampler: &sampler, detail: .full), maxAbsDiff: nil)
    }

    /// The tiles figure with a page per step.
    public static func tileSteps(style: Style) throws -> Figure {
        try TilesDiagram.figure(try tiles(), steps: true, style: style)
    }
}
