/// A check's comparison: `mqa_cla2.kv_bytes_per_token * 2 == mqa.kv_bytes_per_token`.
public struct Comparison: Sendable, Equatable {
    public enum Operator: String, Sendable, CaseIterable { case eq = "==", ne = "!=", le = "<=", ge = ">=", lt = "<", gt = ">", approx = "~=" }

    public let left: Expression
    public let op: Operator
    public let right: Expression

    /// Parses one comparison, or says what is wrong with it.
    public static func parse(_ text: String) throws(ParseFailure) -> Comparison {
        var parser = Parser(text)
        let left = try parser.sum()
        guard let op = parser.comparison() else { throw ParseFailure("expected one of == != <= >= < > ~= after '\(parser.consumed)'") }
        let right = try parser.sum()
        guard parser.atEnd else { throw ParseFailure("unexpected '\(parser.rest)'") }
        return Comparison(left: left, op: op, right: right)
    }

    /// Evaluates both sides; unknown names are an error naming them.
    public func evaluate(_ values: [String: Double]) throws(ParseFailure) -> (holds: Bool, left: Double, right: Double) {
        let a = try left.value(values), b = try right.value(values)
        guard a.isFinite, b.isFinite else { throw ParseFailure("a side is \(a.isFinite ? b : a) (a division by zero?)") }
        let holds: Bool
        switch op {
        case .eq: holds = a == b
        case .ne: holds = a != b
        case .le: holds = a <= b
        case .ge: holds = a >= b
        case .lt: holds = a < b
        case .gt: holds = a > b
        case .approx: holds = abs(a - b) <= 1e-9 * max(abs(a), abs(b), 1e-300)
        }
        return (holds, a, b)
    }

    /// Every value name the comparison uses.
    public var names: [String] { left.names + right.names }
}

extension Expression {
    /// Parses an arithmetic expression on its own (a narration placeholder such as `a / b`).
    public static func parse(_ text: String) throws(ParseFailure) -> Expression {
        var parser = Parser(text)
        let e = try parser.sum()
        guard parser.atEnd else { throw ParseFailure("unexpected '\(parser.rest)'") }
        return e
    }
}

public struct ParseFailure: Error, Sendable {
    public let reason: String
    init(_ reason: String) { self.reason = reason }
}

/// Arithmetic over numbers and value names.
public indirect enum Expression: Sendable, Equatable {
    case number(Double)
    case name(String)
    case binary(Character, Expression, Expression)
    case negate(Expression)

    public func value(_ values: [String: Double]) throws(ParseFailure) -> Double {
        switch self {
        case .number(let x): return x
        case .name(let n):
            guard let v = values[n] else {
                let near = values.keys.sorted().filter { $0.hasSuffix(n.split(separator: ".").last.map(String.init) ?? n) }.prefix(3)
                throw ParseFailure("unknown value '\(n)'" + (near.isEmpty ? "" : " (did you mean \(near.joined(separator: ", "))?)"))
            }
            return v
        case .negate(let e): return -(try e.value(values))
        case let .binary(op, a, b):
            let x = try a.value(values), y = try b.value(values)
            switch op {
            case "+": return x + y
            case "-": return x - y
            case "*": return x * y
            default: return x / y
            }
        }
    }

    public var names: [String] {
        switch self {
        case .number: []
        case .name(let n): [n]
        case .negate(let e): e.names
        case let .binary(_, a, b): a.names + b.names
        }
    }
}

/// Recursive descent over `sum := product (('+'|'-') product)*`, `product := factor (('*'|'/') factor)*`,
/// `factor := number | name | '(' sum ')' | '-' factor`.
private struct Parser {
    let chars: [Character]
    var at = 0

    init(_ text: String) { chars = Array(text) }

    var atEnd: Bool { mutating get { skipSpaces(); return at == chars.count } }
    var rest: String { String(chars[at...]) }
    var consumed: String { String(chars[..<at]).trimmingSpaces }

    mutating func skipSpaces() { while at < chars.count && chars[at] == " " { at += 1 } }

    mutating func comparison() -> Comparison.Operator? {
        skipSpaces()
        for op in [Comparison.Operator.eq, .ne, .le, .ge, .approx, .lt, .gt] {
            let symbol = Array(op.rawValue)
            if at + symbol.count <= chars.count && Array(chars[at..<(at + symbol.count)]) == symbol {
                at += symbol.count
                return op
            }
        }
        return nil
    }

    mutating func sum() throws(ParseFailure) -> Expression {
        var e = try product()
        while true {
            skipSpaces()
            guard at < chars.count, chars[at] == "+" || chars[at] == "-" else { return e }
            let op = chars[at]
            at += 1
            e = .binary(op, e, try product())
        }
    }

    mutating func product() throws(ParseFailure) -> Expression {
        var e = try factor()
        while true {
            skipSpaces()
            guard at < chars.count, chars[at] == "*" || chars[at] == "/" else { return e }
            let op = chars[at]
            at += 1
            e = .binary(op, e, try factor())
        }
    }

    mutating func factor() throws(ParseFailure) -> Expression {
        skipSpaces()
        guard at < chars.count else { throw ParseFailure("expression ends early") }
        let c = chars[at]
        if c == "(" {
            at += 1
            let e = try sum()
            skipSpaces()
            guard at < chars.count, chars[at] == ")" else { throw ParseFailure("missing ')'") }
            at += 1
            return e
        }
        if c == "-" {
            at += 1
            return .negate(try factor())
        }
        if c.isNumber || c == "." {
            var text = ""
            while at < chars.count, chars[at].isNumber || chars[at] == "." || chars[at] == "e" || chars[at] == "E"
                    || ((chars[at] == "-" || chars[at] == "+") && (text.last == "e" || text.last == "E")) {
                text.append(chars[at])
                at += 1
            }
            guard let v = Double(text) else { throw ParseFailure("'\(text)' is not a number") }
            return .number(v)
        }
        if c.isLetter || c == "_" {
            var text = ""
            while at < chars.count, chars[at].isLetter || chars[at].isNumber || chars[at] == "_" || chars[at] == "." {
                text.append(chars[at])
                at += 1
            }
            return .name(text)
        }
        throw ParseFailure("unexpected '\(c)'")
    }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}
