import AttnEngine

/// A pretrained Llama-architecture model read from a GGUF file, as the engine runs it: the same
/// `DecoderConfig`, `DecoderWeights`, `Decoder`, KV cache and trace as the random models, with the
/// model's own tokenizer. The weight matrices stay in the file's types, read in place from its
/// memory mapping (which they keep alive) and dequantized inside the products; only the norm gains
/// are copied out, as Float32.
///
/// The GGUF metadata drives everything: `llama.block_count`, `llama.embedding_length`,
/// `llama.feed_forward_length`, `llama.attention.head_count(_kv)`, `llama.rope.freq_base`,
/// `llama.attention.layer_norm_rms_epsilon`. There is no `output.weight` when the embeddings are
/// tied, and the LM head is then the token embedding. A checkpoint AttnLab wrote (`Checkpoint`) may
/// add `attnlab.kv_source_map` (a CLA consumer layer then has no `attn_k`/`attn_v`) and
/// `attnlab.weight_sharing` (a shared weight set is stored once, as layer 0's).
///
/// Rotary layout: llama.cpp's converter permutes the rows of W_Q and W_K from Hugging Face's
/// "rotate half" order back into Meta's original order, where RoPE rotates the adjacent pairs
/// (2i, 2i+1) of each head (llama.cpp's `LLAMA_ROPE_TYPE_NORM`) — the engine's `RoPE` — so the
/// weights are used as stored.
public struct PretrainedModel: Sendable {
    /// Short name (`smollm2-135m`) or the file's name.
    public let name: String
    /// `general.name` from the file.
    public let title: String
    public let config: DecoderConfig
    public let weights: DecoderWeights
    public let tokenizer: BPETokenizer
    /// The token that ends a turn or a document, if the file names one.
    public let eosToken: Int?
    /// How a user's turn is wrapped for the model to answer it, nil when its vocabulary has no chat tokens.
    public var chatTemplate: ChatTemplate? { ChatTemplate.detect(tokenizer) }
    /// The context length the model was trained for (`llama.context_length`).
    public let contextTokens: Int
    /// R of a checkpoint trained with latent K/V (`attnlab.kv_latent_rank`): its [W_K; W_V] has rank
    /// at most R. nil for every other model.
    public let kvLatentRank: Int?
    /// Count of the file's tensors by type, e.g. ["Q4_1": 210, "F32": 61, "Q8_0": 1].
    public let tensorTypes: [(type: String, tensors: Int)]
    /// The file's other `attnlab.` metadata in file order — a checkpoint's training provenance
    /// (`attnlab.train.steps`, …) — without the K/V map and weight sharing, which are in `config`.
    public let notes: [(key: String, value: GGUFValue)]

