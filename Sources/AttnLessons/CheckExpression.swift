/// A check's comparison: `mqa_cla2.kv_bytes_per_token * 2 == mqa.kv_bytes_per_token`.
public struct Comparison: Sendable, Equatable {
    public enum Operator: String, Sendable, CaseIterable { case eq = "==", ne = "!=", le = "<=", ge = ">=", lt = "<", gt = ">", approx = "~=" }

    public let left: Expression
    public let op: Operator
    public let right: Expression

    /// Parses one comparison, or says what is wrong with it.
    public static func parse(_ text: String) throws(ParseFailure) -> Comparison {
        var parser = try Parser(text)
        let left = try parser.sum()
        guard let op = parser.comparison() else { throw ParseFailure("expected one of == != <= >= < > ~= after \(quoted(parser.consumed))") }
        let right = try parser.sum()
        guard parser.atEnd else { throw ParseFailure("unexpected \(quoted(parser.rest))") }
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

    /// What is wrong with the comparison whatever the values: a division by a constant zero.
    public func staticProblem() -> ParseFailure? { left.staticProblem() ?? right.staticProblem() }
}

extension Expression {
    /// Parses an arithmetic expression on its own (a narration placeholder such as `a / b`).
    public static func parse(_ text: String) throws(ParseFailure) -> Expression {
        var parser = try Parser(text)
        let e = try parser.sum()
        guard parser.atEnd else { throw ParseFailure("unexpected \(quoted(parser.rest))") }
        return e
    }

    /// The longest expression the parser reads, in characters: far beyond any real check, and small
    /// enough that nothing about one can exhaust the stack or take long.
    public static let maxLength = 4096
    /// The deepest nesting of parentheses and unary minuses the parser reads; parsing and evaluating
    /// recurse once per level, so this bounds their stack.
    public static let maxDepth = 64
}

public struct ParseFailure: Error, Sendable {
    public let reason: String
    init(_ reason: String) { self.reason = reason }
}

/// Arithmetic over numbers and value names, with `floor`, `ceil`, `min` and `max` so that a lesson
/// can compute an answer such as ⌊free / bytes per request⌋ instead of typing it. Operands of one
/// precedence level form one `chain` (`a - b + c` is `.chain(a, [- b, + c])`), so a long sum is a long
/// array, not a deep tree: the tree is only as deep as parentheses, calls and minus signs nest, which
/// the parser bounds by `maxDepth`.
public indirect enum Expression: Sendable, Equatable {
    case number(Double)
    case name(String)
    /// `first`, then each operation applied left to right; every operator of one chain has the same precedence.
    case chain(Expression, [Operation])
    case negate(Expression)
    /// `floor(x)`, `min(a, b, c)`.
    case call(Function, [Expression])

    /// The functions an expression may call.
    public enum Function: String, Sendable, CaseIterable {
        case floor, ceil, min, max

        /// The arguments it takes: one for `floor` and `ceil`, two or more for `min` and `max`.
        var arity: ClosedRange<Int> {
            switch self {
            case .floor, .ceil: 1...1
            case .min, .max: 2...Int.max
            }
        }

        func apply(_ x: [Double]) -> Double {
            switch self {
            case .floor: x[0].rounded(.down)
            case .ceil: x[0].rounded(.up)
            case .min: x.dropFirst().reduce(x[0]) { Swift.min($0, $1) }
            case .max: x.dropFirst().reduce(x[0]) { Swift.max($0, $1) }
            }
        }
    }

    /// `+ b`, `/ c`: one step of a chain.
    public struct Operation: Sendable, Equatable {
        public enum Operator: Character, Sendable { case add = "+", subtract = "-", multiply = "*", divide = "/" }
        public let op: Operator
        public let operand: Expression
    }

    public func value(_ values: [String: Double]) throws(ParseFailure) -> Double {
        switch self {
        case .number(let x): return x
        case .name(let n):
            guard let v = values[n] else {
                let near = values.keys.sorted().filter { $0.hasSuffix(n.split(separator: ".").last.map(String.init) ?? n) }.prefix(3)
                throw ParseFailure("unknown value \(quoted(n))" + (near.isEmpty ? "" : " (did you mean \(near.joined(separator: ", "))?)"))
            }
            return v
        case .negate(let e): return -(try e.value(values))
        case let .call(f, arguments):
            var x: [Double] = []
            for a in arguments { x.append(try a.value(values)) }
            return f.apply(x)
        case let .chain(first, operations):
            var x = try first.value(values)
            for operation in operations {
                let y = try operation.operand.value(values)
                switch operation.op {
                case .add: x += y
                case .subtract: x -= y
                case .multiply: x *= y
                case .divide: x /= y
                }
            }
            return x
        }
    }

    public var names: [String] {
        switch self {
        case .number: []
        case .name(let n): [n]
        case .negate(let e): e.names
        case .call(_, let arguments): arguments.flatMap(\.names)
        case let .chain(first, operations): first.names + operations.flatMap(\.operand.names)
        }
    }

    /// The value when the expression names no value.
    var constant: Double? { names.isEmpty ? try? value([:]) : nil }

    /// A division by a constant zero (`a / 0`, `a / (2 - 2)`): an error whatever the run gives.
    public func staticProblem() -> ParseFailure? {
        switch self {
        case .number, .name: return nil
        case .negate(let e): return e.staticProblem()
        case .call(_, let arguments): return arguments.lazy.compactMap { $0.staticProblem() }.first
        case let .chain(first, operations):
            if let problem = first.staticProblem() { return problem }
            for operation in operations {
                if let problem = operation.operand.staticProblem() { return problem }
                if operation.op == .divide, operation.operand.constant == 0 { return ParseFailure("divides by zero") }
            }
            return nil
        }
    }
}

/// Recursive descent over `sum := product (('+'|'-') product)*`, `product := factor (('*'|'/') factor)*`,
/// `factor := number | name | function '(' sum (',' sum)* ')' | '(' sum ')' | '-' factor`; sums and
/// products loop, and only parentheses, calls and minus signs recurse, at most `Expression.maxDepth` deep.
private struct Parser {
    let chars: [Character]
    var at = 0
    var depth = 0

