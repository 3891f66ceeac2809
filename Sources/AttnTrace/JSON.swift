/// A JSON value with keys kept in the order they were given, written the same way every time:
/// compact, keys in insertion order, integers as integers, floats in Swift's shortest round-trip form.
public enum JSON: Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    /// `units · 10^−digits`, printed exactly with at most `digits` decimals (a rounded reading).
    case decimal(units: Int, digits: Int)
    case string(String)
    case array([JSON])
    case object([(String, JSON)])

    public static func == (a: JSON, b: JSON) -> Bool { a.serialized() == b.serialized() }

    /// A float rounded to `digits` decimals, for values a person reads (cache rows, weights).
    public static func rounded(_ x: Float, digits: Int = 4) -> JSON {
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let units = (Double(x) * scale).rounded(.toNearestOrAwayFromZero)
        guard units.isFinite, abs(units) < 1e15 else { return .double(Double(x)) }
        return .decimal(units: Int(units), digits: digits)
    }

    public func serialized() -> String {
        var out: [UInt8] = []
        write(to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends the UTF-8 bytes of this value: traces are written as bytes because building them
    /// through `String` cost more than the decode they describe.
    public func write(to out: inout [UInt8]) {
        switch self {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .int(let i): Self.writeInteger(i, to: &out)
        case .double(let d):
            if !d.isFinite { out.append(contentsOf: "null".utf8) }
            else if d == d.rounded(), abs(d) < 1e15 { Self.writeInteger(Int(d), to: &out) }
            else { out.append(contentsOf: String(d).utf8) }
        case .decimal(let units, let digits):
            Self.writeDecimal(units, digits, to: &out)
        case .string(let s): Self.writeString(s, to: &out)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                item.write(to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let fields):
            out.append(UInt8(ascii: "{"))
            for (i, (key, value)) in fields.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                Self.writeString(key, to: &out)
                out.append(UInt8(ascii: ":"))
                value.write(to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    private static func writeInteger(_ n: Int, to out: inout [UInt8]) {
        writeDecimal(n, 0, to: &out)
    }

    /// 12345, 4 → "1.2345"; -500, 4 → "-0.05"; 0 → "0" — digits produced right to left into a
    /// small stack buffer.
    private static func writeDecimal(_ units: Int, _ digits: Int, to out: inout [UInt8]) {
        var magnitude = units.magnitude, decimals = digits
        while decimals > 0 && magnitude % 10 == 0 && magnitude != 0 {
            magnitude /= 10
            decimals -= 1
        }
        if magnitude == 0 { out.append(UInt8(ascii: "0")); return }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 48) { buffer in
            var i = 48
            var produced = 0
            while magnitude > 0 || produced <= decimals {
                if produced == decimals && decimals > 0 {
                    i -= 1
                    buffer[i] = UInt8(ascii: ".")
                }
                i -= 1
                buffer[i] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
                produced += 1
            }
            if units < 0 { out.append(UInt8(ascii: "-")) }
            out.append(contentsOf: buffer[i..<48])
        }
    }

    private static func writeString(_ s: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in s.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: "\\\"".utf8)
            case UInt8(ascii: "\\"): out.append(contentsOf: "\\\\".utf8)
            case UInt8(ascii: "\n"): out.append(contentsOf: "\\n".utf8)
            case UInt8(ascii: "\r"): out.append(contentsOf: "\\r".utf8)
            case UInt8(ascii: "\t"): out.append(contentsOf: "\\t".utf8)
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                out.append(contentsOf: "\\u00".utf8)
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 15)])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}

extension JSON {
    public static func ints(_ values: [Int]) -> JSON { .array(values.map(JSON.int)) }
    public static func floats(_ values: some Sequence<Float>, digits: Int = 4) -> JSON {
        .array(values.map { rounded($0, digits: digits) })
    }
}
