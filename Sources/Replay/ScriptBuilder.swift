import EngineIO
import Foundation
import HTTP1
import ImscopeCore
import Records
import SocketIO

/// Makes a ``ReplayScript`` from a capture's owned records (an ``OwnedRecordSink``): one client per Engine.IO
/// session, with the request that opened it, every Socket.IO packet it sent (a step, after the last server message
/// it had received) and every one the server sent it (an expectation). Sessions without a Socket.IO packet are
/// left out, and so are sessions whose handshake the capture does not hold (``unopened`` counts them: a capture
/// started mid-session cannot be replayed, the request that opened it is not there).
public final class ScriptBuilder: OwnedRecordSink {
    /// The requests each connection's client sent, the latest last (the one an Engine.IO open answers).
    private var lastRequest: [Int: (head: HTTPMessageHead, ts: Timestamp?, frame: UInt64?)] = [:]
    private var sessions: [String: Session] = [:]
    private var order: [String] = []
    /// The Engine.IO session each connection carries (a WebSocket's records name it).
    private var sessionOfConn: [Int: String] = [:]
    /// Session ids seen in Engine.IO or Socket.IO records whose opening (the open packet) the capture does not hold.
    public private(set) var unopened = Set<String>()

    final class Session {
        var client: ScriptClient
        var startTs: Timestamp?
        var closed = false
        var lastTs: Timestamp?
        init(_ client: ScriptClient, startTs: Timestamp?) {
            self.client = client
            self.startTs = startTs
        }
    }

    public init() {}

    public func emit(_ record: OwnedRecord) {
        switch record.body {
        case .http(let h):
            if h.head.isRequest, let conn = record.conn { lastRequest[conn] = (h.head, record.ts, record.frame) }
        case .eio(let e, _):
            guard let sid = e.sid ?? record.conn.flatMap({ sessionOfConn[$0] }) else { return }
            if let conn = record.conn { sessionOfConn[conn] = sid }
            if e.type == .open, record.dir == .s2c, sessions[sid] == nil { open(sid, e, record) }
            guard let session = sessions[sid] else {
                unopened.insert(sid)
                return
            }
            note(conn: record.conn, in: session)
            // The session's WebSocket: the one it started on, or the one it upgraded to (not a probe that failed).
            if e.transport == .websocket, let conn = record.conn,
                session.client.transport == .websocket || (e.type == .upgrade && record.dir == .c2s)
            {
                websocketConns.insert(conn)
            }
            session.lastTs = record.ts ?? session.lastTs
            if e.type == .upgrade, record.dir == .c2s { session.client.transport = .pollingThenWebSocket }
            if e.type == .close, record.dir == .c2s { disconnect(session, record) }
        case .sio(let s, let text):
            guard let sid = s.sid ?? record.conn.flatMap({ sessionOfConn[$0] }) else {
                // A WebSocket picked up mid-stream: its session's id was never seen.
                if let conn = record.conn { unopened.insert("conn \(conn)") }
                return
            }
            guard let session = sessions[sid] else {
                unopened.insert(sid)
                return
            }
            note(conn: record.conn, in: session)
            session.lastTs = record.ts ?? session.lastTs
            let time = session.startTs.flatMap { start in record.ts.map { $0.seconds(since: start) } } ?? 0
            text.withUnsafeBytes { bytes in
                var message = s.message
                message.text = bytes
                if record.dir == .c2s {
                    let packet = message.packet
                    let request =
                        packet.type.isAck
                        ? session.client.expected.lastIndex {
                            $0.kind == .event && $0.ackId == packet.ackId && $0.namespace == packet.namespace
                        } : nil
                    session.client.steps.append(
                        ScriptStep(
                            action: .send(SocketIOOutgoingPacket(message)), time: time, frame: record.frame,
                            after: session.client.expected.indices.last, answers: request))
                    if session.client.user == nil, let im = s.im, let from = im.fromId {
                        session.client.user = from.string(in: message.imArgument)
                    }
                    if session.client.user == nil, message.packet.type == .connect,
                        case .object(let auth)? = message.packet.data.flatMap({
                            try? JSONValue(parsing: UnsafeRawBufferPointer(rebasing: bytes[$0]))
                        }), case .string(let user)? = auth["userId"]
                    {
                        session.client.user = user
                    }
                } else if let expected = ServerMessage(message, frame: record.frame, time: time) {
                    if expected.kind == .connect, case .object(let o)? = expected.args.first,
                        case .string(let socketSid)? = o["sid"]
                    {
                        session.client.socketSids.append(socketSid)
                    }
                    session.client.expected.append(expected)
                }
            }
        case .conn(let c):
            // A session's WebSocket closed without an Engine.IO close: that was its end.
            guard case .close = c.event, let conn = record.conn, websocketConns.contains(conn),
                let sid = sessionOfConn[conn], let session = sessions[sid]
            else { return }
            disconnect(session, record)
        default:
            break
        }
    }

