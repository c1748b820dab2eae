/// How bad a diagnostic is.
public enum Severity: UInt8, Sendable, Comparable {
    /// Notable but normal (a capture that starts mid-connection).
    case info
    /// Something is wrong or lost, decoding went on (a gap, a truncated packet).
    case warning
    /// A protocol violation or a limit that cost data.
    case error

    public var name: String {
        switch self {
        case .info: return "info"
        case .warning: return "warning"
        case .error: return "error"
        }
    }

    public static func < (lhs: Severity, rhs: Severity) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// One kind of diagnostic: a stable, layer-prefixed code with its severity and meaning.
///
/// Every kind is listed in ``DiagnosticKind/catalogue``; `Docs/diagnostics.md` documents the same list and a
/// test keeps the two equal. Codes are part of the output contract and never change once released.
public struct DiagnosticKind: Hashable, Sendable {
    public let code: String
    public let severity: Severity
    /// One sentence: what happened and what imscope did about it.
    public let summary: String

    public init(_ code: String, _ severity: Severity, _ summary: String) {
        self.code = code
        self.severity = severity
        self.summary = summary
    }

    /// The layer a code belongs to: the part before the first dot.
    public var layer: Substring { code.prefix(while: { $0 != "." }) }
}

/// A diagnostic raised while decoding: what kind, a message for people, and where it happened.
public struct Diagnostic: Sendable {
    public var kind: DiagnosticKind
    public var message: String
    /// Where in the capture, when known.
    public var ts: Timestamp?
    public var frame: UInt64?
    public var conn: Int?
    public var dir: Direction?

    public init(
        _ kind: DiagnosticKind, _ message: String, ts: Timestamp? = nil, frame: UInt64? = nil, conn: Int? = nil,
        dir: Direction? = nil
    ) {
        self.kind = kind
        self.message = message
        self.ts = ts
        self.frame = frame
        self.conn = conn
        self.dir = dir
    }

    public var code: String { kind.code }
    public var severity: Severity { kind.severity }
}
