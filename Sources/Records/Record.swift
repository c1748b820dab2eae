import Capture
import EngineIO
import HTTP1
import IMProtocol
import ImscopeCore
import SocketIO
import TCPReassembly
import WebSocket

/// What a `conn` record says happened to a connection.
public enum ConnEvent: Sendable {
    case open
    case upgrade
    case close(CloseReason)

    public var name: String {
        switch self {
        case .open: return "open"
        case .upgrade: return "upgrade"
        case .close: return "close"
        }
    }
}

/// A `conn` record: a connection opened, upgraded or closed, with its byte counts on close.
public struct ConnRecord: Sendable {
    public var event: ConnEvent
    public var client: Endpoint
    public var server: Endpoint
    /// Bytes delivered in order, and bytes lost in gaps, per direction (close only).
    public var bytes: (c2s: UInt64, s2c: UInt64)
    public var missing: (c2s: UInt64, s2c: UInt64)

    public init(
        event: ConnEvent, client: Endpoint, server: Endpoint, bytes: (c2s: UInt64, s2c: UInt64),
        missing: (c2s: UInt64, s2c: UInt64)
    ) {
        self.event = event
        self.client = client
        self.server = server
        self.bytes = bytes
        self.missing = missing
    }
}

/// An `http` record: one request or response.
public struct HTTPRecord {
    public var head: HTTPMessageHead
    public var bodyLength: Int

    public init(head: HTTPMessageHead, bodyLength: Int) {
        self.head = head
        self.bodyLength = bodyLength
    }
}

/// A `ws` record: one WebSocket message or control frame. `message.payload` is valid only while the record is
/// being emitted: renderers write it out at once and keep nothing.
public struct WSRecord {
    public var message: WebSocketMessage

    public init(message: WebSocketMessage) { self.message = message }
}

/// The Engine.IO transport a packet travelled on.
public enum Transport: String, Sendable {
    case websocket, polling
}

/// An `eio` record: an Engine.IO packet that is not a message (open, close, ping, pong, upgrade, noop).
public struct EIORecord {
    public var transport: Transport
    public var sid: String?
    public var version: Int
    public var type: EngineIOPacketType
    /// The packet's data (a view valid during the emit).
    public var data: UnsafeRawBufferPointer
    public var handshake: EngineIOHandshake?

    public init(
        transport: Transport, sid: String?, version: Int, type: EngineIOPacketType, data: UnsafeRawBufferPointer,
        handshake: EngineIOHandshake?
    ) {
        self.transport = transport
        self.sid = sid
        self.version = version
        self.type = type
        self.data = data
        self.handshake = handshake
    }
}

/// A `sio` record: a Socket.IO packet (an Engine.IO message), with an ACK's pairing.
public struct SIORecord {
    public var transport: Transport
    public var sid: String?
    public var version: Int
    public var message: SocketIOMessage
    /// The ImMessage of a `chat`/`chatroom` event (layer `im`).
    public var im: IMMessage? = nil

    public init(transport: Transport, sid: String?, version: Int, message: SocketIOMessage, im: IMMessage? = nil) {
        self.transport = transport
        self.sid = sid
        self.version = version
        self.message = message
        self.im = im
    }

    /// The argument the ImMessage was decoded from (see ``SocketIOMessage/imArgument``).
    public var imArgument: UnsafeRawBufferPointer { message.imArgument }
}

extension SocketIOMessage {
    /// The argument an ImMessage is decoded from (the event's second element; empty when there is none), which
    /// the ImMessage's ranges index. Valid while the message text is.
    public var imArgument: UnsafeRawBufferPointer {
        guard let elements = packet.elements, elements.count > 1 else {
            return UnsafeRawBufferPointer(start: nil, count: 0)
        }
        return UnsafeRawBufferPointer(rebasing: text[elements[1]])
    }
}

/// One timeline record, as every renderer receives it. Traffic records carry where they happened.
public struct Record {
    public enum Body {
        case conn(ConnRecord)
        case http(HTTPRecord)
        case ws(WSRecord)
        case eio(EIORecord)
        case sio(SIORecord)
        case diagnostic(Diagnostic)
    }

    public var ts: Timestamp?
    public var frame: UInt64?
    public var conn: Int?
    public var dir: Direction?
    public var body: Body

    public init(ts: Timestamp?, frame: UInt64?, conn: Int?, dir: Direction?, body: Body) {
        self.ts = ts
        self.frame = frame
        self.conn = conn
        self.dir = dir
        self.body = body
    }

    public init(_ place: RecordPlace, _ body: Body) {
        self.init(ts: place.ts, frame: place.frame, conn: place.conn, dir: place.dir, body: body)
    }

    public init(_ diagnostic: Diagnostic) {
        self.init(
            ts: diagnostic.ts, frame: diagnostic.frame, conn: diagnostic.conn, dir: diagnostic.dir,
            body: .diagnostic(diagnostic))
    }

    /// The JSONL `kind`.
    public var kind: String {
        switch body {
        case .conn: return "conn"
        case .http: return "http"
        case .ws: return "ws"
        case .eio: return "eio"
        case .sio: return "sio"
        case .diagnostic: return "diagnostic"
        }
    }
}

/// Where and when a traffic record happened: its packet, connection and direction.
public struct RecordPlace: Sendable {
    public var ts: Timestamp
    public var frame: UInt64
    public var conn: Int
    public var dir: Direction

    public init(ts: Timestamp, frame: UInt64, conn: Int, dir: Direction) {
        self.ts = ts
        self.frame = frame
        self.conn = conn
        self.dir = dir
    }
}
