import ArgumentParser
import AttnEngine
import AttnExperiments

/// The model flags every verb shares. A `--preset` gives all of them; any flag given next to it
/// overrides that one field (e.g. `--preset llama-3-8b --cla 2` asks what CLA2 would do to Llama 3).
struct ModelOptions: ParsableArguments {
    @Option(help: "A published configuration (see `attnlab presets`), e.g. llama-3-8b, cla1b-h128-mqa-cla2.")
    var preset: [String] = []

    @Option(name: .customLong("model"), help: "A pretrained model instead of random weights: smollm2-135m (`attnlab model fetch` gets it) or a path to a Llama .gguf file. The file sets the shape; --kv-heads, --cla, --kv-pattern or --kv-map then retrofit K/V sharing onto it without training.")
    var pretrained: String?

    @OptionGroup var models: ModelsDirOption

    @Option(parsing: .unconditional, help: "Number of transformer layers L. (default: 4)")
    var layers: Int?

    @Option(name: .customLong("d-model"), parsing: .unconditional, help: "Model (residual stream) width. (default: 64)")
    var dModel: Int?

    @Option(name: .customLong("q-heads"), parsing: .unconditional, help: "Query heads. (default: 4)")
    var qHeads: Int?

    @Option(name: .customLong("kv-heads"), parsing: .unconditional, help: "Key/value heads: = q-heads is MHA, 1 is MQA, between is GQA. (default: q-heads)")
    var kvHeads: Int?

    @Option(name: .customLong("head-dim"), parsing: .unconditional, help: "Width of one head. (default: d-model / q-heads)")
    var headDim: Int?

    @Option(parsing: .unconditional, help: "Hidden width of the SwiGLU FFN. (default: Llama's rule, 8/3·d-model rounded up to 32)")
    var ffn: Int?

    @Option(parsing: .unconditional, help: "Vocabulary size. (default: the \(CharVocabulary.count)-character built-in vocabulary)")
    var vocab: Int?

    @Option(parsing: .unconditional, help: "Cross-Layer Attention sharing factor S: groups of S layers share one K/V cache.")
    var cla: Int?

    @Option(name: .customLong("kv-pattern"), parsing: .unconditional, help: "A named layer → K/V map: none, cla:S, keep-ends, dense-front, dense-back.")
    var kvPattern: String?

    @Option(name: .customLong("kv-map"), parsing: .unconditional, help: "An explicit layer → K/V source list, e.g. 0,0,2,2 (layer l reads layer map[l]'s cache).")
    var kvMap: String?

    @Flag(name: .customLong("share-weights"), help: "ALBERT-style: every layer uses one set of weights (same as --weight-sharing all).")
    var shareWeights = false

    @Option(name: .customLong("weight-sharing"), help: "Cross-layer weight sharing: none, all, attention, ffn.")
    var weightSharing: WeightSharing?

    @Option(parsing: .unconditional, help: "Sliding-window attention: each token sees itself and the W − 1 tokens before it, and the cache keeps W (presets carry their own: mistral-7b 4096).")
    var window: Int?

    /// The same flags as the experiments layer reads them.
    var spec: ModelSpec {
        var m = ModelSpec()
        // Given more than once, the last; `draw` refuses that unless it draws them all (kv-chart).
        (m.preset, m.pretrained, m.modelsDir) = (preset.last, pretrained, models.dir)
        (m.layers, m.dModel, m.qHeads, m.kvHeads, m.headDim, m.ffn, m.vocab) = (layers, dModel, qHeads, kvHeads, headDim, ffn, vocab)
        (m.cla, m.kvPattern, m.kvMap) = (cla, kvPattern, kvMap)
        (m.shareWeights, m.weightSharing, m.window) = (shareWeights, weightSharing, window)
        return m
    }
}

/// `--models-dir`, for every verb that reads pretrained models.
struct ModelsDirOption: ParsableArguments {
    @Option(name: .customLong("models-dir"), help: "Folder of pretrained models. (default: $ATTNLAB_MODELS_DIR, else models)")
    var dir: String?
}

extension DType: ExpressibleByArgument {}
extension RecordDetail: ExpressibleByArgument {}
extension WeightSharing: ExpressibleByArgument {}
