import Foundation

/// One side of a value-level difference: a JSON value, attachment bytes, or nothing (a key or element absent).
public enum DiffValue: Sendable, Equatable {
    case json(JSONValue)
    case bytes([UInt8])
    case absent

    /// Short text for reports: compact JSON; bytes as `<N bytes 0a1b…>` (the first 16 in hex); `missing`.
    public var text: String {
        switch self {
        case .json(let v): return v.json
        case .bytes(let b):
            let hex = b.prefix(16).map { String(format: "%02x", $0) }.joined()
            return "<\(b.count) bytes \(hex)\(b.count > 16 ? "…" : "")>"
        case .absent: return "missing"
        }
    }
}

/// A value the replay's server sent differently from the recording: where, what was recorded, what came.
/// An absent expected side is an unexpected key or element; an absent actual side, a missing one.
public struct Difference: Sendable, Equatable, CustomStringConvertible {
    public var path: ValuePath
    public var expected: DiffValue
    public var actual: DiffValue

    public init(path: ValuePath, expected: DiffValue, actual: DiffValue) {
        self.path = path
        self.expected = expected
        self.actual = actual
    }

    /// `path: expected X, got Y`, `path: missing (expected X)`, `path: unexpected key (got Y)`.
    public var description: String {
        switch (expected, actual) {
        case (_, .absent): return "\(path): missing (expected \(expected.text))"
        case (.absent, _):
            if case .index = path.segments.last { return "\(path): unexpected element (got \(actual.text))" }
            return "\(path): unexpected key (got \(actual.text))"
        default: return "\(path): expected \(expected.text), got \(actual.text)"
        }
    }
}

/// A value that differed but was not compared, and the rule that said so (a pattern, or "server-made msgId").
public struct IgnoredDifference: Sendable, Equatable {
    public var path: ValuePath
    public var reason: String

    public init(path: ValuePath, reason: String) {
        self.path = path
        self.reason = reason
    }
}

/// What the comparison of one expected message with one actual message found.
public struct Comparison: Sendable, Equatable {
    public var differences: [Difference] = []
    public var ignored: [IgnoredDifference] = []

    /// Equal once ignores are applied.
    public var isEqual: Bool { differences.isEmpty }
}

/// Which values are not compared: the patterns (``IgnorePattern/defaults`` unless given others; pass the defaults
/// plus `--ignore`'s) and, at a key `msgId`, any value that is not one of the msgIds the replayed clients sent
/// themselves, in the recording or the replay (the server made it, so it differs on every run).
public struct IgnoreRules: Sendable {
    public var patterns: [IgnorePattern]
    public var clientMsgIds: Set<String>
    /// Learned noise (`--noise FILE`): ignored like `patterns`, but a message whose values differed only there is
    /// reported as noise (a skipped test case), not as a plain match.
    public var noise: [IgnorePattern]

    public init(
        patterns: [IgnorePattern] = IgnorePattern.defaults, clientMsgIds: Set<String> = [], noise: [IgnorePattern] = []
    ) {
        self.patterns = patterns
        self.clientMsgIds = clientMsgIds
        self.noise = noise
    }

    /// The reason an ignored difference is learned noise starts with this.
    public static let noiseReason = "noise: "

    /// The reason `path` is ignored when its values differ, or nil to compare them.
    func reason(at path: ValuePath, expected: DiffValue, actual: DiffValue) -> String? {
        if let pattern = patterns.first(where: { $0.matches(path) }) { return pattern.description }
        if let pattern = noise.first(where: { $0.matches(path) }) { return Self.noiseReason + pattern.description }
        if case .key("msgId") = path.segments.last, !isClientMsgId(expected), !isClientMsgId(actual) {
            return "server-made msgId"
        }
        return nil
    }

    func isClientMsgId(_ v: DiffValue) -> Bool {
        guard case .json(let json) = v, let id = json.idText else { return false }
        return clientMsgIds.contains(id)
    }

    /// Compares two messages' args and attachments value by value (their identity is the matcher's business).
    public func compare(_ expected: ServerMessage, _ actual: ServerMessage) -> Comparison {
        var result = Comparison()
        let base = ValuePath(of: expected)
        compareList(
            expected.args.map(DiffValue.json), actual.args.map(DiffValue.json), at: base.appending(.key("args")),
            into: &result)
        compareList(
            expected.attachments.map(DiffValue.bytes), actual.attachments.map(DiffValue.bytes),
            at: base.appending(.key("attachments")), into: &result)
        return result
    }

    private func compareList(_ e: [DiffValue], _ a: [DiffValue], at path: ValuePath, into result: inout Comparison) {
        for i in 0..<max(e.count, a.count) {
            compare(
                i < e.count ? e[i] : .absent, i < a.count ? a[i] : .absent, at: path.appending(.index(i)), into: &result
            )
        }
    }

    private func compare(_ e: DiffValue, _ a: DiffValue, at path: ValuePath, into result: inout Comparison) {
        if e == a { return }
        if let reason = reason(at: path, expected: e, actual: a) {
            result.ignored.append(IgnoredDifference(path: path, reason: reason))
            return
        }
        switch (e, a) {
        case (.json(.array(let x)), .json(.array(let y))):
            compareList(x.map(DiffValue.json), y.map(DiffValue.json), at: path, into: &result)
        case (.json(.object(let x)), .json(.object(let y))):
            for key in Set(x.keys).union(y.keys).sorted() {
                compare(
                    x[key].map(DiffValue.json) ?? .absent, y[key].map(DiffValue.json) ?? .absent,
                    at: path.appending(.key(key)), into: &result)
            }
        default:
            result.differences.append(Difference(path: path, expected: e, actual: a))
        }
    }
}

extension JSONValue {
    /// A string's or number's text, as ids are compared; nil for other values.
    public var idText: String? {
        switch self {
        case .string(let s): return s
        case .number(let t): return t
        default: return nil
        }
    }
}
