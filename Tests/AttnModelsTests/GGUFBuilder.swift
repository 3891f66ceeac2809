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
