import Foundation
import HTTP1
import IMProtocol
import ImscopeCore
import Records
import SocketIO

/// Follows every ImMessage by its `msgId` across the capture's connections and sessions (an ``OwnedRecordSink``):
/// the sender's upstream `chat`/`chatroom` event, the server's ACK to it, and each downstream event that carries
/// it to a user. Users are known by the `userId` of their handshake (query or CONNECT auth) or the `fromId` of
/// what they sent. ``messages`` then says what became of each (``AuditedMessage/status``).
public final class MessageAudit: OwnedRecordSink {
    /// The Engine.IO session each connection carries, the user of each session, and each connection's request.
    private var sessionOfConn: [Int: String] = [:]
    private var userOfSession: [String: String] = [:]
    private var lastRequest: [Int: HTTPMessageHead] = [:]
    /// Connections of each user, and connections that lost bytes (`tcp.gap`) with when.
    private var connsOfUser: [String: Set<Int>] = [:]
    private var gaps: [Int: [Timestamp?]] = [:]
    private var byId: [String: Int] = [:]
    private var all: [AuditedMessage] = []
    /// An event sent with an ack id, until its ACK: (session or conn, namespace, ack id) → message index.
    private var awaitingAck: [String: Int] = [:]
    private var origin: Timestamp?

    public init() {}

    public func begin(origin: Timestamp) { self.origin = origin }

    public func emit(_ record: OwnedRecord) {
        switch record.body {
        case .http(let h):
            guard let conn = record.conn, h.head.isRequest else { return }
            lastRequest[conn] = h.head
            if let user = h.head.queryParameter("userId"), !user.isEmpty { note(user, conn: conn, session: nil) }
        case .eio(let e, _):
            guard let conn = record.conn, let sid = e.sid else { return }
            sessionOfConn[conn] = sid
            if let user = lastRequest[conn]?.queryParameter("userId"), !user.isEmpty {
                note(user, conn: conn, session: sid)
            }
        case .sio(let s, let text):
            sio(s, text: text, record)
        case .diagnostic(let d):
            if d.code == "tcp.gap", let conn = record.conn { gaps[conn, default: []].append(record.ts) }
        default:
            break
        }
    }

    public func finish() {}

    private func note(_ user: String, conn: Int, session: String?) {
        connsOfUser[user, default: []].insert(conn)
        if let session, userOfSession[session] == nil { userOfSession[session] = user }
    }

    /// The session a record belongs to (its sid, else its connection's), or the connection itself.
    private func sessionKey(_ s: SIORecord, _ record: OwnedRecord) -> String {
        if let sid = s.sid ?? record.conn.flatMap({ sessionOfConn[$0] }) { return sid }
        return "conn \(record.conn.map(String.init) ?? "?")"
    }

    private func sio(_ s: SIORecord, text: [UInt8], _ record: OwnedRecord) {
        let session = sessionKey(s, record)
        let packet = s.message.packet
        let upstream = record.dir == .c2s
        let sighting = Sighting(frame: record.frame, ts: record.ts, conn: record.conn)
        // Who the session's user is: the handshake said, else the first fromId it sent.
        if upstream, userOfSession[session] == nil, let from = record.imText(\.fromId), !from.isEmpty,
            let conn = record.conn
        {
            note(from, conn: conn, session: session)
        }
        if upstream, packet.type == .connect, let conn = record.conn, let data = packet.data,
            let user = text.withUnsafeBytes({ Self.userId(inAuth: UnsafeRawBufferPointer(rebasing: $0[data])) })
        {
            note(user, conn: conn, session: session)
        }
        if !upstream, packet.type.isAck, let id = packet.ackId,
            let index = awaitingAck.removeValue(forKey: "\(session) \(packet.namespace) \(id)")
        {
            if all[index].ack == nil {
                all[index].ack = sighting
                all[index].ackStatus = text.withUnsafeBytes {
                    Self.status(UnsafeRawBufferPointer(rebasing: $0[packet.data ?? 0..<0]))
                }
            }
            return
        }
        guard packet.type.isEvent, let im = s.im, let msgId = record.imText(\.msgId), !msgId.isEmpty else { return }
        let index =
            byId[msgId]
            ?? {
                all.append(
                    AuditedMessage(
                        msgId: msgId, fromId: record.imText(\.fromId), destId: record.imText(\.destId),
                        messageType: im.messageType, typeName: im.info?.typeName, direction: im.info?.direction,
                        fromType: im.fromType, event: record.eventName ?? ""))
                byId[msgId] = all.count - 1
                return all.count - 1
            }()
        // A read receipt or a recall names the message it is about in its content.
        if all[index].refersTo == nil, let name = im.info?.typeName, name == "read" || name == "recall" {
            all[index].refersTo = record.withRecord { r -> String? in
                guard case .sio(let rs) = r.body else { return nil }
                return im.withContentJSON(in: rs.imArgument) { json in json.flatMap(Self.jsonString) }
            }
        }
        if upstream {
            // The same send seen twice (two captures of one path) counts once; a second send is a retry.
            if all[index].sent == nil {
                all[index].sent = sighting
                all[index].senderSession = session
                if let id = packet.ackId {
                    all[index].ackAsked = true
                    awaitingAck["\(session) \(packet.namespace) \(id)"] = index
                }
            } else if all[index].sent != sighting {
                all[index].retries += 1
            }
        } else {
            let user = userOfSession[session] ?? session
            if !all[index].deliveries[user, default: []].contains(sighting) {
                all[index].deliveries[user, default: []].append(sighting)
            }
        }
    }

