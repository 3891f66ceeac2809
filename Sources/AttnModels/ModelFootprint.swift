import AttnEngine

/// The weight bytes one decoded token reads: the number that bounds decoding from above, because at
/// batch 1 every weight is used once per token and the machine's memory bandwidth, not its arithmetic,
/// sets the pace (`bench --model` prints it beside a measured bandwidth).
///
/// One token is multiplied by every matrix of every layer and by the whole LM head, and reads one row
/// of the token embedding; the norm vectors are read whole. When the embeddings are tied the LM head
/// *is* the embedding, read once whole. The KV cache is not counted here: it grows with the context
/// (`KVBudget.bytesReadPerContextToken`).
public struct ModelFootprint: Sendable, Equatable {
    /// Bytes per token as this engine holds the weights: the matrices in their stored type
    /// (`WeightMatrix`, computed in place), the norm vectors as Float32.
    public let heldBytesPerToken: Int
    /// Bytes per token as the file stores them (quantized blocks, F16, F32): what an engine that
    /// computes on the stored blocks in place reads, as llama.cpp does.
    public let storedBytesPerToken: Int
    /// The stored types of the tensors counted, most bytes first, e.g. `["Q4_1", "Q8_0", "F32"]`.
    public let storedTypes: [String]

    /// Counts `model`'s weights as it holds them, and the tensors of `file` (the file it was read from)
    /// as stored there.
    public init(model: PretrainedModel, file: GGUFFile) {
        let w = model.weights, floatBytes = MemoryLayout<Float>.size
        // With its own LM head the embedding is read one row per token; tied, it is the LM head.
        var held = (w.finalNorm.count) * floatBytes
        if let head = w.lmHead {
            held += head.bytes + w.embedding.rowBytes
        } else {
            held += w.embedding.bytes
        }
        for a in w.attention {
            held += a.norm.count * floatBytes + a.wq.bytes + (a.wk?.bytes ?? 0) + (a.wv?.bytes ?? 0) + a.wo.bytes
        }
        for f in w.ffn { held += f.norm.count * floatBytes + f.w1.bytes + f.w3.bytes + f.w2.bytes }
        heldBytesPerToken = held

        let tied = file.tensor("output.weight") == nil
        var stored = 0
        var bytesByType: [String: Int] = [:]
        for t in file.tensors {
            // One row of the embedding is looked up; all of it when it is also the LM head.
            let bytes = t.name == "token_embd.weight" && !tied ? t.bytes / max(1, t.dims.last ?? 1) : t.bytes
            stored += bytes
            bytesByType[t.type.description, default: 0] += bytes
        }
        storedBytesPerToken = stored
        storedTypes = bytesByType.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.map(\.key)
    }
}