    /// Reads a Llama GGUF; every error names the file and what is wrong.
    public init(file f: GGUFFile, name: String) throws(ConfigError) {
        let path = f.path
        let config = try Self.config(of: f)
        let d = config.dModel, attention = config.attention, ffn = config.ffn, vocab = config.vocab
        let layers = config.layers, tied = config.tiedEmbeddings

        // Every tensor the architecture needs, with the shape it must have ([cols, rows] in GGUF's
        // fastest-first order), checked before any is used: the first missing or misshapen one is
        // the error. A weight set shared by several layers is stored once, as its first layer's.
        let sharing = config.weightSharing
        let attentionSets = sharing.attentionSets(layers: layers), ffnSets = sharing.ffnSets(layers: layers)
        var wanted: [(name: String, dims: [Int])] = [("token_embd.weight", [d, vocab]), ("output_norm.weight", [d])]
        if !tied { wanted.append(("output.weight", [d, vocab])) }
        for l in 0..<layers {
            if l < attentionSets {
                wanted.append(("blk.\(l).attn_norm.weight", [d]))
                wanted.append(("blk.\(l).attn_q.weight", [d, attention.qElements]))
                if config.attentionSetHasKV(l) {
                    wanted += [("blk.\(l).attn_k.weight", [d, attention.kvElements]), ("blk.\(l).attn_v.weight", [d, attention.kvElements])]
                }
                wanted.append(("blk.\(l).attn_output.weight", [attention.qElements, d]))
            }
            if l < ffnSets {
                wanted += [
                    ("blk.\(l).ffn_norm.weight", [d]), ("blk.\(l).ffn_gate.weight", [d, ffn]),
                    ("blk.\(l).ffn_up.weight", [d, ffn]), ("blk.\(l).ffn_down.weight", [ffn, d]),
                ]
            }
        }
        var infos: [GGUFTensorInfo] = []
        for w in wanted {
            guard let t = f.tensor(w.name) else { throw ConfigError(file: path, "tensor '\(w.name)' is missing") }
            guard t.dims == w.dims else { throw ConfigError(file: path, "tensor '\(w.name)' has shape \(t.dims), expected \(w.dims)") }
            infos.append(t)
        }
        try Self.checkAbsent(f, config)
        var next = 0
        func take() -> GGUFTensorInfo {
            defer { next += 1 }
            return infos[next]
        }
        func matrix() -> WeightMatrix {
            let t = take()
            return WeightMatrix(type: t.type, rows: t.dims[1], cols: t.dims[0], bytes: f.bytes(of: t).baseAddress!, owner: f.mapping)
        }
        func gain() -> [Float] { f.floats(take()) }
        let embedding = matrix(), finalNorm = gain(), lmHead = tied ? nil : matrix()
        var attentionWeights: [AttentionWeights] = [], ffnWeights: [FFNWeights] = []
        for l in 0..<layers {
            if l < attentionSets {
                let norm = gain(), wq = matrix()
                let hasKV = config.attentionSetHasKV(l)
                let wk = hasKV ? matrix() : nil, wv = hasKV ? matrix() : nil
                attentionWeights.append(AttentionWeights(norm: norm, wq: wq, wk: wk, wv: wv, wo: matrix()))
            }
            if l < ffnSets { ffnWeights.append(FFNWeights(norm: gain(), w1: matrix(), w3: matrix(), w2: matrix())) }
        }

        guard let tokens = f.value("tokenizer.ggml.tokens")?.array?.compactMap(\.string), tokens.count == vocab else {
            throw ConfigError(file: path, "metadata 'tokenizer.ggml.tokens' is missing or does not hold \(vocab) strings")
        }
        guard f.value("tokenizer.ggml.model")?.string == "gpt2" else {
            throw ConfigError(file: path, "tokenizer '\(f.value("tokenizer.ggml.model")?.string ?? "none")' is not supported (byte-level BPE, 'gpt2', is)")
        }
        let types = f.value("tokenizer.ggml.token_type")?.array?.compactMap { $0.int.map(Int32.init) } ?? []
        let merges = f.value("tokenizer.ggml.merges")?.array?.compactMap(\.string) ?? []

        self.name = name
        title = f.value("general.name")?.string ?? name
        self.config = config
        weights = DecoderWeights(embedding: embedding, attention: attentionWeights, ffn: ffnWeights, finalNorm: finalNorm, lmHead: lmHead)
        tokenizer = try BPETokenizer(tokens: tokens, tokenTypes: types, merges: merges, file: path)
        eosToken = f.value("tokenizer.ggml.eos_token_id")?.int.flatMap { $0 >= 0 && $0 < vocab ? $0 : nil }
        guard let context = f.value("llama.context_length").map({ $0.int }) ?? 2048, context > 0 else {
            throw ConfigError(file: path, "metadata 'llama.context_length' is \(f.value("llama.context_length")!), not a positive integer")
        }
        contextTokens = context
        if let entry = f.value(Checkpoint.kvLatentRankKey) {
            guard let rank = entry.int, rank > 0 else {
                throw ConfigError(file: path, "metadata '\(Checkpoint.kvLatentRankKey)' is \(entry), not a positive integer")
            }
            kvLatentRank = rank
        } else {
            kvLatentRank = nil
        }
        var counts: [String: Int] = [:]
        for t in f.tensors { counts[t.type.description, default: 0] += 1 }
        tensorTypes = counts.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.map { ($0.key, $0.value) }
        notes = f.metadata.filter { $0.key.hasPrefix("attnlab.") && $0.key != Checkpoint.kvSourceMapKey && $0.key != Checkpoint.weightSharingKey }
    }
    /// A tensor the file's `attnlab.` keys say cannot exist — a consumer layer's W_K, a second copy of
    /// a shared weight set — means the keys and the tensors disagree: the file is not what it says.
    private static func checkAbsent(_ f: GGUFFile, _ c: DecoderConfig) throws(ConfigError) {
        let sharing = c.weightSharing
        let attention = ["attn_norm", "attn_q", "attn_k", "attn_v", "attn_output"], ffn = ["ffn_norm", "ffn_gate", "ffn_up", "ffn_down"]
        for l in 0..<c.layers {
            var absent: [(tensor: String, key: String)] = []
            if l >= sharing.attentionSets(layers: c.layers) {
                absent += attention.map { ($0, Checkpoint.weightSharingKey) }
            } else if !c.attentionSetHasKV(l) {
                absent += [("attn_k", Checkpoint.kvSourceMapKey), ("attn_v", Checkpoint.kvSourceMapKey)]
            }
            if l >= sharing.ffnSets(layers: c.layers) { absent += ffn.map { ($0, Checkpoint.weightSharingKey) } }
            for (tensor, key) in absent where f.tensor("blk.\(l).\(tensor).weight") != nil {
                throw ConfigError(file: f.path, "tensor 'blk.\(l).\(tensor).weight' is present, but metadata '\(key)' says layer \(l) has none of its own")
            }
        }
    }

