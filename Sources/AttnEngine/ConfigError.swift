/// A configuration that cannot describe a model, with the flag or field at fault and the reason.
///
/// `field` uses the CLI's spelling (`--kv-heads`) so the command line can print the error as it is.
public struct ConfigError: Error, Equatable, Sendable, CustomStringConvertible {
    public let field: String
    public let reason: String

    public init(_ field: String, _ reason: String) {
        self.field = field
        self.reason = reason
    }

    public var description: String { "\(field): \(reason)" }

    /// Throws unless `value` is in 1...limit, so that every product of sizes stays far inside Int.
    public static func requireSize(_ value: Int, atMost limit: Int, _ field: String) throws(ConfigError) {
        guard value > 0 else { throw ConfigError(field, "must be positive, got \(value)") }
        guard value <= limit else { throw ConfigError(field, "\(value) is above AttnLab's limit of \(limit)") }
    }
}
