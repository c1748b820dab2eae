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
    /// An event of an ACK delivered after the packet that brought it (held for its request: see
    /// ``SocketIOLimits/ackReorderNanoseconds``), with where that packet was: its problems first, then the message.
    indirect case late(SocketIOHeldPlace, SocketIOEvent)
}

/// Where an ACK held for its request was seen: what its records are placed at when it is delivered later.
public struct SocketIOHeldPlace: Sendable, Equatable {
    public var frame: UInt64
    public var ts: Timestamp
    public var fromClient: Bool
    /// The caller's name for where the packet came from, handed back as it was given (the pipeline's connection
    /// and transport).
    public var origin: Int

    public init(frame: UInt64, ts: Timestamp, fromClient: Bool, origin: Int) {
        self.frame = frame
        self.ts = ts
        self.fromClient = fromClient
        self.origin = origin
    }
}

/// Bounds of the Socket.IO layer, per session.
public struct SocketIOLimits: Sendable {
    /// Requests remembered while they wait for their ACK; past it the oldest is reported and dropped. It bounds the
    /// ACKs held for their request as well (past it the oldest is delivered unmatched).
    public var maxPendingAcks = 4096
    /// The reorder window of acknowledgements: capture time an ACK that answers no request seen so far is held for
    /// its request, which a capture may record after it (a long-polling response on one connection before the
    /// POST that carried the request on another, or a capture point that reorders). Once a later packet of the
    /// session (or a check of the caller's, ``SocketIOSession/expire(now:_:)``) shows this much capture time gone
    /// by, or the session ends, the ACK is delivered unmatched. 0: an ACK is never held.
    public var ackReorderNanoseconds: Int64 = 1_000_000_000
    /// Bytes of a binary packet's attachments in all; past it the packet is reported and dropped.
    public var maxAttachmentBytes = 64 << 20

    public init() {}
}

/// The Socket.IO state of one Engine.IO session, both directions: binary packets waiting for their attachments,
/// requests waiting for their acknowledgements (keyed by direction, namespace and id), and acknowledgements seen
/// before any request they could answer, held for the reorder window (``SocketIOLimits/ackReorderNanoseconds``).
/// Bounded by ``SocketIOLimits``.
///
/// A held ACK is delivered later than the packet that brought it, as a ``SocketIOEvent/late(_:_:)`` event that
/// says where that packet was: right after its request (paired: it answers a request that comes after it, so its
/// latency is negative), or unmatched once the window has passed or the session ends.
public final class SocketIOSession {
    public var maxPendingAcks: Int
    public var maxAttachmentBytes: Int
    public var ackReorderNanoseconds: Int64

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

    /// An ACK held for its request: what its records need, owned.
    struct HeldAck {
        var key: AckKey
        var packet: SocketIOPacket
        var text: [UInt8]
        var attachments: [[UInt8]]
        var validUTF8: Bool
        var place: SocketIOHeldPlace
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
    /// ACKs held for their request, in the order they came.
    var heldAcks: [HeldAck] = []

    public init(
        scratch: SocketIOPacket.ParseScratch = SocketIOPacket.ParseScratch(), limits: SocketIOLimits = SocketIOLimits()
    ) {
        self.scratch = scratch
        maxPendingAcks = limits.maxPendingAcks
        maxAttachmentBytes = limits.maxAttachmentBytes
        ackReorderNanoseconds = limits.ackReorderNanoseconds
    }

    /// Whether an ACK is held for its request.
    @inline(__always)
    public var holdsAcks: Bool { !heldAcks.isEmpty }

    /// The earliest frame of a held ACK (its records will be placed there), nil when none is held.
    public var heldFrom: UInt64? { heldAcks.lazy.map(\.place.frame).min() }

    /// The capture time at which the first held ACK's window passes, nil when none is held.
    public var heldUntil: Timestamp? {
        heldAcks.lazy.map { Timestamp(nanoseconds: $0.place.ts.nanoseconds &+ self.ackReorderNanoseconds) }.min()
    }