    /// The model's shape from the file's metadata alone (no tensor is read).
    public static func config(of f: GGUFFile) throws(ConfigError) -> DecoderConfig {
        let path = f.path
        // Every number is checked against what the engine can run before anything is derived from it,
        // and the error names the key: a model file is input like a flag.
        func int(_ key: String, _ field: Field) throws(ConfigError) -> Int {
            guard let v = f.value(key)?.int else { throw ConfigError(file: path, "metadata '\(key)' is missing or not an integer") }
            let limit = Limits.maximum(field) ?? Int.max
            guard v > 0 && v <= limit else { throw ConfigError(file: path, "metadata '\(key)' is \(v), outside 1...\(limit)") }
            return v
        }
        func double(_ key: String, default value: Double, in range: ClosedRange<Double>) throws(ConfigError) -> Double {
            guard let entry = f.value(key) else { return value }
            guard let v = entry.double, range.contains(v) else {
                throw ConfigError(file: path, "metadata '\(key)' is \(entry), outside \(range.lowerBound)...\(range.upperBound)")
            }
            return v
        }
        guard let arch = f.value("general.architecture")?.string else { throw ConfigError(file: path, "metadata 'general.architecture' is missing") }
        guard arch == "llama" else { throw ConfigError(file: path, "architecture '\(arch)' is not supported (AttnLab runs llama)") }
        if let scaling = f.value("llama.rope.scaling.type")?.string, scaling != "none" {
            throw ConfigError(file: path, "RoPE scaling '\(scaling)' is not supported")
        }
        let layers = try int("llama.block_count", .layers), d = try int("llama.embedding_length", .dModel)
        let qHeads = try int("llama.attention.head_count", .qHeads)
        let kvHeads = f.value("llama.attention.head_count_kv") == nil ? qHeads : try int("llama.attention.head_count_kv", .kvHeads)
        let ffn = try int("llama.feed_forward_length", .ffn)
        // RoPE turns position p by p·base^(−2i/d): a base below 1 would turn faster than one radian per
        // position, and a NaN or infinite one has no angle at all.
        let ropeBase = try double("llama.rope.freq_base", default: 10_000, in: 1...1e12)
        // RMSNorm divides by √(mean(x²) + ε): ε must be a small positive number.
        let normEps = try double("llama.attention.layer_norm_rms_epsilon", default: 1e-5, in: 1e-12...0.1)
        // A head is d_model / q_heads wide unless `key_length` says otherwise (AttnLab's --head-dim).
        let headDim: Int
        if f.value("llama.attention.key_length") != nil {
            headDim = try int("llama.attention.key_length", .headDim)
            let valueLength = try int("llama.attention.value_length", .headDim)
            guard valueLength == headDim else {
                throw ConfigError(file: path, "metadata 'llama.attention.value_length' is \(valueLength), but AttnLab needs it equal to key_length \(headDim)")
            }
        } else {
            guard d % qHeads == 0 else { throw ConfigError(file: path, "embedding_length \(d) is not divisible by head_count \(qHeads)") }
            headDim = d / qHeads
        }
        if let ropeDims = f.value("llama.rope.dimension_count")?.int, ropeDims != headDim {
            throw ConfigError(file: path, "RoPE on \(ropeDims) of \(headDim) head dimensions is not supported (AttnLab rotates the whole head)")
        }
        guard let embeddingInfo = f.tensor("token_embd.weight"), embeddingInfo.dims.count == 2, embeddingInfo.dims[0] == d else {
            throw ConfigError(file: path, "tensor 'token_embd.weight' is missing or not [\(d), vocab]")
        }
        let kvMap = try kvSourceMap(f, layers: layers)
        let sharing = try weightSharing(f)
        do {
            return try DecoderConfig(
                layers: layers, dModel: d, attention: try AttentionLayout(qHeads: qHeads, kvHeads: kvHeads, headDim: headDim),
                ffn: ffn, vocab: embeddingInfo.dims[1], kvMap: kvMap, weightSharing: sharing,
                tiedEmbeddings: f.tensor("output.weight") == nil, ropeBase: ropeBase, normEps: Float(normEps))
        } catch {
            throw ConfigError(file: path, "its shape is not one AttnLab runs: \(error.reason)")
        }
    }

    /// `attnlab.kv_source_map`: which layer's K/V each layer reads (CLA); every layer its own without it.
    private static func kvSourceMap(_ f: GGUFFile, layers: Int) throws(ConfigError) -> KVSourceMap {
        let key = Checkpoint.kvSourceMapKey
        guard let entry = f.value(key) else { return .unshared(layers: layers) }
        guard let values = entry.array, case let source = values.compactMap(\.int), source.count == values.count else {
            throw ConfigError(file: f.path, "metadata '\(key)' is \(entry), not an array of layer indices")
        }
        guard source.count == layers else {
            throw ConfigError(file: f.path, "metadata '\(key)' has \(source.count) entries but llama.block_count is \(layers)")
        }
        do { return try KVSourceMap(source: source) } catch { throw ConfigError(file: f.path, "metadata '\(key)': \(error.reason)") }
    }

    /// `attnlab.weight_sharing`: which weights the layers share (ALBERT); none without it.
    private static func weightSharing(_ f: GGUFFile) throws(ConfigError) -> WeightSharing {
        let key = Checkpoint.weightSharingKey
        guard let entry = f.value(key) else { return .none }
        guard let name = entry.string, let sharing = WeightSharing(rawValue: name) else {
            throw ConfigError(file: f.path, "metadata '\(key)' is \(entry), not one of \(WeightSharing.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return sharing
    }
}
