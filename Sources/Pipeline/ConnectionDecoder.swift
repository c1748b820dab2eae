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
/// ``EngineIOSessions``, shared by all connections).
package final class ConnectionDecoder {
    enum Mode {
        /// No payload yet: the first bytes decide.
        case undecided
        case http
        case websocket
        /// Not a protocol imscope decodes (reported once).
        case opaque
    }

    // What every WebSocket packet and message touches comes first, so that it lies in the object's first cache
    // lines (with 500 connections the object is out of the cache when its next packet comes; these fields were
    // spread over a dozen lines, between the HTTP parsers' state).
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
    // WebSocket: the session it carries, and the version its upgrade request named.
    var wsSession: EngineIOSession? = nil
    var wsVersion: Int? = nil
    let conn: Connection
    let emitter: Emitter
    let sessions: EngineIOSessions
    let im: IMDecoder?
    let wsLimits: WebSocketLimits
    // Polling: the Engine.IO view of each request waiting for its response, and the bodies being gathered.
    var pollingQueue: [PollingRequest?] = []
    var currentRequest: PollingRequest? = nil
    var currentResponse: PollingRequest? = nil
    var requestBody: [UInt8] = []
    var responseBody: [UInt8] = []
    var maxPollingBody: Int { wsLimits.maxMessageBytes }
    var request = HTTPStreamParser(role: .request)
    var response = HTTPStreamParser(role: .response)
    var requestHead: HTTPMessageHead? = nil
    var responseHead: HTTPMessageHead? = nil
    /// The last upgrade request, until its response comes.
    var upgradeRequest: HTTPMessageHead? = nil
    /// Client bytes that followed an upgrade request before the server answered (bounded by `maxParked`).
    var parked: [UInt8] = []
    /// Server bytes waiting for the request they answer.
    var heldResponse: [UInt8] = []
    var releaseAfterRequest = false
    var parkedGap: UInt64 = 0
    let maxParked = 1 << 20

    init(
        conn: Connection, emitter: Emitter, wsLimits: WebSocketLimits, sessions: EngineIOSessions, layer: Layer,
        im: IMDecoder? = nil
    ) {
        self.im = im
        self.conn = conn
        self.emitter = emitter
        self.wsLimits = wsLimits
        self.sessions = sessions
        self.decodeEIO = layer.reaches(.eio)
        self.showWSData = !layer.reaches(.eio)
    }

    // MARK: - Input from TCP

    package func data(_ dir: Direction, _ bytes: UnsafeRawBufferPointer, at ctx: PacketContext) {
        if case .undecided = mode { decide(dir, bytes, at: ctx) }
        switch mode {
        case .undecided, .opaque:
            return
        case .http:
            if dir == .c2s {
                if upgradeRequest != nil {
                    park(bytes, at: ctx)
                } else {
                    feedRequest(bytes, at: ctx)
                }
            } else {
                feedResponse(bytes, at: ctx)
            }
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
            if unsyncedBytes >= 0 { checkRecognised(bytes.count, at: ctx) }
        }
    }

    func gap(_ dir: Direction, _ length: UInt64, at ctx: PacketContext) {
        switch mode {
        case .undecided, .opaque:
            return
        case .http:
            if dir == .c2s {
                if upgradeRequest != nil {
                    parkedGap += length
                    return
                }
                request.gap(length) { event in self.httpEvent(event, .c2s, at: ctx) }
            } else {
                giveUpHold(at: ctx)
                response.gap(length) { event in self.httpEvent(event, .s2c, at: ctx) }
            }
        case .websocket:
            (dir == .c2s ? client! : server!).gap(length) { event in self.webSocketEvent(event, dir, at: ctx) }
        }
    }

    func close(at ctx: PacketContext) {
        switch mode {
        case .http:
            giveUpHold(at: ctx)
            request.close { event in self.httpEvent(event, .c2s, at: ctx) }
            response.close { event in self.httpEvent(event, .s2c, at: ctx) }
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
        let looksHTTP: Bool
        if dir == .c2s {
            looksHTTP = Self.startsWithMethod(bytes)
        } else {
            looksHTTP = bytes.starts(with: "HTTP/1.".utf8)
        }
        if looksHTTP || conn.handshakeSeen && dir == .c2s {
            mode = .http
            // When the connection's start was captured every response has its request in the capture.
            response.holdForRequest = conn.handshakeSeen
            return
        }
        mode = .websocket
        unsyncedBytes = 0
        client = WebSocketStream(
            fromClient: true, deflate: .off, negotiated: false, limits: wsLimits, unmaskInto: sessions.unmask)
        server = WebSocketStream(
            fromClient: false, deflate: .off, negotiated: false, limits: wsLimits, unmaskInto: sessions.unmask)
    }

    static func startsWithMethod(_ bytes: UnsafeRawBufferPointer) -> Bool {
        for method in ["GET ", "POST ", "PUT ", "HEAD ", "DELETE ", "OPTIONS ", "PATCH ", "CONNECT "]
        where bytes.starts(with: method.utf8) {
            return true
        }
        return false
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

    func feedRequest(_ bytes: UnsafeRawBufferPointer, at ctx: PacketContext) {
        let used = request.feed(bytes) { event in self.httpEvent(event, .c2s, at: ctx) }
        if used < bytes.count { park(UnsafeRawBufferPointer(rebasing: bytes[used...]), at: ctx) }
        if releaseAfterRequest {
            releaseAfterRequest = false
            releaseResponse(at: ctx)
        }
    }

    func feedResponse(_ bytes: UnsafeRawBufferPointer, at ctx: PacketContext) {
        if !heldResponse.isEmpty {
            holdResponse(bytes)
            return
        }
        let used = response.feed(bytes) { event in self.httpEvent(event, .s2c, at: ctx) }
        if used < bytes.count && response.waitingForRequest {
            holdResponse(UnsafeRawBufferPointer(rebasing: bytes[used...]))
            return
        }
        guard response.switchedProtocols else { return }
        // The server switched protocols: the rest of its bytes are WebSocket frames.
        if case .websocket = mode {
            server!.feed(UnsafeRawBufferPointer(rebasing: bytes[used...])) { event in
                self.webSocketEvent(event, .s2c, at: ctx)
            }
        } else {
            mode = .opaque  // switched to something else than WebSocket
        }
    }

    /// Keeps server bytes that came before the request they answer (a capture that reordered the two directions),
    /// up to `maxParked`; past that they are decoded anyway.
    func holdResponse(_ bytes: UnsafeRawBufferPointer) {
        heldResponse.append(contentsOf: bytes)
        if heldResponse.count > maxParked { response.holdForRequest = false }
    }

    /// Decodes held server bytes without waiting for requests any more (a gap, or the end of the connection).
    func giveUpHold(at ctx: PacketContext) {
        guard !heldResponse.isEmpty else { return }
        response.holdForRequest = false
        releaseResponse(at: ctx)
    }

    /// Feeds held server bytes once a request came (or the hold was given up).
    func releaseResponse(at ctx: PacketContext) {
        guard !heldResponse.isEmpty else { return }
        let held = heldResponse
        heldResponse = []
        held.withUnsafeBytes { feedResponse($0, at: ctx) }
    }

    func park(_ bytes: UnsafeRawBufferPointer, at ctx: PacketContext) {
        let room = maxParked - parked.count
        if bytes.count <= room {
            parked.append(contentsOf: bytes)
        } else {
            parked.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[0..<room]))
            parkedGap += UInt64(bytes.count - room)
        }
    }

    func httpEvent(_ event: HTTPEvent, _ dir: Direction, at ctx: PacketContext) {
        switch event {
        case .head(let head):
            if dir == .c2s {
                requestHead = head
                response.expectResponse(toMethod: head.method)
                if head.isWebSocketUpgrade { upgradeRequest = head }
                pollingRequestHead(head)
                if !heldResponse.isEmpty { releaseAfterRequest = true }
            } else {
                responseHead = head
                if head.status >= 200 { pollingResponseHead() }
            }
        case .body(let bytes):
            if decodeEIO { pollingBody(dir, bytes) }
        case .end(let bodyLength, let complete):
            guard let head = dir == .c2s ? requestHead : responseHead else { return }
            emitter.emit(
                Record(
                    ts: ctx.ts, frame: ctx.frame, conn: conn.id, dir: dir,
                    body: .http(HTTPRecord(head: head, bodyLength: bodyLength))))
            if dir == .c2s {
                requestHead = nil
            } else {
                responseHead = nil
                if head.status >= 200 || head.status == 101 { finishUpgrade(head, at: ctx) }
            }
            if decodeEIO && (dir == .c2s || head.status >= 200) {
                // Only a successful response carries a payload ("400 Bad Request" for a closed session does not).
                if dir == .s2c && head.status >= 300 { currentResponse = nil }
                pollingEnd(
                    dir, bodyLength: bodyLength, complete: complete,
                    encoding: head.value("Content-Encoding")?.lowercased(), at: ctx)
            }
        case .problem(let kind, let message):
            emitter.diagnostic(Diagnostic(kind, message, ts: ctx.ts, frame: ctx.frame, conn: conn.id, dir: dir))
        }
    }

    /// The final response to a request: if it answered an upgrade request, switch to WebSocket or go back to HTTP.
    func finishUpgrade(_ response: HTTPMessageHead, at ctx: PacketContext) {
        guard let upgrade = upgradeRequest else { return }
        upgradeRequest = nil
        let held = parked
        parked = []
        let heldGap = parkedGap
        parkedGap = 0
        if response.status == 101 && response.has("Upgrade", token: "websocket") {
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
                            event: .upgrade, client: conn.client, server: conn.server, bytes: (0, 0),
                            missing: (0, 0)))))
            mode = .websocket
            unsyncedBytes = -1
            if decodeEIO, let info = Self.engineIORequest(upgrade) {
                wsVersion = info.version
                if let sid = info.sid {
                    if let existing = sessions.find(sid) {
                        wsSession = existing
                    } else {
                        let session = EngineIOSession(sid: sid, version: info.version, scratch: sessions.scratch)
                        if let evicted = sessions.register(session, frame: emitter.frame) {
                            finishSession(evicted, at: ctx)
                        }
                        wsSession = session
                        emitter.diagnostic(
                            Diagnostic(
                                .eioUnknownSession, "session \(sid): handshake not captured", ts: ctx.ts,
                                frame: ctx.frame, conn: conn.id, dir: .c2s))
                    }
                }
            }
            client = WebSocketStream(
                fromClient: true, deflate: handshake.clientDeflate, negotiated: true, limits: wsLimits,
                unmaskInto: sessions.unmask)
            server = WebSocketStream(
                fromClient: false, deflate: handshake.serverDeflate, negotiated: true, limits: wsLimits,
                unmaskInto: sessions.unmask)
            if heldGap > 0 { client!.gap(heldGap) { event in self.webSocketEvent(event, .c2s, at: ctx) } }
            held.withUnsafeBytes { bytes in
                client!.feed(bytes) { event in self.webSocketEvent(event, .c2s, at: ctx) }
            }
        } else {
            if response.status == 101 {
                mode = .opaque
                return
            }
            emitter.diagnostic(
                Diagnostic(
                    .httpUnansweredUpgrade, "the WebSocket upgrade was answered \(response.status)", ts: ctx.ts,
                    frame: ctx.frame, conn: conn.id, dir: .s2c))
            request.resume()
            if heldGap > 0 { request.gap(heldGap) { event in self.httpEvent(event, .c2s, at: ctx) } }
            held.withUnsafeBytes { feedRequest($0, at: ctx) }
        }
    }

    // MARK: - WebSocket

    /// Notes that the packet at `ctx` brought the direction's bytes up to stream position `end`.
    func logChunk(_ dir: Direction, end: UInt64, _ ctx: PacketContext) {
        func note(_ log: inout [(end: UInt64, ctx: PacketContext)]) {
            if log.count >= 65_536 { log.removeFirst(log.count / 2) }
            log.append((end, ctx))
        }
        if dir == .c2s { note(&chunkLogC2S) } else { note(&chunkLogS2C) }
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
        case .problem(let kind, let message):
            emitter.diagnostic(
                Diagnostic(kind, message, ts: current.ts, frame: current.frame, conn: conn.id, dir: dir))
        }
    }
}
