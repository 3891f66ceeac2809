import AttnEngine
import AttnTrace

/// The type a checkpoint's weight matrices are written in. Norm gains are always F32, as llama.cpp's
/// own converter keeps its 1-D tensors.
public enum CheckpointType: String, CaseIterable, Sendable {
    /// Every value exactly as trained.
    case f32
    /// Each value rounded to the nearest fp16, ties to even: half the bytes.
    case f16

    public var ggmlType: GGMLType { self == .f32 ? .f32 : .f16 }

    /// llama.cpp's `general.file_type`: `LLAMA_FTYPE_ALL_F32` (0) or `LLAMA_FTYPE_MOSTLY_F16` (1).
    var fileType: UInt32 { self == .f32 ? 0 : 1 }
}

/// A decoder saved as a Llama GGUF file, which `PretrainedModel` (and so every `--model` command)
/// reads back as it was written.
///
/// Metadata: `general.architecture = llama` and llama.cpp's `llama.*` shape keys; the tokenizer as a
/// byte-level BPE (`tokenizer.ggml.model = gpt2`, pre-tokenizer `smollm`: digits one by one, then
/// GPT-2's split, which is what `BPETokenizer` does). Tensors carry llama.cpp's names
/// (`token_embd.weight`, `blk.N.attn_q.weight`, …, `output.weight` only when the head is untied).
/// The weights go out as the engine holds them: its RoPE turns the adjacent pairs (2i, 2i+1) of a
/// head, which is llama.cpp's NORM rope for llama, so no row is permuted.
///
/// What llama.cpp has no key for goes under `attnlab.`:
/// - `attnlab.kv_source_map` (i32 array, one entry per layer) when some layer reads another's K/V
///   (CLA): a consumer layer has no `attn_k`/`attn_v` tensors;
/// - `attnlab.weight_sharing` (`all`, `attention` or `ffn`) when layers share weights (ALBERT): the
///   shared set is stored once, as layer 0's tensors, and the other layers' are absent;
/// - `attnlab.kv_latent_rank` (u32) when the model was trained with latent K/V of rank R: its
///   `attn_k`/`attn_v` are the products W_kb·W_a, W_vb·W_a, so [W_K; W_V] has rank ≤ R and a latent
///   cache of rank R (`--kv-latent-rank R`) runs it exactly, up to rounding.
///
/// Without either, an MHA, GQA or MQA checkpoint is a standard Llama GGUF that llama.cpp loads as is.
/// `llama.rope.freq_base` is an f32 in every Llama GGUF, so a RoPE base comes back as its nearest
/// Float32 (10,000 and every power of ten up to 10^10 are exact).
public enum Checkpoint {
    /// The K/V source map key: `source[l]` for every layer, present only when some layer is a consumer.
    public static let kvSourceMapKey = "attnlab.kv_source_map"
    /// The weight sharing key: a `WeightSharing` raw value, present only when it is not `none`.
    public static let weightSharingKey = "attnlab.weight_sharing"
    /// The latent rank key: R of a model trained with latent K/V, present only then.
    public static let kvLatentRankKey = "attnlab.kv_latent_rank"

