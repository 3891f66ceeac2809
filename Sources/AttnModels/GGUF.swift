import AttnEngine
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A GGUF file (the llama.cpp / ggml model format, version 2 or 3), memory-mapped and parsed.
///
/// Layout (ggml's `docs/gguf.md`): magic `GGUF`, version (u32), tensor count (u64), metadata count
/// (u64); the metadata key/values; the tensor infos (name, dims with the fastest-varying first, ggml
/// type, offset into the data section); padding to `general.alignment` (default 32); the tensor data.
/// All integers are little-endian. Every length, count and offset is checked against the file's
/// size before it is used, so a truncated or corrupt file is an error naming the file, never a crash.
public final class GGUFFile: @unchecked Sendable {
    /// The path as given, for errors.
    public let path: String
    public let version: UInt32
    /// Metadata in file order.
    public let metadata: [(key: String, value: GGUFValue)]
    /// Tensor infos in file order.
    public let tensors: [GGUFTensorInfo]
    /// Byte offset of the data section (tensor offsets are relative to it).
    public let dataOffsetBytes: Int
    public let fileBytes: Int
    /// The file's bytes. Weights read in place keep this alive, not the parsed file: its metadata (the
    /// vocabulary and merges, megabytes of strings) is freed once the model is built.
    public let mapping: Mapping
    private var base: UnsafeRawPointer { mapping.base }
    private let tensorIndex: [String: Int]
    private let metadataIndex: [String: Int]