    /// A text Engine.IO message, sent by the client when `fromClient`, seen at `frame`/`ts`.
    /// `validUTF8` says whether the text is known to be valid UTF-8 (a WebSocket text message was checked
    /// already); nil to check it here. `protocolVersion`: the Socket.IO protocol revision (4 over Engine.IO 3, 5
    /// over Engine.IO 4), whose rules the payload is checked against.
    /// `origin` names where the packet came from, for the caller: an ACK held for its request is delivered with it.
    public func text(
        _ text: UnsafeRawBufferPointer, fromClient: Bool, frame: UInt64, ts: Timestamp, validUTF8: Bool? = nil,
        protocolVersion: Int = 5, origin: Int = 0, _ emit: (SocketIOEvent) -> Void
    ) {
        self.text(
            text, fromClient: fromClient, frame: frame, ts: ts, validUTF8: validUTF8, protocolVersion: protocolVersion,
            origin: origin, message: { emit(.message($0)) }, problem: { emit(.problem($0, $1)) },
            late: { emit(.late($0, $1)) })
    }

    /// The same, with messages and problems handed to a function each: a message is lent where it was made, not
    /// copied into an event on the way. `late` gets the events of ACKs delivered after the packet that brought them.
    public func text(
        _ text: UnsafeRawBufferPointer, fromClient: Bool, frame: UInt64, ts: Timestamp, validUTF8: Bool? = nil,
        protocolVersion: Int = 5, origin: Int = 0, message: (SocketIOMessage) -> Void,
        problem: (DiagnosticKind, String) -> Void, late: (SocketIOHeldPlace, SocketIOEvent) -> Void
    ) {
        if !heldAcks.isEmpty { expire(now: ts, late) }
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
            let place = SocketIOHeldPlace(frame: frame, ts: ts, fromClient: fromClient, origin: origin)
            deliver(packet, text, [], valid, place, message, problem, late)
        }
    }

