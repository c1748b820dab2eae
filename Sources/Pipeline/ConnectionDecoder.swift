import Capture
import EngineIO
import HTTP1
import IMProtocol
import ImscopeCore
import Records
import SocketIO
import TCPReassembly
import WebSocket

/// Decodes the application protocols of one TCP connection: HTTP/1.1 (requests, responses, the upgrade), then
/// WebSocket; or WebSocket from the frames alone when the handshake was not captured.
///
/// Fed the reassembled streams of both directions in capture order; emits `http`, `ws` and `conn` (upgrade)
/// records and the diagnostics of those layers, and from layer `eio` on hands WebSocket messages and long-polling
/// bodies to the Engine.IO/Socket.IO decoding of `ConnectionDecoder+EngineIO.swift` (sessions live in
/// ``EngineIOSessions``, shared by all connections). The protocols' own logic is in their layers:
/// ``HTTPConnection`` pairs requests and responses and detects the upgrade, ``EngineIOPolling`` pairs polling
/// requests with their responses; this maps their events to records.
public final class ConnectionDecoder {
    enum Mode {
        /// No payload yet: the first bytes decide.
        case undecided
        case http
        case websocket
        /// Not a protocol imscope decodes (reported once).
        case opaque
    }

    // What every WebSocket packet and message touches comes first, in the object's first cache lines (with many
    // connections the object is cold when its next packet comes; Docs/performance.md).
    var mode = Mode.undecided
    /// Decode Engine.IO and Socket.IO (layer `eio` and deeper).
    let decodeEIO: Bool
    /// Emit `ws` records for data messages (layer `ws`); control frames are emitted at every layer.
    let showWSData: Bool
    var client: WebSocketStream? = nil
    var server: WebSocketStream? = nil
    /// Bytes fed while searching for frames without a handshake, to give up after the resync window.
    var unsyncedBytes = 0
    /// Per direction, while frames are searched for: (stream position just past a packet's bytes, that packet).
    /// Held in the decoder itself, one array per direction: an array of the two was one more object fetched (out
    /// of the cache, with 500 connections) for every packet and every message.
    var chunkLogC2S: [(end: UInt64, ctx: PacketContext)] = []
    var chunkLogS2C: [(end: UInt64, ctx: PacketContext)] = []
    /// The frame the WebSocket frame search holds records back from (see ``holdForSearch()``).
    var searchHold: UInt64? = nil
    // WebSocket: the session it carries, and the version its upgrade request named.
    var wsSession: Session? = nil
    var wsVersion: Int? = nil
    let conn: Connection
    let emitter: Emitter
    let sessions: Sessions
    let memory: ThreadMemory
    let im: IMDecoder?
    let wsLimits: WebSocketLimits
    let httpLimits: HTTPLimits
    let sioLimits: SocketIOLimits
    /// The HTTP exchange, from the first request or response until a switch to WebSocket.
    var http: HTTPConnection? = nil
    /// Polling: the Engine.IO view of each request waiting for its response, and the bodies being gathered.
    var polling: EngineIOPolling

    init(conn: Connection, emitter: Emitter, sessions: Sessions, memory: ThreadMemory, options: PipelineOptions) {
        self.im = options.layer == .im ? options.im : nil
        self.conn = conn
        self.emitter = emitter
        self.wsLimits = options.wsLimits
        self.httpLimits = options.httpLimits
        self.sioLimits = options.sioLimits
        self.sessions = sessions
        self.memory = memory
        self.decodeEIO = options.layer.reaches(.eio)
        self.showWSData = !options.layer.reaches(.eio)
        polling = EngineIOPolling(limits: options.eioLimits)
    }

    // MARK: - Input from TCP

    public func data(_ dir: Direction, _ bytes: UnsafeRawBufferPointer, at ctx: PacketContext) {
        if case .undecided = mode { decide(dir, bytes, at: ctx) }
        switch mode {
        case .undecided, .opaque:
            return
        case .http:
            http!.feed(dir, bytes) { event in self.httpEvent(event, at: ctx) }
        case .websocket:
            // Lent without counting a reference: in WebSocket mode the streams are set for good (only deciding the
            // mode and the upgrade, both before it, set them).
            Unmanaged.passUnretained(dir == .c2s ? client! : server!)._withUnsafeGuaranteedRef { stream in
                // While frames are being searched for, remember which packet brought which bytes: messages decoded
                // once a boundary is proved carry the packet that completed them.
                if !stream.inSync { logChunk(dir, end: stream.fedPosition + UInt64(bytes.count), ctx) }
                stream.feed(bytes) { event in self.webSocketEvent(event, dir, at: ctx) }
                if stream.inSync && !chunkLogEmpty(dir) {
                    if dir == .c2s { chunkLogC2S = [] } else { chunkLogS2C = [] }
                }
            }
            if searchHold != nil || !chunkLogC2S.isEmpty || !chunkLogS2C.isEmpty { holdForSearch() }
            if unsyncedBytes >= 0 { checkRecognised(bytes.count, at: ctx) }
        }
    }

