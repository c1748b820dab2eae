import SocketIO

/// What a replay runs: the recorded clients of a capture, each with its handshake, what it sent and when, and
/// what the server sent it (the expectations). Made from a capture's records by ``ScriptBuilder``; run by
/// ReplayClient; judged by ``Matcher``.
public struct ReplayScript: Sendable {
    public var clients: [ScriptClient]

    public init(clients: [ScriptClient]) { self.clients = clients }

    /// The message ids (`msgId` of an ImMessage) the clients themselves sent: any other is the server's own and
    /// is matched by position, not compared.
    public var clientMessageIds: Set<String> {
        var ids = Set<String>()
        for client in clients {
            for step in client.steps {
                if case .send(let packet) = step.action, let id = packet.messageId { ids.insert(id) }
            }
        }
        return ids
    }
}

/// The Engine.IO transport a client starts on, and whether it then upgrades.
public enum ScriptTransport: String, Sendable, Equatable {
    /// A WebSocket from the first request.
    case websocket
    /// Long-polling, never upgraded.
    case polling
    /// Long-polling, then upgraded to a WebSocket.
    case pollingThenWebSocket = "polling+websocket"
}

/// One recorded client (an Engine.IO session).
public struct ScriptClient: Sendable {
    /// A name for reports: the user id, else `conn N`.
    public var name: String
    /// The IM user (the handshake's `userId`, the CONNECT auth's, or the `fromId` of what it sent).
    public var user: String?
    /// The recorded connections (a polling session has several).
    public var conns: [Int]
    /// The recorded Engine.IO session id, and the Socket.IO session ids the server gave (protocol 5 CONNECT).
    public var sid: String
    public var socketSids: [String]
    /// 3 or 4.
    public var engineIOVersion: Int
    public var transport: ScriptTransport
    /// The request path (`/socket.io/`) and the query without Engine.IO's own parameters (`EIO`, `transport`,
    /// `sid`, `t`, `b64`, `j`), in recorded order.
    public var path: String
    public var query: [(name: String, value: String)]
    /// The handshake headers that matter to a server: `Authorization`, `Cookie` (without Engine.IO's `io`
    /// cookie), `Origin` and `X-…` headers.
    public var headers: [(name: String, value: String)]
    /// When the client opened its session: seconds since the capture's first client did.
    public var start: Double
    /// The recorded frame of the handshake request.
    public var frame: UInt64?
    public var steps: [ScriptStep]
    /// What the server sent this client, in recorded order (times since ``start``).
    public var expected: [ServerMessage]

    public init(
        name: String, user: String?, conns: [Int], sid: String, socketSids: [String] = [], engineIOVersion: Int,
        transport: ScriptTransport, path: String, query: [(name: String, value: String)],
        headers: [(name: String, value: String)], start: Double, frame: UInt64?, steps: [ScriptStep],
        expected: [ServerMessage]
    ) {
        self.name = name
        self.user = user
        self.conns = conns
        self.sid = sid
        self.socketSids = socketSids
        self.engineIOVersion = engineIOVersion
        self.transport = transport
        self.path = path
        self.query = query
        self.headers = headers
        self.start = start
        self.frame = frame
        self.steps = steps
        self.expected = expected
    }
}

/// One thing a client did, at a recorded time, after a recorded cause.
public struct ScriptStep: Sendable {
    public enum Action: Sendable {
        /// A Socket.IO packet (its attachments with it).
        case send(SocketIOOutgoingPacket)
        /// The end of the session: an Engine.IO close (and the transport closed).
        case disconnect
    }

    public var action: Action
    /// Seconds since the client's ``ScriptClient/start``.
    public var time: Double
    public var frame: UInt64?
    /// The index in ``ScriptClient/expected`` of the last server message the client had received before it: the
    /// step waits for that message's counterpart in the replay (causality), nil when it came before any.
    public var after: Int?
    /// For an ACK the client sent: the index in ``ScriptClient/expected`` of the server's event that asked for it.
    /// The replay answers that event's counterpart, with the ack id the server gave it in the replay.
    public var answers: Int?

    public init(action: Action, time: Double, frame: UInt64?, after: Int?, answers: Int? = nil) {
        self.action = action
        self.time = time
        self.frame = frame
        self.after = after
        self.answers = answers
    }
}

extension SocketIOOutgoingPacket {
    /// An event's name and the `msgId` of the ImMessage it carries (its first argument), from one parse of its
    /// data; nil each when the packet is no event or has none.
    public var eventSummary: (name: String?, messageId: String?) {
        guard type.isEvent, let data, case .array(let elements)? = try? JSONValue(parsing: data) else {
            return (nil, nil)
        }
        var name: String? = nil
        if case .string(let s)? = elements.first { name = s }
        var id: String? = nil
        if elements.count > 1, case .object(let object) = elements[1] { id = object["msgId"]?.idText }
        return (name, id)
    }

    /// The `msgId` of the ImMessage this packet carries (the first argument of an event), if any.
    public var messageId: String? { eventSummary.messageId }
}
