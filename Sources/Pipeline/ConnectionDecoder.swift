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
/// The first bytes decide (`Docs/user-guide.md`, "HTTP and WebSocket"): HTTP when they begin a request or status
/// line. Otherwise, when the connection's start is known — its TCP handshake was captured and no bytes of the
/// direction were lost before them — they must begin a chain of WebSocket frames; if they do not, the connection is
/// another protocol, said once (`app.other_protocol`) and not decoded. Picked up mid-stream, or after a loss at its
/// start, frames are searched for anywhere, as before; a connection in which none are found is `app.unrecognized`.
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
    /// Bytes fed while searching for frames without a handshake, to give up after the resync window; -1 once a
    /// direction is in step with frames (or after an upgrade).
    var unsyncedBytes = 0
    /// WebSocket was chosen with the connection's start known (`app.other_protocol` if frames do not follow).
    var startKnown = false
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
    /// The sessions holding ACKs for their requests (shared with the pipeline's other connections).
    let acks: AckHolds
    let memory: ThreadMemory
    let im: IMDecoder?
    let wsLimits: WebSocketLimits
    let httpLimits: HTTPLimits
    let sioLimits: SocketIOLimits
    /// The HTTP exchange, from the first request or response until a switch to WebSocket.
    var http: HTTPConnection? = nil
    /// Polling: the Engine.IO view of each request waiting for its response, and the bodies being gathered.
    var polling: EngineIOPolling
    // Before the mode is decided: first bytes too few to tell whether they begin HTTP (a prefix of a method), and
    // whether bytes of a direction were lost before its first.
    var held: [UInt8] = []
    var heldDir = Direction.c2s
    var startLostC2S = false
    var startLostS2C = false
    /// While frames are searched for from a known start: each direction's first bytes, to say what they were.
    var firstC2S: [UInt8] = []
    var firstS2C: [UInt8] = []

    init(
        conn: Connection, emitter: Emitter, sessions: Sessions, acks: AckHolds, memory: ThreadMemory,
        options: PipelineOptions
    ) {
        self.acks = acks
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
        if case .undecided = mode {
            undecidedData(dir, bytes, at: ctx)
            return
        }
        decided(dir, bytes, at: ctx)
    }

    /// Bytes for a connection whose mode is decided.
    @inline(__always)
    func decided(_ dir: Direction, _ bytes: UnsafeRawBufferPointer, at ctx: PacketContext) {
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
            if unsyncedBytes >= 0 { checkRecognised(dir, bytes, at: ctx) }
        }
    }

    func gap(_ dir: Direction, _ length: UInt64, at ctx: PacketContext) {
        if case .undecided = mode {
            if held.isEmpty {
                // Bytes lost before the direction's first: its start is not known.
                if dir == .c2s { startLostC2S = true } else { startLostS2C = true }
                return
            }
            releaseHeld(at: ctx)
        }
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
        if case .undecided = mode, !held.isEmpty { releaseHeld(at: ctx) }
        switch mode {
        case .http:
            http!.close { event in self.httpEvent(event, at: ctx) }
        case .websocket where unsyncedBytes >= 0:
            // Never in step: a chain that ends exactly at the end may still be proved. If none is, the connection
            // was not WebSocket as far as can be told — one verdict, not a lost sync per direction.
            for (stream, dir) in [(client!, Direction.c2s), (server!, .s2c)] {
                stream.close { event in
                    if case .problem(.wsLostSync, _) = event, !stream.inSync { return }
                    self.webSocketEvent(event, dir, at: ctx)
                }
            }
            if client!.inSync || server!.inSync {
                if decodeEIO { engineIOClosed(at: ctx) }
            } else {
                notDecoded(nil, "by its end", at: ctx)
            }
        case .websocket:
            client!.close { event in self.webSocketEvent(event, .c2s, at: ctx) }
            server!.close { event in self.webSocketEvent(event, .s2c, at: ctx) }
            if decodeEIO { engineIOClosed(at: ctx) }
        default:
            break
        }
    }

    // MARK: - Deciding what the connection carries

    /// Bytes before the mode is decided: decides on them (with bytes held from before, in the same direction), or
    /// holds them when they are too few to tell.
    func undecidedData(_ dir: Direction, _ bytes: UnsafeRawBufferPointer, at ctx: PacketContext) {
        if !held.isEmpty {
            if dir == heldDir {
                let all = held + Array(bytes)
                held = []
                all.withUnsafeBytes { undecidedData(dir, $0, at: ctx) }
                return
            }
            releaseHeld(at: ctx)
            decided(dir, bytes, at: ctx)
            return
        }
        decide(dir, bytes)
        if case .undecided = mode {
            held = Array(bytes)
            heldDir = dir
            return
        }
        decided(dir, bytes, at: ctx)
    }

    /// Held first bytes (the beginning of a method or status line) when something else comes first — the other
    /// direction's bytes, a gap, the end: taken as the HTTP they begin.
    func releaseHeld(at ctx: PacketContext) {
        let bytes = held
        held = []
        startHTTP()
        bytes.withUnsafeBytes { decided(heldDir, $0, at: ctx) }
    }

    func startHTTP() {
        mode = .http
        // When the connection's start was captured every response has its request in the capture.
        http = HTTPConnection(startSeen: conn.handshakeSeen, limits: httpLimits)
    }

    /// Chooses the protocol from a direction's first bytes; leaves the mode undecided when they are too few.
    func decide(_ dir: Direction, _ bytes: UnsafeRawBufferPointer) {
        guard let isHTTP = HTTPConnection.looksLikeHTTP(dir, bytes) else { return }
        let lost = dir == .c2s ? startLostC2S : startLostS2C
        if isHTTP || conn.handshakeSeen && lost && dir == .c2s {
            // After a loss at the start, the client's bytes are taken as HTTP: the parser finds the next request.
            startHTTP()
            return
        }
        mode = .websocket
        unsyncedBytes = 0
        // From a known start, frames must begin at the first byte of each direction not lost before its first.
        startKnown = conn.handshakeSeen && !lost
        client = WebSocketStream(
            fromClient: true, deflate: .off, negotiated: false, limits: wsLimits, unmaskInto: memory.unmask,
            startKnown: conn.handshakeSeen && !startLostC2S)
        server = WebSocketStream(
            fromClient: false, deflate: .off, negotiated: false, limits: wsLimits, unmaskInto: memory.unmask,
            startKnown: conn.handshakeSeen && !startLostS2C)
    }

    /// While no direction is in step with frames: stops checking once one is; gives up on a connection whose
    /// first bytes from a known start are not frames, or whose frames never line up within the resync window.
    func checkRecognised(_ dir: Direction, _ bytes: UnsafeRawBufferPointer, at ctx: PacketContext) {
        guard unsyncedBytes >= 0 else { return }
        if client!.inSync || server!.inSync {
            unsyncedBytes = -1  // recognised: stop checking
            firstC2S = []
            firstS2C = []
            return
        }
        if startKnown {
            if dir == .c2s && firstC2S.isEmpty { firstC2S = Array(bytes.prefix(16)) }
            if dir == .s2c && firstS2C.isEmpty { firstS2C = Array(bytes.prefix(16)) }
            for (stream, dir) in [(client!, Direction.c2s), (server!, .s2c)] where stream.startNotFrames {
                notDecoded(dir, "", at: ctx)
                return
            }
        }
        unsyncedBytes += bytes.count
        if unsyncedBytes > 2 * wsLimits.resyncWindow {
            notDecoded(nil, "in its first \(unsyncedBytes) bytes", at: ctx)
        }
    }

    /// Gives up on the connection: neither HTTP nor WebSocket (`dir`: the direction whose first bytes showed it).
    func notDecoded(_ dir: Direction?, _ when: String, at ctx: PacketContext) {
        mode = .opaque
        let diagnostic: Diagnostic
        if startKnown {
            let side = dir ?? (firstC2S.isEmpty ? .s2c : .c2s)
            diagnostic = Diagnostic(
                .appOtherProtocol,
                "the \(side == .c2s ? "client" : "server")'s first bytes "
                    + "(\(Self.describe(side == .c2s ? firstC2S : firstS2C))) are neither HTTP/1.x nor WebSocket frames"
                    + (when.isEmpty ? "" : " (no frames proved \(when))") + "; not decoded",
                ts: ctx.ts, frame: ctx.frame, conn: conn.id, dir: dir)
        } else {
            diagnostic = Diagnostic(
                .appUnrecognized,
                "picked up without its start: no HTTP/1.x and no WebSocket frames proved \(when); not decoded",
                ts: ctx.ts, frame: ctx.frame, conn: conn.id)
        }
        emitter.diagnostic(diagnostic)
        client = nil
        server = nil
        chunkLogC2S = []
        chunkLogS2C = []
        firstC2S = []
        firstS2C = []
    }

    /// The first bytes of a stream for a message: as text when they are printable ASCII, else in hex.
    static func describe(_ bytes: [UInt8]) -> String {
        let shown = bytes.prefix(12)
        if !shown.isEmpty && shown.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) {
            return "\"" + String(decoding: shown, as: UTF8.self) + (bytes.count > 12 ? "…" : "") + "\""
        }
        return shown.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined(separator: " ")
            + (bytes.count > 12 ? " …" : "")
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
            if ctx.frame < emitter.frame {
                emitter.placed(at: ctx.frame) { webSocketMessage(message, dir, at: ctx) }
            } else {
                webSocketMessage(message, dir, at: ctx)
            }
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
