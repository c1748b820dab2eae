/// Where a value sits inside a server message: a head, then keys and indices. Reports print it in the grammar
/// `--ignore` reads (``IgnorePattern``), so a printed path pasted into `--ignore` ignores exactly that value.
///
/// The head is the event name for events (`chat`), else the kind: `ack`, `connect`, `connect_error`, `disconnect`.
/// Arguments are `.args[N]`, binary attachments `.attachments[N]`. Example: `chat.args[0].receiveTime`. A head or
/// key that is not an identifier (`[A-Za-z_$][A-Za-z0-9_$]*`) prints as `["key"]`, JSON-escaped. An event named
/// like a kind (`ack`) shares that kind's head: patterns name values, and such a clash only widens an ignore.
public struct ValuePath: Sendable, Hashable, CustomStringConvertible {
    /// One step below the head.
    public enum Segment: Sendable, Hashable {
        case key(String)
        case index(Int)
    }

    public var head: String
    public var segments: [Segment]

    public init(head: String, _ segments: [Segment] = []) {
        self.head = head
        self.segments = segments
    }

    /// The path of a message itself: its event name, or its kind.
    public init(of message: ServerMessage) {
        self.init(head: message.kind == .event ? (message.name ?? "") : message.kind.rawValue)
    }

    public func appending(_ segment: Segment) -> ValuePath {
        ValuePath(head: head, segments + [segment])
    }

    public var description: String {
        var out = ValuePath.isIdentifier(head) ? head : "[" + JSONValue.quoted(head) + "]"
        for segment in segments {
            switch segment {
            case .key(let key): out += ValuePath.isIdentifier(key) ? "." + key : "[" + JSONValue.quoted(key) + "]"
            case .index(let i): out += "[\(i)]"
            }
        }
        return out
    }

    /// Whether `s` prints bare: `[A-Za-z_$][A-Za-z0-9_$]*`.
    static func isIdentifier(_ s: String) -> Bool {
        guard let first = s.unicodeScalars.first, isIdentifierStart(first) else { return false }
        return s.unicodeScalars.allSatisfy { isIdentifierStart($0) || ("0"..."9").contains($0) }
    }

    static func isIdentifierStart(_ c: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(c) || ("A"..."Z").contains(c) || c == "_" || c == "$"
    }
}
