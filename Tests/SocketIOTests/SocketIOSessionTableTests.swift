import DecoderTestSupport
import ImscopeCore
import SocketIO
import Testing

// MARK: - Session scripts

/// Which side sent a packet.
enum Side: Sendable {
    case client, server
}

/// One step of a session script. Packets are numbered by their place in the script: the first packet is frame 1,
/// captured at ``SessionCase/ts(frame:)``.
enum SessionStep: Sendable {
    /// A text Engine.IO message (a Socket.IO packet), its UTF-8 checked by the session.
    case text(Side, String)
    /// A text Engine.IO message given as raw bytes (to send bytes that are not UTF-8).
    case textBytes(Side, [UInt8])
    /// A binary Engine.IO message (an attachment), given as text for readable expectations.
    case binary(Side, String)
    /// A binary Engine.IO message given as raw bytes.
    case binaryBytes(Side, [UInt8])
    /// `finish(_:)`: the session ended.
    case finish
    /// `expire(now:_:)`: the caller's check that lets go of ACKs held past their window, at capture time `now`
    /// (nanoseconds).
    case expire(Int64)
}

/// How the session's results reach the test: `text` has two forms, one event callback and a callback each for
/// messages and problems (the pipeline's); both must say the same. `binary` and `finish` have one form.
enum Delivery: Sendable, CaseIterable, CustomStringConvertible {
    case events, callbacks
    var description: String { self == .events ? "one event callback" : "message and problem callbacks" }
}

/// A table row: limits, a script, and the events it must produce.
///
/// A `SocketIOSession` is fed whole Engine.IO messages (the layers below have framed them), never a byte stream,
/// so the byte-stream feeds of the other decoder tables (whole, one byte at a time, random splits) do not apply
/// here; each case runs once per ``Delivery`` instead. Each packet is handed over in a buffer of its own that is
/// scribbled over after the call, so a session that kept a pointer into it instead of a copy would show garbage.
///
/// Events are rendered as text:
/// `TYPE nsp [event] [#ackId] [att[a,b]] [answers F@T] [invalid-utf8]` for a message (its event name read from the
/// message's text; attachments shown as text; for an ACK the request's frame and capture time in nanoseconds), and
/// `! code` for a problem, or `! code: message` in a case with `details` set.
///
/// An ACK held for its request is delivered later than its packet, in `late` events that say where that packet was
/// (checked here: its frame, time, side and origin). The events are listed in the order of the timeline the pipeline
/// writes — by the frame each is placed at (a late event at its packet's, the others at the packet being fed), in
/// the order they came within a frame — or, in a case with `late` set, in the order the session delivered them,
/// a late event marked `@F ` with its frame. Held ACKs still held when the script ends are let go then (no more
/// packets will come).
struct SessionCase: Sendable, CustomTestStringConvertible {
    var name: String
    var maxPendingAcks: Int? = nil
    var maxAttachmentBytes: Int? = nil
    /// ``SocketIOLimits/ackReorderNanoseconds`` (frames are 1000 ns apart); nil: the default, 1 s.
    var window: Int64? = nil
    var details = false
    var late = false
    var steps: [SessionStep]
    var expected: [String]
    var knownIssue: KnownIssue? = nil
    var testDescription: String { name }

    /// The capture time of frame `f`: not equal to the frame number, so that a mixed-up pair shows.
    static func ts(frame f: UInt64) -> Timestamp { Timestamp(nanoseconds: Int64(f) * 1000 + 7) }
}

func render(_ m: SocketIOMessage) -> String {
    var s = "\(m.packet.type.name) \(m.packet.namespace)"
    if let name = m.packet.eventName(in: m.text) { s += " \(name)" }
    if let id = m.packet.ackId { s += " #\(id)" }
    if !m.attachments.isEmpty {
        s += " att[" + m.attachments.map { String(decoding: $0, as: UTF8.self) }.joined(separator: ",") + "]"
    }
    if let a = m.answers { s += " answers \(a.frame)@\(a.ts.nanoseconds)" }
    if !m.validUTF8 { s += " invalid-utf8" }
    return s
}

/// Runs a script; returns the rendered events.
func run(_ c: SessionCase, _ delivery: Delivery) -> [String] {
    var limits = SocketIOLimits()
    if let n = c.maxPendingAcks { limits.maxPendingAcks = n }
    if let n = c.maxAttachmentBytes { limits.maxAttachmentBytes = n }
    if let n = c.window { limits.ackReorderNanoseconds = n }
    return run(c.steps, limits: limits, details: c.details, late: c.late, delivery, render: render)
}

