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
}
