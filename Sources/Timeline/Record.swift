import Capture
import EngineIO
import HTTP1
import IMProtocol
import ImscopeCore
import SocketIO
import TCPReassembly
import WebSocket

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

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
}

/// An `http` record: one request or response.
public struct HTTPRecord {
    public var head: HTTPMessageHead
    public var bodyLength: Int
}

/// A `ws` record: one WebSocket message or control frame. `message.payload` is valid only while the record is
/// being emitted: renderers write it out at once and keep nothing.
public struct WSRecord {
    public var message: WebSocketMessage
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
}

/// A `sio` record: a Socket.IO packet (an Engine.IO message), with an ACK's pairing.
public struct SIORecord {
    public var transport: Transport
    public var sid: String?
    public var version: Int
    public var message: SocketIOMessage
    /// The ImMessage of a `chat`/`chatroom` event (layer `im`).
    public var im: IMMessage? = nil

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

/// Receives timeline records in order.
public protocol RecordSink: AnyObject {
    /// Called once with the time of the capture's first packet, before any record.
    func begin(origin: Timestamp)
    func emit(_ record: Record)
    /// A `sio` record in its parts, borrowed from the decoder: the record of nearly every message, which a sink that
    /// renders it at once takes without the copies (and reference counting) of a ``Record`` holding a
    /// ``SIORecord``. The default builds that record and hands it to ``emit(_:)``. `head`: where a renderer may keep
    /// what it made of the keys that stay the same for the session (nil when there is no such place).
    func emitSIO(
        _ place: RecordPlace, _ transport: Transport, sid: String?, version: Int, message: SocketIOMessage,
        im: IMMessage?, head: RenderedHead?)
    /// Called once when the capture ends, before the output is flushed.
    func finish()
}

extension RecordSink {
    public func begin(origin: Timestamp) {}

    public func emitSIO(
        _ place: RecordPlace, _ transport: Transport, sid: String?, version: Int, message: SocketIOMessage,
        im: IMMessage?, head: RenderedHead?
    ) {
        emit(Record(place, .sio(SIORecord(transport: transport, sid: sid, version: version, message: message, im: im))))
    }
}

/// What a renderer made of the keys a session's Socket.IO records start with (transport, sid, Engine.IO version;
/// in JSON Lines `,"transport":…,"sid":…,"eio":{…},"sio":{"type":"`), kept with the session and used again while
/// they stay the same: rendering them was 3 % of a run's instructions.
public final class RenderedHead {
    var transport: Transport? = nil
    var version = 0
    var sid: String? = nil
    var bytes: [UInt8] = []

    public init() {}

    func holds(_ transport: Transport, _ version: Int, _ sid: String?) -> Bool {
        guard self.transport == transport, self.version == version else { return false }
        switch (self.sid, sid) {
        case (nil, nil): return true
        case (let a?, let b?): return Self.sameBytes(a, b)
        default: return false
        }
    }

    /// Byte for byte, not `==`: strings that are canonically equivalent but spelt differently are different sids.
    /// (Written out rather than through `withUTF8Bytes(of:_:)`: nested in that, the comparison cost 21 M
    /// instructions more on the 114 MB capture.)
    static func sameBytes(_ a: String, _ b: String) -> Bool {
        guard a.utf8.count == b.utf8.count else { return false }
        let inPlace = a.utf8.withContiguousStorageIfAvailable { x in
            b.utf8.withContiguousStorageIfAvailable { y in
                x.isEmpty || memcmp(x.baseAddress!, y.baseAddress!, x.count) == 0
            }
        }
        if let inPlace, let equal = inPlace { return equal }
        return a.utf8.elementsEqual(b.utf8)
    }
}