    func gap(_ dir: Direction, _ length: UInt64, at ctx: PacketContext) {
        switch mode {
        case .undecided, .opaque:
            return
        case .http:
            http!.gap(dir, length) { event in self.httpEvent(event, at: ctx) }
        case .websocket:
            (dir == .c2s ? client! : server!).gap(length) { event in self.webSocketEvent(event, dir, at: ctx) }
        }
    }

    func close(at ctx: PacketContext) {
        switch mode {
        case .http:
            http!.close { event in self.httpEvent(event, at: ctx) }
        case .websocket:
            client!.close { event in self.webSocketEvent(event, .c2s, at: ctx) }
            server!.close { event in self.webSocketEvent(event, .s2c, at: ctx) }
            if decodeEIO { engineIOClosed(at: ctx) }
        default:
            break
        }
    }

    // MARK: - Deciding what the connection carries

    func decide(_ dir: Direction, _ bytes: UnsafeRawBufferPointer, at ctx: PacketContext) {
        if HTTPConnection.looksLikeHTTP(dir, bytes) || conn.handshakeSeen && dir == .c2s {
            mode = .http
            // When the connection's start was captured every response has its request in the capture.
            http = HTTPConnection(startSeen: conn.handshakeSeen, limits: httpLimits)
            return
        }
        mode = .websocket
        unsyncedBytes = 0
        client = WebSocketStream(
            fromClient: true, deflate: .off, negotiated: false, limits: wsLimits, unmaskInto: memory.unmask)
        server = WebSocketStream(
            fromClient: false, deflate: .off, negotiated: false, limits: wsLimits, unmaskInto: memory.unmask)
    }

    /// Gives up on a connection whose frames never line up within the resync window (both directions).
    func checkRecognised(_ count: Int, at ctx: PacketContext) {
        guard unsyncedBytes >= 0 else { return }
        if client!.inSync || server!.inSync {
            unsyncedBytes = -1  // recognised: stop checking
            return
        }
        unsyncedBytes += count
        if unsyncedBytes > 2 * wsLimits.resyncWindow {
            mode = .opaque
            emitter.diagnostic(
                Diagnostic(
                    .wsUnrecognized,
                    "no HTTP request and no WebSocket frames in the first \(unsyncedBytes) bytes; not decoded",
                    ts: ctx.ts, frame: ctx.frame, conn: conn.id))
        }
    }

    // MARK: - HTTP

    func httpEvent(_ event: HTTPConnectionEvent, at ctx: PacketContext) {
        switch event {
        case .head(let dir, let head):
            if decodeEIO {
                if dir == .c2s {
                    polling.request(head)
                } else if head.status >= 200 {
                    polling.response()
                }
            }
        case .body(let dir, let bytes):
            if decodeEIO { polling.body(dir, bytes) }
        case .end(let dir, let head, let bodyLength, let complete):
            emitter.emit(
                Record(
                    ts: ctx.ts, frame: ctx.frame, conn: conn.id, dir: dir,
                    body: .http(HTTPRecord(head: head, bodyLength: bodyLength))))
            if decodeEIO && (dir == .c2s || head.status >= 200) {
                let body = polling.end(
                    dir, status: head.status, bodyLength: bodyLength, complete: complete,
                    encoding: head.value("Content-Encoding")?.lowercased())
                if let body { pollingBody(body, dir, at: ctx) }
            }
        case .problem(let dir, let kind, let message):
            emitter.diagnostic(Diagnostic(kind, message, ts: ctx.ts, frame: ctx.frame, conn: conn.id, dir: dir))
        case .upgraded(let request, let response, let clientGap, let clientBytes):
            upgraded(request, response, clientGap: clientGap, clientBytes: clientBytes, at: ctx)
        case .serverFrames(let bytes):
            server!.feed(bytes) { event in self.webSocketEvent(event, .s2c, at: ctx) }
        case .upgradeRefused(let response):
            emitter.diagnostic(
                Diagnostic(
                    .httpUnansweredUpgrade, "the WebSocket upgrade was answered \(response.status)", ts: ctx.ts,
                    frame: ctx.frame, conn: conn.id, dir: .s2c))
        case .switchedElsewhere:
            mode = .opaque
        }
    }

