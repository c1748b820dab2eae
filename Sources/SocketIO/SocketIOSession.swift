import ImscopeCore
import UTF8Validation

/// A Socket.IO packet ready to be shown: the parsed header, its text (with attachments gathered for binary
/// packets) and, for an ACK, the request it answers.
public struct SocketIOMessage {
    public var packet: SocketIOPacket
    /// The packet text; `packet.data` indexes into it. Valid during the callback only.
    public var text: UnsafeRawBufferPointer
    /// Binary attachments in order (`num` of the placeholders).
    public var attachments: [[UInt8]]
    /// For an ACK: the request's frame and capture time.
    public var answers: (frame: UInt64, ts: Timestamp)?
    /// Whether `text` is valid UTF-8 (then its JSON can be copied to the output as it is).
    public var validUTF8: Bool
}

/// What one Engine.IO session's Socket.IO layer produces.
public enum SocketIOEvent {
    case message(SocketIOMessage)
    case problem(DiagnosticKind, String)
}

/// Bounds of the Socket.IO layer, per session.
public struct SocketIOLimits: Sendable {
    /// Requests remembered while they wait for their ACK; past it the oldest is reported and dropped.
    public var maxPendingAcks = 4096
    /// Bytes of a binary packet's attachments in all; past it the packet is reported and dropped.
    public var maxAttachmentBytes = 64 << 20

    public init() {}
}

/// The Socket.IO state of one Engine.IO session, both directions: binary packets waiting for their attachments,
/// and requests waiting for their acknowledgements (keyed by direction, namespace and id). Bounded by
/// ``SocketIOLimits``.
public final class SocketIOSession {
    public var maxPendingAcks: Int
    public var maxAttachmentBytes: Int

    struct Waiting {
        var packet: SocketIOPacket
        var text: [UInt8]
        var validUTF8: Bool
        var attachments: [[UInt8]] = []
        var bytes = 0
    }

    /// `id` first: equality compares the fields in order, so the cheap integer settles most comparisons.
    struct AckKey: Equatable {
        var id: Int64
        var requestFromClient: Bool
        var namespace: String
    }

    struct PendingAck {
        var key: AckKey
        var frame: UInt64
        var ts: Timestamp
    }

    var waiting: [Waiting?] = [nil, nil] {
        didSet { anyWaiting = waiting[0] != nil || waiting[1] != nil }
    }
    /// Whether a binary packet waits on either side: read first, as `waiting` is an object of its own (out of the
    /// cache, with hundreds of sessions, for every packet that came to ask).
    var anyWaiting = false
    /// The memory of the last packet's lists, reused for the next one (shared with the other sessions of a thread).
    let scratch: SocketIOPacket.ParseScratch
    /// Requests waiting for their ACK, oldest first, each key once: a list, as a session has a handful waiting and
    /// hashing every key (a namespace string and an id) cost more than searching it (Docs/performance.md).
    var pendingAcks: [PendingAck] = []

    public init(
        scratch: SocketIOPacket.ParseScratch = SocketIOPacket.ParseScratch(), limits: SocketIOLimits = SocketIOLimits()
    ) {
        self.scratch = scratch
        maxPendingAcks = limits.maxPendingAcks
        maxAttachmentBytes = limits.maxAttachmentBytes
    }

    /// A text Engine.IO message, sent by the client when `fromClient`, seen at `frame`/`ts`.
    /// `validUTF8` says whether the text is known to be valid UTF-8 (a WebSocket text message was checked
    /// already); nil to check it here. `protocolVersion`: the Socket.IO protocol revision (4 over Engine.IO 3, 5
    /// over Engine.IO 4), whose rules the payload is checked against.
    public func text(
        _ text: UnsafeRawBufferPointer, fromClient: Bool, frame: UInt64, ts: Timestamp, validUTF8: Bool? = nil,
        protocolVersion: Int = 5, _ emit: (SocketIOEvent) -> Void
    ) {
        self.text(
            text, fromClient: fromClient, frame: frame, ts: ts, validUTF8: validUTF8, protocolVersion: protocolVersion,
            message: { emit(.message($0)) }, problem: { emit(.problem($0, $1)) })
    }

    /// The same, with messages and problems handed to a function each: a message is lent where it was made, not
    /// copied into an event on the way.
    public func text(
        _ text: UnsafeRawBufferPointer, fromClient: Bool, frame: UInt64, ts: Timestamp, validUTF8: Bool? = nil,
        protocolVersion: Int = 5, message: (SocketIOMessage) -> Void, problem: (DiagnosticKind, String) -> Void
    ) {
        let valid = validUTF8 ?? isValidUTF8(text)
        let side = fromClient ? 0 : 1
        if anyWaiting, let w = waiting[side] {
            problem(
                .sioAttachmentMissing,
                "\(w.packet.type.name) expected \(w.packet.attachments) attachments, got \(w.attachments.count) "
                    + "before the next packet")
            waiting[side] = nil
        }
        switch SocketIOPacket.parse(text, protocolVersion: protocolVersion, reusing: scratch) {
        case .failure(let error):
            let raw = String(decoding: UnsafeRawBufferPointer(rebasing: text[0..<min(text.count, 200)]), as: UTF8.self)
            problem(.sioBadPacket, "\(error.message): \(raw)\(text.count > 200 ? "…" : "")")
        case .success(let packet):
            if packet.type.isBinary && packet.attachments > 0 {
                waiting[side] = Waiting(packet: packet, text: Array(text), validUTF8: valid)
                return
            }
            deliver(packet, text, [], valid, fromClient: fromClient, frame: frame, ts: ts, message, problem)
        }
    }