    /// Maps and parses `path`; throws a `ConfigError` whose field is the path.
    public init(path: String) throws(ConfigError) {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw ConfigError(file: path, "cannot open (\(String(cString: strerror(errno))))") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw ConfigError(file: path, "cannot stat (\(String(cString: strerror(errno))))") }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw ConfigError(file: path, "is not a regular file") }
        let size = Int(info.st_size)
        guard size >= 24 else { throw ConfigError(file: path, "is \(size) bytes, too short for a GGUF header (24 bytes)") }
        guard let mapped = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), mapped != MAP_FAILED else {
            throw ConfigError(file: path, "cannot map (\(String(cString: strerror(errno))))")
        }
        let parsed: Parsed
        do {
            parsed = try Parsed(UnsafeRawBufferPointer(start: mapped, count: size))
        } catch {
            munmap(mapped, size)
            throw ConfigError(file: path, error.reason)
        }
        mapping = Mapping(base: UnsafeRawPointer(mapped), bytes: size)
        fileBytes = size
        version = parsed.version
        metadata = parsed.metadata
        tensors = parsed.tensors
        dataOffsetBytes = parsed.dataOffset
        tensorIndex = Dictionary(parsed.tensors.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { first, _ in first })
        metadataIndex = Dictionary(parsed.metadata.enumerated().map { ($1.key, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// A read-only memory mapping, unmapped when the last user lets go.
    public final class Mapping: @unchecked Sendable {
        let base: UnsafeRawPointer
        let bytes: Int

        init(base: UnsafeRawPointer, bytes: Int) {
            self.base = base
            self.bytes = bytes
        }

        deinit { munmap(UnsafeMutableRawPointer(mutating: base), bytes) }
    }

    public func value(_ key: String) -> GGUFValue? { metadataIndex[key].map { metadata[$0].value } }

    public func tensor(_ name: String) -> GGUFTensorInfo? { tensorIndex[name].map { tensors[$0] } }

    /// The raw bytes of a tensor, inside the mapping (valid while this file lives).
    public func bytes(of t: GGUFTensorInfo) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base + dataOffsetBytes + t.offsetBytes, count: t.bytes)
    }

    /// A tensor dequantized to Float32, row-major with the fastest-varying dimension last in memory
    /// (GGUF's `ne[0]` is the row length: a `[in, out]` weight is `out` rows of `in` values).
    public func floats(_ t: GGUFTensorInfo) -> [Float] {
        [Float](unsafeUninitializedCapacity: t.elements) { out, count in
            GGMLType.dequantize(t.type, bytes(of: t), into: out.baseAddress!, elements: t.elements)
            count = t.elements
        }
    }

    /// The parse itself, on the mapped bytes.
    private struct Parsed {
        var version: UInt32 = 0
        var metadata: [(key: String, value: GGUFValue)] = []
        var tensors: [GGUFTensorInfo] = []
        var dataOffset = 0

        init(_ bytes: UnsafeRawBufferPointer) throws(GGUFReadError) {
            var r = GGUFReader(bytes)
            guard try r.u32() == 0x4655_4747 else { throw GGUFReadError("bad magic: not a GGUF file (the first 4 bytes must be 'GGUF')") }
            version = try r.u32()
            guard version == 2 || version == 3 else { throw GGUFReadError("GGUF version \(version) is not supported (2 or 3)") }
            let tensorCount = try r.count("tensor count", minimumBytesEach: 28)
            let metadataCount = try r.count("metadata count", minimumBytesEach: 13)
            for _ in 0..<metadataCount {
                let key = try r.string("metadata key")
                metadata.append((key, try r.value(key: key)))
            }
            var alignment = 32
            if let a = metadata.last(where: { $0.key == "general.alignment" })?.value {
                guard let v = a.int, v > 0, v & (v - 1) == 0, v <= 1 << 20 else {
                    throw GGUFReadError("general.alignment must be a power of two up to 2^20, got \(a)")
                }
                alignment = v
            }
            for _ in 0..<tensorCount {
                let name = try r.string("tensor name")
                let dimCount = Int(try r.u32())
                guard (1...4).contains(dimCount) else { throw GGUFReadError("tensor '\(name)': \(dimCount) dimensions (1 to 4 allowed)") }
                var dims: [Int] = []
                for _ in 0..<dimCount {
                    let n = try r.u64()
                    guard n > 0 && n <= 1 << 40 else { throw GGUFReadError("tensor '\(name)': dimension \(n) is out of range") }
                    dims.append(Int(n))
                }
                let rawType = try r.u32()
                guard let type = GGMLType(rawValue: rawType) else {
                    throw GGUFReadError("tensor '\(name)': ggml type \(rawType) is not supported (F32, F16, BF16, Q8_0, Q4_0, Q4_1 are)")
                }
                let offset = try r.u64()
                let (elements, overflow) = dims.reduce((1, false)) { acc, n in
                    let (p, o) = acc.0.multipliedReportingOverflow(by: n)
                    return (p, acc.1 || o)
                }
                guard !overflow, elements <= 1 << 40 else { throw GGUFReadError("tensor '\(name)': \(dims) holds too many elements") }
                guard dims[0] % type.blockElements == 0 else {
                    throw GGUFReadError("tensor '\(name)': row length \(dims[0]) is not a multiple of \(type)'s block of \(type.blockElements)")
                }
                guard offset <= UInt64(bytes.count) else { throw GGUFReadError("tensor '\(name)': offset \(offset) is past the end of the file (\(bytes.count) bytes)") }
                guard offset % UInt64(alignment) == 0 else { throw GGUFReadError("tensor '\(name)': offset \(offset) is not a multiple of the alignment \(alignment)") }
                tensors.append(GGUFTensorInfo(name: name, dims: dims, type: type, offsetBytes: Int(offset),
                                              bytes: elements / type.blockElements * type.blockBytes))
            }
            dataOffset = (r.offset + alignment - 1) / alignment * alignment
            for t in tensors {
                let (end, overflow) = (dataOffset + t.offsetBytes).addingReportingOverflow(t.bytes)
                guard !overflow, end <= bytes.count else {
                    throw GGUFReadError("tensor '\(t.name)' (\(t.bytes) bytes at data offset \(t.offsetBytes)) runs past the end of the file (\(bytes.count) bytes): truncated?")
                }
            }
        }
    }
}

/// One tensor's description from the GGUF header.
public struct GGUFTensorInfo: Sendable, Equatable {
    public let name: String
    /// Dimensions, fastest-varying first (GGUF's `ne`): a weight `[in, out]` has `out` rows of `in`.
    public let dims: [Int]
    public let type: GGMLType
    /// Offset from the start of the data section.
    public let offsetBytes: Int
    public let bytes: Int

    public var elements: Int { dims.reduce(1, *) }
}