    init(_ text: String) throws(ParseFailure) {
        chars = Array(text)
        guard chars.count <= Expression.maxLength else {
            throw ParseFailure("is \(chars.count) characters long; an expression has at most \(Expression.maxLength) (split it into several checks)")
        }
    }

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

    /// `first (op operand)*` for the operators of one precedence level.
    mutating func chain(_ symbols: [Expression.Operation.Operator], _ operand: (inout Parser) throws(ParseFailure) -> Expression) throws(ParseFailure) -> Expression {
        let first = try operand(&self)
        var operations: [Expression.Operation] = []
        while true {
            skipSpaces()
            guard at < chars.count, let op = Expression.Operation.Operator(rawValue: chars[at]), symbols.contains(op) else { break }
            at += 1
            operations.append(.init(op: op, operand: try operand(&self)))
        }
        return operations.isEmpty ? first : .chain(first, operations)
    }

    mutating func sum() throws(ParseFailure) -> Expression {
        try chain([.add, .subtract]) { p throws(ParseFailure) in try p.product() }
    }

    mutating func product() throws(ParseFailure) -> Expression {
        try chain([.multiply, .divide]) { p throws(ParseFailure) in try p.factor() }
    }

    /// One level deeper, or an error when the nesting is too deep.
    mutating func nested<T>(_ parse: (inout Parser) throws(ParseFailure) -> T) throws(ParseFailure) -> T {
        guard depth < Expression.maxDepth else {
            throw ParseFailure("nests parentheses, calls and minus signs more than \(Expression.maxDepth) deep")
        }
        depth += 1
        defer { depth -= 1 }
        return try parse(&self)
    }

    mutating func factor() throws(ParseFailure) -> Expression {
        skipSpaces()
        guard at < chars.count else { throw ParseFailure("expression ends early") }
        let c = chars[at]
        if c == "(" {
            at += 1
            let e = try nested { p throws(ParseFailure) in try p.sum() }
            skipSpaces()
            guard at < chars.count, chars[at] == ")" else { throw ParseFailure("missing ')'") }
            at += 1
            return e
        }
        if c == "-" {
            at += 1
            return .negate(try nested { p throws(ParseFailure) in try p.factor() })
        }
        if c.isNumber || c == "." {
            var text = ""
            while at < chars.count, chars[at].isNumber || chars[at] == "." || chars[at] == "e" || chars[at] == "E"
                    || ((chars[at] == "-" || chars[at] == "+") && (text.last == "e" || text.last == "E")) {
                text.append(chars[at])
                at += 1
            }
            guard let v = Double(text), v.isFinite else { throw ParseFailure("\(quoted(text)) is not a number") }
            return .number(v)
        }
        if c.isLetter || c == "_" {
            var text = ""
            while at < chars.count, chars[at].isLetter || chars[at].isNumber || chars[at] == "_" || chars[at] == "." {
                text.append(chars[at])
                at += 1
            }
            skipSpaces()
            guard at < chars.count, chars[at] == "(" else { return .name(text) }
            return try call(text)
        }
        throw ParseFailure("unexpected \(quoted(String(c)))")
    }
}

extension Parser {
    /// `name(a, b, …)`, with the parser at the `(`.
    mutating func call(_ name: String) throws(ParseFailure) -> Expression {
        guard let f = Expression.Function(rawValue: name) else {
            throw ParseFailure("unknown function \(quoted(name)) (known: \(Expression.Function.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        at += 1
        let arguments = try nested { p throws(ParseFailure) in try p.arguments() }
        guard f.arity.contains(arguments.count) else {
            let wanted = f.arity.count == 1 ? "exactly 1 argument" : "at least \(f.arity.lowerBound) arguments"
            throw ParseFailure("\(name) takes \(wanted), got \(arguments.count)")
        }
        return .call(f, arguments)
    }

    /// `a, b, …)` or `)`: a call's arguments, through its closing parenthesis.
    private mutating func arguments() throws(ParseFailure) -> [Expression] {
        var list: [Expression] = []
        skipSpaces()
        if at < chars.count, chars[at] == ")" {
            at += 1
            return list
        }
        while true {
            list.append(try sum())
            skipSpaces()
            guard at < chars.count else { throw ParseFailure("missing ')'") }
            at += 1
            if chars[at - 1] == ")" { return list }
            guard chars[at - 1] == "," else { throw ParseFailure("expected ',' or ')' after \(quoted(String(chars[..<(at - 1)]).trimmingSpaces))") }
        }
    }
}

/// User text inside a one-line message: in quotes, with what would break the line escaped (a newline
/// as `\n`, other control and line-separator characters as `\u{…}`), cut after 60 characters with `…`.
func quoted(_ text: String) -> String {
    "'" + oneLine(text.count > 60 ? String(text.prefix(60)) + "…" : text) + "'"
}

/// `text` with every character that could start a new line, or move the cursor, escaped.
func oneLine(_ text: String) -> String {
    var out = ""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            switch scalar.properties.generalCategory {
            case .control, .lineSeparator, .paragraphSeparator: out += "\\u{\(String(scalar.value, radix: 16))}"
            default: out.unicodeScalars.append(scalar)
            }
        }
    }
    return out
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}
