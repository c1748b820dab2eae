/// A Socket.IO packet the server sent to one client, as the verdict compares it: recorded (an expectation, with
/// its frame) or received in the replay. Engine.IO packets (open, ping, pong, noop) are not server messages.
public struct ServerMessage: Sendable, Equatable {
    public enum Kind: String, Sendable, Equatable {
        /// The server's answer to a CONNECT (protocol 5 carries `{"sid": …}`).
        case connect
        case connectError = "connect_error"
        case event
        case ack
        case disconnect
    }

    public var kind: Kind
    public var namespace: String
    /// An event's name (events only).
    public var name: String?
    /// An ack's id (the request it answers), or an event's when the server asks the client for an ack.
    public var ackId: Int64?
    /// An event's arguments after its name; an ack's arguments; a CONNECT's or CONNECT_ERROR's payload as one
    /// argument (none without a payload).
    public var args: [JSONValue]
    /// Binary attachments, in `num` order (their placeholders are in `args` as recorded).
    public var attachments: [[UInt8]]
    /// The recorded frame (expectations only).
    public var frame: UInt64?
    /// Seconds since the client's first connect (recorded or replayed).
    public var time: Double

    public init(
        kind: Kind, namespace: String = "/", name: String? = nil, ackId: Int64? = nil, args: [JSONValue] = [],
        attachments: [[UInt8]] = [], frame: UInt64? = nil, time: Double = 0
    ) {
        self.kind = kind
        self.namespace = namespace
        self.name = name
        self.ackId = ackId
        self.args = args
        self.attachments = attachments
        self.frame = frame
        self.time = time
    }
}

extension Array where Element == ServerMessage {
    /// The index of the last message recorded before `frame` (a binary search: a client's expectations come in
    /// timeline order, their frames non-decreasing), nil when none was. What a step at `frame` had received.
    public func lastIndex(recordedBefore frame: UInt64) -> Int? {
        var lo = 0
        var hi = count
        while lo < hi {
            let mid = (lo + hi) / 2
            if (self[mid].frame ?? 0) < frame { lo = mid + 1 } else { hi = mid }
        }
        return lo > 0 ? lo - 1 : nil
    }
}
