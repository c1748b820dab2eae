import EngineIO
import HTTP1
import IMProtocol
import ImscopeCore
import Inflate
import JSONScan
import Records
import SocketIO
import TCPReassembly
import UTF8Validation

/// An Engine.IO session with its Socket.IO state.
typealias Session = EngineIOSession<SocketIOSession>
typealias Sessions = EngineIOSessions<SocketIOSession>

extension ConnectionDecoder {
    /// The session `sid` (a request or an upgrade named it), registered now if its handshake was not captured.
    func session(sid: String, version: Int?, dir: Direction, at ctx: PacketContext) -> Session {
        let found = sessions.findOrRegister(sid: sid, version: version, frame: emitter.frame) {
            SocketIOSession(scratch: memory.scratch, limits: sioLimits)
        }
        if let evicted = found.evicted { finishSession(evicted, at: ctx) }
        if found.created {
            emitter.diagnostic(
                Diagnostic(
                    .eioUnknownSession, "session \(sid): handshake not captured", ts: ctx.ts, frame: ctx.frame,
                    conn: conn.id, dir: dir))
        }
        return found.session
    }

    /// Registers a session under the sid its handshake gave it.
    func register(_ session: Session, sid: String, at ctx: PacketContext) {
        if let evicted = sessions.register(session, sid: sid, frame: emitter.frame) { finishSession(evicted, at: ctx) }
    }

    // MARK: - Polling

    /// A long-polling body complete: its Engine.IO payload decoded (inflated first when the server compressed it).
    func pollingBody(_ body: PollingBody, _ dir: Direction, at ctx: PacketContext) {
        guard case .payload(let request, var body, let encoding) = body else {
            emitter.diagnostic(
                Diagnostic(
                    .eioBadPayload, "polling payload incomplete or over \(polling.maxBodyBytes) bytes; not decoded",
                    ts: ctx.ts, frame: ctx.frame, conn: conn.id, dir: dir))
            return
        }
        if let encoding, encoding != "identity" {
            // Engine.IO servers compress long polling responses (http_compression).
            guard encoding == "gzip" || encoding == "deflate" || encoding == "x-gzip",
                let inflated = body.withUnsafeBytes({ inflateHTTPBody($0, limit: polling.maxBodyBytes) })
            else {
                emitter.diagnostic(
                    Diagnostic(
                        .eioBadPayload, "polling payload with Content-Encoding \(encoding) could not be decoded",
                        ts: ctx.ts, frame: ctx.frame, conn: conn.id, dir: dir))
                return
            }
            body = inflated
        }
        var session = request.sid.map { self.session(sid: $0, version: request.version, dir: dir, at: ctx) }
        let version = session?.version ?? request.version ?? 4
        body.withUnsafeBytes { bytes in
            let valid = isValidUTF8(bytes)  // once for the whole body
            let problem = EngineIOPayload.decodePayload(bytes, version: version, jsonp: request.jsonp) { packet in
                if session == nil, packet.type == .open, let handshake = EngineIOPayload.handshake(packet.data) {
                    // The handshake response of a new polling session.
                    let s = Session(
                        sid: nil, version: request.version,
                        upper: SocketIOSession(scratch: memory.scratch, limits: sioLimits))
                    register(s, sid: handshake.sid, at: ctx)
                    session = s
                }
                engineIOPacket(packet, dir, .polling, session, validUTF8: valid, at: ctx)
            }
            if let problem {
                emitter.diagnostic(
                    Diagnostic(.eioBadPayload, problem, ts: ctx.ts, frame: ctx.frame, conn: conn.id, dir: dir))
            }
        }
    }

    // MARK: - WebSocket

    /// A WebSocket data message of a Socket.IO connection.
    func engineIOWebSocket(
        _ payload: UnsafeRawBufferPointer, binary: Bool, validUTF8: Bool, _ dir: Direction, at ctx: PacketContext
    ) {
        if wsSession == nil {
            wsSession = Session(
                sid: nil, version: wsVersion, upper: SocketIOSession(scratch: memory.scratch, limits: sioLimits))
        }
        // Lent without counting a reference: only the upgrade, before any WebSocket message, sets it again.
        Unmanaged.passUnretained(wsSession!)._withUnsafeGuaranteedRef { session in
            engineIOWebSocket(payload, binary: binary, validUTF8: validUTF8, dir, session, at: ctx)
        }
    }