    /// Connections that carried a session's WebSocket.
    private var websocketConns: Set<Int> = []

    private func note(conn: Int?, in session: Session) {
        guard let conn, !session.client.conns.contains(conn) else { return }
        session.client.conns.append(conn)
        sessionOfConn[conn] = session.client.sid
    }

    private func open(_ sid: String, _ e: EIORecord, _ record: OwnedRecord) {
        let request = record.conn.flatMap { lastRequest[$0] }
        var path = "/socket.io/"
        var query: [(name: String, value: String)] = []
        var headers: [(name: String, value: String)] = []
        if let head = request?.head {
            let uri = head.uri
            let q = uri.firstIndex(of: "?")
            path = String(uri[..<(q ?? uri.endIndex)])
            if let q {
                for pair in uri[uri.index(after: q)...].split(separator: "&", omittingEmptySubsequences: true) {
                    let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                    let name = String(parts[0])
                    guard !Self.engineIOParameters.contains(name) else { continue }
                    query.append((name, parts.count > 1 ? String(parts[1]) : ""))
                }
            }
            for (name, value) in head.headers {
                let lower = name.lowercased()
                if lower == "cookie" {
                    let kept = value.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }.filter {
                        !$0.hasPrefix("io=")
                    }
                    if !kept.isEmpty { headers.append((name, kept.joined(separator: "; "))) }
                } else if lower == "authorization" || lower == "origin" || lower.hasPrefix("x-") {
                    headers.append((name, value))
                }
            }
        }
        let user = query.first { $0.name == "userId" }?.value
        let startTs = request?.ts ?? record.ts
        let client = ScriptClient(
            name: "", user: user.map { $0.removingPercentEncoding ?? $0 }, conns: [], sid: sid,
            engineIOVersion: e.version,
            transport: e.transport == .websocket ? .websocket : .polling, path: path, query: query, headers: headers,
            start: 0, frame: request?.frame ?? record.frame, steps: [], expected: [])
        sessions[sid] = Session(client, startTs: startTs)
        unopened.remove(sid)
        if e.transport == .websocket, let conn = record.conn { websocketConns.insert(conn) }
        order.append(sid)
    }

    private func disconnect(_ session: Session, _ record: OwnedRecord) {
        guard !session.closed else { return }
        session.closed = true
        let time = session.startTs.flatMap { start in record.ts.map { $0.seconds(since: start) } } ?? 0
        session.client.steps.append(
            ScriptStep(
                action: .disconnect, time: time, frame: record.frame, after: session.client.expected.indices.last))
    }

    /// A session the capture ends in (no close seen) ends after its last record, once what it received came.
    private func closeAtEnd(_ session: Session) {
        guard !session.closed else { return }
        let time = session.startTs.flatMap { start in session.lastTs.map { $0.seconds(since: start) } } ?? 0
        session.client.steps.append(
            ScriptStep(action: .disconnect, time: time, frame: nil, after: session.client.expected.indices.last))
        session.closed = true
    }

    public func finish() {
        for session in sessions.values {
            closeAtEnd(session)
            session.client.steps = Self.ordered(session.client.steps, expected: session.client.expected)
        }
    }

    /// Steps in frame order (an ACK held for its request comes out after later records but keeps its own frame),
    /// each caused by the last server message recorded before its frame. A step without a frame (the end of a
    /// session the capture ends in) stays last, caused by the last message.
    static func ordered(_ steps: [ScriptStep], expected: [ServerMessage]) -> [ScriptStep] {
        var sorted = steps.enumerated().sorted { a, b in
            (a.element.frame ?? .max, a.offset) < (b.element.frame ?? .max, b.offset)
        }.map(\.element)
        for i in sorted.indices {
            guard let frame = sorted[i].frame else {
                sorted[i].after = expected.indices.last
                continue
            }
            sorted[i].after = expected.lastIndex(recordedBefore: frame)
        }
        return sorted
    }

    /// The script: sessions in the order they opened, their start times relative to the first one's.
    public var script: ReplayScript {
        let kept = order.compactMap { sessions[$0] }.filter { session in
            session.client.steps.contains { if case .send = $0.action { return true } else { return false } }
                || !session.client.expected.isEmpty
        }
        let origin = kept.compactMap(\.startTs).min()
        return ReplayScript(
            clients: kept.map { session in
                var client = session.client
                if let origin, let start = session.startTs { client.start = start.seconds(since: origin) }
                client.name = client.user ?? "conn \(client.conns.first.map(String.init) ?? "?")"
                return client
            })
    }

    static let engineIOParameters: Set<String> = ["EIO", "transport", "sid", "t", "b64", "j"]
}
