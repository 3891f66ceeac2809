import AttnEngine
import Foundation
import Testing
import AttnModels

/// One tensor of each supported type, with blocks whose values follow from the format's definition:
/// fp16 0x3800 = 0.5, 0x3400 = 0.25, 0xBC00 = −1, 0x3E00 = 1.5, 0xC000 = −2, 0x7BFF = 65504,
/// 0x0001 = 2^−24 (the smallest subnormal); bf16 0x3F80 = 1, 0xC040 = −3.
private func sampleFile(alignment: Int = 32) -> GGUFBuilder {
    var b = GGUFBuilder()
    b.alignment = alignment
    if alignment != 32 { b.metadata.append(("general.alignment", .u32(UInt32(alignment)))) }
    b.metadata += [
        ("general.architecture", .string("llama")), ("u8", .u8(200)), ("i8", .i8(-7)), ("u16", .u16(65535)), ("i16", .i16(-300)),
        ("u32", .u32(4_000_000_000)), ("i32", .i32(-5)), ("f32", .f32(0.25)), ("t", .bool(true)), ("u64", .u64(1 << 40)),
        ("i64", .i64(-1 << 40)), ("f64", .f64(1e-300)), ("words", .strings(["a", "ß", "キャッシュ"])), ("ids", .i32s([3, -1])),
    ]
    // Q8_0: d = 0.5, q = −16…15 → x = q/2.
    let q8 = le16(0x3800) + (0..<32).map { UInt8(bitPattern: Int8($0 - 16)) }
    // Q4_0: d = 0.25; byte j = (15 − j%16) << 4 | j%16 → x[j] = (j − 8)/4, x[j+16] = (7 − j)/4.
    let q40 = le16(0x3400) + (0..<16).map { UInt8(15 - $0) << 4 | UInt8($0) }
    // Q4_1: d = 0.5, m = −1; the same nibbles → x[j] = j/2 − 1, x[j+16] = (15 − j)/2 − 1.
    let q41 = le16(0x3800) + le16(0xBC00) + (0..<16).map { UInt8(15 - $0) << 4 | UInt8($0) }
    let f16 = [0x3E00, 0xC000, 0x7BFF, 0x0001].flatMap { le16(UInt16($0)) }
    let bf16 = [0x3F80, 0xC040].flatMap { le16(UInt16($0)) }
    let f32 = [Float(3.5), -0.125].flatMap { v in withUnsafeBytes(of: v.bitPattern.littleEndian) { Array($0) } }
    b.tensors = [
        ("q8", [32], 8, q8), ("q4_0", [32], 2, q40), ("q4_1", [32], 3, q41),
        ("f16", [2, 2], 1, f16), ("bf16", [2], 30, bf16), ("f32", [2], 0, f32),
    ]
    return b
}

@Suite("GGUF reader")
struct GGUFReaderTests {
    @Test("header, every metadata type and tensor infos", arguments: [32, 64])
    func header(alignment: Int) throws {
        let f = try GGUFFile(path: try sampleFile(alignment: alignment).write())
        #expect(f.version == 3)
        #expect(f.value("general.architecture") == .string("llama"))
        #expect(f.value("u8")?.int == 200 && f.value("i8")?.int == -7 && f.value("u16")?.int == 65535 && f.value("i16")?.int == -300)
        #expect(f.value("u32")?.int == 4_000_000_000 && f.value("i32")?.int == -5 && f.value("f32")?.double == 0.25)
        #expect(f.value("t")?.bool == true && f.value("u64")?.int == 1 << 40 && f.value("i64")?.int == -1 << 40 && f.value("f64")?.double == 1e-300)
        #expect(f.value("words")?.array?.compactMap(\.string) == ["a", "ß", "キャッシュ"])
        #expect(f.value("ids")?.array?.compactMap(\.int) == [3, -1])
        #expect(f.tensors.map(\.name) == ["q8", "q4_0", "q4_1", "f16", "bf16", "f32"])
        #expect(f.tensor("q4_1")?.bytes == 20 && f.tensor("q8")?.bytes == 34 && f.tensor("f16")?.dims == [2, 2])
        #expect(f.dataOffsetBytes % alignment == 0)
        #expect(f.tensors.allSatisfy { $0.offsetBytes % alignment == 0 })
    }