    func engineIOWebSocket(
        _ payload: UnsafeRawBufferPointer, binary: Bool, validUTF8: Bool, _ dir: Direction, _ session: Session,
        at ctx: PacketContext
    ) {
        if binary {
            let problem = EngineIOPayload.decodeBinaryPacket(payload, version: session.version) { packet in
                engineIOPacket(packet, dir, .websocket, session, at: ctx)
            }
            if let problem {
                emitter.diagnostic(
                    Diagnostic(.eioBadPacket, problem, ts: ctx.ts, frame: ctx.frame, conn: conn.id, dir: dir))
            }
            return
        }
        let problem = EngineIOPayload.decodeTextPacket(payload, version: session.version) { packet in
            if packet.type == .open, session.sid == nil, let handshake = EngineIOPayload.handshake(packet.data) {
                register(session, sid: handshake.sid, at: ctx)
            }
            engineIOPacket(packet, dir, .websocket, session, validUTF8: validUTF8, at: ctx)
        }
        if let problem {
            let raw = String(
                decoding: UnsafeRawBufferPointer(rebasing: payload[0..<min(payload.count, 80)]), as: UTF8.self)
            emitter.diagnostic(
                Diagnostic(.eioBadPacket, "\(problem): \(raw)", ts: ctx.ts, frame: ctx.frame, conn: conn.id, dir: dir))
        }
    }

    /// The WebSocket connection of a session closed: a session on WebSocket ends with it.
    func engineIOClosed(at ctx: PacketContext) {
        if let session = wsSession { finishSession(session, at: ctx) }
    }

    // MARK: - Packets

    func engineIOPacket(
        _ packet: EngineIOPacket, _ dir: Direction, _ transport: Transport, _ session: Session?,
        validUTF8: Bool? = nil, at ctx: PacketContext
    ) {
        if packet.type == .ping, let session { inferVersion(session, packet, dir, at: ctx) }  // only pings tell
        let version = session?.version ?? 4
        if let session, session.upper.holdsAcks, packet.type != .message {
            // Any packet of the session shows the time: ACKs held past their window go.
            session.upper.expire(now: ctx.ts) { place, event in Self.late(place, event, session, emitter: emitter) }
            acks.update(session, emitter: emitter)
        }
        if packet.type == .message {
            // The session passed on as it was given, lent (bound to a constant here, it was retained and released
            // for every message).
            if session != nil { engineIOMessage(packet, dir, transport, session!, version, validUTF8, at: ctx) }
            return
        }
        let handshake = packet.type == .open ? EngineIOPayload.handshake(packet.data) : nil
        if packet.type == .open && handshake == nil && EngineIOPayload.isBadOpen(packet.data) {
            emitter.diagnostic(
                Diagnostic(
                    .eioBadOpen, "open packet data is not a JSON object holding a sid", ts: ctx.ts, frame: ctx.frame,
                    conn: conn.id, dir: dir))
        }
        emitter.emit(
            Record(
                ts: ctx.ts, frame: ctx.frame, conn: conn.id, dir: dir,
                body: .eio(
                    EIORecord(
                        transport: transport, sid: session?.sid, version: version, type: packet.type,
                        data: packet.data, handshake: handshake))))
        if packet.type == .close, let session { finishSession(session, at: ctx) }
    }

    /// An Engine.IO message of `session`: its Socket.IO packet, and the ImMessage an event carries.
    func engineIOMessage(
        _ packet: EngineIOPacket, _ dir: Direction, _ transport: Transport, _ session: Session, _ version: Int,
        _ validUTF8: Bool?, at ctx: PacketContext
    ) {
        // Local functions, not closures held in constants: such a closure's context was allocated for every
        // message.
        func message(_ message: SocketIOMessage) {
            // Handed over in parts: a Record holding them was copied, counted and destroyed for every message.
            var im: IMMessage? = nil
            if let decoder = self.im { Self.imMessage(decoder, message, upstream: dir == .c2s, into: &im) }
            emitter.imWarnings += im?.warnings.count ?? 0
            emitter.emitSIO(
                RecordPlace(ts: ctx.ts, frame: ctx.frame, conn: conn.id, dir: dir), transport, sid: session.sid,
                version: version, message: message, im: im)
        }
        func problem(_ kind: DiagnosticKind, _ text: String) {
            emitter.diagnostic(Diagnostic(kind, text, ts: ctx.ts, frame: ctx.frame, conn: conn.id, dir: dir))
        }
        func late(_ place: SocketIOHeldPlace, _ event: SocketIOEvent) {
            Self.late(place, event, session, emitter: emitter)
        }
        // Where the packet came from, for an ACK held for its request: the connection and the transport.
        let origin = conn.id << 1 | (transport == .websocket ? 1 : 0)
        let held = session.upper.holdsAcks
        if packet.binary {
            session.upper.binary(
                packet.data, fromClient: dir == .c2s, frame: ctx.frame, ts: ctx.ts, origin: origin
            ) { event in
                switch event {
                case .message(let m): message(m)
                case .problem(let kind, let text): problem(kind, text)
                case .late(let place, let event): late(place, event)
                }
            }
        } else {
            // Socket.IO protocol 4 runs over Engine.IO 3, protocol 5 over Engine.IO 4.
            session.upper.text(
                packet.data, fromClient: dir == .c2s, frame: ctx.frame, ts: ctx.ts, validUTF8: validUTF8,
                protocolVersion: version >= 4 ? 5 : 4, origin: origin, message: message, problem: problem, late: late)
        }
        if held || session.upper.holdsAcks { acks.update(session, emitter: emitter) }
    }