    /// Writes a decoder, its tokenizer and the caller's provenance as a GGUF file, whole or not at all.
    ///
    /// The bytes are a function of the arguments alone (metadata in a fixed order, then `extras` in
    /// the order given; no time, no path), so the same model written twice is the same file. The
    /// file appears atomically (`AtomicFile`): the bytes go to a temporary file beside `path`, are
    /// flushed to disk and renamed over it, so a full disk or a killed process leaves the previous
    /// file at `path` as it was.
    ///
    /// - Parameters:
    ///   - path: the `.gguf` file to write.
    ///   - config: the decoder's shape; its K/V map and weight sharing decide which tensors exist.
    ///   - weights: one attention set and one FFN set per `config.weightSharing`, W_K and W_V only where
    ///     `config.attentionSetHasKV`; any stored type (they are dequantized and re-encoded).
    ///   - tokenizer: a byte-level BPE with exactly `config.vocab` tokens.
    ///   - contextTokens: `llama.context_length`: the training sequence length or more.
    ///   - tensorType: F32 (exact) or F16 for the matrices.
    ///   - name: `general.name`.
    ///   - bosToken: `tokenizer.ggml.bos_token_id`, if the vocabulary has one.
    ///   - eosToken: `tokenizer.ggml.eos_token_id`, if the vocabulary has one (generation stops there).
    ///   - kvLatentRank: R when the weights' W_K, W_V are products through an R-element latent.
    ///   - extras: more key/values, written last in this order: training provenance such as
    ///     `attnlab.train.steps`, `attnlab.train.seed`, `attnlab.train.corpus`, the validation loss.
    /// - Throws: `ConfigError` naming `path` if an extra key repeats one the checkpoint writes (or
    ///   another extra), or if the file cannot be written (no such folder, no permission, a full
    ///   disk) — with the system's reason; the previous file at `path` is then untouched.
    public static func write(
        path: String, config: DecoderConfig, weights: DecoderWeights, tokenizer: BPETokenizer, contextTokens: Int,
        tensorType: CheckpointType, name: String, bosToken: Int? = nil, eosToken: Int? = nil, kvLatentRank: Int? = nil,
        extras: [(key: String, value: GGUFWriter.Value)] = []
    ) throws(ConfigError) {
        var writer = gguf(config: config, weights: weights, tokenizer: tokenizer, contextTokens: contextTokens,
                          tensorType: tensorType, name: name, bosToken: bosToken, eosToken: eosToken, kvLatentRank: kvLatentRank)
        for (key, value) in extras {
            guard !writer.has(key) else { throw ConfigError(file: path, "metadata key '\(key)' is given twice (an extra cannot repeat a key the checkpoint writes)") }
            writer.set(key, value)
        }
        do { try AtomicFile.write(writer.data(), to: path) } catch { throw ConfigError(file: path, error.reason) }
    }