    @Test("each dequantizer gives the values its block format defines")
    func dequantize() throws {
        let f = try GGUFFile(path: try sampleFile().write())
        let q8: [Float] = (0..<32).map { Float($0 - 16) / 2 }
        let q40: [Float] = (0..<16).map { Float($0 - 8) / 4 } + (0..<16).map { Float(7 - $0) / 4 }
        let q41: [Float] = (0..<16).map { Float($0) / 2 - 1 } + (0..<16).map { Float(15 - $0) / 2 - 1 }
        #expect(f.floats(f.tensor("q8")!) == q8)
        #expect(f.floats(f.tensor("q4_0")!) == q40)
        #expect(f.floats(f.tensor("q4_1")!) == q41)
        #expect(f.floats(f.tensor("f16")!) == [1.5, -2, 65504, 1.0 / 16_777_216])
        #expect(f.floats(f.tensor("bf16")!) == [1, -3])
        #expect(f.floats(f.tensor("f32")!) == [3.5, -0.125])
    }

    @Test("every truncation of a valid file is an error naming the file, never a crash")
    func truncated() throws {
        let bytes = sampleFile().bytes()
        // The last tensor's padding is not data, so cuts inside it still parse; every shorter cut must not.
        let lastDataEnd = bytes.count - 32 + 8
        for length in stride(from: 0, to: lastDataEnd, by: 1) {
            let path = try GGUFBuilder.write(Array(bytes[0..<length]))
            #expect(throws: ConfigError.self, "prefix of \(length) bytes") { try GGUFFile(path: path) }
        }
    }

    @Test("corrupt headers are rejected with the reason")
    func corrupt() throws {
        func reason(_ bytes: [UInt8]) throws -> String {
            let path = try GGUFBuilder.write(bytes)
            do {
                _ = try GGUFFile(path: path)
                return "parsed"
            } catch {
                #expect(error.subject == .file(path))
                return error.reason
            }
        }
        var bytes = sampleFile().bytes()
        bytes[0] = UInt8(ascii: "X")
        #expect(try reason(bytes).contains("bad magic"))

        var b = sampleFile()
        b.version = 1
        #expect(try reason(b.bytes()).contains("version 1"))

        bytes = sampleFile().bytes()
        bytes.replaceSubrange(8..<16, with: [0, 0, 0, 0, 0, 0, 0, 0x10])            // tensor count 2^60
        #expect(try reason(bytes).contains("tensor count"))

        b = sampleFile()
        b.tensors[0].type = 12                                                          // Q4_K
        #expect(try reason(b.bytes()).contains("ggml type 12"))

        b = sampleFile()
        b.tensors[1].dims = [16]                                                        // half a Q4_0 block
        #expect(try reason(b.bytes()).contains("not a multiple"))

        b = sampleFile()
        b.tensors[5].dims = [1 << 20]                                                   // 4 MiB of F32 in a tiny file
        #expect(try reason(b.bytes()).contains("past the end"))

        b = sampleFile()
        b.metadata.append(("general.alignment", .u32(24)))
        #expect(try reason(b.bytes()).contains("power of two"))

        #expect(try reason([]).contains("too short"))
    }

    @Test("random byte flips in the header never crash the reader")
    func fuzz() throws {
        let bytes = sampleFile().bytes()
        var rng = SplitMix64(seed: 7)
        for _ in 0..<300 {
            var broken = bytes
            for _ in 0..<3 {
                let i = Int(rng.next() % UInt64(min(broken.count, 700)))
                broken[i] = UInt8(truncatingIfNeeded: rng.next())
            }
            let path = try GGUFBuilder.write(broken)
            if let f = try? GGUFFile(path: path) {
                for t in f.tensors { _ = f.floats(t) }                                 // whatever parsed is readable
            }
        }
    }

    @Test("a missing file and a folder are errors")
    func notAFile() {
        #expect(throws: ConfigError.self) { try GGUFFile(path: "/nonexistent/model.gguf") }
        #expect(throws: ConfigError.self) { try GGUFFile(path: FileManager.default.temporaryDirectory.path) }
    }
}