    /// An event of an ACK `session` held for its request and lets go now: placed at the packet that brought it,
    /// with that packet's time, connection and direction (its records wait in the emitter until their place comes).
    static func late(_ place: SocketIOHeldPlace, _ event: SocketIOEvent, _ session: Session, emitter: Emitter) {
        let record = RecordPlace(
            ts: place.ts, frame: place.frame, conn: place.origin >> 1, dir: place.fromClient ? .c2s : .s2c)
        emitter.placed(atPacket: place.frame) {
            switch event {
            case .message(let m):
                // An ACK carries no ImMessage (only chat events do).
                emitter.emitSIO(
                    record, place.origin & 1 == 1 ? .websocket : .polling, sid: session.sid, version: session.version,
                    message: m, im: nil)
            case .problem(let kind, let text):
                emitter.diagnostic(
                    Diagnostic(kind, text, ts: record.ts, frame: record.frame, conn: record.conn, dir: record.dir))
            case .late(let place, let event):
                late(place, event, session, emitter: emitter)
            }
        }
    }

    /// Settles a guessed version from behaviour (see ``EngineIOSession/settleVersion(ping:from:)``).
    func inferVersion(_ session: Session, _ packet: EngineIOPacket, _ dir: Direction, at ctx: PacketContext) {
        guard let inferred = session.settleVersion(ping: packet.data, from: dir) else { return }
        emitter.diagnostic(
            Diagnostic(
                .eioVersionGuessed,
                "Engine.IO \(inferred): the \(dir == .c2s ? "client" : "server") sends the pings", ts: ctx.ts,
                frame: ctx.frame, conn: conn.id, dir: dir))
    }

    /// The ImMessage of a `chat`/`chatroom` event: its first argument.
    /// Decoded straight into `m`, left nil when the event carries none (an ImMessage of 250 bytes returned and
    /// wrapped in an optional was copied twice per message).
    static func imMessage(_ im: IMDecoder, _ message: SocketIOMessage, upstream: Bool, into m: inout IMMessage?) {
        let p = message.packet
        guard p.type.isEvent, let elements = p.elements, let first = elements.first, first.count >= 2,
            message.text[first.lowerBound] == UInt8(ascii: "\""),  // a name that is a number is no chat event
            im.carries(
                eventBytes: UnsafeRawBufferPointer(
                    rebasing: message.text[(first.lowerBound + 1)..<(first.upperBound - 1)]))
        else { return }
        guard elements.count >= 2 else {
            m = im.missing(upstream: upstream)
            return
        }
        im.decode(
            UnsafeRawBufferPointer(rebasing: message.text[elements[1]]), upstream: upstream,
            members: p.argumentMembers, into: &m)
    }

    func finishSession(_ session: Session, at ctx: PacketContext) {
        Self.finish(session, sessions: sessions, acks: acks, emitter: emitter, conn: conn.id, at: ctx)
    }

    /// Ends a session: delivers the ACKs it held for their requests (unmatched, at their own packets), reports its
    /// unanswered requests and incomplete binary packets, and forgets it.
    static func finish(
        _ session: Session, sessions: Sessions, acks: AckHolds, emitter: Emitter, conn: Int?, at ctx: PacketContext
    ) {
        guard sessions.finish(session) else { return }
        let held = session.upper.holdsAcks
        session.upper.finish { event in
            switch event {
            case .problem(let kind, let text):
                emitter.diagnostic(
                    Diagnostic(
                        kind, (session.sid.map { "session \($0): " } ?? "") + text, ts: ctx.ts, frame: ctx.frame,
                        conn: conn))
            case .late(let place, let event):
                late(place, event, session, emitter: emitter)
            case .message:
                break
            }
        }
        if held { acks.update(session, emitter: emitter) }
    }
}
