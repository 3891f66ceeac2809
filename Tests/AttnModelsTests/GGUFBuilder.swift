import Foundation

/// Writes small GGUF files byte by byte, following the format description (not AttnLab's reader), so
/// the reader is tested against files it did not make.
struct GGUFBuilder {
    enum Value {
        case u8(UInt8), i8(Int8), u16(UInt16), i16(Int16), u32(UInt32), i32(Int32), f32(Float), bool(Bool)
        case string(String), u64(UInt64), i64(Int64), f64(Double), strings([String]), i32s([Int32])
    }

    var version: UInt32 = 3
    var alignment = 32
    var metadata: [(String, Value)] = []
    var tensors: [(name: String, dims: [UInt64], type: UInt32, data: [UInt8])] = []

    func bytes() -> [UInt8] {
        var out: [UInt8] = []
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { out += $0 } }
        func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { out += $0 } }
        func string(_ s: String) { u64(UInt64(s.utf8.count)); out += s.utf8 }
        out += Array("GGUF".utf8)
        u32(version)
        u64(UInt64(tensors.count))
        u64(UInt64(metadata.count))
        for (key, value) in metadata {
            string(key)
            switch value {
            case .u8(let v): u32(0); out.append(v)
            case .i8(let v): u32(1); out.append(UInt8(bitPattern: v))
            case .u16(let v): u32(2); withUnsafeBytes(of: v.littleEndian) { out += $0 }
            case .i16(let v): u32(3); withUnsafeBytes(of: v.littleEndian) { out += $0 }
            case .u32(let v): u32(4); u32(v)
            case .i32(let v): u32(5); u32(UInt32(bitPattern: v))
            case .f32(let v): u32(6); u32(v.bitPattern)
            case .bool(let v): u32(7); out.append(v ? 1 : 0)
            case .string(let v): u32(8); string(v)
            case .u64(let v): u32(10); u64(v)
            case .i64(let v): u32(11); u64(UInt64(bitPattern: v))
            case .f64(let v): u32(12); u64(v.bitPattern)
            case .strings(let list): u32(9); u32(8); u64(UInt64(list.count)); list.forEach(string)
            case .i32s(let list): u32(9); u32(5); u64(UInt64(list.count)); list.forEach { u32(UInt32(bitPattern: $0)) }
            }
        }
        var offset: UInt64 = 0
        var offsets: [UInt64] = []
        for t in tensors {
            offsets.append(offset)
            offset += UInt64((t.data.count + alignment - 1) / alignment * alignment)
        }
        for (t, o) in zip(tensors, offsets) {
            string(t.name)
            u32(UInt32(t.dims.count))
            t.dims.forEach(u64)
            u32(t.type)
            u64(o)
        }
        while out.count % alignment != 0 { out.append(0) }
        for t in tensors {
            out += t.data
            while out.count % alignment != 0 { out.append(0) }
        }
        return out
    }

    /// Writes the file into a fresh temporary folder and returns its path.
    func write(_ name: String = "test.gguf") throws -> String { try Self.write(bytes(), name) }

    static func write(_ bytes: [UInt8], _ name: String = "test.gguf") throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("attnlab-gguf-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let url = dir.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url.path
    }
}

/// Little-endian bytes of fp16 bit patterns, for building blocks.
func le16(_ bits: UInt16) -> [UInt8] { [UInt8(bits & 0xFF), UInt8(bits >> 8)] }

extension GGUFBuilder {
    /// A one-layer Llama small enough to write in a test: d_model 8, 2 heads of 4, FFN 16, tied
    /// embeddings, and a byte-level BPE vocabulary of the 256 single bytes (GPT-2's byte alphabet), so
    /// it decodes token ids and scores any UTF-8 text. Every weight is drawn from a fixed sequence
    /// except that `poison` (NaN, say) replaces the first value of W_Q; `metadata` entries replace the
    /// defaults of the same key.
    static func tinyLlama(metadata overrides: [(String, Value)] = [], poison: Float? = nil) -> GGUFBuilder {
        let d = 8, ffn = 16
        var b = GGUFBuilder()
        var metadata: [(String, Value)] = [
            ("general.architecture", .string("llama")), ("general.name", .string("tiny")),
            ("llama.block_count", .u32(1)), ("llama.embedding_length", .u32(UInt32(d))),
            ("llama.feed_forward_length", .u32(UInt32(ffn))), ("llama.attention.head_count", .u32(2)),
            ("llama.attention.head_count_kv", .u32(2)), ("llama.rope.freq_base", .f32(10_000)),
            ("llama.attention.layer_norm_rms_epsilon", .f32(1e-5)), ("llama.context_length", .u32(64)),
            ("tokenizer.ggml.model", .string("gpt2")), ("tokenizer.ggml.tokens", .strings(byteAlphabet)),
            ("tokenizer.ggml.token_type", .i32s(Array(repeating: 1, count: 256))), ("tokenizer.ggml.merges", .strings([])),
        ]
        for (key, value) in overrides {
            if let i = metadata.firstIndex(where: { $0.0 == key }) { metadata[i].1 = value } else { metadata.append((key, value)) }
        }
        b.metadata = metadata
        var state: UInt32 = 1
        func tensor(_ name: String, _ dims: [Int], norm: Bool = false) {
            var values = [Float]()
            for _ in 0..<dims.reduce(1, *) {
                state = state &* 1_664_525 &+ 1_013_904_223
                values.append(norm ? 1 : Float(Int(state >> 16) % 200 - 100) / 400)
            }
            if name == "blk.0.attn_q.weight", let poison { values[0] = poison }
            b.tensors.append((name, dims.map(UInt64.init), 0, values.flatMap { v in withUnsafeBytes(of: v.bitPattern.littleEndian) { Array($0) } }))
        }
        tensor("token_embd.weight", [d, 256])
        tensor("output_norm.weight", [d], norm: true)
        tensor("blk.0.attn_norm.weight", [d], norm: true)
        tensor("blk.0.attn_q.weight", [d, d])
        tensor("blk.0.attn_k.weight", [d, d])
        tensor("blk.0.attn_v.weight", [d, d])
        tensor("blk.0.attn_output.weight", [d, d])
        tensor("blk.0.ffn_norm.weight", [d], norm: true)
        tensor("blk.0.ffn_gate.weight", [d, ffn])
        tensor("blk.0.ffn_up.weight", [d, ffn])
        tensor("blk.0.ffn_down.weight", [ffn, d])
        return b
    }

    /// GPT-2's byte → character table: printable bytes stand for themselves, the rest for 256 + n.
    static let byteAlphabet: [String] = {
        var next = 256
        return (0..<256).map { byte in
            if (33...126).contains(byte) || (161...172).contains(byte) || (174...255).contains(byte) { return String(UnicodeScalar(UInt8(byte))) }
            defer { next += 1 }
            return String(UnicodeScalar(UInt16(next))!)
        }
    }()
}
