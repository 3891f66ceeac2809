import AttnEngine

/// The flags of one action as a lesson or a command line gives them, in order: a name (`d-model`,
/// written without dashes) and a value, or no value for a bare switch (`verify: true`, `--verify`).
public struct Flags: Sendable, Equatable {
    public struct Flag: Sendable, Equatable {
        public let name: String
        public let value: String?

        public init(_ name: String, _ value: String?) {
            self.name = name
            self.value = value
        }
    }

    public var list: [Flag]

    public init(_ list: [Flag] = []) { self.list = list }

    /// As `attnlab` takes them: `["--preset", "llama-3-8b", "--verify"]`.
    public var arguments: [String] { list.flatMap { ["--\($0.name)"] + ($0.value.map { [$0] } ?? []) } }
}

/// Reads typed values out of `Flags` by `Field`. Every field asked for is remembered, so that
/// `finish()` can refuse a flag nobody asked for and suggest the nearest known one: the flags an
/// action takes are whatever its `init` reads, declared once, spelled by `Field.flagName`.
public struct FlagReader {
    private var given: [String: String?] = [:]
    private var order: [String] = []
    /// Every field the action asked for, in order.
    public private(set) var known: [Field] = []

    public init(_ flags: Flags) throws(ConfigError) {
        for flag in flags.list {
            guard given[flag.name] == nil else { throw ConfigError(.named(flag.name), "is given twice; give it once") }
            given[flag.name] = flag.value
            order.append(flag.name)
        }
    }

    private mutating func take(_ field: Field) -> String?? {
        if !known.contains(field) { known.append(field) }
        return given.removeValue(forKey: field.flagName)
    }

    /// A value flag's text, nil when absent.
    public mutating func string(_ field: Field) throws(ConfigError) -> String? {
        guard let value = take(field) else { return nil }
        guard let value else { throw ConfigError(field, "needs a value") }
        return value
    }

    /// A whole number (negative numbers are read too, so the range checks can name them).
    public mutating func int(_ field: Field) throws(ConfigError) -> Int? {
        guard let text = try string(field) else { return nil }
        guard let v = Int(text) else { throw ConfigError(field, "'\(text)' is not a whole number") }
        return v
    }

    public mutating func uint64(_ field: Field) throws(ConfigError) -> UInt64? {
        guard let text = try string(field) else { return nil }
        guard let v = UInt64(text) else { throw ConfigError(field, "'\(text)' is not a non-negative whole number") }
        return v
    }

    public mutating func double(_ field: Field) throws(ConfigError) -> Double? {
        guard let text = try string(field) else { return nil }
        guard let v = Double(text) else { throw ConfigError(field, "'\(text)' is not a number") }
        return v
    }

    /// A bare switch: present or not.
    public mutating func flag(_ field: Field) throws(ConfigError) -> Bool {
        guard let value = take(field) else { return false }
        guard value == nil else { throw ConfigError(field, "is a switch and takes no value") }
        return true
    }

    /// One of a closed set of names (an enum whose raw values are the flag's spellings).
    public mutating func choice<T: RawRepresentable & CaseIterable>(_ field: Field, _: T.Type = T.self) throws(ConfigError) -> T?
    where T.RawValue == String {
        guard let text = try string(field) else { return nil }
        guard let v = T(rawValue: text) else {
            throw ConfigError(field, "unknown value '\(text)' (expected \(T.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        return v
    }

    /// Refuses the flags nobody asked for, naming the nearest known flag.
    public func finish() throws(ConfigError) {
        guard let name = order.first(where: { given[$0] != nil }) else { return }
        let near = known.map(\.flagName).min { editDistance($0, name) < editDistance($1, name) }
        let hint = near.map { editDistance($0, name) <= 3 ? " — did you mean '\($0)'?" : "" } ?? ""
        throw ConfigError(.named(name), "unknown flag for this action\(hint)")
    }

    /// Builds a value from flags and checks that every flag was used.
    public static func read<T>(_ flags: Flags, _ make: (inout FlagReader) throws(ConfigError) -> T) throws(ConfigError) -> T {
        var reader = try FlagReader(flags)
        let value = try make(&reader)
        try reader.finish()
        return value
    }
}

/// "1024,2048" → [1024, 2048], each positive, at least `minimum` of them.
public func parseList(_ text: String, field: Field, minimum: Int = 1) throws(ConfigError) -> [Int] {
    var list: [Int] = []
    for part in text.split(separator: ",") {
        guard let v = Int(part.filter { $0 != " " }), v > 0 else { throw ConfigError(field, "'\(part)' is not a positive integer") }
        list.append(v)
    }
    guard list.count >= minimum else {
        throw ConfigError(field, minimum == 2 ? "a sweep needs at least two values" : "needs at least \(minimum) value\(minimum == 1 ? "" : "s")")
    }
    return list
}