/// A metadata value.
public indirect enum GGUFValue: Sendable, Equatable, CustomStringConvertible {
    case uint(UInt64), int(Int64), float(Double), bool(Bool), string(String), array([GGUFValue])

    /// The value as an Int when it is an integer that fits.
    public var int: Int? {
        switch self {
        case .uint(let v): v <= UInt64(Int.max) ? Int(v) : nil
        case .int(let v): Int(v)
        default: nil
        }
    }

    public var double: Double? {
        switch self {
        case .float(let v): v
        case .uint, .int: int.map(Double.init)
        default: nil
        }
    }

    public var string: String? { if case .string(let s) = self { s } else { nil } }
    public var bool: Bool? { if case .bool(let b) = self { b } else { nil } }
    public var array: [GGUFValue]? { if case .array(let a) = self { a } else { nil } }

    public var description: String {
        switch self {
        case .uint(let v): "\(v)"
        case .int(let v): "\(v)"
        case .float(let v): "\(v)"
        case .bool(let v): "\(v)"
        case .string(let s): "\"\(s)\""
        case .array(let a): "[\(a.count) values]"
        }
    }
}

struct GGUFReadError: Error {
    let reason: String
    init(_ reason: String) { self.reason = reason }
}

/// A bounds-checked little-endian cursor over the mapped file.
private struct GGUFReader {
    let bytes: UnsafeRawBufferPointer
    var offset = 0

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    var remaining: Int { bytes.count - offset }

    mutating func take<T: FixedWidthInteger>(_: T.Type) throws(GGUFReadError) -> T {
        guard remaining >= MemoryLayout<T>.size else {
            throw GGUFReadError("truncated: needed \(MemoryLayout<T>.size) more bytes at offset \(offset) of \(bytes.count)")
        }
        let v = bytes.loadUnaligned(fromByteOffset: offset, as: T.self)
        offset += MemoryLayout<T>.size
        return T(littleEndian: v)
    }

    mutating func u32() throws(GGUFReadError) -> UInt32 { try take(UInt32.self) }
    mutating func u64() throws(GGUFReadError) -> UInt64 { try take(UInt64.self) }

    /// A count of items each taking at least `minimumBytesEach`: more than the rest of the file could
    /// hold is corrupt, caught before anything is allocated for it.
    mutating func count(_ what: String, minimumBytesEach: Int) throws(GGUFReadError) -> Int {
        let n = try u64()
        guard n <= UInt64(remaining / minimumBytesEach) else {
            throw GGUFReadError("\(what) \(n) is impossible in a file of \(bytes.count) bytes")
        }
        return Int(n)
    }

    mutating func string(_ what: String) throws(GGUFReadError) -> String {
        let n = try count("\(what) length", minimumBytesEach: 1)
        let s = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + n)]), as: UTF8.self)
        offset += n
        return s
    }

    mutating func value(key: String, depth: Int = 0) throws(GGUFReadError) -> GGUFValue {
        try value(type: try u32(), key: key, depth: depth)
    }

    mutating func value(type: UInt32, key: String, depth: Int) throws(GGUFReadError) -> GGUFValue {
        switch type {
        case 0: return .uint(UInt64(try take(UInt8.self)))
        case 1: return .int(Int64(try take(Int8.self)))
        case 2: return .uint(UInt64(try take(UInt16.self)))
        case 3: return .int(Int64(try take(Int16.self)))
        case 4: return .uint(UInt64(try take(UInt32.self)))
        case 5: return .int(Int64(try take(Int32.self)))
        case 6: return .float(Double(Float(bitPattern: try take(UInt32.self))))
        case 7:
            switch try take(UInt8.self) {
            case 0: return .bool(false)
            case 1: return .bool(true)
            case let b: throw GGUFReadError("metadata '\(key)': bool byte \(b) is neither 0 nor 1")
            }
        case 8: return .string(try string("metadata '\(key)' string"))
        case 9:
            guard depth == 0 else { throw GGUFReadError("metadata '\(key)': arrays of arrays are not supported") }
            let elementType = try u32()
            let minimum = [0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 8: 8, 10: 8, 11: 8, 12: 8][Int(elementType)] ?? 1
            let n = try count("metadata '\(key)' array length", minimumBytesEach: minimum)
            var values: [GGUFValue] = []
            values.reserveCapacity(n)
            for _ in 0..<n { values.append(try value(type: elementType, key: key, depth: depth + 1)) }
            return .array(values)
        case 10: return .uint(try take(UInt64.self))
        case 11: return .int(try take(Int64.self))
        case 12: return .float(Double(bitPattern: try take(UInt64.self)))
        default: throw GGUFReadError("metadata '\(key)': unknown value type \(type)")
        }
    }
}