/// Runs `steps` in a session of protocol revision `protocolVersion`; returns the events, messages rendered by
/// `render`, problems as `! code` (`! code: message` with `details`), in timeline order or, with `late`, in the
/// order delivered (see ``SessionCase``).
func run(
    _ steps: [SessionStep], limits: SocketIOLimits = SocketIOLimits(), protocolVersion: Int = 5, details: Bool,
    late showLate: Bool = false, _ delivery: Delivery, render: @escaping (SocketIOMessage) -> String
) -> [String] {
    let session = SocketIOSession(limits: limits)
    var out: [(frame: UInt64, text: String)] = []
    var frame: UInt64 = 0
    /// The side of each frame, to check where a late event says its packet was.
    var sides: [UInt64: Side] = [:]
    func shown(_ kind: DiagnosticKind, _ message: String) -> String {
        "! \(kind.code)" + (details ? ": \(message)" : "")
    }
    let problem: (DiagnosticKind, String) -> Void = { kind, message in out.append((frame, shown(kind, message))) }
    let message: (SocketIOMessage) -> Void = { out.append((frame, render($0))) }
    let late: (SocketIOHeldPlace, SocketIOEvent) -> Void = { place, event in
        #expect(place.ts == SessionCase.ts(frame: place.frame), "a late event's time is its packet's")
        #expect(place.fromClient == (sides[place.frame] == .client), "a late event's side is its packet's")
        #expect(place.origin == Int(place.frame), "a late event's origin is as its packet gave it")
        let text: String
        switch event {
        case .message(let m): text = render(m)
        case .problem(let kind, let message): text = shown(kind, message)
        case .late: text = "late event in a late event"
        }
        out.append((place.frame, (showLate ? "@\(place.frame) " : "") + text))
    }
    let emit: (SocketIOEvent) -> Void = { event in
        switch event {
        case .message(let m): message(m)
        case .problem(let kind, let text): problem(kind, text)
        case .late(let place, let event): late(place, event)
        }
    }
    func text(_ side: Side, _ bytes: [UInt8]) {
        frame += 1
        sides[frame] = side
        var buffer = bytes
        buffer.withUnsafeBytes { text in
            let ts = SessionCase.ts(frame: frame)
            switch delivery {
            case .events:
                session.text(
                    text, fromClient: side == .client, frame: frame, ts: ts, protocolVersion: protocolVersion,
                    origin: Int(frame), emit)
            case .callbacks:
                session.text(
                    text, fromClient: side == .client, frame: frame, ts: ts, protocolVersion: protocolVersion,
                    origin: Int(frame), message: message, problem: problem, late: late)
            }
        }
        for k in buffer.indices { buffer[k] = 0xEE }
    }
    func binary(_ side: Side, _ bytes: [UInt8]) {
        frame += 1
        sides[frame] = side
        var buffer = bytes
        buffer.withUnsafeBytes {
            session.binary(
                $0, fromClient: side == .client, frame: frame, ts: SessionCase.ts(frame: frame), origin: Int(frame),
                emit)
        }
        for k in buffer.indices { buffer[k] = 0xEE }
    }
    for step in steps {
        switch step {
        case .text(let side, let s): text(side, Array(s.utf8))
        case .textBytes(let side, let bytes): text(side, bytes)
        case .binary(let side, let s): binary(side, Array(s.utf8))
        case .binaryBytes(let side, let bytes): binary(side, bytes)
        case .finish:
            session.finish(emit)
        case .expire(let now):
            session.expire(now: Timestamp(nanoseconds: now), late)
        }
    }
    #expect(session.holdsAcks == (session.heldFrom != nil), "holdsAcks and heldFrom agree")
    session.releaseHeld(late)
    if showLate { return out.map(\.text) }
    // Stable: within a frame, in the order they came.
    return out.enumerated().sorted { ($0.element.frame, $0.offset) < ($1.element.frame, $1.offset) }.map(\.element.text)
}

/// Runs and verifies a case, with its known issue, if any, marked as such.
func check(_ c: SessionCase, _ delivery: Delivery) {
    let verify = {
        let got = run(c, delivery)
        #expect(got == c.expected, "\(c.name), \(delivery)")
    }
    if let known = c.knownIssue {
        withKnownIssue(Comment(rawValue: known.bug)) { verify() }
    } else {
        verify()
    }
}