    /// The server accepted the WebSocket upgrade: the connection carries frames from here on.
    func upgraded(
        _ upgrade: HTTPMessageHead, _ response: HTTPMessageHead, clientGap: UInt64,
        clientBytes: UnsafeRawBufferPointer, at ctx: PacketContext
    ) {
        let handshake = WebSocketHandshake(request: upgrade, response: response)
        if handshake.acceptValid == false {
            emitter.diagnostic(
                Diagnostic(
                    .wsBadAccept,
                    "Sec-WebSocket-Accept is \"\(response.value("Sec-WebSocket-Accept") ?? "")\", expected "
                        + "\"\(handshake.expectedAccept ?? "")\"", ts: ctx.ts, frame: ctx.frame, conn: conn.id,
                    dir: .s2c))
        }
        emitter.emit(
            Record(
                ts: ctx.ts, frame: ctx.frame, conn: conn.id, dir: nil,
                body: .conn(
                    ConnRecord(
                        event: .upgrade, client: conn.client, server: conn.server, bytes: (0, 0), missing: (0, 0)))))
        mode = .websocket
        unsyncedBytes = -1
        if decodeEIO, let info = EngineIORequest(upgrade) {
            wsVersion = info.version
            if let sid = info.sid {
                wsSession = session(sid: sid, version: info.version, dir: .c2s, at: ctx)
            }
        }
        client = WebSocketStream(
            fromClient: true, deflate: handshake.clientDeflate, negotiated: true, limits: wsLimits,
            unmaskInto: memory.unmask)
        server = WebSocketStream(
            fromClient: false, deflate: handshake.serverDeflate, negotiated: true, limits: wsLimits,
            unmaskInto: memory.unmask)
        if clientGap > 0 { client!.gap(clientGap) { event in self.webSocketEvent(event, .c2s, at: ctx) } }
        client!.feed(clientBytes) { event in self.webSocketEvent(event, .c2s, at: ctx) }
    }

    // MARK: - WebSocket

    /// Notes that the packet at `ctx` brought the direction's bytes up to stream position `end`.
    func logChunk(_ dir: Direction, end: UInt64, _ ctx: PacketContext) {
        let limit = wsLimits.maxSearchPackets
        func note(_ log: inout [(end: UInt64, ctx: PacketContext)]) {
            if log.count >= limit { log.removeFirst(log.count / 2) }
            log.append((end, ctx))
        }
        if dir == .c2s { note(&chunkLogC2S) } else { note(&chunkLogS2C) }
    }

    /// While frames are searched for, messages may still be placed at the earliest logged packet: the emitter keeps
    /// later records until then.
    func holdForSearch() {
        let from = [chunkLogC2S.first?.ctx.frame, chunkLogS2C.first?.ctx.frame].compactMap { $0 }.min()
        guard from != searchHold else { return }
        searchHold = from
        emitter.hold(.webSocketSearch, conn: conn.id, from: from)
    }

    @inline(__always)
    func chunkLogEmpty(_ dir: Direction) -> Bool { dir == .c2s ? chunkLogC2S.isEmpty : chunkLogS2C.isEmpty }

    /// The packet that brought the byte just before stream position `end`, when it was logged.
    func packet(completing end: UInt64, _ dir: Direction) -> PacketContext? {
        if chunkLogEmpty(dir) { return nil }
        let log = dir == .c2s ? chunkLogC2S : chunkLogS2C
        var lo = 0
        var hi = log.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if log[mid].end >= end { hi = mid } else { lo = mid + 1 }
        }
        return lo < log.count ? log[lo].ctx : nil
    }

    func webSocketEvent(_ event: WebSocketEvent, _ dir: Direction, at current: PacketContext) {
        switch event {
        case .message(let message):
            let ctx = packet(completing: message.endPosition, dir) ?? current
            emitter.placed(at: ctx.frame) { webSocketMessage(message, dir, at: ctx) }
        case .problem(let kind, let message):
            emitter.diagnostic(
                Diagnostic(kind, message, ts: current.ts, frame: current.frame, conn: conn.id, dir: dir))
        }
    }

    /// A WebSocket message, at the packet that completed it.
    func webSocketMessage(_ message: WebSocketMessage, _ dir: Direction, at ctx: PacketContext) {
        if showWSData || message.opcode.isControl {
            emitter.emit(
                Record(ts: ctx.ts, frame: ctx.frame, conn: conn.id, dir: dir, body: .ws(WSRecord(message: message)))
            )
        }
        if decodeEIO && !message.opcode.isControl && message.missing == 0 && !message.inflateFailed
            && !message.truncated
        {
            if wsSession == nil && wsVersion == nil {
                emitter.diagnostic(
                    Diagnostic(
                        .eioVersionGuessed, "no handshake: assuming Engine.IO 4 until the pings show", ts: ctx.ts,
                        frame: ctx.frame, conn: conn.id))
            }
            engineIOWebSocket(
                message.payload, binary: message.opcode == .binary, validUTF8: message.validUTF8, dir, at: ctx)
        }
    }
}