    /// A JSON text that is one string, unescaped (nil for anything else).
    static func jsonString(_ json: UnsafeRawBufferPointer) -> String? {
        guard let value = try? JSONSerialization.jsonObject(with: Data(json), options: .fragmentsAllowed) else {
            return nil
        }
        return value as? String
    }

    /// The `userId` of a CONNECT's auth object, if any.
    static func userId(inAuth json: UnsafeRawBufferPointer) -> String? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(json)) as? [String: Any] else { return nil }
        return (object["userId"] as? String) ?? (object["userId"] as? NSNumber)?.stringValue
    }

    /// An ACK's verdict: `ok` unless its first argument is an object whose `status` says otherwise (`error`, a
    /// nonzero number), with its `error` text when it has one.
    static func status(_ json: UnsafeRawBufferPointer) -> AckStatus {
        guard let args = try? JSONSerialization.jsonObject(with: Data(json)) as? [Any],
            let first = args.first as? [String: Any], let status = first["status"]
        else { return .ok }
        if let s = status as? String, ["ok", "success", "0", "200"].contains(s.lowercased()) { return .ok }
        if let n = status as? NSNumber, n.intValue == 0 || n.intValue == 200 { return .ok }
        let error = (first["error"] as? String) ?? "\(status)"
        return .failed(error)
    }

    /// Every message seen, in the order first seen, with its status.
    public var messages: [AuditedMessage] {
        var out = all.map { m in
            var m = m
            m.status = status(of: m)
            return m
        }
        // Each message learns of the receipts and recalls that name it.
        for m in all {
            guard let target = m.refersTo.flatMap({ byId[$0] }), let kind = m.typeName else { continue }
            out[target].referredBy.append(.init(kind: kind, msgId: m.msgId, fromId: m.fromId))
        }
        return out
    }

    public var startTime: Timestamp? { origin }

    private func status(of m: AuditedMessage) -> AuditStatus {
        guard m.sent != nil else { return .delivered }  // the server's own notice: it came, that is all there is
        if m.direction == .up { return .notRouted }
        if case .failed? = m.ackStatus { return .nacked }
        if m.ackAsked && m.ack == nil { return .unacked }
        if m.deliveries.values.contains(where: { $0.count > 1 }) { return .duplicated }
        let group = m.fromType == 2 || m.event == "chatroom"
        if group { return m.deliveries.isEmpty ? .unobserved : .delivered }
        guard let dest = m.destId else { return .unobserved }
        if m.deliveries[dest] != nil { return .delivered }
        guard let conns = connsOfUser[dest], !conns.isEmpty else { return .unobserved }
        // A gap on the recipient's connections after the send could hide the delivery.
        let after = m.sent?.ts
        let gapped = conns.contains { conn in
            (gaps[conn] ?? []).contains { ts in ts == nil || after == nil || ts! >= after! }
        }
        return gapped ? .unknownGap : .undelivered
    }
}

/// Where and when a message was seen.
public struct Sighting: Sendable, Equatable {
    public var frame: UInt64?
    public var ts: Timestamp?
    public var conn: Int?
}

public enum AckStatus: Sendable, Equatable {
    case ok
    case failed(String)
}

/// What became of a message, as the issue names them.
public enum AuditStatus: String, Sendable, CaseIterable {
    case delivered, undelivered, unobserved, unacked, nacked, duplicated
    case notRouted = "not-routed"
    case unknownGap = "unknown-gap"
}

/// One ImMessage followed through the capture.
public struct AuditedMessage: Sendable {
    public var msgId: String
    public var fromId: String?
    public var destId: String?
    public var messageType: Int?
    public var typeName: String?
    public var direction: IMDirection?
    public var fromType: Int?
    public var event: String
    /// The sender's upstream event (nil: a message the server made, such as a presence notice).
    public var sent: Sighting?
    public var senderSession: String?
    public var ackAsked = false
    public var ack: Sighting?
    public var ackStatus: AckStatus?
    /// Downstream events carrying it, by the user (or session) that got them.
    public var deliveries: [String: [Sighting]] = [:]
    public var retries = 0
    public var status = AuditStatus.delivered
    /// A read receipt's or a recall's message: the msgId its content names.
    public var refersTo: String?
    /// The read receipts and recalls that name this message.
    public var referredBy: [Reference] = []

    public struct Reference: Sendable, Equatable {
        /// `read` or `recall` (the table's typeName).
        public var kind: String
        public var msgId: String
        public var fromId: String?
    }

    init(
        msgId: String, fromId: String?, destId: String?, messageType: Int?, typeName: String?,
        direction: IMDirection?, fromType: Int?, event: String
    ) {
        self.msgId = msgId
        self.fromId = fromId
        self.destId = destId
        self.messageType = messageType
        self.typeName = typeName
        self.direction = direction
        self.fromType = fromType
        self.event = event
    }

    /// Send to ACK, and send to each recipient's first delivery.
    public var ackLatency: Duration? { Self.latency(from: sent, to: ack) }
    public func deliveryLatency(to user: String) -> Duration? {
        Self.latency(from: sent, to: deliveries[user]?.first)
    }

    static func latency(from a: Sighting?, to b: Sighting?) -> Duration? {
        guard let start = a?.ts, let end = b?.ts else { return nil }
        return .nanoseconds(end.nanoseconds - start.nanoseconds)
    }
}