/// `{"_placeholder":true,"num":N}`.
func placeholder(_ n: Int) -> String { #"{"_placeholder":true,"num":\#(n)}"# }

// MARK: - Acknowledgements

/// Requests and their ACKs: keyed by the request's direction, namespace and id; bounded by `maxPendingAcks`.
@Suite struct SocketIOSessionAckTests {
    static let cases: [SessionCase] = [
        SessionCase(
            name: "client EVENT with an ack id answered by the server's ACK",
            steps: [.text(.client, #"21["foo",1]"#), .text(.server, #"31["ok"]"#), .finish],
            expected: ["EVENT / foo #1", "ACK / #1 answers 1@1007"]),
        SessionCase(
            name: "server EVENT with an ack id answered by the client's ACK",
            steps: [.text(.server, #"2/admin,42["ping"]"#), .text(.client, #"3/admin,42[]"#), .finish],
            expected: ["EVENT /admin ping #42", "ACK /admin #42 answers 1@1007"]),
        SessionCase(
            name: "the answer carries the request's frame and time, not the ACK's, with packets in between",
            steps: [
                .text(.client, #"2["a"]"#), .text(.client, #"27["b"]"#), .text(.server, #"2["c"]"#),
                .text(.server, #"37[]"#), .finish,
            ],
            expected: ["EVENT / a", "EVENT / b #7", "EVENT / c", "ACK / #7 answers 2@2007"]),
        SessionCase(
            name: "an ACK with no request",
            steps: [.text(.server, #"35[]"#), .finish],
            expected: ["! sio.ack_unmatched", "ACK / #5"]),
        SessionCase(
            name: "an ACK whose id the EVENT did not ask for",
            steps: [.text(.client, #"2["foo"]"#), .text(.server, #"30[]"#), .finish],
            expected: ["EVENT / foo", "! sio.ack_unmatched", "ACK / #0"]),
        SessionCase(
            name: "an ACK answers once: the second is unmatched",
            steps: [.text(.client, #"23["foo"]"#), .text(.server, #"33[]"#), .text(.server, #"33[]"#), .finish],
            expected: ["EVENT / foo #3", "ACK / #3 answers 1@1007", "! sio.ack_unmatched", "ACK / #3"]),
        SessionCase(
            name: "an ACK from the side that sent the request is another key",
            details: true,
            steps: [.text(.client, #"21["foo"]"#), .text(.client, #"31[]"#), .finish],
            expected: [
                "EVENT / foo #1", "! sio.ack_unmatched: ACK 1 on / answers no request from the server", "ACK / #1",
                "! sio.ack_missing: request 1 on / from the client (frame 1) was never acknowledged",
            ]),
        SessionCase(
            name: "the same id asked by both sides: each ACK answers the other side's request",
            steps: [
                .text(.client, #"21["up"]"#), .text(.server, #"21["down"]"#), .text(.client, #"31[]"#),
                .text(.server, #"31[]"#), .finish,
            ],
            expected: ["EVENT / up #1", "EVENT / down #1", "ACK / #1 answers 2@2007", "ACK / #1 answers 1@1007"]),
        SessionCase(
            name: "an ACK on another namespace is another key",
            steps: [
                .text(.client, #"2/admin,1["foo"]"#), .text(.server, #"31[]"#), .text(.server, #"3/admin,1[]"#),
                .finish,
            ],
            expected: ["EVENT /admin foo #1", "! sio.ack_unmatched", "ACK / #1", "ACK /admin #1 answers 1@1007"]),
        SessionCase(
            name: "the same id on two namespaces: two requests",
            steps: [
                .text(.client, #"21["a"]"#), .text(.client, #"2/admin,1["b"]"#), .text(.server, #"3/admin,1[]"#),
                .text(.server, #"31[]"#), .finish,
            ],
            expected: ["EVENT / a #1", "EVENT /admin b #1", "ACK /admin #1 answers 2@2007", "ACK / #1 answers 1@1007"]),
        SessionCase(
            name: "the same id asked again replaces the earlier request",
            steps: [
                .text(.client, #"21["a"]"#), .text(.client, #"21["b"]"#), .text(.server, #"31[]"#),
                .text(.server, #"31[]"#), .finish,
            ],
            expected: ["EVENT / a #1", "EVENT / b #1", "ACK / #1 answers 2@2007", "! sio.ack_unmatched", "ACK / #1"]),
        SessionCase(
            name: "a CONNECT or DISCONNECT never waits for an ACK",
            steps: [.text(.client, #"0/admin,"#), .text(.client, #"1/admin,"#), .finish],
            expected: ["CONNECT /admin", "DISCONNECT /admin"]),
        SessionCase(
            name: "BINARY_ACK answers an EVENT; the ACK is delivered with its attachment",
            steps: [
                .text(.server, #"29["get"]"#), .text(.client, #"61-9[\#(placeholder(0))]"#), .binary(.client, "xy"),
                .finish,
            ],
            expected: ["EVENT / get #9", "BINARY_ACK / #9 att[xy] answers 1@1007"]),
        // A binary request is delivered, and waits for its ACK, at the frame of its last attachment: the frame its
        // record carries.
        SessionCase(
            name: "a BINARY_EVENT's request is remembered at its last attachment's frame",
            steps: [
                .text(.client, #"51-3["up",\#(placeholder(0))]"#), .binary(.client, "zz"), .text(.server, #"33[]"#),
                .finish,
            ],
            expected: ["BINARY_EVENT / up #3 att[zz]", "ACK / #3 answers 2@2007"]),
        SessionCase(
            name: "maxPendingAcks: past it the oldest request is reported and dropped",
            maxPendingAcks: 2,
            details: true,
            steps: [
                .text(.client, #"21["a"]"#), .text(.client, #"22["b"]"#), .text(.client, #"23["c"]"#),
                .text(.server, #"31[]"#), .text(.server, #"32[]"#), .text(.server, #"33[]"#), .finish,
            ],
            expected: [
                "EVENT / a #1", "EVENT / b #2",
                "! sio.ack_missing: more than 2 requests waiting; gave up on id 1 (frame 1)", "EVENT / c #3",
                "! sio.ack_unmatched: ACK 1 on / answers no request from the client", "ACK / #1",
                "ACK / #2 answers 2@2007", "ACK / #3 answers 3@3007",
            ]),
        SessionCase(
            name: "maxPendingAcks: up to the limit nothing is dropped",
            maxPendingAcks: 2,
            steps: [
                .text(.client, #"21["a"]"#), .text(.client, #"22["b"]"#), .text(.server, #"32[]"#),
                .text(.client, #"23["c"]"#), .text(.server, #"31[]"#), .text(.server, #"33[]"#), .finish,
            ],
            expected: [
                "EVENT / a #1", "EVENT / b #2", "ACK / #2 answers 2@2007", "EVENT / c #3", "ACK / #1 answers 1@1007",
                "ACK / #3 answers 4@4007",
            ]),
        SessionCase(
            name: "maxPendingAcks counts requests of both sides and every namespace of the session",
            maxPendingAcks: 2,
            steps: [
                .text(.server, #"27["s"]"#), .text(.client, #"2/admin,7["a"]"#), .text(.client, #"27["c"]"#),
                .text(.client, #"37[]"#), .finish,
            ],
            expected: [
                "EVENT / s #7", "EVENT /admin a #7", "! sio.ack_missing", "EVENT / c #7", "! sio.ack_unmatched",
                "ACK / #7", "! sio.ack_missing", "! sio.ack_missing",
            ]),
        // The request asked again replaces its earlier self and leaves as many waiting as before, so no other
        // request should be given up for it.
        SessionCase(
            name: "maxPendingAcks: an id asked again at the limit drops no other request",
            maxPendingAcks: 2,
            steps: [
                .text(.client, #"21["a"]"#), .text(.client, #"22["b"]"#), .text(.client, #"22["b"]"#),
                .text(.server, #"31[]"#), .text(.server, #"32[]"#), .finish,
            ],
            expected: [
                "EVENT / a #1", "EVENT / b #2", "EVENT / b #2", "ACK / #1 answers 1@1007",
                "ACK / #2 answers 3@3007",
            ]),
        SessionCase(
            name: "finish reports each unanswered request, oldest first",
            details: true,
            steps: [
                .text(.client, #"21["a"]"#), .text(.server, #"2/admin,5["b"]"#), .text(.client, #"22["c"]"#),
                .text(.server, #"32[]"#), .finish,
            ],
            expected: [
                "EVENT / a #1", "EVENT /admin b #5", "EVENT / c #2", "ACK / #2 answers 3@3007",
                "! sio.ack_missing: request 1 on / from the client (frame 1) was never acknowledged",
                "! sio.ack_missing: request 5 on /admin from the server (frame 2) was never acknowledged",
            ]),
        SessionCase(
            name: "finish forgets what it reported: a second finish reports nothing",
            steps: [.text(.client, #"21["a"]"#), .finish, .finish, .text(.server, #"31[]"#), .finish],
            expected: ["EVENT / a #1", "! sio.ack_missing", "! sio.ack_unmatched", "ACK / #1"]),
    ]

    @Test(arguments: cases, Delivery.allCases)
    func acks(_ c: SessionCase, _ delivery: Delivery) { check(c, delivery) }
}

// MARK: - Acknowledgements seen before their request

/// An ACK that answers no request seen so far is held for the reorder window (`ackReorderNanoseconds`; frames are
/// 1000 ns apart): a request it answers is delivered, then the ACK, paired, at its own place; past the window, or at
/// the session's end, it is unmatched. Cases with `late` list the events as delivered, a late one marked `@F`.
@Suite struct SocketIOSessionAckReorderTests {
    static let cases: [SessionCase] = [
        SessionCase(
            name: "an ACK before its request is delivered after the request, paired (negative latency), at its place",
            late: true,
            steps: [.text(.server, #"31["ok"]"#), .text(.client, #"21["foo"]"#), .finish],
            expected: ["EVENT / foo #1", "@1 ACK / #1 answers 2@2007"]),
        SessionCase(
            name: "in timeline order the ACK stands at its own frame, before the request it answers",
            steps: [.text(.server, #"31["ok"]"#), .text(.client, #"2["x"]"#), .text(.client, #"21["foo"]"#), .finish],
            expected: ["ACK / #1 answers 3@3007", "EVENT / x", "EVENT / foo #1"]),
        SessionCase(
            name: "the same for a server's request answered by the client, on a namespace",
            late: true,
            steps: [.text(.client, #"3/admin,42[]"#), .text(.server, #"2/admin,42["ping"]"#), .finish],
            expected: ["EVENT /admin ping #42", "@1 ACK /admin #42 answers 2@2007"]),
        SessionCase(
            name: "an ACK whose request never comes is unmatched at the session's end, at its place",
            details: true,
            late: true,
            steps: [.text(.server, #"35[]"#), .text(.client, #"2["x"]"#), .finish],
            expected: [
                "EVENT / x", "@1 ! sio.ack_unmatched: ACK 5 on / answers no request from the client", "@1 ACK / #5",
            ]),
        SessionCase(
            name: "an ACK whose request never comes is unmatched once a later packet shows the window passed",
            window: 2500,
            late: true,
            steps: [
                .text(.server, #"35[]"#), .text(.client, #"2["a"]"#), .text(.client, #"2["b"]"#),
                .text(.client, #"2["c"]"#), .finish,
            ],
            expected: ["EVENT / a", "EVENT / b", "@1 ! sio.ack_unmatched", "@1 ACK / #5", "EVENT / c"]),
        SessionCase(
            name: "a binary attachment shows the time too",
            window: 1500,
            late: true,
            steps: [
                .text(.server, #"35[]"#), .text(.client, #"51-["up",\#(placeholder(0))]"#), .binary(.client, "x"),
                .finish,
            ],
            expected: ["@1 ! sio.ack_unmatched", "@1 ACK / #5", "BINARY_EVENT / up att[x]"]),
        SessionCase(
            name: "a request just within the window is answered",
            window: 3001,
            late: true,
            steps: [
                .text(.server, #"31[]"#), .text(.client, #"2["a"]"#), .text(.client, #"2["b"]"#),
                .text(.client, #"21["foo"]"#), .finish,
            ],
            expected: ["EVENT / a", "EVENT / b", "EVENT / foo #1", "@1 ACK / #1 answers 4@4007"]),
        SessionCase(
            name: "a request at the window's end or beyond is not: the ACK is unmatched, the request waits in vain",
            window: 3000,
            late: true,
            steps: [
                .text(.server, #"31[]"#), .text(.client, #"2["a"]"#), .text(.client, #"2["b"]"#),
                .text(.client, #"21["foo"]"#), .finish,
            ],
            expected: [
                "EVENT / a", "EVENT / b", "@1 ! sio.ack_unmatched", "@1 ACK / #1", "EVENT / foo #1",
                "! sio.ack_missing",
            ]),
        SessionCase(
            name: "the caller's check lets go of what passed the window, and nothing sooner",
            window: 1000,
            late: true,
            steps: [.text(.server, #"31[]"#), .expire(1007 + 999), .expire(1007 + 1000), .text(.client, #"21["x"]"#)],
            expected: ["@1 ! sio.ack_unmatched", "@1 ACK / #1", "EVENT / x #1"]),
        SessionCase(
            name: "several held: each answers its own request, whatever the order",
            late: true,
            steps: [
                .text(.server, #"31[]"#), .text(.server, #"32[]"#), .text(.server, #"3/admin,1[]"#),
                .text(.client, #"22["b"]"#), .text(.client, #"2/admin,1["a"]"#), .text(.client, #"21["c"]"#),
                .finish,
            ],
            expected: [
                "EVENT / b #2", "@2 ACK / #2 answers 4@4007", "EVENT /admin a #1", "@3 ACK /admin #1 answers 5@5007",
                "EVENT / c #1", "@1 ACK / #1 answers 6@6007",
            ]),
        SessionCase(
            name: "several held expire one by one as the window passes each",
            window: 2500,
            late: true,
            steps: [
                .text(.server, #"31[]"#), .text(.server, #"32[]"#), .text(.client, #"2["x"]"#),
                .text(.client, #"2["y"]"#), .text(.client, #"2["z"]"#), .finish,
            ],
            expected: [
                "EVENT / x", "@1 ! sio.ack_unmatched", "@1 ACK / #1", "EVENT / y", "@2 ! sio.ack_unmatched",
                "@2 ACK / #2", "EVENT / z",
            ]),
        SessionCase(
            name: "two held ACKs of one key: the request takes the first, the other stays unmatched",
            late: true,
            steps: [.text(.server, #"31["a"]"#), .text(.server, #"31["b"]"#), .text(.client, #"21["q"]"#), .finish],
            expected: ["EVENT / q #1", "@1 ACK / #1 answers 3@3007", "@2 ! sio.ack_unmatched", "@2 ACK / #1"]),
        SessionCase(
            name: "a request from the ACK's own side does not answer it",
            late: true,
            steps: [.text(.server, #"31[]"#), .text(.server, #"21["x"]"#), .finish],
            expected: ["EVENT / x #1", "@1 ! sio.ack_unmatched", "@1 ACK / #1", "! sio.ack_missing"]),
        SessionCase(
            name: "a BINARY_ACK before its request is held with its attachments, at its last attachment's frame",
            late: true,
            steps: [
                .text(.client, #"61-9[\#(placeholder(0))]"#), .binary(.client, "xy"), .text(.server, #"29["get"]"#),
                .finish,
            ],
            expected: ["EVENT / get #9", "@2 BINARY_ACK / #9 att[xy] answers 3@3007"]),
        SessionCase(
            name: "a held ACK's rule problems are reported with it, at its place",
            details: true,
            late: true,
            steps: [.text(.server, #"31{"a":1}"#), .text(.client, #"21["q"]"#), .finish],
            expected: [
                "EVENT / q #1", #"@1 ! sio.invalid_payload: ACK payload is not an array: {"a":1}"#,
                "@1 ACK / #1 answers 2@2007",
            ]),
        SessionCase(
            name: "maxPendingAcks bounds the ACKs held: past it the oldest is unmatched at once",
            maxPendingAcks: 2,
            details: true,
            late: true,
            steps: [
                .text(.server, #"31[]"#), .text(.server, #"32[]"#), .text(.server, #"33[]"#),
                .text(.client, #"22["b"]"#), .finish,
            ],
            expected: [
                "@1 ! sio.ack_unmatched: ACK 1 on / answers no request from the client (more than 2 ACKs waiting "
                    + "for their request)",
                "@1 ACK / #1", "EVENT / b #2", "@2 ACK / #2 answers 4@4007",
                "@3 ! sio.ack_unmatched: ACK 3 on / answers no request from the client", "@3 ACK / #3",
            ]),
        SessionCase(
            name: "a window of 0 holds nothing: the ACK is unmatched at once, its request waits in vain",
            window: 0,
            late: true,
            steps: [.text(.server, #"31[]"#), .text(.client, #"21["foo"]"#), .finish],
            expected: ["! sio.ack_unmatched", "ACK / #1", "EVENT / foo #1", "! sio.ack_missing"]),
        SessionCase(
            name: "an ACK answering a request already seen is not held",
            late: true,
            steps: [.text(.client, #"21["foo"]"#), .text(.server, #"31[]"#)],
            expected: ["EVENT / foo #1", "ACK / #1 answers 1@1007"]),
    ]

    @Test(arguments: cases, Delivery.allCases)
    func reordered(_ c: SessionCase, _ delivery: Delivery) { check(c, delivery) }

    /// The window is 1 s of capture time unless set.
    @Test func defaultWindow() {
        #expect(SocketIOLimits().ackReorderNanoseconds == 1_000_000_000)
        let session = SocketIOSession()
        var late: [SocketIOHeldPlace] = []
        Array(#"31[]"#.utf8).withUnsafeBytes {
            session.text($0, fromClient: false, frame: 1, ts: Timestamp(nanoseconds: 5_000_000_000)) { event in
                if case .late(let place, _) = event { late.append(place) }
            }
        }
        #expect(session.heldFrom == 1)
        #expect(session.heldUntil == Timestamp(nanoseconds: 6_000_000_000))
        session.expire(now: Timestamp(nanoseconds: 5_999_999_999)) { place, _ in late.append(place) }
        #expect(late.isEmpty)
        session.expire(now: Timestamp(nanoseconds: 6_000_000_000)) { place, _ in late.append(place) }
        #expect(late.count == 2 && !session.holdsAcks)
    }
}

// MARK: - Binary attachments and other packets

/// Binary packets and their attachments, per side; malformed packets; `finish` with a packet still waiting.
@Suite struct SocketIOSessionBinaryTests {
    static let cases: [SessionCase] = [
        SessionCase(
            name: "BINARY_EVENT with two placeholders and two attachments: one message, attachments in order",
            steps: [
                .text(.client, #"52-["up",\#(placeholder(0)),\#(placeholder(1))]"#), .binary(.client, "first"),
                .binary(.client, "second"), .finish,
            ],
            expected: ["BINARY_EVENT / up att[first,second]"]),
        SessionCase(
            name: "BINARY_EVENT with three attachments on a namespace",
            steps: [
                .text(
                    .server,
                    #"53-/admin,["files",\#(placeholder(0)),\#(placeholder(1)),\#(placeholder(2))]"#),
                .binary(.server, "a"), .binary(.server, "bb"), .binary(.server, "ccc"), .finish,
            ],
            expected: ["BINARY_EVENT /admin files att[a,bb,ccc]"]),
        SessionCase(
            name: "a binary packet with no attachments is delivered at once",
            steps: [.text(.client, #"50-["none"]"#), .finish],
            expected: ["BINARY_EVENT / none"]),
        SessionCase(
            name: "an empty attachment counts",
            steps: [.text(.client, #"51-["up",\#(placeholder(0))]"#), .binary(.client, ""), .finish],
            expected: ["BINARY_EVENT / up att[]"]),
        SessionCase(
            name: "each side waits for its own attachments",
            steps: [
                .text(.client, #"51-["up",\#(placeholder(0))]"#), .text(.server, #"51-["down",\#(placeholder(0))]"#),
                .binary(.server, "S"), .text(.server, #"2["after"]"#), .binary(.client, "C"), .finish,
            ],
            expected: ["BINARY_EVENT / down att[S]", "EVENT / after", "BINARY_EVENT / up att[C]"]),
        SessionCase(
            name: "a text packet from the other side does not interrupt the wait",
            steps: [
                .text(.client, #"51-["up",\#(placeholder(0))]"#), .text(.server, #"2["news"]"#),
                .binary(.client, "C"), .finish,
            ],
            expected: ["EVENT / news", "BINARY_EVENT / up att[C]"]),
        SessionCase(
            name: "binary data with no binary packet waiting",
            details: true,
            steps: [.binary(.client, "abc"), .finish],
            expected: ["! sio.unexpected_binary: 3 bytes of binary data with no binary packet waiting"]),
        SessionCase(
            name: "binary data on the side that is not waiting",
            steps: [.text(.client, #"51-["up",\#(placeholder(0))]"#), .binary(.server, "S"), .binary(.client, "C")],
            expected: ["! sio.unexpected_binary", "BINARY_EVENT / up att[C]"]),
        SessionCase(
            name: "an attachment more than the placeholders",
            steps: [
                .text(.client, #"51-["up",\#(placeholder(0))]"#), .binary(.client, "C"), .binary(.client, "D"),
                .finish,
            ],
            expected: ["BINARY_EVENT / up att[C]", "! sio.unexpected_binary"]),
        SessionCase(
            name: "a text packet while attachments are awaited: the binary packet is reported and dropped",
            details: true,
            steps: [
                .text(.client, #"52-["up",\#(placeholder(0)),\#(placeholder(1))]"#), .binary(.client, "a"),
                .text(.client, #"2["next"]"#), .binary(.client, "b"), .finish,
            ],
            expected: [
                "! sio.attachment_missing: BINARY_EVENT expected 2 attachments, got 1 before the next packet",
                "EVENT / next", "! sio.unexpected_binary: 1 bytes of binary data with no binary packet waiting",
            ]),
        SessionCase(
            name: "a binary packet while attachments are awaited replaces the one waiting",
            steps: [
                .text(.client, #"51-["one",\#(placeholder(0))]"#), .text(.client, #"51-["two",\#(placeholder(0))]"#),
                .binary(.client, "x"), .finish,
            ],
            expected: ["! sio.attachment_missing", "BINARY_EVENT / two att[x]"]),
        SessionCase(
            name: "a malformed packet while attachments are awaited: both reported",
            steps: [.text(.client, #"51-["up",\#(placeholder(0))]"#), .text(.client, "9"), .finish],
            expected: ["! sio.attachment_missing", "! sio.bad_packet"]),
        SessionCase(
            name: "maxAttachmentBytes: attachments up to the limit in all are kept",
            maxAttachmentBytes: 4,
            steps: [
                .text(.client, #"52-["up",\#(placeholder(0)),\#(placeholder(1))]"#), .binary(.client, "aa"),
                .binary(.client, "bb"), .finish,
            ],
            expected: ["BINARY_EVENT / up att[aa,bb]"]),
        SessionCase(
            name: "maxAttachmentBytes: past it the packet is reported and dropped, its later attachments unexpected",
            maxAttachmentBytes: 4,
            details: true,
            steps: [
                .text(.client, #"53-["up",\#(placeholder(0)),\#(placeholder(1)),\#(placeholder(2))]"#),
                .binary(.client, "aa"), .binary(.client, "bbb"), .binary(.client, "c"), .text(.client, #"2["next"]"#),
                .finish,
            ],
            expected: [
                "! sio.attachment_missing: attachments over 4 bytes; packet dropped",
                "! sio.unexpected_binary: 1 bytes of binary data with no binary packet waiting", "EVENT / next",
            ]),
        SessionCase(
            name: "maxAttachmentBytes: a single attachment over the limit",
            maxAttachmentBytes: 4,
            steps: [.text(.server, #"51-["down",\#(placeholder(0))]"#), .binary(.server, "12345"), .finish],
            expected: ["! sio.attachment_missing"]),
        SessionCase(
            name: "maxAttachmentBytes: the other side's packet is not affected",
            maxAttachmentBytes: 4,
            steps: [
                .text(.client, #"51-["up",\#(placeholder(0))]"#), .text(.server, #"51-["down",\#(placeholder(0))]"#),
                .binary(.server, "12345"), .binary(.client, "1234"), .finish,
            ],
            expected: ["! sio.attachment_missing", "BINARY_EVENT / up att[1234]"]),
        SessionCase(
            name: "finish reports an incomplete binary packet",
            details: true,
            steps: [
                .text(.server, #"62-4[\#(placeholder(0)),\#(placeholder(1))]"#), .binary(.server, "x"), .finish,
            ],
            expected: ["! sio.attachment_missing: BINARY_ACK from the server expected 2 attachments, got 1"]),
        SessionCase(
            name: "finish reports incomplete binary packets of both sides, then unanswered requests",
            details: true,
            steps: [
                .text(.client, #"21["a"]"#), .text(.client, #"51-7["up",\#(placeholder(0))]"#),
                .text(.server, #"51-["down",\#(placeholder(0))]"#), .finish,
            ],
            expected: [
                "EVENT / a #1", "! sio.attachment_missing: BINARY_EVENT from the client expected 1 attachments, got 0",
                "! sio.attachment_missing: BINARY_EVENT from the server expected 1 attachments, got 0",
                "! sio.ack_missing: request 1 on / from the client (frame 1) was never acknowledged",
            ]),
        SessionCase(
            name: "finish ends the wait: a later attachment is unexpected",
            steps: [.text(.client, #"51-["up",\#(placeholder(0))]"#), .finish, .binary(.client, "x")],
            expected: ["! sio.attachment_missing", "! sio.unexpected_binary"]),
        SessionCase(
            name: "malformed packets are reported and change no state",
            details: true,
            steps: [.text(.client, #"21["a"]"#), .text(.server, #"31["#), .text(.server, #"31[]"#), .finish],
            expected: [
                "EVENT / a #1", "! sio.bad_packet: payload is not valid JSON: 31[", "ACK / #1 answers 1@1007",
            ]),
        // The reference parsers let an ACK without an id through; it can answer nothing.
        SessionCase(
            name: "an ACK without an id is kept and reported, and answers no request",
            details: true,
            steps: [.text(.client, #"21["a"]"#), .text(.server, #"3[]"#), .text(.server, #"31[]"#), .finish],
            expected: [
                "EVENT / a #1", "! sio.invalid_payload: ACK without an ack id", "ACK /", "ACK / #1 answers 1@1007",
            ]),
        SessionCase(
            name: "a packet that breaks its type's rules is reported before its record, and keeps its ack id",
            details: true,
            steps: [.text(.client, #"2/admin,4["connect"]"#), .text(.server, #"3/admin,4[]"#), .finish],
            expected: [
                #"! sio.invalid_payload: EVENT name "connect" is reserved"#, "EVENT /admin connect #4",
                "ACK /admin #4 answers 1@1007",
            ]),
        SessionCase(
            name: "a malformed packet's text is kept in the message, cut at 200 bytes",
            details: true,
            steps: [.text(.client, "2" + String(repeating: "x", count: 250))],
            expected: ["! sio.bad_packet: payload is not valid JSON: 2" + String(repeating: "x", count: 199) + "…"]),
        SessionCase(
            name: "text that is not UTF-8 is delivered and marked",
            steps: [
                .textBytes(.client, Array(#"2["a",""#.utf8) + [0xFF] + Array(#""]"#.utf8)),
                .textBytes(.client, Array(#"51-["b",""#.utf8) + [0xC3] + Array(#"",\#(placeholder(0))]"#.utf8)),
                .binary(.client, "x"),
            ],
            expected: ["EVENT / a invalid-utf8", "BINARY_EVENT / b att[x] invalid-utf8"]),
    ]

    @Test(arguments: cases, Delivery.allCases)
    func binary(_ c: SessionCase, _ delivery: Delivery) { check(c, delivery) }
}
