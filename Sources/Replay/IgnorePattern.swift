import Foundation

/// A `--ignore` rule: a ``ValuePath`` with wildcards. Values at matching paths are not compared; where they differ
/// the verdict lists them as ignored.
///
/// Grammar (the path grammar plus three wildcards):
///
///     pattern := step ( "." name | "[" index "]" | "[" string "]" )*
///     step    := name | "[" string "]"
///     name    := identifier | "*" | "**"
///     index   := digits | "*"
///
/// `*` is any one head or key, `[*]` any one index, `**` any number of steps (zero or more), head included:
/// `**.receiveTime` matches that key anywhere in any message. `string` is a JSON string literal.
public struct IgnorePattern: Sendable, Hashable, CustomStringConvertible {
    /// One step of a pattern; the head counts as a name step.
    public enum Step: Sendable, Hashable {
        case name(String)
        case anyName
        case index(Int)
        case anyIndex
        case anyDepth
    }

    public var steps: [Step]
    /// The text the pattern was parsed from (or its printed form), as reports list it.
    public let description: String

    /// The rules always on: session ids, clock times and per-message ids differ on every run.
    public static let defaults: [IgnorePattern] = ["**.sid", "**.sendTime", "**.receiveTime", "**.id"].map {
        try! IgnorePattern(parsing: $0)
    }

    /// Parses `text`; a ``PathPatternError`` names the column (1-based) where it stops making sense.
    public init(parsing text: String) throws(PathPatternError) {
        var parser = Parser(Array(text.unicodeScalars))
        steps = try parser.parse()
        description = text
    }

    /// Whether the pattern matches all of `path`.
    public func matches(_ path: ValuePath) -> Bool {
        let names: [ValuePath.Segment] = [.key(path.head)] + path.segments
        // memo[i][j]: steps[i...] matches names[j...]; small (patterns are short), computed bottom-up.
        let n = steps.count
        let m = names.count
        var memo = Array(repeating: Array(repeating: false, count: m + 1), count: n + 1)
        memo[n][m] = true
        for i in stride(from: n - 1, through: 0, by: -1) {
            for j in stride(from: m, through: 0, by: -1) {
                switch steps[i] {
                case .anyDepth:
                    memo[i][j] = memo[i + 1][j] || (j < m && memo[i][j + 1])
                default:
                    memo[i][j] = j < m && IgnorePattern.step(steps[i], matches: names[j]) && memo[i + 1][j + 1]
                }
            }
        }
        return memo[0][0]
    }

    private static func step(_ step: Step, matches segment: ValuePath.Segment) -> Bool {
        switch (step, segment) {
        case (.name(let a), .key(let b)): return a == b
        case (.anyName, .key): return true
        case (.index(let a), .index(let b)): return a == b
        case (.anyIndex, .index): return true
        default: return false
        }
    }

    private struct Parser {
        let s: [Unicode.Scalar]
        var i = 0

        init(_ s: [Unicode.Scalar]) { self.s = s }

        func fail(_ message: String, at index: Int? = nil) -> PathPatternError {
            PathPatternError(column: (index ?? i) + 1, message: message)
        }

        mutating func parse() throws(PathPatternError) -> [Step] {
            guard !s.isEmpty else { throw fail("empty pattern") }
            var steps: [Step] = []
            if s[i] == "[" {
                steps.append(try bracket(allowIndex: false))
            } else {
                steps.append(try name(after: "start"))
            }
            while i < s.count {
                switch s[i] {
                case ".":
                    i += 1
                    steps.append(try name(after: "'.'"))
                case "[":
                    steps.append(try bracket(allowIndex: true))
                default:
                    throw fail("expected '.' or '[', found '\(s[i])'")
                }
            }
            return steps
        }

        mutating func name(after what: String) throws(PathPatternError) -> Step {
            let start = i
            if i < s.count, s[i] == "*" {
                i += 1
                if i < s.count, s[i] == "*" {
                    i += 1
                    if i < s.count, s[i] == "*" { throw fail("'***' is not a wildcard; use '*' or '**'") }
                    return .anyDepth
                }
                return .anyName
            }
            guard i < s.count, ValuePath.isIdentifierStart(s[i]) else {
                if i == s.count { throw fail("expected a key after \(what), found the end") }
                throw fail("expected a key after \(what), found '\(s[i])' (quote other keys as [\"key\"])")
            }
            while i < s.count, ValuePath.isIdentifierStart(s[i]) || ("0"..."9").contains(s[i]) { i += 1 }
            return .name(String(String.UnicodeScalarView(s[start..<i])))
        }

        mutating func bracket(allowIndex: Bool) throws(PathPatternError) -> Step {
            let open = i
            i += 1
            let step: Step
            if i < s.count, s[i] == "\"" {
                step = .name(try string())
            } else if i < s.count, s[i] == "*", allowIndex {
                i += 1
                step = .anyIndex
            } else if i < s.count, ("0"..."9").contains(s[i]), allowIndex {
                let start = i
                while i < s.count, ("0"..."9").contains(s[i]) { i += 1 }
                guard let n = Int(String(String.UnicodeScalarView(s[start..<i]))) else {
                    throw fail("index too large", at: start)
                }
                step = .index(n)
            } else {
                throw fail(
                    allowIndex ? "expected an index, '*' or a quoted key after '['" : "expected a quoted key after '['")
            }
            guard i < s.count, s[i] == "]" else { throw fail("expected ']' to close the '[' at column \(open + 1)") }
            i += 1
            return step
        }

        /// A JSON string literal starting at `s[i]`, decoded by Foundation once its end is found.
        mutating func string() throws(PathPatternError) -> String {
            let start = i
            i += 1
            while i < s.count, s[i] != "\"" {
                i += s[i] == "\\" ? 2 : 1
            }
            guard i < s.count else { throw fail("unterminated string", at: start) }
            i += 1
            let literal = String(String.UnicodeScalarView(s[start..<i]))
            guard let key = try? JSONDecoder().decode(String.self, from: Data(literal.utf8)) else {
                throw fail("invalid JSON string \(literal)", at: start)
            }
            return key
        }
    }
}

extension IgnorePattern: ExpressibleByStringLiteral {
    /// A pattern written in code; a bad one is a programming error.
    public init(stringLiteral value: String) {
        try! self.init(parsing: value)
    }
}

/// Why an `--ignore` pattern did not parse, and where (a 1-based column).
public struct PathPatternError: Error, Sendable, Equatable, CustomStringConvertible {
    public var column: Int
    public var message: String

    public init(column: Int, message: String) {
        self.column = column
        self.message = message
    }

    public var description: String { "column \(column): \(message)" }
}