    /// A binary Engine.IO message from one side: the next attachment of the binary packet waiting there.
    public func binary(
        _ bytes: UnsafeRawBufferPointer, fromClient: Bool, frame: UInt64, ts: Timestamp,
        _ emit: (SocketIOEvent) -> Void
    ) {
        let side = fromClient ? 0 : 1
        guard var w = waiting[side] else {
            emit(.problem(.sioUnexpectedBinary, "\(bytes.count) bytes of binary data with no binary packet waiting"))
            return
        }
        w.bytes += bytes.count
        if w.bytes > maxAttachmentBytes {
            emit(.problem(.sioAttachmentMissing, "attachments over \(maxAttachmentBytes) bytes; packet dropped"))
            waiting[side] = nil
            return
        }
        w.attachments.append(Array(bytes))
        if w.attachments.count == w.packet.attachments {
            waiting[side] = nil
            w.text.withUnsafeBytes { text in
                deliver(
                    w.packet, text, w.attachments, w.validUTF8, fromClient: fromClient, frame: frame, ts: ts,
                    { emit(.message($0)) }, { emit(.problem($0, $1)) })
            }
        } else {
            waiting[side] = w
        }
    }

    func deliver(
        _ packet: SocketIOPacket, _ text: UnsafeRawBufferPointer, _ attachments: [[UInt8]], _ valid: Bool,
        fromClient: Bool,
        frame: UInt64, ts: Timestamp, _ message: (SocketIOMessage) -> Void,
        _ problem: (DiagnosticKind, String) -> Void
    ) {
        // What breaks a rule is reported first, then the packet is delivered all the same.
        if packet.problem != nil, let text = packet.problemMessage(in: text) { problem(.sioInvalidPayload, text) }
        if packet.type.isBinary, let text = packet.placeholderProblem(in: text, attachments: attachments) {
            problem(.sioBadPlaceholder, text)
        }
        var answers: (UInt64, Timestamp)? = nil
        if let id = packet.ackId {
            if packet.type.isAck {
                let key = AckKey(id: id, requestFromClient: !fromClient, namespace: packet.namespace)
                if let i = pendingIndex(key) {
                    let request = pendingAcks.remove(at: i)
                    answers = (request.frame, request.ts)
                } else {
                    problem(
                        .sioAckUnmatched,
                        "ACK \(id) on \(packet.namespace) answers no request from the "
                            + (fromClient ? "server" : "client"))
                }
            } else {
                let key = AckKey(id: id, requestFromClient: fromClient, namespace: packet.namespace)
                // The same id again replaces the earlier request, which becomes the newest (and frees its place
                // before the bound is checked).
                if let i = pendingIndex(key) { pendingAcks.remove(at: i) }
                if pendingAcks.count >= maxPendingAcks, !pendingAcks.isEmpty {
                    let oldest = pendingAcks.removeFirst()
                    problem(
                        .sioAckMissing,
                        "more than \(maxPendingAcks) requests waiting; gave up on id \(oldest.key.id) (frame "
                            + "\(oldest.frame))")
                }
                pendingAcks.append(PendingAck(key: key, frame: frame, ts: ts))
            }
        }
        message(
            SocketIOMessage(packet: packet, text: text, attachments: attachments, answers: answers, validUTF8: valid))
    }

    /// Where the request `key` waits, if it does.
    func pendingIndex(_ key: AckKey) -> Int? { pendingAcks.firstIndex { $0.key == key } }

    /// The session ended: reports what never completed.
    public func finish(_ emit: (SocketIOEvent) -> Void) {
        for (side, w) in waiting.enumerated() {
            guard let w else { continue }
            emit(
                .problem(
                    .sioAttachmentMissing,
                    "\(w.packet.type.name) from the \(side == 0 ? "client" : "server") expected "
                        + "\(w.packet.attachments) attachments, got \(w.attachments.count)"))
        }
        waiting = [nil, nil]
        for request in pendingAcks {
            let key = request.key
            emit(
                .problem(
                    .sioAckMissing,
                    "request \(key.id) on \(key.namespace) from the \(key.requestFromClient ? "client" : "server") "
                        + "(frame \(request.frame)) was never acknowledged"))
        }
        pendingAcks.removeAll()
    }
}