    /// The file without extras: metadata, then tensors in llama.cpp's order.
    private static func gguf(
        config c: DecoderConfig, weights w: DecoderWeights, tokenizer: BPETokenizer, contextTokens: Int,
        tensorType: CheckpointType, name: String, bosToken: Int?, eosToken: Int?, kvLatentRank: Int?
    ) -> GGUFWriter {
        let a = c.attention, sharing = c.weightSharing
        precondition(tokenizer.count == c.vocab, "the tokenizer has \(tokenizer.count) tokens, the model \(c.vocab)")
        precondition(contextTokens > 0 && contextTokens <= Int(UInt32.max), "context length \(contextTokens)")
        precondition(w.attention.count == sharing.attentionSets(layers: c.layers) && w.ffn.count == sharing.ffnSets(layers: c.layers),
                     "\(w.attention.count) attention and \(w.ffn.count) FFN weight sets do not match \(sharing) sharing over \(c.layers) layers")
        precondition((w.lmHead == nil) == c.tiedEmbeddings, "an LM head must be given exactly when the embeddings are untied")
        for id in [bosToken, eosToken].compactMap({ $0 }) { precondition(id >= 0 && id < c.vocab, "token id \(id) is outside the vocabulary") }

        var g = GGUFWriter()
        func u32(_ key: String, _ v: Int) { g.set(key, .u32(UInt32(v))) }
        g.set("general.architecture", .string("llama"))
        g.set("general.name", .string(name))
        g.set("general.file_type", .u32(tensorType.fileType))
        u32("llama.context_length", contextTokens)
        u32("llama.embedding_length", c.dModel)
        u32("llama.block_count", c.layers)
        u32("llama.feed_forward_length", c.ffn)
        u32("llama.rope.dimension_count", a.headDim)
        u32("llama.attention.head_count", a.qHeads)
        u32("llama.attention.head_count_kv", a.kvHeads)
        if a.qElements != c.dModel {
            // llama.cpp's keys for heads whose width is not d_model / q_heads.
            u32("llama.attention.key_length", a.headDim)
            u32("llama.attention.value_length", a.headDim)
        }
        g.set("llama.rope.freq_base", .f32(Float(c.ropeBase)))
        g.set("llama.attention.layer_norm_rms_epsilon", .f32(c.normEps))
        if c.kvMap != .unshared(layers: c.layers) { g.set(kvSourceMapKey, .i32s(c.kvMap.source.map(Int32.init))) }
        if sharing != .none { g.set(weightSharingKey, .string(sharing.rawValue)) }
        if let kvLatentRank {
            precondition(kvLatentRank > 0 && kvLatentRank <= Int(UInt32.max), "latent rank \(kvLatentRank)")
            g.set(kvLatentRankKey, .u32(UInt32(kvLatentRank)))
        }

        g.set("tokenizer.ggml.model", .string("gpt2"))
        g.set("tokenizer.ggml.pre", .string("smollm"))
        g.set("tokenizer.ggml.tokens", .strings(tokenizer.tokens))
        g.set("tokenizer.ggml.token_type", .i32s(tokenizer.tokenTypes))
        g.set("tokenizer.ggml.merges", .strings(tokenizer.mergeRules))
        if let bosToken { u32("tokenizer.ggml.bos_token_id", bosToken) }
        if let eosToken { u32("tokenizer.ggml.eos_token_id", eosToken) }
        // AttnLab never puts a BOS token in front of a text; llama.cpp would unless told.
        g.set("tokenizer.ggml.add_bos_token", .bool(false))

        let type = tensorType.ggmlType, d = c.dModel
        // A matrix whose shape is not the config's would make a file no reader accepts.
        func matrix(_ name: String, _ m: WeightMatrix, rows: Int, cols: Int) {
            precondition(m.rows == rows && m.cols == cols, "\(name) is \(m.rows) × \(m.cols), the config says \(rows) × \(cols)")
            g.addTensor(name, m, as: type)
        }
        func gain(_ name: String, _ v: [Float]) {
            precondition(v.count == d, "\(name) has \(v.count) values, the config says \(d)")
            g.addTensor(name, v, as: .f32)
        }
        matrix("token_embd.weight", w.embedding, rows: c.vocab, cols: d)
        for l in 0..<c.layers {
            if l < w.attention.count {
                let set = w.attention[l]
                precondition((set.wk != nil && set.wv != nil) == c.attentionSetHasKV(l), "attention set \(l): W_K and W_V must be present exactly on producers")
                gain("blk.\(l).attn_norm.weight", set.norm)
                matrix("blk.\(l).attn_q.weight", set.wq, rows: a.qElements, cols: d)
                if let wk = set.wk, let wv = set.wv {
                    matrix("blk.\(l).attn_k.weight", wk, rows: a.kvElements, cols: d)
                    matrix("blk.\(l).attn_v.weight", wv, rows: a.kvElements, cols: d)
                }
                matrix("blk.\(l).attn_output.weight", set.wo, rows: d, cols: a.qElements)
            }
            if l < w.ffn.count {
                let set = w.ffn[l]
                gain("blk.\(l).ffn_norm.weight", set.norm)
                matrix("blk.\(l).ffn_gate.weight", set.w1, rows: c.ffn, cols: d)
                matrix("blk.\(l).ffn_up.weight", set.w3, rows: c.ffn, cols: d)
                matrix("blk.\(l).ffn_down.weight", set.w2, rows: d, cols: c.ffn)
            }
        }
        gain("output_norm.weight", w.finalNorm)
        if let head = w.lmHead { matrix("output.weight", head, rows: c.vocab, cols: d) }
        return g
    }
}