    /// A binary Engine.IO message from one side: the next attachment of the binary packet waiting there.
    public func binary(
        _ bytes: UnsafeRawBufferPointer, fromClient: Bool, frame: UInt64, ts: Timestamp, origin: Int = 0,
        _ emit: (SocketIOEvent) -> Void
    ) {
        if !heldAcks.isEmpty { expire(now: ts) { emit(.late($0, $1)) } }
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
            let place = SocketIOHeldPlace(frame: frame, ts: ts, fromClient: fromClient, origin: origin)
            w.text.withUnsafeBytes { text in
                deliver(
                    w.packet, text, w.attachments, w.validUTF8, place, { emit(.message($0)) },
                    { emit(.problem($0, $1)) }, { emit(.late($0, $1)) })
            }
        } else {
            waiting[side] = w
        }
    }

    /// A complete packet seen at `place`, delivered: an ACK is paired with its request; one with no request is
    /// held while the window is open (see ``SocketIOLimits/ackReorderNanoseconds``); a request that a held ACK
    /// answers is delivered, then that ACK.
    func deliver(
        _ packet: SocketIOPacket, _ text: UnsafeRawBufferPointer, _ attachments: [[UInt8]], _ valid: Bool,
        _ place: SocketIOHeldPlace, _ message: (SocketIOMessage) -> Void, _ problem: (DiagnosticKind, String) -> Void,
        _ late: (SocketIOHeldPlace, SocketIOEvent) -> Void
    ) {
        var answers: (UInt64, Timestamp)? = nil
        var ackProblem: (DiagnosticKind, String)? = nil
        var answeredBy: Int? = nil
        if let id = packet.ackId {
            if packet.type.isAck {
                let key = AckKey(id: id, requestFromClient: !place.fromClient, namespace: packet.namespace)
                if let i = pendingIndex(key) {
                    let request = pendingAcks.remove(at: i)
                    answers = (request.frame, request.ts)
                } else if ackReorderNanoseconds > 0 {
                    // Its request may still come: held with what its records need, its rule problems reported
                    // with it.
                    hold(
                        HeldAck(
                            key: key, packet: packet, text: Array(text), attachments: attachments, validUTF8: valid,
                            place: place), late)
                    return
                } else {
                    ackProblem = unmatched(packet, place)
                }
            } else {
                let key = AckKey(id: id, requestFromClient: place.fromClient, namespace: packet.namespace)
                if !heldAcks.isEmpty, let h = heldAcks.firstIndex(where: { $0.key == key }) {
                    // Its ACK came first: it answers this request, which waits no more.
                    answeredBy = h
                } else {
                    // The same id again replaces the earlier request, which becomes the newest (and frees its place
                    // before the bound is checked).
                    if let i = pendingIndex(key) { pendingAcks.remove(at: i) }
                    if pendingAcks.count >= maxPendingAcks, !pendingAcks.isEmpty {
                        let oldest = pendingAcks.removeFirst()
                        ackProblem = (
                            .sioAckMissing,
                            "more than \(maxPendingAcks) requests waiting; gave up on id \(oldest.key.id) (frame "
                                + "\(oldest.frame))"
                        )
                    }
                    pendingAcks.append(PendingAck(key: key, frame: place.frame, ts: place.ts))
                }
            }
        }
        report(packet, text, attachments, valid, answers: answers, ackProblem, message, problem)
        if let h = answeredBy { release(heldAcks.remove(at: h), answers: (place.frame, place.ts), late) }
    }

    /// `sio.ack_unmatched` for an ACK seen at `place` (`why`: more about it).
    func unmatched(_ packet: SocketIOPacket, _ place: SocketIOHeldPlace, why: String = "") -> (DiagnosticKind, String) {
        (
            .sioAckUnmatched,
            "ACK \(packet.ackId ?? 0) on \(packet.namespace) answers no request from the "
                + (place.fromClient ? "server" : "client") + why
        )
    }

    /// Delivers a packet: what breaks a rule is reported first, then what its acknowledgement met (`ackProblem`),
    /// then the packet all the same.
    func report(
        _ packet: SocketIOPacket, _ text: UnsafeRawBufferPointer, _ attachments: [[UInt8]], _ valid: Bool,
        answers: (UInt64, Timestamp)?, _ ackProblem: (DiagnosticKind, String)?, _ message: (SocketIOMessage) -> Void,
        _ problem: (DiagnosticKind, String) -> Void
    ) {
        if packet.problem != nil, let text = packet.problemMessage(in: text) { problem(.sioInvalidPayload, text) }
        if packet.type.isBinary, let text = packet.placeholderProblem(in: text, attachments: attachments) {
            problem(.sioBadPlaceholder, text)
        }
        if let (kind, text) = ackProblem { problem(kind, text) }
        message(
            SocketIOMessage(packet: packet, text: text, attachments: attachments, answers: answers, validUTF8: valid))
    }

    /// Holds an ACK for its request; past the bound, the oldest held is delivered unmatched first.
    func hold(_ ack: HeldAck, _ late: (SocketIOHeldPlace, SocketIOEvent) -> Void) {
        if heldAcks.count >= maxPendingAcks, !heldAcks.isEmpty {
            release(
                heldAcks.removeFirst(), answers: nil, late,
                why: " (more than \(maxPendingAcks) ACKs waiting for their request)")
        }
        heldAcks.append(ack)
    }

    /// Delivers a held ACK, at its own place: paired with the request seen at `answers`, or unmatched (nil).
    func release(
        _ ack: HeldAck, answers: (UInt64, Timestamp)?, _ late: (SocketIOHeldPlace, SocketIOEvent) -> Void,
        why: String = ""
    ) {
        ack.text.withUnsafeBytes { text in
            report(
                ack.packet, text, ack.attachments, ack.validUTF8, answers: answers,
                answers == nil ? unmatched(ack.packet, ack.place, why: why) : nil, { late(ack.place, .message($0)) },
                { late(ack.place, .problem($0, $1)) })
        }
    }

    /// Delivers unmatched the held ACKs whose reorder window has passed at capture time `now` (oldest first): a
    /// caller's check for a session that may say nothing more.
    public func expire(now: Timestamp, _ late: (SocketIOHeldPlace, SocketIOEvent) -> Void) {
        guard !heldAcks.isEmpty else { return }
        let window = ackReorderNanoseconds
        let due = heldAcks.filter { now.nanoseconds &- $0.place.ts.nanoseconds >= window }
        guard !due.isEmpty else { return }
        heldAcks.removeAll { now.nanoseconds &- $0.place.ts.nanoseconds >= window }
        for ack in due { release(ack, answers: nil, late) }
    }

    /// Delivers every held ACK unmatched (oldest first): nothing more is to be waited for.
    public func releaseHeld(_ late: (SocketIOHeldPlace, SocketIOEvent) -> Void) {
        let held = heldAcks
        heldAcks = []
        for ack in held { release(ack, answers: nil, late) }
    }

    /// Where the request `key` waits, if it does.
    func pendingIndex(_ key: AckKey) -> Int? { pendingAcks.firstIndex { $0.key == key } }

    /// The session ended: delivers the ACKs still held, unmatched, and reports what never completed.
    public func finish(_ emit: (SocketIOEvent) -> Void) {
        releaseHeld { emit(.late($0, $1)) }
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
